//! The WAF header rule: a regional web ACL (in front of a REST API, an ALB or an
//! AppSync API behind CloudFront) whose rule accepts the static header value CloudFront
//! sends, rotated with it.
//!
//! setSecret makes the rule accept the pending value as well as the current one
//! ([`rollout::apply_values`] with [`rollout::while_rotating`]), proves WAF lets the
//! pending value through ([`rollout::wait_until_let_through`]), and only then has
//! CloudFront send it; finishSecret narrows the rule to the current and previous values
//! ([`rollout::after_rotation`]). So the value CloudFront sends is matched at every
//! instant. The rule is the user's own, found by name; only its statement changes
//! ([`statement`]).
//!
//! AWS behaviour relied on, with its source:
//! - `UpdateWebACL` replaces every mutable setting of the web ACL and needs the
//!   `LockToken` of the `GetWebACL` it was built from, else `WAFOptimisticLockException`
//!   (UpdateWebACL, WAFV2 API reference);
//! - changes propagate in "a few seconds to a number of minutes", unevenly across
//!   "areas", with no status to poll (same page, *Temporary inconsistencies during
//!   updates*); AWS's "CloudFront origin security with WAF and Secrets Manager" solution
//!   sleeps 75 s after its update;
//! - `OrStatement` takes more than one statement; `SearchString` holds at most 200
//!   bytes; `SingleHeader` names are compared case-insensitively, at most 64 bytes
//!   (`OrStatement`, `ByteMatchStatement`, `SingleHeader`, WAFV2 API reference);
//! - a blocked request gets WAF's default `403 Forbidden` (AWS WAF developer guide,
//!   *Customized web requests and responses*).

pub(crate) mod api;
pub(crate) mod rollout;
pub(crate) mod sdk;
pub(crate) mod settings;
pub(crate) mod statement;
mod target;

pub use api::{LockedWebAcl, WebAclApi, WebAclRef};
pub use rollout::{Applied, WafError};
pub use sdk::SdkWaf;
pub use statement::ShapeError;
pub use target::WafTarget;

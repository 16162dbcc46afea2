//! A regional AWS WAF in front of a loopback origin, for the WAF header rule's tests.
//!
//! moto keeps web ACLs (rule statements stored as sent, `LockToken` checked on
//! `UpdateWebACL`, `WAFOptimisticLockException` on a stale one: moto 5.2
//! `moto/wafv2/models.py`), but nothing *applies* them, and it applies every change at
//! once. [`WafOrigin`] is the missing part: it reads the web ACL from moto through the
//! real SDK (polling `GetWebACL`), evaluates each request against it as WAF does, and
//! serves `200` (the origin behind) or WAF's default block response `403 Forbidden`
//! (AWS WAF developer guide, *Customized web requests and responses*).
//!
//! **Propagation.** AWS documents that a web ACL change takes "from a few seconds to a
//! number of minutes" to propagate, and that meanwhile it "might be in effect in one area
//! where the web ACL is used and not in another" (UpdateWebACL, *Temporary
//! inconsistencies during updates*, WAFV2 API reference). So the stand-in has several
//! *areas*, each applying a change only after its own delay, and sends successive
//! requests (each a new connection, as the rotator's probes are) to successive areas:
//! one request let through proves nothing about the next.
//!
//! **What moto lets through and AWS refuses.** moto stores any statement; AWS refuses an
//! `OrStatement`/`AndStatement` of fewer than two statements, a `SearchString` over 200
//! bytes, a `SingleHeader` name over 64 bytes, and two rules with one name or one
//! priority (`OrStatement`, `ByteMatchStatement`, `SingleHeader`, `Rule` in the WAFV2 API
//! reference; *Setting rule priority* in the developer guide). Each web ACL version the
//! stand-in reads is checked for these and the finding kept in
//! [`AppliedWebAcl::refusals`], which tests assert empty.
//!
//! moto is kinder in one more way no stand-in here covers: an `UpdateWebACL` without
//! `Description`, `CustomResponseBodies`, `CaptchaConfig`, ... keeps moto's old values,
//! where AWS "completely replaces the mutable specifications" (UpdateWebACL). The
//! rotator's request builder is pinned by a unit test instead (`waf::sdk`).
//!
//! Only the statements the header rule and its tests use are evaluated (byte match on a
//! single header with `NONE`/`LOWERCASE`, `AND`, `OR`, `NOT`); any other statement makes
//! the request fail with `500` and is recorded, never guessed at.

mod applied;
pub mod build;
mod evaluate;
mod origin;

pub use applied::AppliedWebAcl;
pub use evaluate::{Verdict, evaluate, refusal};
pub use origin::{Served, Verdicts, WafOrigin};

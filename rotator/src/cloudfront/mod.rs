//! CloudFront, as the rotation changes it: everything that reads or writes a
//! distribution's config, in one place.
//!
//! - [`distributions`]: [`Distributions`], the collaborator that owns the CloudFront
//!   client and the configured distributions (check, update with the ETag, roll back,
//!   wait for `Deployed`);
//! - [`propagation`]: the guard that refuses to point while a distribution still
//!   deploys an earlier change;
//! - [`staging`]: the staging distribution of a continuous deployment policy, rotated
//!   with its primary;
//! - [`throttle`]: retrying throttled calls;
//! - [`edits`]: the pure `DistributionConfig` edits (associations, origin custom
//!   headers);
//! - [`query_strings`]: which behaviors hide query strings from the signer.

pub(crate) mod distributions;
pub(crate) mod edits;
mod propagation;
pub(crate) mod query_strings;
mod staging;
pub(crate) mod throttle;

pub(crate) use distributions::Distributions;
pub(crate) use propagation::Guard;

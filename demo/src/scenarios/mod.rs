//! What each mode adds to the default run, one file each, and what differs between the
//! demo's targets (below).
//!
//! - `signed` (default): the edge signer, the authorizer verifying signatures; the stack
//!   and run themselves (`crate::stack`, `crate::run`).
//! - `static-header` ([`static_header`]): the header the secret holds, sent by CloudFront
//!   and compared by the authorizer.
//! - `waf` ([`waf`]): the same header, also matched by a WAF rule in front of the API.
//! - `api-gateway-api-key` ([`api_key`]): the header is `x-api-key`, checked by API
//!   Gateway's own API key check instead of the authorizer.
//! - `appsync-api-key` ([`appsync`]): an AppSync API whose clients read their key from
//!   the secret; a world of its own.
//! - `--origin alb` ([`alb`]): the origin behind a load balancer, verified by
//!   `edgeseal-tower`'s layer.
//! - `--jwt` ([`jwt`]): user tokens checked by the authorizer after the signature.
//! - `--chaos` ([`chaos`]): the run under failures, among them a Secrets Manager outage
//!   ([`outage`]).
//! - `--serve` ([`serve`]): the stack stays up after the run, for a user.

pub mod alb;
pub mod api_key;
pub mod appsync;
pub mod chaos;
pub mod jwt;
pub mod outage;
pub mod serve;
pub mod static_header;
pub mod waf;

use edgeseal_rotator::TargetKind;

/// Parse `--target` (or its older name `--mode`): a `ROTATION_TARGET` name.
pub fn parse_mode(value: &str) -> Result<TargetKind, String> {
    TargetKind::from_name(value).ok_or_else(|| {
        let names: Vec<&str> = TargetKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "--target: expected one of {}, got {value:?}",
            names.join(", ")
        )
    })
}

/// The origin custom header CloudFront sends in the static-header modes, as the prior
/// art spells it in its distribution.
pub fn origin_header_name(mode: TargetKind) -> &'static str {
    match mode {
        TargetKind::ApiKey => api_key::HEADER_NAME,
        _ => "X-Origin-Verify",
    }
}

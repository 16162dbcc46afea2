//! What differs between the demo's targets: `signed` (the edge signer, the authorizer
//! verifying signatures), `static-header` (the drop-in for `x-origin-verify` setups:
//! CloudFront adds an origin custom header, the authorizer compares it, the rotator
//! rewrites it), `waf` (the same header, also matched by a WAF rule in front of the
//! API: [`crate::waf`]) and `api-gateway-api-key` (the header is `x-api-key`, checked by
//! API Gateway's own API key check instead of the authorizer: [`crate::api_key`]).

use aws_sdk_cloudfront::types::{CustomHeaders, DistributionConfig, OriginCustomHeader};
use edgeseal_rotator::TargetKind;

use crate::DemoError;
use crate::world::AwsWorld;

/// The static header's name (the prior art's default).
pub const HEADER_NAME: &str = "x-origin-verify";
/// The static-header secret's JSON field (the prior art's default).
pub const SECRET_FIELD: &str = "HTTP_API_KEY";

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

/// 32 characters of `[A-Za-z0-9]` from the OS RNG, like the rotator's header values.
fn random_header_value() -> Result<String, DemoError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = String::new();
    while value.len() < 32 {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| DemoError::Setup(format!("random: {e}")))?;
        for b in bytes.into_iter().filter(|b| *b < 248) {
            if value.len() < 32
                && let Some(c) = ALPHABET.get(usize::from(b % 62))
            {
                value.push(char::from(*c));
            }
        }
    }
    Ok(value)
}

/// Static-header mode: the secret's AWSCURRENT becomes a static header value (as in the
/// setups being replaced); returns it for the distribution's origin custom header.
pub async fn use_static_header_secret(aws: &AwsWorld) -> Result<String, DemoError> {
    let value = random_header_value()?;
    let token = crate::world::new_token()?;
    let described = aws
        .sm
        .describe_secret()
        .secret_id(&aws.secret)
        .send()
        .await
        .map_err(|e| DemoError::Aws(format!("DescribeSecret: {e}")))?;
    let first = described
        .version_ids_to_stages()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default();
    aws.sm
        .put_secret_value()
        .secret_id(&aws.secret)
        .client_request_token(&token)
        .secret_string(serde_json::json!({ SECRET_FIELD: value }).to_string())
        .version_stages(edgeseal::Stage::Current.label())
        .send()
        .await
        .map_err(|e| DemoError::Aws(format!("PutSecretValue: {e}")))?;
    // The signing key the world started with was never used: no AWSPREVIOUS.
    aws.sm
        .update_secret_version_stage()
        .secret_id(&aws.secret)
        .version_stage(edgeseal::Stage::Previous.label())
        .remove_from_version_id(first)
        .send()
        .await
        .map_err(|e| DemoError::Aws(format!("UpdateSecretVersionStage: {e}")))?;
    Ok(value)
}

/// The origin custom header CloudFront sends in the static-header modes, as the prior
/// art spells it in its distribution.
pub fn origin_header_name(mode: TargetKind) -> &'static str {
    match mode {
        TargetKind::ApiKey => crate::api_key::HEADER_NAME,
        _ => "X-Origin-Verify",
    }
}

/// Static-header modes: no edge function; the origin carries the custom header `name`.
pub fn static_header_distribution(
    mut config: DistributionConfig,
    name: &str,
    value: &str,
) -> Result<DistributionConfig, DemoError> {
    let build = |e: aws_sdk_cloudfront::error::BuildError| {
        DemoError::Setup(format!("distribution config: {e}"))
    };
    if let Some(default) = config.default_cache_behavior.as_mut() {
        default.lambda_function_associations = None;
    }
    let headers = CustomHeaders::builder()
        .quantity(1)
        .items(
            OriginCustomHeader::builder()
                .header_name(name)
                .header_value(value)
                .build()
                .map_err(build)?,
        )
        .build()
        .map_err(build)?;
    for origin in config.origins.iter_mut().flat_map(|o| o.items.iter_mut()) {
        origin.custom_headers = Some(headers.clone());
    }
    Ok(config)
}

/// The authorizer's mode variables.
pub fn authorizer_env(mode: TargetKind) -> Vec<(String, String)> {
    match mode {
        TargetKind::Signed => vec![("AUTH_MODE".to_owned(), "signature".to_owned())],
        // Behind the WAF, the API keeps the static-header authorizer (current, pending
        // and previous in its grace): a second check of the same header. (With API keys
        // the stage invokes no authorizer; it runs idle.)
        TargetKind::StaticHeader | TargetKind::ApiKey | TargetKind::Waf => vec![
            ("AUTH_MODE".to_owned(), "static-header".to_owned()),
            ("HEADER_NAME".to_owned(), HEADER_NAME.to_owned()),
            ("SECRET_KEY_NAME".to_owned(), SECRET_FIELD.to_owned()),
        ],
        TargetKind::AppSyncApiKey => {
            unreachable!("parse_mode never yields it: --target appsync-api-key runs appsync::run")
        }
    }
}

/// API Gateway's identity sources.
pub fn identity_sources(mode: TargetKind) -> Vec<&'static str> {
    match mode {
        TargetKind::Signed => crate::apigw::IDENTITY_SOURCES.to_vec(),
        TargetKind::StaticHeader | TargetKind::ApiKey | TargetKind::Waf => vec![HEADER_NAME],
        TargetKind::AppSyncApiKey => {
            unreachable!("parse_mode never yields it: --target appsync-api-key runs appsync::run")
        }
    }
}

/// The rotator's mode variables (the edge function only in signed mode).
pub fn rotator_env(mode: TargetKind, edge_function: &str) -> Vec<(&'static str, String)> {
    match mode {
        TargetKind::Signed => vec![
            ("ROTATION_TARGET", "signed".to_owned()),
            ("EDGE_FUNCTION_NAME", edge_function.to_owned()),
        ],
        // The API key target's own variables: crate::api_key::rotator_env.
        TargetKind::ApiKey => vec![
            ("ROTATION_TARGET", mode.as_str().to_owned()),
            ("SECRET_KEY_NAME", SECRET_FIELD.to_owned()),
        ],
        TargetKind::StaticHeader | TargetKind::Waf => vec![
            ("ROTATION_TARGET", mode.as_str().to_owned()),
            ("HEADER_NAME", HEADER_NAME.to_owned()),
            ("SECRET_KEY_NAME", SECRET_FIELD.to_owned()),
        ],
        TargetKind::AppSyncApiKey => {
            unreachable!("parse_mode never yields it: --target appsync-api-key runs appsync::run")
        }
    }
}

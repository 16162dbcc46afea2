//! `static-header`: the drop-in for `x-origin-verify` setups. CloudFront adds an origin
//! custom header, the authorizer compares it, the rotator rewrites it. The `waf` and
//! `api-gateway-api-key` targets send the same kind of header.

use aws_sdk_cloudfront::types::{CustomHeaders, DistributionConfig, OriginCustomHeader};

use crate::DemoError;
use crate::stack::aws::AwsWorld;

/// The static header's name (the prior art's default).
pub const HEADER_NAME: &str = "x-origin-verify";
/// The static-header secret's JSON field (the prior art's default).
pub const SECRET_FIELD: &str = "HTTP_API_KEY";

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
    let token = crate::stack::aws::new_token()?;
    let described = crate::stack::aws::describe_secret(aws).await?;
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

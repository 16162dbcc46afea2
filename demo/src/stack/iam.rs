//! The one IAM call the demo makes (`CreateRole`, for the Lambda functions moto creates),
//! sent as IAM's query API documents it and signed with SigV4 by `aws-sigv4`, the signer
//! every AWS SDK client already uses. Not `aws-sdk-iam`: that crate alone is about a
//! quarter of the demo's first build, for one request.
//!
//! IAM API Reference, "CreateRole" and "Making query requests": `POST /` with a
//! form-encoded body `Action=CreateRole&Version=2010-05-08&RoleName=…&
//! AssumeRolePolicyDocument=…`; the answer is XML with the role's `Arn`. moto, like AWS,
//! routes the request by the service in the signature's credential scope (`iam`).

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials as _;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

use crate::DemoError;

/// Create role `name` that Lambda and Lambda@Edge may assume, with `sdk`'s endpoint,
/// region and credentials; returns its ARN.
pub async fn create_lambda_role(sdk: &SdkConfig, name: &str) -> Result<String, DemoError> {
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","edgelambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
    let fail = |what: String| DemoError::Setup(format!("IAM CreateRole: {what}"));
    let endpoint = sdk
        .endpoint_url()
        .ok_or_else(|| fail("the SDK configuration names no endpoint".to_owned()))?;
    let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
    let credentials = sdk
        .credentials_provider()
        .ok_or_else(|| fail("the SDK configuration has no credentials".to_owned()))?
        .provide_credentials()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}",
        form_encode(name),
        form_encode(TRUST)
    );
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("host", &host)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.clone())))
        .map_err(|e| fail(e.to_string()))?;

    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("iam")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| fail(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &url,
        [("host", host.as_str()), ("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| fail(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| fail(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(&mut request);

    let response = crate::stack::http::client()
        .request(request)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| fail(e.to_string()))?
        .to_bytes();
    let xml = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}: {xml}")));
    }
    xml.split("<Arn>")
        .nth(1)
        .and_then(|rest| rest.split("</Arn>").next())
        .map(str::to_owned)
        .ok_or_else(|| fail(format!("no Arn in the answer: {xml}")))
}

/// `application/x-www-form-urlencoded` value encoding (RFC 3986 unreserved kept).
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn form_encoding_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(form_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(form_encode(r#"{"a": 1}/+"#), "%7B%22a%22%3A%201%7D%2F%2B");
    }
}

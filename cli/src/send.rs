//! `sign --send`: one request to the origin with the signature headers, like curl.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::{CliError, error_chain};
use crate::target::Target;

/// The most of a response body printed.
pub const MAX_BODY: usize = 64 * 1024;

/// What the origin answered.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub truncated: bool,
}

/// Send `method target` with `headers` (already including the signature) and `body`.
pub async fn send(
    method: &str,
    target: &Target,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout: Duration,
) -> Result<Response, CliError> {
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| CliError::Usage(format!("{method:?} is not an HTTP method")))?;
    let scheme = if target.https { "https" } else { "http" };
    let uri = format!("{scheme}://{}{}", target.authority, target.path_and_query());
    let mut request = http::Request::builder().method(method).uri(&uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .map_err(|err| CliError::Usage(format!("cannot build the request: {err}")))?;

    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|err| CliError::Network(format!("no TLS root certificates: {err}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);

    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|err| CliError::Network(format!("{uri}: {}", error_chain(&err))))?;
        let status = response.status().as_u16();
        let collected = Limited::new(response.into_body(), MAX_BODY + 1)
            .collect()
            .await
            .map_err(|err| CliError::Network(format!("{uri}: reading the body: {err}")))?
            .to_bytes();
        let truncated = collected.len() > MAX_BODY;
        let shown = collected
            .get(..MAX_BODY.min(collected.len()))
            .unwrap_or_default();
        Ok(Response {
            status,
            body: String::from_utf8_lossy(shown).into_owned(),
            truncated,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| CliError::Network(format!("{uri}: no answer within {}s", timeout.as_secs())))?
}

/// Parse a `Name: value` header argument.
pub fn parse_header(arg: &str) -> Result<(String, String), CliError> {
    let (name, value) = arg
        .split_once(':')
        .ok_or_else(|| CliError::Usage(format!("header {arg:?}: expected \"Name: value\"")))?;
    let name = name.trim();
    if name.is_empty() || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(CliError::Usage(format!(
            "header {arg:?}: invalid header name"
        )));
    }
    let value = value.trim();
    if http::HeaderValue::from_str(value).is_err() {
        return Err(CliError::Usage(format!(
            "header {name}: invalid header value"
        )));
    }
    Ok((name.to_ascii_lowercase(), value.to_owned()))
}

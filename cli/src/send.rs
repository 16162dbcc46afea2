//! `sign --send`: one request to the origin with the signature headers, like curl.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::connect_to::{ConnectTo, PinnedResolver};
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

/// Send `method target` with `headers` (already including the signature) and `body`;
/// to the address `connect_to` pins the target's host to, if it does.
pub async fn send(
    method: &str,
    target: &Target,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout: Duration,
    connect_to: &[ConnectTo],
) -> Result<Response, CliError> {
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| CliError::Usage(format!("{method:?} is not an HTTP method")))?;
    let pinned = ConnectTo::find(connect_to, &target.authority);
    let uri = match pinned {
        // The host name stays in the URI (TLS name, resolver); the pinned port and scheme
        // replace the target's; `Host` below keeps the authority as the target names it.
        Some(pin) => format!(
            "{}://{}:{}{}",
            if pin.https { "https" } else { "http" },
            pin.host,
            pin.addr.port(),
            target.path_and_query()
        ),
        None => format!(
            "{}://{}{}",
            if target.https { "https" } else { "http" },
            target.authority,
            target.path_and_query()
        ),
    };
    let mut request = http::Request::builder().method(method).uri(&uri);
    if pinned.is_some() {
        request = request.header(http::header::HOST, target.authority.as_str());
    }
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .map_err(|err| CliError::Usage(format!("cannot build the request: {err}")))?;

    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut resolving = HttpConnector::new_with_resolver(PinnedResolver::new(connect_to));
    resolving.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|err| CliError::Network(format!("no TLS root certificates: {err}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(resolving);
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

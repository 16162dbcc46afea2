//! GET a discovery document or key set over the HTTP/TLS stack the binary already links
//! for Secrets Manager (`aws-smithy-http-client`: hyper 1 + rustls over ring; see
//! `src/sdk.rs`), so the bearer-token check adds no second HTTP or TLS implementation.

use std::time::Duration;

use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::http::Request;
use aws_smithy_types::byte_stream::ByteStream;

/// Largest document accepted: real key sets are a few KB (Cognito: two keys), so a
/// larger answer is a misconfiguration, not something to hold in memory.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why a fetch failed. Carries no response body.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be made into a request.
    #[error("bad URL")]
    BadUrl,
    /// Connection, TLS or transfer failure.
    #[error("transport: {0}")]
    Transport(String),
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// A status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// More than `MAX_DOCUMENT_BYTES`.
    #[error("document larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// Not the JSON expected.
    #[error("unexpected document: {0}")]
    Document(String),
}

/// An HTTP(S) GET client for issuer documents.
#[derive(Debug)]
pub struct Fetcher {
    connector: Connector,
    timeout: Duration,
}

impl Fetcher {
    /// A client whose every fetch is bounded by `timeout` (connect and transfer).
    pub fn new(timeout: Duration) -> Self {
        Self {
            connector: Connector::builder()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build(),
            timeout,
        }
    }

    /// The body of a 200 answer to `GET url`.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut request = Request::get(url).map_err(|_| FetchError::BadUrl)?;
        request.headers_mut().insert("accept", "application/json");
        let exchange = async {
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|e| FetchError::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(FetchError::Status(status));
            }
            let bytes = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|e| FetchError::Transport(e.to_string()))?
                .into_bytes();
            if bytes.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge);
            }
            Ok(bytes.to_vec())
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

//! The little HTTP plumbing the stand-ins share: a loopback server loop and a client.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// A response body.
pub type Body = Full<Bytes>;

/// An HTTP/1 client for loopback.
pub type HttpClient = Client<HttpConnector, Body>;

/// A client with keep-alive, for the stand-ins talking to each other.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http()
}

/// A request, read whole.
pub struct WholeRequest {
    /// Method, URI, headers.
    pub parts: http::request::Parts,
    /// The body.
    pub body: Bytes,
}

/// Serve `handler` on `listener` until the task is dropped.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(WholeRequest) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let handler = Arc::clone(&handler);
                async move {
                    let (parts, body) = req.into_parts();
                    let body = match body.collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(_) => {
                            return Ok::<_, Infallible>(text(
                                StatusCode::BAD_REQUEST,
                                "unreadable body",
                            ));
                        }
                    };
                    Ok(handler(WholeRequest { parts, body }).await)
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// An upstream response, read whole, to pass on.
pub async fn whole(response: Response<Incoming>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Response::from_parts(parts, Full::new(body))
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

/// A JSON response.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

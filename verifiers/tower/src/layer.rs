//! The tower [`Layer`] and the [`Service`] it wraps around an application.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use edgeseal::{CONTENT_DIGEST, Rejection, check_content_digest};
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, Either, Full, Limited};
use origin_verifier::{KeyCache, Metrics, MetricsSink, SdkSource, SecretsSource};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::check::{Clock, Shared, request_id};
use crate::config::{ConfigError, LayerConfig};

/// Any error a request body may end with.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body the application receives: the original, streaming, or (when the signature
/// binds the body and it was read to check its digest) the checked bytes.
pub type SealedBody<B> = Either<B, Full<Bytes>>;

/// Verifies edgeseal signatures in front of an application; see the crate docs.
///
/// Cheap to clone: every clone shares one key cache.
pub struct EdgesealLayer<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for EdgesealLayer<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl EdgesealLayer<SdkSource> {
    /// The layer from the process environment: [`LayerConfig::from_env`], a Secrets
    /// Manager client from `AWS_REGION` and the usual credential variables (as the
    /// authorizer builds it: each call bounded by `SECRETS_MANAGER_TIMEOUT_MS`, one
    /// retry), metrics on stdout.
    pub fn from_env() -> Result<Self, ConfigError> {
        let config = LayerConfig::from_env()?;
        let client = origin_verifier::secrets_manager_client(
            |name| std::env::var(name).ok(),
            Duration::from_millis(config.authorizer.secrets_manager_timeout_ms),
        )?;
        Self::new(&config, SdkSource::new(client), MetricsSink::Stdout)
    }
}

impl<S: SecretsSource> EdgesealLayer<S> {
    /// A layer for `config`, reading keys through `source` and writing metric lines to
    /// `sink`.
    pub fn new(config: &LayerConfig, source: S, sink: MetricsSink) -> Result<Self, ConfigError> {
        Ok(Self {
            shared: Arc::new(Shared {
                cache: KeyCache::new(source, config.cache_settings()),
                verifier: config.verifier()?,
                profile: config.origin.profile,
                metrics: Metrics::new(&config.authorizer.metrics_namespace, sink),
                max_body_bytes: config.max_body_bytes(),
                clock: Arc::new(edgeseal::UnixTime::now),
            }),
        })
    }

    /// Read the time from `clock` instead of the system clock (tests).
    ///
    /// # Panics
    /// Never; but it must be called before the layer is cloned (it returns the layer
    /// unchanged otherwise, and says so in debug builds).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => shared.clock = clock,
            None => debug_assert!(false, "with_clock after the layer was cloned"),
        }
        self
    }

    /// The key cache (to warm it at start-up with `refresh_at`, or read a counting
    /// source).
    pub fn cache(&self) -> &KeyCache<S> {
        &self.shared.cache
    }
}

impl<S, Inner> Layer<Inner> for EdgesealLayer<S> {
    type Service = Edgeseal<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        Edgeseal {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`EdgesealLayer`] makes: a request goes on to `Inner` only with a valid
/// signature (and, when the signature binds the body, a body that matches it).
pub struct Edgeseal<Inner, S> {
    inner: Inner,
    shared: Arc<Shared<S>>,
}

impl<Inner: Clone, S> Clone for Edgeseal<Inner, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The answer to a denied request: 401 when it carried no signature, 403 otherwise,
/// with an empty body (the reason goes to the log and the metric, not to the caller,
/// as API Gateway answers for a Lambda authorizer).
fn denied<B: Default>(rejection: Rejection) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = if rejection.is_missing() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::FORBIDDEN
    };
    response
}

impl<Inner, S, ReqBody, ResBody> Service<Request<ReqBody>> for Edgeseal<Inner, S>
where
    Inner: Service<Request<SealedBody<ReqBody>>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    Inner::Future: Send,
    S: SecretsSource + 'static,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = Inner::Error;
    type Future = ResponseFuture<Inner::Future, ResBody, Inner::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let now = (self.shared.clock)();
        let (mut parts, body) = request.into_parts();
        // Most requests are decided here, with the keys the cache holds; the rest (a
        // refresh due, a key not held yet, a body to read) in a future that may wait.
        let decided = self.shared.verify_now(now, &parts);
        match decided {
            Some((Ok(verified), keyid)) if !verified.covers_content_digest() => {
                let verdict = Ok(verified);
                self.shared
                    .record(now, request_id(&parts), &verdict, keyid.as_ref());
                if let Ok(verified) = verdict {
                    parts.extensions.insert(verified);
                }
                ResponseFuture::passed(inner.call(Request::from_parts(parts, Either::Left(body))))
            }
            Some((Err(rejection), keyid)) => {
                let verdict = Err(rejection);
                self.shared
                    .record(now, request_id(&parts), &verdict, keyid.as_ref());
                ResponseFuture::denied(denied(rejection))
            }
            decided => {
                let shared = Arc::clone(&self.shared);
                ResponseFuture::waiting(Box::pin(async move {
                    let (verdict, keyid) = match decided {
                        Some(decided) => decided,
                        None => shared.verify(now, &parts).await,
                    };
                    let (verdict, body) = match verdict {
                        Ok(verified) if verified.covers_content_digest() => {
                            match checked_body(&parts, body, shared.max_body_bytes).await {
                                Ok(bytes) => (Ok(verified), Either::Right(Full::new(bytes))),
                                Err(rejection) => (Err(rejection), Either::Right(Full::default())),
                            }
                        }
                        other => (other, Either::Left(body)),
                    };
                    shared.record(now, request_id(&parts), &verdict, keyid.as_ref());
                    match verdict {
                        Ok(verified) => {
                            // The application may read which key (and stage) let it through.
                            parts.extensions.insert(verified);
                            inner.call(Request::from_parts(parts, body)).await
                        }
                        Err(rejection) => Ok(denied(rejection)),
                    }
                }))
            }
        }
    }
}

/// A response on its way, from a layer that can wait (a refresh, a body read).
type Waiting<ResBody, E> = Pin<Box<dyn Future<Output = Result<Response<ResBody>, E>> + Send>>;

pin_project! {
    /// The future [`Edgeseal`] returns: the application's own future when the signature
    /// was decided at once (no allocation, nothing added), a denial, or the check still
    /// waiting on the key cache or the body.
    pub struct ResponseFuture<F, ResBody, E> {
        #[pin]
        state: State<F, ResBody, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, ResBody, E> {
        Passed { #[pin] future: F },
        Denied { response: Option<Response<ResBody>> },
        Waiting { future: Waiting<ResBody, E> },
    }
}

impl<F, ResBody, E> ResponseFuture<F, ResBody, E> {
    fn passed(future: F) -> Self {
        Self {
            state: State::Passed { future },
        }
    }

    fn denied(response: Response<ResBody>) -> Self {
        Self {
            state: State::Denied {
                response: Some(response),
            },
        }
    }

    fn waiting(future: Waiting<ResBody, E>) -> Self {
        Self {
            state: State::Waiting { future },
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Passed { future } => future.poll(cx),
            // Polled again after it completed: a future may then never complete.
            StateProj::Denied { response } => response
                .take()
                .map_or(Poll::Pending, |r| Poll::Ready(Ok(r))),
            StateProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

/// Read the body (at most `limit` bytes) and check it against the `Content-Digest` the
/// signature covers.
async fn checked_body<B>(
    parts: &http::request::Parts,
    body: B,
    limit: usize,
) -> Result<Bytes, Rejection>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let field = parts
        .headers
        .get(CONTENT_DIGEST)
        .and_then(|v| v.to_str().ok())
        .ok_or(Rejection::ComponentUnavailable)?;
    // Longer than the edge can bind, or unreadable: it cannot be what the edge hashed.
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| Rejection::BodyDigestMismatch)?
        .to_bytes();
    check_content_digest(field, &bytes)?;
    Ok(bytes)
}

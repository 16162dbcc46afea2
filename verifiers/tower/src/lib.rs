//! # edgeseal-tower
//!
//! A tower [`Layer`](tower_layer::Layer) for axum and hyper that lets a request through
//! only when it carries a valid edgeseal signature: proof that it came through your
//! CloudFront distribution. For origins that receive CloudFront's request unchanged
//! (behind an Application Load Balancer, on ECS or EC2, outside AWS), whose edge signs
//! them in the `raw` profile (`EDGE_ORIGIN_PROFILES`).
//!
//! It is the API Gateway authorizer's check, moved into the application: the same
//! signing core ([`edgeseal::Verifier`]), the same key cache over Secrets Manager
//! ([`origin_verifier::KeyCache`]: AWSCURRENT, AWSPENDING, AWSPREVIOUS within its
//! grace; one rate-limited refresh for an unknown `keyid`; stale keys served while
//! Secrets Manager fails, at most `MAX_STALE_SECS`; no Secrets Manager call per
//! request), the same settings, and the same reason codes in the same log line and
//! metric. When the signature binds the body (`Content-Digest`), the layer reads the
//! body, checks it, and hands the application the checked bytes. An allowed request
//! carries the [`edgeseal::Verified`] verdict in its extensions (key id, stage, age).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use edgeseal_tower::EdgesealLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // SECRET_ID, AWS_REGION and credentials from the environment.
//! let app = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     .layer(EdgesealLayer::from_env()?);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! See README.md for the configuration reference.

mod check;
mod config;
mod layer;

pub use crate::check::Clock;
pub use crate::config::{ConfigError, LayerConfig};
pub use crate::layer::{Edgeseal, EdgesealLayer, ResponseFuture, SealedBody};

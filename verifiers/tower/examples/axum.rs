//! An axum service behind edgeseal: `SECRET_ID=... AWS_REGION=... cargo run -p edgeseal-tower --example axum`.
//!
//! Every route is behind the layer; a handler reads the (checked) body as usual.
#![allow(clippy::print_stdout)]

use axum::Router;
use axum::routing::{get, post};
use edgeseal_tower::EdgesealLayer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // JSON logs, as the authorizer writes them; deny lines carry the reason code.
    tracing_subscriber::fmt().json().init();
    let layer = EdgesealLayer::from_env()?;
    // Load the keys before the first request (a cold cache would load them on it).
    layer.cache().refresh_at(edgeseal::UnixTime::now()).await?;
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/orders",
            post(|body: String| async move { format!("got {} bytes", body.len()) }),
        )
        .layer(layer);
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

//! # edgeseal edge-signer
//!
//! The Lambda@Edge origin-request signer. Work in progress: see the crate README.

mod config;
#[cfg(not(target_arch = "wasm32"))]
pub mod package;

pub use crate::config::{
    CONFIG_FILE, CONFIG_FORMAT, EdgeConfig, EdgeConfigError, MAX_MAX_AGE_SECS,
};
#[cfg(not(target_arch = "wasm32"))]
pub use crate::package::{EdgeAssets, PackageError, package_zip};

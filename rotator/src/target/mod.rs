//! The rotation targets: what a rotation rotates.

pub mod appsync;

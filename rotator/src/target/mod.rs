//! Rotation targets: the kinds of credential a rotation puts in place.

pub mod api_key;

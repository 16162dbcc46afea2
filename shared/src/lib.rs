//! # edgeseal
//!
//! The signing protocol behind edgeseal: a CloudFront Lambda@Edge function signs every
//! origin request with an [RFC 9421] HTTP message signature (`hmac-sha256`), and the
//! origin's Lambda authorizer verifies it against the keys held in Secrets Manager.
//!
//! This crate is the part both sides share. It does no I/O and has no async, and no
//! check reads a clock: the caller passes the current time in ([`UnixTime::now`] where
//! there is a system clock), which is what lets the edge compile it to
//! `wasm32-unknown-unknown` and lets tests hit every expiry boundary exactly.
//!
//! ```
//! use edgeseal::{KeyId, KeySet, RequestView, Signer, SigningKey, Stage, UnixTime, Verifier};
//!
//! let key = SigningKey::from_bytes(&[7u8; 32]).unwrap();
//! let keyid = KeyId::new("a1b2c3d4-0000-4000-8000-000000000001").unwrap();
//! let signer = Signer::new("edgeseal", keyid.clone(), key.clone()).unwrap();
//!
//! // What CloudFront will send to the origin.
//! let request = RequestView::new("GET", "api.example.com", "/prod/orders", "b=2&a=1");
//! let now = UnixTime::from_secs(1_700_000_000);
//! let fields = signer.sign_at(now, &request).unwrap();
//!
//! // What API Gateway shows the authorizer a moment later.
//! let arriving = request
//!     .with_header("signature-input", fields.signature_input())
//!     .with_header("signature", fields.signature());
//! let mut keys = KeySet::new();
//! keys.insert_current(keyid, key);
//! let verified = Verifier::default().verify_at(now.plus_secs(2), &arriving, &keys).unwrap();
//! assert_eq!(verified.stage(), Stage::Current);
//! assert_eq!(verified.age_secs(), 2);
//! ```
//!
//! [RFC 9421]: https://www.rfc-editor.org/rfc/rfc9421

pub mod accepted;
mod arn;
mod base;
pub mod canonical;
#[cfg(any(test, feature = "sfv-reference"))]
pub mod differential;
mod digest;
pub mod env;
mod error;
mod fields;
mod key;
mod keyset;
mod params;
mod profile;
mod request;
mod secret;
mod sign;
mod time;
mod verify;

pub use crate::arn::{FunctionArn, NotFunctionArn, arn_qualifier, function_name, unqualified_arn};
pub use crate::base::SignatureBase;
pub use crate::digest::{CONTENT_DIGEST, check_content_digest, content_digest};
pub use crate::error::{ConfigError, Rejection, SecretFormatError, SignError};
pub use crate::fields::{FieldLimits, remove_member};
pub use crate::key::{KeyId, SigningKey, StaticHeaderValue};
pub use crate::keyset::{KeySet, Stage};
pub use crate::params::{
    Component, DEFAULT_LABEL, DEFAULT_TAG, HMAC_SHA256, REQUIRED_COMPONENTS, SIGNED_PATH_PARAM,
    SignatureParams,
};
pub use crate::profile::{Profile, UnknownProfile};
pub use crate::request::RequestView;
pub use crate::secret::{
    LEGACY_FIELDS, SecretValue, edgeseal_secret_json, static_header_secret_json,
};
pub use crate::sign::{SignedFields, Signer, sign_with};
pub use crate::time::UnixTime;
pub use crate::verify::{SignatureCandidate, Verified, Verifier};

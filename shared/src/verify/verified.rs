//! What an accepted signature tells the backend.

use crate::digest::{CONTENT_DIGEST, check_content_digest};
use crate::error::Rejection;
use crate::key::KeyId;
use crate::keyset::{Found, Stage};
use crate::request::RequestView;
use crate::time::UnixTime;

/// What an accepted signature tells the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    keyid: KeyId,
    stage: Stage,
    created: UnixTime,
    age_secs: u64,
    covers_content_digest: bool,
}

impl Verified {
    /// The verdict on a signature made with the key `found` at `created`.
    pub(super) fn new(
        found: &Found<'_>,
        created: UnixTime,
        now: UnixTime,
        covers_content_digest: bool,
    ) -> Self {
        Self {
            keyid: found.keyid.clone(),
            stage: found.stage,
            created,
            age_secs: now.secs_since(created),
            covers_content_digest,
        }
    }

    /// The key id alone, when the verdict is not to be.
    pub(super) fn into_keyid(self) -> KeyId {
        self.keyid
    }

    /// Whether the signature covers `Content-Digest` (binds the body).
    pub fn covers_content_digest(&self) -> bool {
        self.covers_content_digest
    }

    /// Check the body received with the request: when the signature covers
    /// `Content-Digest`, that field must be the SHA-256 of `body`
    /// ([`check_content_digest`](crate::check_content_digest)); otherwise there is
    /// nothing to check (a verifier that requires body binding has already refused
    /// such a signature: [`Rejection::BodyNotSigned`]).
    pub fn check_body(&self, request: &RequestView, body: &[u8]) -> Result<(), Rejection> {
        if !self.covers_content_digest {
            return Ok(());
        }
        let field = request
            .header(CONTENT_DIGEST)
            .ok_or(Rejection::ComponentUnavailable)?;
        check_content_digest(&field, body)
    }

    /// The key that matched.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// Its stage when it matched.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The signature's `created`.
    pub fn created(&self) -> UnixTime {
        self.created
    }

    /// Seconds between `created` and verification (0 if `created` was slightly ahead).
    pub fn age_secs(&self) -> u64 {
        self.age_secs
    }
}

//! The optional bearer-token check: after the edge signature verifies, the request's JWT
//! is verified as HTTP API's built-in JWT authorizer would (API Gateway Developer Guide,
//! "Control access to HTTP APIs with JWT authorizers"), so one authorizer slot does both.
//!
//! - [`JwtConfig`]: the `JWT_*` / `JWKS_*` settings (`config.rs`), route scopes
//!   (`scopes.rs`);
//! - [`JwksCache`]: the issuers' key sets, over the HTTP stack the binary already links
//!   (`jwks.rs`, `fetch.rs`);
//! - the checks on one token (`verify.rs`), verified tokens remembered until they expire
//!   (`memo.rs`), claims as authorizer context (`claims.rs`);
//! - [`JwtRejection`]: one stable reason code per failed check.
//!
//! The token itself is never logged, counted, kept (the memo holds its SHA-256) or put
//! in an error.

mod claims;
mod config;
mod error;
mod fetch;
mod jwks;
mod memo;
mod scopes;
mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;

use edgeseal::UnixTime;
use serde_json::{Map, Value};

pub use claims::{ContextFormat, context_key};
pub use config::{ForwardClaims, IssuerConfig, JwtConfig, TokenUse};
pub use error::JwtRejection;
pub use fetch::{FetchError, Fetcher};
pub use jwks::{JwksCache, KeySet, discovery_url};
pub use scopes::ScopeRules;

/// What a verified token proved, for the context and the logs.
#[derive(Clone, Debug)]
pub struct JwtGrant {
    /// `iss`.
    pub issuer: String,
    /// The `kid` of the key that signed it.
    pub kid: String,
    /// The payload.
    pub claims: Arc<Map<String, Value>>,
    /// Its `scope` / `scp`.
    pub scopes: Arc<[String]>,
    /// Whether the verdict came from the memo (no signature check this time).
    pub remembered: bool,
}

/// A refused token, with what the explain command shows: the issuer and `kid` it named
/// (never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtDenial {
    /// Why.
    pub rejection: JwtRejection,
    /// `kid` from the header, when it was read.
    pub kid: Option<String>,
}

impl From<JwtRejection> for JwtDenial {
    fn from(rejection: JwtRejection) -> Self {
        Self {
            rejection,
            kid: None,
        }
    }
}

/// The bearer-token verifier of one execution environment.
#[derive(Debug)]
pub struct JwtVerifier {
    config: JwtConfig,
    jwks: JwksCache,
    memo: memo::Memo,
}

impl JwtVerifier {
    /// The verifier for `config`; no key fetched yet ([`JwksCache::load_all_at`]).
    pub fn new(config: &JwtConfig) -> Self {
        Self {
            jwks: JwksCache::new(config),
            memo: memo::Memo::new(config.memo_max_entries),
            config: config.clone(),
        }
    }

    /// The key-set cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// The settings.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Tokens remembered now.
    pub fn remembered(&self) -> usize {
        self.memo.len()
    }

    /// Verify the token in `authorization` for a `method` `path` request as of `now`;
    /// `Ok(None)` on a `JWT_PUBLIC_ROUTES` route (no token needed, none read).
    pub async fn verify_at(
        &self,
        now: UnixTime,
        authorization: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<Option<JwtGrant>, JwtDenial> {
        if self.config.public_routes.matches(method, path) {
            return Ok(None);
        }
        let token = verify::bearer_token(authorization)?;
        let digest = memo::digest(token);
        let skew = self.config.clock_skew_secs;
        let verified = match self.remembered_at(&digest, now).await {
            Some(verified) => Ok((verified, true)),
            None => self.verify_token(now, token).await.map(|v| (v, false)),
        };
        let (verified, remembered) = verified?;
        if !remembered {
            self.memo.insert(digest, verified.clone(), now, skew);
        }
        let required = self.config.scopes.required(method, path);
        verify::check_scopes(&verified.scopes, required).map_err(|rejection| JwtDenial {
            rejection,
            kid: Some(verified.kid.clone()),
        })?;
        Ok(Some(JwtGrant {
            issuer: self
                .config
                .issuers
                .get(verified.issuer_index)
                .map(|i| i.issuer.clone())
                .unwrap_or_default(),
            kid: verified.kid,
            claims: verified.claims,
            scopes: verified.scopes,
            remembered,
        }))
    }

    /// A memo hit whose key the issuer still publishes.
    async fn remembered_at(
        &self,
        digest: &memo::TokenDigest,
        now: UnixTime,
    ) -> Option<memo::Verified> {
        let hit = self.memo.get(digest, now, self.config.clock_skew_secs)?;
        let keys = self.jwks.keys_at(hit.issuer_index, now).await;
        if keys.is_some_and(|k| k.get(&hit.kid).is_some()) {
            Some(hit)
        } else {
            self.memo.remove(digest);
            None
        }
    }

    async fn verify_token(&self, now: UnixTime, token: &str) -> Result<memo::Verified, JwtDenial> {
        let unverified = verify::parse(token, &self.config.algorithms)?;
        let deny = |rejection: JwtRejection| JwtDenial {
            rejection,
            kid: unverified.kid.clone(),
        };
        let issuer_index = unverified
            .issuer()
            .and_then(|iss| self.jwks.issuer_index(iss))
            .ok_or_else(|| deny(JwtRejection::WrongIssuer))?;
        let kid = unverified
            .kid
            .as_deref()
            .ok_or_else(|| deny(JwtRejection::UnknownKid))?;
        let mut keys = self.jwks.keys_at(issuer_index, now).await;
        if keys.as_ref().is_none_or(|k| k.get(kid).is_none())
            && let Some(fresh) = self
                .jwks
                .refresh_for_unknown_kid(issuer_index, kid, now)
                .await
        {
            keys = Some(fresh);
        }
        let keys = keys.ok_or_else(|| deny(JwtRejection::NoKeys))?;
        let key = keys
            .get(kid)
            .ok_or_else(|| deny(JwtRejection::UnknownKid))?;
        verify::check_signature(token, &unverified, key).map_err(deny)?;
        let exp = verify::check_claims(&unverified.claims, now, &self.config).map_err(deny)?;
        let scopes: Arc<[String]> = verify::scopes(&unverified.claims).into();
        Ok(memo::Verified {
            issuer_index,
            kid: kid.to_owned(),
            exp,
            scopes,
            claims: Arc::new(unverified.claims),
        })
    }

    /// The context entries of `grant` in `format`.
    pub fn context(&self, grant: &JwtGrant, format: ContextFormat) -> BTreeMap<String, Value> {
        claims::context(
            &grant.claims,
            &grant.scopes,
            &self.config.forward_claims,
            format,
        )
    }
}

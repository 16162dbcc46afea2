//! The verdict for one event: view the request, check it, answer in the event's format,
//! log and count.

use std::borrow::Cow;
use std::sync::Arc;

use edgeseal::{KeyId, KeySet, Rejection, RequestView, Stage, UnixTime, Verifier};

use crate::base_path::BasePathMap;
use crate::cache::{CacheSettings, KeyCache, SecretsSource, Snapshot};
use crate::config::{AuthMode, Config, ConfigError, ResponseMode};
use crate::event::{AuthorizerEvent, EventError, EventKind, HeaderSelection};
use crate::jwt::{ContextFormat, JwtGrant, JwtRejection, JwtVerifier};
use crate::metrics::{Metrics, MetricsSink, Verdict};
use crate::response::{
    AuthorizerError, AuthorizerResponse, Context, PolicyResponse, SimpleResponse,
};

/// How an allowed request proved itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// An RFC 9421 signature.
    Signature,
    /// The static header.
    StaticHeader,
}

impl Scheme {
    /// `signature` / `static-header`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Signature => "signature",
            Scheme::StaticHeader => "static-header",
        }
    }
}

/// Why a request was refused. Each has a stable [`code`](DenyReason::code).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// The signature was rejected (or absent: [`Rejection::Missing`]).
    Signature(Rejection),
    /// Static-header mode: the header is absent.
    StaticHeaderMissing,
    /// The static header does not match any accepted value.
    StaticHeaderMismatch,
    /// Static-header mode: no static value is held (fail closed).
    NoStaticValues,
    /// The event lacks a field the request view needs.
    BadEvent(EventError),
    /// The edge signature verified, but the bearer token did not (`JWT_ISSUERS` set).
    Jwt(JwtRejection),
}

impl DenyReason {
    /// The reason code for logs, metrics and the deny context.
    pub const fn code(self) -> &'static str {
        match self {
            DenyReason::Signature(r) => r.code(),
            DenyReason::StaticHeaderMissing => "static_header_missing",
            DenyReason::StaticHeaderMismatch => "static_header_mismatch",
            DenyReason::NoStaticValues => "no_keys",
            DenyReason::BadEvent(_) => "bad_event",
            DenyReason::Jwt(r) => r.code(),
        }
    }

    /// Whether a REST API answers 401 (the Lambda error `Unauthorized`) rather than 403:
    /// no credential at all, or a missing or invalid bearer token (as the built-in JWT
    /// authorizer answers 401; a token without the route's scopes gets 403).
    pub const fn answers_unauthorized(self) -> bool {
        match self {
            DenyReason::Jwt(r) => r.is_unauthorized(),
            other => other.is_missing(),
        }
    }

    /// The request carried no credential at all: a REST API answers 401, not 403.
    pub const fn is_missing(self) -> bool {
        match self {
            DenyReason::Signature(r) => r.is_missing(),
            DenyReason::StaticHeaderMissing => true,
            _ => false,
        }
    }
}

/// What let a request through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Signature or static header.
    pub scheme: Scheme,
    /// The version that matched.
    pub keyid: KeyId,
    /// Its stage.
    pub stage: Stage,
    /// Signature age, for signatures.
    pub age_secs: Option<u64>,
}

impl Grant {
    fn reason(&self) -> &'static str {
        match (self.scheme, self.stage) {
            (Scheme::Signature, Stage::Current) => "signature_current",
            (Scheme::Signature, Stage::Pending) => "signature_pending",
            (Scheme::Signature, Stage::Previous) => "signature_previous",
            (Scheme::StaticHeader, Stage::Current) => "static_header_current",
            (Scheme::StaticHeader, Stage::Pending) => "static_header_pending",
            (Scheme::StaticHeader, Stage::Previous) => "static_header_previous",
        }
    }
}

/// The API Gateway Lambda authorizer: configuration, key cache, metrics.
pub struct Authorizer<S> {
    cache: KeyCache<S>,
    verifier: Verifier,
    auth_mode: AuthMode,
    response_mode: ResponseMode,
    base_paths: BasePathMap,
    header_name: String,
    metrics: Metrics,
    jwt: Option<JwtVerifier>,
}

/// Stands in for a missing snapshot: verifies nothing.
fn empty_keys() -> &'static KeySet {
    static EMPTY: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    EMPTY.get_or_init(KeySet::new)
}

impl<S: SecretsSource> Authorizer<S> {
    /// An authorizer for `config`, reading keys through `source`.
    pub fn new(config: &Config, source: S, sink: MetricsSink) -> Result<Self, ConfigError> {
        Ok(Self {
            cache: KeyCache::new(source, CacheSettings::from_config(config)),
            verifier: config.verifier()?,
            auth_mode: config.auth_mode,
            response_mode: config.response_mode,
            base_paths: config.base_path_map.clone(),
            header_name: config.header_name.clone(),
            metrics: Metrics::new(&config.metrics_namespace, sink),
            jwt: config.jwt.as_ref().map(JwtVerifier::new),
        })
    }

    /// The bearer-token verifier, when `JWT_ISSUERS` is set.
    pub fn jwt(&self) -> Option<&JwtVerifier> {
        self.jwt.as_ref()
    }

    /// The key cache.
    pub fn cache(&self) -> &KeyCache<S> {
        &self.cache
    }

    /// Answer `event` with the system clock.
    pub async fn handle(
        &self,
        event: &AuthorizerEvent,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        self.handle_at(UnixTime::now(), event).await
    }

    /// Answer `event` as of `now`.
    pub async fn handle_at(
        &self,
        now: UnixTime,
        event: &AuthorizerEvent,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let request_id = event.request_id();
        let kind = match event.kind() {
            Ok(kind) => kind,
            Err(err) => {
                tracing::error!(request_id, reason = "bad_event", error = %err, "deny");
                self.metrics
                    .record(now, Verdict::Deny, "bad_event", request_id);
                return Err(err.into());
            }
        };
        // Only the headers the checks read are copied into the view; a signature that
        // covers other headers fails with `component_unavailable` and gets a second
        // look with all of them.
        let names = [
            "signature-input",
            "signature",
            "authorization",
            self.header_name.as_str(),
        ];
        let view = event.request_view(kind, &self.base_paths, HeaderSelection::Only(&names));
        let (mut decision, mut keyid) = match &view {
            Ok(view) => self.decide(now, view).await,
            Err(err) => (Err(DenyReason::BadEvent(*err)), None),
        };
        if matches!(
            decision,
            Err(DenyReason::Signature(Rejection::ComponentUnavailable))
        ) {
            (decision, keyid) =
                match event.request_view(kind, &self.base_paths, HeaderSelection::All) {
                    Ok(full) => self.decide(now, &full).await,
                    Err(err) => (Err(DenyReason::BadEvent(err)), None),
                };
        }
        let jwt = match (&decision, &view) {
            (Ok(_), Ok(view)) => self.check_jwt(now, view, &mut decision).await,
            _ => None,
        };
        match &decision {
            Ok(grant) => {
                tracing::debug!(
                    request_id,
                    reason = grant.reason(),
                    keyid = %grant.keyid,
                    stage = grant.stage.as_str(),
                    age = grant.age_secs,
                    jwt_iss = jwt.as_ref().map(|j| j.issuer.as_str()),
                    jwt_kid = jwt.as_ref().map(|j| j.kid.as_str()),
                    "allow"
                );
                self.metrics
                    .record(now, Verdict::Allow, grant.reason(), request_id);
            }
            Err(reason) => {
                tracing::warn!(
                    request_id,
                    reason = reason.code(),
                    keyid = keyid.as_ref().map(KeyId::as_str),
                    jwt_claim = match reason {
                        DenyReason::Jwt(r) => r.claim(),
                        _ => None,
                    },
                    "deny"
                );
                self.metrics
                    .record(now, Verdict::Deny, reason.code(), request_id);
            }
        }
        self.respond(kind, event, decision, jwt.as_ref())
    }

    /// The bearer token, once the edge signature verified (one call, when configured):
    /// a refused token turns the decision into a denial.
    async fn check_jwt(
        &self,
        now: UnixTime,
        view: &RequestView,
        decision: &mut Result<Grant, DenyReason>,
    ) -> Option<JwtGrant> {
        let jwt = self.jwt.as_ref()?;
        let authorization = view.header("authorization");
        match jwt
            .verify_at(now, authorization.as_deref(), view.method(), view.path())
            .await
        {
            Ok(grant) => grant,
            Err(denial) => {
                *decision = Err(DenyReason::Jwt(denial.rejection));
                None
            }
        }
    }

    fn respond(
        &self,
        kind: EventKind,
        event: &AuthorizerEvent,
        decision: Result<Grant, DenyReason>,
        jwt: Option<&JwtGrant>,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let simple = kind == EventKind::HttpApi && self.response_mode == ResponseMode::Simple;
        let (allow, context) = match decision {
            Ok(grant) => (
                true,
                Context {
                    scheme: Some(grant.scheme.as_str()),
                    keyid: Some(grant.keyid.as_str().to_owned()),
                    stage: Some(grant.stage.as_str()),
                    signature_age: grant.age_secs,
                    reason: None,
                    jwt: match (&self.jwt, jwt) {
                        (Some(verifier), Some(grant)) => verifier.context(
                            grant,
                            if simple {
                                ContextFormat::Json
                            } else {
                                ContextFormat::Flat
                            },
                        ),
                        _ => Default::default(),
                    },
                },
            ),
            Err(reason) if kind == EventKind::Rest && reason.answers_unauthorized() => {
                return Err(AuthorizerError::Unauthorized);
            }
            Err(reason) => (
                false,
                Context {
                    reason: Some(reason.code()),
                    ..Context::default()
                },
            ),
        };
        match simple {
            true => Ok(AuthorizerResponse::Simple(SimpleResponse {
                is_authorized: allow,
                context,
            })),
            false => {
                let resource = event
                    .policy_resource()
                    .ok_or(EventError::MissingField("routeArn"))?;
                Ok(AuthorizerResponse::Policy(PolicyResponse::new(
                    allow, resource, context,
                )))
            }
        }
    }

    /// The decision for a request, and the keyid it named (for logs).
    async fn decide(
        &self,
        now: UnixTime,
        view: &RequestView,
    ) -> (Result<Grant, DenyReason>, Option<KeyId>) {
        let snapshot = self.cache.snapshot_at(now).await;
        match self.auth_mode {
            AuthMode::Signature => self.check_signature(now, view, snapshot).await,
            AuthMode::StaticHeader => (
                self.check_static(now, view, snapshot.as_deref()).await,
                None,
            ),
            AuthMode::Migration => {
                // The static header first: it is cheap, and fetches keys only for a
                // presented value that matches none (rate-limited).
                let by_header = self.check_static(now, view, snapshot.as_deref()).await;
                if by_header.is_ok() {
                    return (by_header, None);
                }
                let (by_signature, keyid) = self.check_signature(now, view, snapshot).await;
                match (by_signature, by_header) {
                    (Ok(grant), _) => (Ok(grant), keyid),
                    (
                        Err(DenyReason::Signature(Rejection::Missing)),
                        Err(DenyReason::StaticHeaderMissing),
                    ) => (Err(DenyReason::Signature(Rejection::Missing)), None),
                    // A header was presented (and was wrong) and no signature: say so.
                    (Err(DenyReason::Signature(Rejection::Missing)), Err(header)) => {
                        (Err(header), None)
                    }
                    (Err(signature), _) => (Err(signature), keyid),
                }
            }
        }
    }

    async fn check_signature(
        &self,
        now: UnixTime,
        view: &RequestView,
        snapshot: Option<Arc<Snapshot>>,
    ) -> (Result<Grant, DenyReason>, Option<KeyId>) {
        let keys: &KeySet = match snapshot.as_deref() {
            Some(snapshot) => snapshot.keys(),
            None => empty_keys(),
        };
        let mut result = self.verifier.verify_naming_at(now, view, keys);
        // A key id the cache does not hold: one refresh for it, then the verdict again.
        if let Err((Rejection::UnknownKey | Rejection::NoKeys, Some(keyid))) = &result
            && let Some(fresh) = self.cache.refresh_for_unknown_at(keyid.as_str(), now).await
        {
            result = self.verifier.verify_naming_at(now, view, fresh.keys());
        }
        match result {
            Ok(verified) => {
                let keyid = verified.keyid().clone();
                let grant = Grant {
                    scheme: Scheme::Signature,
                    keyid: verified.keyid().clone(),
                    stage: verified.stage(),
                    age_secs: Some(verified.age_secs()),
                };
                (Ok(grant), Some(keyid))
            }
            Err((rejection, named)) => (Err(DenyReason::Signature(rejection)), named),
        }
    }

    /// The static header against the held values; a value matching none triggers one
    /// rate-limited refresh (a rotation may have just staged it), as an unknown keyid does.
    async fn check_static(
        &self,
        now: UnixTime,
        view: &RequestView,
        snapshot: Option<&Snapshot>,
    ) -> Result<Grant, DenyReason> {
        let first = self.match_static(now, view, snapshot);
        if !matches!(
            first,
            Err(DenyReason::StaticHeaderMismatch | DenyReason::NoStaticValues)
        ) {
            return first;
        }
        let Some(presented) = view.header(&self.header_name) else {
            return first;
        };
        match self
            .cache
            .refresh_for_unmatched_static_at(&presented, now)
            .await
        {
            Some(fresh) => self.match_static(now, view, Some(&fresh)),
            None => first,
        }
    }

    fn match_static(
        &self,
        now: UnixTime,
        view: &RequestView,
        snapshot: Option<&Snapshot>,
    ) -> Result<Grant, DenyReason> {
        let presented: Cow<'_, str> = view
            .header(&self.header_name)
            .ok_or(DenyReason::StaticHeaderMissing)?;
        let snapshot = snapshot
            .filter(|s| s.has_static_values())
            .ok_or(DenyReason::NoStaticValues)?;
        snapshot
            .match_static(&presented, now)
            .map(|(keyid, stage)| Grant {
                scheme: Scheme::StaticHeader,
                keyid: keyid.clone(),
                stage,
                age_secs: None,
            })
            .ok_or(DenyReason::StaticHeaderMismatch)
    }
}

//! The verdict for one request: the authorizer's key rules over the request as the
//! origin received it, with the authorizer's reason codes, log line and metric.

use std::sync::{Arc, OnceLock};

use edgeseal::{
    KeyId, KeySet, Profile, Rejection, RequestView, SignatureCandidate, Stage, UnixTime, Verified,
    Verifier,
};
use http::HeaderName;
use http::request::Parts;
use origin_verifier::{KeyCache, Metrics, SecretsSource, Snapshot, Verdict};

/// The clock the layer reads (injected in tests to reach every cache boundary).
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The headers a signature check reads; a signature covering others gets a second look
/// with every header (as the authorizer does). Names parsed once, not per request.
const CHECKED_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("signature-input"),
    HeaderName::from_static("signature"),
    HeaderName::from_static(edgeseal::CONTENT_DIGEST),
];

/// The headers that carry a request id, in the order [`request_id`] reads them.
const REQUEST_ID_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("x-amz-cf-id"),
    HeaderName::from_static("x-amzn-trace-id"),
];

/// What every request of one layer shares.
pub(crate) struct Shared<S> {
    pub(crate) cache: KeyCache<S>,
    pub(crate) verifier: Verifier,
    pub(crate) profile: Profile,
    pub(crate) metrics: Metrics,
    pub(crate) max_body_bytes: usize,
    pub(crate) clock: Clock,
}

/// Stands in for a missing snapshot: verifies nothing.
fn empty_keys() -> &'static KeySet {
    static EMPTY: OnceLock<KeySet> = OnceLock::new();
    EMPTY.get_or_init(KeySet::new)
}

/// The request as a signature in `profile` covers it: method, Host (or the URI's
/// authority, HTTP/2), path and query exactly as received, and the selected headers.
pub(crate) fn request_view(parts: &Parts, profile: Profile, all_headers: bool) -> RequestView {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str))
        .unwrap_or_default();
    let mut view = RequestView::in_profile(
        profile,
        parts.method.as_str(),
        host,
        parts.uri.path(),
        parts.uri.query().unwrap_or_default(),
    );
    if all_headers {
        for (name, value) in &parts.headers {
            if let Ok(value) = value.to_str() {
                view.push_header(name.as_str(), value);
            }
        }
    } else {
        for name in &CHECKED_HEADERS {
            for value in parts.headers.get_all(name) {
                if let Ok(value) = value.to_str() {
                    view.push_header(name.as_str(), value);
                }
            }
        }
    }
    view
}

/// The request id logs and metrics carry: CloudFront's (`X-Amz-Cf-Id`, which it adds to
/// every origin request), else the load balancer's trace id, else none.
pub(crate) fn request_id(parts: &Parts) -> &str {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| parts.headers.get(name)?.to_str().ok())
        .unwrap_or_default()
}

/// The allow reason code for a key stage (the authorizer's `signature_*`).
pub(crate) const fn allow_reason(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => "signature_current",
        Stage::Pending => "signature_pending",
        Stage::Previous => "signature_previous",
    }
}

/// A verdict, and for a denial the `keyid` the signature named (none when it could not
/// be parsed).
pub(crate) type Outcome = (Result<Verified, Rejection>, Option<KeyId>);

/// The verdict with the `keyid` a denial is logged with (an allowed request's is in
/// its [`Verified`]).
fn denied_keyid(
    result: Result<Verified, Rejection>,
    candidate: &SignatureCandidate<'_>,
) -> Outcome {
    let keyid = result.is_err().then(|| candidate.keyid().clone());
    (result, keyid)
}

/// Whether a verdict may change once the cache has refreshed (a rotation just staged the
/// key the signature names).
fn wants_refresh(result: &Result<Verified, Rejection>) -> bool {
    matches!(result, Err(Rejection::UnknownKey | Rejection::NoKeys))
}

impl<S: SecretsSource> Shared<S> {
    /// The signature's verdict when the keys held now decide it, without waiting: no
    /// refresh due, and a key the cache holds (or a signature that names none it could
    /// use). `None` otherwise: [`verify`](Self::verify) decides. Most requests end here.
    pub(crate) fn verify_now(&self, now: UnixTime, parts: &Parts) -> Option<Outcome> {
        let first = self.verify_view_now(now, &request_view(parts, self.profile, false))?;
        if matches!(first.0, Err(Rejection::ComponentUnavailable)) {
            return self.verify_view_now(now, &request_view(parts, self.profile, true));
        }
        Some(first)
    }

    fn verify_view_now(&self, now: UnixTime, view: &RequestView) -> Option<Outcome> {
        let Some(snapshot) = self.cache.fresh_snapshot_at(now) else {
            // No keys to decide with yet: only fields that do not parse are decided now.
            return self
                .verifier
                .parse(view)
                .err()
                .map(|rejection| (Err(rejection), None));
        };
        match self.verifier.verify_naming_at(now, view, snapshot.keys()) {
            Ok(verified) => Some((Ok(verified), None)),
            Err((rejection, named)) => {
                let result = Err(rejection);
                (!wants_refresh(&result)).then_some((result, named))
            }
        }
    }

    /// The signature's verdict (the body is checked afterwards, by the caller), and
    /// the keyid it named: refreshing the cache when it is due, or once (rate-limited)
    /// for a key it does not hold.
    pub(crate) async fn verify(&self, now: UnixTime, parts: &Parts) -> Outcome {
        let view = request_view(parts, self.profile, false);
        let first = self.verify_view(now, &view).await;
        if matches!(first.0, Err(Rejection::ComponentUnavailable)) {
            let full = request_view(parts, self.profile, true);
            return self.verify_view(now, &full).await;
        }
        first
    }

    async fn verify_view(&self, now: UnixTime, view: &RequestView) -> Outcome {
        let candidate = match self.verifier.parse(view) {
            Ok(candidate) => candidate,
            Err(rejection) => return (Err(rejection), None),
        };
        let snapshot: Option<Arc<Snapshot>> = self.cache.snapshot_at(now).await;
        let keys: &KeySet = match snapshot.as_deref() {
            Some(snapshot) => snapshot.keys(),
            None => empty_keys(),
        };
        let mut result = self
            .verifier
            .verify_candidate_at(now, view, &candidate, keys);
        // A key the cache does not hold yet (a rotation just staged it): one refresh,
        // rate-limited by the cache (`UNKNOWN_KEY_MIN_INTERVAL_SECS`).
        if wants_refresh(&result)
            && let Some(fresh) = self
                .cache
                .refresh_for_unknown_at(candidate.keyid().as_str(), now)
                .await
        {
            result = self
                .verifier
                .verify_candidate_at(now, view, &candidate, fresh.keys());
        }
        denied_keyid(result, &candidate)
    }

    /// Log and count a verdict, in the authorizer's shape: `allow` at debug, `deny` at
    /// warn with `request_id`, `reason` and `keyid`; one EMF line either way.
    pub(crate) fn record(
        &self,
        now: UnixTime,
        request_id: &str,
        verdict: &Result<Verified, Rejection>,
        keyid: Option<&KeyId>,
    ) {
        match verdict {
            Ok(verified) => {
                let reason = allow_reason(verified.stage());
                tracing::debug!(
                    request_id,
                    reason,
                    keyid = %verified.keyid(),
                    stage = verified.stage().as_str(),
                    age = verified.age_secs(),
                    "allow"
                );
                self.metrics.record(now, Verdict::Allow, reason, request_id);
            }
            Err(rejection) => {
                tracing::warn!(
                    request_id,
                    reason = rejection.code(),
                    keyid = keyid.map(KeyId::as_str),
                    "deny"
                );
                self.metrics
                    .record(now, Verdict::Deny, rejection.code(), request_id);
            }
        }
    }
}

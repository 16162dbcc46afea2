//! The verdict engine: one per secret per process, driven by a host that does the I/O.

use edgeseal::accepted::{KeyState, ListedVersion};
use edgeseal::{KeyId, KeySet, Rejection, RequestView, Stage, UnixTime, Verifier};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::lines::{Level, LogLine, Verdict, log_line, metric_line};
use crate::settings::{Settings, SettingsError};

/// What a request came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Let through or not.
    pub allowed: bool,
    /// The reason code: `signature_current` / `_pending` / `_previous` on allow, a
    /// [`Rejection`] code on deny (the authorizer's codes).
    pub reason: &'static str,
    /// The key id the signature named (deny) or that matched (allow), if any.
    pub keyid: Option<KeyId>,
    /// The matching key's stage (allow).
    pub stage: Option<Stage>,
    /// Seconds since the signature's `created` (allow).
    pub age_secs: Option<u64>,
    /// Log lines to write, in order: the verdict's (`allow` at DEBUG when
    /// [`Engine::set_log_allows`], `deny` at WARN), after any line about the keys.
    pub logs: Vec<LogLine>,
    /// The EMF metric line to write to standard output.
    pub metric: String,
}

/// The first look at a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Decided.
    Done(Outcome),
    /// The signature names a key not held, and an on-demand refresh may run: refresh,
    /// then [`Engine::recheck`] (whether the refresh worked or not).
    RefreshFirst {
        /// The key id it names.
        keyid: KeyId,
        /// The log lines announcing the refresh.
        logs: Vec<LogLine>,
    },
    /// The signature is valid and covers `Content-Digest`: read the body (at most
    /// [`Engine::max_body_bytes`]), then [`Engine::check_body`] over the same request.
    /// Nothing was logged or counted yet: the verdict is the body check's.
    ReadBody,
}

/// The body a host passes to [`Engine::check_body`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body<'a> {
    /// Not read yet: a signature that binds it asks for it ([`Check::ReadBody`]).
    NotRead,
    /// Read whole, or `None`: longer than `MAX_BODY_BYTES`, or unreadable.
    Read(Option<&'a [u8]>),
}

/// Settings, signature verifier and key rules for one secret.
#[derive(Debug)]
pub struct Engine {
    settings: Settings,
    verifier: Verifier,
    keys: KeyState,
    /// The keys were dropped past the stale limit and that was logged.
    drop_logged: bool,
    /// Write the DEBUG `allow` line (off unless the host logs at DEBUG: building it is
    /// most of an allow's cost).
    log_allows: bool,
}

fn secs(now_ms: u64) -> UnixTime {
    UnixTime::from_secs(now_ms / 1000)
}

fn empty_keys() -> &'static KeySet {
    static EMPTY: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    EMPTY.get_or_init(KeySet::new)
}

impl Engine {
    /// An engine with nothing loaded: the first refresh is due.
    pub fn new(settings: Settings) -> Result<Self, SettingsError> {
        let verifier = settings.verifier()?;
        let keys = KeyState::new(settings.key_rules.clone());
        Ok(Self {
            settings,
            verifier,
            keys,
            drop_logged: false,
            log_allows: false,
        })
    }

    /// Whether allows get their DEBUG log line (the host logs at DEBUG).
    pub fn set_log_allows(&mut self, on: bool) {
        self.log_allows = on;
    }

    /// The request as a signature in the configured profile covers it: method, Host,
    /// and the path and query string (without `?`) exactly as received.
    pub fn view(&self, method: &str, host: &str, path: &str, query: &str) -> RequestView {
        RequestView::in_profile(self.settings.origin.profile, method, host, path, query)
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether a scheduled refresh is due at `now_ms`.
    pub fn refresh_due(&self, now_ms: u64) -> bool {
        self.keys.refresh_due(secs(now_ms))
    }

    /// Whether keys are held at `now_ms` (if not, a host waits for a due refresh
    /// rather than running it in the background).
    pub fn is_usable_at(&self, now_ms: u64) -> bool {
        self.keys.is_usable_at(secs(now_ms))
    }

    /// The version ids to read (`GetSecretValue` by `VersionId`) for this listing.
    pub fn values_needed(&self, listing: &[ListedVersion]) -> Vec<String> {
        self.keys
            .values_needed(listing)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// A refresh succeeded; returns its log lines (`keys refreshed`, and one
    /// `malformed_secret` per unusable value).
    pub fn apply_refresh(
        &mut self,
        now_ms: u64,
        listing: Vec<ListedVersion>,
        last_rotated: Option<UnixTime>,
        values: Vec<(String, Option<Zeroizing<String>>)>,
    ) -> Vec<LogLine> {
        let refreshed = self.keys.apply(secs(now_ms), listing, last_rotated, values);
        self.drop_logged = false;
        let mut logs: Vec<LogLine> = refreshed
            .malformed
            .iter()
            .map(|(keyid, err)| {
                log_line(
                    now_ms,
                    Level::Error,
                    "secret version is not a usable key; ignoring it",
                    &[
                        ("reason", Some("malformed_secret".into())),
                        ("keyid", Some(keyid.as_str().into())),
                        ("error", Some(err.to_string().into())),
                    ],
                )
            })
            .collect();
        logs.push(log_line(
            now_ms,
            Level::Info,
            "keys refreshed",
            &[("versions", Some(refreshed.snapshot.summary().into()))],
        ));
        logs
    }

    /// A refresh failed (`operation` and `detail` say how; never a secret value).
    pub fn refresh_failed(&mut self, now_ms: u64, operation: &str, detail: &str) -> Vec<LogLine> {
        self.keys.refresh_failed(secs(now_ms));
        vec![log_line(
            now_ms,
            Level::Warn,
            "key refresh failed",
            &[
                ("reason", Some("secrets_manager_error".into())),
                (
                    "error",
                    Some(format!("secrets manager {operation} failed: {detail}").into()),
                ),
                (
                    "serving_cached",
                    Some(self.keys.is_usable_at(secs(now_ms)).into()),
                ),
            ],
        )]
    }

    /// Check `request` at `now_ms`; `request_id` goes into the log and metric lines.
    pub fn check(&mut self, now_ms: u64, request: &RequestView, request_id: &str) -> Check {
        self.decide(now_ms, request, request_id, true, Body::NotRead)
    }

    /// Check again after the refresh [`Check::RefreshFirst`] asked for: no further
    /// refresh is asked (the answer is [`Check::Done`] or [`Check::ReadBody`]).
    pub fn recheck(&mut self, now_ms: u64, request: &RequestView, request_id: &str) -> Check {
        match self.decide(now_ms, request, request_id, false, Body::NotRead) {
            // `decide` never asks twice; should it, deny rather than loop.
            Check::RefreshFirst { keyid, .. } => Check::Done(self.outcome(
                now_ms,
                request_id,
                Err(Rejection::UnknownKey),
                Some(keyid),
                Vec::new(),
            )),
            other => other,
        }
    }

    /// The verdict after [`Check::ReadBody`]: the same request, and its body, or `None`
    /// when it was longer than [`Engine::max_body_bytes`] (the host stops reading there)
    /// or could not be read. The signature is checked again, then `Content-Digest`
    /// against the body (`body_digest_mismatch`); a body over the limit cannot be what
    /// the edge bound, and is denied the same way.
    pub fn check_body(
        &mut self,
        now_ms: u64,
        request: &RequestView,
        request_id: &str,
        body: Option<&[u8]>,
    ) -> Outcome {
        let over_limit = body.is_some_and(|b| {
            u64::try_from(b.len()).unwrap_or(u64::MAX) > self.settings.origin.max_body_bytes
        });
        let body = if over_limit { None } else { body };
        match self.decide(now_ms, request, request_id, false, Body::Read(body)) {
            Check::Done(outcome) => outcome,
            // With a body given and no refresh allowed, `decide` decides; should it not,
            // deny.
            Check::RefreshFirst { .. } | Check::ReadBody => self.outcome(
                now_ms,
                request_id,
                Err(Rejection::BodyDigestMismatch),
                None,
                Vec::new(),
            ),
        }
    }

    /// `MAX_BODY_BYTES`: the most body a host reads for [`Engine::check_body`].
    pub fn max_body_bytes(&self) -> u64 {
        self.settings.origin.max_body_bytes
    }

    fn decide(
        &mut self,
        now_ms: u64,
        request: &RequestView,
        request_id: &str,
        may_refresh: bool,
        body: Body<'_>,
    ) -> Check {
        let now = secs(now_ms);
        let held = self.keys.usable_keys_at(now).unwrap_or(empty_keys());
        let (result, keyid) = match self.verifier.verify_naming_at(now, request, held) {
            Ok(verified) => {
                let keyid = verified.keyid().clone();
                (Ok(verified), keyid)
            }
            Err((rejection, Some(keyid))) => (Err(rejection), keyid),
            // Fields that do not parse: no key is involved, and none is dropped.
            Err((rejection, None)) => {
                return Check::Done(self.outcome(
                    now_ms,
                    request_id,
                    Err(rejection),
                    None,
                    Vec::new(),
                ));
            }
        };
        let mut logs = Vec::new();
        let snapshot = self.keys.snapshot_at(now);
        if snapshot.is_none() && self.keys.last_success().is_some() && !self.drop_logged {
            self.drop_logged = true;
            logs.push(log_line(
                now_ms,
                Level::Error,
                "secrets manager unreachable past the stale limit: dropping keys, denying",
                &[
                    ("reason", Some("keys_expired".into())),
                    (
                        "last_refresh",
                        self.keys.last_success().map(|t| t.as_secs().into()),
                    ),
                ],
            ));
        }
        // The keys the verdict was reached with: `usable_keys_at` borrows what
        // `snapshot_at` returns, without the drop past the stale limit made above.
        let keys = snapshot.as_deref().map_or(empty_keys(), |s| s.keys());
        if may_refresh
            && matches!(result, Err(Rejection::UnknownKey | Rejection::NoKeys))
            && !keys.contains(keyid.as_str())
            && self.keys.allow_on_demand_refresh(now)
        {
            logs.push(log_line(
                now_ms,
                Level::Info,
                "unknown keyid",
                &[("keyid", Some(keyid.as_str().into()))],
            ));
            return Check::RefreshFirst { keyid, logs };
        }
        // A signature that binds the body vouches for `Content-Digest`; the body must
        // match it (shared's check, constant time).
        let result = match (result, body) {
            (Ok(verified), Body::NotRead) if verified.covers_content_digest() => {
                return Check::ReadBody;
            }
            (Ok(verified), Body::Read(None)) if verified.covers_content_digest() => {
                Err(Rejection::BodyDigestMismatch)
            }
            (Ok(verified), Body::Read(Some(bytes))) => {
                verified.check_body(request, bytes).map(|()| verified)
            }
            (other, _) => other,
        };
        let result = result.map(|v| (v.keyid().clone(), v.stage(), v.age_secs()));
        Check::Done(self.outcome(now_ms, request_id, result, Some(keyid), logs))
    }

    fn outcome(
        &self,
        now_ms: u64,
        request_id: &str,
        result: Result<(KeyId, Stage, u64), Rejection>,
        named: Option<KeyId>,
        mut logs: Vec<LogLine>,
    ) -> Outcome {
        let namespace = &self.settings.metrics_namespace;
        let now = now_ms / 1000;
        match result {
            Ok((keyid, stage, age)) => {
                let reason = match stage {
                    Stage::Current => "signature_current",
                    Stage::Pending => "signature_pending",
                    Stage::Previous => "signature_previous",
                };
                if self.log_allows {
                    logs.push(log_line(
                        now_ms,
                        Level::Debug,
                        "allow",
                        &[
                            ("request_id", Some(request_id.into())),
                            ("reason", Some(reason.into())),
                            ("keyid", Some(keyid.as_str().into())),
                            ("stage", Some(stage.as_str().into())),
                            ("age", Some(age.into())),
                        ],
                    ));
                }
                Outcome {
                    allowed: true,
                    reason,
                    keyid: Some(keyid),
                    stage: Some(stage),
                    age_secs: Some(age),
                    logs,
                    metric: metric_line(namespace, now, Verdict::Allow, reason, request_id),
                }
            }
            Err(rejection) => {
                let reason = rejection.code();
                logs.push(log_line(
                    now_ms,
                    Level::Warn,
                    "deny",
                    &[
                        ("request_id", Some(request_id.into())),
                        ("reason", Some(reason.into())),
                        ("keyid", named.as_ref().map(|k| Value::from(k.as_str()))),
                    ],
                ));
                Outcome {
                    allowed: false,
                    reason,
                    keyid: named,
                    stage: None,
                    age_secs: None,
                    logs,
                    metric: metric_line(namespace, now, Verdict::Deny, reason, request_id),
                }
            }
        }
    }
}

//! Changing the header rule and proving WAF applies the change.
//!
//! **Writing.** `UpdateWebACL` replaces the whole web ACL and takes the `LockToken` of
//! the `GetWebACL` it was built from; if anyone changed the web ACL in between, WAF
//! answers `WAFOptimisticLockException` and nothing is written (UpdateWebACL, WAFV2 API
//! reference). [`apply_values`] therefore re-reads and rebuilds on every try, so another
//! writer's change is kept, and changes nothing when the rule already accepts exactly
//! the wanted values (a rerun of the step, or a lost answer to an update that happened).
//!
//! **Proving.** WAFv2 has no change status to poll (no `GetChangeToken` as WAF Classic
//! had): "the changes take a small amount of time to propagate to all areas where the
//! resources are stored. The propagation time can be from a few seconds to a number of
//! minutes", and meanwhile a rule change "might be in effect in one area where the web
//! ACL is used and not in another" (UpdateWebACL, *Temporary inconsistencies during
//! updates*, WAFV2 API reference). AWS's own solution sleeps a fixed 75 s after its
//! update. [`wait_until_let_through`] instead sends the origin test with the new value
//! straight to the origin (each probe a new connection, so probes spread over the
//! origin's load-balancer nodes) until every probe for `WAF_SETTLE_SECS` in a row was
//! let through; one refusal starts the window again. That proves the areas the probes
//! reached have the change and bounds, by the settle time, how long another area could
//! lag unseen; it cannot prove every area, which no WAF API exposes. It is bounded by the
//! step's deadline: when the window cannot close in time the step fails and Secrets
//! Manager's retry of the rotation probes again (the rule is already changed then).

use std::future::Future;
use std::time::Duration;

use edgeseal::StaticHeaderValue;
use tokio::time::Instant;
use tracing::{info, warn};

use super::api::WebAclApi;
use super::settings::WafSettings;
use super::statement::{ShapeError, read_rule, with_values};
use crate::aws::ApiError;
use crate::optimistic_lock::{Edited, Written, retry_stale_token};
use crate::origin::ProbeError;

/// Why the header rule could not be changed or proven applied. Never carries a value.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum WafError {
    /// A WAFv2 call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The web ACL has no rule of that name.
    #[error(
        "web ACL {web_acl} has no rule named {rule} (WAF_RULE_NAME): create it first (Allow on the header match, or Block on NOT the match); the rotator only rewrites its statement"
    )]
    RuleNotFound {
        /// The web ACL (`name/id`).
        web_acl: String,
        /// The rule name.
        rule: String,
    },
    /// The rule is not a header rule the rotator can rewrite.
    #[error("rule {rule} of web ACL {web_acl} cannot be rotated: {source}")]
    Shape {
        /// The web ACL (`name/id`).
        web_acl: String,
        /// The rule name.
        rule: String,
        /// What is wrong with it.
        #[source]
        source: ShapeError,
    },
    /// The rule does not accept the value CloudFront sends now (a configuration test).
    #[error(
        "rule {rule} of web ACL {web_acl} does not accept the current header value (AWSCURRENT): CloudFront's requests are being refused, or the secret is not the value the rule holds"
    )]
    CurrentNotAccepted {
        /// The web ACL (`name/id`).
        web_acl: String,
        /// The rule name.
        rule: String,
    },
    /// Other writers kept changing the web ACL between our read and our update.
    #[error(
        "web ACL {web_acl}: changed by another writer {attempts} times in a row (WAFOptimisticLockException); retry later"
    )]
    LockContention {
        /// The web ACL (`name/id`).
        web_acl: String,
        /// How many tries.
        attempts: u32,
    },
    /// The origin never let the new value through before the step's deadline.
    #[error("WAF did not let the new header value through within {waited:?}: {source}")]
    NotLetThrough {
        /// How long the probes ran.
        waited: Duration,
        /// The last probe's failure.
        #[source]
        source: ProbeError,
    },
    /// The new value passes, but not yet for the whole settle time; the retry continues.
    #[error(
        "WAF lets the new header value through for {passing:?} so far, short of WAF_SETTLE_SECS ({settle:?}) before the step's deadline; the rotation will retry"
    )]
    NotSettled {
        /// How long every probe has passed.
        passing: Duration,
        /// The settle time required.
        settle: Duration,
    },
}

impl WafError {
    /// The stable `errorType` of the rotator's Lambda error for it.
    pub const fn error_type(&self) -> &'static str {
        match self {
            WafError::Api(e) => e.error_type(),
            WafError::RuleNotFound { .. } => "WafRuleNotFound",
            WafError::Shape { .. } => "WafRuleShape",
            WafError::CurrentNotAccepted { .. } => "WafCurrentNotAccepted",
            WafError::LockContention { .. } => "WafLockContention",
            WafError::NotLetThrough { .. } => "WafNotLetThrough",
            WafError::NotSettled { .. } => "WafNotSettled",
        }
    }
}

/// What [`apply_values`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The rule already accepted exactly those values.
    Unchanged,
    /// The rule was rewritten (on this try of GetWebACL + UpdateWebACL).
    Updated {
        /// 1 unless another writer changed the web ACL in between.
        attempt: u32,
    },
}

/// The values the rule accepts while a rotation is under way: the pending value (about
/// to be sent), the current one (sent now), and the previous one while it is inside
/// its grace (edges may still run a config older than the current one). Duplicates
/// dropped, in that order.
pub fn while_rotating<'a>(
    pending: &'a StaticHeaderValue,
    current: &'a StaticHeaderValue,
    previous_in_grace: Option<&'a StaticHeaderValue>,
) -> Vec<&'a StaticHeaderValue> {
    distinct([Some(pending), Some(current), previous_in_grace])
}

/// The values the rule accepts once a rotation finished: the new current value and the
/// one it replaced, which edges send until CloudFront has deployed the change.
pub fn after_rotation<'a>(
    current: &'a StaticHeaderValue,
    previous: Option<&'a StaticHeaderValue>,
) -> Vec<&'a StaticHeaderValue> {
    distinct([Some(current), previous])
}

fn distinct<const N: usize>(
    candidates: [Option<&StaticHeaderValue>; N],
) -> Vec<&StaticHeaderValue> {
    let mut out: Vec<&StaticHeaderValue> = Vec::with_capacity(N);
    for value in candidates.into_iter().flatten() {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

/// Make the rule named `settings.rule_name` accept exactly `values` (in this order),
/// keeping its shape and everything else in the web ACL; retried on
/// `WAFOptimisticLockException` up to `settings.update_attempts` times
/// (`retry_stale_token`).
pub async fn apply_values(
    api: &impl WebAclApi,
    settings: &WafSettings,
    header: &str,
    values: &[&StaticHeaderValue],
    deadline: Instant,
) -> Result<Applied, WafError> {
    let acl = &settings.web_acl;
    let attempts = settings.update_attempts;
    let applied = retry_stale_token(
        attempts,
        deadline,
        || async move {
            let locked = api.get_web_acl(acl).await?;
            Ok((locked.web_acl, locked.lock_token))
        },
        |web_acl| {
            let rules = web_acl.rules.get_or_insert_with(Vec::new);
            let Some(rule) = rules.iter_mut().find(|r| r.name == settings.rule_name) else {
                return Err(WafError::RuleNotFound {
                    web_acl: acl.to_string(),
                    rule: settings.rule_name.clone(),
                });
            };
            let shape_error = |source| WafError::Shape {
                web_acl: acl.to_string(),
                rule: settings.rule_name.clone(),
                source,
            };
            let held = read_rule(rule, header).map_err(shape_error)?;
            if held.accepts_exactly(values) {
                return Ok(Edited::Unchanged(Applied::Unchanged));
            }
            let shape = held.shape;
            *rule = with_values(rule, shape, header, values).map_err(shape_error)?;
            Ok(Edited::Changed)
        },
        |web_acl, lock_token, attempt| async move {
            match api.update_web_acl(acl, &web_acl, &lock_token).await {
                Ok(_) => {
                    info!(web_acl = %acl, rule = %settings.rule_name, values = values.len(), attempt, "WAF rule updated");
                    Ok(Written::Done(Applied::Updated { attempt }))
                }
                Err(ApiError::StaleLockToken(_)) => Ok(Written::Stale),
                Err(e) => Err(e.into()),
            }
        },
        |attempt| {
            warn!(web_acl = %acl, attempt, "web ACL changed meanwhile (stale LockToken); reading it again");
        },
    )
    .await?;
    applied.ok_or_else(|| WafError::LockContention {
        web_acl: acl.to_string(),
        attempts,
    })
}

/// Check, changing nothing, that the rule exists, is in a shape [`apply_values`]
/// rewrites, and accepts `current` (Secrets Manager's configuration test).
pub async fn check_rule(
    api: &impl WebAclApi,
    settings: &WafSettings,
    header: &str,
    current: &StaticHeaderValue,
) -> Result<(), WafError> {
    let acl = &settings.web_acl;
    let locked = api.get_web_acl(acl).await?;
    let rule = locked
        .web_acl
        .rules
        .iter()
        .flatten()
        .find(|r| r.name == settings.rule_name)
        .ok_or_else(|| WafError::RuleNotFound {
            web_acl: acl.to_string(),
            rule: settings.rule_name.clone(),
        })?;
    let held = read_rule(rule, header).map_err(|source| WafError::Shape {
        web_acl: acl.to_string(),
        rule: settings.rule_name.clone(),
        source,
    })?;
    let accepted = held
        .values
        .iter()
        .any(|v| std::str::from_utf8(v).is_ok_and(|s| current.matches(s)));
    if accepted {
        Ok(())
    } else {
        Err(WafError::CurrentNotAccepted {
            web_acl: acl.to_string(),
            rule: settings.rule_name.clone(),
        })
    }
}

/// How [`wait_until_let_through`] ended well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    /// From the first probe to the last.
    pub waited: Duration,
    /// Probes let through in the final window.
    pub passed: u32,
    /// Probes refused before it.
    pub refused: u32,
}

/// Probe (`probe`: the origin test with the new value, straight to the origin) every
/// `settings.probe_interval` until every probe has been let through for
/// `settings.settle`; fail as soon as that window can no longer close before `deadline`.
pub async fn wait_until_let_through<F, Fut>(
    mut probe: F,
    settings: &WafSettings,
    deadline: Instant,
) -> Result<Settled, WafError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u16, ProbeError>>,
{
    let started = Instant::now();
    let mut passing_since: Option<Instant> = None;
    let (mut passed, mut refused) = (0u32, 0u32);
    loop {
        let outcome = tokio::time::timeout_at(deadline, probe())
            .await
            .unwrap_or_else(|_| {
                Err(ProbeError::Timeout(
                    deadline.saturating_duration_since(started),
                ))
            });
        let now = Instant::now();
        let last_refusal = match outcome {
            Ok(_) => {
                let since = *passing_since.get_or_insert(now);
                passed += 1;
                if now.duration_since(since) >= settings.settle {
                    info!(
                        passed,
                        refused,
                        waited_ms = now.duration_since(started).as_millis() as u64,
                        "WAF lets the new header value through"
                    );
                    return Ok(Settled {
                        waited: now.duration_since(started),
                        passed,
                        refused,
                    });
                }
                None
            }
            Err(e) => {
                passing_since = None;
                passed = 0;
                refused += 1;
                Some(e)
            }
        };
        // Not `poll_until`: this wait stops as soon as the settle window can no longer
        // close before the deadline, not when the next pause would cross it.
        let next = now + settings.probe_interval;
        let window_closes = passing_since.unwrap_or(next) + settings.settle;
        if window_closes > deadline {
            return Err(match (last_refusal, passing_since) {
                (Some(source), _) => WafError::NotLetThrough {
                    waited: now.duration_since(started),
                    source,
                },
                (None, since) => WafError::NotSettled {
                    passing: since.map_or(Duration::ZERO, |s| now.duration_since(s)),
                    settle: settings.settle,
                },
            });
        }
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;
    use crate::targets::waf::api::WebAclRef;

    fn value(text: &str) -> StaticHeaderValue {
        StaticHeaderValue::new(text.to_owned()).unwrap()
    }

    fn settings(settle_ms: u64, interval_ms: u64) -> WafSettings {
        WafSettings {
            web_acl: WebAclRef {
                name: "acl".into(),
                id: "id".into(),
            },
            region: None,
            rule_name: "rule".into(),
            settle: Duration::from_millis(settle_ms),
            probe_interval: Duration::from_millis(interval_ms),
            update_attempts: 3,
        }
    }

    #[test]
    fn the_accepted_values_are_distinct_and_ordered() {
        let (p, c, prev) = (value("p"), value("c"), value("prev"));
        let shown = |values: Vec<&StaticHeaderValue>| -> Vec<String> {
            values.iter().map(|v| v.expose().to_owned()).collect()
        };
        assert_eq!(
            shown(while_rotating(&p, &c, Some(&prev))),
            ["p", "c", "prev"]
        );
        assert_eq!(shown(while_rotating(&p, &c, None)), ["p", "c"]);
        assert_eq!(shown(while_rotating(&p, &c, Some(&c))), ["p", "c"]);
        assert_eq!(shown(after_rotation(&p, Some(&c))), ["p", "c"]);
        assert_eq!(shown(after_rotation(&p, None)), ["p"]);
    }

    /// A scripted origin: each probe takes the next verdict (the last one repeats).
    fn scripted(verdicts: &[bool]) -> impl FnMut() -> std::future::Ready<Result<u16, ProbeError>> {
        let script = Mutex::new(verdicts.iter().copied().rev().collect::<Vec<_>>());
        let last = Mutex::new(true);
        move || {
            let mut script = script.lock().unwrap();
            let mut last = last.lock().unwrap();
            if let Some(v) = script.pop() {
                *last = v;
            }
            std::future::ready(if *last {
                Ok(200)
            } else {
                Err(ProbeError::UnexpectedStatus(403))
            })
        }
    }

    #[tokio::test]
    async fn a_refusal_restarts_the_settle_window() {
        let s = settings(100, 10);
        let deadline = Instant::now() + Duration::from_secs(10);
        // Refused, let through, refused again (another WAF area), then through for good.
        let settled = wait_until_let_through(scripted(&[false, true, false, true]), &s, deadline)
            .await
            .unwrap();
        assert_eq!(settled.refused, 2);
        // The window is counted from the first pass after the last refusal.
        assert!(settled.passed >= 2, "{settled:?}");
        assert!(settled.waited >= Duration::from_millis(100), "{settled:?}");
    }

    #[tokio::test]
    async fn no_settle_time_trusts_the_first_pass() {
        let s = settings(0, 10);
        let deadline = Instant::now() + Duration::from_secs(10);
        let settled = wait_until_let_through(scripted(&[false, false, true]), &s, deadline)
            .await
            .unwrap();
        assert_eq!((settled.passed, settled.refused), (1, 2));
    }

    #[tokio::test]
    async fn a_window_that_cannot_close_before_the_deadline_fails_at_once_naming_why() {
        let s = settings(1_000, 10);
        let deadline = Instant::now() + Duration::from_millis(1_500);
        let err = wait_until_let_through(scripted(&[false]), &s, deadline)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                WafError::NotLetThrough {
                    source: ProbeError::UnexpectedStatus(403),
                    ..
                }
            ),
            "{err}"
        );
        // It gave up once a second of passing could no longer fit, not at the deadline.
        assert!(Instant::now() < deadline);

        let deadline = Instant::now() + Duration::from_millis(500);
        let err = wait_until_let_through(scripted(&[true]), &s, deadline)
            .await
            .unwrap_err();
        assert!(matches!(err, WafError::NotSettled { .. }), "{err}");
        assert!(err.to_string().contains("WAF_SETTLE_SECS"), "{err}");
        assert!(Instant::now() < deadline);
    }
}

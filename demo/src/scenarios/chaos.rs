//! `--chaos`: the same run under failures, each one a thing that happens in production.
//!
//! 1. **Secrets Manager goes down and comes back** (see [`crate::scenarios::outage`]): every
//!    Secrets Manager client (the authorizer processes and the rotator) reaches it
//!    through a proxy that, for [`ChaosSettings::outage`], first refuses and resets
//!    connections, then accepts them and never answers ([`ChaosSettings::silent`]),
//!    then serves again with every secret intact. The authorizer runs with a short cache
//!    TTL and stale window so that the outage outlasts them: it serves its cached keys
//!    for `CACHE_TTL_SECS + MAX_STALE_SECS`, then fails closed (`no_keys`) until Secrets
//!    Manager answers again. The demo compresses time (rotations seconds apart, a 5 s
//!    signature max age); the Secrets Manager timeout is compressed with it
//!    (`SECRETS_MANAGER_TIMEOUT_MS=500`): a refresh against a silent endpoint holds the
//!    request that triggered it for two attempt timeouts, and with the default 2 s that
//!    is most of a 5 s max age (measured: 68 legitimate requests denied `too_old` in a
//!    60 s run); against the default 300 s max age it is only latency.
//! 2. **One authorizer execution environment is shut down** under traffic
//!    ([`LambdaFunction::recycle`]) and a new process starts cold in its place.
//! 3. **One rotation step fails**: in one rotation, CloudFront's `UpdateDistribution`
//!    takes effect but its response is lost (a network error or a Lambda timeout after
//!    the write), so setSecret fails and the rotation starts again from createSecret,
//!    as Secrets Manager retries a failed rotation.
//!
//! The outage and the rotations never overlap (a rotation waits for Secrets Manager to
//! come back; the outage waits for a rotation to finish): Secrets Manager cannot run a
//! rotation while it is down, and the demo does not model how it retries one later.
//!
//! A legitimate request may be denied only where the stale window ran out: reason
//! `no_keys`, no earlier than `MAX_STALE_SECS` after the outage began (a refresh at most
//! a TTL before it, so the keys cannot have expired sooner) and no later than a retry
//! after it ended. Every other rejection of a legitimate request fails the run.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::DistributionConfig;
use edgeseal_rotator::{ApiError, DeployStatus, DistributionApi, Op};
use edgeseal_testkit::{FakeCloudFront, FaultPlan, FaultTiming, Faulty};

use crate::run::traffic::{Kind, Outcome};
use crate::scenarios::outage::OutageProxy;
use crate::stack::authorizer_log::VerdictLine;
use crate::stack::runtime_api::{LambdaFunction, ProcessLife};

/// The reason code the authorizer denies with when it holds no usable keys.
pub const NO_KEYS: &str = "no_keys";

/// What goes wrong, and the authorizer settings that make the outage bite.
#[derive(Clone, Debug)]
pub struct ChaosSettings {
    /// When Secrets Manager goes down, as a fraction of the run.
    pub outage_at: f64,
    /// How long it stays down.
    pub outage: Duration,
    /// The last part of the outage, during which Secrets Manager accepts connections and
    /// never answers (before it, connections are refused).
    pub silent: Duration,
    /// When one authorizer execution environment is shut down, as a fraction of the run
    /// (after the outage in any case).
    pub recycle_at: f64,
    /// Which rotation (1-based) gets the failed step; 0 for none.
    pub faulty_rotation: usize,
    /// The authorizer's `CACHE_TTL_SECS`.
    pub cache_ttl_secs: u64,
    /// The authorizer's `MAX_STALE_SECS`.
    pub max_stale_secs: u64,
    /// The authorizer's `REFRESH_RETRY_SECS`.
    pub refresh_retry_secs: u64,
    /// The authorizer's `SECRETS_MANAGER_TIMEOUT_MS`.
    pub secrets_manager_timeout_ms: u64,
}

impl ChaosSettings {
    /// The schedule for a run with `rotations` rotations: the outage a third of the way
    /// in, the shutdown two thirds in, the failed step in the middle rotation.
    pub fn for_rotations(rotations: usize) -> Self {
        Self {
            outage_at: 0.35,
            outage: Duration::from_secs(8),
            silent: Duration::from_secs(4),
            recycle_at: 0.65,
            faulty_rotation: rotations.div_ceil(2),
            // A stale window well above the TTL, so that a cache ignoring it (dropping keys
            // at the TTL) would deny before MAX_STALE_SECS into the outage and be caught.
            cache_ttl_secs: 1,
            max_stale_secs: 4,
            refresh_retry_secs: 1,
            secrets_manager_timeout_ms: 500,
        }
    }

    /// The authorizer variables these settings override.
    pub fn authorizer_env(&self) -> Vec<(String, String)> {
        vec![
            ("CACHE_TTL_SECS".to_owned(), self.cache_ttl_secs.to_string()),
            ("MAX_STALE_SECS".to_owned(), self.max_stale_secs.to_string()),
            (
                "REFRESH_RETRY_SECS".to_owned(),
                self.refresh_retry_secs.to_string(),
            ),
            (
                "SECRETS_MANAGER_TIMEOUT_MS".to_owned(),
                self.secrets_manager_timeout_ms.to_string(),
            ),
        ]
    }
}

/// CloudFront's control plane as the rotator sees it, where one call can be made to
/// fail ([`Faulty`] with a plan armed for one rotation). A clone is a handle on the same
/// stand-in and the same armed plan.
#[derive(Clone)]
pub struct FaultableCloudFront {
    inner: FakeCloudFront,
    plan: Arc<Mutex<Option<Arc<FaultPlan>>>>,
}

impl FaultableCloudFront {
    /// No fault armed.
    pub fn new(inner: FakeCloudFront) -> Self {
        Self {
            inner,
            plan: Arc::default(),
        }
    }

    /// Fail the next `op` (once) with `timing`.
    pub fn arm(&self, op: Op, timing: FaultTiming) -> Arc<FaultPlan> {
        let plan = FaultPlan::fail(op, 0, timing);
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(Arc::clone(&plan));
        }
        plan
    }

    fn faulty(&self) -> Option<Faulty<FakeCloudFront>> {
        let plan = self.plan.lock().ok()?.clone()?;
        Some(Faulty::new(self.inner.clone(), plan))
    }
}

impl DistributionApi for FaultableCloudFront {
    async fn get_config(&self, id: &str) -> Result<(DistributionConfig, String), ApiError> {
        match self.faulty() {
            Some(f) => f.get_config(id).await,
            None => self.inner.get_config(id).await,
        }
    }

    async fn update_config(
        &self,
        id: &str,
        config: DistributionConfig,
        etag: &str,
    ) -> Result<String, ApiError> {
        match self.faulty() {
            Some(f) => f.update_config(id, config, etag).await,
            None => self.inner.update_config(id, config, etag).await,
        }
    }

    async fn status(&self, id: &str) -> Result<DeployStatus, ApiError> {
        match self.faulty() {
            Some(f) => f.status(id).await,
            None => self.inner.status(id).await,
        }
    }

    async fn domain_name(&self, id: &str) -> Result<String, ApiError> {
        match self.faulty() {
            Some(f) => f.domain_name(id).await,
            None => self.inner.domain_name(id).await,
        }
    }

    async fn policy_forwards_all_query_strings(
        &self,
        policy: &edgeseal_rotator::PolicyRef,
    ) -> Result<bool, ApiError> {
        match self.faulty() {
            Some(f) => f.policy_forwards_all_query_strings(policy).await,
            None => self.inner.policy_forwards_all_query_strings(policy).await,
        }
    }

    async fn staging_domain_names(&self, policy_id: &str) -> Result<Vec<String>, ApiError> {
        match self.faulty() {
            Some(f) => f.staging_domain_names(policy_id).await,
            None => self.inner.staging_domain_names(policy_id).await,
        }
    }
}

/// A chaos run in progress.
pub struct Chaos {
    settings: ChaosSettings,
    proxy: OutageProxy,
    control_plane: tokio::sync::Mutex<()>,
    cloudfront: FaultableCloudFront,
    plan: Mutex<Option<Arc<FaultPlan>>>,
    events: Mutex<Vec<(f64, String)>>,
    outage_window: Mutex<Option<(f64, f64)>>,
}

impl Chaos {
    /// Put the Secrets Manager proxy in front of `moto_url`.
    pub async fn start(
        settings: ChaosSettings,
        moto_url: &str,
        cloudfront: FaultableCloudFront,
    ) -> std::io::Result<Self> {
        Ok(Self {
            settings,
            proxy: OutageProxy::start(moto_url).await?,
            control_plane: tokio::sync::Mutex::new(()),
            cloudfront,
            plan: Mutex::new(None),
            events: Mutex::default(),
            outage_window: Mutex::new(None),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &ChaosSettings {
        &self.settings
    }

    /// The Secrets Manager endpoint every client uses during the run.
    pub fn secrets_manager_url(&self) -> String {
        self.proxy.url()
    }

    fn note(&self, started: Instant, what: String) {
        if let Ok(mut e) = self.events.lock() {
            e.push((started.elapsed().as_secs_f64(), what));
        }
    }

    /// Call before rotation `rotation` starts; hold the guard until it ends. Waits while
    /// Secrets Manager is down, and arms the failed step for the chosen rotation.
    pub async fn before_rotation(
        &self,
        rotation: usize,
        started: Instant,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        let guard = self.control_plane.lock().await;
        if rotation == self.settings.faulty_rotation {
            let plan = self
                .cloudfront
                .arm(Op::UpdateDistribution, FaultTiming::After);
            if let Ok(mut p) = self.plan.lock() {
                *p = Some(plan);
            }
            self.note(
                started,
                format!(
                    "rotation {rotation}: UpdateDistribution will take effect and lose its response"
                ),
            );
        }
        guard
    }

    /// The failures, on schedule: the outage, then the shutdown of one authorizer
    /// execution environment. Returns when both are over.
    pub async fn run(
        self: Arc<Self>,
        authorizer: Arc<LambdaFunction>,
        started: Instant,
        duration: Duration,
    ) {
        tokio::time::sleep(
            duration
                .mul_f64(self.settings.outage_at)
                .saturating_sub(started.elapsed()),
        )
        .await;
        {
            let _no_rotation = self.control_plane.lock().await;
            let from = started.elapsed().as_secs_f64();
            self.proxy.cut();
            self.note(
                started,
                "Secrets Manager down: connections refused and reset".to_owned(),
            );
            let refusing = self.settings.outage.saturating_sub(self.settings.silent);
            tokio::time::sleep(refusing).await;
            if !self.settings.silent.is_zero() {
                self.proxy.hang();
                self.note(
                    started,
                    "Secrets Manager silent: connections accepted, never answered".to_owned(),
                );
                tokio::time::sleep(self.settings.silent).await;
            }
            self.proxy.restore();
            let to = started.elapsed().as_secs_f64();
            self.note(
                started,
                "Secrets Manager back, every secret intact".to_owned(),
            );
            if let Ok(mut w) = self.outage_window.lock() {
                *w = Some((from, to));
            }
        }
        tokio::time::sleep(
            duration
                .mul_f64(self.settings.recycle_at)
                .saturating_sub(started.elapsed()),
        )
        .await;
        let slot = authorizer.slots().saturating_sub(1);
        self.note(
            started,
            format!("authorizer execution environment {slot} shut down (SIGKILL when idle)"),
        );
        match authorizer.recycle(slot).await {
            Ok(()) => self.note(
                started,
                format!("authorizer execution environment {slot}: new process started (cold)"),
            ),
            Err(e) => self.note(started, format!("authorizer restart failed: {e}")),
        }
    }

    /// What happened, with every rejected legitimate request explained or not.
    pub fn report(
        &self,
        outcomes: &[Outcome],
        verdicts: &[VerdictLine],
        lives: Vec<ProcessLife>,
        started: Instant,
    ) -> ChaosReport {
        let reason_of: HashMap<&str, &str> = verdicts
            .iter()
            .map(|v| (v.request_id.as_str(), v.reason.as_str()))
            .collect();
        let outage = self.outage_window.lock().ok().and_then(|w| *w);
        let s = &self.settings;
        let mut rejected_by_reason: BTreeMap<String, u64> = BTreeMap::new();
        let mut stale_window_denials = 0;
        for o in outcomes
            .iter()
            .filter(|o| o.kind == Kind::Legitimate && !o.allowed())
        {
            let reason = o
                .request_id
                .as_deref()
                .and_then(|id| reason_of.get(id).copied())
                .map_or_else(|| format!("HTTP {} (no verdict)", o.status), str::to_owned);
            // Whole-second clocks in the authorizer: a second of slack either way.
            let explained = reason == NO_KEYS
                && outage.is_some_and(|(from, to)| {
                    o.at + 1.0 >= from + s.max_stale_secs as f64
                        && o.at <= to + s.refresh_retry_secs as f64 + 1.0
                });
            if explained {
                stale_window_denials += 1;
            }
            let label = if explained {
                format!("{reason} (stale window ran out)")
            } else {
                format!("{reason} (UNEXPECTED)")
            };
            *rejected_by_reason.entry(label).or_default() += 1;
        }
        let fault_fired = self
            .plan
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(|p| p.fired()))
            .unwrap_or(false);
        let at = |i: Instant| i.saturating_duration_since(started).as_secs_f64();
        let mut events = self.events.lock().map(|e| e.clone()).unwrap_or_default();
        // The processes started during the run (the first ones start before the clock).
        for life in lives.iter().filter(|l| l.started > started) {
            if let Some(first) = life.first_response {
                events.push((
                    at(first),
                    format!(
                        "authorizer execution environment {}: the new process answered its first invocation {} ms after it started",
                        life.slot,
                        first.saturating_duration_since(life.started).as_millis()
                    ),
                ));
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        ChaosReport {
            settings: s.clone(),
            events,
            outage,
            rejected_by_reason,
            stale_window_denials,
            fault_fired,
            lives,
        }
    }
}

/// What the chaos did and what it cost.
#[derive(Clone, Debug)]
pub struct ChaosReport {
    /// The settings it ran with.
    pub settings: ChaosSettings,
    /// Seconds since the start, and what happened.
    pub events: Vec<(f64, String)>,
    /// When Secrets Manager was down (seconds since the start).
    pub outage: Option<(f64, f64)>,
    /// Rejected legitimate requests by authorizer reason, each marked explained by the
    /// stale window or not.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Rejected legitimate requests the stale window explains.
    pub stale_window_denials: u64,
    /// Whether the injected rotation fault struck.
    pub fault_fired: bool,
    /// Every authorizer process, with when it started and answered.
    pub lives: Vec<ProcessLife>,
}

impl ChaosReport {
    /// Whether every planned failure happened.
    pub fn complete(&self) -> bool {
        self.outage.is_some()
            && (self.settings.faulty_rotation == 0 || self.fault_fired)
            && self.lives.len() > self.lives.iter().map(|l| l.slot).max().unwrap_or(0) + 1
    }

    /// The summary section.
    pub fn summary(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(out, "\nChaos:");
        for (at, what) in &self.events {
            let _ = writeln!(out, "  {at:>7.2} s  {what}");
        }
        let _ = writeln!(
            out,
            "  Authorizer cache: CACHE_TTL_SECS={} MAX_STALE_SECS={} REFRESH_RETRY_SECS={} SECRETS_MANAGER_TIMEOUT_MS={}: it serves cached keys for up to {} s without Secrets Manager, then denies (no_keys).",
            s.cache_ttl_secs,
            s.max_stale_secs,
            s.refresh_retry_secs,
            s.secrets_manager_timeout_ms,
            s.cache_ttl_secs + s.max_stale_secs
        );
        if self.settings.faulty_rotation > 0 {
            let _ = writeln!(
                out,
                "  Injected rotation fault (rotation {}): {}",
                s.faulty_rotation,
                if self.fault_fired {
                    "struck"
                } else {
                    "DID NOT STRIKE"
                }
            );
        }
        let _ = writeln!(out, "  Legitimate requests rejected, by authorizer reason:");
        if self.rejected_by_reason.is_empty() {
            let _ = writeln!(out, "    none");
        }
        for (reason, n) in &self.rejected_by_reason {
            let _ = writeln!(out, "    {reason:<44} {n:>7}");
        }
        out
    }
}

//! # edgeseal-verifier-python
//!
//! [`edgeseal_verifier_core::Engine`] as the Python extension module
//! `edgeseal_verifier._core`. The Python package (`python/edgeseal_verifier`) does the
//! I/O (boto3, the clock, log and metric output); every decision is made here.
//!
//! One engine serves every thread of a WSGI server: it sits behind a mutex, held only
//! for the few microseconds of a decision and never while Python code runs.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use edgeseal::{RequestView, UnixTime};
use edgeseal_verifier_core::lines::LogLine;
use edgeseal_verifier_core::{Check, Engine as CoreEngine, ListedVersion, Outcome, Settings};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use zeroize::Zeroizing;

/// A listed version as Python passes it: (version id, staging labels, CreatedDate in
/// Unix seconds or None).
type PyVersion = (String, Vec<String>, Option<u64>);
/// A log line for Python: (level, JSON text).
type PyLog = (&'static str, String);
/// A verdict for Python: (next step, allowed, reason, keyid, stage, age, logs, metric
/// line). The next step is `"done"` (decided), `"refresh"` (refresh, then check again
/// with `recheck`) or `"read_body"` (read the body, then `check_body`).
type PyOutcome = (
    &'static str,
    bool,
    &'static str,
    Option<String>,
    Option<&'static str>,
    Option<u64>,
    Vec<PyLog>,
    Option<String>,
);

/// The engine for one secret.
#[pyclass(frozen, module = "edgeseal_verifier._core")]
struct Engine {
    inner: Mutex<CoreEngine>,
}

fn listing(versions: Vec<PyVersion>) -> Vec<ListedVersion> {
    versions
        .into_iter()
        .map(|(version_id, stages, created)| ListedVersion {
            version_id,
            stages,
            created: created.map(UnixTime::from_secs),
        })
        .collect()
}

fn logs(lines: Vec<LogLine>) -> Vec<PyLog> {
    lines
        .into_iter()
        .map(|l| (l.level.as_str(), l.text))
        .collect()
}

impl Engine {
    fn lock(&self) -> PyResult<MutexGuard<'_, CoreEngine>> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("edgeseal engine poisoned by an earlier panic"))
    }
}

#[pymethods]
impl Engine {
    /// An engine from settings by the authorizer's names (`{"SECRET_ID": ...}`);
    /// `log_allows` for DEBUG allow lines. Raises ValueError naming the variable.
    #[new]
    #[pyo3(signature = (settings, log_allows=false))]
    fn new(settings: HashMap<String, String>, log_allows: bool) -> PyResult<Self> {
        let settings = Settings::from_lookup(|name| settings.get(name).cloned())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut engine =
            CoreEngine::new(settings).map_err(|e| PyValueError::new_err(e.to_string()))?;
        engine.set_log_allows(log_allows);
        Ok(Self {
            inner: Mutex::new(engine),
        })
    }

    /// 0: no refresh due; 1: due, keys held (refresh in the background); 2: due and
    /// nothing held (wait for it).
    fn refresh_due(&self, now_ms: u64) -> PyResult<u8> {
        let engine = self.lock()?;
        Ok(
            match (engine.refresh_due(now_ms), engine.is_usable_at(now_ms)) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            },
        )
    }

    /// The version ids to read for this listing.
    fn values_needed(&self, versions: Vec<PyVersion>) -> PyResult<Vec<String>> {
        Ok(self.lock()?.values_needed(&listing(versions)))
    }

    /// A successful refresh: the listing, the secret's LastRotatedDate if read, and the
    /// values read (`None` for a version deleted since the listing). Returns log lines.
    fn apply(
        &self,
        now_ms: u64,
        versions: Vec<PyVersion>,
        last_rotated: Option<u64>,
        values: Vec<(String, Option<String>)>,
    ) -> PyResult<Vec<PyLog>> {
        let values = values
            .into_iter()
            .map(|(id, value)| (id, value.map(Zeroizing::new)))
            .collect();
        let lines = self.lock()?.apply_refresh(
            now_ms,
            listing(versions),
            last_rotated.map(UnixTime::from_secs),
            values,
        );
        Ok(logs(lines))
    }

    /// A failed refresh. Returns log lines.
    fn failed(&self, now_ms: u64, operation: &str, detail: &str) -> PyResult<Vec<PyLog>> {
        Ok(logs(self.lock()?.refresh_failed(now_ms, operation, detail)))
    }

    /// The verdict on a request: path and query as received (query without `?`),
    /// headers as (lowercase name, value) pairs. `recheck`: after the refresh a first
    /// check asked for.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (now_ms, method, host, path, query, request_id, headers, recheck=false))]
    fn check(
        &self,
        now_ms: u64,
        method: &str,
        host: Option<&str>,
        path: &str,
        query: &str,
        request_id: &str,
        headers: Vec<(String, String)>,
        recheck: bool,
    ) -> PyResult<PyOutcome> {
        let mut engine = self.lock()?;
        let view = view(&engine, method, host, path, query, &headers);
        let check = if recheck {
            engine.recheck(now_ms, &view, request_id)
        } else {
            engine.check(now_ms, &view, request_id)
        };
        Ok(match check {
            Check::Done(outcome) => decided(outcome),
            Check::RefreshFirst { keyid, logs: lines } => (
                "refresh",
                false,
                "unknown_key",
                Some(keyid.as_str().to_owned()),
                None,
                None,
                logs(lines),
                None,
            ),
            Check::ReadBody => ("read_body", false, "", None, None, None, Vec::new(), None),
        })
    }

    /// The verdict after `check` answered `"read_body"`: the same request and its body
    /// (`None`: longer than `max_body_bytes`, or unreadable). The core compares the
    /// body with the `Content-Digest` the signature covers.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (now_ms, method, host, path, query, request_id, headers, body))]
    fn check_body(
        &self,
        now_ms: u64,
        method: &str,
        host: Option<&str>,
        path: &str,
        query: &str,
        request_id: &str,
        headers: Vec<(String, String)>,
        body: Option<&[u8]>,
    ) -> PyResult<PyOutcome> {
        let mut engine = self.lock()?;
        let view = view(&engine, method, host, path, query, &headers);
        Ok(decided(engine.check_body(now_ms, &view, request_id, body)))
    }

    /// `MAX_BODY_BYTES`: the most body to read for `check_body`.
    #[getter]
    fn max_body_bytes(&self) -> PyResult<u64> {
        Ok(self.lock()?.max_body_bytes())
    }
}

fn view(
    engine: &CoreEngine,
    method: &str,
    host: Option<&str>,
    path: &str,
    query: &str,
    headers: &[(String, String)],
) -> RequestView {
    let mut view = engine.view(method, host.unwrap_or(""), path, query);
    for (name, value) in headers {
        view.push_header(name, value);
    }
    view
}

fn decided(outcome: Outcome) -> PyOutcome {
    (
        "done",
        outcome.allowed,
        outcome.reason,
        outcome.keyid.map(|k| k.as_str().to_owned()),
        outcome.stage.map(|s| s.as_str()),
        outcome.age_secs,
        logs(outcome.logs),
        Some(outcome.metric),
    )
}

/// The extension module `edgeseal_verifier._core`.
#[pymodule]
#[pyo3(name = "_core")]
fn edgeseal_verifier_core_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Engine>()?;
    Ok(())
}

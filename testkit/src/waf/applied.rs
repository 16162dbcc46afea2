//! A web ACL as WAF's areas apply it: read from moto through the SDK, each change taking
//! effect in each area after that area's own delay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_wafv2::types::{Scope, WebAcl};
use tokio::time::Instant;

use super::evaluate::{Verdict, evaluate, refusal};

struct State {
    /// Every web ACL version read, with when the poller first saw it.
    versions: Mutex<Vec<(Instant, WebAcl)>>,
    area_delays: Vec<Duration>,
    next_area: AtomicUsize,
    refusals: Mutex<Vec<String>>,
}

/// A REGIONAL web ACL on moto, applied as WAF applies it (see the module docs of
/// [`super`]): polled with `GetWebACL`; area `i` runs a version `area_delays[i]` after the
/// poller first saw it; successive requests go to successive areas.
pub struct AppliedWebAcl {
    state: Arc<State>,
    poller: tokio::task::JoinHandle<()>,
}

impl Drop for AppliedWebAcl {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppliedWebAcl {
    /// Read web ACL `name`/`id` through `client` now and every `poll`. Returns once the
    /// first version was read.
    ///
    /// # Panics
    /// When the web ACL cannot be read or no area is given (test setup).
    #[allow(clippy::expect_used)]
    pub async fn start(
        client: aws_sdk_wafv2::Client,
        name: &str,
        id: &str,
        area_delays: Vec<Duration>,
        poll: Duration,
    ) -> Self {
        assert!(!area_delays.is_empty(), "a WAF has at least one area");
        let state = Arc::new(State {
            versions: Mutex::new(Vec::new()),
            area_delays,
            next_area: AtomicUsize::new(0),
            refusals: Mutex::new(Vec::new()),
        });
        let read = |client: aws_sdk_wafv2::Client, name: String, id: String| async move {
            client
                .get_web_acl()
                .name(name)
                .id(id)
                .scope(Scope::Regional)
                .send()
                .await
        };
        let first = read(client.clone(), name.to_owned(), id.to_owned())
            .await
            .expect("GetWebACL for the WAF stand-in");
        let mut last_token = first.lock_token().unwrap_or_default().to_owned();
        record(&state, first.web_acl.expect("a web ACL"));
        let poller = {
            let (state, name, id) = (state.clone(), name.to_owned(), id.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(poll).await;
                    let Ok(out) = read(client.clone(), name.clone(), id.clone()).await else {
                        continue;
                    };
                    let token = out.lock_token().unwrap_or_default().to_owned();
                    if token != last_token
                        && let Some(acl) = out.web_acl
                    {
                        last_token = token;
                        record(&state, acl);
                    }
                }
            })
        };
        Self { state, poller }
    }

    /// The verdict for a request with `headers`, from the next area in turn, and which
    /// area that was.
    pub fn judge(&self, headers: &[(String, String)]) -> (usize, Verdict) {
        let area = self.state.next_area.fetch_add(1, Ordering::SeqCst) % self.areas();
        (area, self.verdict_in(area, headers))
    }

    /// The verdict area `area` gives now for `headers`.
    pub fn verdict_in(&self, area: usize, headers: &[(String, String)]) -> Verdict {
        match applied(&self.state, area, Instant::now()) {
            Some(acl) => evaluate(&acl, headers),
            None => Verdict::Unsupported("no web ACL read".into()),
        }
    }

    /// How many areas there are.
    pub fn areas(&self) -> usize {
        self.state.area_delays.len()
    }

    /// Web ACL versions AWS would have refused, with why.
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.state.refusals).clone()
    }

    /// How many web ACL versions the poller has seen (the first included).
    pub fn versions_seen(&self) -> usize {
        lock(&self.state.versions).len()
    }
}

fn record(state: &State, acl: WebAcl) {
    if let Some(why) = refusal(&acl) {
        lock(&state.refusals).push(why);
    }
    lock(&state.versions).push((Instant::now(), acl));
}

/// The web ACL area `area` runs at `now`: the newest version it has had time to apply
/// (the first version is in place from the start).
fn applied(state: &State, area: usize, now: Instant) -> Option<WebAcl> {
    let delay = state.area_delays.get(area).copied().unwrap_or_default();
    let versions = lock(&state.versions);
    let mut chosen = versions.first().map(|(_, acl)| acl);
    for (seen, acl) in versions.iter().skip(1) {
        if *seen + delay <= now {
            chosen = Some(acl);
        }
    }
    chosen.cloned()
}

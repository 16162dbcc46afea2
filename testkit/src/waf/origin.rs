//! A loopback origin behind the WAF stand-in: `200` when the web ACL allows the request,
//! WAF's default `403 Forbidden` when it blocks it, `500` for a web ACL the stand-in does
//! not evaluate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::applied::AppliedWebAcl;
use super::evaluate::Verdict;

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Served {
    /// When.
    pub at: Instant,
    /// Which area evaluated it.
    pub area: usize,
    /// The value of the inspected header, if the request had it.
    pub header_value: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

struct State {
    waf: AppliedWebAcl,
    header: String,
    served: Mutex<Vec<Served>>,
}

/// A loopback origin behind a WAF that applies a moto web ACL (see [`AppliedWebAcl`]).
pub struct WafOrigin {
    /// `http://127.0.0.1:PORT` plus the path given to [`WafOrigin::start`].
    pub url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for WafOrigin {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WafOrigin {
    /// Serve on a free loopback port behind web ACL `name`/`id` applied as
    /// [`AppliedWebAcl::start`] does. `header` is the header recorded in [`Served`].
    ///
    /// # Panics
    /// When the web ACL cannot be read or the port cannot be bound (test setup).
    #[allow(clippy::expect_used)]
    pub async fn start(
        client: aws_sdk_wafv2::Client,
        name: &str,
        id: &str,
        header: &str,
        area_delays: Vec<Duration>,
        poll: Duration,
        path: &str,
    ) -> Self {
        let waf = AppliedWebAcl::start(client, name, id, area_delays, poll).await;
        let state = Arc::new(State {
            waf,
            header: header.to_ascii_lowercase(),
            served: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move { serve(stream, &state).await });
                }
            })
        };
        Self {
            url: format!("http://{addr}{path}"),
            state,
            server,
        }
    }

    /// The WAF in front.
    pub fn waf(&self) -> &AppliedWebAcl {
        &self.state.waf
    }

    /// Every request answered so far.
    pub fn served(&self) -> Vec<Served> {
        lock(&self.state.served).clone()
    }

    /// The verdict area `area` gives now for a request carrying `header_value` (none
    /// recorded).
    pub fn verdict_in(&self, area: usize, header_value: Option<&str>) -> Verdict {
        self.verdicts().verdict_for(area, header_value)
    }

    /// A handle asking the same WAF for verdicts, for a watcher task.
    pub fn verdicts(&self) -> Verdicts {
        Verdicts(self.state.clone())
    }
}

/// Verdicts of a [`WafOrigin`]'s WAF, without sending requests.
#[derive(Clone)]
pub struct Verdicts(Arc<State>);

impl Verdicts {
    /// How many areas the WAF has.
    pub fn areas(&self) -> usize {
        self.0.waf.areas()
    }

    /// The verdict area `area` gives now for a request carrying `header_value`.
    pub fn verdict_for(&self, area: usize, header_value: Option<&str>) -> Verdict {
        let headers: Vec<(String, String)> = header_value
            .map(|v| vec![(self.0.header.clone(), v.to_owned())])
            .unwrap_or_default();
        self.0.waf.verdict_in(area, &headers)
    }
}

async fn serve(mut stream: tokio::net::TcpStream, state: &State) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let headers: Vec<(String, String)> = text
        .split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let now = Instant::now();
    let (area, verdict) = state.waf.judge(&headers);
    let status = match verdict {
        Verdict::Allow => "200 OK",
        Verdict::Block => "403 Forbidden",
        Verdict::Unsupported(_) => "500 Internal Server Error",
    };
    lock(&state.served).push(Served {
        at: now,
        area,
        header_value: headers
            .iter()
            .find(|(n, _)| *n == state.header)
            .map(|(_, v)| v.clone()),
        verdict,
    });
    let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

//! `--jwt`: the app's own user tokens checked by the same authorizer, after the edge
//! signature. A stand-in OIDC issuer (`edgeseal_testkit::oidc`) runs beside the stack;
//! viewers send `Authorization: Bearer <token>` through CloudFront, which forwards it
//! (with caching disabled, the `AllViewerExceptHostHeader` origin request policy forwards
//! `Authorization`: AWS Knowledge Center, "How do I configure CloudFront to forward the
//! Authorization header to the origin?"; the demo's CloudFront forwards every viewer
//! header but Host).
//!
//! Legitimate tokens, and one of each bad kind in turn: expired, not yet valid, wrong
//! audience, wrong issuer, missing the route's scope, `alg: none`, HS256 keyed with the
//! issuer's public key, a `kid` the issuer never published, a `kid` it retired, none at
//! all. Mid-run the issuer publishes a new key and signs with it at once (the authorizer
//! learns it from the first token naming it), later retires the old one (the authorizer
//! learns it at its next key-set refresh, `JWKS_CACHE_TTL_SECS`; only then are the old
//! key's tokens counted as bad), while Secrets Manager rotates the edge key as usual.
//! The run passes with 0 legitimate requests refused and 0 bad tokens let through.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgeseal_testkit::oidc::{OidcIssuer, unsigned_token};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::run::rotate_then_stop;
use crate::run::rotation::Driver;
use crate::run::schedule;
use crate::stack::{STAGE, Stack, authorizer_log};
use crate::{DemoError, Settings};

/// The app client the tokens are for (`JWT_AUDIENCES`).
pub const CLIENT: &str = "edgeseal-demo-client";
/// The route that requires `orders/read`.
const SCOPED_ROUTE: &str = "GET /prod/orders/{id}";
/// Key-set refresh period in the demo (time is compressed: production default 3600 s).
const JWKS_TTL_SECS: u64 = 5;

/// What a viewer presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenKind {
    /// A good token under the issuer's first key.
    Valid,
    /// A good token under the key the issuer has just added.
    NewKid,
    /// `exp` passed.
    Expired,
    /// `nbf` an hour ahead.
    NotYetValid,
    /// For another client.
    WrongAudience,
    /// Signed by the issuer's key but naming another issuer.
    WrongIssuer,
    /// Without `orders/read`.
    MissingScope,
    /// `alg: none`.
    AlgNone,
    /// HS256 keyed with the issuer's public JWK.
    HmacPublicKey,
    /// A `kid` the issuer never published.
    UnknownKid,
    /// A `kid` the issuer has retired (sent once the authorizer can know it).
    RetiredKid,
    /// No `Authorization` header.
    NoToken,
}

impl TokenKind {
    const BAD: [TokenKind; 10] = [
        TokenKind::Expired,
        TokenKind::NotYetValid,
        TokenKind::WrongAudience,
        TokenKind::WrongIssuer,
        TokenKind::MissingScope,
        TokenKind::AlgNone,
        TokenKind::HmacPublicKey,
        TokenKind::UnknownKid,
        TokenKind::RetiredKid,
        TokenKind::NoToken,
    ];

    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Valid => "valid",
            TokenKind::NewKid => "valid, kid just added",
            TokenKind::Expired => "expired",
            TokenKind::NotYetValid => "not yet valid",
            TokenKind::WrongAudience => "wrong audience",
            TokenKind::WrongIssuer => "wrong issuer",
            TokenKind::MissingScope => "missing scope",
            TokenKind::AlgNone => "alg none",
            TokenKind::HmacPublicKey => "HS256 with public key",
            TokenKind::UnknownKid => "kid never published",
            TokenKind::RetiredKid => "kid retired",
            TokenKind::NoToken => "no token",
        }
    }

    /// Whether it must be let through.
    pub fn legitimate(self) -> bool {
        matches!(self, TokenKind::Valid | TokenKind::NewKid)
    }
}

/// Allowed / refused per kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// 2xx answers.
    pub allowed: u64,
    /// 401 / 403 answers.
    pub refused: u64,
    /// Anything else (5xx, connection errors).
    pub errors: u64,
}

/// The outcome of a `--jwt` run.
pub struct JwtReport {
    /// Per token kind.
    pub tallies: BTreeMap<TokenKind, Tally>,
    /// The authorizer's verdicts by reason code (its EMF lines).
    pub reasons: BTreeMap<String, u64>,
    /// Rotations that did not complete.
    pub failed_rotations: Vec<String>,
    /// Each scheduled edge key rotation and what became of it.
    pub rotations: Vec<schedule::RotationRecord>,
    /// The text summary.
    pub summary: String,
}

impl JwtReport {
    /// Legitimate requests not let through.
    pub fn legitimate_refused(&self) -> u64 {
        self.tallies
            .iter()
            .filter(|(k, _)| k.legitimate())
            .map(|(_, t)| t.refused + t.errors)
            .sum()
    }

    /// Bad tokens let through.
    pub fn bad_allowed(&self) -> u64 {
        self.tallies
            .iter()
            .filter(|(k, _)| !k.legitimate())
            .map(|(_, t)| t.allowed)
            .sum()
    }

    /// Every kind was sent, nothing went wrong, every rotation completed.
    pub fn passed(&self) -> bool {
        let every_kind_sent = TokenKind::BAD
            .iter()
            .chain(&[TokenKind::Valid, TokenKind::NewKid])
            .all(|k| {
                self.tallies
                    .get(k)
                    .is_some_and(|t| t.allowed + t.refused > 0)
            });
        every_kind_sent
            && self.legitimate_refused() == 0
            && self.bad_allowed() == 0
            && self.failed_rotations.is_empty()
    }
}

/// The authorizer's bearer-token settings for the demo issuer.
pub fn authorizer_env(issuer: &str) -> Vec<(String, String)> {
    [
        ("JWT_ISSUERS", issuer.to_owned()),
        ("JWT_AUDIENCES", CLIENT.to_owned()),
        ("JWT_SCOPES", format!("{SCOPED_ROUTE}=orders/read")),
        // The health route (the warm-up and the rotator's testSecret) needs no token.
        ("JWT_PUBLIC_ROUTES", format!("GET /{STAGE}/health")),
        ("JWT_TOKEN_USE", "access".to_owned()),
        ("JWKS_CACHE_TTL_SECS", JWKS_TTL_SECS.to_string()),
        ("JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS", "1".to_owned()),
        ("JWKS_UNKNOWN_KID_MAX_WAIT_MS", "1500".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The tokens viewers present now.
struct Tokens {
    legitimate: (TokenKind, Vec<String>),
    bad: Vec<(TokenKind, Option<String>)>,
}

impl Tokens {
    fn new(issuer: &OidcIssuer) -> Self {
        let now = edgeseal::UnixTime::now().as_secs();
        let claims = |patch: Value| {
            let mut c = issuer.access_claims(CLIENT, now, 3600, "openid orders/read");
            if let (Some(c), Some(patch)) = (c.as_object_mut(), patch.as_object()) {
                c.extend(patch.clone());
            }
            c
        };
        let good = claims(json!({}));
        Self {
            legitimate: (TokenKind::Valid, Self::pool(issuer, now)),
            bad: vec![
                (
                    TokenKind::Expired,
                    Some(issuer.sign(&claims(json!({"iat": now - 7200, "exp": now - 3600})))),
                ),
                (
                    TokenKind::NotYetValid,
                    Some(issuer.sign(&claims(json!({"nbf": now + 3600})))),
                ),
                (
                    TokenKind::WrongAudience,
                    Some(issuer.sign(&claims(json!({"client_id": "another-client"})))),
                ),
                (
                    TokenKind::WrongIssuer,
                    Some(issuer.sign(&claims(json!({"iss": "https://idp.attacker.example"})))),
                ),
                (
                    TokenKind::MissingScope,
                    Some(issuer.sign(&claims(json!({"scope": "openid profile"})))),
                ),
                (TokenKind::AlgNone, Some(unsigned_token(&good))),
                (
                    TokenKind::HmacPublicKey,
                    Some(issuer.hmac_with_public_key(&issuer.signing_kid(), &good)),
                ),
                (
                    TokenKind::UnknownKid,
                    Some(issuer.sign_with("rsa-3", &good)),
                ),
                (TokenKind::NoToken, None),
            ],
        }
    }

    /// Twenty users' tokens under the current signing key.
    fn pool(issuer: &OidcIssuer, now: u64) -> Vec<String> {
        (0..20)
            .map(|user| {
                let mut c = issuer.access_claims(CLIENT, now, 3600, "openid orders/read");
                if let Some(claims) = c.as_object_mut() {
                    claims.insert("sub".to_owned(), json!(format!("user-{user}")));
                }
                issuer.sign(&c)
            })
            .collect()
    }

    fn pick(&self, n: usize) -> (TokenKind, Option<String>) {
        if n.is_multiple_of(2) {
            let (kind, pool) = &self.legitimate;
            (*kind, pool.get((n / 2) % pool.len().max(1)).cloned())
        } else {
            self.bad
                .get((n / 2) % self.bad.len().max(1))
                .cloned()
                .unwrap_or((TokenKind::NoToken, None))
        }
    }
}

/// Run the stack with bearer tokens checked, rotating the issuer's keys and the edge key.
pub async fn run_jwt(settings: &Settings) -> Result<JwtReport, DemoError> {
    let issuer = OidcIssuer::start()
        .await
        .map_err(|e| DemoError::Setup(format!("OIDC issuer: {e}")))?;
    let mut settings = settings.clone();
    settings
        .authorizer_env
        .extend(authorizer_env(issuer.issuer()));
    let Stack {
        aws,
        authorizer,
        targets,
        rotator,
        ..
    } = crate::stack::start(&settings).await?;
    let tokens = Arc::new(Mutex::new(Tokens::new(&issuer)));
    let tallies = Arc::new(Mutex::new(BTreeMap::<TokenKind, Tally>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let traffic = tokio::spawn(traffic(
        targets.cloudfront.clone(),
        targets.cloudfront_host.clone(),
        settings.rate,
        Arc::clone(&tokens),
        Arc::clone(&tallies),
        Arc::clone(&stop),
    ));

    // Issuer events at 30 % (new key, used at once) and 55 % (old key retired) of the
    // run; edge key rotations spread over it as in the default demo.
    let duration = settings.duration;
    let issuer = Arc::new(issuer);
    let issuer_events = {
        let issuer = Arc::clone(&issuer);
        let tokens = Arc::clone(&tokens);
        tokio::spawn(async move {
            tokio::time::sleep(duration.mul_f64(0.3)).await;
            let old_pool = {
                let old = lock(&tokens).legitimate.1.clone();
                let _ = issuer.rotate();
                // Every token from now on under the new key, the bad kinds too: each
                // is then refused for its own flaw, not for naming the old key once
                // that is retired.
                let mut fresh = Tokens::new(&issuer);
                fresh.legitimate.0 = TokenKind::NewKid;
                *lock(&tokens) = fresh;
                old
            };
            tokio::time::sleep(duration.mul_f64(0.25)).await;
            issuer.retire("rsa-1");
            // The authorizer refreshes within one TTL; from then on the old key's
            // tokens are bad.
            tokio::time::sleep(Duration::from_secs(JWKS_TTL_SECS + 2)).await;
            let mut tokens = lock(&tokens);
            for token in old_pool.into_iter().take(3) {
                tokens.bad.push((TokenKind::RetiredKid, Some(token)));
            }
        })
    };
    let mut timeline = Vec::new();
    let mut timings = Vec::new();
    let mut driver = Driver {
        rotator: &rotator,
        aws: &aws,
        timeout: settings.rotator_timeout,
        started,
        timeline: &mut timeline,
        timings: &mut timings,
    };
    // Edge key rotations as the default demo runs them: spread over the run, each
    // retried with its token until it completes, as Secrets Manager reattempts an
    // incomplete rotation (a RotateSecret due meanwhile is refused, as AWS refuses it).
    let plan = schedule::Plan::for_settings(&settings);
    let phase = AtomicUsize::new(0);
    let run = rotate_then_stop(
        &mut driver,
        &plan,
        None,
        &phase,
        duration,
        &stop,
        vec![traffic, issuer_events],
    )
    .await;

    let verdicts = authorizer_log::verdicts(
        &settings.out_dir,
        crate::stack::AUTHORIZER_FUNCTION,
        settings.authorizer_processes,
    );
    let reasons = authorizer_log::by_reason(&verdicts);
    if let Ok(a) = Arc::try_unwrap(authorizer) {
        a.stop().await;
    }
    let tallies = lock(&tallies).clone();
    let mut report = JwtReport {
        tallies,
        reasons,
        failed_rotations: run.failed,
        rotations: run.rotations,
        summary: String::new(),
    };
    report.summary = summary(&report, &issuer, started.elapsed(), settings.rotations);
    report
        .summary
        .push_str(&crate::report::longest_step_line(&timings));
    report.summary.push_str(&crate::report::rotations(
        &report.rotations,
        duration.as_secs_f64(),
        run.seconds,
        plan.overtime.as_secs_f64(),
    ));
    Ok(report)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn traffic(
    cloudfront: String,
    host: String,
    rate: u32,
    tokens: Arc<Mutex<Tokens>>,
    tallies: Arc<Mutex<BTreeMap<TokenKind, Tally>>>,
    stop: Arc<AtomicBool>,
) {
    let client = crate::stack::http::client();
    let slots = Arc::new(tokio::sync::Semaphore::new(128));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let n = AtomicUsize::new(0);
    let mut in_flight = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let i = n.fetch_add(1, Ordering::Relaxed);
        let (kind, token) = lock(&tokens).pick(i);
        let mut request = http::Request::builder()
            .method("GET")
            .uri(format!("{cloudfront}/orders/{i}"))
            .header("host", host.as_str());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let Ok(request) = request.body(Full::new(Bytes::new())) else {
            continue;
        };
        let client = client.clone();
        let tallies = Arc::clone(&tallies);
        in_flight.push(tokio::spawn(async move {
            let status = client
                .request(request)
                .await
                .map_or(0, |r| r.status().as_u16());
            let mut tallies = lock(&tallies);
            let tally = tallies.entry(kind).or_default();
            match status {
                200..=299 => tally.allowed += 1,
                401 | 403 => tally.refused += 1,
                _ => tally.errors += 1,
            }
            drop(permit);
        }));
        in_flight.retain(|t| !t.is_finished());
    }
    for task in in_flight {
        let _ = task.await;
    }
}

fn summary(report: &JwtReport, issuer: &OidcIssuer, took: Duration, rotations: usize) -> String {
    let mut out = format!(
        "JWT demo: {:.0} s, {rotations} Secrets Manager rotations, issuer keys rotated (new key used at once, old key retired); issuer served {} discovery documents and {} key sets\n\n{:<24} {:>8} {:>8} {:>7}  expected\n",
        took.as_secs_f64(),
        issuer.discovery_requests(),
        issuer.jwks_requests(),
        "token",
        "allowed",
        "refused",
        "errors",
    );
    for (kind, t) in &report.tallies {
        out.push_str(&format!(
            "{:<24} {:>8} {:>8} {:>7}  {}\n",
            kind.name(),
            t.allowed,
            t.refused,
            t.errors,
            if kind.legitimate() {
                "allowed"
            } else {
                "refused"
            }
        ));
    }
    out.push_str("\nAuthorizer verdicts by reason:\n");
    for (reason, count) in &report.reasons {
        out.push_str(&format!("  {reason:<28} {count}\n"));
    }
    out.push_str(&format!(
        "\nLegitimate requests refused: {}\nBad tokens allowed: {}\n",
        report.legitimate_refused(),
        report.bad_allowed()
    ));
    out
}

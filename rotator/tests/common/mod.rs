//! The world a rotation runs in during tests: moto for Secrets Manager, Lambda and IAM
//! (through the real SDK), the in-process CloudFront fake (or moto's CloudFront for
//! what it keeps), and a loopback origin that verifies like the authorizer would.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudfront::types::{DistributionConfig, EventType};
use edgeseal::{KeyId, KeySet, RequestView, SecretValue, Signer, SigningKey, UnixTime, Verifier};
use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, package_zip};
use edgeseal_rotator::{
    Config, DistributionApi, RotationError, RotationEvent, Rotator, SignedTarget,
    StaticHeaderTarget, Step, TargetKind, code_sha256, custom_headers, unqualified,
};
use edgeseal_rotator::{SdkCloudFront, SdkLambda, SdkSecrets};
use edgeseal_testkit::world::{self, NewFunction, NewSecret};
use edgeseal_testkit::{
    ALL_VIEWER_EXCEPT_HOST_HEADER, BoxedRotator, CACHING_DISABLED, FakeCloudFront, FaultPlan,
    Faulty, RunStep,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const LABEL: &str = "edgeseal";
pub const HEADER: &str = "x-origin-verify";
pub const FIELD: &str = "HTTP_API_KEY";
/// A fixed AWS account id: moto's default.
pub const ACCOUNT: &str = "123456789012";

pub fn now() -> UnixTime {
    UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

pub fn assets() -> EdgeAssets {
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend_from_slice(&[0u8; 32]);
    EdgeAssets::new(
        b"export const handler = async (event) => event;\n".to_vec(),
        wasm,
    )
}

pub fn zip_for(keyid: &str, key: &SigningKey) -> Vec<u8> {
    package_zip(
        &assets(),
        &EdgeConfig {
            label: LABEL.into(),
            keyid: KeyId::new(keyid).unwrap(),
            key: key.clone(),
            max_age_secs: 300,
            profiles: Default::default(),
        },
    )
    .unwrap()
}

pub fn new_token() -> String {
    edgeseal_testkit::new_version_id().unwrap()
}

// ---------------------------------------------------------------------------------
// The loopback origin.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginKind {
    /// Verifies RFC 9421 signatures against the keys Secrets Manager holds.
    Signed,
    /// Compares the static header with AWSCURRENT and AWSPENDING (the prior art's
    /// authorizer: no previous key).
    StaticHeader,
}

pub struct TestOrigin {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    pub silent: Arc<AtomicBool>,
    pub reject_keyid: Arc<Mutex<Option<String>>>,
    pub fail_next: Arc<AtomicUsize>,
    /// Static header values presented to a signed-kind origin.
    pub static_presented: Arc<Mutex<Vec<String>>>,
}

struct OriginState {
    kind: OriginKind,
    sm: aws_sdk_secretsmanager::Client,
    secret: String,
    requests: Arc<Mutex<Vec<String>>>,
    silent: Arc<AtomicBool>,
    reject_keyid: Arc<Mutex<Option<String>>>,
    fail_next: Arc<AtomicUsize>,
    static_presented: Arc<Mutex<Vec<String>>>,
}

/// Keys as a freshly started authorizer holds them: the authorizer's own key cache
/// (origin-verifier's `KeyCache` over the SDK, default grace), loaded once, as on a
/// cold start. So AWSPREVIOUS is accepted until its demotion as the authorizer dates it
/// (the secret's `LastRotatedDate`, which testkit's moto sets when the rotation
/// completes, as AWS does) plus the grace, never longer, and a test sees what an
/// execution environment started after the rotation would answer. (It used to accept
/// AWSPREVIOUS until an hour after *this call*: a grace that never ended.)
pub async fn authorizer_keys(sm: &aws_sdk_secretsmanager::Client, secret: &str) -> KeySet {
    let defaults = origin_verifier::Config::with_secret_id(secret);
    let mut settings = origin_verifier::CacheSettings::from_config(&defaults);
    settings.secret_key_name = Some(FIELD.to_owned());
    let cache =
        origin_verifier::KeyCache::new(origin_verifier::SdkSource::new(sm.clone()), settings);
    match cache.refresh_at(now()).await {
        Ok(snapshot) => snapshot.keys().clone(),
        Err(_) => KeySet::new(),
    }
}

/// Static values the prior art's authorizer accepts: AWSCURRENT and AWSPENDING.
pub async fn accepted_static_values(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, stages) in version_stages(sm, secret).await {
        if !stages
            .iter()
            .any(|s| s == "AWSCURRENT" || s == "AWSPENDING")
        {
            continue;
        }
        if let Some(value) = secret_value(sm, secret, &id).await
            && let Ok(SecretValue::StaticHeader(v)) = SecretValue::parse(&value, Some(FIELD))
        {
            out.push(v.expose().to_owned());
        }
    }
    out
}

pub async fn version_stages(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
) -> HashMap<String, Vec<String>> {
    let out = sm.describe_secret().secret_id(secret).send().await.unwrap();
    out.version_ids_to_stages().cloned().unwrap_or_default()
}

/// A version's value. Versions are immutable once they have one (the rotator never
/// writes a second value under a token), so values are cached: the checks run after
/// every step and moto is the bottleneck of these tests.
pub async fn secret_value(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
    version: &str,
) -> Option<String> {
    static CACHE: Mutex<Option<HashMap<(String, String), String>>> = Mutex::new(None);
    let key = (secret.to_owned(), version.to_owned());
    if let Some(v) = CACHE
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return Some(v.clone());
    }
    let value = uncached_secret_value(sm, secret, version).await?;
    CACHE
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(key, value.clone());
    Some(value)
}

pub async fn uncached_secret_value(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
    version: &str,
) -> Option<String> {
    sm.get_secret_value()
        .secret_id(secret)
        .version_id(version)
        .send()
        .await
        .ok()
        .and_then(|o| o.secret_string)
}

/// `code_sha256(zip_for(keyid, key))`, cached by key id (packaging is deterministic).
pub fn sha_for(keyid: &str, key: &SigningKey) -> String {
    static CACHE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    if let Some(sha) = CACHE
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(keyid)
    {
        return sha.clone();
    }
    let sha = code_sha256(&zip_for(keyid, key));
    CACHE
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(keyid.to_owned(), sha.clone());
    sha
}

impl TestOrigin {
    pub async fn start(kind: OriginKind, sm: aws_sdk_secretsmanager::Client, secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let silent = Arc::new(AtomicBool::new(false));
        let reject_keyid = Arc::new(Mutex::new(None));
        let fail_next = Arc::new(AtomicUsize::new(0));
        let static_presented = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(OriginState {
            static_presented: static_presented.clone(),
            kind,
            sm,
            secret: secret.to_owned(),
            requests: requests.clone(),
            silent: silent.clone(),
            reject_keyid: reject_keyid.clone(),
            fail_next: fail_next.clone(),
        });
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move { serve(stream, state).await });
            }
        });
        Self {
            url: format!("http://{addr}/prod/health?b=2&a=1&empty="),
            requests,
            silent,
            reject_keyid,
            fail_next,
            static_presented,
        }
    }
}

async fn serve(mut stream: tokio::net::TcpStream, state: Arc<OriginState>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    if state.silent.load(Ordering::SeqCst) {
        // Accept, read, and never answer: the origin the prior art hung on.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    state.requests.lock().unwrap().push(target.clone());
    let status = decide(&state, &method, &target, &headers).await;
    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn decide(
    state: &OriginState,
    method: &str,
    target: &str,
    headers: &[(String, String)],
) -> u16 {
    if state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return 500;
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // A legacy static header is checked as the static-header authorizer would, in both
    // kinds: in signed mode the rotator presents a legacy static *current* value that
    // way while migrating.
    let kind = match (state.kind, header(HEADER)) {
        (OriginKind::Signed, Some(presented)) => {
            state
                .static_presented
                .lock()
                .unwrap()
                .push(presented.to_owned());
            OriginKind::StaticHeader
        }
        (kind, _) => kind,
    };
    match kind {
        OriginKind::Signed => {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let mut view = RequestView::new(method, header("host").unwrap_or(""), path, query);
            for name in ["signature-input", "signature"] {
                if let Some(v) = header(name) {
                    view.push_header(name, v);
                }
            }
            let verifier = Verifier::new(LABEL).unwrap();
            let Ok(candidate) = verifier.parse(&view) else {
                return 401;
            };
            if state.reject_keyid.lock().unwrap().as_deref() == Some(candidate.keyid().as_str()) {
                return 403;
            }
            let keys = authorizer_keys(&state.sm, &state.secret).await;
            match verifier.verify_candidate_at(now(), &view, &candidate, &keys) {
                Ok(_) => 200,
                Err(_) => 403,
            }
        }
        OriginKind::StaticHeader => {
            let Some(presented) = header(HEADER) else {
                return 401;
            };
            let accepted = accepted_static_values(&state.sm, &state.secret).await;
            if state.reject_keyid.lock().unwrap().as_deref() == Some(presented) {
                return 403;
            }
            if accepted.iter().any(|v| v == presented) {
                200
            } else {
                403
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Distribution configs.

pub fn distribution_config(
    origin_domain: &str,
    associations: Vec<(String, EventType)>,
    header: Option<&str>,
) -> DistributionConfig {
    // CachingDisabled forwards no query string: the origin request policy must forward
    // them all, or the edge would not see the query it signs (see `query_strings`).
    let mut config = world::Distribution::new("api", origin_domain, "edgeseal test")
        .cache_policy(CACHING_DISABLED)
        .origin_request_policy(ALL_VIEWER_EXCEPT_HOST_HEADER);
    if let Some(value) = header {
        config = config
            .header("X-Other", "keep-me")
            .header("X-Origin-Verify", value);
    }
    for (arn, event) in &associations {
        config = config.association(arn, event.clone());
    }
    if !associations.is_empty() {
        // A second behavior with its own association: setSecret must move both.
        config = config.behavior("/v2/*");
    }
    config.build().unwrap()
}

// ---------------------------------------------------------------------------------
// The world.

pub struct World {
    pub mode: TargetKind,
    pub sdk: aws_config::SdkConfig,
    pub sm: aws_sdk_secretsmanager::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub secret: String,
    pub function: String,
    pub function_arn: String,
    pub other_function_arn: String,
    pub rotation_lambda_arn: String,
    pub cdn: FakeCloudFront,
    pub distribution: String,
    pub origin: TestOrigin,
    pub initial_token: String,
    /// How many fake-CloudFront history entries the invariant check has seen.
    seen_history: Mutex<usize>,
    /// Edge version ARN -> (keyid, key), refreshed when an unknown ARN shows up.
    version_key_cache: Mutex<HashMap<String, (String, SigningKey)>>,
}

static ROLE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

pub async fn role_arn(sdk: &aws_config::SdkConfig) -> String {
    ROLE.get_or_init(|| async {
        let iam = aws_sdk_iam::Client::new(sdk);
        let name = edgeseal_testkit::unique_name("edgeseal-role");
        let out = iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","edgelambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .unwrap();
        out.role().unwrap().arn().to_owned()
    })
    .await
    .clone()
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    // Few retries and short timeouts: a failing call should fail the test quickly.
    let base = edgeseal_testkit::sdk_config().await;
    base.into_builder()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build()
}

impl World {
    /// A secret whose AWSCURRENT is an initial value, a published edge version carrying it
    /// (signed mode), a distribution in the fake naming it / carrying it, and an origin.
    pub async fn new(mode: TargetKind) -> Self {
        let sdk = sdk_config().await;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let role = role_arn(&sdk).await;
        let function = edgeseal_testkit::unique_name("edge");
        let initial_token = new_token();

        let (initial_value, initial_key) = match mode {
            TargetKind::AppSyncApiKey => {
                unreachable!("the AppSync target has its own world (target_appsync.rs)")
            }
            TargetKind::Signed => {
                let key = SigningKey::from_bytes(&random32()).unwrap();
                (edgeseal::edgeseal_secret_json(&key).to_string(), Some(key))
            }
            TargetKind::ApiKey => {
                panic!("the api-gateway-api-key target has its own world (target_api_key.rs)")
            }
            TargetKind::StaticHeader | TargetKind::Waf => (
                format!(r#"{{"{FIELD}":"initialStaticValue0123456789abcdef"}}"#),
                None,
            ),
        };
        let name = edgeseal_testkit::unique_name("edgeseal/origin-key");
        let created = world::create_secret(
            &sm,
            &NewSecret::new(&name, &initial_value).token(&initial_token),
        )
        .await
        .unwrap();
        let secret = created.arn().unwrap().to_owned();

        // The edge function: version 1 carries an older edgeseal key (pruning has work
        // to do), version 2 the initial key, which the distribution names.
        let initial_zip = match &initial_key {
            Some(key) => zip_for(&initial_token, key),
            None => zip_for(&initial_token, &SigningKey::from_bytes(&[1; 32]).unwrap()),
        };
        let ancient_zip = zip_for("ancient", &SigningKey::from_bytes(&[3; 32]).unwrap());
        let created =
            world::create_function(&lambda, NewFunction::edge(&function, &role, ancient_zip))
                .await
                .unwrap();
        let function_arn = unqualified(&created.arn).to_owned();
        world::publish_version(&lambda, &function, "edgeseal keyid=ancient")
            .await
            .unwrap();
        world::update_function_code(&lambda, &function, initial_zip)
            .await
            .unwrap();
        let v1_arn = world::publish_version(
            &lambda,
            &function,
            &format!("edgeseal keyid={initial_token}"),
        )
        .await
        .unwrap();
        assert!(v1_arn.ends_with(":2"), "{v1_arn}");

        // A function the rotation must leave alone, and one Secrets Manager "invokes".
        let other = edgeseal_testkit::unique_name("viewer-fn");
        let other_zip = zip_for("x", &SigningKey::from_bytes(&[2; 32]).unwrap());
        let other_out =
            world::create_function(&lambda, NewFunction::edge(&other, &role, other_zip))
                .await
                .unwrap();
        let other_function_arn = format!("{}:1", unqualified(&other_out.arn));

        let origin_kind = match mode {
            TargetKind::AppSyncApiKey => {
                unreachable!("the AppSync target has its own world (target_appsync.rs)")
            }
            TargetKind::Signed => OriginKind::Signed,
            TargetKind::ApiKey => {
                panic!("the api-gateway-api-key target has its own world (target_api_key.rs)")
            }
            TargetKind::StaticHeader | TargetKind::Waf => OriginKind::StaticHeader,
        };
        let origin = TestOrigin::start(origin_kind, sm.clone(), &secret).await;
        let cdn = FakeCloudFront::new(Duration::from_millis(30));
        let distribution = format!(
            "E{}",
            new_token().replace('-', "")[..13].to_ascii_uppercase()
        );
        let config = match mode {
            TargetKind::AppSyncApiKey => {
                unreachable!("the AppSync target has its own world (target_appsync.rs)")
            }
            TargetKind::Signed => distribution_config(
                "api.example.com",
                vec![
                    (other_function_arn.clone(), EventType::ViewerRequest),
                    (v1_arn.clone(), EventType::OriginRequest),
                ],
                None,
            ),
            TargetKind::StaticHeader | TargetKind::ApiKey | TargetKind::Waf => distribution_config(
                "api.example.com",
                vec![],
                Some("initialStaticValue0123456789abcdef"),
            ),
        };
        cdn.insert(&distribution, config);

        World {
            mode,
            sdk,
            sm,
            lambda,
            secret,
            function,
            function_arn,
            other_function_arn,
            rotation_lambda_arn: unqualified(&other_out.arn).to_owned(),
            cdn,
            distribution,
            origin,
            initial_token,
            seen_history: Mutex::new(0),
            version_key_cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            (
                "CLOUDFRONT_DISTRIBUTION_ID".to_owned(),
                self.distribution.clone(),
            ),
            ("ORIGIN_URL".to_owned(), self.origin.url.clone()),
            ("ORIGIN_TEST_TIMEOUT_MS".to_owned(), "2000".to_owned()),
            ("DEPLOY_POLL_INTERVAL_MS".to_owned(), "10".to_owned()),
            ("DEADLINE_MARGIN_MS".to_owned(), "0".to_owned()),
        ];
        if self.mode == TargetKind::Signed {
            vars.push(("EDGE_FUNCTION_NAME".to_owned(), self.function.clone()));
            vars.push(("EDGE_ASSETS_DIR".to_owned(), "/unused-in-tests".to_owned()));
            // EDGE_KEEP_VERSIONS is left at its default (3), as deployed: moto numbers
            // versions as Lambda does (testkit/moto/server.py), so pruning is exercised
            // by every world that rotates more than three times.
        } else {
            vars.push(("ROTATION_TARGET".to_owned(), "static-header".to_owned()));
            // The origin here is the prior art's authorizer (current + pending only, no
            // previous-key grace): finishing must wait for `Deployed`.
            vars.push(("WAIT_FOR_DEPLOYED".to_owned(), "true".to_owned()));
        }
        vars
    }

    pub fn config_with(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars: HashMap<String, String> = self.env().into_iter().collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
    }

    /// The rotator for `config`'s target (signed or static-header), every client behind
    /// `plan`'s fault injector.
    pub fn rotator_with<C: DistributionApi + 'static>(
        &self,
        config: Config,
        plan: Arc<FaultPlan>,
        cdn: C,
    ) -> BoxedRotator {
        let secrets = Faulty::new(SdkSecrets::new(&self.sdk), plan.clone());
        let cdn = Faulty::new(cdn, plan.clone());
        match config.kind() {
            TargetKind::Signed => {
                let lambda = Faulty::new(SdkLambda::new(&self.sdk), plan);
                let target = SignedTarget::from_config(&config, lambda, cdn, assets()).unwrap();
                Box::new(Rotator::new(config, secrets, target))
            }
            _ => {
                let target = StaticHeaderTarget::from_config(&config, cdn).unwrap();
                Box::new(Rotator::new(config, secrets, target))
            }
        }
    }

    pub fn rotator(&self, plan: Arc<FaultPlan>) -> BoxedRotator {
        self.rotator_with(self.config_with(&[]), plan, self.cdn.clone())
    }

    /// What Secrets Manager does when a rotation starts.
    pub async fn start_rotation(&self) -> String {
        edgeseal_testkit::start_rotation(&self.sm, &self.secret, &self.rotation_lambda_arn)
            .await
            .unwrap()
    }

    pub fn event(&self, step: Step, token: &str) -> RotationEvent {
        RotationEvent {
            step,
            secret_id: self.secret.clone(),
            client_request_token: token.to_owned(),
            rotation_token: Some(new_token()),
        }
    }

    pub async fn current_version(&self) -> String {
        version_stages(&self.sm, &self.secret)
            .await
            .into_iter()
            .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
            .map(|(id, _)| id)
            .expect("AWSCURRENT lost")
    }

    /// Map every published edge version to the key it carries, by recomputing the
    /// deterministic package for every key version of the secret. What a version runs is
    /// read by its number (`GetFunctionConfiguration` with the qualifier, as CloudFront
    /// resolves an association), not taken from the listing: a listing that shows a
    /// number twice (moto 5.2.6 reused numbers after a delete; issue 23) must not make
    /// the invariants believe a distribution runs the newer package.
    pub async fn version_keys(&self) -> HashMap<String, (String, SigningKey)> {
        let mut by_sha = HashMap::new();
        let versions = self
            .sm
            .list_secret_version_ids()
            .secret_id(&self.secret)
            .include_deprecated(true)
            .send()
            .await
            .unwrap();
        for v in versions.versions() {
            let id = v.version_id().unwrap();
            if let Some(value) = secret_value(&self.sm, &self.secret, id).await
                && let Ok(SecretValue::Hmac(key)) = SecretValue::parse(&value, None)
            {
                by_sha.insert(sha_for(id, &key), (id.to_owned(), key));
            }
        }
        let mut out = HashMap::new();
        let listed = self
            .lambda
            .list_versions_by_function()
            .function_name(&self.function)
            .send()
            .await
            .unwrap();
        for f in listed.versions() {
            let arn = f.function_arn().unwrap();
            let runs = self
                .lambda
                .get_function_configuration()
                .function_name(&self.function)
                .qualifier(f.version().unwrap())
                .send()
                .await
                .unwrap();
            if let Some(entry) = by_sha.get(runs.code_sha256().unwrap_or_default()) {
                out.insert(arn.to_owned(), entry.clone());
            }
        }
        out
    }

    pub fn edge_arns(&self, config: &DistributionConfig) -> Vec<String> {
        edgeseal_rotator::associations(config)
            .filter(|a| a.event_type == EventType::OriginRequest)
            .filter(|a| unqualified(&a.lambda_function_arn) == self.function_arn)
            .map(|a| a.lambda_function_arn.clone())
            .collect()
    }

    /// The safety invariants, checked after every step invocation:
    /// AWSCURRENT exists and parses; every distribution config edges may be running,
    /// and every config set since the last check, makes requests the authorizer (keys
    /// loaded as it loads them) accepts; the other function's association is untouched.
    pub async fn check_invariants(&self) {
        let current = self
            .sm
            .get_secret_value()
            .secret_id(&self.secret)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("AWSCURRENT lost");
        SecretValue::parse(
            current.secret_string().expect("AWSCURRENT has no value"),
            Some(FIELD),
        )
        .expect("AWSCURRENT unparsable");

        let history = self.cdn.history(&self.distribution);
        let mut configs = self.cdn.live_configs(&self.distribution);
        {
            let mut seen = self.seen_history.lock().unwrap();
            configs.extend(history.iter().skip(*seen).cloned());
            *seen = history.len();
        }

        match self.mode {
            TargetKind::AppSyncApiKey => {
                unreachable!("the AppSync target has its own world (target_appsync.rs)")
            }
            TargetKind::Signed => {
                let keys = authorizer_keys(&self.sm, &self.secret).await;
                let named: Vec<String> = configs.iter().flat_map(|c| self.edge_arns(c)).collect();
                let known = {
                    let cache = self.version_key_cache.lock().unwrap();
                    named.iter().all(|arn| cache.contains_key(arn))
                };
                if !known {
                    let fresh = self.version_keys().await;
                    self.version_key_cache.lock().unwrap().extend(fresh);
                }
                let version_keys = self.version_key_cache.lock().unwrap().clone();
                let request = RequestView::new("GET", "api.example.com", "/prod/orders", "a=1");
                for config in &configs {
                    let arns = self.edge_arns(config);
                    assert_eq!(
                        arns.len(),
                        2,
                        "both behaviors keep their origin-request association"
                    );
                    for arn in arns {
                        let (keyid, key) = version_keys.get(&arn).unwrap_or_else(|| {
                            panic!("distribution names {arn}, which carries no key of the secret")
                        });
                        let signed =
                            Signer::new(LABEL, KeyId::new(keyid.clone()).unwrap(), key.clone())
                                .unwrap()
                                .sign_at(now(), &request)
                                .unwrap();
                        let arriving = request
                            .clone()
                            .with_header("signature-input", signed.signature_input())
                            .with_header("signature", signed.signature());
                        if let Err(rejection) =
                            Verifier::new(LABEL)
                                .unwrap()
                                .verify_at(now(), &arriving, &keys)
                        {
                            panic!(
                                "edge version {arn} (keyid {keyid}) would be rejected: {}",
                                rejection.code()
                            );
                        }
                    }
                    let viewer: Vec<_> = edgeseal_rotator::associations(config)
                        .filter(|a| a.event_type == EventType::ViewerRequest)
                        .map(|a| a.lambda_function_arn.clone())
                        .collect();
                    assert_eq!(
                        viewer,
                        vec![self.other_function_arn.clone(); 2],
                        "other function untouched"
                    );
                }
            }
            TargetKind::StaticHeader | TargetKind::ApiKey | TargetKind::Waf => {
                let accepted = accepted_static_values(&self.sm, &self.secret).await;
                for config in &configs {
                    let values: Vec<&str> = custom_headers(config, HEADER).collect();
                    assert_eq!(values.len(), 1);
                    assert!(
                        accepted.iter().any(|a| a == values[0]),
                        "distribution sends a header value the authorizer rejects"
                    );
                    let other: Vec<&str> = custom_headers(config, "x-other").collect();
                    assert_eq!(other, ["keep-me"]);
                }
            }
        }
    }

    /// The configs set so far are the user's, not the rotator's: the invariants judge
    /// only what is set from now on (and what edges run).
    pub fn forget_history(&self) {
        *self.seen_history.lock().unwrap() = self.cdn.history(&self.distribution).len();
    }

    /// Drive the four steps as Secrets Manager does: on a failed step, the whole
    /// rotation is retried with the same token. Invariants are checked after every step.
    /// Returns how many attempts it took.
    pub async fn rotate_like_secrets_manager(
        &self,
        rotator: &dyn RunStep,
        token: &str,
        max_attempts: usize,
    ) -> (usize, Vec<String>) {
        edgeseal_testkit::rotate_like_secrets_manager(
            max_attempts,
            |step| {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                let event = self.event(step, token);
                async move {
                    rotator
                        .run(&event, deadline)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
            },
            || self.check_invariants(),
        )
        .await
        .unwrap_or_else(|errors| {
            panic!("rotation did not converge in {max_attempts} attempts: {errors:?}")
        })
    }

    /// After a completed rotation to `token`: it is AWSCURRENT, the old one AWSPREVIOUS,
    /// and the distribution sends the new key everywhere.
    pub async fn assert_rotated(&self, token: &str, previous: &str) {
        let stages = version_stages(&self.sm, &self.secret).await;
        assert!(
            stages[token].iter().any(|s| s == "AWSCURRENT"),
            "{stages:?}"
        );
        assert!(
            stages[previous].iter().any(|s| s == "AWSPREVIOUS"),
            "{stages:?}"
        );
        let config = self.cdn.config(&self.distribution).unwrap();
        match self.mode {
            TargetKind::AppSyncApiKey => {
                unreachable!("the AppSync target has its own world (target_appsync.rs)")
            }
            TargetKind::Signed => {
                let keys = self.version_keys().await;
                for arn in self.edge_arns(&config) {
                    assert_eq!(
                        keys[&arn].0, token,
                        "distribution names an edge version with the new key"
                    );
                }
            }
            TargetKind::StaticHeader | TargetKind::ApiKey | TargetKind::Waf => {
                let value = secret_value(&self.sm, &self.secret, token).await.unwrap();
                let SecretValue::StaticHeader(v) = SecretValue::parse(&value, Some(FIELD)).unwrap()
                else {
                    panic!()
                };
                assert_eq!(
                    custom_headers(&config, HEADER).collect::<Vec<_>>(),
                    [v.expose()]
                );
            }
        }
    }

    pub async fn edgeseal_versions_for(&self, token: &str) -> usize {
        let listed = self
            .lambda
            .list_versions_by_function()
            .function_name(&self.function)
            .send()
            .await
            .unwrap();
        listed
            .versions()
            .iter()
            .filter(|v| v.description() == Some(&format!("edgeseal keyid={token}")))
            .count()
    }
}

pub fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

pub fn distinct<T: std::hash::Hash + Eq + Clone>(items: &[T]) -> usize {
    items.iter().cloned().collect::<HashSet<_>>().len()
}

pub fn is_origin_error(e: &RotationError) -> bool {
    matches!(e, RotationError::Origin { .. })
}

/// SdkCloudFront pointed at moto (for what moto keeps: origin custom headers).
pub fn moto_cloudfront(sdk: &aws_config::SdkConfig) -> SdkCloudFront {
    SdkCloudFront::new(sdk)
}

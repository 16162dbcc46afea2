//! A stand-in OpenID Connect issuer on loopback: a discovery document and a JWK Set over
//! HTTP, fixture signing keys, keys added, switched and retired mid-run, and tokens signed
//! (or forged) the way a client would present them.
//!
//! What it reproduces, and where that is written:
//! - The discovery document at `<issuer>/.well-known/openid-configuration`, whose
//!   `issuer` equals the issuer URL and which names `jwks_uri`,
//!   `response_types_supported`, `subject_types_supported` and
//!   `id_token_signing_alg_values_supported` (OpenID Connect Discovery 1.0 §3, §4).
//! - The key set as a JWK Set: `{"keys": [...]}`, each key with `kty`, `kid`, `use`
//!   (`sig`) and `alg` (RFC 7517 §4, §5), at the path Cognito uses,
//!   `/.well-known/jwks.json` (Amazon Cognito Developer Guide, "Verifying a JSON Web
//!   Token").
//! - Rotation as IdPs do it: a new key is published, tokens are signed with it, and the
//!   old key is removed from the set later ([`OidcIssuer::retire`]); a key can also be
//!   published and used at once ([`OidcIssuer::rotate`]), which a verifier holding a
//!   cached set only learns by refetching it.
//! - Cognito's tokens: `iss` = the user pool URL, access tokens with `client_id` and no
//!   `aud`, ID tokens with `aud`, both with `token_use` (the same guide).
//!
//! The fixture keys in `fixtures/oidc/` were made with `openssl genpkey` for these tests
//! only; they protect nothing.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::lock;

/// The fixture keys, in the order [`OidcIssuer::add_key`] publishes them.
const FIXTURES: [(&str, Algorithm, &str); 5] = [
    (
        "rsa-1",
        Algorithm::RS256,
        include_str!("../fixtures/oidc/rsa-1.pem"),
    ),
    (
        "ec-1",
        Algorithm::ES256,
        include_str!("../fixtures/oidc/ec-1.pem"),
    ),
    (
        "rsa-2",
        Algorithm::RS256,
        include_str!("../fixtures/oidc/rsa-2.pem"),
    ),
    (
        "ec-2",
        Algorithm::ES256,
        include_str!("../fixtures/oidc/ec-2.pem"),
    ),
    (
        "rsa-3",
        Algorithm::RS256,
        include_str!("../fixtures/oidc/rsa-3.pem"),
    ),
];

/// Path of the key set.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

struct FixtureKey {
    kid: &'static str,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl FixtureKey {
    #[allow(clippy::expect_used)]
    fn load((kid, alg, pem): (&'static str, Algorithm, &str)) -> Self {
        let encoding = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .expect("fixture key parses");
        let jwk = Jwk::from_encoding_key(&encoding, alg).expect("fixture key has a JWK");
        let mut jwk = serde_json::to_value(jwk).expect("JWK serializes");
        if let Some(map) = jwk.as_object_mut() {
            map.insert("kid".into(), json!(kid));
            map.insert("use".into(), json!("sig"));
        }
        Self {
            kid,
            alg,
            encoding,
            jwk,
        }
    }
}

struct Keys {
    all: Vec<FixtureKey>,
    /// Indexes of the published keys, in publication order.
    published: Vec<usize>,
    /// Index of the key new tokens are signed with.
    signing: usize,
}

struct State {
    issuer: String,
    keys: Mutex<Keys>,
    discovery_requests: AtomicU64,
    jwks_requests: AtomicU64,
    failing: AtomicBool,
}

/// The running issuer. Dropping it stops the server.
pub struct OidcIssuer {
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OidcIssuer {
    /// Serve on a free loopback port, publishing `rsa-1` (the signing key) and `ec-1`.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State {
            issuer,
            keys: Mutex::new(Keys {
                all: FIXTURES.into_iter().map(FixtureKey::load).collect(),
                published: vec![0, 1],
                signing: 0,
            }),
            discovery_requests: AtomicU64::new(0),
            jwks_requests: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        });
        let served = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(respond(&state, &request)) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { state, task })
    }

    /// The issuer URL (`http://127.0.0.1:PORT`), the `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The key set's URL.
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.state.issuer)
    }

    /// Discovery documents served so far.
    pub fn discovery_requests(&self) -> u64 {
        self.state.discovery_requests.load(Ordering::Relaxed)
    }

    /// Key sets served so far.
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(Ordering::Relaxed)
    }

    /// While `true`, both documents answer 503 (an IdP outage).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::Relaxed);
    }

    /// The key ids published now.
    pub fn published(&self) -> Vec<String> {
        let keys = lock(&self.state.keys);
        keys.published
            .iter()
            .filter_map(|&i| keys.all.get(i))
            .map(|k| k.kid.to_owned())
            .collect()
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> String {
        let keys = lock(&self.state.keys);
        keys.all
            .get(keys.signing)
            .map_or_else(String::new, |k| k.kid.to_owned())
    }

    /// Publish the next fixture key not published yet (without signing with it); its
    /// `kid`, or `None` when every fixture key is out.
    pub fn add_key(&self) -> Option<String> {
        let mut keys = lock(&self.state.keys);
        let next = (0..keys.all.len()).find(|i| !keys.published.contains(i))?;
        keys.published.push(next);
        keys.all.get(next).map(|k| k.kid.to_owned())
    }

    /// Publish a new key and sign every new token with it at once; its `kid`.
    pub fn rotate(&self) -> Option<String> {
        let kid = self.add_key()?;
        let mut keys = lock(&self.state.keys);
        keys.signing = keys.all.iter().position(|k| k.kid == kid)?;
        Some(kid)
    }

    /// Remove `kid` from the published set (tokens it signed no longer verify).
    pub fn retire(&self, kid: &str) {
        let mut keys = lock(&self.state.keys);
        let Some(index) = keys.all.iter().position(|k| k.kid == kid) else {
            return;
        };
        keys.published.retain(|&i| i != index);
    }

    /// A token of `claims`, signed with the current signing key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.signing_kid(), claims)
    }

    /// A token of `claims` signed with fixture key `kid`, published or not.
    #[allow(clippy::expect_used)]
    pub fn sign_with(&self, kid: &str, claims: &Value) -> String {
        let keys = lock(&self.state.keys);
        let key = keys
            .all
            .iter()
            .find(|k| k.kid == kid)
            .expect("a fixture kid");
        let mut header = Header::new(key.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("fixture key signs")
    }

    /// The classic key-confusion forgery: an HS256 token whose HMAC key is the public
    /// JWK of `kid` (which anyone can fetch), naming that `kid`.
    #[allow(clippy::expect_used)]
    pub fn hmac_with_public_key(&self, kid: &str, claims: &Value) -> String {
        let public = {
            let keys = lock(&self.state.keys);
            keys.all
                .iter()
                .find(|k| k.kid == kid)
                .map(|k| k.jwk.to_string())
                .expect("a fixture kid")
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        let key = EncodingKey::from_secret(public.as_bytes()).expect("an HMAC key");
        jsonwebtoken::encode(&header, claims, &key).expect("HMAC signs")
    }

    /// Claims of a Cognito-style access token for `client_id`, valid from `now` for
    /// `lifetime_secs`, with `scope`.
    pub fn access_claims(
        &self,
        client_id: &str,
        now: u64,
        lifetime_secs: u64,
        scope: &str,
    ) -> Value {
        json!({
            "iss": self.state.issuer,
            "sub": "6418b458-d091-705e-122e-04bf2945fcdf",
            "client_id": client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            "iat": now,
            "exp": now + lifetime_secs,
            "jti": format!("jti-{now}-{lifetime_secs}"),
            "username": "demo-user",
            "cognito:groups": ["readers"],
        })
    }
}

/// An unsigned token (`alg: none`, empty signature: RFC 7519 §6.1).
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

fn respond(state: &State, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        response
    };
    let path = request.uri().path();
    let counter = match path {
        "/.well-known/openid-configuration" => &state.discovery_requests,
        JWKS_PATH => &state.jwks_requests,
        _ => return reply(StatusCode::NOT_FOUND, "{}".into()),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if state.failing.load(Ordering::Relaxed) {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "{}".into());
    }
    if path == JWKS_PATH {
        let keys = lock(&state.keys);
        let published: Vec<&Value> = keys
            .published
            .iter()
            .filter_map(|&i| keys.all.get(i))
            .map(|k| &k.jwk)
            .collect();
        return reply(StatusCode::OK, json!({ "keys": published }).to_string());
    }
    let document = json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}{JWKS_PATH}", state.issuer),
        "authorization_endpoint": format!("{}/oauth2/authorize", state.issuer),
        "token_endpoint": format!("{}/oauth2/token", state.issuer),
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "scopes_supported": ["openid", "email", "orders/read", "orders/write"],
    });
    reply(StatusCode::OK, document.to_string())
}

//! An API Gateway HTTP API stand-in: a named stage, a Lambda REQUEST authorizer (payload
//! 2.0, simple responses) with the signature headers as identity source and no result
//! caching, in front of an HTTP backend.
//!
//! As API Gateway does: a request missing an identity source header gets 401 without
//! the authorizer being invoked; `isAuthorized: false` gets 403; an authorizer failure
//! gets 500; an allowed request goes to the backend with the authorizer context.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;
use http_body_util::Full;
use serde_json::{Map, Value, json};

use edgeseal_testkit::api_gateway::ApiKeyStage;

use crate::stack::http::{Body, HttpClient, WholeRequest, json as json_response};
use crate::stack::runtime_api::LambdaFunction;

/// The response header carrying API Gateway's request id.
pub const REQUEST_ID_HEADER: &str = "apigw-requestid";

/// Identity sources of signed mode (static-header mode: the header; see
/// `ApiGateway::with_identity_sources`): both must be present or API Gateway answers 401 by itself. The
/// stand-in never caches authorizer results (the template's AuthorizerResultTtlInSeconds
/// is 0): every request invokes the authorizer.
pub const IDENTITY_SOURCES: [&str; 2] = ["signature-input", "signature"];

/// The stand-in's configuration and connections.
pub struct ApiGateway {
    /// The authorizer, running as its real binary.
    pub authorizer: Arc<LambdaFunction>,
    /// Where the backend integration listens.
    pub backend: SocketAddr,
    /// The API id in the execute-api domain.
    pub api_id: String,
    /// The stage name (the first path segment).
    pub stage: String,
    /// Client for the backend.
    pub client: HttpClient,
    /// Headers that must be present for the authorizer to be invoked (lowercase).
    pub identity_sources: Vec<String>,
    /// A REST stage whose methods require an API key (`--target api-gateway-api-key`):
    /// API Gateway's own key check decides, no authorizer is invoked.
    pub api_keys: Option<Arc<ApiKeyStage>>,
    requests: AtomicU64,
}

impl ApiGateway {
    /// A stand-in for API `api_id`, stage `stage`.
    pub fn new(
        authorizer: Arc<LambdaFunction>,
        backend: SocketAddr,
        api_id: &str,
        stage: &str,
    ) -> Self {
        Self {
            authorizer,
            backend,
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            client: crate::stack::http::client(),
            identity_sources: IDENTITY_SOURCES.map(str::to_owned).to_vec(),
            api_keys: None,
            requests: AtomicU64::new(0),
        }
    }

    /// The same API as a REST stage whose methods require an API key: a request is let
    /// through only if [`ApiKeyStage::admits`] its key, else `403 {"message":"Forbidden"}`
    /// (API Gateway's `INVALID_API_KEY` response; sources in `edgeseal_testkit::api_gateway`).
    pub fn with_api_keys(mut self, stage: Arc<ApiKeyStage>) -> Self {
        self.api_keys = Some(stage);
        self
    }

    /// The same API with other identity sources (static-header mode: the header).
    pub fn with_identity_sources(mut self, sources: &[&str]) -> Self {
        self.identity_sources = sources.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The execute-api domain name CloudFront uses as origin domain.
    pub fn domain_name(&self) -> String {
        format!("{}.execute-api.us-east-1.amazonaws.com", self.api_id)
    }

    /// Handle one request as API Gateway would. Every response carries the request id in
    /// `apigw-requestid`, as HTTP API responses do (seen on every response, 2xx to 5xx,
    /// in published captures, e.g. `Apigw-Requestid: WSg1ihmdliAEJXA=`); the authorizer
    /// logs the same id (`requestContext.requestId`) with its verdict.
    pub async fn handle(&self, req: WholeRequest) -> http::Response<Body> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("req-{n:010}");
        let mut response = self.respond(&req, &request_id).await;
        if let Ok(value) = http::HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }

    async fn respond(&self, req: &WholeRequest, request_id: &str) -> http::Response<Body> {
        if let Some(keys) = &self.api_keys {
            let presented = req
                .parts
                .headers
                .get(keys.header())
                .and_then(|v| v.to_str().ok());
            let Some(key_id) = keys.admitted_key(presented) else {
                return json_response(StatusCode::FORBIDDEN, &json!({"message": "Forbidden"}));
            };
            // The backend's `keyid`: the API key's id, as a REST API hands it to its
            // integration (`$context.identity.apiKeyId`), never its value.
            let context = json!({ "keyid": key_id });
            return self.integrate(req, context, request_id).await;
        }
        let headers = lowercase_headers(&req.parts.headers);
        if self
            .identity_sources
            .iter()
            .any(|h| !headers.contains_key(h.as_str()))
        {
            return json_response(
                StatusCode::UNAUTHORIZED,
                &json!({"message": "Unauthorized"}),
            );
        }
        // An HTTP API decodes the path (twice) before anything else, and refuses one it
        // cannot decode: edgeseal::canonical::http_api_raw_path, from live captures.
        let Some(decoded_path) = edgeseal::canonical::http_api_raw_path(req.parts.uri.path())
        else {
            return json_response(StatusCode::BAD_REQUEST, &json!({"message": "Bad Request"}));
        };
        let event = self.authorizer_event(req, &decoded_path, &headers, request_id);
        let verdict = match self.authorizer.invoke(&event).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "authorizer failed");
                return json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"message": "Internal Server Error"}),
                );
            }
        };
        if verdict.get("isAuthorized").and_then(Value::as_bool) != Some(true) {
            return json_response(StatusCode::FORBIDDEN, &json!({"message": "Forbidden"}));
        }
        self.integrate(
            req,
            verdict.get("context").cloned().unwrap_or_default(),
            request_id,
        )
        .await
    }

    fn authorizer_event(
        &self,
        req: &WholeRequest,
        raw_path: &str,
        headers: &Map<String, Value>,
        request_id: &str,
    ) -> Value {
        let method = req.parts.method.as_str();
        let raw_query = req.parts.uri.query().unwrap_or("");
        let route_path = raw_path
            .strip_prefix(&format!("/{}", self.stage))
            .unwrap_or(raw_path);
        let mut query = Map::new();
        for piece in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            // HTTP APIs join repeated parameters with commas in queryStringParameters.
            let joined = match query.get(k).and_then(Value::as_str) {
                Some(prev) => format!("{prev},{v}"),
                None => v.to_owned(),
            };
            query.insert(k.to_owned(), Value::String(joined));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": format!("arn:aws:execute-api:us-east-1:123456789012:{}/{}/{}{}", self.api_id, self.stage, method, route_path),
            "identitySource": self.identity_sources.iter().map(|h| headers.get(h.as_str()).cloned().unwrap_or_default()).collect::<Vec<_>>(),
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "queryStringParameters": query,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": self.api_id,
                "domainName": self.domain_name(),
                "domainPrefix": self.api_id,
                "http": {
                    "method": method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
                },
                "requestId": request_id,
                "routeKey": "$default",
                "stage": self.stage,
                "time": "",
                "timeEpoch": now,
            },
            "pathParameters": {},
            "stageVariables": {},
        })
    }

    async fn integrate(
        &self,
        req: &WholeRequest,
        context: Value,
        request_id: &str,
    ) -> http::Response<Body> {
        let path_and_query = req.parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri = format!("http://{}{}", self.backend, path_and_query);
        let mut builder = http::Request::builder()
            .method(req.parts.method.clone())
            .uri(uri)
            .header("x-amzn-requestid", request_id);
        if let Value::Object(ctx) = &context {
            for (k, v) in ctx {
                let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                builder = builder.header(format!("x-authorizer-{}", k.to_ascii_lowercase()), value);
            }
        }
        let Ok(request) = builder.body(Full::new(req.body.clone())) else {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"message": "Internal Server Error"}),
            );
        };
        match self.client.request(request).await {
            Ok(response) => crate::stack::http::whole(response).await,
            Err(_) => json_response(StatusCode::BAD_GATEWAY, &json!({"message": "Bad Gateway"})),
        }
    }
}

/// Header names lowercased; repeated headers joined with commas, as HTTP APIs do.
fn lowercase_headers(headers: &http::HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let joined = match out.get(name.as_str()).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{value}"),
            None => value,
        };
        out.insert(name.as_str().to_owned(), Value::String(joined));
    }
    out
}

/// The sample backend: echoes who the authorizer said signed the request.
pub async fn backend(req: WholeRequest) -> http::Response<Body> {
    let header = |name: &str| {
        req.parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    json_response(
        StatusCode::OK,
        &json!({
            "ok": true,
            "path": req.parts.uri.path(),
            "keyid": header("x-authorizer-keyid"),
            "stage": header("x-authorizer-stage"),
        }),
    )
}

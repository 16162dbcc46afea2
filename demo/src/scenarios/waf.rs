//! The WAF target's origin: a regional web ACL on moto whose rule allows the static
//! header value CloudFront sends (the shape AWS's "CloudFront origin security with WAF
//! and Secrets Manager" solution deploys: an Allow rule on the header match, default
//! action Block), applied by testkit's WAF stand-in — each change reaching each of its
//! areas after that area's delay, as AWS documents for web ACL updates — in front of the
//! API Gateway stand-in. A blocked request gets WAF's default `403 Forbidden`.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_wafv2::types::{PositionalConstraint, Rule};
use edgeseal_testkit::waf::{AppliedWebAcl, Verdict, build};
use http::StatusCode;
use http_body_util::Full;

use crate::DemoError;
use crate::scenarios::static_header::HEADER_NAME;
use crate::stack::http::{Body, HttpClient, WholeRequest, text};

/// The header rule's name (AWS's solution names it `<stack>XOriginVerify`).
pub const RULE_NAME: &str = "edgeseal-demo-XOriginVerify";

/// How long each WAF area takes to apply a change: a few seconds, compressed like the
/// demo's CloudFront propagation.
pub const AREA_DELAYS_MS: [u64; 3] = [200, 900, 1_600];

/// The web ACL on moto: its name and id.
#[derive(Clone, Debug)]
pub struct WebAcl {
    /// `WAFACLNAME`.
    pub name: String,
    /// `WAFACLID`.
    pub id: String,
}

/// Create the web ACL: the header rule allowing `value`, default action Block.
pub async fn create_web_acl(
    client: &aws_sdk_wafv2::Client,
    value: &str,
) -> Result<WebAcl, DemoError> {
    let rule = Rule::builder()
        .name(RULE_NAME)
        .priority(0)
        .action(build::allow())
        .statement(build::byte_match(
            HEADER_NAME,
            value,
            PositionalConstraint::Exactly,
        ))
        .visibility_config(build::visibility(RULE_NAME))
        .build()
        .map_err(|e| DemoError::Setup(format!("web ACL rule: {e}")))?;
    let name = format!("edgeseal-demo-{}", std::process::id());
    let id = edgeseal_testkit::world::create_web_acl(client, &name, vec![rule], "edgeseal-demo")
        .await
        .map_err(|e| DemoError::Aws(e.to_string()))?;
    Ok(WebAcl { name, id })
}

/// The rotator's variables for the WAF target (on top of the static-header ones).
pub fn rotator_env(acl: &WebAcl) -> Vec<(&'static str, String)> {
    vec![
        ("WAFACLNAME", acl.name.clone()),
        ("WAFACLID", acl.id.clone()),
        ("WAF_RULE_NAME", RULE_NAME.to_owned()),
        // Longer than the slowest area's delay plus the stand-in's poll.
        ("WAF_SETTLE_SECS", "2".to_owned()),
        ("WAF_PROBE_INTERVAL_MS", "100".to_owned()),
    ]
}

/// The WAF in front of the API Gateway stand-in.
pub struct WafGate {
    waf: AppliedWebAcl,
    upstream: SocketAddr,
    client: HttpClient,
}

impl WafGate {
    /// Apply `acl` (read from moto through `client`) in front of `upstream`.
    pub async fn start(client: aws_sdk_wafv2::Client, acl: &WebAcl, upstream: SocketAddr) -> Self {
        let waf = AppliedWebAcl::start(
            client,
            &acl.name,
            &acl.id,
            AREA_DELAYS_MS.map(Duration::from_millis).to_vec(),
            Duration::from_millis(50),
        )
        .await;
        Self {
            waf,
            upstream,
            client: crate::stack::http::client(),
        }
    }

    /// Judge one request; forward what WAF allows.
    pub async fn handle(&self, req: WholeRequest) -> http::Response<Body> {
        let headers: Vec<(String, String)> = req
            .parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        match self.waf.judge(&headers).1 {
            Verdict::Allow => {}
            Verdict::Block => return text(StatusCode::FORBIDDEN, "Forbidden"),
            Verdict::Unsupported(why) => return text(StatusCode::INTERNAL_SERVER_ERROR, &why),
        }
        let path_and_query = req
            .parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut builder = http::Request::builder()
            .method(req.parts.method.clone())
            .uri(format!("http://{}{path_and_query}", self.upstream));
        for (name, value) in &req.parts.headers {
            builder = builder.header(name, value);
        }
        let Ok(outgoing) = builder.body(Full::new(req.body)) else {
            return text(StatusCode::BAD_GATEWAY, "unusable request");
        };
        match self.client.request(outgoing).await {
            Ok(response) => crate::stack::http::whole(response).await,
            Err(_) => text(StatusCode::BAD_GATEWAY, "origin did not answer"),
        }
    }
}

//! `--serve`: CloudFront's control plane over HTTP on loopback, from the same
//! [`FakeCloudFront`] the rotator updates, so that `edgeseal status --distribution-id` and
//! `edgeseal doctor` read the distribution through the real `aws-sdk-cloudfront` client
//! (`AWS_ENDPOINT_URL_CLOUDFRONT`, the service-specific endpoint variable: AWS SDKs and
//! Tools reference guide, "Service-specific endpoints",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>).
//!
//! Only the reads those commands make, in REST-XML of API version 2020-05-31 (CloudFront
//! API reference):
//! - `GET /2020-05-31/distribution/{Id}`: GetDistribution, a `Distribution` element and
//!   the `ETag` header (API_GetDistribution.html);
//! - `GET /2020-05-31/distribution/{Id}/config`: GetDistributionConfig, a
//!   `DistributionConfig` element and the `ETag` header (API_GetDistributionConfig.html);
//! - `GET /2020-05-31/cache-policy/{Id}` and `/origin-request-policy/{Id}`:
//!   GetCachePolicy / GetOriginRequestPolicy, with only the `QueryStringsConfig` the
//!   query-string check reads (API_GetCachePolicy.html, API_GetOriginRequestPolicy.html);
//! - `GET /2020-05-31/tagging?Resource=ARN`: ListTagsForResource, no tags (see [`tags`]);
//! - anything else: 404 with CloudFront's error document
//!   (`<ErrorResponse><Error><Type>Sender</Type><Code>…`), `NoSuchDistribution` /
//!   `NoSuchCachePolicy` / `NoSuchOriginRequestPolicy` for unknown ids, as the reference
//!   lists them under each operation's errors.
//!
//! Writes (UpdateDistribution) stay with the in-process rotator. Requests are not
//! authenticated: the stand-in is on loopback, and SigV4 is the SDK's, not under test.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::UNIX_EPOCH;

use aws_sdk_cloudfront::types::{
    CacheBehavior, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    LambdaFunctionAssociations, Origin,
};
use bytes::Bytes;
use edgeseal_rotator::{DeployStatus, DistributionApi as _, PolicyRef};
use edgeseal_testkit::FakeCloudFront;
use http::StatusCode;
use http_body_util::Full;
use tokio::net::TcpListener;

use crate::DemoError;
use crate::stack::http::{Body, WholeRequest};

/// The namespace of every 2020-05-31 document.
const NS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

/// Serve the control plane of `control` on a loopback port; its address.
pub async fn start_cloudfront_api(control: FakeCloudFront) -> Result<SocketAddr, DemoError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Config(format!("CloudFront API listener: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Config(format!("CloudFront API listener: {e}")))?;
    tokio::spawn(crate::stack::http::serve(
        listener,
        move |req: WholeRequest| {
            let control = control.clone();
            async move { answer(&control, &req).await }
        },
    ));
    Ok(addr)
}

async fn answer(control: &FakeCloudFront, req: &WholeRequest) -> http::Response<Body> {
    if req.parts.method != http::Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidArgument",
            "this stand-in serves reads only",
        );
    }
    let path = req.parts.uri.path();
    let parts: Vec<&str> = path
        .strip_prefix("/2020-05-31/")
        .unwrap_or_default()
        .split('/')
        .collect();
    match parts.as_slice() {
        ["distribution", id] => distribution(control, id).await,
        ["distribution", id, "config"] => match control.get_config(id).await {
            Ok((config, etag)) => xml(&etag, &config_xml(&config, true)),
            Err(_) => no_such_distribution(id),
        },
        ["tagging"] => tags(control, req.parts.uri.query().unwrap_or_default()).await,
        ["cache-policy", id] => policy(control, PolicyRef::Cache((*id).to_owned())).await,
        ["origin-request-policy", id] => {
            policy(control, PolicyRef::OriginRequest((*id).to_owned())).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "InvalidArgument",
            &format!("not served by the demo: GET {path}"),
        ),
    }
}

async fn distribution(control: &FakeCloudFront, id: &str) -> http::Response<Body> {
    let (Ok((config, etag)), Ok(status)) = (control.get_config(id).await, control.status(id).await)
    else {
        return no_such_distribution(id);
    };
    let status = match status {
        DeployStatus::Deployed => "Deployed".to_owned(),
        DeployStatus::InProgress => "InProgress".to_owned(),
        DeployStatus::Other(s) => s,
    };
    let modified = control
        .last_modified(id)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| {
            aws_smithy_types::DateTime::from_secs(i64::try_from(d.as_secs()).ok()?)
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .ok()
        })
        .unwrap_or_default();
    let mut doc = format!("<Distribution xmlns=\"{NS}\">");
    leaf(&mut doc, "Id", id);
    leaf(
        &mut doc,
        "ARN",
        &format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
    );
    leaf(&mut doc, "Status", &status);
    leaf(&mut doc, "LastModifiedTime", &modified);
    leaf(&mut doc, "InProgressInvalidationBatches", "0");
    leaf(&mut doc, "DomainName", &FakeCloudFront::domain_of(id));
    doc.push_str(&config_xml(&config, false));
    doc.push_str("</Distribution>");
    xml(&etag, &doc)
}

/// ListTagsForResource (`GET /2020-05-31/tagging?Resource=ARN`, API_ListTagsForResource.html):
/// the demo's distribution carries no tags (no CloudFormation stack made it, which `status`
/// reads from `aws:cloudformation:stack-name`), so an empty `Tags` for a known one.
async fn tags(control: &FakeCloudFront, query: &str) -> http::Response<Body> {
    let arn = query
        .split('&')
        .find_map(|p| p.strip_prefix("Resource="))
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%2F", "/");
    let id = arn.rsplit('/').next().unwrap_or_default();
    if control.get_config(id).await.is_err() {
        return no_such_distribution(id);
    }
    xml("", &format!("<Tags xmlns=\"{NS}\"><Items></Items></Tags>"))
}

async fn policy(control: &FakeCloudFront, policy: PolicyRef) -> http::Response<Body> {
    let (kind, code, id) = match &policy {
        PolicyRef::Cache(id) => ("CachePolicy", "NoSuchCachePolicy", id.clone()),
        PolicyRef::OriginRequest(id) => (
            "OriginRequestPolicy",
            "NoSuchOriginRequestPolicy",
            id.clone(),
        ),
    };
    let Ok(all) = control.policy_forwards_all_query_strings(&policy).await else {
        return error(
            StatusCode::NOT_FOUND,
            code,
            &format!("The specified policy does not exist: {id}"),
        );
    };
    let behavior = if all { "all" } else { "none" };
    let query = format!(
        "<QueryStringsConfig><QueryStringBehavior>{behavior}</QueryStringBehavior></QueryStringsConfig>"
    );
    // A cache policy nests it in ParametersInCacheKeyAndForwardedToOrigin.
    let inner = match policy {
        PolicyRef::Cache(_) => format!(
            "<Name>{id}</Name><ParametersInCacheKeyAndForwardedToOrigin>{query}</ParametersInCacheKeyAndForwardedToOrigin>"
        ),
        PolicyRef::OriginRequest(_) => format!("<Name>{id}</Name>{query}"),
    };
    let doc = format!(
        "<{kind} xmlns=\"{NS}\"><Id>{id}</Id><LastModifiedTime>2020-01-01T00:00:00Z</LastModifiedTime><{kind}Config>{inner}</{kind}Config></{kind}>",
        id = escape(&id)
    );
    xml("E1POLICY", &doc)
}

/// The parts of a config the CLI and the proxy read. `root`: the document element of
/// GetDistributionConfig (with the namespace) rather than a child of `Distribution`.
fn config_xml(config: &DistributionConfig, root: bool) -> String {
    let mut doc = if root {
        format!("<DistributionConfig xmlns=\"{NS}\">")
    } else {
        "<DistributionConfig>".to_owned()
    };
    leaf(&mut doc, "CallerReference", &config.caller_reference);
    leaf(&mut doc, "Comment", &config.comment);
    leaf(&mut doc, "Enabled", &config.enabled.to_string());
    if let Some(origins) = &config.origins {
        let _ = write!(
            doc,
            "<Origins><Quantity>{}</Quantity><Items>",
            origins.items.len()
        );
        for o in &origins.items {
            origin_xml(&mut doc, o);
        }
        doc.push_str("</Items></Origins>");
    }
    if let Some(b) = &config.default_cache_behavior {
        doc.push_str("<DefaultCacheBehavior>");
        default_behavior_xml(&mut doc, b);
        doc.push_str("</DefaultCacheBehavior>");
    }
    if let Some(list) = &config.cache_behaviors {
        let items = list.items.as_deref().unwrap_or_default();
        let _ = write!(
            doc,
            "<CacheBehaviors><Quantity>{}</Quantity><Items>",
            items.len()
        );
        for b in items {
            doc.push_str("<CacheBehavior>");
            behavior_xml(&mut doc, b);
            doc.push_str("</CacheBehavior>");
        }
        doc.push_str("</Items></CacheBehaviors>");
    }
    doc.push_str("</DistributionConfig>");
    doc
}

fn origin_xml(doc: &mut String, o: &Origin) {
    doc.push_str("<Origin>");
    leaf(doc, "Id", &o.id);
    leaf(doc, "DomainName", &o.domain_name);
    leaf(
        doc,
        "OriginPath",
        o.origin_path.as_deref().unwrap_or_default(),
    );
    let headers = o
        .custom_headers
        .as_ref()
        .and_then(|h| h.items.as_deref())
        .unwrap_or_default();
    let _ = write!(doc, "<CustomHeaders><Quantity>{}</Quantity>", headers.len());
    if !headers.is_empty() {
        doc.push_str("<Items>");
        for h in headers {
            doc.push_str("<OriginCustomHeader>");
            leaf(doc, "HeaderName", &h.header_name);
            leaf(doc, "HeaderValue", &h.header_value);
            doc.push_str("</OriginCustomHeader>");
        }
        doc.push_str("</Items>");
    }
    doc.push_str("</CustomHeaders>");
    if let Some(c) = &o.custom_origin_config {
        custom_origin_xml(doc, c);
    }
    doc.push_str("</Origin>");
}

fn custom_origin_xml(doc: &mut String, c: &CustomOriginConfig) {
    doc.push_str("<CustomOriginConfig>");
    leaf(doc, "HTTPPort", &c.http_port.to_string());
    leaf(doc, "HTTPSPort", &c.https_port.to_string());
    leaf(
        doc,
        "OriginProtocolPolicy",
        c.origin_protocol_policy.as_str(),
    );
    doc.push_str("</CustomOriginConfig>");
}

fn default_behavior_xml(doc: &mut String, b: &DefaultCacheBehavior) {
    leaf(doc, "TargetOriginId", &b.target_origin_id);
    leaf(
        doc,
        "ViewerProtocolPolicy",
        b.viewer_protocol_policy.as_str(),
    );
    optional(doc, "CachePolicyId", b.cache_policy_id.as_deref());
    optional(
        doc,
        "OriginRequestPolicyId",
        b.origin_request_policy_id.as_deref(),
    );
    associations_xml(doc, b.lambda_function_associations.as_ref());
}

fn behavior_xml(doc: &mut String, b: &CacheBehavior) {
    leaf(doc, "PathPattern", &b.path_pattern);
    leaf(doc, "TargetOriginId", &b.target_origin_id);
    leaf(
        doc,
        "ViewerProtocolPolicy",
        b.viewer_protocol_policy.as_str(),
    );
    optional(doc, "CachePolicyId", b.cache_policy_id.as_deref());
    optional(
        doc,
        "OriginRequestPolicyId",
        b.origin_request_policy_id.as_deref(),
    );
    associations_xml(doc, b.lambda_function_associations.as_ref());
}

fn associations_xml(doc: &mut String, associations: Option<&LambdaFunctionAssociations>) {
    let items = associations
        .and_then(|a| a.items.as_deref())
        .unwrap_or_default();
    let _ = write!(
        doc,
        "<LambdaFunctionAssociations><Quantity>{}</Quantity>",
        items.len()
    );
    if !items.is_empty() {
        doc.push_str("<Items>");
        for a in items {
            doc.push_str("<LambdaFunctionAssociation>");
            leaf(doc, "LambdaFunctionARN", &a.lambda_function_arn);
            leaf(doc, "EventType", a.event_type.as_str());
            if let Some(body) = a.include_body {
                leaf(doc, "IncludeBody", &body.to_string());
            }
            doc.push_str("</LambdaFunctionAssociation>");
        }
        doc.push_str("</Items>");
    }
    doc.push_str("</LambdaFunctionAssociations>");
}

fn leaf(doc: &mut String, name: &str, value: &str) {
    let _ = write!(doc, "<{name}>{}</{name}>", escape(value));
}

fn optional(doc: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        leaf(doc, name, v);
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml(etag: &str, doc: &str) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{doc}"
    ))));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    if !etag.is_empty()
        && let Ok(v) = http::HeaderValue::from_str(etag)
    {
        headers.insert(http::header::ETAG, v);
    }
    response
}

fn no_such_distribution(id: &str) -> http::Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "NoSuchDistribution",
        &format!("The specified distribution does not exist: {id}"),
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(Bytes::from(format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>demo</RequestId></ErrorResponse>",
        escape(message)
    ))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    response
}

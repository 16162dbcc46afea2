//! The command line, declared with clap's derive API. Every command has `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  verification failed, check failed, or (sign --send) the origin did not answer 2xx
  2  usage or configuration error (bad arguments, unreadable key file, secret not a key)
  3  AWS or network error (credentials, permissions, not found, origin unreachable)";

/// Operate edgeseal: keys, signatures, rotation status.
///
/// AWS settings come from the usual places (AWS_PROFILE, AWS_REGION,
/// AWS_ENDPOINT_URL, ~/.aws/config, instance roles); the flags below override them.
#[derive(Debug, Parser)]
#[command(name = "edgeseal", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// Print one JSON object on stdout instead of text (errors too, on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// AWS region (default: the SDK's usual chain, e.g. AWS_REGION).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS named profile.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send AWS API calls to this endpoint (a local stand-in such as moto); the
    /// AWS_ENDPOINT_URL environment variable works too.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new 256-bit key (the only command that prints key material).
    #[command(after_help = EXIT_CODES)]
    Keygen(KeygenArgs),
    /// Sign a request as the edge would, print the Signature-Input and Signature
    /// headers, or send the signed request to the origin.
    #[command(after_help = EXIT_CODES)]
    Sign(SignArgs),
    /// Check Signature-Input / Signature values for a request against the secret's
    /// keys (AWSCURRENT, AWSPENDING, AWSPREVIOUS in its grace) and print the reason.
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Explain a verdict: the components the authorizer sees in an API Gateway
    /// authorizer event (or a request as the origin saw it), the signature base it
    /// builds, the key it looks for, the verdict and its reason, and, given the URL the
    /// edge signed (--sent-url), which component differs.
    #[command(after_help = EXIT_CODES)]
    Explain(Box<ExplainArgs>),
    /// Show the secret's versions and stages, last and next rotation, and which edge
    /// function version each cache behavior of the distribution runs.
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// Start a rotation now (Secrets Manager RotateSecret).
    #[command(after_help = EXIT_CODES)]
    Rotate(RotateArgs),
    /// Check a deployment end to end: a request through the distribution is allowed;
    /// straight to the origin, unsigned gets 401, forged and replayed get 403; plus the
    /// associations, query strings, edge versions, rotation, grace and authorizer cache.
    /// Run it after every deploy.
    #[command(after_help = EXIT_CODES)]
    Doctor(Box<DoctorArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    /// The edgeseal secret value: {"alg":"hmac-sha256","key":"<base64>"}.
    Secret,
    /// Only the base64 of the key.
    Base64,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// What to print.
    #[arg(long, value_enum, default_value_t = KeyFormat::Secret)]
    pub format: KeyFormat,
}

/// Where the key comes from.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct KeySource {
    /// Secrets Manager secret id, name or ARN holding the edgeseal key.
    #[arg(long, value_name = "ID")]
    pub secret_id: Option<String>,
    /// A file holding the key: the edgeseal secret JSON, or the key's base64.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

/// The request a signature covers.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// The URL as the origin sees it: https://HOST[:PORT]/PATH[?QUERY]. For a named
    /// API Gateway stage the path includes the stage.
    #[arg(long)]
    pub url: String,
}

/// Signature profile settings; they must match the edge and the authorizer.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Signature label (SIGNATURE_LABEL).
    #[arg(long, default_value = edgeseal::DEFAULT_LABEL)]
    pub label: String,
    /// Application tag (SIGNATURE_TAG); --no-tag for none.
    #[arg(long, default_value = edgeseal::DEFAULT_TAG, conflicts_with = "no_tag")]
    pub tag: String,
    /// Sign without / accept any application tag.
    #[arg(long)]
    pub no_tag: bool,
    /// Signing profile: `apigateway` (the canonical form, for API Gateway origins) or
    /// `raw` (RFC 9421's path and query as sent, for origins that receive the request
    /// unchanged: ALB, EC2, ECS, outside AWS). The edge's EDGE_ORIGIN_PROFILES entry.
    #[arg(long, default_value = "apigateway", value_name = "PROFILE")]
    pub signing_profile: edgeseal::Profile,
}

impl ProfileArgs {
    pub fn tag(&self) -> Option<&str> {
        (!self.no_tag).then_some(self.tag.as_str())
    }
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub key: KeySource,
    /// Staging label of the version to sign with (with --secret-id).
    #[arg(
        long,
        default_value = "AWSCURRENT",
        value_name = "STAGE",
        requires = "secret_id"
    )]
    pub stage: String,
    /// Key id to put in the signature (with --key-file; with --secret-id it is the
    /// version id).
    #[arg(long, value_name = "ID", requires = "key_file")]
    pub keyid: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Signature creation time, Unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECS")]
    pub created: Option<u64>,
    /// Send the signed request to the URL and print the response status (and body).
    #[arg(long)]
    pub send: bool,
    /// Extra request header for --send, "Name: value" (repeatable).
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        requires = "send"
    )]
    pub headers: Vec<String>,
    /// Request body for --send.
    #[arg(long, short = 'd', value_name = "BODY", requires = "send")]
    pub data: Option<String>,
    /// Timeout for --send, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout_secs: u64,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// The Signature-Input header value.
    #[arg(long, value_name = "VALUE")]
    pub signature_input: String,
    /// The Signature header value.
    #[arg(long, value_name = "VALUE")]
    pub signature: String,
    #[command(flatten)]
    pub key: KeySource,
    /// With --key-file: the key id the key has (default: whatever the signature names).
    #[arg(long, value_name = "ID", requires = "key_file")]
    pub keyid: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub check: CheckArgs,
}

/// How a signature is judged; the authorizer's settings of the same names.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Oldest accepted signature (MAX_AGE_SECS).
    #[arg(long, default_value_t = edgeseal::Verifier::DEFAULT_MAX_AGE_SECS, value_name = "SECS")]
    pub max_age_secs: u64,
    /// Accepted clock skew for created in the future (CLOCK_SKEW_SECS).
    #[arg(long, default_value_t = edgeseal::Verifier::DEFAULT_SKEW_SECS, value_name = "SECS")]
    pub skew_secs: u64,
    /// How long AWSPREVIOUS verifies after the rotation that demoted it
    /// (PREVIOUS_KEY_GRACE_SECS), counted from AWSCURRENT's creation.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub previous_grace_secs: u64,
    /// Judge as of this time, Unix seconds (default: now; replay a captured request or
    /// event with the time it arrived).
    #[arg(long, value_name = "UNIX_SECS")]
    pub at: Option<u64>,
}

impl CheckArgs {
    /// The verifier for these settings and `profile`.
    pub fn verifier(
        &self,
        profile: &ProfileArgs,
    ) -> Result<edgeseal::Verifier, crate::error::CliError> {
        use crate::error::CliError;
        Ok(edgeseal::Verifier::new(&profile.label)
            .map_err(|err| CliError::Usage(format!("--label: {err}")))?
            .with_tag(profile.tag())
            .map_err(|err| CliError::Usage(format!("--tag: {err}")))?
            .with_max_age_secs(self.max_age_secs)
            .with_skew_secs(self.skew_secs))
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Secrets Manager secret id, name or ARN.
    #[arg(long, value_name = "ID")]
    pub secret_id: String,
    /// CloudFront distribution(s) whose origin-request associations to show
    /// (repeatable or comma-separated). Default: the CLOUDFRONT_DISTRIBUTION_ID of the
    /// secret's rotation function.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub distribution_id: Vec<String>,
    /// SSM parameter holding the rotator's edge version record (default: the
    /// EDGE_VERSION_PARAMETER of the secret's rotation function), to tell whether a stack
    /// update would put another edge version back.
    #[arg(long, value_name = "NAME")]
    pub edge_version_parameter: Option<String>,
    /// Exit 1 when a check fails (rotation disabled, AWSCURRENT not a key, a rotation
    /// pending, a cache behavior without an origin-request association or with another
    /// function, or behaviors on different versions).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Secrets Manager secret id, name or ARN.
    #[arg(long, value_name = "ID")]
    pub secret_id: String,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Secrets Manager secret id, name or ARN (the stack's SecretArn output).
    #[arg(long, value_name = "ID")]
    pub secret_id: String,
    /// The CloudFront distribution (the stack's DistributionId output).
    #[arg(long, value_name = "ID")]
    pub distribution_id: String,
    /// Path (and query) to request through the distribution; on the origin it follows
    /// the origin path. It must answer --expect when allowed.
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub path: String,
    /// Method of the allowed requests.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// Status the allowed requests must get: 2xx or one code.
    #[arg(long, default_value = "2xx", value_name = "STATUS")]
    pub expect: String,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The authorizer's MAX_AGE_SECS (the replayed request is older than this).
    #[arg(long, default_value_t = edgeseal::Verifier::DEFAULT_MAX_AGE_SECS, value_name = "SECS")]
    pub max_age_secs: u64,
    /// The authorizer's PREVIOUS_KEY_GRACE_SECS.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub previous_grace_secs: u64,
    /// The authorizer's METRICS_NAMESPACE (the denial alarms watch its metrics).
    #[arg(
        long,
        default_value = origin_verifier::Config::DEFAULT_METRICS_NAMESPACE,
        value_name = "NAMESPACE"
    )]
    pub metrics_namespace: String,
    /// An issuer of the authorizer's JWT_ISSUERS: check that its discovery document and
    /// key set load from here (repeat for each).
    #[arg(long, value_name = "ISSUER")]
    pub jwt_issuer: Vec<String>,
    /// JWKS_URLS (ISSUER=URL,...), for issuers without discovery.
    #[arg(long, value_name = "ISSUER=URL", requires = "jwt_issuer")]
    pub jwks_urls: Option<String>,
    /// Send the probes for HOST (the distribution's or the origin's domain) to ADDR:PORT,
    /// an IP address, instead of where DNS points, like curl's --connect-to: the Host
    /// header, the signature and, over https, the TLS name and certificate check stay
    /// HOST's. For a stack not in DNS yet, or the plain-http stand-ins of
    /// `bash scripts/demo --serve` (repeat for each host).
    #[arg(long, value_name = "HOST=SCHEME://ADDR:PORT")]
    pub connect_to: Vec<String>,
}

#[derive(Debug, Args)]
#[group(id = "explain_input", required = true, multiple = false)]
pub struct ExplainInput {
    /// An API Gateway authorizer event as Lambda received it (HTTP API payload 2.0 or
    /// 1.0, REST REQUEST), as JSON: a file, or - for stdin.
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Instead of an event: the URL as the origin saw it, https://HOST/PATH?QUERY (path
    /// percent-encoded as sent); needs --signature-input and --signature.
    #[arg(long, requires_all = ["signature_input", "signature"])]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub input: ExplainInput,
    /// HTTP method (with --url).
    #[arg(long, short = 'X', default_value = "GET", requires = "url")]
    pub method: String,
    /// The Signature-Input header value (with --url).
    #[arg(long, value_name = "VALUE", requires = "url")]
    pub signature_input: Option<String>,
    /// The Signature header value (with --url).
    #[arg(long, value_name = "VALUE", requires = "url")]
    pub signature: Option<String>,
    /// The request the edge signed, as a URL: the origin's host, origin path + viewer
    /// URI, query string (method: the event's, or --method). Names every component the
    /// authorizer sees differently.
    #[arg(long, value_name = "URL")]
    pub sent_url: Option<String>,
    #[command(flatten)]
    pub key: KeySource,
    /// With --key-file: the key id the key has (default: whatever the signature names).
    #[arg(long, value_name = "ID", requires = "key_file")]
    pub keyid: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The authorizer's BASE_PATH_MAP (or =/PREFIX for its PATH_PREFIX), for events.
    #[arg(long, value_name = "MAP", default_value = "")]
    pub base_path_map: String,
    /// With --url: the Authorization header (`Bearer <token>`), for the JWT check.
    #[arg(long, value_name = "VALUE", requires = "url")]
    pub authorization: Option<String>,
    #[command(flatten)]
    pub jwt: JwtCheckArgs,
    #[command(flatten)]
    pub check: CheckArgs,
}

/// The authorizer's bearer-token settings (its `JWT_*` variables), to check the request's
/// token too; the issuer's keys are fetched from where the CLI runs.
#[derive(Debug, Args)]
pub struct JwtCheckArgs {
    /// JWT_ISSUERS: check the bearer token as the authorizer does.
    #[arg(long, value_name = "ISSUERS")]
    pub jwt_issuers: Option<String>,
    /// JWT_AUDIENCES.
    #[arg(long, value_name = "AUDIENCES", requires = "jwt_issuers")]
    pub jwt_audiences: Option<String>,
    /// JWT_SCOPES.
    #[arg(long, value_name = "RULES", requires = "jwt_issuers")]
    pub jwt_scopes: Option<String>,
    /// JWT_PUBLIC_ROUTES.
    #[arg(long, value_name = "ROUTES", requires = "jwt_issuers")]
    pub jwt_public_routes: Option<String>,
    /// JWT_TOKEN_USE.
    #[arg(long, value_name = "USE", requires = "jwt_issuers")]
    pub jwt_token_use: Option<String>,
    /// JWT_CLOCK_SKEW_SECS.
    #[arg(long, value_name = "SECS", requires = "jwt_issuers")]
    pub jwt_clock_skew_secs: Option<u64>,
    /// JWKS_URLS.
    #[arg(long, value_name = "ISSUER=URL", requires = "jwt_issuers")]
    pub jwks_urls: Option<String>,
}

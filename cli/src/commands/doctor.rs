//! `edgeseal doctor`: the library's checks ([`edgeseal_cli::doctor`]) against AWS, with
//! this binary's HTTP client, printed as text or JSON.

use std::fmt::Write as _;
use std::time::Duration;

use edgeseal_cli::doctor::sdk::Sdk;
use edgeseal_cli::doctor::{
    self, Authorizer, Distribution, EdgeVersion, Environment, Expect, PolicyRef, Request, Secret,
    Settings, Verdict,
};
use serde_json::json;

use crate::args::{Cli, DoctorArgs};
use crate::connect_to::ConnectTo;
use crate::error::{CliError, FAILED, OK};
use crate::output::Output;
use crate::target::{Target, check_method};
use crate::{aws, send};

/// AWS through the SDK, requests through `send`.
struct Live {
    sdk: Sdk,
    connect_to: Vec<ConnectTo>,
}

impl Environment for Live {
    async fn distribution(&self, id: &str) -> Result<Distribution, String> {
        self.sdk.distribution(id).await
    }

    async fn policy_forwards_all_query_strings(&self, policy: &PolicyRef) -> Result<bool, String> {
        self.sdk.policy_forwards_all_query_strings(policy).await
    }

    async fn secret(&self, id: &str) -> Result<Secret, String> {
        self.sdk.secret(id).await
    }

    async fn edge_version(&self, arn: &str) -> Result<EdgeVersion, String> {
        self.sdk.edge_version(arn).await
    }

    async fn published_versions(
        &self,
        function_arn: &str,
    ) -> Result<Vec<doctor::edge_code::PublishedVersion>, String> {
        self.sdk.published_versions(function_arn).await
    }

    async fn authorizers(&self, origin_domain: &str) -> Result<Vec<Authorizer>, String> {
        self.sdk.authorizers(origin_domain).await
    }

    async fn send(&self, request: &Request) -> Result<u16, String> {
        let target = Target {
            https: request.https,
            authority: request.authority.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
        };
        send::send(
            &request.method,
            &target,
            &request.headers,
            request.body.as_deref(),
            Duration::from_secs(15),
            &self.connect_to,
        )
        .await
        .map(|r| r.status)
        .map_err(|e| e.to_string())
    }
}

fn expect(value: &str) -> Result<Expect, CliError> {
    if value.eq_ignore_ascii_case("2xx") {
        return Ok(Expect::Success);
    }
    match value.parse::<u16>() {
        Ok(code) if (100..600).contains(&code) => Ok(Expect::Status(code)),
        _ => Err(CliError::Usage(format!(
            "--expect {value:?}: give 2xx or a status code"
        ))),
    }
}

pub async fn run(cli: &Cli, args: &DoctorArgs, out: &Output) -> Result<u8, CliError> {
    check_method(&args.method)?;
    if !args.path.starts_with('/') {
        return Err(CliError::Usage("--path must start with /".into()));
    }
    let settings = Settings {
        distribution_id: args.distribution_id.clone(),
        secret_id: args.secret_id.clone(),
        path: args.path.clone(),
        method: args.method.clone(),
        expect: expect(&args.expect)?,
        label: args.profile.label.clone(),
        tag: args.profile.tag().map(str::to_owned),
        max_age_secs: args.max_age_secs,
        previous_grace_secs: args.previous_grace_secs,
        now: edgeseal::UnixTime::now(),
    };
    let connect_to = args
        .connect_to
        .iter()
        .map(|a| ConnectTo::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    let env = Live {
        sdk: Sdk::new(&aws::sdk_config(&cli.global).await),
        connect_to,
    };
    // The secret's rotator names the target: signatures get the signature checks, the
    // other targets theirs (doctor::targets).
    let mut report = match doctor::targets::read_facts(&env.sdk, &settings.secret_id).await {
        Ok(Some(facts)) => doctor::targets::run_all(&env, &settings, &facts).await,
        Ok(None) => doctor::run(&env, &settings).await,
        Err(finding) => doctor::Report {
            findings: vec![finding],
        },
    };
    report
        .findings
        .extend(doctor::ops::run(&env.sdk, &settings.secret_id, &args.metrics_namespace).await);
    for issuer in &args.jwt_issuer {
        let jwks_url = args.jwks_urls.as_deref().and_then(|pairs| {
            pairs
                .split(',')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(i, _)| i.trim() == issuer)
                .map(|(_, url)| url.trim().to_owned())
        });
        report.findings.push(
            doctor::jwt_issuer::check(issuer, jwks_url.as_deref(), Duration::from_secs(10)).await,
        );
    }
    out.result(&json_report(&report), &text_report(&report));
    Ok(if report.ok() { OK } else { FAILED })
}

fn json_report(report: &doctor::Report) -> serde_json::Value {
    json!({
        "ok": report.ok(),
        "checks": report.findings.iter().map(|f| json!({
            "id": f.id,
            "result": f.verdict.as_str(),
            "proves": f.proves,
            "detail": f.detail,
            "cause": f.cause,
            "fix": f.fix,
        })).collect::<Vec<_>>(),
    })
}

/// One block per check: the verdict and what it proves; on failure what was seen, the
/// likely cause and the fix.
pub fn text_report(report: &doctor::Report) -> String {
    let mut text = String::new();
    for f in &report.findings {
        let _ = writeln!(text, "{} {:<22} {}", f.verdict.as_str(), f.id, f.proves);
        if !f.detail.is_empty() {
            let _ = writeln!(text, "     seen:  {}", f.detail);
        }
        if f.verdict == Verdict::Fail
            && let Some(cause) = &f.cause
        {
            let _ = writeln!(text, "     cause: {cause}");
        }
        // A skip may say what to deploy for the check to run.
        if f.verdict != Verdict::Pass
            && let Some(fix) = &f.fix
        {
            let _ = writeln!(text, "     fix:   {fix}");
        }
    }
    let failed = report
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    let _ = write!(
        text,
        "{}",
        if failed == 0 {
            "doctor: every check passed".to_owned()
        } else {
            format!("doctor: {failed} check(s) failed")
        }
    );
    text
}

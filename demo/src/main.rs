//! `edgeseal-demo`: run the whole system on loopback, rotating under load, and print
//! the summary. `bash scripts/demo` builds everything and starts moto first.
// A command-line program: its report is its output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use edgeseal_demo::{AppSyncDemoSettings, ChaosSettings, FirstRotation, Settings, parse_mode};

/// The user's options only: `--authorizer` and `--edge-assets` (the binaries
/// `scripts/demo` builds) are accepted but not shown.
const USAGE: &str = "usage: bash scripts/demo [--seconds N] [--rotations N] [--rate N] [--attack-rate N] [--propagation-secs N] [--rotator-timeout-secs N] [--target signed|static-header|waf|api-gateway-api-key|appsync-api-key] [--first-rotation immediate|config-test] [--origin apigateway|alb] [--chaos] [--jwt] [--no-progress] [--out DIR] [--serve]
  --serve  keep the stack up after the run, print its URLs, secret id and the environment
           for `edgeseal` and `curl`, and run every rotation started with RotateSecret
           (e.g. `edgeseal rotate`) until Ctrl-C";

/// What `--target` selects: one of the CloudFront flows (as `--mode`), or the AppSync one.
enum Run {
    /// The edge / static-header world (`run`).
    CloudFront(Box<Settings>, bool),
    /// `--target appsync-api-key` (`run_appsync`).
    AppSync(AppSyncDemoSettings),
    /// `--jwt`: user tokens checked after the signature (`run_jwt`).
    Jwt(Box<Settings>),
    /// `--origin alb` (`alb::run`): the origin behind a load balancer, the tower layer.
    Alb(Box<Settings>),
}

fn parse() -> Result<Run, String> {
    let moto = std::env::var("EDGESEAL_MOTO_URL")
        .map_err(|_| "EDGESEAL_MOTO_URL is not set (start moto: scripts/demo does)".to_owned())?;
    let mut authorizer = None;
    let mut assets = None;
    let mut out = PathBuf::from("target/demo");
    let mut args = std::env::args().skip(1);
    let mut rest = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--authorizer" => authorizer = Some(PathBuf::from(value("--authorizer")?)),
            "--edge-assets" => assets = Some(PathBuf::from(value("--edge-assets")?)),
            "--out" => out = PathBuf::from(value("--out")?),
            "-h" | "--help" => return Err(String::new()),
            _ => rest.push((
                arg.clone(),
                if arg == "--no-progress" || arg == "--chaos" || arg == "--jwt" || arg == "--serve"
                {
                    String::new()
                } else {
                    value(&arg)?
                },
            )),
        }
    }
    let mut settings = Settings::new(
        moto,
        authorizer.ok_or("--authorizer is required")?,
        assets.ok_or("--edge-assets is required")?,
        out,
    );
    let mut chaos = false;
    let mut jwt = false;
    let mut appsync = false;
    let mut alb = false;
    let mut serve = false;
    for (name, value) in rest {
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{name}: `{value}` is not a whole number"))
        };
        match name.as_str() {
            "--seconds" => settings.duration = Duration::from_secs(number()?.max(5)),
            "--rotations" => {
                settings.rotations = usize::try_from(number()?).map_err(|e| e.to_string())?
            }
            "--rate" => {
                settings.rate = u32::try_from(number()?.max(1)).map_err(|e| e.to_string())?
            }
            "--attack-rate" => {
                settings.attack_rate = u32::try_from(number()?.max(1)).map_err(|e| e.to_string())?
            }
            "--propagation-secs" => settings.propagation = Duration::from_secs(number()?),
            "--rotator-timeout-secs" => {
                settings.rotator_timeout = Duration::from_secs(number()?.max(1));
            }
            "--mode" => settings.mode = parse_mode(&value)?,
            "--target" if value == "appsync-api-key" => appsync = true,
            "--target" => settings.mode = parse_mode(&value)?,
            "--first-rotation" => settings.first_rotation = FirstRotation::parse(&value)?,
            "--no-progress" => settings.progress = false,
            "--chaos" => chaos = true,
            "--jwt" => jwt = true,
            "--serve" => serve = true,
            "--origin" => match value.as_str() {
                "alb" => alb = true,
                "apigateway" => alb = false,
                other => {
                    return Err(format!(
                        "--origin: expected apigateway or alb, got {other:?}"
                    ));
                }
            },
            other => return Err(format!("unknown option {other}")),
        }
    }
    if serve && (appsync || jwt || alb) {
        return Err(
            "--serve runs with the CloudFront targets only (not appsync-api-key, --jwt or --origin alb)"
                .into(),
        );
    }
    if appsync {
        if chaos {
            return Err("--chaos is not available with --target appsync-api-key".into());
        }
        return Ok(Run::AppSync(AppSyncDemoSettings {
            moto_url: settings.moto_url,
            duration: settings.duration,
            rotations: settings.rotations,
            rate: settings.rate,
            rotator_timeout: settings.rotator_timeout,
        }));
    }
    if jwt {
        if chaos || appsync || alb || settings.mode != edgeseal_rotator::TargetKind::Signed {
            return Err(
                "--jwt runs with the signed target only, without --chaos or --origin alb".into(),
            );
        }
        return Ok(Run::Jwt(Box::new(settings)));
    }
    if chaos {
        settings.chaos = Some(ChaosSettings::for_rotations(settings.rotations));
    }
    if alb {
        return Ok(Run::Alb(Box::new(settings)));
    }
    Ok(Run::CloudFront(Box::new(settings), serve))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The tower layer (`--origin alb`) logs every deny at warn, as the
                // authorizer does into its own log; the summary counts them instead.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,edgeseal_tower=error")
                }),
        )
        .init();
    let (settings, alb, serve) = match parse() {
        Ok(Run::CloudFront(s, serve)) => (*s, false, serve),
        Ok(Run::Alb(s)) => (*s, true, false),
        Ok(Run::AppSync(s)) => return run_appsync(&s).await,
        Ok(Run::Jwt(s)) => return run_jwt(&s).await,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("edgeseal-demo: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if alb {
        return print_report(edgeseal_demo::run_alb_origin(&settings).await);
    }
    let mut stop = match serve.then(interrupted).transpose() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("edgeseal-demo: cannot handle Ctrl-C: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stack = match edgeseal_demo::start(&settings).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("edgeseal-demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scripted = edgeseal_demo::run_on(&stack, &settings);
    let code = match stop.as_mut() {
        None => print_report(scripted.await),
        Some(stop) => tokio::select! {
            report = scripted => print_report(report),
            _ = stop => {
                eprintln!("edgeseal-demo: interrupted");
                ExitCode::FAILURE
            }
        },
    };
    if let Some(stop) = stop.filter(|s| !s.is_terminated()) {
        let cli = std::env::var("EDGESEAL_DEMO_CLI").unwrap_or_else(|_| "edgeseal".to_owned());
        let control_plane = match edgeseal_demo::start_cloudfront_api(stack.control.clone()).await {
            Ok(addr) => addr,
            Err(e) => {
                eprintln!("edgeseal-demo: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "\n{}",
            edgeseal_demo::serve_instructions(&stack, &settings, &cli, control_plane)
        );
        let stop = async {
            let _ = stop.await;
        };
        match edgeseal_demo::serve_until(&stack, &settings, stop).await {
            Ok(n) => println!("\nstopped after {n} rotation(s) started by hand"),
            Err(e) => eprintln!("edgeseal-demo: {e}"),
        }
    }
    if let Ok(a) = std::sync::Arc::try_unwrap(stack.authorizer) {
        a.stop().await;
    }
    code
}

/// The summary of the scripted run, and its exit status.
fn print_report(result: Result<edgeseal_demo::Report, edgeseal_demo::DemoError>) -> ExitCode {
    match result {
        Ok(report) => {
            println!("{}", report.summary);
            println!("Edge versions published: {}", report.edge_versions);
            if !report.reasons.is_empty() && !report.authorizer_peak_rss_kib.is_empty() {
                println!(
                    "Authorizer peak RSS (KiB, per process): {:?}",
                    report.authorizer_peak_rss_kib
                );
                print!("{}", report.authorizer_rss.lines());
            }
            println!("Timeline chart: {}", report.chart.display());
            for failure in &report.failed_rotations {
                println!("FAILED: {failure}");
            }
            let (_, attacks_passed) = report.mistakes();
            let chaos_incomplete = report.chaos.as_ref().is_some_and(|c| !c.complete());
            if chaos_incomplete {
                println!("FAILED: not every planned failure happened (see Chaos above)");
            }
            if report.unexpected_rejections() == 0
                && attacks_passed == 0
                && report.failed_rotations.is_empty()
                && !chaos_incomplete
            {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("edgeseal-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--target appsync-api-key`: exit 0 only if no legitimate request was refused, every
/// rotation completed and the forgotten first key was refused once deleted.
async fn run_appsync(settings: &AppSyncDemoSettings) -> ExitCode {
    match edgeseal_demo::run_appsync(settings).await {
        Ok(report) => {
            println!("{}", report.summary);
            for failure in &report.failed_rotations {
                println!("FAILED: {failure}");
            }
            if report.passed(settings.rotations) {
                ExitCode::SUCCESS
            } else {
                if report.legitimate_failures > 0 {
                    println!("FAILED: legitimate requests were refused");
                }
                if settings.rotations >= 2 && !report.stale_key_refused {
                    println!("FAILED: the forgotten first key was never refused");
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("edgeseal-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--jwt`: exit 0 only if no legitimate request was refused, no bad token let through,
/// every kind sent and every rotation completed.
async fn run_jwt(settings: &Settings) -> ExitCode {
    match edgeseal_demo::run_jwt(settings).await {
        Ok(report) => {
            println!("{}", report.summary);
            for failure in &report.failed_rotations {
                println!("FAILED: {failure}");
            }
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                println!("FAILED: see the table above");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("edgeseal-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A receiver that resolves on the first SIGINT (Ctrl-C) or SIGTERM, handled from now on
/// (so a Ctrl-C during the scripted run also stops the stack in order).
fn interrupted() -> Result<tokio::sync::oneshot::Receiver<()>, String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(|e| e.to_string())?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = tx.send(());
        }
    });
    Ok(rx)
}

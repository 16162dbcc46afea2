//! One scripted run on a started stack: steady legitimate traffic and attacks
//! ([`traffic`]), rotations in the middle of it, each driven step by step as Secrets
//! Manager drives the rotator ([`rotation`]) on an even plan with retries ([`schedule`]),
//! and the [`Report`] of what happened.

pub mod rotation;
pub mod schedule;
pub mod traffic;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::DemoError;
use crate::report::{self, Report};
use crate::scenarios::chaos::Chaos;
use crate::settings::Settings;
use crate::stack::{AUTHORIZER_FUNCTION, Stack, authorizer_log, http, start, template};
use rotation::Driver;
use traffic::{Kind, Outcome, Recorder, Targets};

/// Run the demo.
pub async fn run(settings: &Settings) -> Result<Report, DemoError> {
    let stack = start(settings).await?;
    let report = run_on(&stack, settings).await;
    if let Ok(a) = Arc::try_unwrap(stack.authorizer) {
        a.stop().await;
    }
    report
}

/// The scripted run (traffic, attacks, rotations) on a stack [`start`] started, which
/// stays up afterwards (`--serve` keeps answering on it).
pub async fn run_on(stack: &Stack, settings: &Settings) -> Result<Report, DemoError> {
    let Stack {
        aws,
        authorizer,
        api,
        targets,
        rotator,
        edges,
        chaos,
        template: rendered,
        rotation: rotation_settings,
        ..
    } = stack;
    let chaos = chaos.clone();

    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let mut tasks = spawn_traffic(targets, &recorder, started, settings, &stop, &phase);

    if let Some(c) = &chaos {
        tasks.push(tokio::spawn(Arc::clone(c).run(
            Arc::clone(authorizer),
            started,
            settings.duration,
        )));
    }

    // Rotations, evenly spread over the middle of the run, each retried until it
    // completes (the run may go on past `--seconds` for the last one, within a bound).
    let authorizer_rss_at_start = authorizer.peak_rss_by_process();
    let mut timeline = Vec::new();
    let mut failed_rotations = Vec::new();
    let mut step_timings = Vec::new();
    let mut driver = Driver {
        rotator,
        aws,
        timeout: settings.rotator_timeout,
        started,
        timeline: &mut timeline,
        timings: &mut step_timings,
    };
    if !rotation_settings.rotate_immediately
        && let Err(e) = driver.configuration_test().await
    {
        failed_rotations.push(e.to_string());
    }
    let plan = schedule::Plan::for_settings(settings);
    let Rotated {
        rotations,
        failed,
        seconds,
    } = rotate_then_stop(
        &mut driver,
        &plan,
        chaos.as_deref(),
        &phase,
        settings.duration,
        &stop,
        tasks,
    )
    .await;
    failed_rotations.extend(failed);

    let outcomes = recorder.snapshot();
    let authorizer_peak_rss_kib = authorizer.peak_rss_kib();
    let authorizer_rss = report::RssAtStartAndEnd {
        start: authorizer_rss_at_start,
        end: authorizer.peak_rss_by_process(),
    };
    let verdicts = authorizer_log::verdicts(
        &settings.out_dir,
        AUTHORIZER_FUNCTION,
        settings.authorizer_processes,
    );
    let reasons = authorizer_log::by_reason(&verdicts);
    let chart = settings.out_dir.join("timeline.svg");
    std::fs::write(&chart, report::svg(&outcomes, &timeline, seconds))
        .map_err(|e| DemoError::Setup(format!("writing the chart: {e}")))?;
    let chaos = chaos.map(|c| c.report(&outcomes, &verdicts, authorizer.lives(), started));
    let mut summary = template::summary_line(rendered, rotation_settings);
    summary.push_str(&report::summary(&outcomes, &reasons, &timeline, seconds));
    if let Some(keys) = &api.api_keys {
        // With API keys, API Gateway decides and the authorizer is never invoked.
        let (admitted, refused) = keys.verdicts();
        summary.push_str(&format!(
            "\nAPI Gateway's API key check (no authorizer): admitted {admitted}, refused {refused} (403)\n"
        ));
    }
    if let Some(c) = &chaos {
        summary.push_str(&c.summary());
    }
    summary.push_str(&report::longest_step_line(&step_timings));
    summary.push_str(&report::rotations(
        &rotations,
        settings.duration.as_secs_f64(),
        seconds,
        plan.overtime.as_secs_f64(),
    ));
    let edge_versions = edges.len();
    Ok(Report {
        outcomes,
        timeline,
        reasons,
        seconds,
        summary,
        chart,
        edge_versions,
        authorizer_peak_rss_kib,
        authorizer_rss,
        failed_rotations,
        rotations,
        chaos,
        step_timings,
    })
}

/// A scripted run's traffic until `stop`: legitimate requests at `--rate`, attacks at
/// `--attack-rate`, and the progress line unless `--no-progress`.
pub(crate) fn spawn_traffic(
    targets: &Targets,
    recorder: &Arc<Recorder>,
    started: Instant,
    settings: &Settings,
    stop: &Arc<AtomicBool>,
    phase: &Arc<AtomicUsize>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(traffic::legitimate(
            targets.clone(),
            Arc::clone(recorder),
            started,
            settings.rate,
            Arc::clone(stop),
        )),
        tokio::spawn(traffic::attacks(
            targets.clone(),
            Arc::clone(recorder),
            started,
            settings.attack_rate,
            Duration::from_secs(settings.max_age_secs + 1),
            Arc::clone(stop),
        )),
    ];
    if settings.progress {
        tasks.push(tokio::spawn(progress(
            Arc::clone(recorder),
            Arc::clone(stop),
            Arc::clone(phase),
            settings.rotations,
        )));
    }
    tasks
}

/// What [`rotate_then_stop`] leaves: the rotations, why the failed ones failed, and how
/// long the run lasted.
pub(crate) struct Rotated {
    pub rotations: Vec<schedule::RotationRecord>,
    pub failed: Vec<String>,
    pub seconds: f64,
}

/// Run `plan`'s rotations (under `chaos`, if any), let the traffic go on until
/// `duration` after the run started, then stop it and wait for its `tasks`.
pub(crate) async fn rotate_then_stop(
    driver: &mut Driver<'_>,
    plan: &schedule::Plan,
    chaos: Option<&Chaos>,
    phase: &AtomicUsize,
    duration: Duration,
    stop: &AtomicBool,
    tasks: Vec<JoinHandle<()>>,
) -> Rotated {
    let started = driver.started;
    let rotations = schedule::run_rotations(driver, plan, chaos, phase).await;
    let failed = rotations
        .iter()
        .filter_map(|r| match &r.fate {
            schedule::Fate::Failed { error, .. } => {
                Some(DemoError::Rotation(r.rotation, error.clone()).to_string())
            }
            _ => None,
        })
        .collect();
    tokio::time::sleep(duration.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    Rotated {
        rotations,
        failed,
        seconds: started.elapsed().as_secs_f64(),
    }
}

pub(crate) async fn warm_up(targets: &Targets) -> Result<(), DemoError> {
    warm_up_checked(targets, &|| None, Duration::ZERO).await
}

/// One request through the whole path before the clock starts, retried while the
/// stack settles (within CloudFront's propagation plus 10 s); an authorizer that cannot
/// start ends it at once.
pub(crate) async fn warm_up_checked(
    targets: &Targets,
    init_failure: &dyn Fn() -> Option<String>,
    propagation: Duration,
) -> Result<(), DemoError> {
    let client = http::client();
    let recorder = Recorder::default();
    let started = Instant::now();
    let until = Instant::now() + propagation + Duration::from_secs(10);
    while Instant::now() < until {
        if let Some(why) = init_failure() {
            return Err(DemoError::Setup(format!(
                "the authorizer cannot start: {why}"
            )));
        }
        traffic::send(
            &client,
            &recorder,
            started,
            Kind::Legitimate,
            &format!("{}/health", targets.cloudfront),
            &targets.cloudfront_host,
            &[],
        )
        .await;
        if recorder.snapshot().last().is_some_and(Outcome::allowed) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last = recorder.snapshot().last().map_or(0, |o| o.status);
    Err(DemoError::Setup(format!(
        "the first request through the stack did not succeed (last status {last}); see the logs in the output directory"
    )))
}

pub(crate) async fn progress(
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicUsize>,
    rotations: usize,
) {
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let outcomes = recorder.snapshot();
        let legit_ok = outcomes
            .iter()
            .filter(|o| o.kind == Kind::Legitimate && o.allowed())
            .count();
        let (legit_rejected, attacks_passed) = report::mistakes(&outcomes);
        let attacks_denied = outcomes
            .iter()
            .filter(|o| o.kind != Kind::Legitimate && !o.allowed())
            .count();
        eprint!(
            "\r{:>5.1}s  requests {:>6}  legitimate ok {:>6} rejected {:>3}  attacks denied {:>5} passed {:>2}  rotation {}/{}   ",
            started.elapsed().as_secs_f64(),
            outcomes.len(),
            legit_ok,
            legit_rejected,
            attacks_denied,
            attacks_passed,
            phase.load(Ordering::Relaxed),
            rotations
        );
    }
    eprintln!();
}

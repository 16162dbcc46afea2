//! # edgeseal demo: the whole system on one machine, rotating under load
//!
//! The rooms, each one concept:
//!
//! - [`settings`](Settings): what a run is asked to do (the user's options), and every
//!   value the demo sets on top of `deploy/template.yaml`, each with its reason.
//! - `stack/`: building the world, out of `deploy/template.yaml` ([`start`] returns a
//!   [`Stack`]):
//!   - **moto** for Secrets Manager, Lambda and IAM, through the real SDK (`stack/aws.rs`,
//!     `stack/iam.rs`); the template rendered through the SAM transform and each
//!     function's environment (`stack/template.rs`, `stack/environment.rs`);
//!   - the **CloudFront stand-in** (`stack/cloudfront.rs`): builds each origin-request
//!     event, runs the real edge zip of the version the distribution names (warm in
//!     Node.js, `stack/edge_worker.rs`), forwards to the origin. Its control plane is the
//!     rotator's faithful CloudFront fake, with a propagation window during which old and
//!     new edge versions both serve, and is served over HTTP for `--serve`
//!     ([`start_cloudfront_api`]);
//!   - the **API Gateway stand-in** (`stack/apigw.rs`): HTTP API payload 2.0 events for
//!     the **real authorizer binary**, run under a Lambda Runtime API emulator
//!     ([`LambdaFunction`]); its verdicts read back from its log
//!     (`stack/authorizer_log.rs`).
//! - `run/`: one scripted run on a stack ([`run`], [`run_on`]): steady signed requests
//!   through CloudFront and attacks straight at the origin (unsigned, forged, tampered,
//!   replayed after expiry: `run/traffic.rs`), and rotations in the middle of the traffic:
//!   the real rotator, in-process, driven step by step as Secrets Manager drives it
//!   (`run/rotation.rs`), on an even plan with retries (`run/schedule.rs`).
//! - `scenarios/`: what each mode adds, one file each. The default is `signed` (the
//!   stack and run above); `scenarios/mod.rs` says what differs between the targets
//!   (`static-header` is the header the secret holds), `waf.rs` and `api_key.rs` are the
//!   origins of the `waf` and `api-gateway-api-key` targets, `appsync.rs` the AppSync
//!   world ([`run_appsync`]), `alb.rs` the `--origin alb` run ([`run_alb_origin`]),
//!   `jwt.rs` the `--jwt` run ([`run_jwt`]), `chaos.rs` and `outage.rs` the `--chaos`
//!   failures, `serve.rs` the `--serve` mode ([`serve_until`]).
//! - `report/`: the [`Report`] of a run, its summary and the timeline chart (SVG).
//! - [`DemoError`]: why the demo could not run.
//!
//! [`run`] returns a [`Report`]; `edgeseal-demo` prints it and writes the timeline SVG.

mod error;
mod report;
mod run;
mod scenarios;
mod settings;
mod stack;

pub use crate::error::DemoError;
pub use crate::report::{Report, per_keyid};
pub use crate::run::rotation::{FirstRotation, longest_step};
pub use crate::run::schedule::Fate;
pub use crate::run::traffic::Kind;
pub use crate::run::{run, run_on};
pub use crate::scenarios::alb::run_alb_origin;
pub use crate::scenarios::appsync::{AppSyncDemoSettings, run_appsync};
pub use crate::scenarios::chaos::{ChaosSettings, NO_KEYS};
pub use crate::scenarios::jwt::{TokenKind, run_jwt};
pub use crate::scenarios::parse_mode;
pub use crate::scenarios::serve::{serve_instructions, serve_until};
pub use crate::settings::Settings;
pub use crate::stack::apigw::IDENTITY_SOURCES;
pub use crate::stack::aws::{rotation_event, start_rotation};
pub use crate::stack::cloudfront_api::start_cloudfront_api;
pub use crate::stack::http::{HttpClient, client as http_client};
pub use crate::stack::runtime_api::{InvokeError, LambdaFunction};
pub use crate::stack::template::TemplateSource;
pub use crate::stack::{DISTRIBUTION_ID, STAGE, Stack, start};

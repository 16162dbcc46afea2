//! Pointing CloudFront distributions: the collaborator that owns the CloudFront client
//! and the configured distributions.
//!
//! It reads each distribution's config, checks what must hold before it may send a new
//! value (behaviors running the edge signer forward all query strings; a staging
//! distribution of its continuous deployment policy is rotated too), writes it back with
//! its ETag (retried when someone else changed it meanwhile, and after throttling), and
//! waits for `Deployed` when configured. What is changed in a config is the caller's
//! edit (see [`super::edits`]), so every target that makes CloudFront send something
//! (an edge version, an origin header) shares this one read-check-write path.

use std::ops::ControlFlow;
use std::time::Duration;

use aws_sdk_cloudfront::types::DistributionConfig;
use tokio::time::Instant;
use tracing::warn;

use super::propagation::Guard;
use super::query_strings::hidden_query_string_behaviors;
use super::staging;
use super::throttle::retry_throttled;
use crate::aws::{ApiError, DeployStatus, DistributionApi};
use crate::deadline::poll_until;
use crate::error::RotationError;
use crate::optimistic_lock::{Edited, Written, retry_stale_token};
use crate::settings::Config;

/// The configured distributions and the CloudFront client that changes them.
pub struct Distributions<C> {
    cdn: C,
    ids: Vec<String>,
    update_attempts: u32,
    wait_for_deployed: bool,
    deploy_poll_interval: Duration,
}

impl<C: DistributionApi> Distributions<C> {
    /// The distributions of `config` (`CLOUDFRONT_DISTRIBUTION_ID` and the update and
    /// deployment settings), changed through `cdn`.
    pub fn new(cdn: C, config: &Config) -> Self {
        Self {
            cdn,
            ids: config.distributions.clone(),
            update_attempts: config.update_attempts,
            wait_for_deployed: config.wait_for_deployed,
            deploy_poll_interval: config.deploy_poll_interval,
        }
    }

    /// The distribution ids, in configuration order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// `GetDistributionConfig` of one distribution (no retry: a read-only check whose
    /// failure the rotation's retry covers).
    pub async fn config(&self, distribution: &str) -> Result<DistributionConfig, ApiError> {
        Ok(self.cdn.get_config(distribution).await?.0)
    }

    /// `GetDistribution`'s status of one distribution (throttling retried until
    /// `deadline`).
    pub async fn status(
        &self,
        distribution: &str,
        deadline: Instant,
    ) -> Result<DeployStatus, ApiError> {
        retry_throttled(deadline, || self.cdn.status(distribution)).await
    }

    /// Point every distribution: [`Self::check`] it (with the edge `function`, if the
    /// value is sent by one), then [`Self::update`] it with `edit`, which receives the
    /// distribution id. `done` is logged per distribution.
    pub async fn point_all(
        &self,
        function: Option<&str>,
        guard: Guard,
        deadline: Instant,
        mut edit: impl FnMut(&str, &mut DistributionConfig) -> Result<usize, RotationError>,
        done: impl Fn(&str),
    ) -> Result<(), RotationError> {
        for distribution in &self.ids {
            self.check(distribution, function, deadline).await?;
            self.update(distribution, guard, deadline, |config| {
                edit(distribution, config)
            })
            .await?;
            done(distribution);
        }
        Ok(())
    }

    /// What must hold before a distribution is pointed at a value (the edge `function`
    /// given when the value is sent by the edge signer): the behaviors running it forward
    /// all query strings, and a staging distribution of its continuous deployment policy
    /// is rotated too. Returns the config read.
    pub async fn check(
        &self,
        distribution: &str,
        function: Option<&str>,
        deadline: Instant,
    ) -> Result<DistributionConfig, RotationError> {
        let (config, _) = retry_throttled(deadline, || self.cdn.get_config(distribution)).await?;
        if let Some(function) = function {
            let hidden = hidden_query_string_behaviors(&self.cdn, &config, function).await?;
            if !hidden.is_empty() {
                return Err(RotationError::QueryStringsHidden {
                    distribution: distribution.to_owned(),
                    path_patterns: hidden,
                });
            }
        }
        staging::check_staging_rotated(&self.cdn, distribution, &config, &self.ids, deadline)
            .await?;
        Ok(config)
    }

    /// Read-modify-write of one distribution config with its ETag as `IfMatch`,
    /// retried (bounded) when someone else changed it in between, and after throttling
    /// (backoff with jitter, within the deadline). `edit` returns how many places it
    /// changed; zero means there is nothing to write. An `InProgress` distribution is
    /// updated unless `guard` says an earlier rotation may still be deploying (the prior
    /// art refused whenever it was `InProgress`, and so stalled behind any change).
    pub async fn update(
        &self,
        distribution: &str,
        guard: Guard,
        deadline: Instant,
        mut edit: impl FnMut(&mut DistributionConfig) -> Result<usize, RotationError>,
    ) -> Result<(), RotationError> {
        let attempts = self.update_attempts;
        let guard = &guard;
        let updated = retry_stale_token(
            attempts,
            deadline,
            || async move {
                Ok(retry_throttled(deadline, || self.cdn.get_config(distribution)).await?)
            },
            |config| {
                Ok(match edit(config)? {
                    0 => Edited::Unchanged(()),
                    _ => Edited::Changed,
                })
            },
            |config, etag, _| async move {
                guard.check(&self.cdn, distribution, deadline).await?;
                let update = retry_throttled(deadline, || {
                    self.cdn.update_config(distribution, config.clone(), &etag)
                })
                .await;
                match update {
                    Ok(_) => Ok(Written::Done(())),
                    Err(ApiError::PreconditionFailed(_)) => Ok(Written::Stale),
                    Err(e) => Err(RotationError::from(e)),
                }
            },
            |attempt| {
                warn!(%distribution, attempt, "distribution config changed meanwhile (stale ETag); retrying");
            },
        )
        .await?;
        if updated.is_some() {
            return Ok(());
        }
        Err(RotationError::StaleEtag {
            distribution: distribution.to_owned(),
            attempts,
        })
    }

    /// Fail with [`RotationError::NotPointed`] unless `sent(config)` holds for every
    /// distribution: finishing otherwise would make AWSCURRENT a value edges do not send.
    pub async fn check_pointed(
        &self,
        sent: impl Fn(&DistributionConfig) -> bool,
    ) -> Result<(), RotationError> {
        for distribution in &self.ids {
            if !sent(&self.config(distribution).await?) {
                return Err(RotationError::NotPointed(distribution.clone()));
            }
        }
        Ok(())
    }

    /// Whether an edge may still send the value from before the current one: some
    /// distribution that is not yet `pointed` at the new value (`pointed` tells from its
    /// config) is not `Deployed` now (no wait). A distribution already pointed at the new
    /// value does not count: while an AWSPREVIOUS version exists it was pointed only once
    /// `Deployed` ([`Guard::RequireDeployed`]), so its edges send the current or the new
    /// value, whatever its status since.
    pub async fn may_send_previous(
        &self,
        pointed: impl Fn(&DistributionConfig) -> bool,
        deadline: Instant,
    ) -> Result<bool, RotationError> {
        for distribution in &self.ids {
            let (config, _) =
                retry_throttled(deadline, || self.cdn.get_config(distribution)).await?;
            if pointed(&config) {
                continue;
            }
            if retry_throttled(deadline, || self.cdn.status(distribution)).await?
                != DeployStatus::Deployed
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// With `WAIT_FOR_DEPLOYED`, wait until every distribution is `Deployed` (bounded by
    /// `deadline`; [`RotationError::NotDeployed`] then). Without it, return at once.
    pub async fn settle(&self, deadline: Instant) -> Result<(), RotationError> {
        if !self.wait_for_deployed {
            return Ok(());
        }
        for distribution in &self.ids {
            let polled = poll_until(
                deadline,
                std::iter::repeat(self.deploy_poll_interval),
                || async move {
                    let status =
                        retry_throttled(deadline, || self.cdn.status(distribution)).await?;
                    Ok::<_, ApiError>(match status {
                        DeployStatus::Deployed => ControlFlow::Break(()),
                        other => ControlFlow::Continue(other),
                    })
                },
            )
            .await?;
            if let Err(status) = polled {
                let shown = match status {
                    DeployStatus::InProgress => "InProgress".to_owned(),
                    DeployStatus::Other(s) => s,
                    DeployStatus::Deployed => "Deployed".to_owned(),
                };
                return Err(RotationError::NotDeployed(distribution.clone(), shown));
            }
        }
        Ok(())
    }
}

//! [`AppSyncTarget`]: the `appsync-api-key` target behind the rotator's [`Target`] trait.

use std::sync::Arc;

use edgeseal::{SecretValue, StaticHeaderValue, UnixTime, static_header_secret_json};
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::api::AppSyncKeys;
use super::graphql::GraphqlProbe;
use super::retire::{self, EdgeKeys};
use super::settings::AppSyncSettings;
use super::steps::{self, AppSyncStepError, CurrentKey, PendingRetry};
use crate::aws::DistributionApi;
use crate::cloudfront::Guard;
use crate::error::{RotationError, SetupError};
use crate::settings::{Config, TargetKind, TargetSettings};
use crate::targets::static_header::{StaticHeaderSettings, StaticHeaderTarget};
use crate::targets::{Stage, StepContext, Target, other_target};

/// Where the target reads the time (the wall clock; tests move it forward to make keys
/// expire, which moto's real-clock checks cannot).
pub(super) type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// `ROTATION_TARGET=appsync-api-key`: an AppSync API key clients read from the secret,
/// and, when AppSync sits behind CloudFront (`CLOUDFRONT_DISTRIBUTION_ID` set), that
/// the distributions send as the origin custom header `x-api-key`.
pub struct AppSyncTarget<C, A> {
    settings: AppSyncSettings,
    /// `SECRET_KEY_NAME`: the JSON field holding the key.
    field: String,
    /// The AppSync client, in the API's region.
    keys: A,
    probe: GraphqlProbe,
    retry: PendingRetry,
    clock: Clock,
    /// The distributions in front of AppSync, if any, sending the key in `HEADER_NAME`:
    /// the static-header target as the inner layer.
    cloudfront: Option<StaticHeaderTarget<C>>,
}

impl<C: DistributionApi, A: AppSyncKeys> AppSyncTarget<C, A> {
    /// The target `config` selects (`ROTATION_TARGET=appsync-api-key`), over `keys` (the
    /// SDK client, or a test's double); `cdn` points the configured distributions, if
    /// any.
    pub fn from_config(config: &Config, keys: A, cdn: C) -> Result<Self, SetupError> {
        let TargetSettings::AppSync(settings) = &config.target else {
            return Err(other_target(config, TargetKind::AppSyncApiKey));
        };
        let settings = settings.clone();
        let probe = GraphqlProbe::new(&settings.test_query, settings.test_timeout);
        let cloudfront = (!config.distributions.is_empty()).then(|| {
            // AppSync makes the keys; the inner layer only sends them.
            let unused_length = StaticHeaderSettings { value_length: 0 };
            StaticHeaderTarget::new(config, unused_length, &config.header_name, cdn)
        });
        Ok(Self {
            settings,
            field: config.secret_key_name.clone(),
            keys,
            probe,
            retry: PendingRetry::default(),
            clock: Arc::new(UnixTime::now),
            cloudfront,
        })
    }

    /// Read the time from `clock` instead of the wall clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Retry the pending key as `retry` says (default: 3 tries, 2 s apart).
    #[must_use]
    pub fn with_retry(mut self, retry: PendingRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &AppSyncSettings {
        &self.settings
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }

    fn parse_key(&self, value: &str, stage: Stage) -> Result<StaticHeaderValue, RotationError> {
        match SecretValue::parse(value, Some(&self.field)) {
            Ok(SecretValue::StaticHeader(key)) => Ok(key),
            Ok(SecretValue::Hmac(_)) => Err(RotationError::BadSecret {
                stage: stage.label(),
                reason: "it holds an edgeseal signing key, not an AppSync API key".to_owned(),
            }),
            Err(e) => Err(RotationError::BadSecret {
                stage: stage.label(),
                reason: format!("{e} (expected {{\"{}\": \"<API key>\"}})", self.field),
            }),
        }
    }

    /// What edges may send AppSync now (for retiring keys).
    async fn edge_keys(&self, step: &StepContext<'_>) -> Result<EdgeKeys, RotationError> {
        let Some(cloudfront) = &self.cloudfront else {
            return Ok(EdgeKeys::Settled(Vec::new()));
        };
        Ok(match cloudfront.values_sent(step.deadline()).await? {
            Some(values) => EdgeKeys::Settled(
                values
                    .iter()
                    .filter_map(|value| StaticHeaderValue::new(value.to_string()).ok())
                    .collect(),
            ),
            None => EdgeKeys::Unsettled,
        })
    }

    /// The key of `version_id` staged `stage`, if it can be read and parsed.
    async fn stored_key(
        &self,
        step: &StepContext<'_>,
        version_id: &str,
        stage: Stage,
    ) -> Option<StaticHeaderValue> {
        match step.secret_value(version_id, stage.label()).await {
            Ok(Some(value)) => self.parse_key(&value, stage).ok(),
            Ok(None) => None,
            Err(e) => {
                warn!(error = %e, stage = stage.label(), "finishSecret: cannot read a version's key");
                None
            }
        }
    }

    /// `work` (GraphQL tests of the `stage` key) bounded by the step's deadline; running
    /// out counts as that key not answering in time.
    async fn by_deadline<T>(
        &self,
        step: &StepContext<'_>,
        stage: Stage,
        work: impl Future<Output = Result<T, AppSyncStepError>>,
    ) -> Result<T, RotationError> {
        let bounded = tokio::time::timeout_at(step.deadline(), work)
            .await
            .map_err(|_| AppSyncStepError::Rejected {
                stage,
                source: super::GraphqlProbeError::Timeout(self.settings.test_timeout),
            })?;
        Ok(bounded?)
    }

    /// testSecret's GraphQL part: the pending key, then the current one.
    async fn test_keys(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        let endpoint = steps::graphql_endpoint(&self.keys, &self.settings).await?;
        let tested = steps::test_keys(
            &self.keys,
            &self.probe,
            &endpoint,
            &self.settings,
            step.token(),
            pending,
            Some(current),
            self.now(),
            self.retry,
        );
        let outcome = self.by_deadline(step, Stage::Pending, tested).await?;
        match outcome {
            CurrentKey::Gone => warn!(
                "testSecret: the AWSCURRENT API key is no longer in AppSync (deleted by hand?); clients holding it are refused until this rotation completes"
            ),
            CurrentKey::Expired(at) => warn!(
                expired_at = at.as_secs(),
                "testSecret: the AWSCURRENT API key has expired; clients holding it are refused until this rotation completes"
            ),
            CurrentKey::Accepted | CurrentKey::SameAsPending | CurrentKey::Absent => {
                info!("testSecret: AppSync accepts the pending and the current API key");
            }
        }
        Ok(())
    }

    /// The configuration test's GraphQL part: the current key.
    async fn test_current(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        let endpoint = steps::graphql_endpoint(&self.keys, &self.settings).await?;
        let tested = steps::test_current(
            &self.keys,
            &self.probe,
            &endpoint,
            &self.settings,
            current,
            self.now(),
        );
        self.by_deadline(step, Stage::Current, tested).await?;
        Ok(())
    }

    /// finishSecret, after the labels moved: retire the old keys.
    async fn retire(&self, step: &StepContext<'_>) {
        // The labels have moved: the token is AWSCURRENT, the version that was AWSCURRENT
        // when the step began is AWSPREVIOUS.
        let Some(new) = self.stored_key(step, step.token(), Stage::Current).await else {
            warn!(
                "finishSecret: the new AWSCURRENT key cannot be read; old API keys are retired by a later finishSecret"
            );
            return;
        };
        let previous_id = step
            .metadata()
            .version_with(Stage::Current.label())
            .filter(|id| *id != step.token());
        let previous = match previous_id {
            Some(id) => self
                .stored_key(step, id, Stage::Previous)
                .await
                .map(|key| (id, key)),
            None => None,
        };
        let edges = match self.edge_keys(step).await {
            Ok(edges) => edges,
            Err(e) => {
                warn!(error = %e, "finishSecret: cannot tell which API keys edges send; deleting none now");
                EdgeKeys::Unsettled
            }
        };
        let report = retire::retire_keys(
            &self.keys,
            &self.settings,
            step.secret_id(),
            &[&new],
            previous.as_ref().map(|(id, key)| (*id, key)),
            &edges,
            self.now(),
        )
        .await;
        info!(
            retired = report.retired,
            deleted = report.deleted,
            left_for_later = report.left_for_later,
            failed = report.failures.len(),
            "finishSecret: old API keys retired"
        );
    }
}

impl<C: DistributionApi, A: AppSyncKeys> Target for AppSyncTarget<C, A> {
    type Material = StaticHeaderValue;

    fn parse(
        &self,
        value: &str,
        stage: Stage,
        _version_id: &str,
    ) -> Result<StaticHeaderValue, RotationError> {
        self.parse_key(value, stage)
    }

    fn same_value(&self, a: &StaticHeaderValue, b: &StaticHeaderValue) -> bool {
        a == b
    }

    async fn create(&self, step: &StepContext<'_>) -> Result<Zeroizing<String>, RotationError> {
        let key = steps::create_key(
            &self.keys,
            &self.settings,
            step.secret_id(),
            step.token(),
            self.now(),
            step.metadata().rotation_interval,
        )
        .await?;
        Ok(static_header_secret_json(&self.field, &key))
    }

    async fn set(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        // AppSync accepts a new key next to the others from its creation; clients take it
        // from the secret once it is AWSCURRENT. (The prior art deleted the old key here.)
        let Some(cloudfront) = &self.cloudfront else {
            info!("setSecret: nothing to change in AppSync");
            return Ok(());
        };
        // Never make CloudFront send a key AppSync refuses.
        let endpoint = steps::graphql_endpoint(&self.keys, &self.settings).await?;
        let accepted = steps::pending_accepted(
            &self.keys,
            &self.probe,
            &endpoint,
            &self.settings,
            step.token(),
            pending,
            self.now(),
            self.retry,
        );
        self.by_deadline(step, Stage::Pending, accepted).await?;
        cloudfront
            .send(step, pending, Guard::for_new_key(step.metadata()))
            .await
    }

    async fn test(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        if let Some(cloudfront) = &self.cloudfront {
            cloudfront.check_sent(step, pending).await?;
        }
        let result = self.test_keys(step, current, pending).await;
        if let (Some(cloudfront), Err(RotationError::AppSync(e))) = (&self.cloudfront, &result)
            && e.is_about_pending()
        {
            // CloudFront sends a key AppSync refuses: back to the current one.
            cloudfront.send_back(step, current).await;
        }
        result
    }

    async fn test_configuration(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        if let Some(cloudfront) = &self.cloudfront {
            cloudfront.check_sent(step, current).await?;
        }
        self.test_current(step, current).await
    }

    async fn check_sent(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        steps::check_pending(
            &self.keys,
            &self.settings,
            step.token(),
            pending,
            self.now(),
        )
        .await?;
        if let Some(cloudfront) = &self.cloudfront {
            cloudfront.check_sent(step, pending).await?;
        }
        Ok(())
    }

    async fn finish(&self, step: &StepContext<'_>) {
        self.retire(step).await;
    }
}

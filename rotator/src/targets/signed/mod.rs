//! The signed target (`ROTATION_TARGET=signed`): an edgeseal signing key, published in
//! a Lambda@Edge version of the signer that every distribution's origin-request
//! association is pointed at.
//!
//! setSecret checks that the origin accepts a request signed with the pending key,
//! publishes (or reuses) the edge version carrying it, waits for it to be `Active`, and
//! points the associations at it; finishSecret prunes old edgeseal-published versions.
//! The current value may still be a legacy static header (the migration from a static
//! `x-origin-verify` setup): it is tested as a header, and there is no edge version to
//! roll back to.

use std::collections::HashSet;

use aws_sdk_cloudfront::types::EventType;
use edgeseal::{KeyId, SecretValue, SigningKey, StaticHeaderValue};
use edgeseal_edge_signer::EdgeAssets;
use tracing::{info, warn};
use zeroize::Zeroizing;

pub(crate) mod settings;

use super::{Stage, StepContext, Target, log_roll_back, other_target};
use crate::aws::{DistributionApi, EdgeFunctionApi};
use crate::cloudfront::edits::{associations, point_associations, unqualified};
use crate::cloudfront::{Distributions, Guard};
use crate::edge::EdgePublisher;
use crate::error::{RotationError, SetupError};
use crate::material::{key_id, parse_secret, wrong_kind};
use crate::origin::Credential;
use crate::settings::{Config, TargetKind, TargetSettings};

/// A secret value of the signed target.
pub enum SignedMaterial {
    /// A signing key; its keyid is its version id.
    Key(KeyId, SigningKey),
    /// A legacy static header value: accepted as the current value only (migration).
    LegacyHeader(StaticHeaderValue),
}

/// The signed target: the edge publisher and the distributions it points.
pub struct SignedTarget<L, C> {
    edge: EdgePublisher<L>,
    distributions: Distributions<C>,
    secret_key_name: String,
    header_name: String,
}

impl<L: EdgeFunctionApi, C: DistributionApi> SignedTarget<L, C> {
    /// The target `config` selects (`ROTATION_TARGET=signed`), publishing through
    /// `lambda` and pointing distributions through `cdn`; packages `assets` once (a bad
    /// bundle fails here).
    pub fn from_config(
        config: &Config,
        lambda: L,
        cdn: C,
        assets: EdgeAssets,
    ) -> Result<Self, SetupError> {
        let TargetSettings::Signed(settings) = &config.target else {
            return Err(other_target(config, TargetKind::Signed));
        };
        Ok(Self {
            edge: EdgePublisher::new(lambda, settings.clone(), assets)?,
            distributions: Distributions::new(cdn, config),
            secret_key_name: config.secret_key_name.clone(),
            header_name: config.header_name.clone(),
        })
    }

    fn credential<'a>(&'a self, material: &'a SignedMaterial) -> Credential<'a> {
        match material {
            SignedMaterial::Key(keyid, key) => Credential::Signed {
                label: &self.edge.settings().label,
                keyid,
                key,
            },
            SignedMaterial::LegacyHeader(value) => Credential::Header {
                name: &self.header_name,
                value,
            },
        }
    }

    /// Publish the edge version for the key and point every distribution at it.
    async fn point(
        &self,
        keyid: &KeyId,
        key: &SigningKey,
        guard: Guard,
        step: &StepContext<'_>,
    ) -> Result<(), RotationError> {
        let deadline = step.deadline();
        let version = self.edge.ensure_version(keyid, key, deadline).await?;
        let function = unqualified(&version.arn).to_owned();
        self.edge.wait_until_active(&version, deadline).await?;
        self.distributions
            .point_all(
                Some(&function),
                guard,
                deadline,
                |distribution, config| {
                    let (matched, changed) = point_associations(config, &function, &version.arn);
                    if matched == 0 {
                        return Err(RotationError::NoAssociation {
                            distribution: distribution.to_owned(),
                            function: function.clone(),
                        });
                    }
                    Ok(changed)
                },
                |distribution| {
                    info!(%distribution, version = %version.version, "distribution names the edge version");
                },
            )
            .await
    }
}

impl<L: EdgeFunctionApi, C: DistributionApi> Target for SignedTarget<L, C> {
    type Material = SignedMaterial;

    fn parse(
        &self,
        value: &str,
        stage: Stage,
        version_id: &str,
    ) -> Result<SignedMaterial, RotationError> {
        match (parse_secret(value, &self.secret_key_name, stage)?, stage) {
            (SecretValue::Hmac(key), _) => Ok(SignedMaterial::Key(key_id(version_id)?, key)),
            // A legacy static value is fine as the current one: that is the migration path.
            (SecretValue::StaticHeader(value), Stage::Current | Stage::Previous) => {
                Ok(SignedMaterial::LegacyHeader(value))
            }
            (SecretValue::StaticHeader(_), Stage::Pending) => Err(wrong_kind(
                stage,
                "a static header value where signed mode needs a signing key",
            )),
        }
    }

    fn same_value(&self, a: &SignedMaterial, b: &SignedMaterial) -> bool {
        match (a, b) {
            (SignedMaterial::Key(_, a), SignedMaterial::Key(_, b)) => a == b,
            (SignedMaterial::LegacyHeader(a), SignedMaterial::LegacyHeader(b)) => {
                a.matches(b.expose())
            }
            _ => false,
        }
    }

    async fn create(&self, _step: &StepContext<'_>) -> Result<Zeroizing<String>, RotationError> {
        let key = SigningKey::generate().map_err(|_| RotationError::Random)?;
        Ok(edgeseal::edgeseal_secret_json(&key))
    }

    async fn set(
        &self,
        step: &StepContext<'_>,
        pending: &SignedMaterial,
    ) -> Result<(), RotationError> {
        // Pre-flight: never make CloudFront send a key the origin does not accept.
        step.probe(self.credential(pending), Stage::Pending).await?;
        let SignedMaterial::Key(keyid, key) = pending else {
            return Err(RotationError::NotSignedMode);
        };
        self.point(keyid, key, Guard::for_new_key(step.metadata()), step)
            .await
    }

    async fn test(
        &self,
        step: &StepContext<'_>,
        current: &SignedMaterial,
        pending: &SignedMaterial,
    ) -> Result<(), RotationError> {
        self.check_sent(step, pending).await?;
        if let Err(e) = step.probe(self.credential(pending), Stage::Pending).await {
            // Leave CloudFront sending the key the origin accepted, not the one it just
            // rejected (the prior art left the untested key in place).
            match current {
                SignedMaterial::Key(keyid, key) => {
                    log_roll_back(self.point(keyid, key, Guard::Off, step).await);
                }
                SignedMaterial::LegacyHeader(_) => warn!(
                    "pending key rejected; the current value is a static header, so there is no edge version to return to"
                ),
            }
            return Err(e);
        }
        step.probe(self.credential(current), Stage::Current).await?;
        self.distributions.settle(step.deadline()).await
    }

    async fn test_configuration(
        &self,
        step: &StepContext<'_>,
        current: &SignedMaterial,
    ) -> Result<(), RotationError> {
        let function = &self.edge.settings().function;
        let versions = self.edge.versions().await?;
        let edge_function = versions.first().map(|v| unqualified(&v.arn).to_owned());
        for distribution in self.distributions.ids() {
            let config = self
                .distributions
                .check(distribution, edge_function.as_deref(), step.deadline())
                .await?;
            let named = associations(&config)
                .filter(|a| a.event_type == EventType::OriginRequest)
                .any(|a| versions.iter().any(|v| v.arn == a.lambda_function_arn));
            if !named {
                // Not associated yet: the documented first deploy against an existing
                // distribution (docs/deployment.md, sections 2 and 3) runs this test
                // when the stack creates the schedule, before the user can associate
                // the bootstrap version the same stack creates. No edge sends a key of
                // ours yet, so nothing can be refused; failing here failed the stack.
                // A rotation still refuses to start without the association (setSecret:
                // NoAssociation), and `edgeseal doctor` reports it.
                tracing::warn!(
                    distribution = %distribution,
                    function = %function,
                    "configuration test: the distribution does not run the edge function yet; associate the bootstrap version (EdgeBootstrapVersionArn) before the first rotation"
                );
            }
        }
        step.probe(self.credential(current), Stage::Current).await
    }

    async fn check_sent(
        &self,
        _step: &StepContext<'_>,
        pending: &SignedMaterial,
    ) -> Result<(), RotationError> {
        let SignedMaterial::Key(keyid, key) = pending else {
            return Err(RotationError::NotSignedMode);
        };
        let (_, expected) = self.edge.package(keyid, key)?;
        let arns = self.edge.version_arns_carrying(&expected).await?;
        let function = arns.iter().next().map(|a| unqualified(a).to_owned());
        // Every association must name a version listed with the package, and a version
        // number is only a name: what each named version runs is read back before the
        // labels move (once per version, however many distributions name it).
        let mut confirmed = HashSet::new();
        for distribution in self.distributions.ids() {
            let config = self.distributions.config(distribution).await?;
            let named: Vec<&str> = associations(&config)
                .filter(|a| a.event_type == EventType::OriginRequest)
                .map(|a| a.lambda_function_arn.as_str())
                .filter(|arn| Some(unqualified(arn)) == function.as_deref())
                .collect();
            if named.is_empty() || !named.iter().all(|arn| arns.contains(*arn)) {
                return Err(RotationError::NotPointed(distribution.clone()));
            }
            for arn in named {
                if confirmed.insert(arn.to_owned()) {
                    let at = format!(" (named by distribution {distribution})");
                    self.edge
                        .confirm_package(arn, keyid, &expected, &at)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Prune old edge versions, never one a configured distribution names.
    async fn finish(&self, step: &StepContext<'_>) {
        let versions = match self.edge.versions().await {
            Ok(v) => v,
            Err(e) => return warn!(error = %e, "not pruning edge versions"),
        };
        let mut named = HashSet::new();
        for distribution in self.distributions.ids() {
            match self.distributions.config(distribution).await {
                Ok(config) => {
                    named.extend(associations(&config).map(|a| a.lambda_function_arn.clone()))
                }
                Err(e) => return warn!(error = %e, %distribution, "not pruning edge versions"),
            }
        }
        self.edge.prune(&versions, &named, step.deadline()).await;
    }
}

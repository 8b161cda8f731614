//! `UserParameters.target`: an ECR repository (account, region, role) or a repository in
//! another registry (its host and credentials), and what applies only to one or the other.

use shared::problem::Problems;

use super::source::SourceSpec;
use super::{TargetConfig, at, check};
use crate::registry_image::{Place, parse_place};
use shared::aws::account::role_account;
use shared::image::{is_account_id, is_ecr_repository_name, is_region};

/// Target overrides; `None` means "same as the source".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Target {
    pub repository: Option<String>,
    pub registry_id: Option<String>,
    pub region: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// `target.registry`: `None` is the source's registry.
    pub registry: Option<Place>,
    /// The secret holding the target registry's credentials (not for ECR).
    pub credentials_secret: Option<String>,
    /// The target registry's user name, when its secret holds the password alone.
    pub username: Option<String>,
}

impl Target {
    /// Whether the target is a registry other than ECR, given the source.
    pub(super) fn is_registry(&self, source: &SourceSpec) -> bool {
        match &self.registry {
            Some(place) => matches!(place, Place::Registry { .. }),
            None => matches!(source, SourceSpec::Registry(_)),
        }
    }
}

pub(super) fn validate_target(t: TargetConfig, problems: &mut Problems) -> Target {
    if let Some(repo) = &t.repository {
        check(
            "target.repository",
            repo,
            is_ecr_repository_name,
            "a valid ECR repository name",
            problems,
        );
    }
    if let Some(id) = &t.registry_id {
        check(
            "target.registryId",
            id,
            is_account_id,
            "a 12-digit account id",
            problems,
        );
    }
    if let Some(region) = &t.region {
        check(
            "target.region",
            region,
            is_region,
            "a region name such as eu-west-1",
            problems,
        );
    }
    if let Some(arn) = &t.role_arn {
        check(
            "target.roleArn",
            arn,
            |a| role_account(a).is_some(),
            "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            problems,
        );
    }
    let registry = t
        .registry
        .as_deref()
        .and_then(|host| match parse_place(host) {
            Ok(place) => Some(place),
            Err(e) => {
                problems.push(at("target.registry"), e);
                None
            }
        });
    Target {
        repository: t.repository,
        registry_id: t.registry_id,
        region: t.region,
        role_arn: t.role_arn,
        external_id: t.external_id,
        registry,
        credentials_secret: t.credentials_secret,
        username: t.username,
    }
}

/// What applies only to ECR, or only to other registries: the scan gate reads ECR scan
/// results; credentials secrets are for other registries; roles, accounts and regions
/// are ECR's.
pub(super) fn check_registries(
    source: &SourceSpec,
    source_credentials: &Option<String>,
    target: &Target,
    gated: bool,
    problems: &mut Problems,
) {
    if let SourceSpec::Registry(image) = source {
        if gated {
            problems.push(
                at("scanGate"),
                format!(
                    "the scan gate reads ECR's scan results, so it applies to ECR sources only, \
                     and the source is in {}; remove scanGate, or promote from the ECR \
                     repository the image was scanned in",
                    image.registry
                ),
            );
        }
    } else if source_credentials.is_some() {
        problems.push(
            at("source.credentialsSecret"),
            "applies to a source in a registry other than ECR (ECR uses the function's role); \
             remove it",
        );
    }
    if let Some(secret) = source_credentials {
        check(
            "source.credentialsSecret",
            secret,
            |s| !s.trim().is_empty(),
            "a secret name or ARN",
            problems,
        );
    }
    if target.is_registry(source) {
        for (field, set) in [
            ("target.roleArn", target.role_arn.is_some()),
            ("target.registryId", target.registry_id.is_some()),
            ("target.region", target.region.is_some()),
        ] {
            if set {
                problems.push(
                    at(field),
                    "applies to an ECR target only; the target is another registry \
                     (target.credentialsSecret gives its credentials)",
                );
            }
        }
    } else if target.credentials_secret.is_some() {
        problems.push(
            at("target.credentialsSecret"),
            "applies to a target in a registry other than ECR (ECR uses the function's role or \
             target.roleArn); remove it",
        );
    }
    if matches!(target.registry, Some(Place::Ecr { .. }))
        && (target.registry_id.is_some() || target.region.is_some())
    {
        problems.push(
            at("target.registry"),
            "names the ECR registry already; leave out target.registryId and target.region",
        );
    }
    if matches!(source, SourceSpec::Registry(_))
        && matches!(target.registry, Some(Place::Ecr { .. }))
        && target.repository.is_none()
    {
        problems.push(
            at("target.repository"),
            "is missing: name the ECR repository to copy the image into",
        );
    }
}

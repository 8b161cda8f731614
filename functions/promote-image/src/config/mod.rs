//! `UserParameters`: what to promote, where to, and the optional scan gate.
//!
//! Parsed with unknown keys rejected, then validated into a [`Route`], collecting every
//! problem at once so a user fixes the configuration in one go: the source in
//! [`source`], the target in [`target`], the gate in [`gate`], the referrers in `referrers`.

mod gate;
mod referrers;
mod source;
mod target;
#[cfg(test)]
mod tests;

use serde::Deserialize;
use shared::aws::Account;
use shared::problem::Problems;

pub use gate::{
    AllowConfig, Allowance, GatePolicy, OnUnscanned, SEVERITIES, ScanGateConfig, Unscanned,
};
use source::SourceSpec;

use crate::registry_image::{Place, api_repository};
use crate::route::{EcrImage, EcrTarget, RegistryTarget, Role, Route, Secret, Source, Target};
use shared::image::is_tag;

/// The raw `UserParameters` JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub source: SourceConfig,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub target: TargetConfig,
    /// Whether a mutable tag on another digest may be moved (default true).
    pub allow_moving_tags: Option<bool>,
    pub scan_gate: Option<ScanGateConfig>,
    /// Whether referrers go with the image: `true` (default), `false`, or
    /// `{"artifactTypes": [...]}`; validated by hand so each problem has its path.
    pub referrers: Option<serde_json::Value>,
    /// The signatures the source must carry (`{"require": [...]}`); validated by hand so
    /// each problem has its path.
    pub verify: Option<serde_json::Value>,
}

/// Where the image comes from: named directly, or read from an input artifact.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceConfig {
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub registry_id: Option<String>,
    pub image_uri: Option<String>,
    pub artifact: Option<String>,
    pub file: Option<String>,
    pub container: Option<String>,
    /// A registry other than ECR (`docker.io`, `ghcr.io`), with `repository` and a tag or digest.
    pub registry: Option<String>,
    /// Secrets Manager secret (name or ARN) with `{"username", "password"}` for the source registry.
    pub credentials_secret: Option<String>,
    /// The user name, when `credentials_secret` holds the password alone.
    pub username: Option<String>,
    /// A role to read an ECR source as (a workload account's registry).
    pub role_arn: Option<String>,
    /// The external id the source role's trust policy requires.
    pub external_id: Option<String>,
}

/// Where the tags go; every field defaults to the source's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetConfig {
    pub repository: Option<String>,
    pub registry_id: Option<String>,
    pub region: Option<String>,
    pub role_arn: Option<String>,
    /// The external id the target role's trust policy requires.
    pub external_id: Option<String>,
    /// The target registry's host: another registry (`docker.io`) or an ECR registry.
    pub registry: Option<String>,
    /// Secrets Manager secret (name or ARN) with `{"username", "password"}` for the target registry.
    pub credentials_secret: Option<String>,
    /// The user name, when `credentials_secret` holds the password alone.
    pub username: Option<String>,
}

/// Where every problem of this file is located.
const ROOT: &str = "UserParameters";

/// `UserParameters.source.tag`.
fn at(field: &str) -> String {
    shared::problem::join(ROOT, field)
}

const EXAMPLE: &str =
    r#"{"source": {"repository": "web", "tag": "sha-1a2b3c"}, "tags": ["staging"]}"#;

impl Config {
    /// The route, or every problem found, each located by its JSON path.
    pub fn validate(self) -> Result<Route, Problems> {
        let mut problems = Problems::new();
        let source_credentials = self.source.credentials_secret.clone();
        let source_username = self.source.username.clone();
        let source_secret = secret(&source_credentials, &source_username);
        let target_secret = secret(&self.target.credentials_secret, &self.target.username);
        let source_role = Account {
            role_arn: self.source.role_arn.clone(),
            external_id: self.source.external_id.clone(),
            region: None,
        };
        problems.extend(source_role.problems("source"));
        problems.extend(
            Account {
                role_arn: self.target.role_arn.clone(),
                external_id: self.target.external_id.clone(),
                region: None,
            }
            .problems("target")
            .into_iter()
            .filter(|p| p.path != "target.roleArn"),
        );
        source::check_username(
            "source",
            &source_username,
            &source_credentials,
            &mut problems,
        );
        source::check_username(
            "target",
            &self.target.username,
            &self.target.credentials_secret,
            &mut problems,
        );
        let source = source::validate_source(self.source, &mut problems);
        let tags = validate_tags(self.tags, &mut problems);
        let target = target::validate_target(self.target, &mut problems);
        let referrers = referrers::validate_referrers(self.referrers, &mut problems);
        let verify = self.verify.as_ref().and_then(|v| {
            shared::verify::Requirements::parse(v, &at("verify"))
                .map_err(|p| problems.extend(p))
                .ok()
        });
        let gate = self
            .scan_gate
            .map(|g| gate::validate_gate(g, &mut problems));
        if let (Some(SourceSpec::Registry(_)), Some(_)) = (&source, &source_role.role_arn) {
            problems.push(
                at("source.roleArn"),
                "applies to an ECR source only; the source is another registry \
                 (source.credentialsSecret gives its credentials)",
            );
        }
        if let Some(source) = &source {
            target::check_registries(
                source,
                &source_credentials,
                &target,
                gate.is_some(),
                &mut problems,
            );
        }
        match source {
            Some(source) if problems.is_empty() => {
                let role = Role {
                    arn: source_role.role_arn,
                    external_id: source_role.external_id,
                };
                let source = route_source(source, role, gate, source_secret);
                Ok(Route {
                    target: route_target(target, target_secret, &source),
                    source,
                    tags,
                    allow_moving_tags: self.allow_moving_tags.unwrap_or(true),
                    referrers,
                    verify,
                })
            }
            _ => Err(problems),
        }
    }
}

fn secret(id: &Option<String>, username: &Option<String>) -> Option<Secret> {
    id.clone().map(|id| Secret {
        id,
        username: username.clone(),
    })
}

/// The source side: an ECR image (named, or by an artifact) with its role and gate, or a
/// registry image with its credentials.
fn route_source(
    spec: SourceSpec,
    role: Role,
    gate: Option<GatePolicy>,
    credentials: Option<Secret>,
) -> Source {
    let image = match spec {
        SourceSpec::Registry(image) => return Source::Registry { image, credentials },
        SourceSpec::Image(image) => EcrImage::Named(image),
        SourceSpec::Artifact {
            name,
            file,
            container,
        } => EcrImage::Artifact {
            name,
            file,
            container,
        },
    };
    Source::Ecr { image, role, gate }
}

/// The target side: `target.registry` when given, else the source's registry. A registry
/// target without a secret of its own uses the source's when both are on one host.
fn route_target(t: target::Target, secret: Option<Secret>, source: &Source) -> Target {
    let role = Role {
        arn: t.role_arn,
        external_id: t.external_id,
    };
    let registry_target = |registry: String, host: String, same_host: Option<&Secret>| {
        Target::Registry(RegistryTarget {
            repository: t
                .repository
                .as_deref()
                .map(|r| api_repository(&registry, r)),
            credentials: secret.clone().or_else(|| same_host.cloned()),
            registry,
            host,
        })
    };
    match (t.registry, source) {
        (Some(Place::Registry { registry, host }), source) => {
            let same_host = match source {
                Source::Registry { image, credentials } if image.host == host => {
                    credentials.as_ref()
                }
                _ => None,
            };
            registry_target(registry, host, same_host)
        }
        (None, Source::Registry { image, credentials }) => registry_target(
            image.registry.clone(),
            image.host.clone(),
            credentials.as_ref(),
        ),
        (Some(Place::Ecr { account, region }), _) => Target::Ecr(EcrTarget {
            repository: t.repository,
            registry_id: Some(account),
            region: Some(region),
            role,
        }),
        (None, Source::Ecr { .. }) => Target::Ecr(EcrTarget {
            repository: t.repository,
            registry_id: t.registry_id,
            region: t.region,
            role,
        }),
    }
}

/// A value CodePipeline did not substitute: `#{Namespace.Variable}`.
fn unresolved(value: &str) -> bool {
    value.contains("#{")
}

fn check(field: &str, value: &str, valid: fn(&str) -> bool, what: &str, problems: &mut Problems) {
    if unresolved(value) {
        problems.push(
            at(field),
            format!(
                "`{value}` contains a pipeline variable that was not resolved; check the \
                 namespace and variable name, and that the action producing it runs earlier"
            ),
        );
    } else if !valid(value) {
        problems.push(at(field), format!("`{value}` is not {what}"));
    }
}

fn validate_tags(tags: Vec<String>, problems: &mut Problems) -> Vec<String> {
    if tags.is_empty() {
        problems.push(
            at("tags"),
            format!("is missing: list the tags to put on the image, e.g. {EXAMPLE}"),
        );
    }
    let mut unique: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.into_iter().enumerate() {
        check(
            &format!("tags[{i}]"),
            &tag,
            is_tag,
            "a valid image tag (letters, digits, _ . -; at most 128)",
            problems,
        );
        if !unique.contains(&tag) {
            unique.push(tag);
        }
    }
    unique
}

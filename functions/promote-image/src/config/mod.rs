//! `UserParameters`: what to promote, where to, and the optional scan gate.
//!
//! Parsed with unknown keys rejected, then validated into [`Settings`], which
//! collects every problem at once so a user fixes the configuration in one go.

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::aws::Account;
use shared::problem::Problems;

use crate::date::Date;
use crate::place::{Place, RegistryImage, api_repository, parse_place, parse_registry_image};
use crate::reference::{
    ImageRef, Reference, ReferenceError, is_digest, is_region, is_registry_id, is_repository_name,
    is_tag, parse_image_uri, role_account,
};

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanGateConfig {
    /// Highest count allowed per severity; severities not listed are not limited.
    #[serde(default)]
    pub max: BTreeMap<String, u64>,
    #[serde(default)]
    pub allow: Vec<AllowConfig>,
    pub on_no_scan: Option<OnUnscanned>,
    pub on_in_progress: Option<OnUnscanned>,
    pub on_expired: Option<OnUnscanned>,
    pub on_unsupported: Option<OnUnscanned>,
    pub on_failed: Option<OnUnscanned>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AllowConfig {
    pub id: String,
    pub until: String,
}

/// What the gate does with an image that has no usable scan result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnscanned {
    #[default]
    Fail,
    Pass,
}

/// Severities ECR reports, basic and enhanced.
pub const SEVERITIES: [&str; 7] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNDEFINED",
    "UNTRIAGED",
];

/// Validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub source: SourceSpec,
    pub tags: Vec<String>,
    pub target: Target,
    pub allow_moving_tags: bool,
    pub gate: Option<GatePolicy>,
    /// The secret holding the source registry's credentials (not for ECR).
    pub source_credentials: Option<String>,
    /// The source registry's user name, when its secret holds the password alone.
    pub source_username: Option<String>,
    /// The role an ECR source is read as, with its external id (no region: the source's).
    pub source_role: Account,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    Image(ImageRef),
    /// An image in a registry other than ECR.
    Registry(RegistryImage),
    Artifact {
        name: String,
        file: Option<String>,
        container: Option<String>,
    },
}

/// Target overrides; `None` means "same as the source".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
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
    pub fn is_registry(&self, source: &SourceSpec) -> bool {
        match &self.registry {
            Some(place) => matches!(place, Place::Registry { .. }),
            None => matches!(source, SourceSpec::Registry(_)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatePolicy {
    pub max: BTreeMap<String, u64>,
    pub allow: Vec<Allowance>,
    pub unscanned: Unscanned,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub id: String,
    pub until: Date,
}

/// Per reason, whether an image without a usable scan passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unscanned {
    pub no_scan: OnUnscanned,
    pub in_progress: OnUnscanned,
    pub expired: OnUnscanned,
    pub unsupported: OnUnscanned,
    pub failed: OnUnscanned,
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
    /// The settings, or every problem found, each located by its JSON path.
    pub fn validate(self) -> Result<Settings, Problems> {
        let mut problems = Problems::new();
        let source_credentials = self.source.credentials_secret.clone();
        let source_username = self.source.username.clone();
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
        check_username(
            "source",
            &source_username,
            &source_credentials,
            &mut problems,
        );
        check_username(
            "target",
            &self.target.username,
            &self.target.credentials_secret,
            &mut problems,
        );
        let source = validate_source(self.source, &mut problems);
        let tags = validate_tags(self.tags, &mut problems);
        let target = validate_target(self.target, &mut problems);
        let gate = self.scan_gate.map(|g| validate_gate(g, &mut problems));
        if let (Some(SourceSpec::Registry(_)), Some(_)) = (&source, &source_role.role_arn) {
            problems.push(
                at("source.roleArn"),
                "applies to an ECR source only; the source is another registry \
                 (source.credentialsSecret gives its credentials)",
            );
        }
        if let Some(source) = &source {
            check_registries(
                source,
                &source_credentials,
                &target,
                gate.is_some(),
                &mut problems,
            );
        }
        match source {
            Some(source) if problems.is_empty() => Ok(Settings {
                source,
                tags,
                target,
                allow_moving_tags: self.allow_moving_tags.unwrap_or(true),
                gate,
                source_credentials,
                source_username,
                source_role,
            }),
            _ => Err(problems),
        }
    }
}

/// `username` names the user of a secret that holds the password alone.
fn check_username(
    side: &str,
    username: &Option<String>,
    secret: &Option<String>,
    problems: &mut Problems,
) {
    match (username, secret) {
        (Some(_), None) => problems.push(
            at(&format!("{side}.username")),
            format!(
                "is the user of the password in {side}.credentialsSecret; give that secret too, \
                 or remove username"
            ),
        ),
        (Some(name), Some(_)) if name.trim().is_empty() => problems.push(
            at(&format!("{side}.username")),
            "is empty; give the registry user name, or remove it to read \
             {\"username\", \"password\"} from the secret",
        ),
        _ => {}
    }
}

/// A value CodePipeline did not substitute: `#{Namespace.Variable}`.
fn unresolved(value: &str) -> bool {
    value.contains("#{")
}

/// What applies only to ECR, or only to other registries: the scan gate reads ECR scan
/// results; credentials secrets are for other registries; roles, accounts and regions
/// are ECR's.
fn check_registries(
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

fn validate_source(s: SourceConfig, problems: &mut Problems) -> Option<SourceSpec> {
    let direct = s.repository.is_some()
        || s.tag.is_some()
        || s.digest.is_some()
        || s.registry_id.is_some()
        || s.registry.is_some();
    let from_artifact = s.artifact.is_some();
    let from_uri = s.image_uri.is_some();
    let ways = [direct, from_artifact, from_uri]
        .iter()
        .filter(|&&w| w)
        .count();
    if ways == 0 {
        problems.push(
            at("source"),
            format!(
                "is missing: give source.repository with source.tag or source.digest, \
                 source.imageUri, or source.artifact (an input artifact with imageDetail.json or \
                 imagedefinitions.json); for example {EXAMPLE}"
            ),
        );
        return None;
    }
    if ways > 1 {
        problems.push(
            at("source"),
            "give only one of source.repository (+ tag/digest), source.imageUri or source.artifact",
        );
        return None;
    }
    if !from_artifact && (s.file.is_some() || s.container.is_some()) {
        let field = if s.file.is_some() {
            "source.file"
        } else {
            "source.container"
        };
        problems.push(
            at(field),
            "source.file and source.container apply only with source.artifact",
        );
    }
    if let Some(name) = s.artifact {
        if let Some(file) = &s.file
            && !matches!(basename(file), "imageDetail.json" | "imagedefinitions.json")
        {
            problems.push(
                at("source.file"),
                format!("`{file}` must be an imageDetail.json or imagedefinitions.json file"),
            );
        }
        if s.container.is_some()
            && s.file
                .as_deref()
                .is_some_and(|f| basename(f) == "imageDetail.json")
        {
            problems.push(
                at("source.container"),
                "applies to imagedefinitions.json; imageDetail.json names one image",
            );
        }
        return Some(SourceSpec::Artifact {
            name,
            file: s.file,
            container: s.container,
        });
    }
    if let Some(uri) = s.image_uri {
        if unresolved(&uri) {
            check("source.imageUri", &uri, |_| false, "", problems);
            return None;
        }
        return match parse_image_uri(&uri) {
            Ok(image) => Some(SourceSpec::Image(image)),
            Err(ReferenceError::NotEcr { .. }) => match parse_registry_image(&uri) {
                Ok(image) => Some(SourceSpec::Registry(image)),
                Err(e) => {
                    problems.push(at("source.imageUri"), e);
                    None
                }
            },
            Err(e) => {
                problems.push(at("source.imageUri"), e.to_string());
                None
            }
        };
    }
    let Some(repository) = s.repository else {
        problems.push(
            at("source.repository"),
            "is missing (the ECR repository holding the image)",
        );
        return None;
    };
    check(
        "source.repository",
        &repository,
        is_repository_name,
        "a valid ECR repository name",
        problems,
    );
    if let Some(id) = &s.registry_id {
        check(
            "source.registryId",
            id,
            is_registry_id,
            "a 12-digit account id",
            problems,
        );
    }
    let reference = match (s.tag, s.digest) {
        (Some(_), Some(_)) => {
            problems.push(at("source"), "give source.tag or source.digest, not both");
            return None;
        }
        (None, None) => {
            problems.push(at("source"), "source.tag or source.digest is missing");
            return None;
        }
        (Some(tag), None) => {
            check("source.tag", &tag, is_tag, "a valid image tag", problems);
            Reference::Tag(tag)
        }
        (None, Some(digest)) => {
            check(
                "source.digest",
                &digest,
                is_digest,
                "a digest (sha256:<64 hex digits>)",
                problems,
            );
            Reference::Digest(digest)
        }
    };
    let (registry_id, region) = match s.registry.as_deref().map(parse_place) {
        None => (s.registry_id, None),
        Some(Err(e)) => {
            problems.push(at("source.registry"), e);
            return None;
        }
        Some(Ok(Place::Ecr { account, region })) => {
            if s.registry_id.as_ref().is_some_and(|id| *id != account) {
                problems.push(
                    at("source.registryId"),
                    format!(
                        "differs from the account of source.registry ({account}); leave it out"
                    ),
                );
            }
            (Some(account), Some(region))
        }
        Some(Ok(Place::Registry { registry, host })) => {
            if s.registry_id.is_some() {
                problems.push(
                    at("source.registryId"),
                    "applies to ECR only; source.registry names another registry",
                );
            }
            return Some(SourceSpec::Registry(RegistryImage {
                repository: api_repository(&registry, &repository),
                registry,
                host,
                reference,
            }));
        }
    };
    Some(SourceSpec::Image(ImageRef {
        registry_id,
        region,
        repository,
        reference,
    }))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
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

fn validate_target(t: TargetConfig, problems: &mut Problems) -> Target {
    if let Some(repo) = &t.repository {
        check(
            "target.repository",
            repo,
            is_repository_name,
            "a valid ECR repository name",
            problems,
        );
    }
    if let Some(id) = &t.registry_id {
        check(
            "target.registryId",
            id,
            is_registry_id,
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

fn validate_gate(g: ScanGateConfig, problems: &mut Problems) -> GatePolicy {
    let mut max = BTreeMap::new();
    let mut spelled: BTreeMap<String, String> = BTreeMap::new();
    for (severity, limit) in g.max {
        let upper = severity.to_ascii_uppercase();
        if SEVERITIES.contains(&upper.as_str()) {
            // Severities fold case: two spellings of one would leave the limit to chance.
            if let Some(first) = spelled.get(&upper) {
                problems.push(
                    at(&format!("scanGate.max.{severity}")),
                    format!("`{first}` and `{severity}` name the same severity; keep one"),
                );
            }
            spelled.insert(upper.clone(), severity.clone());
            max.insert(upper, limit);
        } else {
            problems.push(
                at(&format!("scanGate.max.{severity}")),
                format!(
                    "unknown severity `{severity}`; use {}",
                    SEVERITIES.join(", ")
                ),
            );
        }
    }
    let mut allow = Vec::new();
    for (i, entry) in g.allow.into_iter().enumerate() {
        if entry.id.trim().is_empty() {
            problems.push(at(&format!("scanGate.allow[{i}].id")), "is empty");
            continue;
        }
        match Date::parse(&entry.until) {
            Some(until) => allow.push(Allowance {
                id: entry.id,
                until,
            }),
            None => problems.push(
                at(&format!("scanGate.allow[{i}].until")),
                format!(
                    "`{}` (for `{}`) is not a date (YYYY-MM-DD)",
                    entry.until, entry.id
                ),
            ),
        }
    }
    GatePolicy {
        max,
        allow,
        unscanned: Unscanned {
            no_scan: g.on_no_scan.unwrap_or_default(),
            in_progress: g.on_in_progress.unwrap_or_default(),
            expired: g.on_expired.unwrap_or_default(),
            unsupported: g.on_unsupported.unwrap_or_default(),
            failed: g.on_failed.unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Settings, Problems> {
        let config: Config = serde_json::from_str(json).expect("test JSON parses");
        config.validate()
    }

    fn problems(json: &str) -> String {
        parse(json).unwrap_err().to_string()
    }

    /// The JSON paths of the problems found.
    fn paths(json: &str) -> Vec<String> {
        parse(json)
            .unwrap_err()
            .into_iter()
            .map(|p| p.path)
            .collect()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn minimal_tag_source() {
        let s =
            parse(r#"{"source": {"repository": "web", "tag": "sha-1a2b3c"}, "tags": ["staging"]}"#)
                .unwrap();
        assert_eq!(
            s.source,
            SourceSpec::Image(ImageRef {
                registry_id: None,
                region: None,
                repository: "web".into(),
                reference: Reference::Tag("sha-1a2b3c".into())
            })
        );
        assert_eq!(s.tags, ["staging"]);
        assert_eq!(s.target, Target::default());
        assert!(s.allow_moving_tags);
        assert_eq!(s.gate, None);
    }

    #[test]
    fn digest_source_with_registry() {
        let s = parse(&format!(
            r#"{{"source": {{"repository": "team/web", "digest": "{D}", "registryId": "111122223333"}}, "tags": ["prod", "v1.4.2", "prod"]}}"#
        ))
        .unwrap();
        let SourceSpec::Image(image) = s.source else {
            panic!("image source")
        };
        assert_eq!(image.reference, Reference::Digest(D.into()));
        assert_eq!(image.registry_id.as_deref(), Some("111122223333"));
        assert_eq!(s.tags, ["prod", "v1.4.2"], "duplicates dropped, order kept");
    }

    #[test]
    fn image_uri_source() {
        let s = parse(r#"{"source": {"imageUri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:v1"}, "tags": ["prod"]}"#).unwrap();
        let SourceSpec::Image(image) = s.source else {
            panic!("image source")
        };
        assert_eq!(image.region.as_deref(), Some("eu-west-1"));
        let s = parse(r#"{"source": {"imageUri": "nginx:latest"}, "tags": ["prod"]}"#).unwrap();
        let SourceSpec::Registry(image) = s.source else {
            panic!("a Docker Hub source")
        };
        assert_eq!(
            (image.host.as_str(), image.repository.as_str()),
            ("registry-1.docker.io", "library/nginx")
        );
        assert!(
            problems(r#"{"source": {"imageUri": "nginx"}, "tags": ["prod"]}"#)
                .contains("names no tag or digest")
        );
    }

    #[test]
    fn registry_sources_and_targets() {
        // (UserParameters, Ok(()) or Err(text in the problems))
        let rows: [(&str, Result<(), &str>); 10] = [
            (
                r#"{"source": {"imageUri": "docker.io/user/app:v1", "credentialsSecret": "hub"}, "tags": ["prod"]}"#,
                Ok(()),
            ),
            (
                r#"{"source": {"registry": "ghcr.io", "repository": "org/app", "tag": "v1"}, "tags": ["prod"],
                    "target": {"registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "repository": "app"}}"#,
                Ok(()),
            ),
            (
                r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["v1"],
                    "target": {"registry": "docker.io", "repository": "user/web", "credentialsSecret": "hub"}}"#,
                Ok(()),
            ),
            (
                r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"], "scanGate": {"max": {"HIGH": 0}}}"#,
                Err(
                    "UserParameters.scanGate: the scan gate reads ECR's scan results, so it applies to ECR sources only, and the source is in ghcr.io",
                ),
            ),
            (
                r#"{"source": {"repository": "web", "tag": "v1", "credentialsSecret": "hub"}, "tags": ["prod"]}"#,
                Err(
                    "UserParameters.source.credentialsSecret: applies to a source in a registry other than ECR",
                ),
            ),
            (
                r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["prod"], "target": {"credentialsSecret": "hub"}}"#,
                Err(
                    "UserParameters.target.credentialsSecret: applies to a target in a registry other than ECR",
                ),
            ),
            (
                r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"], "target": {"roleArn": "arn:aws:iam::222233334444:role/x"}}"#,
                Err("UserParameters.target.roleArn: applies to an ECR target only"),
            ),
            (
                r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"],
                    "target": {"registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}}"#,
                Err("UserParameters.target.repository: is missing"),
            ),
            (
                r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"], "target": {"registry": "ghcr.io/org"}}"#,
                Err("UserParameters.target.registry: `ghcr.io/org` is not a registry host"),
            ),
            (
                r#"{"source": {"registry": "docker.io", "repository": "app", "tag": "v1", "registryId": "123456789012"}, "tags": ["p"]}"#,
                Err("UserParameters.source.registryId: applies to ECR only"),
            ),
        ];
        for (json, want) in rows {
            match (parse(json), want) {
                (Ok(_), Ok(())) => {}
                (Err(p), Err(text)) => assert!(p.to_string().contains(text), "{json}: {p}"),
                (got, _) => panic!("{json}: {got:?}"),
            }
        }
    }

    #[test]
    fn artifact_source() {
        let s = parse(
            r#"{"source": {"artifact": "BuildOutput", "container": "web"}, "tags": ["prod"]}"#,
        )
        .unwrap();
        assert_eq!(
            s.source,
            SourceSpec::Artifact {
                name: "BuildOutput".into(),
                file: None,
                container: Some("web".into())
            }
        );
        assert!(
            problems(r#"{"source": {"artifact": "B", "file": "taskdef.json"}, "tags": ["p"]}"#)
                .contains("imageDetail.json or imagedefinitions.json")
        );
        assert!(problems(r#"{"source": {"artifact": "B", "file": "imageDetail.json", "container": "web"}, "tags": ["p"]}"#).contains("UserParameters.source.container: applies"));
    }

    #[test]
    fn source_errors_say_what_to_give() {
        assert!(problems(r#"{"tags": ["prod"]}"#).contains("UserParameters.source: is missing"));
        assert!(
            problems(r#"{"source": {"repository": "web"}, "tags": ["prod"]}"#)
                .contains("source.tag or source.digest is missing")
        );
        assert!(
            problems(r#"{"source": {"tag": "v1"}, "tags": ["prod"]}"#)
                .contains("UserParameters.source.repository: is missing")
        );
        assert!(problems(&format!(r#"{{"source": {{"repository": "web", "tag": "v1", "digest": "{D}"}}, "tags": ["p"]}}"#)).contains("not both"));
        assert!(
            problems(
                r#"{"source": {"repository": "web", "tag": "v1", "artifact": "B"}, "tags": ["p"]}"#
            )
            .contains("only one of")
        );
        assert!(
            problems(r#"{"source": {"repository": "Web", "digest": "sha256:xyz"}, "tags": ["p"]}"#)
                .contains("source.digest: `sha256:xyz` is not a digest")
        );
        assert!(problems(r#"{"source": {"repository": "web", "tag": "v1", "container": "web"}, "tags": ["p"]}"#).contains("only with source.artifact"));
        assert!(problems(r#"{"source": {"repository": "web", "tag": "v1", "registryId": "12"}, "tags": ["p"]}"#).contains("12-digit"));
    }

    #[test]
    fn unresolved_pipeline_variable_is_named() {
        let p = problems(
            r##"{"source": {"repository": "web", "tag": "#{Build.TAG}"}, "tags": ["prod"]}"##,
        );
        assert!(
            p.contains("UserParameters.source.tag: `#{Build.TAG}`") && p.contains("not resolved"),
            "{p}"
        );
        let p = problems(r##"{"source": {"imageUri": "#{Source.ImageURI}"}, "tags": ["prod"]}"##);
        assert!(p.contains("not resolved"), "{p}");
    }

    #[test]
    fn tags_are_required_and_valid() {
        assert!(
            problems(r#"{"source": {"repository": "web", "tag": "v1"}}"#)
                .contains("UserParameters.tags: is missing")
        );
        let p = problems(
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["ok", "not ok", ".x"]}"#,
        );
        assert!(p.contains("`not ok`") && p.contains("`.x`"), "{p}");
        assert_eq!(
            paths(
                r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["ok", "not ok", ".x"]}"#
            ),
            ["UserParameters.tags[1]", "UserParameters.tags[2]"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(
            r#"{"source": {"repository": "web", "tag": "v 1"}, "tags": [], "target": {"region": "mars"}}"#,
        );
        assert!(
            p.starts_with("3 problems: (1) UserParameters.source.tag: "),
            "{p}"
        );
        assert_eq!(
            paths(
                r#"{"source": {"repository": "web", "tag": "v 1"}, "tags": [], "target": {"region": "mars"}}"#
            ),
            [
                "UserParameters.source.tag",
                "UserParameters.tags",
                "UserParameters.target.region"
            ]
        );
    }

    #[test]
    fn target_fields_validated() {
        let s = parse(r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["prod"], "target": {"repository": "web-prod", "registryId": "222233334444", "region": "eu-west-1", "roleArn": "arn:aws:iam::222233334444:role/promote"}, "allowMovingTags": false}"#).unwrap();
        assert_eq!(s.target.repository.as_deref(), Some("web-prod"));
        assert_eq!(
            s.target.role_arn.as_deref(),
            Some("arn:aws:iam::222233334444:role/promote")
        );
        assert!(!s.allow_moving_tags);
        let p = problems(
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "target": {"repository": "Prod", "registryId": "x", "roleArn": "promote"}}"#,
        );
        assert!(
            p.contains("target.repository")
                && p.contains("target.registryId")
                && p.contains("target.roleArn"),
            "{p}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(serde_json::from_str::<Config>(r#"{"tag": "v1"}"#).is_err());
        assert!(serde_json::from_str::<Config>(r#"{"source": {"repo": "web"}}"#).is_err());
        assert!(serde_json::from_str::<Config>(r#"{"scanGate": {"maxCritical": 0}}"#).is_err());
        assert!(serde_json::from_str::<Config>(r#"{"scanGate": {"onNoScan": "ignore"}}"#).is_err());
    }

    #[test]
    fn scan_gate_settings() {
        let s = parse(r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"critical": 0, "HIGH": 3}, "allow": [{"id": "CVE-2024-1234", "until": "2026-12-31"}], "onNoScan": "pass"}}"#).unwrap();
        let gate = s.gate.unwrap();
        assert_eq!(
            gate.max,
            BTreeMap::from([("CRITICAL".to_string(), 0), ("HIGH".to_string(), 3)])
        );
        assert_eq!(
            gate.allow,
            [Allowance {
                id: "CVE-2024-1234".into(),
                until: Date::parse("2026-12-31").unwrap()
            }]
        );
        assert_eq!(gate.unscanned.no_scan, OnUnscanned::Pass);
        assert_eq!(
            gate.unscanned.in_progress,
            OnUnscanned::Fail,
            "fail closed by default"
        );
        assert_eq!(gate.unscanned.expired, OnUnscanned::Fail);
        assert_eq!(gate.unscanned.unsupported, OnUnscanned::Fail);
        assert_eq!(gate.unscanned.failed, OnUnscanned::Fail);
    }

    #[test]
    fn scan_gate_errors() {
        let p = problems(
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"SEVERE": 0}, "allow": [{"id": "CVE-1", "until": "next year"}, {"id": " ", "until": "2026-01-01"}]}}"#,
        );
        assert!(
            p.contains("unknown severity `SEVERE`") && p.contains("CRITICAL, HIGH"),
            "{p}"
        );
        assert!(p.contains("`next year` (for `CVE-1`) is not a date"), "{p}");
        assert_eq!(
            paths(
                r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"SEVERE": 0}, "allow": [{"id": "CVE-1", "until": "next year"}, {"id": " ", "until": "2026-01-01"}]}}"#
            ),
            [
                "UserParameters.scanGate.max.SEVERE",
                "UserParameters.scanGate.allow[0].until",
                "UserParameters.scanGate.allow[1].id"
            ]
        );
    }

    #[test]
    fn severities_spelled_twice_are_refused() {
        let p = problems(
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"CRITICAL": 0, "critical": 50}}}"#,
        );
        assert!(
            p.contains("UserParameters.scanGate.max.critical: `CRITICAL` and `critical` name the same severity; keep one"),
            "{p}"
        );
        // Exact duplicates never get this far: UserParameters refuses them when it is parsed.
        let e = shared::params::parse_params::<Config>(Some(
            r#"{"scanGate": {"max": {"HIGH": 0, "HIGH": 9}}}"#,
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("the key `HIGH` twice (at `scanGate.max.HIGH`)"),
            "{e}"
        );
    }

    #[test]
    fn default_config_is_invalid_with_guidance() {
        let p = Config::default().validate().unwrap_err().to_string();
        assert!(
            p.contains("UserParameters.source: is missing") && p.contains(EXAMPLE),
            "{p}"
        );
    }
}

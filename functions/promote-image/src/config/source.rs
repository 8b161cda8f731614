//! `UserParameters.source`: exactly one of a repository with a tag or digest (in ECR or
//! another registry), an image URI, or an input artifact; and a registry user name only
//! beside the secret that holds its password.

use shared::problem::Problems;

use super::{EXAMPLE, SourceConfig, at, check, unresolved};
use crate::registry_image::{
    Place, RegistryImage, api_repository, parse_place, parse_registry_image,
};
use shared::image::{
    EcrImageRef, Reference, ReferenceError, is_account_id, is_digest, is_ecr_repository_name,
    is_tag,
};

/// The source as UserParameters name it, before the route is assembled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SourceSpec {
    Image(EcrImageRef),
    /// An image in a registry other than ECR.
    Registry(RegistryImage),
    Artifact {
        name: String,
        file: Option<String>,
        container: Option<String>,
    },
}

pub(super) fn validate_source(s: SourceConfig, problems: &mut Problems) -> Option<SourceSpec> {
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
        return match EcrImageRef::parse(&uri) {
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
        is_ecr_repository_name,
        "a valid ECR repository name",
        problems,
    );
    if let Some(id) = &s.registry_id {
        check(
            "source.registryId",
            id,
            is_account_id,
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
    Some(SourceSpec::Image(EcrImageRef {
        registry_id,
        region,
        repository,
        reference,
    }))
}

pub(super) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `username` names the user of a secret that holds the password alone.
pub(super) fn check_username(
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

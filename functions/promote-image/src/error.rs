//! The action's errors: a variant per cause, carrying the values that explain it; each is
//! one CodePipeline failure type and one stable `error_type`.
use shared::error_type;

use shared::artifacts::ArtifactError;
use shared::aws::AssumeError;
use shared::error::{AwsError, Failure, FailureType};
use shared::problem::Problems;
use shared::referrers::ReferrerError;
use shared::registry::RegistryError;
use shared::text::escape_control;

use crate::manifest::{ManifestError, MediaType};
use crate::tags::{self, Conflict, Mutability};
use shared::image::{IMAGE_DEFINITIONS, IMAGE_DETAIL, Reference, short_digest};

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// UserParameters were read but do not make a route; every problem with its JSON path.
    #[error("{}", escape_control(&.0.to_string()))]
    Settings(Problems),
    /// The function runs without a region, so "the function's own" names none.
    #[error(
        "the function has no AWS region configured (AWS_REGION is not set); set it, or name \
         the region in the image URI or target.region"
    )]
    NoRegion,
    /// The input artifact holds no image file to read the source from.
    #[error("{}", no_image_file(.artifact, .contains, *.container))]
    NoImageFile {
        artifact: String,
        /// The artifact's paths, for the message.
        contains: Vec<String>,
        /// Whether source.container asked for an `imagedefinitions.json`.
        container: bool,
    },
    /// The artifact's image file does not name an ECR image to promote.
    #[error("input artifact `{artifact}`: {}", escape_control(.problem))]
    ImageFile { artifact: String, problem: String },
    /// A stored manifest is not text, so it cannot be put again as it is.
    #[error(
        "manifest {digest} is not UTF-8 JSON; push the image again with a current Docker or buildx"
    )]
    ManifestNotText { digest: String },
    /// UserParameters is wrong; every problem with its JSON path.
    #[error("{0}")]
    Invalid(Problems),
    #[error("source repository `{repository}` does not exist ({place}); {hint}")]
    SourceRepositoryMissing {
        repository: String,
        /// `registry 111122223333, eu-west-1`.
        place: String,
        hint: String,
    },
    /// The image named in UserParameters does not exist.
    #[error("repository `{repository}` ({place}) has {}; check source.{}", missing(.reference), field(.reference))]
    SourceImageMissing {
        repository: String,
        place: String,
        reference: Reference,
    },
    /// The image an input artifact names does not exist (the build's output is gone).
    #[error(
        "repository `{repository}` ({place}) has {}, the image named by {origin}. Was it pushed, or \
         expired by a lifecycle policy? Re-run the build that produces it",
        missing(.reference)
    )]
    RevisionUnavailable {
        repository: String,
        place: String,
        reference: Reference,
        origin: String,
    },
    #[error(
        "target repository `{repository}` does not exist ({place}); create it first (promote-image \
         does not create repositories), or fix target.repository"
    )]
    TargetRepositoryMissing { repository: String, place: String },
    /// Target tags cannot be pointed at the image (immutable, or moving forbidden).
    #[error("{}", tags::explain(.conflicts, .repository, .mutability, .digest))]
    TagConflict {
        conflicts: Vec<Conflict>,
        repository: String,
        mutability: Mutability,
        digest: String,
    },
    /// An index lists child manifests the repository does not hold.
    #[error(
        "{image} is an {media_type} ({}) whose child manifests are missing from repository `{repository}`: \
         {}. Promoting it would publish a broken multi-platform image. Push the complete image again \
         (e.g. docker buildx build --platform ... --push) and make sure no lifecycle policy expires \
         untagged child images",
        short_digest(.digest),
        .missing.join(", ")
    )]
    IncompleteIndex {
        image: String,
        media_type: MediaType,
        digest: String,
        repository: String,
        /// `linux/arm64 sha256:...` for each missing child.
        missing: Vec<String>,
    },
    /// The manifest cannot be promoted as it is.
    #[error("{image} ({}): {source}", short_digest(.digest))]
    Manifest {
        image: String,
        digest: String,
        source: ManifestError,
    },
    #[error("child manifest {}: {source}", short_digest(.digest))]
    ChildManifest {
        digest: String,
        source: ManifestError,
    },
    #[error(
        "child manifest {} is itself an index; nested indexes are not supported",
        short_digest(.digest)
    )]
    NestedIndex { digest: String },
    #[error(
        "{image} ({}) was not promoted: the index holds no runnable image to check (only \
         attestations), so the scan gate cannot pass",
        short_digest(.digest)
    )]
    NothingToScan { image: String, digest: String },
    /// The scan gate refused the image; `verdict` is the gate's report.
    #[error(
        "{image} ({}) was not promoted. {verdict}. Fix the findings and rebuild, or add an \
         allow-list entry (scanGate.allow: [{{\"id\": \"CVE-...\", \"until\": \"YYYY-MM-DD\"}}]) for \
         accepted ones",
        short_digest(.digest)
    )]
    ScanGate {
        image: String,
        digest: String,
        verdict: String,
    },
    /// The source tag moved between the look-up and the scan.
    #[error(
        "{image} moved from {} to {} while it was being promoted; run the stage again",
        short_digest(.from),
        short_digest(.to)
    )]
    SourceMoved {
        image: String,
        from: String,
        to: String,
    },
    /// A target tag moved while the action wrote it.
    #[error(
        "tag `{tag}` in repository {repository} changed while it was being promoted (it now points \
         at {}); run the stage again",
        .now.as_deref().map_or("nothing", short_digest)
    )]
    TagMoved {
        tag: String,
        repository: String,
        now: Option<String>,
    },
    /// Some tags were written before one failed.
    #[error(
        "{source}. Tags written: {}; not written: {}. Run the stage again to finish (tags already \
         in place are left as they are)",
        list(.written),
        list(.not_written)
    )]
    TagsPartlyWritten {
        written: Vec<String>,
        not_written: Vec<String>,
        source: Box<PromoteError>,
    },
    /// Downloading a layer failed after retries.
    #[error(
        "could not download layer {} from repository {repository} after {attempts} attempts \
         ({reason}); retry the stage",
        short_digest(.layer)
    )]
    Transfer {
        layer: String,
        repository: String,
        attempts: usize,
        reason: String,
    },
    #[error(transparent)]
    Artifact(Box<ArtifactError>),
    #[error(transparent)]
    Aws(Box<AwsError>),
    /// The target role could not be assumed.
    #[error(transparent)]
    Assume(#[from] AssumeError),
    /// A registry other than ECR (or its credentials secret) failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Reading or writing referrers failed (more than are read, a tag-schema tag that is
    /// not an index, a registry failure).
    #[error("{}", referrer_message(.0))]
    Referrers(#[from] ReferrerError),
    /// The source does not carry the signatures `verify` requires, or its trust material
    /// could not be read.
    #[error(transparent)]
    Verify(#[from] shared::verify::VerifyError),
    /// ECR refused a referrer's manifest.
    #[error(
        "ECR repository {repository} refused referrer {digest} ({}) of {subject}: {answer}. \
         ECR is known to refuse some referrers: an SPDX SBOM whose subject is an index \
         (aws/containers-roadmap#2783) and media types with parameters such as \
         `application/vnd.dev.sigstore.bundle+json;version=0.2` (sigstore/sigstore-js#1058). \
         List the types to copy in referrers.artifactTypes to leave this one out; no release \
         tag was written",
        .artifact_type.as_deref().unwrap_or("no artifact type")
    )]
    ReferrerRefused {
        digest: String,
        artifact_type: Option<String>,
        subject: String,
        repository: String,
        /// ECR's own message.
        answer: String,
    },
    /// A cosign signature tag would have to move in a target whose tags are immutable.
    #[error(
        "tag `{tag}` (cosign's signature tag) in repository {repository} points at {} and the \
         source's is {}, but the repository's tags are immutable, so it cannot move (cosign \
         adds each new signature to this tag); sign with OCI 1.1 referrers instead (cosign \
         --registry-referrers-mode=oci-1-1), exclude these tags from the immutability rule, \
         or set \"referrers\": false",
        short_digest(.current),
        short_digest(.wanted)
    )]
    ReferrerTagImmutable {
        tag: String,
        repository: String,
        current: String,
        /// The source's digest of the tag.
        wanted: String,
    },
    /// The registry image to promote does not exist.
    #[error("{registry} has no manifest `{reference}` in repository `{repository}`; check {field}")]
    RegistryImageMissing {
        registry: String,
        repository: String,
        reference: String,
        field: &'static str,
    },
}

fn missing(reference: &Reference) -> String {
    match reference {
        Reference::Tag(tag) => format!("no image tagged `{tag}`"),
        Reference::Digest(d) => format!("no image with digest {d}"),
    }
}

fn field(reference: &Reference) -> &'static str {
    match reference {
        Reference::Tag(_) => "tag",
        Reference::Digest(_) => "digest",
    }
}

fn no_image_file(artifact: &str, contains: &[String], container: bool) -> String {
    let listing = if contains.is_empty() {
        "nothing".to_string()
    } else {
        contains.join(", ")
    };
    if container {
        format!(
            "input artifact `{artifact}` has no {IMAGE_DEFINITIONS} (source.container needs one); \
             it contains: {listing}"
        )
    } else {
        format!(
            "input artifact `{artifact}` has neither {IMAGE_DETAIL} nor {IMAGE_DEFINITIONS}; it \
             contains: {listing}. Write one of them in the build, or name the file with source.file"
        )
    }
}

/// A referrers error, with what to change in this action when there are too many.
fn referrer_message(e: &ReferrerError) -> String {
    match e {
        ReferrerError::TooMany { .. } => format!(
            "{e} (referrers.artifactTypes copies only the types listed, and an ECR source lists \
             only those when there are at most 5; \"referrers\": false copies none)"
        ),
        _ => e.to_string(),
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

impl From<ArtifactError> for PromoteError {
    fn from(e: ArtifactError) -> Self {
        Self::Artifact(Box::new(e))
    }
}

impl From<AwsError> for PromoteError {
    fn from(e: AwsError) -> Self {
        Self::Aws(Box::new(e))
    }
}

impl From<Problems> for PromoteError {
    fn from(p: Problems) -> Self {
        Self::Invalid(p)
    }
}

impl Failure for PromoteError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Settings(_)
            | Self::NoRegion
            | Self::NoImageFile { .. }
            | Self::ImageFile { .. }
            | Self::ManifestNotText { .. }
            | Self::Invalid(_)
            | Self::SourceRepositoryMissing { .. }
            | Self::SourceImageMissing { .. }
            | Self::TargetRepositoryMissing { .. }
            | Self::TagConflict { .. } => FailureType::ConfigurationError,
            Self::RevisionUnavailable { .. } => FailureType::RevisionUnavailable,
            Self::IncompleteIndex { .. }
            | Self::Manifest { .. }
            | Self::ChildManifest { .. }
            | Self::NestedIndex { .. }
            | Self::NothingToScan { .. }
            | Self::ScanGate { .. } => FailureType::JobFailed,
            Self::SourceMoved { .. } | Self::TagMoved { .. } => FailureType::RevisionOutOfSync,
            Self::TagsPartlyWritten { source, .. } => source.failure_type(),
            Self::Transfer { .. } => FailureType::SystemUnavailable,
            Self::Artifact(e) => e.failure_type(),
            Self::Aws(e) => e.failure_type(),
            Self::Assume(e) => e.failure_type(),
            Self::Registry(e) => e.failure_type(),
            Self::RegistryImageMissing { .. } => FailureType::ConfigurationError,
            Self::Referrers(e) => e.failure_type(),
            Self::Verify(e) => e.failure_type(),
            Self::ReferrerRefused { .. } => FailureType::JobFailed,
            Self::ReferrerTagImmutable { .. } => FailureType::ConfigurationError,
        }
    }

    /// A stable name for the cause, for logs and reports.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Settings(_)
            | Self::NoRegion
            | Self::NoImageFile { .. }
            | Self::ImageFile { .. }
            | Self::ManifestNotText { .. } => error_type::CONFIG,
            Self::Invalid(_) => error_type::INVALID_USER_PARAMETERS,
            Self::SourceRepositoryMissing { .. } => error_type::SOURCE_REPOSITORY_NOT_FOUND,
            Self::SourceImageMissing { .. } => error_type::SOURCE_IMAGE_NOT_FOUND,
            Self::RevisionUnavailable { .. } => error_type::REVISION_UNAVAILABLE,
            Self::TargetRepositoryMissing { .. } => error_type::TARGET_REPOSITORY_NOT_FOUND,
            Self::TagConflict { .. } => error_type::TAG_CONFLICT,
            Self::IncompleteIndex { .. } => error_type::INCOMPLETE_INDEX,
            Self::Manifest { .. } => error_type::UNSUPPORTED_MANIFEST,
            Self::ChildManifest { .. } => error_type::UNSUPPORTED_CHILD_MANIFEST,
            Self::NestedIndex { .. } => error_type::NESTED_INDEX,
            Self::NothingToScan { .. } => error_type::SCAN_GATE_NOTHING_TO_SCAN,
            Self::ScanGate { .. } => error_type::SCAN_GATE_FAILED,
            Self::SourceMoved { .. } => error_type::SOURCE_MOVED,
            Self::TagMoved { .. } => error_type::TAG_MOVED,
            Self::TagsPartlyWritten { .. } => error_type::TAGS_PARTLY_WRITTEN,
            Self::Transfer { .. } => error_type::LAYER_TRANSFER_FAILED,
            Self::Artifact(_) => error_type::ARTIFACT,
            Self::Aws(_) => error_type::AWS,
            Self::Assume(_) => error_type::ASSUME_ROLE,
            Self::Registry(e) => e.error_type(),
            Self::RegistryImageMissing { .. } => error_type::REGISTRY_IMAGE_NOT_FOUND,
            Self::Referrers(e) => e.error_type(),
            Self::Verify(e) => e.error_type(),
            Self::ReferrerRefused { .. } => error_type::REFERRER_REFUSED,
            Self::ReferrerTagImmutable { .. } => error_type::REFERRER_TAG_IMMUTABLE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn s() -> String {
        "x".to_string()
    }

    #[test]
    fn each_variant_has_one_failure_type_and_a_stable_name() {
        let tag = || Reference::Tag("v1".into());
        let cases = [
            (
                PromoteError::Settings(Problems::new()),
                FailureType::ConfigurationError,
                "ConfigError",
            ),
            (
                PromoteError::NoRegion,
                FailureType::ConfigurationError,
                "ConfigError",
            ),
            (
                PromoteError::NoImageFile {
                    artifact: s(),
                    contains: vec![],
                    container: false,
                },
                FailureType::ConfigurationError,
                "ConfigError",
            ),
            (
                PromoteError::ImageFile {
                    artifact: s(),
                    problem: s(),
                },
                FailureType::ConfigurationError,
                "ConfigError",
            ),
            (
                PromoteError::ManifestNotText { digest: D.into() },
                FailureType::ConfigurationError,
                "ConfigError",
            ),
            (
                PromoteError::Invalid(Problems::new()),
                FailureType::ConfigurationError,
                "InvalidUserParameters",
            ),
            (
                PromoteError::SourceRepositoryMissing {
                    repository: s(),
                    place: s(),
                    hint: s(),
                },
                FailureType::ConfigurationError,
                "SourceRepositoryNotFound",
            ),
            (
                PromoteError::SourceImageMissing {
                    repository: s(),
                    place: s(),
                    reference: tag(),
                },
                FailureType::ConfigurationError,
                "SourceImageNotFound",
            ),
            (
                PromoteError::RevisionUnavailable {
                    repository: s(),
                    place: s(),
                    reference: tag(),
                    origin: s(),
                },
                FailureType::RevisionUnavailable,
                "RevisionUnavailable",
            ),
            (
                PromoteError::TargetRepositoryMissing {
                    repository: s(),
                    place: s(),
                },
                FailureType::ConfigurationError,
                "TargetRepositoryNotFound",
            ),
            (
                PromoteError::TagConflict {
                    conflicts: vec![],
                    repository: s(),
                    mutability: Mutability::Immutable,
                    digest: D.into(),
                },
                FailureType::ConfigurationError,
                "TagConflict",
            ),
            (
                PromoteError::IncompleteIndex {
                    image: s(),
                    media_type: MediaType::OciIndex,
                    digest: D.into(),
                    repository: s(),
                    missing: vec![],
                },
                FailureType::JobFailed,
                "IncompleteIndex",
            ),
            (
                PromoteError::Manifest {
                    image: s(),
                    digest: D.into(),
                    source: ManifestError::Json(s()),
                },
                FailureType::JobFailed,
                "UnsupportedManifest",
            ),
            (
                PromoteError::NothingToScan {
                    image: s(),
                    digest: D.into(),
                },
                FailureType::JobFailed,
                "ScanGateNothingToScan",
            ),
            (
                PromoteError::ScanGate {
                    image: s(),
                    digest: D.into(),
                    verdict: s(),
                },
                FailureType::JobFailed,
                "ScanGateFailed",
            ),
            (
                PromoteError::SourceMoved {
                    image: s(),
                    from: D.into(),
                    to: D.into(),
                },
                FailureType::RevisionOutOfSync,
                "SourceMoved",
            ),
            (
                PromoteError::TagMoved {
                    tag: s(),
                    repository: s(),
                    now: None,
                },
                FailureType::RevisionOutOfSync,
                "TagMoved",
            ),
            (
                PromoteError::TagsPartlyWritten {
                    written: vec![],
                    not_written: vec![],
                    source: Box::new(PromoteError::NoRegion),
                },
                FailureType::ConfigurationError,
                "TagsPartlyWritten",
            ),
            (
                PromoteError::Transfer {
                    layer: D.into(),
                    repository: s(),
                    attempts: 3,
                    reason: s(),
                },
                FailureType::SystemUnavailable,
                "LayerTransferFailed",
            ),
        ];
        for (error, kind, name) in cases {
            assert_eq!(error.failure_type(), kind, "{error:?}");
            assert_eq!(error.error_type(), name, "{error:?}");
        }
    }

    #[test]
    fn messages_name_the_values() {
        let e = PromoteError::TagsPartlyWritten {
            written: vec!["staging".into()],
            not_written: vec!["prod".into(), "v1".into()],
            source: Box::new(PromoteError::ManifestNotText { digest: D.into() }),
        };
        assert_eq!(
            e.to_string(),
            "manifest sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is not UTF-8 \
             JSON; push the image again with a current Docker or buildx. Tags written: staging; not written: prod, v1. Run the stage again \
             to finish (tags already in place are left as they are)"
        );
        let e = PromoteError::TagMoved {
            tag: "prod".into(),
            repository: "web".into(),
            now: None,
        };
        assert!(e.to_string().contains("now points at nothing"), "{e}");
        let e = PromoteError::ImageFile {
            artifact: "Build".into(),
            problem: "bad\u{1b}[2Jfile".into(),
        };
        assert_eq!(e.to_string(), "input artifact `Build`: bad\\u{1b}[2Jfile");
    }
}

//! The action's errors; each variant is one CodePipeline failure type.

use shared::artifacts::ArtifactError;
use shared::aws::AssumeError;
use shared::error::{AwsError, Failure, FailureType};

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// UserParameters, or a file they point at, is wrong.
    #[error("{0}")]
    Config(String),
    /// The image named in UserParameters, or its repository, does not exist.
    #[error("{0}")]
    SourceNotFound(String),
    /// The image an input artifact names does not exist (the build's output is gone).
    #[error("{0}")]
    RevisionUnavailable(String),
    /// A target tag cannot be pointed at the image (immutable, or moving forbidden).
    #[error("{0}")]
    TagConflict(String),
    /// An index lists child manifests the repository does not hold.
    #[error("{0}")]
    IncompleteIndex(String),
    /// The manifest cannot be promoted as it is.
    #[error("{0}")]
    Manifest(String),
    /// The scan gate refused the image.
    #[error("{0}")]
    ScanGate(String),
    /// The source or a tag changed while the action ran.
    #[error("{0}")]
    Raced(String),
    /// Downloading a layer failed after retries.
    #[error("{0}")]
    Transfer(String),
    #[error(transparent)]
    Artifact(Box<ArtifactError>),
    #[error(transparent)]
    Aws(Box<AwsError>),
    /// The target role could not be assumed.
    #[error(transparent)]
    Assume(#[from] AssumeError),
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

impl Failure for PromoteError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Config(_) | Self::SourceNotFound(_) | Self::TagConflict(_) => {
                FailureType::ConfigurationError
            }
            Self::RevisionUnavailable(_) => FailureType::RevisionUnavailable,
            Self::IncompleteIndex(_) | Self::Manifest(_) | Self::ScanGate(_) => {
                FailureType::JobFailed
            }
            Self::Raced(_) => FailureType::RevisionOutOfSync,
            Self::Transfer(_) => FailureType::SystemUnavailable,
            Self::Artifact(e) => e.failure_type(),
            Self::Aws(e) => e.failure_type(),
            Self::Assume(e) => e.failure_type(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_maps_to_one_failure_type() {
        let s = || "x".to_string();
        let cases = [
            (PromoteError::Config(s()), FailureType::ConfigurationError),
            (
                PromoteError::SourceNotFound(s()),
                FailureType::ConfigurationError,
            ),
            (
                PromoteError::TagConflict(s()),
                FailureType::ConfigurationError,
            ),
            (
                PromoteError::RevisionUnavailable(s()),
                FailureType::RevisionUnavailable,
            ),
            (PromoteError::IncompleteIndex(s()), FailureType::JobFailed),
            (PromoteError::Manifest(s()), FailureType::JobFailed),
            (PromoteError::ScanGate(s()), FailureType::JobFailed),
            (PromoteError::Raced(s()), FailureType::RevisionOutOfSync),
            (PromoteError::Transfer(s()), FailureType::SystemUnavailable),
        ];
        for (error, kind) in cases {
            assert_eq!(error.failure_type(), kind, "{error:?}");
            assert_eq!(error.to_string(), "x");
        }
    }
}

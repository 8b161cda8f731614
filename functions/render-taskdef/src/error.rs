//! The action's errors; each variant is one CodePipeline failure type.
use shared::error_type;

use crate::problem::Problems;
use shared::artifacts::ArtifactError;
use shared::ecs::EcsError;
use shared::error::{AwsError, Failure, FailureType};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The inputs cannot give a valid task definition.
    #[error("{0}. Nothing was written or registered")]
    Invalid(Problems),
    #[error(
        "task definition `{id}` was not found ({detail}); check UserParameters.taskDefinition (a family, family:revision or ARN)"
    )]
    TaskDefinitionNotFound { id: String, detail: String },
    #[error(
        "service `{service}` was not found in cluster `{cluster}` ({reason}); check UserParameters.service and cluster"
    )]
    ServiceNotFound {
        cluster: String,
        service: String,
        reason: String,
    },
    #[error(
        "image `{uri}` was not found in ECR ({detail}); push it before this action runs, or correct the tag"
    )]
    ImageNotFound { uri: String, detail: String },
    #[error(
        "image `{uri}` was not found in its registry; push it before this action runs, or correct the tag"
    )]
    RegistryImageNotFound { uri: String },
    #[error(transparent)]
    Registry(#[from] shared::registry::RegistryError),
    #[error("{operation} returned {detail}")]
    Unexpected {
        operation: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Ecs(#[from] EcsError),
    /// The workload account's role could not be assumed.
    #[error(transparent)]
    Assume(#[from] shared::aws::AssumeError),
    /// An image does not carry the signatures `verify` requires, or the trust material
    /// could not be read.
    #[error(transparent)]
    Verify(#[from] shared::verify::VerifyError),
    /// An image's signatures could not be read.
    #[error(transparent)]
    Signatures(#[from] shared::referrers::ReferrerError),
}

impl Failure for Error {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Invalid(_)
            | Self::TaskDefinitionNotFound { .. }
            | Self::ServiceNotFound { .. } => FailureType::ConfigurationError,
            Self::ImageNotFound { .. }
            | Self::RegistryImageNotFound { .. }
            | Self::Unexpected { .. } => FailureType::JobFailed,
            Self::Registry(e) => e.failure_type(),
            Self::Artifact(e) => e.failure_type(),
            Self::Aws(e) => e.failure_type(),
            Self::Ecs(e) => e.failure_type(),
            Self::Assume(e) => e.failure_type(),
            Self::Verify(e) => e.failure_type(),
            Self::Signatures(e) => e.failure_type(),
        }
    }

    /// A stable name for the cause, for logs and reports.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Invalid(_) => error_type::INVALID_TASK_DEFINITION,
            Self::TaskDefinitionNotFound { .. } => error_type::TASK_DEFINITION_NOT_FOUND,
            Self::ServiceNotFound { .. } => error_type::SERVICE_NOT_FOUND,
            Self::ImageNotFound { .. } | Self::RegistryImageNotFound { .. } => {
                error_type::IMAGE_NOT_FOUND
            }
            Self::Registry(e) => e.error_type(),
            Self::Unexpected { .. } => error_type::UNEXPECTED_RESPONSE,
            Self::Artifact(_) => error_type::ARTIFACT,
            Self::Aws(_) => error_type::AWS,
            Self::Ecs(_) => error_type::ECS,
            Self::Assume(_) => error_type::ASSUME_ROLE,
            Self::Verify(e) => e.error_type(),
            Self::Signatures(e) => e.error_type(),
        }
    }
}

impl From<Problems> for Error {
    fn from(p: Problems) -> Self {
        Self::Invalid(p)
    }
}

impl From<Vec<crate::problem::Problem>> for Error {
    fn from(p: Vec<crate::problem::Problem>) -> Self {
        Self::Invalid(Problems(p))
    }
}

impl From<crate::problem::Problem> for Error {
    fn from(p: crate::problem::Problem) -> Self {
        Self::Invalid(Problems(vec![p]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Problem;

    #[test]
    fn failure_types() {
        let invalid = Error::from(vec![Problem::new("family", "is missing")]);
        assert_eq!(invalid.failure_type(), FailureType::ConfigurationError);
        assert_eq!(
            invalid.to_string(),
            "family: is missing. Nothing was written or registered"
        );
        let e = Error::ImageNotFound {
            uri: "r:1".into(),
            detail: "no tag".into(),
        };
        assert_eq!(e.failure_type(), FailureType::JobFailed);
        let e = Error::TaskDefinitionNotFound {
            id: "web:9".into(),
            detail: "x".into(),
        };
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        let e = Error::Artifact(ArtifactError::NoSuchOutput {
            name: "o".into(),
            available: "none".into(),
        });
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    }
}

//! Failure types and the classification of AWS errors.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt;

/// CodePipeline's `FailureDetails.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureType {
    JobFailed,
    ConfigurationError,
    PermissionError,
    RevisionOutOfSync,
    RevisionUnavailable,
    SystemUnavailable,
}

impl FailureType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobFailed => "JobFailed",
            Self::ConfigurationError => "ConfigurationError",
            Self::PermissionError => "PermissionError",
            Self::RevisionOutOfSync => "RevisionOutOfSync",
            Self::RevisionUnavailable => "RevisionUnavailable",
            Self::SystemUnavailable => "SystemUnavailable",
        }
    }
}

impl fmt::Display for FailureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error an action reports to CodePipeline. Its `Display` is the console message:
/// what was wrong and what to do about it.
pub trait Failure: std::error::Error + Send + Sync + 'static {
    fn failure_type(&self) -> FailureType;

    /// A stable, machine-readable name for the cause (Lambda's `errorType`, the log's
    /// `error_type`). Enums override it with one name per variant.
    fn error_type(&self) -> &'static str {
        self.failure_type().as_str()
    }

    /// Whether invoking again can help (throttling, an outage). Only such errors are
    /// returned to Lambda by the triggers that have no one else to report to.
    fn retryable(&self) -> bool {
        self.failure_type() == FailureType::SystemUnavailable
    }
}

/// An AWS call that failed, classified for the report.
#[derive(Debug, Clone)]
pub struct AwsError {
    operation: &'static str,
    kind: FailureType,
    code: Option<String>,
    detail: String,
}

impl AwsError {
    /// The AWS error code (`ImageAlreadyExistsException`, ...), when the service sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    pub fn operation(&self) -> &'static str {
        self.operation
    }

    pub fn kind(&self) -> FailureType {
        self.kind
    }

    /// A request that could not be built or sent for a local reason.
    pub fn local(operation: &'static str, detail: impl Into<String>) -> Self {
        Self {
            operation,
            kind: FailureType::JobFailed,
            code: None,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.detail)?;
        match self.kind {
            FailureType::PermissionError => write!(
                f,
                ". Allow {} in the IAM policy of the role that makes this call",
                self.operation
            ),
            FailureType::SystemUnavailable => {
                f.write_str(". AWS was throttling or unavailable after retries; retry the stage")
            }
            _ => Ok(()),
        }
    }
}

impl std::error::Error for AwsError {}

impl Failure for AwsError {
    fn failure_type(&self) -> FailureType {
        self.kind
    }
}

/// Classifies an SDK error. `operation` is the IAM action name, e.g. `ecr:BatchGetImage`.
pub fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, code, detail) = match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().map(str::to_owned);
            let message = service.err().message().unwrap_or("no message");
            let kind = classify(code.as_deref(), status);
            let detail = match &code {
                Some(c) => format!("{c}: {message}"),
                None => format!("HTTP {status}: {message}"),
            };
            (kind, code, detail)
        }
        SdkError::TimeoutError(_) => (
            FailureType::SystemUnavailable,
            None,
            "the request timed out".to_owned(),
        ),
        SdkError::DispatchFailure(_) => (
            FailureType::SystemUnavailable,
            None,
            format!(
                "could not reach the service ({})",
                DisplayErrorContext(&err)
            ),
        ),
        SdkError::ResponseError(_) => (
            FailureType::SystemUnavailable,
            None,
            format!("unreadable response ({})", DisplayErrorContext(&err)),
        ),
        other => (
            FailureType::JobFailed,
            None,
            DisplayErrorContext(other).to_string(),
        ),
    };
    AwsError {
        operation,
        kind,
        code,
        detail,
    }
}

/// Maps an AWS error code and HTTP status to a failure type.
pub fn classify(code: Option<&str>, status: u16) -> FailureType {
    const DENIED: &[&str] = &[
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
    ];
    const BUSY: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    ];
    match code {
        Some(c) if DENIED.contains(&c) => FailureType::PermissionError,
        Some(c) if BUSY.contains(&c) => FailureType::SystemUnavailable,
        _ if status == 403 => FailureType::PermissionError,
        _ if status == 429 || status >= 500 => FailureType::SystemUnavailable,
        _ => FailureType::JobFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes_and_statuses() {
        use FailureType::*;
        assert_eq!(
            classify(Some("AccessDeniedException"), 400),
            PermissionError
        );
        assert_eq!(classify(Some("AccessDenied"), 403), PermissionError);
        assert_eq!(classify(None, 403), PermissionError);
        assert_eq!(
            classify(Some("ThrottlingException"), 400),
            SystemUnavailable
        );
        assert_eq!(classify(Some("SlowDown"), 503), SystemUnavailable);
        assert_eq!(classify(None, 500), SystemUnavailable);
        assert_eq!(classify(None, 429), SystemUnavailable);
        assert_eq!(
            classify(Some("RepositoryNotFoundException"), 400),
            JobFailed
        );
        assert_eq!(classify(None, 404), JobFailed);
    }
}

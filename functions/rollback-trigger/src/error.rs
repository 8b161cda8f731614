//! The function's errors. Each variant is one cause, with a failure type, a stable
//! `error_type` (Lambda's `errorType`), and whether invoking again can help: only then
//! does the invocation fail so that Lambda (or EventBridge, or SNS) delivers it again.
use shared::error_type;

use shared::error::{AwsError, Failure, FailureType};

#[derive(Debug, Clone, thiserror::Error)]
pub enum RollbackError {
    #[error("the event is {keys}, which is not one this function handles; send {shapes}", shapes = crate::event::SHAPES)]
    UnknownEvent { keys: String },
    #[error("the {shape} cannot be read: {problem}")]
    BadEvent {
        shape: &'static str,
        problem: String,
    },
    /// Every problem of the function's settings, each with its variable.
    #[error("{}", settings_text(.0))]
    Config(Vec<SettingProblem>),
    #[error(
        "alarm `{alarm}` has bad rollback tags: {problem}. Fix the alarm's tags; nothing was done"
    )]
    Tags { alarm: String, problem: String },
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error(
        "alarm `{alarm}` is in account {account}, which is not this function's account ({own}) and has no role in ROLLBACK_ACCOUNTS; add {account} with the role that reaches it (or give each target an `account`). Nothing was done"
    )]
    NoRole {
        alarm: String,
        account: String,
        own: String,
    },
    #[error("{0}")]
    Assume(shared::aws::AssumeError),
    /// Some targets could not be settled now (AWS throttling or unavailable, a stage
    /// still running); the others were handled. Invoking again finishes the job safely.
    #[error("not finished, retry: {}", pending.join("; "))]
    RetryLater { pending: Vec<String> },
}

/// A setting (its environment variable) and what is wrong with it.
pub type SettingProblem = (&'static str, String);

impl RollbackError {
    /// One problem with `setting`.
    pub fn config(setting: &'static str, problem: impl Into<String>) -> Self {
        Self::Config(vec![(setting, problem.into())])
    }
}

/// One problem as it always read; several numbered, in one answer.
fn settings_text(problems: &[SettingProblem]) -> String {
    match problems {
        [(setting, problem)] => format!(
            "the function's setting {setting}: {problem}. Fix the Lambda environment variable; nothing was done"
        ),
        many => {
            let items: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, (setting, problem))| format!("({}) {setting}: {problem}", i + 1))
                .collect();
            format!(
                "the function's settings have {} problems: {}. Fix the Lambda environment variables; nothing was done",
                many.len(),
                items.join("; ")
            )
        }
    }
}

impl Failure for RollbackError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::UnknownEvent { .. }
            | Self::BadEvent { .. }
            | Self::Config(_)
            | Self::Tags { .. } => FailureType::ConfigurationError,
            Self::Aws(e) => e.failure_type(),
            Self::NoRole { .. } => FailureType::ConfigurationError,
            Self::Assume(e) => shared::Failure::failure_type(e),
            Self::RetryLater { .. } => FailureType::SystemUnavailable,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::UnknownEvent { .. } => error_type::UNKNOWN_EVENT,
            Self::BadEvent { .. } => error_type::BAD_EVENT,
            Self::Config(_) => error_type::CONFIG,
            Self::Tags { .. } => error_type::ALARM_TAGS,
            Self::Aws(_) => error_type::AWS,
            Self::NoRole { .. } => error_type::NO_ROLE_FOR_ACCOUNT,
            Self::Assume(_) => error_type::ASSUME_ROLE,
            Self::RetryLater { .. } => error_type::RETRY_LATER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_retry_can_fix_is_retryable() {
        let cases = [
            (
                RollbackError::UnknownEvent { keys: "x".into() },
                "UnknownEvent",
                false,
            ),
            (
                RollbackError::BadEvent {
                    shape: "s",
                    problem: "p".into(),
                },
                "BadEvent",
                false,
            ),
            (RollbackError::config("DRY_RUN", "p"), "ConfigError", false),
            (
                RollbackError::Tags {
                    alarm: "a".into(),
                    problem: "p".into(),
                },
                "AlarmTags",
                false,
            ),
            (
                RollbackError::RetryLater {
                    pending: vec!["x".into()],
                },
                "RetryLater",
                true,
            ),
            (
                RollbackError::Aws(AwsError::local("ecs:ListServiceDeployments", "x")),
                "AwsError",
                false,
            ),
        ];
        for (err, kind, retry) in cases {
            assert_eq!(err.error_type(), kind);
            assert_eq!(err.retryable(), retry, "{err}");
        }
    }
}

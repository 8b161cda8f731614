//! What the function decided, per target: one structured log line each, the same in the
//! invocation's result.

use serde::Serialize;
use shared::error::{AwsError, FailureType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The step was carried out.
    Acted,
    /// Dry run: the step that would have been carried out.
    DryRun,
    /// Nothing to do (already done, in progress, stale, not applicable).
    Nothing,
    /// Not safe or not possible: a person must look.
    Refused,
    /// Not possible yet: the invocation fails so that it is delivered again.
    RetryLater,
    /// An AWS call failed in a way a retry does not fix.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acted => "acted",
            Self::DryRun => "dryRun",
            Self::Nothing => "nothing",
            Self::Refused => "refused",
            Self::RetryLater => "retryLater",
            Self::Failed => "failed",
        }
    }
}

/// One target's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub target: String,
    pub outcome: Outcome,
    /// The step taken (or that a dry run would take).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Why, when no step was taken.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Decision {
    pub fn new(target: String, outcome: Outcome, action: Option<String>, reason: String) -> Self {
        Self {
            target,
            outcome,
            action,
            reason,
        }
    }

    /// An AWS error: retried later when throttling or an outage caused it.
    pub fn failed(target: String, e: &AwsError) -> Self {
        let outcome = if e.kind() == FailureType::SystemUnavailable {
            Outcome::RetryLater
        } else {
            Outcome::Failed
        };
        Self::new(target, outcome, None, e.to_string())
    }

    /// A role that could not be assumed: retried later only when STS was unavailable.
    pub fn refused_by(target: String, e: &crate::error::RollbackError) -> Self {
        use shared::Failure;
        let outcome = if e.retryable() {
            Outcome::RetryLater
        } else {
            Outcome::Failed
        };
        Self::new(target, outcome, None, e.to_string())
    }

    /// One line for a person: `ECS service prod/web: acted: stopped ...`.
    pub fn line(&self) -> String {
        let what = self.action.as_deref().unwrap_or_default();
        let sep = if what.is_empty() || self.reason.is_empty() {
            ""
        } else {
            "; "
        };
        format!(
            "{}: {}: {what}{sep}{}",
            self.target,
            self.outcome.as_str(),
            self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_in_one_glance() {
        let d = Decision::new(
            "ECS service prod/web".into(),
            Outcome::Acted,
            Some("stopped x".into()),
            String::new(),
        );
        assert_eq!(d.line(), "ECS service prod/web: acted: stopped x");
        let d = Decision::new("t".into(), Outcome::Nothing, None, "stale".into());
        assert_eq!(d.line(), "t: nothing: stale");
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"target": "t", "outcome": "nothing", "reason": "stale"})
        );
    }
}

//! The gate's errors: one variant per cause, each with its CodePipeline failure type and
//! a stable `error_type`. A failed or inconclusive verdict is an error too: it is what the
//! pipeline action reports as `JobFailed`.
use shared::error_type;

use shared::params::ParamsError;
use shared::problem::{Problem, Problems};
use shared::text::escape_line;
use shared::{AwsError, Failure, FailureType};

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// `UserParameters`, `hookDetails` or `HEALTH_GATE_CONFIG` could not be read.
    #[error("{0}")]
    Params(ParamsError),
    /// Keys with values the gate cannot use: every problem found, each with its key.
    #[error("health gate configuration{}", config_problems(.0))]
    BadConfig(Problems),
    /// An environment setting is wrong.
    #[error("the setting {name} is {problem}; fix it in the function's environment")]
    BadSetting { name: &'static str, problem: String },
    /// An AWS call failed in a way the gate cannot measure around.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The workload account's role could not be assumed.
    #[error(transparent)]
    Assume(shared::aws::AssumeError),
    /// The gate's verdict: the deployment is not healthy. The summary starts with `failed:`.
    #[error("health gate {summary}")]
    Failed { summary: String },
    /// The gate could not tell, and `onInconclusive` is `fail`. The summary starts with
    /// `inconclusive:`.
    #[error("health gate {summary}")]
    Inconclusive { summary: String },
}

impl GateError {
    /// One problem at `key`.
    pub fn config(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::BadConfig(Problem::new(key, problem).into())
    }
}

/// `, `key`: problem` for one; `: 2 problems: (1) `a`: x; (2) `b`: y` for several.
fn config_problems(problems: &Problems) -> String {
    let one = |p: &Problem| {
        let (key, problem) = (escape_line(&p.path), escape_line(&p.message));
        format!("`{key}`: {problem}")
    };
    match problems.0.as_slice() {
        [p] => format!(", {}", one(p)),
        many => {
            let items: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, p)| format!("({}) {}", i + 1, one(p)))
                .collect();
            format!(": {} problems: {}", many.len(), items.join("; "))
        }
    }
}

impl Failure for GateError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Params(_) | Self::BadConfig(_) | Self::BadSetting { .. } => {
                FailureType::ConfigurationError
            }
            Self::Aws(e) => e.failure_type(),
            Self::Assume(e) => e.failure_type(),
            Self::Failed { .. } | Self::Inconclusive { .. } => FailureType::JobFailed,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Params(_) => error_type::BAD_PARAMETERS,
            Self::BadConfig(_) => error_type::CONFIG,
            Self::BadSetting { .. } => error_type::BAD_SETTING,
            Self::Aws(_) => error_type::AWS,
            Self::Assume(_) => error_type::ASSUME_ROLE,
            Self::Failed { .. } => error_type::GATE_FAILED,
            Self::Inconclusive { .. } => error_type::GATE_INCONCLUSIVE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_problems_are_shown_with_their_keys() {
        assert_eq!(
            GateError::config("interval", "must be at least 1s").to_string(),
            "health gate configuration, `interval`: must be at least 1s"
        );
        let two = Problems(vec![
            Problem::new("interval", "must be at least 1s"),
            Problem::new("alarms", "give names\nor a prefix"),
        ]);
        assert_eq!(
            GateError::BadConfig(two).to_string(),
            "health gate configuration: 2 problems: (1) `interval`: must be at least 1s; (2) `alarms`: give names\\nor a prefix"
        );
    }

    #[test]
    fn each_cause_has_its_failure_type() {
        let cases = [
            (
                GateError::config("k", "p"),
                FailureType::ConfigurationError,
                "ConfigError",
            ),
            (
                GateError::Failed {
                    summary: "s".into(),
                },
                FailureType::JobFailed,
                "GateFailed",
            ),
            (
                GateError::Inconclusive {
                    summary: "s".into(),
                },
                FailureType::JobFailed,
                "GateInconclusive",
            ),
        ];
        for (e, kind, name) in cases {
            assert_eq!((e.failure_type(), e.error_type()), (kind, name), "{e}");
        }
    }
}

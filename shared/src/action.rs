//! What an action implements, and what it returns.

use crate::artifacts::Artifacts;
use crate::error::Failure;
use crate::job::Job;
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

/// How an invocation ends, when it does not fail.
#[derive(Debug)]
pub enum Outcome<S> {
    /// The action is done.
    Success(Success),
    /// Invoke the action again later with `state` (CodePipeline's continuation token).
    Continue {
        state: S,
        summary: String,
        percent_complete: Option<u8>,
    },
}

/// A final success, as shown in the console.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Success {
    pub summary: String,
    pub external_execution_id: Option<String>,
    pub output_variables: Vec<(String, String)>,
}

impl Success {
    pub fn new(summary: impl Into<String>) -> Self {
        Self {
            summary: summary.into(),
            ..Self::default()
        }
    }

    pub fn variable(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.output_variables.push((key.into(), value.into()));
        self
    }

    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_execution_id = Some(id.into());
        self
    }
}

/// Everything an action gets for one job.
pub struct JobContext<C, S> {
    pub job: Job,
    pub config: C,
    /// The state carried by the continuation token, on a re-invocation.
    pub state: Option<S>,
    pub artifacts: Artifacts,
    /// When the action must have returned; the runner keeps time after it to report.
    pub deadline: Instant,
}

impl<C, S> JobContext<C, S> {
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// One CodePipeline action.
pub trait Action: Send + Sync + 'static {
    /// Parsed from `UserParameters`; use `#[serde(deny_unknown_fields)]`.
    type Config: DeserializeOwned + Default + Send + 'static;
    /// Carried between invocations in the continuation token; `()` if the action never waits.
    type State: Serialize + DeserializeOwned + Send + 'static;
    type Error: Failure;

    /// The action's name, for logs.
    const NAME: &'static str;
    /// Bumped when `State` changes shape; a token of another version is refused clearly.
    const STATE_VERSION: u32 = 1;

    fn run(
        self: Arc<Self>,
        ctx: JobContext<Self::Config, Self::State>,
    ) -> impl Future<Output = Result<Outcome<Self::State>, Self::Error>> + Send;
}

//! What a function implements for each trigger other than a CodePipeline job (which is
//! [`crate::Action`]). The runner gives every handler the same guarantees: one answer per
//! invocation, a panic, an error or the deadline turned into an answer, scrubbed logs.

use crate::error::Failure;
use crate::trigger::{CodeDeployHookEvent, EcsHookEvent};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One invocation's event and the time the handler has.
#[derive(Debug, Clone)]
pub struct HookContext<E> {
    pub event: E,
    /// When the handler must have returned; the runner keeps time after it to answer.
    pub deadline: Instant,
}

impl<E> HookContext<E> {
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A CodeDeploy lifecycle hook's verdict, reported with
/// `PutLifecycleEventHookExecutionStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookVerdict {
    Succeeded { reason: String },
    Failed { reason: String },
}

impl HookVerdict {
    /// CodeDeploy's `LifecycleEventStatus`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Succeeded { .. } => "Succeeded",
            Self::Failed { .. } => "Failed",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Succeeded { reason } | Self::Failed { reason } => reason,
        }
    }
}

/// A CodeDeploy lifecycle hook (`AfterAllowTestTraffic`, `BeforeAllowTraffic`, ...).
pub trait CodeDeployHook: Send + Sync + 'static {
    type Error: Failure;
    const NAME: &'static str;

    fn check(
        self: Arc<Self>,
        ctx: HookContext<CodeDeployHookEvent>,
    ) -> impl Future<Output = Result<HookVerdict, Self::Error>> + Send;
}

/// An ECS lifecycle hook's answer: the function's return value.
#[derive(Debug, Clone, PartialEq)]
pub enum EcsHookAnswer {
    Succeeded {
        details: Value,
    },
    Failed {
        details: Value,
    },
    /// ECS invokes the hook again after `callback_delay_s`, with `details` merged into
    /// the next event's `hookDetails`.
    InProgress {
        callback_delay_s: u32,
        details: Value,
    },
}

/// An ECS service deployment lifecycle hook.
pub trait EcsHook: Send + Sync + 'static {
    type Error: Failure;
    const NAME: &'static str;

    fn check(
        self: Arc<Self>,
        ctx: HookContext<EcsHookEvent>,
    ) -> impl Future<Output = Result<EcsHookAnswer, Self::Error>> + Send;
}

/// Any other event: alarm state changes, SNS notifications, a person's request. There is
/// no one to report to: the answer is the return value and one structured log line. An
/// error reaches Lambda (which may deliver again) only when [`Failure::retryable`].
pub trait EventHandler: Send + Sync + 'static {
    type Error: Failure;
    const NAME: &'static str;

    fn handle(
        self: Arc<Self>,
        ctx: HookContext<Value>,
    ) -> impl Future<Output = Result<Value, Self::Error>> + Send;
}

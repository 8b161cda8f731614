//! One runner for every way a function is invoked. A function declares the triggers it
//! takes ([`Triggers`]); each invocation is recognised, given its deadline, and ends in
//! exactly one answer:
//!
//! | trigger | answer | on error, panic or near the deadline |
//! | --- | --- | --- |
//! | CodePipeline job | `PutJobSuccessResult` / `PutJobFailureResult` | a failure report |
//! | CodeDeploy hook | `PutLifecycleEventHookExecutionStatus` | `Failed`, reported |
//! | ECS hook | the return value `{hookStatus, callBackDelay, hookDetails}` | `FAILED`, with the reason |
//! | ECS pause hook | `ContinueServiceDeployment` by the handler, and the return value | as other events |
//! | other events | the return value and a log line | an error to Lambda only when a retry can help |

mod codedeploy;
pub mod deadline;
mod ecs;
mod event;
mod guard;
mod job;

use crate::action::Action;
use crate::handler::{CodeDeployHook, EcsHook, EventHandler};
use crate::logging;
use crate::trigger::{Trigger, recognise};
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use deadline::{Times, time_left};
use futures::future::BoxFuture;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::{Instrument, error};

/// One trigger's runner, behind a trait object so that a function links only the
/// reporters of the triggers it declares.
pub(crate) trait Serve: Send + Sync {
    fn serve(&self, payload: Value, times: Times) -> BoxFuture<'_, Result<Value, Diagnostic>>;
}

type Bind = Box<dyn FnOnce(&SdkConfig) -> Box<dyn Serve> + Send>;

/// The triggers a function takes, and its handler for each.
#[derive(Default)]
pub struct Triggers {
    name: Option<&'static str>,
    job: Option<Bind>,
    codedeploy: Option<Bind>,
    ecs: Option<Bind>,
    pause: Option<Bind>,
    event: Option<Bind>,
}

impl Triggers {
    pub fn new() -> Self {
        Self::default()
    }

    /// CodePipeline jobs, run by `action`.
    pub fn job<A: Action>(self, action: A) -> Self {
        self.job_arc(Arc::new(action))
    }

    pub fn job_arc<A: Action>(mut self, action: Arc<A>) -> Self {
        self.name.get_or_insert(A::NAME);
        self.job = Some(Box::new(move |sdk| {
            Box::new(job::JobRunner::new(action, sdk))
        }));
        self
    }

    /// CodeDeploy lifecycle hooks, checked by `hook`.
    pub fn codedeploy_hook<H: CodeDeployHook>(self, hook: H) -> Self {
        self.codedeploy_hook_arc(Arc::new(hook))
    }

    pub fn codedeploy_hook_arc<H: CodeDeployHook>(mut self, hook: Arc<H>) -> Self {
        self.name.get_or_insert(H::NAME);
        self.codedeploy = Some(Box::new(move |sdk| {
            Box::new(codedeploy::CodeDeployRunner::new(hook, sdk))
        }));
        self
    }

    /// ECS service deployment lifecycle hooks, checked by `hook`.
    pub fn ecs_hook<H: EcsHook>(self, hook: H) -> Self {
        self.ecs_hook_arc(Arc::new(hook))
    }

    pub fn ecs_hook_arc<H: EcsHook>(mut self, hook: Arc<H>) -> Self {
        self.name.get_or_insert(H::NAME);
        self.ecs = Some(Box::new(move |_| Box::new(ecs::EcsRunner::new(hook))));
        self
    }

    /// ECS pause hooks (the hook state change event, or a schedule), decided by
    /// `handler` as other events are: the answer is the return value, an error reaches
    /// Lambda only when a retry can help.
    pub fn ecs_pause_arc<H: EventHandler>(mut self, handler: Arc<H>) -> Self {
        self.name.get_or_insert(H::NAME);
        self.pause = Some(Box::new(move |_| {
            Box::new(event::EventRunner::new(handler))
        }));
        self
    }

    /// Every other event, handled by `handler`.
    pub fn event<H: EventHandler>(self, handler: H) -> Self {
        self.event_arc(Arc::new(handler))
    }

    pub fn event_arc<H: EventHandler>(mut self, handler: Arc<H>) -> Self {
        self.name.get_or_insert(H::NAME);
        self.event = Some(Box::new(move |_| {
            Box::new(event::EventRunner::new(handler))
        }));
        self
    }

    /// Builds the runners, with `margin` kept before each deadline to answer.
    pub fn bind(self, sdk: &SdkConfig, margin: Duration) -> Dispatcher {
        let bind = |b: Option<Bind>| b.map(|b| b(sdk));
        Dispatcher {
            name: self.name.unwrap_or("function"),
            margin,
            job: bind(self.job),
            codedeploy: bind(self.codedeploy),
            ecs: bind(self.ecs),
            pause: bind(self.pause),
            event: bind(self.event),
        }
    }
}

/// The bound triggers: the Lambda handler.
pub struct Dispatcher {
    name: &'static str,
    margin: Duration,
    job: Option<Box<dyn Serve>>,
    codedeploy: Option<Box<dyn Serve>>,
    ecs: Option<Box<dyn Serve>>,
    pause: Option<Box<dyn Serve>>,
    event: Option<Box<dyn Serve>>,
}

impl Dispatcher {
    /// The triggers this function takes.
    pub fn accepts(&self) -> Vec<Trigger> {
        [
            (Trigger::Job, self.job.is_some()),
            (Trigger::CodeDeployHook, self.codedeploy.is_some()),
            (Trigger::EcsHook, self.ecs.is_some()),
            (Trigger::EcsPause, self.pause.is_some()),
            (Trigger::Event, self.event.is_some()),
        ]
        .into_iter()
        .filter_map(|(t, on)| on.then_some(t))
        .collect()
    }

    fn runner(&self, trigger: Trigger) -> Option<&dyn Serve> {
        match trigger {
            Trigger::Job => self.job.as_deref(),
            Trigger::CodeDeployHook => self.codedeploy.as_deref(),
            Trigger::EcsHook => self.ecs.as_deref(),
            Trigger::EcsPause => self.pause.as_deref(),
            Trigger::Event => self.event.as_deref(),
        }
    }

    /// The Lambda handler: recognises the trigger and runs its handler. An event of a shape
    /// the function does not take gets an error that names the shapes it does.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
        let (payload, context) = event.into_parts();
        crate::runtime::remember_function_arn(&context.invoked_function_arn);
        let trigger = recognise(&payload);
        logging::register_event_secrets(&payload);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = time_left(context.deadline, now_ms);
        let start = Instant::now();
        let times = Times::split(start, left, self.margin);
        let span = tracing::info_span!("invocation", function = self.name, trigger = %trigger);
        async move {
            tracing::debug!(
                deadline_ms = context.deadline,
                budget_ms = times.action.saturating_duration_since(start).as_millis() as u64,
                "invoked"
            );
            let Some(runner) = self.runner(trigger) else {
                let message = unsupported(self.name, trigger, &self.accepts());
                error!(
                    error_type = crate::error_type::UNSUPPORTED_EVENT,
                    "{message}"
                );
                return Err(answer_error(crate::error_type::UNSUPPORTED_EVENT, message));
            };
            runner.serve(payload, times).await
        }
        .instrument(span)
        .await
    }
}

/// The message for an event of a shape the function does not take.
pub fn unsupported(name: &str, got: Trigger, accepts: &[Trigger]) -> String {
    let shapes: Vec<&str> = accepts.iter().map(|t| t.shape()).collect();
    let got = match got {
        Trigger::Event => "an event of no shape it takes".to_owned(),
        other => other.shape().to_owned(),
    };
    format!(
        "{name} was invoked with {got}. It accepts: {}. Check what invokes it (the pipeline action, the deployment's hook, the alarm's action)",
        shapes.join("; ")
    )
}

/// An invocation error as Lambda records it.
pub(crate) fn answer_error(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.into(),
    }
}

/// Retries for the report calls: a few quick attempts, each bounded, within the margin.
pub(crate) fn reporting_retries() -> (RetryConfig, TimeoutConfig) {
    (
        RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(100)),
        TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(2))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_event_names_the_accepted_shapes() {
        let m = unsupported(
            "health-gate",
            Trigger::Event,
            &[Trigger::Job, Trigger::EcsHook],
        );
        assert!(
            m.contains("CodePipeline.job") && m.contains("lifecycleStage"),
            "{m}"
        );
        let m = unsupported("render-taskdef", Trigger::CodeDeployHook, &[Trigger::Job]);
        assert!(
            m.starts_with("render-taskdef was invoked with a CodeDeploy lifecycle hook"),
            "{m}"
        );
    }
}

//! A CodeDeploy lifecycle hook: runs the check and answers with exactly one
//! `PutLifecycleEventHookExecutionStatus`, `Failed` on any error, panic or deadline, so a
//! deployment is never left waiting for the hook's hour-long timeout.

use super::deadline::{ANSWER_SLACK, Times};
use super::guard::{Ended, guarded, panic_text, timeout_text};
use super::{Serve, answer_error, reporting_retries};
use crate::aws::Lazy;
use crate::error::{AwsError, Failure, aws_error};
use crate::handler::{CodeDeployHook, HookContext, HookVerdict};
use crate::text::escape_control;
use crate::trigger::CodeDeployHookEvent;
use aws_config::SdkConfig;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use futures::future::BoxFuture;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use std::sync::Arc;
use tracing::{Instrument, error, info, warn};

pub(crate) struct CodeDeployRunner<H: CodeDeployHook> {
    hook: Arc<H>,
    codedeploy: Lazy<aws_sdk_codedeploy::Client>,
}

impl<H: CodeDeployHook> CodeDeployRunner<H> {
    pub(crate) fn new(hook: Arc<H>, sdk: &SdkConfig) -> Self {
        let (retry, timeout) = reporting_retries();
        let config = aws_sdk_codedeploy::config::Builder::from(sdk)
            .retry_config(retry)
            .timeout_config(timeout)
            .build();
        Self {
            hook,
            codedeploy: Lazy::with(move || aws_sdk_codedeploy::Client::from_conf(config.clone())),
        }
    }
}

impl<H: CodeDeployHook> Serve for CodeDeployRunner<H> {
    fn serve(&self, payload: Value, times: Times) -> BoxFuture<'_, Result<Value, Diagnostic>> {
        Box::pin(self.run(payload, times))
    }
}

impl<H: CodeDeployHook> CodeDeployRunner<H> {
    async fn run(&self, payload: Value, times: Times) -> Result<Value, Diagnostic> {
        // Without both ids there is nothing to answer; the error names what is wrong.
        let event: CodeDeployHookEvent = serde_json::from_value(payload).map_err(|e| {
            error!(error = %e, "unreadable CodeDeploy hook event");
            answer_error(
                crate::error_type::INVALID_EVENT,
                format!(
                    "the CodeDeploy lifecycle hook event could not be read ({e}); it must carry DeploymentId and LifecycleEventHookExecutionId as strings"
                ),
            )
        })?;
        let span =
            tracing::info_span!("hook", deployment_id = %event.deployment_id, hook = H::NAME);
        async move {
            let verdict = self.verdict(event.clone(), &times).await;
            info!(
                status = verdict.status(),
                reason = %escape_control(verdict.reason()),
                "verdict"
            );
            let answer = |status: &str| {
                json!({
                    "deploymentId": event.deployment_id,
                    "status": status,
                    "reason": verdict.reason(),
                })
            };
            match tokio::time::timeout_at(times.report, self.put(&event, &verdict)).await {
                Ok(Ok(())) => {
                    info!(status = verdict.status(), "reported");
                    Ok(answer(verdict.status()))
                }
                Ok(Err(e)) if e.code() == Some("LifecycleEventAlreadyCompletedException") => {
                    info!(reason = %e, "hook already answered; nothing to report");
                    Ok(answer("AlreadyEnded"))
                }
                // Another invocation cannot change these: the ids are not CodeDeploy's.
                Ok(Err(e))
                    if matches!(
                        e.code(),
                        Some(
                            "DeploymentDoesNotExistException"
                                | "InvalidDeploymentIdException"
                                | "InvalidLifecycleEventHookExecutionIdException"
                                | "DeploymentIdRequiredException"
                        )
                    ) =>
                {
                    error!(error = %e, "CodeDeploy does not know this hook execution; check the function's region and account");
                    Ok(answer("HookNotFound"))
                }
                Ok(Err(e)) => {
                    error!(error = %e, "report failed after retries");
                    Err(answer_error(
                        "ReportFailed",
                        format!("could not report the hook status to CodeDeploy: {e}"),
                    ))
                }
                Err(_) => {
                    error!("no time left to report before the Lambda deadline");
                    Err(answer_error(
                        "ReportFailed",
                        "could not report the hook status to CodeDeploy: no time left before the Lambda deadline",
                    ))
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn verdict(&self, event: CodeDeployHookEvent, times: &Times) -> HookVerdict {
        let ctx = HookContext {
            event,
            deadline: times.action,
        };
        match guarded(self.hook.clone().check(ctx), times.action).await {
            Ended::Done(Ok(verdict)) => verdict,
            Ended::Done(Err(e)) => {
                warn!(error_type = e.error_type(), error = %e, "hook check failed");
                HookVerdict::Failed {
                    reason: e.to_string(),
                }
            }
            Ended::Panicked(why) => HookVerdict::Failed {
                reason: panic_text(H::NAME, &why),
            },
            Ended::TimedOut(ran) => HookVerdict::Failed {
                reason: timeout_text(
                    H::NAME,
                    ran,
                    times.report.saturating_duration_since(times.action) + ANSWER_SLACK,
                ),
            },
        }
    }

    async fn put(
        &self,
        event: &CodeDeployHookEvent,
        verdict: &HookVerdict,
    ) -> Result<(), AwsError> {
        let status = match verdict {
            HookVerdict::Succeeded { .. } => LifecycleEventStatus::Succeeded,
            HookVerdict::Failed { .. } => LifecycleEventStatus::Failed,
        };
        self.codedeploy
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(&event.deployment_id)
            .lifecycle_event_hook_execution_id(&event.lifecycle_event_hook_execution_id)
            .status(status)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("codedeploy:PutLifecycleEventHookExecutionStatus", e))
    }
}

//! An ECS service deployment lifecycle hook: the answer is the return value
//! `{hookStatus, callBackDelay, hookDetails}`. Any error, panic, unreadable event or the
//! deadline becomes `FAILED` with the reason in `hookDetails`, never an invocation error
//! (which ECS would also read as a failure, but without saying why).

use super::Serve;
use super::deadline::{ANSWER_SLACK, Times};
use super::guard::{Ended, guarded, panic_text, timeout_text};
use crate::error::Failure;
use crate::handler::{EcsHook, EcsHookAnswer, HookContext};
use crate::text::escape_control;
use crate::trigger::EcsHookEvent;
use futures::future::BoxFuture;
use lambda_runtime::Diagnostic;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tracing::{Instrument, info, warn};

pub(crate) struct EcsRunner<H: EcsHook> {
    hook: Arc<H>,
}

impl<H: EcsHook> EcsRunner<H> {
    pub(crate) fn new(hook: Arc<H>) -> Self {
        Self { hook }
    }
}

impl<H: EcsHook> Serve for EcsRunner<H> {
    fn serve(&self, payload: Value, times: Times) -> BoxFuture<'_, Result<Value, Diagnostic>> {
        Box::pin(async move { Ok(self.run(payload, times).await) })
    }
}

impl<H: EcsHook> EcsRunner<H> {
    async fn run(&self, payload: Value, times: Times) -> Value {
        let event: EcsHookEvent = match serde_json::from_value(payload) {
            Ok(e) => e,
            Err(e) => {
                let reason = format!(
                    "the ECS lifecycle hook event could not be read ({e}); it must carry lifecycleStage and executionDetails as ECS sends them"
                );
                warn!(%reason, "unreadable ECS hook event");
                return failed(crate::error_type::INVALID_EVENT, &reason);
            }
        };
        let span = tracing::info_span!(
            "hook",
            stage = %event.lifecycle_stage,
            deployment = event.resource_arn.as_deref().unwrap_or(""),
            hook = H::NAME
        );
        async move {
            let ctx = HookContext {
                event,
                deadline: times.action,
            };
            let answer = match guarded(self.hook.clone().check(ctx), times.action).await {
                Ended::Done(Ok(answer)) => to_json(answer),
                Ended::Done(Err(e)) => failed(e.error_type(), &e.to_string()),
                Ended::Panicked(why) => {
                    failed(crate::error_type::PANIC, &panic_text(H::NAME, &why))
                }
                Ended::TimedOut(ran) => failed(
                    crate::error_type::TIMEOUT,
                    &timeout_text(
                        H::NAME,
                        ran,
                        times.report.saturating_duration_since(times.action) + ANSWER_SLACK,
                    ),
                ),
            };
            info!(
                hook_status = answer["hookStatus"].as_str().unwrap_or(""),
                details = %escape_control(&answer["hookDetails"].to_string()),
                "answered"
            );
            answer
        }
        .instrument(span)
        .await
    }
}

/// The return value ECS reads. `hookDetails` is always an object (ECS merges it into the
/// next event of the same hook).
fn to_json(answer: EcsHookAnswer) -> Value {
    match answer {
        EcsHookAnswer::Succeeded { details } => {
            json!({"hookStatus": "SUCCEEDED", "hookDetails": object(details)})
        }
        EcsHookAnswer::Failed { details } => {
            json!({"hookStatus": "FAILED", "hookDetails": object(details)})
        }
        EcsHookAnswer::InProgress {
            callback_delay_s,
            details,
        } => json!({
            "hookStatus": "IN_PROGRESS",
            "callBackDelay": callback_delay_s.max(1),
            "hookDetails": object(details),
        }),
    }
}

fn object(details: Value) -> Value {
    match details {
        Value::Object(_) => details,
        Value::Null => Value::Object(Map::new()),
        other => json!({ "details": other }),
    }
}

fn failed(error_type: &str, reason: &str) -> Value {
    json!({
        "hookStatus": "FAILED",
        "hookDetails": {"reason": reason, "errorType": error_type},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_an_object_of_details() {
        let cases = [
            (
                EcsHookAnswer::Succeeded {
                    details: Value::Null,
                },
                json!({"hookStatus": "SUCCEEDED", "hookDetails": {}}),
            ),
            (
                EcsHookAnswer::Failed {
                    details: json!("why"),
                },
                json!({"hookStatus": "FAILED", "hookDetails": {"details": "why"}}),
            ),
            (
                EcsHookAnswer::InProgress {
                    callback_delay_s: 0,
                    details: json!({"n": 1}),
                },
                json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 1, "hookDetails": {"n": 1}}),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(to_json(answer), want);
        }
    }
}

//! Any other event (alarm state changes, SNS, a person's request): the answer is the
//! return value and one structured log line. An error reaches Lambda, which may deliver
//! the event again, only when a retry can help; otherwise it is the answer.

use super::deadline::{ANSWER_SLACK, Times};
use super::guard::{Ended, guarded, panic_text, timeout_text};
use super::{Serve, answer_error};
use crate::error::Failure;
use crate::handler::{EventHandler, HookContext};
use crate::text::escape_control;
use futures::future::BoxFuture;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use std::sync::Arc;
use tracing::{error, info, warn};

pub(crate) struct EventRunner<H: EventHandler> {
    handler: Arc<H>,
}

impl<H: EventHandler> EventRunner<H> {
    pub(crate) fn new(handler: Arc<H>) -> Self {
        Self { handler }
    }
}

impl<H: EventHandler> Serve for EventRunner<H> {
    fn serve(&self, payload: Value, times: Times) -> BoxFuture<'_, Result<Value, Diagnostic>> {
        Box::pin(self.run(payload, times))
    }
}

impl<H: EventHandler> EventRunner<H> {
    async fn run(&self, payload: Value, times: Times) -> Result<Value, Diagnostic> {
        let ctx = HookContext {
            event: payload,
            deadline: times.action,
        };
        match guarded(self.handler.clone().handle(ctx), times.action).await {
            Ended::Done(Ok(answer)) => {
                info!(handler = H::NAME, answer = %escape_control(&answer.to_string()), "handled");
                Ok(answer)
            }
            Ended::Done(Err(e)) if e.retryable() => {
                error!(handler = H::NAME, error_type = e.error_type(), error = %e, retry = true, "failed; Lambda may deliver the event again");
                Err(answer_error(e.error_type(), e.to_string()))
            }
            Ended::Done(Err(e)) => {
                warn!(handler = H::NAME, error_type = e.error_type(), error = %e, retry = false, "failed");
                Ok(failed(e.error_type(), &e.to_string()))
            }
            // The same event would panic again: answer, do not ask for a retry.
            Ended::Panicked(why) => {
                Ok(failed(crate::error_type::PANIC, &panic_text(H::NAME, &why)))
            }
            // A slow or unreachable AWS may answer the next delivery.
            Ended::TimedOut(ran) => {
                let text = timeout_text(
                    H::NAME,
                    ran,
                    times.report.saturating_duration_since(times.action) + ANSWER_SLACK,
                );
                error!(handler = H::NAME, error_type = crate::error_type::TIMEOUT, error = %text, retry = true, "failed; Lambda may deliver the event again");
                Err(answer_error(crate::error_type::TIMEOUT, text))
            }
        }
    }
}

fn failed(error_type: &str, message: &str) -> Value {
    json!({"status": "Failed", "errorType": error_type, "message": message})
}

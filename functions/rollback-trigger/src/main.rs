use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use rollback_trigger::RollbackTrigger;
use serde_json::{Value, json};
use std::sync::Arc;

// Until the shared runner serves events with no reporter: an error goes back to Lambda
// only when a retry can help; any other error is the answer.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let sdk = shared::aws::load().await;
    let function = Arc::new(RollbackTrigger::new(&sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        async move {
            match function.handle(&event.payload).await {
                Ok(answer) => Ok(answer),
                Err(e) if e.retryable() => Err(Diagnostic {
                    error_type: e.error_type().to_owned(),
                    error_message: e.to_string(),
                }),
                Err(e) => {
                    tracing::warn!(error_type = e.error_type(), "{e}");
                    Ok(json!({"error": e.to_string(), "errorType": e.error_type()}))
                }
            }
        }
    }))
    .await
}

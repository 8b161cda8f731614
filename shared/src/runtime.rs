//! The Lambda entry point every function's `main` calls.

use crate::action::Action;
use crate::runner::Runner;
use aws_config::SdkConfig;
use lambda_runtime::service_fn;
use std::sync::Arc;

/// Initialises logging, loads the SDK configuration once, builds the action, and serves
/// invocations until the Lambda environment shuts down.
pub async fn run<A, F>(make: F) -> Result<(), lambda_runtime::Error>
where
    A: Action,
    F: FnOnce(&SdkConfig) -> A,
{
    crate::logging::init();
    let sdk = crate::aws::try_load()
        .await
        .inspect_err(|e| tracing::error!("{e}"))?;
    let runner = Arc::new(Runner::new(make(&sdk), &sdk));
    lambda_runtime::run(service_fn(move |event| {
        let runner = Arc::clone(&runner);
        // Boxed: the handler's future is deep, and its layout need not be part of `main`'s.
        async move { Box::pin(runner.handle(event)).await }
    }))
    .await
}

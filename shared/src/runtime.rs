//! The Lambda entry point every function's `main` calls.

use crate::action::Action;
use crate::runner::Triggers;
use crate::runner::deadline::margin_from;
use aws_config::SdkConfig;
use lambda_runtime::service_fn;
use std::sync::{Arc, OnceLock};

/// The invoked function's ARN, as the first invocation gave it.
static FUNCTION_ARN: OnceLock<String> = OnceLock::new();

/// Keeps the invoked function's ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
pub fn remember_function_arn(arn: &str) {
    if !arn.is_empty() {
        let _ = FUNCTION_ARN.set(arn.to_owned());
    }
}

/// The account the function runs in, from its ARN; `None` before the first invocation or
/// outside Lambda.
pub fn own_account() -> Option<&'static str> {
    FUNCTION_ARN
        .get()
        .and_then(|arn| crate::aws::account::arn_account(arn))
}

/// Initialises logging, reads the settings, loads the SDK configuration once, builds the
/// function's triggers, and serves invocations until the Lambda environment shuts down.
/// A bad setting stops the function at start with a message that names it.
pub async fn serve<F>(make: F) -> Result<(), lambda_runtime::Error>
where
    F: FnOnce(&SdkConfig) -> Triggers,
{
    crate::logging::init();
    let margin = margin_from(std::env::var("REPORT_MARGIN_MS").ok().as_deref())
        .inspect_err(|e| tracing::error!(error_type = crate::error_type::BAD_SETTING, "{e}"))?;
    let sdk = crate::aws::try_load()
        .await
        .inspect_err(|e| tracing::error!(error_type = crate::error_type::BAD_SETTING, "{e}"))?;
    let dispatcher = Arc::new(make(&sdk).bind(&sdk, margin));
    lambda_runtime::run(service_fn(move |event| {
        let dispatcher = Arc::clone(&dispatcher);
        // Boxed: the handler's future is deep, and its layout need not be part of `main`'s.
        async move { Box::pin(dispatcher.handle(event)).await }
    }))
    .await
}

/// [`serve`] for a function that takes CodePipeline jobs only.
pub async fn run<A, F>(make: F) -> Result<(), lambda_runtime::Error>
where
    A: Action,
    F: FnOnce(&SdkConfig) -> A,
{
    serve(|sdk| Triggers::new().job(make(sdk))).await
}

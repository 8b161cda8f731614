//! The floor for the benchmark: a hello-world `lambda_runtime` function with no AWS SDK.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(json!({ "echo": event.payload }))
    }))
    .await
}

//! SDK configuration, loaded once per cold start.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration from the environment: region, credentials, and endpoints
/// from the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` settings.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Whether a service's endpoint was overridden (an emulator or an S3-compatible store).
/// `service` is the environment suffix, e.g. `S3`.
pub fn custom_endpoint(sdk: &SdkConfig, service: &str) -> bool {
    sdk.endpoint_url().is_some()
        || std::env::var_os(format!("AWS_ENDPOINT_URL_{service}")).is_some_and(|v| !v.is_empty())
}

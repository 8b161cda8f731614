//! The AWS SDK's configuration, loaded once per cold start, and the clients built from it.
//!
//! - [`connector`]: the SDK's HTTPS client, over the stack the registries use;
//! - [`tls`]: the roots it trusts, the Mozilla roots compiled in (no certificate file is
//!   read at start unless `AWS_CA_BUNDLE` or `AWS_TLS_ROOTS=system` asks for it);
//! - [`retry`]: one retry and timeout policy for every call;
//! - [`account`]: the `account` block that names where a workload resource is;
//! - [`clients`]: clients in another region or acting as another role;
//! - [`assume`]: assumed-role credentials, cached and renewed.

pub mod account;
pub mod assume;
pub mod clients;
pub mod connector;
#[cfg(feature = "verify")]
mod host_prefix;
mod lazy;
pub mod retry;
pub mod tls;

pub use account::{Account, session_name};
pub use assume::AssumeError;
#[cfg(feature = "cloudwatch")]
pub use clients::cloudwatch;
#[cfg(feature = "elbv2")]
pub use clients::elbv2;
#[cfg(feature = "sns")]
pub use clients::sns;
pub use clients::{Clients, codedeploy, codepipeline, ecr, ecs, secretsmanager};
pub use lazy::Lazy;
pub use tls::TlsError;

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration from the environment: region, credentials, and endpoints
/// from the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` settings; the
/// project's HTTPS client, retry and timeouts. A TLS setting that cannot be honoured
/// (`AWS_CA_BUNDLE`, `AWS_TLS_ROOTS`) is an error that names it.
pub async fn try_load() -> Result<SdkConfig, TlsError> {
    let roots = tls::roots(&tls::RootsSetting::from_env()?)?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(connector::http_client(roots))
        .retry_config(retry::retry_config())
        .timeout_config(retry::timeout_config());
    // Lambda puts the region and the role's credentials in the environment, which the
    // default chains read first anyway: read them directly, without building those chains
    // (profile files, SSO, web identity, container and instance metadata) at each cold start.
    if let Some(region) = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()) {
        loader = loader.region(aws_config::Region::new(region));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|k| !k.is_empty()) {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    Ok(loader.load().await)
}

/// The project's HTTPS client with the compiled-in roots only, for configurations built by
/// hand (test kits, tools).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    connector::http_client(tls::Roots::default())
}

/// Whether a service's endpoint was overridden (an emulator or an S3-compatible store).
/// `service` is the environment suffix, e.g. `S3`.
pub fn custom_endpoint(sdk: &SdkConfig, service: &str) -> bool {
    sdk.endpoint_url().is_some()
        || std::env::var_os(format!("AWS_ENDPOINT_URL_{service}")).is_some_and(|v| !v.is_empty())
}

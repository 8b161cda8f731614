//! The AWS clients of a function, all from one SDK configuration: one HTTPS client, one
//! retry and timeout policy, and per-call placement (another region, another role).
//!
//! Building a client is cheap (its connection is made on the first request), so actions
//! build them where they need them.

use super::assume::{AssumeError, AssumedRole};
use super::retry::EcsThrottlingClassifier;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Builds clients from the function's SDK configuration; assumed roles are kept for the
/// life of the process and their credentials renewed before they expire.
#[derive(Debug, Clone)]
pub struct Clients {
    sdk: SdkConfig,
    roles: Arc<Mutex<HashMap<String, Role>>>,
}

/// An assumed role, and the same as the provider that clients hold (one per role, so that
/// the SDK's identity cache keeps one entry per role).
#[derive(Debug, Clone)]
struct Role {
    assumed: Arc<AssumedRole>,
    provider: SharedCredentialsProvider,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            roles: Arc::default(),
        }
    }

    /// The function's own configuration.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The function's region (`AWS_REGION`), if it has one.
    pub fn home_region(&self) -> Option<&str> {
        self.sdk.region().map(|r| r.as_ref())
    }

    /// The function's configuration in `region` (the same when it is the home region).
    pub fn in_region(&self, region: &str) -> SdkConfig {
        if self.home_region() == Some(region) {
            return self.sdk.clone();
        }
        self.sdk
            .to_builder()
            .region(Region::new(region.to_owned()))
            .build()
    }

    /// A configuration in `region` acting as `role`. The role is assumed on the first call
    /// (so a refusal is reported here, with its cause), then its credentials are reused by
    /// every later call and renewed before they expire. `session_name` names the first
    /// session (2-64 characters of `[\w+=,.@-]`).
    pub async fn as_role(
        &self,
        role: &str,
        region: &str,
        session_name: &str,
    ) -> Result<SdkConfig, AssumeError> {
        let known = self.roles.lock().ok().and_then(|r| r.get(role).cloned());
        let role = match known {
            Some(r) => r,
            None => {
                let assumed = Arc::new(AssumedRole::new(&self.sdk, role, session_name).await);
                let made = Role {
                    provider: SharedCredentialsProvider::new(ArcProvider(assumed.clone())),
                    assumed,
                };
                match self.roles.lock() {
                    Ok(mut roles) => roles.entry(role.to_owned()).or_insert(made).clone(),
                    Err(_) => made,
                }
            }
        };
        role.assumed.credentials().await?;
        Ok(self
            .in_region(region)
            .to_builder()
            .credentials_provider(role.provider)
            .build())
    }
}

/// An ECS client; ECS's throttling answered as `ClientException` is retried.
pub fn ecs(config: &SdkConfig) -> aws_sdk_ecs::Client {
    let conf = aws_sdk_ecs::config::Builder::from(config)
        .retry_classifier(EcsThrottlingClassifier)
        .build();
    aws_sdk_ecs::Client::from_conf(conf)
}

/// An ECR client.
pub fn ecr(config: &SdkConfig) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(config)
}

/// A shared assumed role as a credentials provider.
#[derive(Debug)]
struct ArcProvider(Arc<AssumedRole>);

impl aws_credential_types::provider::ProvideCredentials for ArcProvider {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.0.provide_credentials()
    }
}

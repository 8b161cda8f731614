//! The AWS clients of a function, all from one SDK configuration: one HTTPS client, one
//! retry and timeout policy, and per-call placement (another region, another role).
//!
//! Building a client is cheap (its connection is made on the first request), so actions
//! build them where they need them.

use super::account::Account;
use super::assume::{AssumeError, AssumedRole};
use super::retry::EcsThrottlingClassifier;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Builds clients from the function's SDK configuration. Assumed roles are kept for the
/// life of this value and their credentials renewed before they expire: take
/// [`Clients::for_invocation`] at the start of each invocation, so that an assumed role's
/// credentials live for one invocation only (and a role is assumed again on the next).
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

    /// The same configuration with no role assumed yet: one per invocation.
    pub fn for_invocation(&self) -> Self {
        Self::new(&self.sdk)
    }

    /// The configuration for calls to the place `account` names: the role assumed (with
    /// its external id) in the block's region, or the function's own credentials in that
    /// region, or the function's configuration itself.
    pub async fn at(
        &self,
        account: &Account,
        session_name: &str,
    ) -> Result<SdkConfig, AssumeError> {
        let region = account
            .region
            .as_deref()
            .or(self.home_region())
            .unwrap_or("us-east-1")
            .to_owned();
        match &account.role_arn {
            Some(role) => {
                self.as_role(role, account.external_id.as_deref(), &region, session_name)
                    .await
            }
            None if account.region.is_some() => Ok(self.in_region(&region)),
            None => Ok(self.sdk.clone()),
        }
    }

    /// The account the function's own credentials act in (`sts:GetCallerIdentity`).
    pub async fn own_account(&self) -> Result<String, crate::error::AwsError> {
        let out = aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::error::aws_error("sts:GetCallerIdentity", e))?;
        out.account.ok_or_else(|| {
            crate::error::AwsError::local("sts:GetCallerIdentity", "no account in the answer")
        })
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
        external_id: Option<&str>,
        region: &str,
        session_name: &str,
    ) -> Result<SdkConfig, AssumeError> {
        let key = format!("{role}\n{}", external_id.unwrap_or_default());
        let known = self.roles.lock().ok().and_then(|r| r.get(&key).cloned());
        let role = match known {
            Some(r) => r,
            None => {
                let assumed =
                    Arc::new(AssumedRole::new(&self.sdk, role, external_id, session_name).await);
                let made = Role {
                    provider: SharedCredentialsProvider::new(ArcProvider(assumed.clone())),
                    assumed,
                };
                match self.roles.lock() {
                    Ok(mut roles) => roles.entry(key).or_insert(made).clone(),
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

/// A CodeDeploy client.
pub fn codedeploy(config: &SdkConfig) -> aws_sdk_codedeploy::Client {
    aws_sdk_codedeploy::Client::new(config)
}

/// A CodePipeline client.
pub fn codepipeline(config: &SdkConfig) -> aws_sdk_codepipeline::Client {
    aws_sdk_codepipeline::Client::new(config)
}

/// A Secrets Manager client.
pub fn secretsmanager(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

/// A CloudWatch client.
#[cfg(feature = "cloudwatch")]
pub fn cloudwatch(config: &SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(config)
}

/// An SNS client.
#[cfg(feature = "sns")]
pub fn sns(config: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(config)
}

/// An Elastic Load Balancing (v2) client.
#[cfg(feature = "elbv2")]
pub fn elbv2(config: &SdkConfig) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(config)
}

/// A KMS client (public keys of cosign signing keys).
#[cfg(feature = "verify")]
pub fn kms(config: &SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(config)
}

/// An AWS Signer client (revocation of Notation signatures).
#[cfg(feature = "verify")]
pub fn signer(config: &SdkConfig) -> aws_sdk_signer::Client {
    let mut conf = aws_sdk_signer::config::Builder::from(config);
    // `GetRevocationStatus` prefixes the host with `data-`; a configured endpoint is
    // used as given.
    if config.endpoint_url().is_some() {
        conf = conf.interceptor(super::host_prefix::NoHostPrefix);
    }
    aws_sdk_signer::Client::from_conf(conf.build())
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

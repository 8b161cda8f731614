//! Credentials of another role: `aws-config`'s `AssumeRoleProvider`, its credentials kept
//! until five minutes before they expire, and `sts:AssumeRole`'s refusals explained.

use crate::error::{FailureType, classify};
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::time::{Duration, SystemTime};

/// Credentials are renewed when they have less than this left.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// `sts:AssumeRole` did not give credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssumeError {
    #[error(
        "sts:AssumeRole for {role} (account {account}) was denied or its credentials were refused ({detail}). The usual cause is that role's trust policy in account {account}: it must allow this function's role (its ARN as a principal) to call sts:AssumeRole, with the sts:ExternalId condition equal to externalId. Also check that this function's role is allowed sts:AssumeRole on {role} in its IAM policy"
    )]
    Denied {
        role: String,
        account: String,
        detail: String,
    },
    #[error(
        "sts:AssumeRole for {role} (account {account}) was refused ({detail}); check the role ARN (arn:aws:iam::<account>:role/<name>), externalId, and that STS is enabled in the region"
    )]
    Invalid {
        role: String,
        account: String,
        detail: String,
    },
    #[error(
        "sts:AssumeRole for {role} (account {account}) failed ({detail}). AWS STS was throttling or unavailable after retries; retry the stage"
    )]
    Unavailable {
        role: String,
        account: String,
        detail: String,
    },
    #[error("sts:AssumeRole for {role} (account {account}) failed: {detail}")]
    Failed {
        role: String,
        account: String,
        detail: String,
    },
}

impl crate::error::Failure for AssumeError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Denied { .. } => FailureType::PermissionError,
            Self::Invalid { .. } => FailureType::ConfigurationError,
            Self::Unavailable { .. } => FailureType::SystemUnavailable,
            Self::Failed { .. } => FailureType::JobFailed,
        }
    }
}

/// An assumed role's credentials provider: asks STS when there are no credentials or they
/// are near expiry, else answers the ones it has.
#[derive(Debug)]
pub struct AssumedRole {
    role: String,
    provider: AssumeRoleProvider,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

impl AssumedRole {
    /// A provider for `role` that assumes it with the credentials of `sdk`, as
    /// `session_name` (2-64 characters of `[\w+=,.@-]`), with `external_id` when given.
    pub async fn new(
        sdk: &SdkConfig,
        role: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Self {
        let mut builder = AssumeRoleProvider::builder(role).session_name(session_name);
        if let Some(id) = external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.configure(sdk).build().await;
        Self {
            role: role.to_owned(),
            provider,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Valid credentials for the role, from STS when needed.
    pub async fn credentials(&self) -> Result<Credentials, AssumeError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref()
            && fresh(c.expiry(), SystemTime::now())
        {
            return Ok(c.clone());
        }
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| explain(&self.role, &e))?;
        crate::logging::register_secrets(
            [c.access_key_id(), c.secret_access_key()]
                .into_iter()
                .chain(c.session_token()),
        );
        *current = Some(c.clone());
        Ok(c)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// Whether credentials expiring at `expiry` can still be used at `now`.
///
/// | expiry | usable |
/// |---|---|
/// | none | yes |
/// | in an hour | yes |
/// | in 4 minutes | no (renewed) |
/// | past | no |
fn fresh(expiry: Option<SystemTime>, now: SystemTime) -> bool {
    match expiry {
        None => true,
        Some(at) => at
            .duration_since(now)
            .is_ok_and(|left| left > REFRESH_BEFORE),
    }
}

/// The provider's error, classified, with STS's own code and message.
fn explain(role: &str, err: &CredentialsError) -> AssumeError {
    let account = super::account::arn_account(role)
        .unwrap_or("unknown")
        .to_owned();
    let role = role.to_owned();
    let sts = std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>());
    let kind = match (err, sts) {
        (_, Some(SdkError::ServiceError(service))) => {
            let code = service.err().code();
            match code {
                Some("ValidationError" | "RegionDisabledException" | "MalformedPolicyDocument") => {
                    FailureType::ConfigurationError
                }
                _ => classify(code, service.raw().status().as_u16()),
            }
        }
        (_, Some(SdkError::TimeoutError(_) | SdkError::DispatchFailure(_))) => {
            FailureType::SystemUnavailable
        }
        (CredentialsError::InvalidConfiguration(_), _) => FailureType::ConfigurationError,
        (CredentialsError::ProviderTimedOut(_), _) => FailureType::SystemUnavailable,
        _ => FailureType::JobFailed,
    };
    let detail = match sts {
        Some(SdkError::ServiceError(service)) => match service.err().code() {
            Some(code) => format!(
                "{code}: {}",
                service.err().message().unwrap_or("no message")
            ),
            None => DisplayErrorContext(service.err()).to_string(),
        },
        Some(other) => DisplayErrorContext(other).to_string(),
        None => DisplayErrorContext(err).to_string(),
    };
    match kind {
        FailureType::PermissionError => AssumeError::Denied {
            role,
            account,
            detail,
        },
        FailureType::ConfigurationError => AssumeError::Invalid {
            role,
            account,
            detail,
        },
        FailureType::SystemUnavailable => AssumeError::Unavailable {
            role,
            account,
            detail,
        },
        _ => AssumeError::Failed {
            role,
            account,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_table() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let cases = [
            (None, true),
            (Some(now + Duration::from_secs(3600)), true),
            (Some(now + Duration::from_secs(240)), false),
            (Some(now - Duration::from_secs(1)), false),
        ];
        for (expiry, want) in cases {
            assert_eq!(fresh(expiry, now), want, "{expiry:?}");
        }
    }

    #[test]
    fn a_denial_names_the_trust_policy() {
        let e = AssumeError::Denied {
            role: "arn:aws:iam::222222222222:role/promoter".into(),
            account: "222222222222".into(),
            detail: "AccessDenied: not authorized".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("trust policy in account 222222222222"),
            "{text}"
        );
        assert!(
            text.contains("arn:aws:iam::222222222222:role/promoter"),
            "{text}"
        );
        assert_eq!(
            crate::error::Failure::failure_type(&e),
            FailureType::PermissionError
        );
    }
}

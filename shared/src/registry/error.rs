//! The registry client's errors: one variant per cause, each naming the fix. No variant
//! carries a password or a token: only the registry, the user name and the secret's name.
use crate::error_type;

use crate::error::{Failure, FailureType};
use crate::text::escape_control;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// The registry (or its token service) refused the credentials given.
    #[error(
        "{registry} refused the credentials of user `{user}`{}: check the username and \
         password in the secret (a Docker Hub access token goes in `password`)",
        from_secret(.secret)
    )]
    BadCredentials {
        registry: String,
        user: String,
        secret: Option<String>,
    },
    /// The registry wants credentials and none were given.
    #[error(
        "{registry} requires credentials to {action} `{repository}`: name a Secrets Manager \
         secret holding {{\"username\", \"password\"}} ({hint})"
    )]
    CredentialsRequired {
        registry: String,
        repository: String,
        action: &'static str,
        hint: String,
    },
    /// Authenticated, but not allowed (HTTP 403, or 401 again with a fresh token).
    #[error(
        "{registry} denied {action} on `{repository}`{}: give that user {action} access to the \
         repository (or check that the repository name is right)",
        as_user(.user)
    )]
    Denied {
        registry: String,
        repository: String,
        action: &'static str,
        user: Option<String>,
    },
    /// The repository does not exist (or is hidden from these credentials).
    #[error(
        "{registry} has no repository `{repository}`: check the repository name (Docker Hub names are user/app)"
    )]
    RepositoryMissing {
        registry: String,
        repository: String,
    },
    /// HTTP 429 with a reset too far away to wait for.
    #[error(
        "{registry} is rate-limiting these requests (HTTP 429){}: run the action again after \
         that, or authenticate (Docker Hub allows authenticated users more pulls)",
        resets(.reset)
    )]
    RateLimited {
        registry: String,
        /// `2026-11-29 21:40:00 UTC`, when the registry said.
        reset: Option<String>,
    },
    /// HTTP 5xx after retries.
    #[error(
        "{registry} is unavailable (HTTP {status} for {what}) after retries; run the action again later"
    )]
    Unavailable {
        registry: String,
        status: u16,
        what: String,
    },
    /// The registry could not be reached.
    #[error(
        "{registry} cannot be reached ({detail}); check the host name and the function's network access"
    )]
    Unreachable { registry: String, detail: String },
    /// The registry answered something the distribution API does not allow.
    #[error("{registry} answered {what} unexpectedly: {}", escape_control(.detail))]
    Protocol {
        registry: String,
        what: String,
        detail: String,
    },
    /// A blob or manifest's bytes do not match its digest.
    #[error(
        "{what} from {registry} does not match its digest {expected} (got {actual}); the registry or the network corrupted it, run the action again"
    )]
    DigestMismatch {
        registry: String,
        what: String,
        expected: String,
        actual: String,
    },
    /// The credentials secret does not exist.
    #[error(
        "secret `{secret}` does not exist in Secrets Manager; create it or fix the secret's name"
    )]
    SecretMissing { secret: String },
    /// The function may not read the credentials secret.
    #[error(
        "reading secret `{secret}` was denied ({detail}); allow secretsmanager:GetSecretValue \
         on it (and kms:Decrypt on its key) for the function's role"
    )]
    SecretDenied { secret: String, detail: String },
    /// The secret is not `{"username": "...", "password": "..."}`.
    #[error(
        "secret `{secret}` is not a JSON object with string keys \"username\" and \"password\" \
         ({problem}); store the registry credentials in that form"
    )]
    SecretFormat { secret: String, problem: String },
    /// Secrets Manager failed otherwise (throttling, an outage).
    #[error("reading secret `{secret}` failed: {detail}")]
    SecretUnavailable { secret: String, detail: String },
    /// The function's TLS settings cannot be honoured.
    #[error("{0}")]
    Tls(String),
    /// The deadline came before the registry answered.
    #[error("{registry} did not finish {what} before the deadline; run the action again")]
    Deadline { registry: String, what: String },
}

fn from_secret(secret: &Option<String>) -> String {
    secret
        .as_ref()
        .map(|s| format!(" from secret `{s}`"))
        .unwrap_or_default()
}

fn as_user(user: &Option<String>) -> String {
    user.as_ref()
        .map(|u| format!(" to user `{u}`"))
        .unwrap_or_default()
}

fn resets(reset: &Option<String>) -> String {
    match reset {
        Some(at) => format!("; the limit resets at {at}"),
        None => "; it did not say when the limit resets".to_string(),
    }
}

impl RegistryError {
    /// A stable name per cause.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadCredentials { .. } => error_type::REGISTRY_BAD_CREDENTIALS,
            Self::CredentialsRequired { .. } => error_type::REGISTRY_CREDENTIALS_REQUIRED,
            Self::Denied { .. } => error_type::REGISTRY_DENIED,
            Self::RepositoryMissing { .. } => error_type::REGISTRY_REPOSITORY_MISSING,
            Self::RateLimited { .. } => error_type::REGISTRY_RATE_LIMITED,
            Self::Unavailable { .. } => error_type::REGISTRY_UNAVAILABLE,
            Self::Unreachable { .. } => error_type::REGISTRY_UNREACHABLE,
            Self::Protocol { .. } => error_type::REGISTRY_PROTOCOL,
            Self::DigestMismatch { .. } => error_type::REGISTRY_DIGEST_MISMATCH,
            Self::SecretMissing { .. } => error_type::REGISTRY_SECRET_MISSING,
            Self::SecretDenied { .. } => error_type::REGISTRY_SECRET_DENIED,
            Self::SecretFormat { .. } => error_type::REGISTRY_SECRET_FORMAT,
            Self::SecretUnavailable { .. } => error_type::REGISTRY_SECRET_UNAVAILABLE,
            Self::Tls(_) => error_type::REGISTRY_TLS,
            Self::Deadline { .. } => error_type::REGISTRY_DEADLINE,
        }
    }
}

impl Failure for RegistryError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::BadCredentials { .. }
            | Self::CredentialsRequired { .. }
            | Self::Denied { .. }
            | Self::SecretDenied { .. } => FailureType::PermissionError,
            Self::RepositoryMissing { .. }
            | Self::SecretMissing { .. }
            | Self::SecretFormat { .. }
            | Self::Tls(_) => FailureType::ConfigurationError,
            Self::RateLimited { .. }
            | Self::Unavailable { .. }
            | Self::Unreachable { .. }
            | Self::SecretUnavailable { .. }
            | Self::Deadline { .. } => FailureType::SystemUnavailable,
            Self::Protocol { .. } | Self::DigestMismatch { .. } => FailureType::JobFailed,
        }
    }

    fn error_type(&self) -> &'static str {
        self.kind()
    }
}

//! Registry credentials from a Secrets Manager secret holding
//! `{"username": "...", "password": "..."}`. The password is registered with the log
//! scrubber as soon as it is read, and no error quotes the secret's value.

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::auth::Credentials;
use super::error::RegistryError;

/// Reads the credentials in `secret_id` (a name or an ARN).
pub async fn read_credentials(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    username: Option<&str>,
) -> Result<Credentials, RegistryError> {
    read_in(client, None, secret_id, username).await
}

/// Reads the credentials in `secret_id` with `client`'s credentials (an assumed role's,
/// for a secret of a workload account): in the ARN's region when it is an ARN, else in
/// the client's.
pub async fn read_credentials_where_it_is(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    username: Option<&str>,
) -> Result<Credentials, RegistryError> {
    let region = crate::aws::account::arn_region(secret_id);
    read_in(client, region, secret_id, username).await
}

/// One `GetSecretValue` in `region` (`None`: the client's), and its string read.
async fn read_in(
    client: &aws_sdk_secretsmanager::Client,
    region: Option<&str>,
    secret_id: &str,
    username: Option<&str>,
) -> Result<Credentials, RegistryError> {
    let mut call = client.get_secret_value().secret_id(secret_id).customize();
    if let Some(region) = region
        && client.config().region().map(|r| r.as_ref()) != Some(region)
    {
        call = call.config_override(aws_sdk_secretsmanager::config::Builder::default().region(
            aws_sdk_secretsmanager::config::Region::new(region.to_owned()),
        ));
    }
    let out = call.send().await.map_err(|e| {
        let e = e.into_service_error();
        secret_error(secret_id, &e)
    })?;
    let text = out
        .secret_string()
        .ok_or_else(|| RegistryError::SecretFormat {
            secret: secret_id.to_string(),
            problem: "it holds binary data, not a string".to_string(),
        })?;
    parse_credentials(secret_id, text, username)
}

/// Reads the credentials in `secret_id` with the function's credentials: in the ARN's
/// region when it is an ARN, else in `home`.
pub async fn read_credentials_at(
    clients: &crate::aws::Clients,
    secret_id: &str,
    username: Option<&str>,
    home: &str,
) -> Result<Credentials, RegistryError> {
    let region = crate::aws::account::arn_region(secret_id).unwrap_or(home);
    let client = aws_sdk_secretsmanager::Client::new(&clients.in_region(region));
    read_credentials(&client, secret_id, username).await
}

/// `{"username", "password"}` from a secret's string (other keys are ignored); or, with
/// `username`, the whole string is the password, as an EC2 revision's instances read it.
pub fn parse_credentials(
    secret_id: &str,
    text: &str,
    username: Option<&str>,
) -> Result<Credentials, RegistryError> {
    let format = |problem: &str| RegistryError::SecretFormat {
        secret: secret_id.to_string(),
        problem: problem.to_string(),
    };
    if let Some(username) = username {
        let password = text.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            return Err(format(
                "it is empty; store the registry password or token in it",
            ));
        }
        crate::logging::register_secrets([password]);
        return Ok(Credentials::new(username, password).from_secret(secret_id));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        format(
            "it is not JSON; store {\"username\", \"password\"} in it, or give `username` beside \
             the secret when it holds the password alone",
        )
    })?;
    let field = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let password = field("password").ok_or_else(|| format("\"password\" is missing or empty"))?;
    // Registered before anything else can fail and be reported.
    crate::logging::register_secrets([password.as_str()]);
    let username = field("username").ok_or_else(|| format("\"username\" is missing or empty"))?;
    Ok(Credentials::new(username, password).from_secret(secret_id))
}

fn secret_error(secret_id: &str, e: &GetSecretValueError) -> RegistryError {
    let secret = secret_id.to_string();
    let detail = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    };
    match e {
        GetSecretValueError::ResourceNotFoundException(_) => {
            RegistryError::SecretMissing { secret }
        }
        _ if matches!(
            e.code(),
            Some("AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException")
        ) =>
        {
            RegistryError::SecretDenied { secret, detail }
        }
        GetSecretValueError::DecryptionFailure(_) => RegistryError::SecretDenied { secret, detail },
        GetSecretValueError::InvalidRequestException(_)
        | GetSecretValueError::InvalidParameterException(_) => RegistryError::SecretFormat {
            secret,
            problem: detail,
        },
        _ => RegistryError::SecretUnavailable { secret, detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;

    #[test]
    fn reads_username_and_password_only() {
        let ok = parse_credentials(
            "hub",
            r#"{"username": "ci", "password": "p4ssw0rd-long", "note": 1}"#,
            None,
        )
        .unwrap();
        assert_eq!(ok.username, "ci");
        assert_eq!(ok.secret.as_deref(), Some("hub"));
        // (secret value, error kind); no message quotes the value.
        let rows = [
            ("p4ssw0rd-long", "RegistrySecretFormat"),
            (r#"{"username": "ci"}"#, "RegistrySecretFormat"),
            (r#"{"password": "p4ssw0rd-long"}"#, "RegistrySecretFormat"),
            (
                r#"{"username": "", "password": "p4ssw0rd-long"}"#,
                "RegistrySecretFormat",
            ),
        ];
        for (text, kind) in rows {
            let e = parse_credentials("hub", text, None).unwrap_err();
            assert_eq!(e.error_type(), kind, "{text}");
            assert!(!e.to_string().contains("p4ssw0rd"), "{e}");
        }
    }

    #[test]
    fn with_a_username_the_secret_is_the_password_alone() {
        let ok = parse_credentials("hub", "p4ssw0rd-long\n", Some("ci")).unwrap();
        assert_eq!(ok.username, "ci");
        assert_eq!(ok.secret.as_deref(), Some("hub"));
        assert!(
            ok.basic_header()
                .ends_with(&aws_smithy_types::base64::encode("ci:p4ssw0rd-long"))
        );
        let e = parse_credentials("hub", "\n", Some("ci")).unwrap_err();
        assert_eq!(e.error_type(), "RegistrySecretFormat");
    }
}

//! Workload accounts on the local AWS: roles created in another account's IAM with the
//! trust policy a test gives, and SDK configurations acting as them.

use crate::http;
use crate::local_aws::{ACCOUNT, LocalAws, REGION};
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use serde_json::{Value, json};

/// The staging and prod accounts the tests deploy to; the functions run in [`ACCOUNT`].
pub const STAGING: &str = "222222222222";
pub const PROD: &str = "333333333333";

/// A trust policy allowing `principal` (an account id, `arn:aws:iam::<id>:root` or a role
/// ARN) to assume the role, with `sts:ExternalId` equal to `external_id` when given.
pub fn trust(principal: &str, external_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    });
    if let Some(id) = external_id {
        statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
    }
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

/// A trust policy allowing the functions' own account (the tools account) as `external_id`.
pub fn trust_tools(external_id: Option<&str>) -> Value {
    trust(&format!("arn:aws:iam::{ACCOUNT}:root"), external_id)
}

impl LocalAws {
    /// Creates role `name` in `account` with `trust` as its trust policy (again: a no-op);
    /// returns its ARN.
    pub async fn create_role(&self, account: &str, name: &str, trust: &Value) -> String {
        let body = form(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", &trust.to_string()),
        ]);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/iam/aws4_request, SignedHeaders=host, Signature=0"
        );
        let (status, bytes) = http::send(
            self.addr(),
            "POST",
            "/",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", &auth),
                ("x-moto-account-id", account),
            ],
            body.into_bytes(),
        )
        .await
        .unwrap_or_else(|e| panic!("iam:CreateRole {name}: {e}"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            status < 300 || text.contains("EntityAlreadyExists"),
            "iam:CreateRole {name} in {account}: HTTP {status}: {text}"
        );
        format!("arn:aws:iam::{account}:role/{name}")
    }

    /// An SDK configuration acting as `role` (assumed with the test credentials), to seed
    /// and read a workload account as the functions would see it.
    pub async fn sdk_as(&self, role: &str, external_id: Option<&str>) -> SdkConfig {
        let sdk = self.sdk_config().await;
        let mut call = aws_sdk_sts::Client::new(&sdk)
            .assume_role()
            .role_arn(role)
            .role_session_name("test-seed");
        if let Some(id) = external_id {
            call = call.external_id(id);
        }
        let out = call
            .send()
            .await
            .unwrap_or_else(|e| panic!("sts:AssumeRole {role}: {e:?}"));
        let c = out.credentials().expect("credentials");
        sdk.to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_owned()),
                    None,
                    "test",
                )),
            )
            .build()
    }

    /// A workload account's role trusting the tools account (as `external_id`), and an
    /// SDK configuration acting as it.
    pub async fn workload(
        &self,
        account: &str,
        name: &str,
        external_id: Option<&str>,
    ) -> (String, SdkConfig) {
        let role = self
            .create_role(account, name, &trust_tools(external_id))
            .await;
        let sdk = self.sdk_as(&role, external_id).await;
        (role, sdk)
    }

    /// Checks that `logs` are a TRACE-level log of a function that assumed a role, and
    /// hold no credential the local STS issued.
    pub async fn assert_trace_logs_hold_no_credentials(&self, logs: &str) {
        assert!(
            logs.contains("TRACE") && logs.contains("AssumeRole"),
            "the logs are not at TRACE, or no role was assumed"
        );
        self.assert_no_credentials_in("the logs (TRACE)", logs)
            .await;
    }

    /// Makes every assumed-role credential issued so far expire now.
    pub async fn expire_credentials(&self) {
        self.control("POST", "/_local/sts/expire", Some(json!({})))
            .await;
    }
}

/// `application/x-www-form-urlencoded`.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An assumed-role credential the local AWS issued.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub role_arn: String,
}

impl LocalAws {
    /// Every assumed-role credential issued so far.
    pub async fn issued_credentials(&self) -> Vec<Issued> {
        serde_json::from_value(self.control("GET", "/_local/sts/credentials", None).await)
            .unwrap_or_default()
    }

    /// Panics when any part of an issued credential appears in `text` (logs, a token, an
    /// answer): `what` names the text.
    pub async fn assert_no_credentials_in(&self, what: &str, text: &str) {
        let issued = self.issued_credentials().await;
        assert!(
            !issued.is_empty(),
            "no role was assumed, so nothing was checked"
        );
        for c in issued {
            for secret in [&c.access_key_id, &c.secret_access_key, &c.session_token] {
                if let Some(at) = text.find(secret.as_str()) {
                    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    let line: String = text[line_start..].chars().take(400).collect();
                    panic!("a credential of {} reached {what}: {line}", c.role_arn);
                }
            }
        }
    }
}

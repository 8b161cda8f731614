//! The CodePipeline job event, as CodePipeline sends it to a Lambda invoke action.
//!
//! The event carries live artifact credentials. They are kept in [`Secret`], which has no
//! `Display`, prints as `***` in `Debug`, and is never serialized; [`crate::logging`] also
//! scrubs their values from every log line as a second line of defence.

use serde::Deserialize;
use std::fmt;

/// `{"CodePipeline.job": {...}}`
#[derive(Debug, Clone, Deserialize)]
pub struct JobEvent {
    #[serde(rename = "CodePipeline.job")]
    pub job: Job,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub account_id: String,
    pub data: JobData,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    #[serde(default)]
    pub action_configuration: ActionConfiguration,
    #[serde(default)]
    pub input_artifacts: Vec<Artifact>,
    #[serde(default)]
    pub output_artifacts: Vec<Artifact>,
    #[serde(default)]
    pub artifact_credentials: Option<ArtifactCredentials>,
    #[serde(default)]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub encryption_key: Option<EncryptionKey>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ActionConfiguration {
    #[serde(default)]
    pub configuration: Configuration,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Configuration {
    #[serde(rename = "FunctionName", default)]
    pub function_name: Option<String>,
    #[serde(rename = "UserParameters", default)]
    pub user_parameters: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub name: String,
    #[serde(default)]
    pub revision: Option<String>,
    pub location: ArtifactLocation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactLocation {
    #[serde(rename = "type", default)]
    pub location_type: Option<String>,
    pub s3_location: S3Location,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub bucket_name: String,
    pub object_key: String,
}

/// Temporary credentials that CodePipeline grants for the artifact bucket only.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    #[serde(default)]
    pub session_token: Option<Secret>,
}

impl fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncryptionKey {
    pub id: String,
    #[serde(rename = "type", default)]
    pub key_type: Option<String>,
}

/// A value that must never be logged. No `Display`, no `Serialize`; `Debug` prints `***`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for handing to a credentials provider. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Job {
    pub fn user_parameters(&self) -> Option<&str> {
        self.data
            .action_configuration
            .configuration
            .user_parameters
            .as_deref()
    }

    pub fn input(&self, name: &str) -> Option<&Artifact> {
        self.data.input_artifacts.iter().find(|a| a.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&Artifact> {
        self.data.output_artifacts.iter().find(|a| a.name == name)
    }
}

/// The job id, if the payload has one, even when the rest of it does not parse:
/// a malformed job can still be failed instead of left hanging.
pub fn job_id_of(payload: &serde_json::Value) -> Option<&str> {
    payload
        .get("CodePipeline.job")?
        .get("id")?
        .as_str()
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/codepipeline-job-event.json");

    #[test]
    fn parses_the_reference_event() {
        let event: JobEvent = serde_json::from_str(FIXTURE).unwrap();
        let job = event.job;
        assert_eq!(job.id, "11111111-abcd-1111-abcd-111111abcdef");
        assert_eq!(job.account_id, "111111111111");
        assert_eq!(job.user_parameters(), Some("some-input-such-as-a-URL"));
        assert_eq!(job.data.input_artifacts.len(), 1);
        assert_eq!(job.data.input_artifacts[0].name, "ArtifactName");
        assert!(job.data.input_artifacts[0].revision.is_none());
        assert_eq!(
            job.data.continuation_token.as_deref(),
            Some("A continuation token if continuing job")
        );
        let creds = job.data.artifact_credentials.unwrap();
        assert_eq!(creds.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert!(creds.secret_access_key.expose().starts_with("wJalr"));
    }

    #[test]
    fn parses_encryption_key() {
        let mut v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        v["CodePipeline.job"]["data"]["encryptionKey"] =
            serde_json::json!({"id": "arn:aws:kms:us-east-1:111111111111:key/abc", "type": "KMS"});
        let event: JobEvent = serde_json::from_value(v).unwrap();
        let key = event.job.data.encryption_key.unwrap();
        assert_eq!(key.id, "arn:aws:kms:us-east-1:111111111111:key/abc");
        assert_eq!(key.key_type.as_deref(), Some("KMS"));
    }

    #[test]
    fn debug_never_shows_credentials() {
        let event: JobEvent = serde_json::from_str(FIXTURE).unwrap();
        let printed = format!("{event:?} {:#?}", event.job);
        assert!(!printed.contains("wJalrXUtnFEMI"));
        assert!(!printed.contains("MIICiTCCAfICCQD6m7oRw0uXOjAN"));
        assert!(printed.contains("***"));
    }

    #[test]
    fn job_id_survives_a_malformed_payload() {
        let v = serde_json::json!({"CodePipeline.job": {"id": "abc", "data": 5}});
        assert_eq!(job_id_of(&v), Some("abc"));
        assert!(serde_json::from_value::<JobEvent>(v).is_err());
        assert_eq!(job_id_of(&serde_json::json!({"foo": 1})), None);
    }
}

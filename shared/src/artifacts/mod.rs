//! Input and output artifacts: zips in the pipeline's artifact bucket, read and written
//! with the job's own artifact credentials (never the function's role).
//!
//! - [`transport`]: S3 GetObject/PutObject, the download to the temporary directory and
//!   its retries;
//! - [`artifact_zip`]: the checks on a downloaded zip ([`ArtifactZip`]) and reading its
//!   files, JSON ones within [`JsonLimits`];
//! - [`end_record`]: the entry count read from the zip's end records before the zip reader
//!   runs;
//! - [`directory`]: the names of entries that share one, which the zip reader hides;
//! - [`budget`]: the bytes the zip reader may read while it parses the directory.

mod artifact_zip;
mod budget;
mod directory;
mod end_record;
#[cfg(test)]
mod test_support;
mod transport;

pub use crate::json::JsonLimits;
pub use artifact_zip::{ArtifactZip, build_zip};

use crate::error::{AwsError, Failure, FailureType};
use crate::job::{Artifact, Job};
use crate::json::JsonError;
use aws_credential_types::Credentials;
use std::io;
use std::time::Duration;
use tokio::time::Instant;

/// Limits that keep a hostile or mistaken artifact from exhausting the function.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    /// Largest artifact object read from S3. Artifacts are streamed to the temporary
    /// directory (Lambda's `/tmp`, 512 MB unless the function's ephemeral storage is raised),
    /// not held in memory, and stay there while their [`ArtifactZip`] lives: the artifacts an
    /// action holds at once must fit there together.
    pub max_zip_bytes: u64,
    /// Most entries in a zip, checked on its end record before its directory is read.
    pub max_entries: usize,
    /// Sum of the uncompressed sizes that the entries declare.
    pub max_total_uncompressed: u64,
    /// Largest single file read out of the zip (enforced on the bytes actually inflated).
    pub max_file_bytes: u64,
    /// Largest uncompressed/compressed ratio of an entry over 1 MiB.
    pub max_ratio: u64,
    /// What a JSON file read with [`ArtifactZip::json`] may cost.
    pub json: JsonLimits,
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self {
            max_zip_bytes: 256 << 20,
            max_entries: 10_000,
            max_total_uncompressed: 512 << 20,
            max_file_bytes: 32 << 20,
            max_ratio: 200,
            json: JsonLimits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(
        "the job has no input artifact named `{name}`; it has: {available}. Name one of these in UserParameters or add the artifact to the action's input artifacts"
    )]
    NoSuchInput { name: String, available: String },
    #[error(
        "the job has no output artifact named `{name}`; it has: {available}. Add an output artifact to the action"
    )]
    NoSuchOutput { name: String, available: String },
    #[error(
        "the job event carries no artifactCredentials, so artifact `{0}` cannot be read or written"
    )]
    NoCredentials(String),
    #[error(
        "input artifact `{name}` (s3://{bucket}/{key}) does not exist: the action that should produce it may not have run to the end or may not have written it. Check the upstream action's output artifacts, and that no lifecycle rule removes objects from the artifact bucket"
    )]
    Missing {
        name: String,
        bucket: String,
        key: String,
    },
    #[error(
        "input artifact `{name}` could not be downloaded: the connection dropped on each of {attempts} attempts (last: {detail}). S3 was unreachable or unstable; retry the stage"
    )]
    Interrupted {
        name: String,
        attempts: u32,
        detail: String,
    },
    #[error(
        "input artifact `{name}` is {size} bytes, more than the {limit} bytes this action reads"
    )]
    TooLarge { name: String, size: u64, limit: u64 },
    #[error("input artifact `{name}` is not a readable zip ({detail})")]
    NotAZip { name: String, detail: String },
    #[error("input artifact `{name}` was refused: {reason}")]
    Hostile { name: String, reason: String },
    #[error("input artifact `{artifact}` has no file `{file}`; it contains: {contents}")]
    MissingFile {
        artifact: String,
        file: String,
        contents: String,
    },
    #[error(
        "input artifact `{artifact}` has several files named `{file}`: {matches}. Give the full path"
    )]
    Ambiguous {
        artifact: String,
        file: String,
        matches: String,
    },
    #[error("could not read `{file}` from input artifact `{artifact}`: {detail}")]
    BadFile {
        artifact: String,
        file: String,
        detail: String,
    },
    #[error(
        "`{file}` in input artifact `{artifact}` {source}{}",
        json_hint(source)
    )]
    Json {
        artifact: String,
        file: String,
        #[source]
        source: JsonError,
    },
    #[error("could not build output artifact `{name}`: {detail}")]
    Write { name: String, detail: String },
    #[error("could not keep input artifact `{name}` in the temporary directory: {detail}")]
    Storage { name: String, detail: String },
    #[error(
        "artifact `{artifact}` (s3://{bucket}/{key}): {source}{}",
        access_hint(source)
    )]
    Aws {
        artifact: String,
        bucket: String,
        key: String,
        #[source]
        source: Box<AwsError>,
    },
}

/// Artifact access is decided by the pipeline, not by the function's role.
fn access_hint(source: &AwsError) -> &'static str {
    if source.kind() == FailureType::PermissionError {
        ". Artifacts are read and written with the job's artifact credentials: check the pipeline's service role, the artifact bucket's policy and the pipeline's KMS key"
    } else {
        ""
    }
}

/// A JSON input over a limit is rarely the file that was meant.
fn json_hint(source: &JsonError) -> &'static str {
    match source {
        JsonError::TooLarge { .. } | JsonError::TooManyNodes { .. } | JsonError::TooDeep { .. } => {
            ". Check that the build put the intended file there: task definitions and image files are far smaller"
        }
        _ => "",
    }
}

impl Failure for ArtifactError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Aws { source, .. } => source.kind(),
            Self::Interrupted { .. } => FailureType::SystemUnavailable,
            Self::Write { .. } | Self::Storage { .. } => FailureType::JobFailed,
            _ => FailureType::ConfigurationError,
        }
    }
}

/// The job's artifacts and an S3 client that holds the job's artifact credentials.
#[derive(Clone)]
pub struct Artifacts {
    s3: Option<aws_sdk_s3::Client>,
    inputs: Vec<Artifact>,
    outputs: Vec<Artifact>,
    kms_key_id: Option<String>,
    limits: ZipLimits,
    retry: transport::Retry,
}

impl Artifacts {
    pub fn for_job(sdk: &aws_config::SdkConfig, job: &Job) -> Self {
        let s3 = job.data.artifact_credentials.as_ref().map(|c| {
            let credentials = Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose(),
                c.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "codepipeline-artifact-credentials",
            );
            let config = aws_sdk_s3::config::Builder::from(sdk)
                .credentials_provider(credentials)
                // S3-compatible endpoints (set through AWS_ENDPOINT_URL[_S3]) want path-style.
                .force_path_style(crate::aws::custom_endpoint(sdk, "S3"))
                .build();
            aws_sdk_s3::Client::from_conf(config)
        });
        Self {
            s3,
            inputs: job.data.input_artifacts.clone(),
            outputs: job.data.output_artifacts.clone(),
            kms_key_id: job.data.encryption_key.as_ref().map(|k| k.id.clone()),
            limits: ZipLimits::default(),
            retry: transport::Retry::default(),
        }
    }

    pub fn with_limits(mut self, limits: ZipLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The moment by which downloads must be done: an interrupted download is tried again
    /// only while there is time left before it.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.retry.deadline = Some(deadline);
        self
    }

    /// How often, and after how long a first pause (doubled each time), an interrupted
    /// download is tried again.
    pub fn with_download_retries(mut self, attempts: u32, first_backoff: Duration) -> Self {
        self.retry.attempts = attempts.max(1);
        self.retry.first_backoff = first_backoff;
        self
    }

    pub fn input_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|a| a.name.as_str()).collect()
    }

    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|a| a.name.as_str()).collect()
    }

    /// Reads an input artifact's zip and checks it before anything is extracted.
    pub async fn read(&self, name: &str) -> Result<ArtifactZip, ArtifactError> {
        let artifact = self.inputs.iter().find(|a| a.name == name).ok_or_else(|| {
            ArtifactError::NoSuchInput {
                name: name.to_owned(),
                available: list(self.input_names()),
            }
        })?;
        let s3 = self
            .s3
            .as_ref()
            .ok_or_else(|| ArtifactError::NoCredentials(name.to_owned()))?;
        transport::read(s3, artifact, self.limits, self.retry).await
    }

    /// Writes an output artifact zip with SSE-KMS: the job's key when the pipeline has one.
    pub async fn write(&self, name: &str, files: &[(&str, &[u8])]) -> Result<(), ArtifactError> {
        let artifact = self
            .outputs
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| ArtifactError::NoSuchOutput {
                name: name.to_owned(),
                available: list(self.output_names()),
            })?;
        let s3 = self
            .s3
            .as_ref()
            .ok_or_else(|| ArtifactError::NoCredentials(name.to_owned()))?;
        let body = build_zip(files).map_err(|e| ArtifactError::Write {
            name: name.to_owned(),
            detail: e.to_string(),
        })?;
        transport::write(s3, artifact, self.kms_key_id.clone(), body).await
    }
}

fn list(names: Vec<&str>) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The temporary directory failed us: says so, and what to raise when it is full.
fn storage(name: &str, e: &io::Error) -> ArtifactError {
    let hint = if e.kind() == io::ErrorKind::StorageFull {
        ". It must hold every input artifact the action reads at once: raise the function's ephemeral storage"
    } else {
        ""
    };
    ArtifactError::Storage {
        name: name.to_owned(),
        detail: format!("{e}{hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_temporary_directory_is_a_job_failure_that_says_so() {
        let e = storage("Src", &io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(e.failure_type(), FailureType::JobFailed);
        let text = e.to_string();
        assert!(
            text.contains("`Src`") && text.contains("ephemeral storage"),
            "{text}"
        );
        let e = storage("Src", &io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!e.to_string().contains("ephemeral storage"), "{e}");
    }

    #[test]
    fn failure_types_of_the_new_causes() {
        let missing = ArtifactError::Missing {
            name: "BuildArtifact".into(),
            bucket: "b".into(),
            key: "k".into(),
        };
        assert_eq!(missing.failure_type(), FailureType::ConfigurationError);
        assert!(missing.to_string().contains("upstream action"), "{missing}");
        let dropped = ArtifactError::Interrupted {
            name: "BuildArtifact".into(),
            attempts: 3,
            detail: "connection reset".into(),
        };
        assert_eq!(dropped.failure_type(), FailureType::SystemUnavailable);
        let json = ArtifactError::Json {
            artifact: "Src".into(),
            file: "taskdef.json".into(),
            source: JsonError::TooLarge {
                size: 12_000_000,
                limit: 2 << 20,
            },
        };
        assert_eq!(json.failure_type(), FailureType::ConfigurationError);
        assert_eq!(
            json.to_string(),
            "`taskdef.json` in input artifact `Src` is 12000000 bytes, more than the 2097152 bytes a JSON input may be. Check that the build put the intended file there: task definitions and image files are far smaller"
        );
    }
}

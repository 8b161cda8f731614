//! Input and output artifacts: zips in the pipeline's artifact bucket, read and written
//! with the job's own artifact credentials (never the function's role).

use crate::error::{AwsError, Failure, FailureType, aws_error};
use crate::job::{Artifact, Job};
use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::io::{Cursor, Read, Write};

/// Limits that keep a hostile or mistaken artifact from exhausting the function.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    /// Largest artifact object read from S3.
    pub max_zip_bytes: u64,
    pub max_entries: usize,
    /// Sum of the uncompressed sizes that the entries declare.
    pub max_total_uncompressed: u64,
    /// Largest single file read out of the zip (enforced on the bytes actually inflated).
    pub max_file_bytes: u64,
    /// Largest uncompressed/compressed ratio of an entry over 1 MiB.
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self {
            max_zip_bytes: 64 << 20,
            max_entries: 10_000,
            max_total_uncompressed: 512 << 20,
            max_file_bytes: 32 << 20,
            max_ratio: 200,
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
    #[error("could not build output artifact `{name}`: {detail}")]
    Write { name: String, detail: String },
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

impl Failure for ArtifactError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Aws { source, .. } => source.kind(),
            Self::Write { .. } => FailureType::JobFailed,
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
        }
    }

    pub fn with_limits(mut self, limits: ZipLimits) -> Self {
        self.limits = limits;
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
        let loc = &artifact.location.s3_location;
        let aws = |source| ArtifactError::Aws {
            artifact: name.to_owned(),
            bucket: loc.bucket_name.clone(),
            key: loc.object_key.clone(),
            source: Box::new(source),
        };
        let object = s3
            .get_object()
            .bucket(&loc.bucket_name)
            .key(&loc.object_key)
            .send()
            .await
            .map_err(|e| aws(aws_error("s3:GetObject", e)))?;
        let size = object.content_length().unwrap_or(0).max(0) as u64;
        if size > self.limits.max_zip_bytes {
            return Err(ArtifactError::TooLarge {
                name: name.to_owned(),
                size,
                limit: self.limits.max_zip_bytes,
            });
        }
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| ArtifactError::NotAZip {
                name: name.to_owned(),
                detail: format!("download interrupted: {e}"),
            })?
            .into_bytes();
        ArtifactZip::parse(name, bytes.to_vec(), self.limits)
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
        let loc = &artifact.location.s3_location;
        // Always SSE-KMS, as CodePipeline writes artifacts: the bucket policy of a default
        // artifact store denies uploads without it. The job's key when it has one, else the
        // account's AWS managed key for S3.
        let put = s3
            .put_object()
            .bucket(&loc.bucket_name)
            .key(&loc.object_key)
            .content_type("application/zip")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(self.kms_key_id.clone())
            .body(ByteStream::from(body));
        put.send().await.map_err(|e| ArtifactError::Aws {
            artifact: name.to_owned(),
            bucket: loc.bucket_name.clone(),
            key: loc.object_key.clone(),
            source: Box::new(aws_error("s3:PutObject", e)),
        })?;
        Ok(())
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

/// Builds a deflated zip from `(path, contents)` pairs.
pub fn build_zip(files: &[(&str, &[u8])]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, contents) in files {
        writer.start_file(*path, options)?;
        writer.write_all(contents)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// An input artifact's zip, checked: entry count, declared sizes, compression ratios and
/// paths. Files are inflated only when asked for, with the size limit enforced on the
/// bytes actually produced.
pub struct ArtifactZip {
    name: String,
    bytes: Vec<u8>,
    paths: Vec<String>,
    limits: ZipLimits,
}

impl std::fmt::Debug for ArtifactZip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactZip")
            .field("name", &self.name)
            .field("paths", &self.paths)
            .finish()
    }
}

impl ArtifactZip {
    pub fn parse(name: &str, bytes: Vec<u8>, limits: ZipLimits) -> Result<Self, ArtifactError> {
        let hostile = |reason: String| ArtifactError::Hostile {
            name: name.to_owned(),
            reason,
        };
        let mut archive =
            zip::ZipArchive::new(Cursor::new(&bytes[..])).map_err(|e| ArtifactError::NotAZip {
                name: name.to_owned(),
                detail: e.to_string(),
            })?;
        if archive.len() > limits.max_entries {
            return Err(hostile(format!(
                "it has {} entries, more than the {} allowed",
                archive.len(),
                limits.max_entries
            )));
        }
        let mut total: u64 = 0;
        let mut paths = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let entry = archive
                .by_index_raw(i)
                .map_err(|e| ArtifactError::NotAZip {
                    name: name.to_owned(),
                    detail: e.to_string(),
                })?;
            let path = entry
                .name()
                .map_err(|e| ArtifactError::NotAZip {
                    name: name.to_owned(),
                    detail: format!("an entry name is unreadable: {e}"),
                })?
                .into_owned();
            if let Some(reason) = unsafe_path(&path) {
                return Err(hostile(format!("entry `{path}` {reason}")));
            }
            let size = entry.size();
            total = total.saturating_add(size);
            if total > limits.max_total_uncompressed {
                return Err(hostile(format!(
                    "its entries declare more than {} bytes uncompressed (a zip bomb?)",
                    limits.max_total_uncompressed
                )));
            }
            if size > (1 << 20) && size / entry.compressed_size().max(1) > limits.max_ratio {
                return Err(hostile(format!(
                    "entry `{path}` inflates {size} bytes from {} (more than {}:1, a zip bomb?)",
                    entry.compressed_size(),
                    limits.max_ratio
                )));
            }
            if !entry.is_dir() {
                paths.push(path);
            }
        }
        Ok(Self {
            name: name.to_owned(),
            bytes,
            paths,
            limits,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// Finds a file by exact path, else by a unique file name anywhere in the zip.
    pub fn find(&self, name_or_path: &str) -> Option<&str> {
        self.locate(name_or_path).ok()
    }

    fn locate(&self, wanted: &str) -> Result<&str, ArtifactError> {
        let wanted_path = wanted.trim_start_matches("./").trim_start_matches('/');
        if let Some(p) = self.paths.iter().find(|p| p.as_str() == wanted_path) {
            return Ok(p);
        }
        let base = wanted_path.rsplit('/').next().unwrap_or(wanted_path);
        let matches: Vec<&str> = self
            .paths
            .iter()
            .map(String::as_str)
            .filter(|p| !wanted_path.contains('/') && p.rsplit('/').next() == Some(base))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(ArtifactError::MissingFile {
                artifact: self.name.clone(),
                file: wanted.to_owned(),
                contents: self.contents_summary(),
            }),
            many => Err(ArtifactError::Ambiguous {
                artifact: self.name.clone(),
                file: wanted.to_owned(),
                matches: many.join(", "),
            }),
        }
    }

    fn contents_summary(&self) -> String {
        const SHOWN: usize = 20;
        if self.paths.is_empty() {
            return "nothing (the zip is empty)".to_owned();
        }
        let mut out = self
            .paths
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if self.paths.len() > SHOWN {
            out.push_str(&format!(" and {} more", self.paths.len() - SHOWN));
        }
        out
    }

    /// The contents of a file, found as [`ArtifactZip::find`] does.
    pub fn file(&self, name_or_path: &str) -> Result<Vec<u8>, ArtifactError> {
        let path = self.locate(name_or_path)?;
        let bad = |detail: String| ArtifactError::BadFile {
            artifact: self.name.clone(),
            file: path.to_owned(),
            detail,
        };
        let mut archive =
            zip::ZipArchive::new(Cursor::new(&self.bytes[..])).map_err(|e| bad(e.to_string()))?;
        let entry = archive.by_name(path).map_err(|e| bad(e.to_string()))?;
        let limit = self.limits.max_file_bytes;
        let mut out = Vec::new();
        entry
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(e.to_string()))?;
        if out.len() as u64 > limit {
            return Err(bad(format!("it is larger than {limit} bytes")));
        }
        Ok(out)
    }
}

/// Why a zip entry path is refused, if it is.
fn unsafe_path(path: &str) -> Option<&'static str> {
    let normalized = path.replace('\\', "/");
    if normalized.starts_with('/') || normalized.as_bytes().get(1) == Some(&b':') {
        return Some("has an absolute path");
    }
    if normalized.split('/').any(|part| part == "..") {
        return Some("climbs out of the artifact with `..`");
    }
    if normalized.contains('\0') {
        return Some("has a NUL byte in its name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        build_zip(files).unwrap()
    }

    #[test]
    fn finds_by_path_and_by_unique_name() {
        let z = ArtifactZip::parse(
            "Src",
            zip_of(&[("deploy/taskdef.json", b"{}"), ("README.md", b"hi")]),
            ZipLimits::default(),
        )
        .unwrap();
        assert_eq!(z.find("deploy/taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("./deploy/taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.file("README.md").unwrap(), b"hi");
        assert_eq!(z.find("other/taskdef.json"), None);
    }

    #[test]
    fn missing_file_names_artifact_file_and_contents() {
        let z =
            ArtifactZip::parse("Src", zip_of(&[("a.json", b"1")]), ZipLimits::default()).unwrap();
        let e = z.file("taskdef.json").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("`Src`") && text.contains("`taskdef.json`") && text.contains("a.json")
        );
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    }

    #[test]
    fn ambiguous_name_asks_for_the_path() {
        let z = ArtifactZip::parse(
            "Src",
            zip_of(&[("a/taskdef.json", b"1"), ("b/taskdef.json", b"2")]),
            ZipLimits::default(),
        )
        .unwrap();
        assert!(matches!(
            z.file("taskdef.json"),
            Err(ArtifactError::Ambiguous { .. })
        ));
        assert_eq!(z.file("b/taskdef.json").unwrap(), b"2");
    }

    #[test]
    fn refuses_parent_and_absolute_paths() {
        for bad in [
            "../evil.json",
            "a/../../evil",
            "/etc/passwd",
            "..\\x",
            "C:/x",
        ] {
            let e = ArtifactZip::parse("Src", zip_of(&[(bad, b"x")]), ZipLimits::default())
                .unwrap_err();
            assert!(matches!(e, ArtifactError::Hostile { .. }), "{bad}: {e}");
            assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        }
    }

    #[test]
    fn refuses_a_high_ratio_entry() {
        let zeros = vec![0u8; 4 << 20];
        let e = ArtifactZip::parse("Src", zip_of(&[("bomb", &zeros)]), ZipLimits::default())
            .unwrap_err();
        assert!(e.to_string().contains("zip bomb"), "{e}");
    }

    #[test]
    fn refuses_too_many_entries_and_too_much_declared() {
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let limits = ZipLimits {
            max_entries: 10,
            ..ZipLimits::default()
        };
        assert!(matches!(
            ArtifactZip::parse("Src", zip_of(&files), limits),
            Err(ArtifactError::Hostile { .. })
        ));
        let limits = ZipLimits {
            max_total_uncompressed: 10,
            ..ZipLimits::default()
        };
        assert!(matches!(
            ArtifactZip::parse("Src", zip_of(&files), limits),
            Err(ArtifactError::Hostile { .. })
        ));
    }

    #[test]
    fn file_limit_holds_on_inflated_bytes() {
        let z = ArtifactZip::parse(
            "Src",
            zip_of(&[("big", &[7u8; 4096])]),
            ZipLimits {
                max_file_bytes: 100,
                ..ZipLimits::default()
            },
        )
        .unwrap();
        assert!(matches!(z.file("big"), Err(ArtifactError::BadFile { .. })));
    }

    #[test]
    fn not_a_zip_is_a_configuration_error() {
        let e = ArtifactZip::parse("Src", b"{\"not\": \"zip\"}".to_vec(), ZipLimits::default())
            .unwrap_err();
        assert!(matches!(e, ArtifactError::NotAZip { .. }));
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    }
}

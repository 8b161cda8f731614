//! Input and output artifacts: zips in the pipeline's artifact bucket, read and written
//! with the job's own artifact credentials (never the function's role).

use crate::error::{AwsError, Failure, FailureType, aws_error};
use crate::job::{Artifact, Job};
use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

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
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self {
            max_zip_bytes: 256 << 20,
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

impl Failure for ArtifactError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Aws { source, .. } => source.kind(),
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
        download(name, object.content_length(), object.body, self.limits).await
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

/// Streams an artifact's body to a temporary file a chunk at a time, then checks the zip.
async fn download(
    name: &str,
    content_length: Option<i64>,
    mut body: ByteStream,
    limits: ZipLimits,
) -> Result<ArtifactZip, ArtifactError> {
    let too_large = |size| ArtifactError::TooLarge {
        name: name.to_owned(),
        size,
        limit: limits.max_zip_bytes,
    };
    let declared = content_length.unwrap_or(0).max(0) as u64;
    if declared > limits.max_zip_bytes {
        return Err(too_large(declared));
    }
    let (temp, file) = TempFile::create().map_err(|e| storage(name, &e))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut received: u64 = 0;
    while let Some(chunk) = body.try_next().await.map_err(|e| ArtifactError::NotAZip {
        name: name.to_owned(),
        detail: format!("download interrupted: {e}"),
    })? {
        // Content-Length may be absent or wrong: the limit holds on the bytes that arrive.
        received += chunk.len() as u64;
        if received > limits.max_zip_bytes {
            return Err(too_large(received));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| storage(name, &e))?;
    }
    file.flush().await.map_err(|e| storage(name, &e))?;
    ArtifactZip::open(name, temp, file.into_std().await, limits)
}

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

/// A file of its own in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn create() -> io::Result<(Self, File)> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("artifact-{}-{n}.zip", std::process::id()));
            // Never an existing file, nor a link planted under the name.
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => return Ok((Self(path), file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
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
/// paths. It is kept in the temporary directory until dropped; files are inflated only when
/// asked for, with the size limit enforced on the bytes actually produced.
pub struct ArtifactZip {
    name: String,
    zip: TempFile,
    files: Vec<Entry>,
    limits: ZipLimits,
}

/// A file in the zip: found and listed by its path with `\` read as `/` (as some Windows
/// tools write them), read by its name as stored.
struct Entry {
    path: String,
    stored: String,
}

impl std::fmt::Debug for ArtifactZip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactZip")
            .field("name", &self.name)
            .field("paths", &self.paths().collect::<Vec<_>>())
            .finish()
    }
}

impl ArtifactZip {
    /// Checks a zip held in memory. It is written to the temporary directory, as a
    /// downloaded artifact is.
    pub fn parse(name: &str, bytes: Vec<u8>, limits: ZipLimits) -> Result<Self, ArtifactError> {
        let (temp, mut file) = TempFile::create().map_err(|e| storage(name, &e))?;
        file.write_all(&bytes).map_err(|e| storage(name, &e))?;
        drop(bytes);
        Self::open(name, temp, file, limits)
    }

    fn open(
        name: &str,
        zip: TempFile,
        mut file: File,
        limits: ZipLimits,
    ) -> Result<Self, ArtifactError> {
        let not_a_zip = |detail: String| ArtifactError::NotAZip {
            name: name.to_owned(),
            detail,
        };
        let hostile = |reason: String| ArtifactError::Hostile {
            name: name.to_owned(),
            reason,
        };
        let too_many = |entries| {
            hostile(format!(
                "it has {entries} entries, more than the {} allowed",
                limits.max_entries
            ))
        };
        // The zip reader holds the whole central directory in memory: its size is checked
        // on the end record first.
        let declared = declared_entries_of(&mut file)
            .map_err(|e| storage(name, &e))?
            .ok_or_else(|| not_a_zip("it has no end of central directory record".to_owned()))?;
        if declared > limits.max_entries as u64 {
            return Err(too_many(declared));
        }
        let budget = directory_budget(&limits);
        let reader = Budget {
            inner: BufReader::new(file),
            left: budget,
        };
        let archive = zip::ZipArchive::new(reader).map_err(|e| {
            if BudgetSpent::caused(&e) {
                hostile(format!(
                    "its central directory takes more than the {budget} bytes allowed for {} entries",
                    limits.max_entries
                ))
            } else {
                not_a_zip(e.to_string())
            }
        })?;
        if archive.len() > limits.max_entries {
            return Err(too_many(archive.len() as u64));
        }
        let mut total: u64 = 0;
        let mut files = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let entry = archive
                .by_index_data(i)
                .map_err(|e| not_a_zip(e.to_string()))?;
            let stored = entry
                .name()
                .map_err(|e| not_a_zip(format!("an entry name is unreadable: {e}")))?
                .into_owned();
            if let Some(reason) = unsafe_path(&stored) {
                return Err(hostile(format!("entry `{stored}` {reason}")));
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
                    "entry `{stored}` inflates {size} bytes from {} (more than {}:1, a zip bomb?)",
                    entry.compressed_size(),
                    limits.max_ratio
                )));
            }
            if !entry.is_dir() {
                files.push(Entry {
                    path: stored.replace('\\', "/"),
                    stored,
                });
            }
        }
        Ok(Self {
            name: name.to_owned(),
            zip,
            files,
            limits,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.path.as_str())
    }

    /// Finds a file by exact path, else by a unique file name anywhere in the zip.
    pub fn find(&self, name_or_path: &str) -> Option<&str> {
        self.locate(name_or_path).ok().map(|f| f.path.as_str())
    }

    fn locate(&self, wanted: &str) -> Result<&Entry, ArtifactError> {
        let normalized = wanted.replace('\\', "/");
        let wanted_path = normalized.trim_start_matches("./").trim_start_matches('/');
        if let Some(f) = self.files.iter().find(|f| f.path == wanted_path) {
            return Ok(f);
        }
        let base = wanted_path.rsplit('/').next().unwrap_or(wanted_path);
        let matches: Vec<&Entry> = self
            .files
            .iter()
            .filter(|f| !wanted_path.contains('/') && f.path.rsplit('/').next() == Some(base))
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
                matches: many
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn contents_summary(&self) -> String {
        const SHOWN: usize = 20;
        if self.files.is_empty() {
            return "nothing (the zip is empty)".to_owned();
        }
        let mut out = self.paths().take(SHOWN).collect::<Vec<_>>().join(", ");
        if self.files.len() > SHOWN {
            out.push_str(&format!(" and {} more", self.files.len() - SHOWN));
        }
        out
    }

    /// The contents of a file, found as [`ArtifactZip::find`] does.
    pub fn file(&self, name_or_path: &str) -> Result<Vec<u8>, ArtifactError> {
        let found = self.locate(name_or_path)?;
        let bad = |detail: String| ArtifactError::BadFile {
            artifact: self.name.clone(),
            file: found.path.clone(),
            detail,
        };
        let file = File::open(&self.zip.0).map_err(|e| storage(&self.name, &e))?;
        // The bytes `open` checked, read the same way again: no budget needed.
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
        let entry = archive
            .by_name(&found.stored)
            .map_err(|e| bad(e.to_string()))?;
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

const EOCD_SIGNATURE: u64 = 0x0605_4b50;
const ZIP64_LOCATOR_SIGNATURE: u64 = 0x0706_4b50;
const ZIP64_EOCD_SIGNATURE: u64 = 0x0606_4b50;
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_LEN: usize = 56;
/// The end of a zip that holds its end records: the end of central directory record with
/// the longest comment, and the zip64 locator and record before it.
const TAIL_LEN: usize = EOCD_LEN + u16::MAX as usize + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN;

/// The entry count a zip file declares in its end records, or `None` if it has none.
fn declared_entries_of(file: &mut File) -> io::Result<Option<u64>> {
    let len = file.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(TAIL_LEN as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity(TAIL_LEN);
    file.take(TAIL_LEN as u64).read_to_end(&mut tail)?;
    Ok(declared_entries(&tail, start))
}

/// The entry count that a zip's end records declare, read from `tail`, the file's last
/// bytes, which begin at offset `tail_start`: that of the last end of central directory
/// record whose comment fits, or, when a zip64 locator precedes it, that of the zip64 record
/// the locator points to (the 16-bit count is 0xFFFF past 65,535 entries). `None` when there
/// is no end record.
fn declared_entries(tail: &[u8], tail_start: u64) -> Option<u64> {
    let eocd = (0..tail.len().saturating_sub(EOCD_LEN - 1))
        .rev()
        .find(|&at| {
            le(tail, at, 4) == Some(EOCD_SIGNATURE)
                && le(tail, at + 20, 2)
                    .is_some_and(|comment| at + EOCD_LEN + comment as usize <= tail.len())
        })?;
    let entries = le(tail, eocd + 10, 2)?;
    let locator = eocd
        .checked_sub(ZIP64_LOCATOR_LEN)
        .filter(|&at| le(tail, at, 4) == Some(ZIP64_LOCATOR_SIGNATURE));
    let zip64 = locator.and_then(|at| {
        // Where the locator says, else right before it (an archive with data in front).
        let said = le(tail, at + 8, 8)?
            .checked_sub(tail_start)
            .and_then(|at| usize::try_from(at).ok());
        [said, at.checked_sub(ZIP64_EOCD_LEN)]
            .into_iter()
            .flatten()
            .find(|&record| le(tail, record, 4) == Some(ZIP64_EOCD_SIGNATURE))
            .and_then(|record| le(tail, record + 32, 8))
    });
    Some(zip64.unwrap_or(entries))
}

/// The little-endian number in `len` bytes at `at`, if they are there.
fn le(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(len)?)?;
    Some(field.iter().rev().fold(0, |n, &b| n << 8 | u64::from(b)))
}

/// Central directory bytes allowed for each entry. The zip reader's memory follows the bytes
/// it reads, which the entry count alone does not bound: names, extra fields and comments
/// take up to 64 KiB each, and a bogus last end record makes it fall back to an earlier one
/// whose count was never checked.
const DIRECTORY_BYTES_PER_ENTRY: u64 = 512;

/// What the zip reader may read to find the end records (it reads the tail more than once)
/// and parse the central directory.
fn directory_budget(limits: &ZipLimits) -> u64 {
    4 * TAIL_LEN as u64 + limits.max_entries as u64 * DIRECTORY_BYTES_PER_ENTRY
}

/// A reader that fails with [`BudgetSpent`] once it has given `left` more bytes.
struct Budget<R> {
    inner: R,
    left: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("read budget spent")]
struct BudgetSpent;

impl BudgetSpent {
    fn caused(e: &zip::result::ZipError) -> bool {
        matches!(e, zip::result::ZipError::Io(io) if io.get_ref().is_some_and(|e| e.is::<Self>()))
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            return Err(io::Error::other(BudgetSpent));
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budget<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
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
    use zip::write::SimpleFileOptions;

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

    /// A zip of `count` empty stored files named by `name`.
    fn zip_of_empty(count: usize, name: impl Fn(usize) -> String) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..count {
            writer.start_file(name(i), stored).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    /// An end of central directory record, as `declared_entries` reads it.
    fn eocd(entries: u16, directory_offset: u32) -> Vec<u8> {
        let mut record = 0x0605_4b50u32.to_le_bytes().to_vec();
        record.extend([0; 4]);
        record.extend(entries.to_le_bytes());
        record.extend(entries.to_le_bytes());
        record.extend(46u32.to_le_bytes());
        record.extend(directory_offset.to_le_bytes());
        record.extend([0; 2]);
        record
    }

    #[test]
    fn the_end_record_declares_the_entry_count() {
        let zip = zip_of(&[("a", b"1"), ("b/c", b"2"), ("d/", b"")]);
        assert_eq!(declared_entries(&zip, 0), Some(3));
        assert_eq!(declared_entries(&zip[10..], 10), Some(3));

        // The longest comment, and an end record inside it whose comment would not fit.
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file("a", SimpleFileOptions::default())
            .unwrap();
        let mut comment = eocd(50_000, 0);
        comment[20..22].copy_from_slice(&u16::MAX.to_le_bytes());
        comment.resize(u16::MAX as usize, b'x');
        writer.set_raw_comment(comment.into_boxed_slice()).unwrap();
        let zip = writer.finish().unwrap().into_inner();
        let tail_start = zip.len() - TAIL_LEN;
        assert_eq!(
            declared_entries(&zip[tail_start..], tail_start as u64),
            Some(1)
        );
        let limits = ZipLimits {
            max_entries: 1,
            ..ZipLimits::default()
        };
        assert_eq!(
            ArtifactZip::parse("Src", zip, limits).unwrap().find("a"),
            Some("a")
        );
    }

    #[test]
    fn too_many_entries_are_refused_before_the_directory_is_read() {
        let mut zip = zip_of_empty(20, |i| format!("f{i}"));
        // Break the central directory: reading it would now fail.
        let directory = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        zip[directory] = 0;
        let e = ArtifactZip::parse("Src", zip.clone(), ZipLimits::default()).unwrap_err();
        assert!(matches!(e, ArtifactError::NotAZip { .. }), "{e}");
        let limits = ZipLimits {
            max_entries: 10,
            ..ZipLimits::default()
        };
        let e = ArtifactZip::parse("Src", zip, limits).unwrap_err();
        assert!(matches!(e, ArtifactError::Hostile { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("20 entries, more than the 10 allowed"),
            "{e}"
        );
    }

    #[test]
    fn zip64_end_records_are_followed() {
        // More than 65,535 entries: the 16-bit count says 0xFFFF, the zip64 record the truth.
        let zip = zip_of_empty(70_000, |i| format!("{i:x}"));
        let eocd_at = zip.len() - EOCD_LEN;
        assert_eq!(le(&zip, eocd_at + 10, 2), Some(0xFFFF));
        let tail_start = zip.len() - TAIL_LEN;
        assert_eq!(
            declared_entries(&zip[tail_start..], tail_start as u64),
            Some(70_000)
        );
        let e = ArtifactZip::parse("Src", zip.clone(), ZipLimits::default()).unwrap_err();
        assert!(e.to_string().contains("70000 entries"), "{e}");
        let limits = ZipLimits {
            max_entries: 70_000,
            ..ZipLimits::default()
        };
        assert_eq!(
            ArtifactZip::parse("Src", zip.clone(), limits)
                .unwrap()
                .paths()
                .count(),
            70_000
        );

        // Data in front: the locator's offset is off, the record sits right before it.
        let prefixed = [&[0u8; 100][..], &zip].concat();
        assert_eq!(declared_entries(&prefixed, 0), Some(70_000));

        // Forced zip64 (an extensible data sector) with the real count in both records.
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for name in ["a", "b"] {
            writer
                .start_file(name, SimpleFileOptions::default().large_file(true))
                .unwrap();
        }
        writer.set_raw_zip64_extensible_data_sector(vec![0; 8].into_boxed_slice());
        let zip = writer.finish().unwrap().into_inner();
        let locator_at = zip.len() - EOCD_LEN - ZIP64_LOCATOR_LEN;
        assert_eq!(le(&zip, locator_at, 4), Some(ZIP64_LOCATOR_SIGNATURE));
        assert_eq!(declared_entries(&zip, 0), Some(2));
        let z = ArtifactZip::parse("Src", zip, ZipLimits::default()).unwrap();
        assert_eq!(z.paths().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_truncated_or_garbage_tail_has_no_entry_count() {
        let zip = zip_of(&[("a.json", b"{}")]);
        for bad in [
            &b""[..],
            b"PK\x05\x06",
            b"{\"not\": \"zip\"}",
            &zip[..zip.len() - 1],
            &zip[..zip.len() / 2],
        ] {
            assert_eq!(declared_entries(bad, 0), None, "{bad:?}");
            let e = ArtifactZip::parse("Src", bad.to_vec(), ZipLimits::default()).unwrap_err();
            assert!(matches!(e, ArtifactError::NotAZip { .. }), "{e}");
        }
        // A count of 0xFFFF with no zip64 records, and a locator pointing nowhere.
        assert_eq!(declared_entries(&eocd(0xFFFF, 0), 0), Some(0xFFFF));
        let mut locator = 0x0706_4b50u32.to_le_bytes().to_vec();
        locator.extend([0xEE; 16]);
        let tail = [locator, eocd(7, 0)].concat();
        assert_eq!(declared_entries(&tail, 0), Some(7));
    }

    #[test]
    fn an_end_record_that_hides_a_larger_directory_is_refused() {
        // A bogus last end record: the zip reader rejects it and falls back to the real one,
        // whose count was never checked.
        let mut zip = zip_of_empty(8_000, |i| format!("a/rather/long/directory/name/{i}.json"));
        zip.extend(eocd(1, u32::MAX - 1));
        let tail_start = zip.len() - TAIL_LEN;
        assert_eq!(
            declared_entries(&zip[tail_start..], tail_start as u64),
            Some(1)
        );
        let limits = ZipLimits {
            max_entries: 10,
            ..ZipLimits::default()
        };
        let e = ArtifactZip::parse("Src", zip, limits).unwrap_err();
        assert!(matches!(e, ArtifactError::Hostile { .. }), "{e}");
        assert!(
            e.to_string().contains("central directory takes more than"),
            "{e}"
        );
    }

    #[test]
    fn backslash_paths_are_found_listed_and_read() {
        let zip = zip_of(&[("deploy\\taskdef.json", b"{}"), ("README.md", b"hi")]);
        let stored = b"deploy\\taskdef.json";
        assert!(zip.windows(stored.len()).any(|w| w == stored));
        let z = ArtifactZip::parse("Src", zip, ZipLimits::default()).unwrap();
        assert_eq!(
            z.paths().collect::<Vec<_>>(),
            ["deploy/taskdef.json", "README.md"]
        );
        assert_eq!(z.find("taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("deploy/taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("deploy\\taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.file("deploy/taskdef.json").unwrap(), b"{}");
        assert_eq!(z.file("taskdef.json").unwrap(), b"{}");
    }

    /// Writes `bytes` to a temporary file that goes when the guard is dropped.
    fn temp_with(bytes: &[u8]) -> TempFile {
        let (temp, mut file) = TempFile::create().unwrap();
        file.write_all(bytes).unwrap();
        temp
    }

    #[tokio::test]
    async fn downloads_chunk_by_chunk_to_a_file_removed_on_drop() {
        let source = temp_with(&zip_of(&[(
            "deploy/taskdef.json",
            b"{\"family\": \"web\"}",
        )]));
        let body = ByteStream::read_from()
            .path(&source.0)
            .buffer_size(7)
            .build()
            .await
            .unwrap();
        let z = download("Src", None, body, ZipLimits::default())
            .await
            .unwrap();
        assert_eq!(z.file("taskdef.json").unwrap(), b"{\"family\": \"web\"}");
        let path = z.zip.0.clone();
        assert!(path.starts_with(std::env::temp_dir()) && path.exists());
        drop(z);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn the_size_limit_holds_on_the_bytes_received() {
        let limits = ZipLimits {
            max_zip_bytes: 10,
            ..ZipLimits::default()
        };
        for (declared, body, size) in [
            (Some(11), vec![], 11),
            (None, vec![0; 100], 100),
            (Some(5), vec![0; 100], 100),
        ] {
            let e = download("Src", declared, ByteStream::from(body), limits)
                .await
                .unwrap_err();
            assert!(
                matches!(e, ArtifactError::TooLarge { size: s, limit: 10, .. } if s == size),
                "{e}"
            );
            assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        }
    }

    #[test]
    fn a_refused_zip_leaves_no_file_behind() {
        let temp = temp_with(b"not a zip");
        let path = temp.0.clone();
        let file = File::open(&path).unwrap();
        let e = ArtifactZip::open("Src", temp, file, ZipLimits::default()).unwrap_err();
        assert!(matches!(e, ArtifactError::NotAZip { .. }));
        assert!(!path.exists());
    }

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

    /// The process's peak resident memory in MiB, where the system tells it.
    fn peak_rss_mib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
    }

    /// Writes a zip of `count` empty stored files, a zip64 one past 65,535, without holding
    /// its directory in memory as a zip writer would.
    fn write_empty_entries(out: &mut impl Write, count: u32) -> io::Result<()> {
        let name = |i: u32| format!("f{i:07}");
        const LOCAL: u64 = 30 + 8;
        for i in 0..count {
            out.write_all(&0x0403_4b50u32.to_le_bytes())?;
            out.write_all(&[20, 0, 0, 0, 0, 0])?; // version, flags, stored
            out.write_all(&[0; 16])?; // time, date, CRC, sizes
            out.write_all(&[8, 0, 0, 0])?; // name and extra field lengths
            out.write_all(name(i).as_bytes())?;
        }
        let start = u64::from(count) * LOCAL;
        for i in 0..count {
            out.write_all(&0x0201_4b50u32.to_le_bytes())?;
            out.write_all(&[20, 0, 20, 0, 0, 0, 0, 0])?; // versions, flags, stored
            out.write_all(&[0; 16])?; // time, date, CRC, sizes
            out.write_all(&[8, 0])?; // name length
            out.write_all(&[0; 12])?; // extra, comment, disk, attributes
            out.write_all(&((u64::from(i) * LOCAL) as u32).to_le_bytes())?;
            out.write_all(name(i).as_bytes())?;
        }
        let size = u64::from(count) * (46 + 8);
        let zip64 = count > 0xFFFF;
        if zip64 {
            out.write_all(&0x0606_4b50u32.to_le_bytes())?;
            out.write_all(&44u64.to_le_bytes())?;
            out.write_all(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0])?; // versions, disks
            for n in [u64::from(count), u64::from(count), size, start] {
                out.write_all(&n.to_le_bytes())?;
            }
            out.write_all(&0x0706_4b50u32.to_le_bytes())?;
            out.write_all(&0u32.to_le_bytes())?;
            out.write_all(&(start + size).to_le_bytes())?;
            out.write_all(&1u32.to_le_bytes())?;
        }
        let short = if zip64 { 0xFFFF } else { count as u16 };
        let mut end = eocd(short, start as u32);
        end[12..16].copy_from_slice(&(size as u32).to_le_bytes());
        out.write_all(&end)
    }

    #[test]
    fn the_hand_written_zip_is_a_zip() {
        for count in [3, 70_000] {
            let mut zip = Vec::new();
            write_empty_entries(&mut zip, count).unwrap();
            let limits = ZipLimits {
                max_entries: 70_000,
                ..ZipLimits::default()
            };
            let z = ArtifactZip::parse("Src", zip, limits).unwrap();
            assert_eq!(z.paths().count(), count as usize);
            assert_eq!(z.file("f0000002").unwrap(), b"");
        }
    }

    /// `cargo test -p shared -- --ignored million`, alone, for its peak memory.
    #[tokio::test]
    #[ignore = "writes a 92 MB zip; run alone to see its peak memory"]
    async fn a_million_entries_are_refused_in_bounded_memory() {
        let (source, file) = TempFile::create().unwrap();
        let mut out = io::BufWriter::new(file);
        write_empty_entries(&mut out, 1_000_000).unwrap();
        out.flush().unwrap();
        drop(out);
        let body = ByteStream::read_from()
            .path(&source.0)
            .build()
            .await
            .unwrap();
        let e = download("Src", None, body, ZipLimits::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("1000000 entries"), "{e}");
        if let Some(peak) = peak_rss_mib() {
            eprintln!("peak resident memory: {peak} MiB");
            assert!(peak < 64, "{peak} MiB");
        }
    }

    /// `cargo test -p shared -- --ignored 200_mib`, alone, for its peak memory.
    #[tokio::test]
    #[ignore = "writes a 200 MiB zip; run alone to see its peak memory"]
    async fn a_200_mib_artifact_is_read_in_bounded_memory() {
        let (source, file) = TempFile::create().unwrap();
        let mut writer = zip::ZipWriter::new(io::BufWriter::new(file));
        writer
            .start_file("deploy/taskdef.json", SimpleFileOptions::default())
            .unwrap();
        writer.write_all(b"{\"family\": \"web\"}").unwrap();
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        writer.start_file("image.tar", stored).unwrap();
        let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
        for _ in 0..200 {
            writer.write_all(&block).unwrap();
        }
        writer.finish().unwrap().flush().unwrap();
        drop(block);
        let len = std::fs::metadata(&source.0).unwrap().len();
        assert!(len > 200 << 20);
        let body = ByteStream::read_from()
            .path(&source.0)
            .build()
            .await
            .unwrap();
        let z = download("Src", Some(len as i64), body, ZipLimits::default())
            .await
            .unwrap();
        assert_eq!(z.file("taskdef.json").unwrap(), b"{\"family\": \"web\"}");
        if let Some(peak) = peak_rss_mib() {
            eprintln!("peak resident memory: {peak} MiB");
            assert!(peak < 64, "{peak} MiB");
        }
    }
}

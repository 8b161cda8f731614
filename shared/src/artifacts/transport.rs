//! Artifacts over S3: GetObject streamed to the temporary directory (tried again when the
//! connection drops mid-body), and PutObject with SSE-KMS.

use super::{ArtifactError, ArtifactZip, ZipLimits, storage};
use crate::error::aws_error;
use crate::job::Artifact;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::io;
use std::time::Duration;
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// How an interrupted download is tried again. The SDK retries a request that fails before
/// its response arrives; a body cut off midway is left to the caller, which is here.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The pause before the second attempt, doubled before each next one.
    pub first_backoff: Duration,
    /// No attempt starts, and none goes on, past this moment.
    pub deadline: Option<Instant>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_backoff: Duration::from_millis(200),
            deadline: None,
        }
    }
}

impl Retry {
    /// The pause before attempt `next` (2, 3, ...), or `None` when no attempt is left or
    /// the pause would end past the deadline.
    fn pause_before(&self, next: u32, now: Instant) -> Option<Duration> {
        if next > self.attempts {
            return None;
        }
        let pause = self.first_backoff * 2u32.saturating_pow(next.saturating_sub(2));
        match self.deadline {
            Some(deadline) if now + pause >= deadline => None,
            _ => Some(pause),
        }
    }
}

/// A new file of its own in the temporary directory, removed when dropped.
pub(super) fn temp_file() -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix("artifact-")
        .suffix(".zip")
        .tempfile()
}

/// Downloads an input artifact and checks its zip.
pub(super) async fn read(
    s3: &aws_sdk_s3::Client,
    artifact: &Artifact,
    limits: ZipLimits,
    retry: Retry,
) -> Result<ArtifactZip, ArtifactError> {
    let name = artifact.name.as_str();
    let loc = &artifact.location.s3_location;
    let mut attempt = 1;
    loop {
        let fetched = async {
            let object = s3
                .get_object()
                .bucket(&loc.bucket_name)
                .key(&loc.object_key)
                .send()
                .await
                .map_err(|e| Fetch::Refused(get_failed(artifact, e)))?;
            download(name, object.content_length(), object.body, limits).await
        };
        let fetched = match retry.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, fetched)
                .await
                .unwrap_or_else(|_| Err(Fetch::Interrupted("no time left".to_owned()))),
            None => fetched.await,
        };
        match fetched {
            Ok(file) => return ArtifactZip::open(name, file, limits),
            Err(Fetch::Refused(e)) => return Err(e),
            Err(Fetch::Interrupted(detail)) => {
                attempt += 1;
                let Some(pause) = retry.pause_before(attempt, Instant::now()) else {
                    return Err(ArtifactError::Interrupted {
                        name: name.to_owned(),
                        attempts: attempt - 1,
                        detail,
                    });
                };
                tracing::warn!(
                    artifact = name,
                    attempt,
                    pause_ms = pause.as_millis() as u64,
                    "artifact download interrupted ({detail}); trying again"
                );
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// A missing object is the upstream action's doing; anything else is S3's answer.
fn get_failed(
    artifact: &Artifact,
    e: aws_smithy_runtime_api::client::result::SdkError<
        GetObjectError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> ArtifactError {
    let loc = &artifact.location.s3_location;
    let missing = e
        .as_service_error()
        .is_some_and(GetObjectError::is_no_such_key)
        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
    if missing {
        return ArtifactError::Missing {
            name: artifact.name.clone(),
            bucket: loc.bucket_name.clone(),
            key: loc.object_key.clone(),
        };
    }
    ArtifactError::Aws {
        artifact: artifact.name.clone(),
        bucket: loc.bucket_name.clone(),
        key: loc.object_key.clone(),
        source: Box::new(aws_error("s3:GetObject", e)),
    }
}

/// Writes an output artifact with SSE-KMS.
pub(super) async fn write(
    s3: &aws_sdk_s3::Client,
    artifact: &Artifact,
    kms_key_id: Option<String>,
    body: Vec<u8>,
) -> Result<(), ArtifactError> {
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
        .set_ssekms_key_id(kms_key_id)
        .body(ByteStream::from(body));
    put.send().await.map_err(|e| ArtifactError::Aws {
        artifact: artifact.name.clone(),
        bucket: loc.bucket_name.clone(),
        key: loc.object_key.clone(),
        source: Box::new(aws_error("s3:PutObject", e)),
    })?;
    Ok(())
}

/// How a download attempt ended short of a file.
#[derive(Debug)]
pub(super) enum Fetch {
    /// The body stopped before its end: worth another attempt.
    Interrupted(String),
    /// The artifact or the temporary directory is at fault: final.
    Refused(ArtifactError),
}

/// Streams an artifact's body to a temporary file a chunk at a time.
pub(super) async fn download(
    name: &str,
    content_length: Option<i64>,
    mut body: ByteStream,
    limits: ZipLimits,
) -> Result<NamedTempFile, Fetch> {
    let too_large = |size| {
        Fetch::Refused(ArtifactError::TooLarge {
            name: name.to_owned(),
            size,
            limit: limits.max_zip_bytes,
        })
    };
    let local = |e: io::Error| Fetch::Refused(storage(name, &e));
    let declared = content_length.unwrap_or(0).max(0) as u64;
    if declared > limits.max_zip_bytes {
        return Err(too_large(declared));
    }
    let temp = temp_file().map_err(local)?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(local)?);
    let mut received: u64 = 0;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| Fetch::Interrupted(error_chain(&e)))?
    {
        // Content-Length may be absent or wrong: the limit holds on the bytes that arrive.
        received += chunk.len() as u64;
        if received > limits.max_zip_bytes {
            return Err(too_large(received));
        }
        file.write_all(&chunk).await.map_err(local)?;
    }
    file.flush().await.map_err(local)?;
    if content_length.is_some_and(|n| n >= 0 && received < declared) {
        return Err(Fetch::Interrupted(format!(
            "{received} of {declared} bytes arrived"
        )));
    }
    drop(file);
    Ok(temp)
}

/// An error and its causes on one line: the body's error alone says little.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::test_support::{build, peak_rss_mib, write_empty_entries};
    use crate::error::{Failure, FailureType};
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    /// Writes `bytes` to a temporary file that goes when the guard is dropped.
    fn temp_with(bytes: &[u8]) -> NamedTempFile {
        let mut temp = temp_file().unwrap();
        temp.write_all(bytes).unwrap();
        temp
    }

    async fn download_zip(
        content_length: Option<i64>,
        body: ByteStream,
        limits: ZipLimits,
    ) -> Result<ArtifactZip, ArtifactError> {
        match download("Src", content_length, body, limits).await {
            Ok(file) => ArtifactZip::open("Src", file, limits),
            Err(Fetch::Refused(e)) => Err(e),
            Err(Fetch::Interrupted(detail)) => panic!("interrupted: {detail}"),
        }
    }

    #[tokio::test]
    async fn downloads_chunk_by_chunk_to_a_file_removed_on_drop() {
        let source = temp_with(&build(&[("deploy/taskdef.json", b"{\"family\": \"web\"}")]));
        let body = ByteStream::read_from()
            .path(source.path())
            .buffer_size(7)
            .build()
            .await
            .unwrap();
        let z = download_zip(None, body, ZipLimits::default())
            .await
            .unwrap();
        assert_eq!(z.file("taskdef.json").unwrap(), b"{\"family\": \"web\"}");
        let path = z.zip.path().to_owned();
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
            let e = download_zip(declared, ByteStream::from(body), limits)
                .await
                .unwrap_err();
            assert!(
                matches!(e, ArtifactError::TooLarge { size: s, limit: 10, .. } if s == size),
                "{e}"
            );
            assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        }
    }

    #[tokio::test]
    async fn a_body_shorter_than_declared_is_an_interruption() {
        let e = download(
            "Src",
            Some(10),
            ByteStream::from(vec![0; 4]),
            ZipLimits::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, Fetch::Interrupted(ref d) if d == "4 of 10 bytes arrived"),
            "{e:?}"
        );
    }

    #[test]
    fn retries_are_bounded_by_attempts_and_the_deadline() {
        let now = Instant::now();
        let retry = Retry::default();
        let pauses: Vec<_> = (2..=4).map(|n| retry.pause_before(n, now)).collect();
        assert_eq!(
            pauses,
            [
                Some(Duration::from_millis(200)),
                Some(Duration::from_millis(400)),
                None
            ]
        );
        let soon = Retry {
            deadline: Some(now + Duration::from_millis(300)),
            ..retry
        };
        assert_eq!(soon.pause_before(2, now), Some(Duration::from_millis(200)));
        assert_eq!(soon.pause_before(3, now), None);
        assert_eq!(soon.pause_before(2, now + Duration::from_millis(150)), None);
    }

    #[test]
    fn a_refused_zip_leaves_no_file_behind() {
        let temp = temp_with(b"not a zip");
        let path = temp.path().to_owned();
        let e = ArtifactZip::open("Src", temp, ZipLimits::default()).unwrap_err();
        assert!(matches!(e, ArtifactError::NotAZip { .. }));
        assert!(!path.exists());
    }

    /// `cargo test -p shared -- --ignored million`, alone, for its peak memory.
    #[tokio::test]
    #[ignore = "writes a 92 MB zip; run alone to see its peak memory"]
    async fn a_million_entries_are_refused_in_bounded_memory() {
        let source = temp_file().unwrap();
        let mut out = io::BufWriter::new(source.reopen().unwrap());
        write_empty_entries(&mut out, 1_000_000).unwrap();
        out.flush().unwrap();
        drop(out);
        let body = ByteStream::read_from()
            .path(source.path())
            .build()
            .await
            .unwrap();
        let e = download_zip(None, body, ZipLimits::default())
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
        let source = temp_file().unwrap();
        let mut writer = zip::ZipWriter::new(io::BufWriter::new(source.reopen().unwrap()));
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
        let len = std::fs::metadata(source.path()).unwrap().len();
        assert!(len > 200 << 20);
        let body = ByteStream::read_from()
            .path(source.path())
            .build()
            .await
            .unwrap();
        let z = download_zip(Some(len as i64), body, ZipLimits::default())
            .await
            .unwrap();
        assert_eq!(z.file("taskdef.json").unwrap(), b"{\"family\": \"web\"}");
        if let Some(peak) = peak_rss_mib() {
            eprintln!("peak resident memory: {peak} MiB");
            assert!(peak < 64, "{peak} MiB");
        }
    }
}

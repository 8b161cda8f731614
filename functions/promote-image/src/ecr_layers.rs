//! ECR's layer API: which blobs a repository lacks, a blob's bytes streamed from its
//! download URL, and an upload one part at a time (memory is bounded by the part size,
//! whatever the layer size).

use std::collections::BTreeSet;

use aws_sdk_ecr::primitives::Blob as Bytes;
use aws_sdk_ecr::types::LayerAvailability;
use futures::Stream;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use shared::error::aws_error;
use shared::registry::Chunker;

use crate::ecr::Repo;
use crate::error::PromoteError;
use crate::manifest::Blob;

/// Layer digests per BatchCheckLayerAvailability call (the API maximum).
const CHECK_BATCH: usize = 100;
/// Part size when ECR suggests none; ECR accepts up to 20 MiB per part.
pub const DEFAULT_PART: u64 = 8 << 20;
const MIN_PART: u64 = 64 << 10;
const MAX_PART: u64 = 20 << 20;

/// Fetches a presigned layer URL as a stream.
#[derive(Clone)]
pub struct Downloader {
    s3: shared::aws::Lazy<aws_sdk_s3::Client>,
}

impl Downloader {
    /// `sdk` supplies the HTTP client, sleep and retry settings. The request is not
    /// signed: the presigned URL carries its own authorization.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let mut config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(
                sdk.region()
                    .cloned()
                    .or(Some(aws_sdk_s3::config::Region::from_static("us-east-1"))),
            )
            .allow_no_auth()
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            );
        config.set_http_client(sdk.http_client());
        config.set_sleep_impl(sdk.sleep_impl());
        config.set_time_source(sdk.time_source());
        config.set_retry_config(sdk.retry_config().cloned());
        let config = config.build();
        Downloader {
            s3: shared::aws::Lazy::with(move || aws_sdk_s3::Client::from_conf(config.clone())),
        }
    }

    /// GETs `url` exactly as given; the SDK's S3 client is used only as an HTTP stack
    /// (TLS, retries, streaming body).
    async fn open(&self, url: &str) -> Result<aws_sdk_s3::primitives::ByteStream, String> {
        let uri = url.to_owned();
        let out = self
            .s3
            .get_object()
            .bucket("layer")
            .key("download")
            .customize()
            .mutate_request(move |req| {
                let _ = req.set_uri(uri.as_str());
            })
            .send()
            .await
            .map_err(|e| match e.raw_response() {
                Some(raw) => format!("HTTP {}", raw.status().as_u16()),
                None => aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
            })?;
        Ok(out.body)
    }
}

/// `BatchCheckLayerAvailability`: the blobs the target does not have.
pub(crate) async fn missing_blobs<'b>(
    target: Repo<'_>,
    blobs: &[&'b Blob],
) -> Result<Vec<&'b Blob>, PromoteError> {
    let mut available = BTreeSet::new();
    for chunk in blobs.chunks(CHECK_BATCH) {
        let out = target
            .client
            .batch_check_layer_availability()
            .set_registry_id(target.registry_id.map(str::to_owned))
            .repository_name(target.name)
            .set_layer_digests(Some(chunk.iter().map(|b| b.digest.clone()).collect()))
            .send()
            .await
            .map_err(|e| aws_error("ecr:BatchCheckLayerAvailability", e))?;
        for layer in out.layers() {
            if layer.layer_availability() == Some(&LayerAvailability::Available)
                && let Some(digest) = layer.layer_digest()
            {
                available.insert(digest.to_owned());
            }
        }
    }
    Ok(blobs
        .iter()
        .copied()
        .filter(|b| !available.contains(&b.digest))
        .collect())
}

/// How one try at a blob transfer ended, when it did not succeed: worth another try
/// (the stream broke off), or not.
pub(crate) enum Attempt {
    Retry(String),
    Fatal(PromoteError),
}

impl From<shared::error::AwsError> for Attempt {
    fn from(e: shared::error::AwsError) -> Self {
        Attempt::Fatal(e.into())
    }
}

/// A layer's bytes, streamed from its ECR download URL.
pub(crate) async fn download(
    source: Repo<'_>,
    downloader: &Downloader,
    digest: &str,
) -> Result<BoxStream<'static, Result<bytes::Bytes, String>>, Attempt> {
    let Some(url) = shared::ecr::download_url(source, digest).await? else {
        return Err(Attempt::Retry(shared::ecr::NO_DOWNLOAD_URL.to_string()));
    };
    let body = downloader.open(&url).await.map_err(Attempt::Retry)?;
    Ok(stream::unfold(body, |mut body| async move {
        match body.try_next().await {
            Ok(Some(chunk)) => Some((Ok(chunk), body)),
            Ok(None) => None,
            Err(e) => Some((Err(e.to_string()), body)),
        }
    })
    .boxed())
}

/// Uploads `blob` into the ECR repository `target` from `body`, one part at a time.
pub(crate) async fn upload<S>(target: Repo<'_>, blob: &Blob, body: S) -> Result<u64, Attempt>
where
    S: Stream<Item = Result<bytes::Bytes, String>>,
{
    let upload = target
        .client
        .initiate_layer_upload()
        .set_registry_id(target.registry_id.map(str::to_owned))
        .repository_name(target.name)
        .send()
        .await
        .map_err(|e| aws_error("ecr:InitiateLayerUpload", e))?;
    let Some(upload_id) = upload.upload_id() else {
        return Err(Attempt::Retry(
            "InitiateLayerUpload returned no upload id".to_string(),
        ));
    };
    let mut chunker = Chunker::new(part_size(upload.part_size(), blob.size));
    let mut body = std::pin::pin!(body);
    let mut sent: u64 = 0;
    while let Some(chunk) = body.try_next().await.map_err(Attempt::Retry)? {
        let mut rest = &chunk[..];
        while let Some(part) = chunker.fill(&mut rest) {
            sent = upload_part(target, upload_id, sent, part).await?;
        }
    }
    let last = chunker.finish();
    if !last.is_empty() {
        sent = upload_part(target, upload_id, sent, last).await?;
    }
    if blob.size > 0 && sent != blob.size {
        return Err(Attempt::Retry(format!(
            "downloaded {sent} bytes, the manifest says {}",
            blob.size
        )));
    }
    let completed = target
        .client
        .complete_layer_upload()
        .set_registry_id(target.registry_id.map(str::to_owned))
        .repository_name(target.name)
        .upload_id(upload_id)
        .layer_digests(&blob.digest)
        .send()
        .await;
    match completed {
        Ok(_) => Ok(sent),
        Err(e) => {
            let e = aws_error("ecr:CompleteLayerUpload", e);
            // Another run copied it meanwhile: the blob is there, which is all we need.
            if e.code() == Some("LayerAlreadyExistsException") {
                Ok(sent)
            } else {
                Err(e.into())
            }
        }
    }
}

/// Uploads one part; returns the bytes sent so far.
async fn upload_part(
    target: Repo<'_>,
    upload_id: &str,
    sent: u64,
    part: bytes::Bytes,
) -> Result<u64, Attempt> {
    let len = part.len() as u64;
    target
        .client
        .upload_layer_part()
        .set_registry_id(target.registry_id.map(str::to_owned))
        .repository_name(target.name)
        .upload_id(upload_id)
        .part_first_byte(sent as i64)
        .part_last_byte((sent + len - 1) as i64)
        .layer_part_blob(Bytes::new(Vec::from(part)))
        .send()
        .await
        .map_err(|e| aws_error("ecr:UploadLayerPart", e))?;
    Ok(sent + len)
}

/// ECR's limit on the parts of one layer upload.
pub const MAX_PARTS: u64 = 4_200;

/// The part size to use: ECR's suggestion, kept within bounds so memory stays bounded, and
/// large enough that a layer of `layer_size` bytes fits in ECR's part count.
pub fn part_size(suggested: Option<i64>, layer_size: u64) -> usize {
    let size = suggested
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_PART)
        .max(layer_size.div_ceil(MAX_PARTS));
    size.clamp(MIN_PART, MAX_PART) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_is_bounded() {
        assert_eq!(part_size(None, 0), DEFAULT_PART as usize);
        assert_eq!(part_size(Some(0), 0), DEFAULT_PART as usize);
        assert_eq!(part_size(Some(-5), 0), DEFAULT_PART as usize);
        assert_eq!(part_size(Some(1), 0), MIN_PART as usize);
        assert_eq!(part_size(Some(5 << 20), 1 << 30), 5 << 20);
        assert_eq!(part_size(Some(1 << 40), 0), MAX_PART as usize);
        // A 40 GiB layer in 10 MiB parts would need 4,096 parts: fine; 60 GiB needs bigger ones.
        assert_eq!(part_size(Some(10 << 20), 40 << 30), 10 << 20);
        let big = part_size(Some(10 << 20), 60 << 30) as u64;
        assert!((60u64 << 30).div_ceil(big) <= MAX_PARTS);
    }
}

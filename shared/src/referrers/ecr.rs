//! A subject's referrers in ECR, through the ECR API: `ListImageReferrers` (every page),
//! a referrer's manifest (`BatchGetImage`, exact bytes), and a small blob read into memory
//! (`GetDownloadUrlForLayer`, then a GET of that URL with [`crate::http::client`]).

use aws_sdk_ecr::types::{ImageIdentifier, ListImageReferrersFilter, SubjectIdentifier};
use bytes::Bytes;

use super::{Descriptor, ReferrerError, bounded};
pub use crate::ecr::Repository;
use crate::ecr::{NO_DOWNLOAD_URL, download_url};
use crate::error::{AwsError, aws_error};
use crate::registry::{DOCKER_LIST, DOCKER_MANIFEST, Manifest, OCI_INDEX, OCI_MANIFEST};

/// Referrers per `ListImageReferrers` page (the API maximum).
const PAGE: i32 = 50;

/// Artifact types ECR filters a listing by, at most.
pub const MAX_FILTER_TYPES: usize = 5;

/// The referrers of `subject` (a digest), every page; none when the repository holds no
/// such image. `artifact_types` (at most [`MAX_FILTER_TYPES`]; none: all) has ECR list only
/// those (ECR takes them from each manifest: its `artifactType`, else its config's media
/// type). At most [`super::MAX_REFERRERS`].
pub async fn list(
    repo: Repository<'_>,
    subject: &str,
    artifact_types: &[String],
) -> Result<Vec<Descriptor>, ReferrerError> {
    let filter = (!artifact_types.is_empty()).then(|| {
        ListImageReferrersFilter::builder()
            .set_artifact_types(Some(
                artifact_types
                    .iter()
                    .take(MAX_FILTER_TYPES)
                    .cloned()
                    .collect(),
            ))
            .build()
    });
    let subject_id = SubjectIdentifier::builder()
        .image_digest(subject)
        .build()
        .map_err(|e| AwsError::local("ecr:ListImageReferrers", e.to_string()))?;
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sent = repo
            .client
            .list_image_referrers()
            .set_registry_id(repo.registry_id.map(str::to_owned))
            .repository_name(repo.name)
            .subject_id(subject_id.clone())
            .set_filter(filter.clone())
            .max_results(PAGE)
            .set_next_token(token.take())
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let e = aws_error("ecr:ListImageReferrers", e);
                return match (e.code(), e.kind()) {
                    (Some("ImageNotFoundException"), _) => Ok(Vec::new()),
                    (_, crate::FailureType::PermissionError) => Err(ReferrerError::ListDenied {
                        detail: format!(
                            "ecr:ListImageReferrers on {} failed: {}",
                            repo.name,
                            e.code().unwrap_or("AccessDenied")
                        ),
                    }),
                    _ => Err(e.into()),
                };
            }
        };
        found.extend(out.referrers().iter().map(|r| {
            Descriptor {
                media_type: r.media_type().to_string(),
                digest: r.digest().to_string(),
                size: u64::try_from(r.size()).unwrap_or(0),
                artifact_type: r.artifact_type().map(str::to_owned),
                annotations: r
                    .annotations()
                    .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            }
        }));
        bounded(
            subject,
            found.len(),
            &format!("ECR repository {}", repo.name),
        )?;
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(found),
        }
    }
}

/// The manifest `digest` as ECR stores it, byte for byte; `None` when it is not there.
pub async fn get_manifest(
    repo: Repository<'_>,
    digest: &str,
) -> Result<Option<Manifest>, AwsError> {
    get_image(
        repo,
        ImageIdentifier::builder().image_digest(digest).build(),
    )
    .await
}

/// The manifest `image` (a digest or a tag) names in ECR, byte for byte; `None` when it
/// is not there.
pub async fn get_image(
    repo: Repository<'_>,
    image: ImageIdentifier,
) -> Result<Option<Manifest>, AwsError> {
    let out = repo
        .client
        .batch_get_image()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_name(repo.name)
        .image_ids(image)
        .set_accepted_media_types(Some(
            [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]
                .map(str::to_owned)
                .to_vec(),
        ))
        .send()
        .await
        .map_err(|e| aws_error("ecr:BatchGetImage", e))?;
    Ok(out.images().iter().find_map(|image| {
        let bytes = image.image_manifest()?.as_bytes().to_vec();
        let media_type = image
            .image_manifest_media_type()
            .map(str::to_owned)
            .or_else(|| crate::registry::media_type_of(&bytes))?;
        let digest = image
            .image_id()
            .and_then(|id| id.image_digest())
            .map_or_else(|| crate::registry::sha256_digest(&bytes), str::to_owned);
        Some(Manifest {
            digest,
            media_type,
            bytes: Bytes::from(bytes),
        })
    }))
}

/// The blob `digest` in memory, when it is at most `limit` bytes; checked against its
/// digest.
pub async fn read_small_blob(
    repo: Repository<'_>,
    digest: &str,
    limit: u64,
) -> Result<Bytes, ReferrerError> {
    let failed = |detail: String| ReferrerError::Download {
        digest: digest.to_string(),
        detail,
    };
    let url = download_url(repo, digest)
        .await?
        .ok_or_else(|| failed(NO_DOWNLOAD_URL.to_string()))?;
    let http = crate::http::client().map_err(|e| failed(e.to_string()))?;
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status().as_u16())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed(e.without_url().to_string()))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(ReferrerError::BlobTooLarge {
                digest: digest.to_string(),
                size: (body.len() + chunk.len()) as u64,
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let actual = crate::registry::sha256_digest(&body);
    if actual != digest {
        return Err(failed(format!("the bytes hash to {actual}")));
    }
    Ok(Bytes::from(body))
}

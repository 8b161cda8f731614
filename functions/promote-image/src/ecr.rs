//! ECR adapters: one small async function per call, over a concrete client. They turn
//! SDK types into the crate's plain data; decisions live elsewhere.

use aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput;
use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability};
use shared::error::{AwsError, aws_error};

use crate::manifest::ACCEPTED_MEDIA_TYPES;
use crate::scan::{BasicFinding, EnhancedFinding, Findings, ScanResult};
use crate::tags::Mutability;
use shared::image::Reference;

/// Findings asked for per DescribeImageScanFindings page (the API maximum).
const SCAN_PAGE: i32 = 1000;
/// Image ids per BatchGetImage call (the API maximum).
const IMAGE_BATCH: usize = 100;

/// A repository as the calls address it (`registry_id: None`: the caller's registry).
pub use shared::ecr::Repository as Repo;

/// An image manifest as `BatchGetImage` returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub digest: String,
    pub manifest: String,
    pub media_type: Option<String>,
    pub registry_id: Option<String>,
}

/// A repository's registry, URI and tag rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoInfo {
    pub registry_id: Option<String>,
    pub uri: Option<String>,
    pub mutability: Mutability,
}

/// Where a tag points, and every tag on that image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagTarget {
    pub digest: String,
    pub tags: Vec<String>,
}

fn identifier(reference: &Reference) -> ImageIdentifier {
    match reference {
        Reference::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
        Reference::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
    }
}

fn accepted() -> Option<Vec<String>> {
    Some(ACCEPTED_MEDIA_TYPES.iter().map(|s| s.to_string()).collect())
}

/// `BatchGetImage` of `ids`, in the manifest media types the promotion reads.
async fn batch_get_image(
    repo: Repo<'_>,
    ids: Vec<ImageIdentifier>,
) -> Result<BatchGetImageOutput, AwsError> {
    repo.client
        .batch_get_image()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_name(repo.name)
        .set_image_ids(Some(ids))
        .set_accepted_media_types(accepted())
        .send()
        .await
        .map_err(|e| aws_error("ecr:BatchGetImage", e))
}

/// `BatchGetImage` for one image; `None` when the repository has no such image.
pub async fn get_image(repo: Repo<'_>, reference: &Reference) -> Result<Option<Fetched>, AwsError> {
    let out = batch_get_image(repo, vec![identifier(reference)]).await?;
    Ok(out.images().iter().find_map(fetched))
}

fn fetched(image: &aws_sdk_ecr::types::Image) -> Option<Fetched> {
    Some(Fetched {
        digest: image.image_id()?.image_digest()?.to_owned(),
        manifest: image.image_manifest()?.to_owned(),
        media_type: image.image_manifest_media_type().map(str::to_owned),
        registry_id: image.registry_id().map(str::to_owned),
    })
}

/// `BatchGetImage` by digest for many manifests (an index's children): what was found,
/// and the digests that were not.
pub async fn get_by_digests(
    repo: Repo<'_>,
    digests: &[String],
) -> Result<(Vec<Fetched>, Vec<String>), AwsError> {
    let mut found = Vec::with_capacity(digests.len());
    for chunk in digests.chunks(IMAGE_BATCH) {
        let ids = chunk
            .iter()
            .map(|d| ImageIdentifier::builder().image_digest(d).build())
            .collect();
        let out = batch_get_image(repo, ids).await?;
        found.extend(out.images().iter().filter_map(fetched));
    }
    let missing = digests
        .iter()
        .filter(|d| !found.iter().any(|f| &f.digest == *d))
        .cloned()
        .collect();
    Ok((found, missing))
}

/// `BatchGetImage` by tag: each tag's manifest, `None` where no image carries it. Calls
/// of at most 100 tags each, made together.
pub async fn get_by_tags(
    repo: Repo<'_>,
    tags: &[String],
) -> Result<Vec<Option<Fetched>>, AwsError> {
    let calls = tags.chunks(IMAGE_BATCH).map(|chunk| async move {
        let ids = chunk
            .iter()
            .map(|t| ImageIdentifier::builder().image_tag(t).build())
            .collect();
        let out = batch_get_image(repo, ids).await?;
        Ok::<_, AwsError>(
            chunk
                .iter()
                .map(|tag| {
                    out.images()
                        .iter()
                        .find(|i| i.image_id().and_then(|id| id.image_tag()) == Some(tag.as_str()))
                        .and_then(fetched)
                })
                .collect::<Vec<_>>(),
        )
    });
    let found = futures::future::try_join_all(calls).await?;
    Ok(found.into_iter().flatten().collect())
}

/// `DescribeImages` for one tag; `None` when no image carries it.
pub async fn tag_target(repo: Repo<'_>, tag: &str) -> Result<Option<TagTarget>, AwsError> {
    let sent = repo
        .client
        .describe_images()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_name(repo.name)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await;
    let out = match sent {
        Ok(out) => out,
        Err(e) => {
            let e = aws_error("ecr:DescribeImages", e);
            return if e.code() == Some("ImageNotFoundException") {
                Ok(None)
            } else {
                Err(e)
            };
        }
    };
    Ok(out.image_details().iter().find_map(|d| {
        Some(TagTarget {
            digest: d.image_digest()?.to_owned(),
            tags: d.image_tags().to_vec(),
        })
    }))
}

/// `DescribeRepositories` for one repository: its registry, URI and tag mutability.
pub async fn repository(repo: Repo<'_>) -> Result<RepoInfo, AwsError> {
    let out = repo
        .client
        .describe_repositories()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_names(repo.name)
        .send()
        .await
        .map_err(|e| aws_error("ecr:DescribeRepositories", e))?;
    let found = out
        .repositories()
        .iter()
        .find(|r| r.repository_name() == Some(repo.name));
    let mode = found
        .and_then(|r| r.image_tag_mutability())
        .map_or("MUTABLE", ImageTagMutability::as_str);
    let filters = found
        .map(|r| {
            r.image_tag_mutability_exclusion_filters()
                .iter()
                .map(|f| f.filter().to_owned())
                .collect()
        })
        .unwrap_or_default();
    Ok(RepoInfo {
        registry_id: found.and_then(|r| r.registry_id()).map(str::to_owned),
        uri: found.and_then(|r| r.repository_uri()).map(str::to_owned),
        mutability: Mutability::from_api(mode, filters),
    })
}

/// `DescribeImageScanFindings`, every page, with the digest the result is for.
pub async fn scan(
    repo: Repo<'_>,
    reference: &Reference,
) -> Result<(ScanResult, Option<String>), AwsError> {
    let mut findings = Findings::default();
    let mut status = String::new();
    let mut description = None;
    let mut digest = None;
    let mut pages = repo
        .client
        .describe_image_scan_findings()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_name(repo.name)
        .image_id(identifier(reference))
        .max_results(SCAN_PAGE)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let out = match page {
            Ok(out) => out,
            Err(e) => {
                let e = aws_error("ecr:DescribeImageScanFindings", e);
                return if e.code() == Some("ScanNotFoundException") {
                    Ok((ScanResult::NotFound, None))
                } else {
                    Err(e)
                };
            }
        };
        if let Some(s) = out.image_scan_status() {
            status = s
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            description = s.description().map(str::to_owned);
        }
        digest = digest.or_else(|| {
            out.image_id()
                .and_then(|i| i.image_digest())
                .map(str::to_owned)
        });
        if let Some(f) = out.image_scan_findings() {
            if findings.counts.is_empty()
                && let Some(counts) = f.finding_severity_counts()
            {
                findings.counts = counts
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), u64::try_from(*v).unwrap_or(0)))
                    .collect();
            }
            findings.basic.extend(f.findings().iter().map(|x| {
                BasicFinding {
                    name: x.name().unwrap_or_default().to_owned(),
                    severity: x
                        .severity()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                }
            }));
            findings
                .enhanced
                .extend(f.enhanced_findings().iter().map(|x| {
                    let mut ids = Vec::new();
                    if let Some(id) = x
                        .package_vulnerability_details()
                        .and_then(|p| p.vulnerability_id())
                    {
                        ids.push(id.to_owned());
                    }
                    if let Some(arn) = x.finding_arn() {
                        ids.push(arn.to_owned());
                    }
                    EnhancedFinding {
                        ids,
                        severity: x.severity().unwrap_or_default().to_owned(),
                        status: x.status().unwrap_or_default().to_owned(),
                    }
                }));
        }
    }
    Ok((
        ScanResult::Found {
            status,
            description,
            findings,
        },
        digest,
    ))
}

/// How a `PutImage` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    Written,
    /// ECR says the image (or the tag) already exists: check where the tag points.
    AlreadyExists,
}

/// `PutImage` with the manifest bytes, media type and digest exactly as fetched, so ECR
/// stores the same digest (and refuses if it would not). `tag: None` puts it untagged.
pub async fn put_image(
    repo: Repo<'_>,
    manifest: &str,
    media_type: &str,
    digest: &str,
    tag: Option<&str>,
) -> Result<Put, AwsError> {
    let sent = repo
        .client
        .put_image()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_name(repo.name)
        .image_manifest(manifest)
        .image_manifest_media_type(media_type)
        .image_digest(digest)
        .set_image_tag(tag.map(str::to_owned))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(Put::Written),
        Err(e) => {
            let e = aws_error("ecr:PutImage", e);
            match e.code() {
                Some("ImageAlreadyExistsException" | "ImageTagAlreadyExistsException") => {
                    Ok(Put::AlreadyExists)
                }
                _ => Err(e),
            }
        }
    }
}

/// Whether a `PutImage` failure is ECR refusing the manifest itself (rather than the
/// caller, a limit or an outage): `InvalidParameterException`,
/// `UnsupportedImageTypeException`, or any other error whose message names the manifest.
pub fn refuses_manifest(e: &AwsError) -> bool {
    use shared::error::{Failure, FailureType};
    match e.code() {
        Some("InvalidParameterException" | "UnsupportedImageTypeException") => true,
        _ => {
            matches!(
                e.failure_type(),
                FailureType::JobFailed | FailureType::ConfigurationError
            ) && e.to_string().to_ascii_lowercase().contains("manifest")
        }
    }
}

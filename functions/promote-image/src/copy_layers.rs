//! Copying what another repository lacks before its tags are put: an index's child
//! manifests are parsed, the distinct blobs of every manifest checked in the target, each
//! missing one mounted (same registry) or streamed (one part or chunk at a time, a broken
//! transfer started again), then the children put untagged.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};
use shared::registry::{self, Copied, RegistryError};

use crate::ecr_layers::{self, Attempt};
use crate::error::PromoteError;
use crate::manifest::{self, Blob, Manifest, MediaType};
use crate::pipeline::bounded;
use crate::store::{CONCURRENCY, Image, Store};
use crate::summary::CopyStats;

/// Bytes per upload request to another registry (one chunk held per blob in flight).
pub const CHUNK: usize = registry::DEFAULT_CHUNK;
/// Attempts per blob when a transfer breaks off (each request also retries).
const ATTEMPTS: usize = 3;

/// Copies into `target` the blobs it lacks of `manifest` and of `children` (an index's
/// child manifests, already read from the source), then puts the children.
pub async fn copy_into(
    source: Store<'_>,
    target: Store<'_>,
    manifest: &Manifest,
    children: &[Image],
) -> Result<CopyStats, PromoteError> {
    let mut blobs: Vec<Blob> = manifest.registry_blobs().cloned().collect();
    let mut child_types: Vec<MediaType> = Vec::with_capacity(children.len());
    for child in children {
        let parsed =
            manifest::parse(child.text()?, child.media_type.as_deref()).map_err(|source| {
                PromoteError::ChildManifest {
                    digest: child.digest.clone(),
                    source,
                }
            })?;
        if parsed.media_type.is_index() {
            return Err(PromoteError::NestedIndex {
                digest: child.digest.clone(),
            });
        }
        blobs.extend(parsed.registry_blobs().cloned());
        child_types.push(parsed.media_type);
    }
    let moved = copy_blobs(source, target, &blobs).await?;
    bounded(
        children
            .iter()
            .zip(&child_types)
            .map(|(child, media_type)| target.put(child, media_type.as_str(), None))
            .collect(),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    Ok(CopyStats {
        manifests_put: children.len(),
        ..moved
    })
}

/// Copies into `target` the distinct blobs of `blobs` it lacks (foreign ones left out),
/// a few at a time, each streamed or mounted; the counts say what moved.
pub async fn copy_blobs(
    source: Store<'_>,
    target: Store<'_>,
    blobs: &[Blob],
) -> Result<CopyStats, PromoteError> {
    let mut seen = BTreeSet::new();
    let distinct: Vec<&Blob> = blobs
        .iter()
        .filter(|b| !b.foreign && seen.insert(b.digest.as_str()))
        .collect();
    if distinct.is_empty() {
        return Ok(CopyStats::default());
    }
    let lacking = target.missing(&distinct).await?;
    let copies: Vec<_> = lacking
        .iter()
        .map(|b| copy_blob(source, target, b))
        .collect();
    let moved: Vec<Copied> = stream::iter(copies)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(CopyStats {
        blobs_checked: distinct.len(),
        blobs_copied: lacking.len(),
        blobs_mounted: moved.iter().filter(|c| **c == Copied::Mounted).count(),
        bytes_copied: moved
            .iter()
            .map(|c| match c {
                Copied::Uploaded(n) => *n,
                Copied::Mounted => 0,
            })
            .sum(),
        manifests_put: 0,
    })
}

/// Copies `blob` from `source` to `target`; a broken transfer starts again.
async fn copy_blob(
    source: Store<'_>,
    target: Store<'_>,
    blob: &Blob,
) -> Result<Copied, PromoteError> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match copy_once(source, target, blob).await {
            Ok(copied) => return Ok(copied),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Retry(why)) => {
                tracing::warn!(digest = %blob.digest, attempt, reason = %why, "blob transfer broke, starting again");
                last = why;
            }
        }
    }
    Err(PromoteError::Transfer {
        layer: blob.digest.clone(),
        repository: source.name(),
        attempts: ATTEMPTS,
        reason: last,
    })
}

/// A registry failure worth another try: the connection broke, or the bytes came wrong.
fn registry_attempt(e: RegistryError) -> Attempt {
    match e {
        RegistryError::Unreachable { .. } | RegistryError::DigestMismatch { .. } => {
            Attempt::Retry(e.to_string())
        }
        e => Attempt::Fatal(e.into()),
    }
}

/// One try: a mount between repositories of one registry, otherwise the source's bytes
/// streamed into the target's upload.
async fn copy_once(source: Store<'_>, target: Store<'_>, blob: &Blob) -> Result<Copied, Attempt> {
    match (source, target) {
        (
            Store::Registry {
                client: from,
                repository: from_repository,
                ..
            },
            Store::Registry {
                client: to,
                repository: to_repository,
                ..
            },
        ) => registry::copy_blob(
            (from, from_repository),
            (to, to_repository),
            &blob.digest,
            CHUNK,
        )
        .await
        .map_err(registry_attempt),
        (
            Store::Ecr {
                repo, downloader, ..
            },
            Store::Registry {
                client, repository, ..
            },
        ) => {
            let body = ecr_layers::download(repo, downloader, &blob.digest).await?;
            let body = body.map(|piece| {
                piece.map_err(|detail| RegistryError::Unreachable {
                    registry: "ECR".to_string(),
                    detail,
                })
            });
            client
                .upload_blob(repository, &blob.digest, None, body, CHUNK)
                .await
                .map(Copied::Uploaded)
                .map_err(registry_attempt)
        }
        (
            Store::Registry {
                client, repository, ..
            },
            Store::Ecr { repo, .. },
        ) => {
            let body = client
                .get_blob(repository, &blob.digest)
                .await
                .map_err(registry_attempt)?
                .map(|piece| piece.map_err(|e| e.to_string()));
            ecr_layers::upload(repo, blob, body)
                .await
                .map(Copied::Uploaded)
        }
        (
            Store::Ecr {
                repo: from,
                downloader,
                ..
            },
            Store::Ecr { repo: to, .. },
        ) => {
            let body = ecr_layers::download(from, downloader, &blob.digest).await?;
            ecr_layers::upload(to, blob, body)
                .await
                .map(Copied::Uploaded)
        }
    }
}

//! One side of a promotion that involves a registry other than ECR: an ECR repository
//! (through the ECR API) or a repository in another registry (through the OCI
//! distribution API). Each offers the same few operations: read a manifest, say where a
//! tag points, put a manifest, and find the blobs it lacks.

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use shared::error::AwsError;
use shared::registry::{self, Client as RegistryClient, Copied, RegistryError, Scope};

use crate::copy::{self, Attempt, Downloader};
use crate::ecr::{self, Put, Repo};
use crate::error::PromoteError;
use crate::manifest::Blob;
use crate::reference::Reference;
use crate::tags::Mutability;

/// Blobs checked and copied at once.
pub const CONCURRENCY: usize = 4;
/// Bytes per upload request to another registry (one chunk held per blob in flight).
pub const CHUNK: usize = registry::DEFAULT_CHUNK;
/// Attempts per blob when a transfer breaks off.
const ATTEMPTS: usize = 3;

#[derive(Clone, Copy)]
pub enum Side<'a> {
    Ecr {
        repo: Repo<'a>,
        downloader: &'a Downloader,
        /// `web (eu-west-1)`, for messages.
        label: &'a str,
    },
    Registry {
        client: &'a RegistryClient,
        repository: &'a str,
        /// `docker.io/user/app`, for messages and the image URI.
        label: &'a str,
    },
}

/// A manifest as stored: its exact bytes, media type and digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub digest: String,
    pub media_type: String,
    pub bytes: Bytes,
}

impl Image {
    pub fn text(&self) -> Result<&str, PromoteError> {
        std::str::from_utf8(&self.bytes).map_err(|_| {
            PromoteError::Config(format!("manifest {} is not UTF-8 JSON", self.digest))
        })
    }
}

/// What a target allows, and its URI when ECR says.
pub struct Rules {
    pub mutability: Mutability,
    pub uri: Option<String>,
}

impl Side<'_> {
    pub fn label(&self) -> &str {
        match self {
            Side::Ecr { label, .. } | Side::Registry { label, .. } => label,
        }
    }

    /// Whether both are the same repository of the same registry.
    pub fn same_as(&self, other: &Side<'_>) -> bool {
        match (self, other) {
            (
                Side::Registry {
                    client: a,
                    repository: ra,
                    ..
                },
                Side::Registry {
                    client: b,
                    repository: rb,
                    ..
                },
            ) => a.host() == b.host() && ra == rb,
            (Side::Ecr { label: a, .. }, Side::Ecr { label: b, .. }) => a == b,
            _ => false,
        }
    }

    /// Authenticates with a registry ahead of the first request: for reading, or for
    /// writing (`push`). A source that is also the target asks for push access at once.
    pub async fn authenticate(&self, push: bool, other: &Side<'_>) -> Result<(), PromoteError> {
        if let Side::Registry {
            client, repository, ..
        } = self
        {
            let scope = if push || self.same_as(other) {
                Scope::push(repository)
            } else {
                Scope::pull(repository)
            };
            client.authenticate(&scope).await?;
        }
        Ok(())
    }

    /// The manifest `reference` names; `None` when there is none.
    pub async fn get(&self, reference: &Reference) -> Result<Option<Image>, PromoteError> {
        match self {
            Side::Ecr { repo, .. } => {
                let Some(f) = ecr::get_image(*repo, reference).await? else {
                    return Ok(None);
                };
                let media_type = match f.media_type {
                    Some(t) => t,
                    None => registry::media_type_of(f.manifest.as_bytes())
                        .unwrap_or_else(|| registry::DOCKER_MANIFEST.to_string()),
                };
                Ok(Some(Image {
                    digest: f.digest,
                    media_type,
                    bytes: Bytes::from(f.manifest),
                }))
            }
            Side::Registry {
                client, repository, ..
            } => Ok(client
                .get_manifest(repository, &reference_str(reference))
                .await?
                .map(|m| Image {
                    digest: m.digest,
                    media_type: m.media_type,
                    bytes: m.bytes,
                })),
        }
    }

    /// The digest `tag` points at; `None` when no image carries it.
    pub async fn tag_digest(&self, tag: &str) -> Result<Option<String>, PromoteError> {
        match self {
            Side::Ecr { repo, .. } => Ok(ecr::tag_target(*repo, tag).await?.map(|t| t.digest)),
            Side::Registry {
                client, repository, ..
            } => Ok(client
                .resolve_for_push(repository, tag)
                .await?
                .map(|r| r.digest)),
        }
    }

    /// The target's tag rules: ECR's mutability; other registries' tags move freely.
    pub async fn rules(&self) -> Result<Rules, AwsError> {
        match self {
            Side::Ecr { repo, .. } => {
                let info = ecr::repository(*repo).await?;
                Ok(Rules {
                    mutability: info.mutability,
                    uri: info.uri,
                })
            }
            Side::Registry { .. } => Ok(Rules {
                mutability: Mutability::Mutable,
                uri: None,
            }),
        }
    }

    /// Puts `image` under `tag`, or untagged (by its digest) when `tag` is `None`.
    pub async fn put(&self, image: &Image, tag: Option<&str>) -> Result<Put, PromoteError> {
        match self {
            Side::Ecr { repo, .. } => {
                Ok(
                    ecr::put_image(*repo, image.text()?, &image.media_type, &image.digest, tag)
                        .await?,
                )
            }
            Side::Registry {
                client, repository, ..
            } => {
                let manifest = registry::Manifest {
                    digest: image.digest.clone(),
                    media_type: image.media_type.clone(),
                    bytes: image.bytes.clone(),
                };
                client
                    .put_manifest(repository, tag.unwrap_or(&image.digest), &manifest)
                    .await?;
                Ok(Put::Written)
            }
        }
    }

    /// The blobs of `blobs` this side does not hold (existence checks, a few at a time).
    pub async fn missing(&self, blobs: &[&Blob]) -> Result<Vec<Blob>, PromoteError> {
        match self {
            Side::Ecr { repo, .. } => Ok(copy::missing_blobs(*repo, blobs)
                .await?
                .into_iter()
                .cloned()
                .collect()),
            Side::Registry {
                client, repository, ..
            } => {
                let checks: Vec<_> = blobs
                    .iter()
                    .map(|b| async move {
                        let exists = client.blob_exists(repository, &b.digest).await?;
                        Ok::<_, RegistryError>((!exists).then(|| (*b).clone()))
                    })
                    .collect();
                let found: Vec<Option<Blob>> = stream::iter(checks)
                    .buffered(CONCURRENCY)
                    .try_collect()
                    .await?;
                Ok(found.into_iter().flatten().collect())
            }
        }
    }
}

/// `v1` or `sha256:...`, as the distribution API takes it.
pub fn reference_str(reference: &Reference) -> String {
    match reference {
        Reference::Tag(t) => t.clone(),
        Reference::Digest(d) => d.clone(),
    }
}

/// Copies `blob` from `source` to `target`: a mount on the same registry, otherwise a
/// stream from the source into a chunked upload; a broken transfer starts again.
pub async fn copy_blob(
    source: Side<'_>,
    target: Side<'_>,
    blob: &Blob,
) -> Result<Copied, PromoteError> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match copy_once(source, target, blob).await {
            Ok(bytes) => return Ok(bytes),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Retry(why)) => {
                tracing::warn!(digest = %blob.digest, attempt, reason = %why, "blob transfer broke, starting again");
                last = why;
            }
        }
    }
    Err(PromoteError::Transfer {
        layer: blob.digest.clone(),
        repository: source.label().to_string(),
        attempts: ATTEMPTS,
        reason: last,
    })
}

fn registry_attempt(e: RegistryError) -> Attempt {
    match e {
        RegistryError::Unreachable { .. } | RegistryError::DigestMismatch { .. } => {
            Attempt::Retry(e.to_string())
        }
        e => Attempt::Fatal(e.into()),
    }
}

async fn copy_once(source: Side<'_>, target: Side<'_>, blob: &Blob) -> Result<Copied, Attempt> {
    match (source, target) {
        (
            Side::Registry {
                client: from,
                repository: from_repository,
                ..
            },
            Side::Registry {
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
            Side::Ecr {
                repo, downloader, ..
            },
            Side::Registry {
                client, repository, ..
            },
        ) => {
            let body = copy::download(repo, downloader, &blob.digest).await?;
            let host = "ECR".to_string();
            let body = body.map_err(move |detail| RegistryError::Unreachable {
                registry: host.clone(),
                detail,
            });
            client
                .upload_blob(repository, &blob.digest, None, body, CHUNK)
                .await
                .map(Copied::Uploaded)
                .map_err(registry_attempt)
        }
        (
            Side::Registry {
                client, repository, ..
            },
            Side::Ecr { repo, .. },
        ) => {
            let body = client
                .get_blob(repository, &blob.digest)
                .await
                .map_err(registry_attempt)?
                .map_err(|e| e.to_string());
            copy::upload(repo, blob, body).await.map(Copied::Uploaded)
        }
        (
            Side::Ecr {
                repo: from,
                downloader,
                ..
            },
            Side::Ecr { repo: to, .. },
        ) => {
            let body = copy::download(from, downloader, &blob.digest).await?;
            copy::upload(to, blob, body).await.map(Copied::Uploaded)
        }
    }
}

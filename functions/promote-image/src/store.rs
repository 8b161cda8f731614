//! Where images are kept, as the pipeline sees either side: an ECR repository (through
//! the ECR API) or a repository in another registry (through the OCI distribution API).
//! Each reads and puts manifests, says where a tag points and what the repository allows,
//! and finds the blobs it lacks; the pipeline does not ask which one it has.

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use shared::referrers::{self as oci, Descriptor};
use shared::registry::{self, Client as RegistryClient, RegistryError, Scope};

use crate::ecr::{self, Fetched, Put, Repo, RepoInfo, TagTarget};
use crate::ecr_layers::{self, Downloader};
use crate::error::PromoteError;
use crate::manifest::Blob;
use crate::referrers::Referrer;
use crate::tags::Mutability;
use shared::image::Reference;

/// Manifests, tags and blob checks handled at once; the rest wait their turn.
pub const CONCURRENCY: usize = 4;

#[derive(Clone, Copy)]
pub enum Store<'a> {
    Ecr {
        repo: Repo<'a>,
        /// The region the client calls, for messages and the image URI.
        region: &'a str,
        downloader: &'a Downloader,
    },
    Registry {
        client: &'a RegistryClient,
        /// The registry as written (`docker.io`), for messages and the image URI.
        registry: &'a str,
        /// The repository as the API names it (`library/nginx`).
        repository: &'a str,
    },
}

/// A manifest as stored: its exact bytes, the media type the store gave (if any), its
/// digest and, in ECR, the registry it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub digest: String,
    pub media_type: Option<String>,
    pub bytes: Bytes,
    pub registry_id: Option<String>,
}

impl Image {
    pub fn text(&self) -> Result<&str, PromoteError> {
        std::str::from_utf8(&self.bytes).map_err(|_| PromoteError::ManifestNotText {
            digest: self.digest.clone(),
        })
    }
}

impl From<Fetched> for Image {
    fn from(f: Fetched) -> Self {
        Image {
            digest: f.digest,
            media_type: f.media_type,
            bytes: Bytes::from(f.manifest),
            registry_id: f.registry_id,
        }
    }
}

impl Store<'_> {
    /// The repository as people name it: `web` in ECR, `docker.io/user/app` elsewhere.
    pub fn name(&self) -> String {
        match self {
            Store::Ecr { repo, .. } => repo.name.to_string(),
            Store::Registry {
                registry,
                repository,
                ..
            } => format!("{registry}/{repository}"),
        }
    }

    /// Whether both are the same registry repository, known before any call. (Two ECR
    /// sides are compared on what ECR answers: see the pipeline.)
    pub fn same_registry_repository(&self, other: &Store<'_>) -> bool {
        match (self, other) {
            (
                Store::Registry {
                    client: a,
                    repository: ra,
                    ..
                },
                Store::Registry {
                    client: b,
                    repository: rb,
                    ..
                },
            ) => a.host() == b.host() && ra == rb,
            _ => false,
        }
    }

    /// Authenticates with a registry ahead of the first request: for reading, or for
    /// writing (`push`). A source that is also the target asks for push access at once.
    pub async fn authenticate(&self, push: bool, other: &Store<'_>) -> Result<(), PromoteError> {
        if let Store::Registry {
            client, repository, ..
        } = self
        {
            let scope = if push || self.same_registry_repository(other) {
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
            Store::Ecr { repo, .. } => Ok(ecr::get_image(*repo, reference).await?.map(Image::from)),
            Store::Registry {
                client, repository, ..
            } => Ok(client
                .get_manifest(repository, reference.as_str())
                .await?
                .map(|m| Image {
                    digest: m.digest,
                    media_type: Some(m.media_type),
                    bytes: m.bytes,
                    registry_id: None,
                })),
        }
    }

    /// The manifests of `digests` (an index's children): those found, and the digests
    /// that are not there.
    pub async fn get_many(
        &self,
        digests: &[String],
    ) -> Result<(Vec<Image>, Vec<String>), PromoteError> {
        if let Store::Ecr { repo, .. } = self {
            let (found, missing) = ecr::get_by_digests(*repo, digests).await?;
            return Ok((found.into_iter().map(Image::from).collect(), missing));
        }
        // Built before they run, so the returned future stays `Send`.
        let gets: Vec<_> = digests
            .iter()
            .map(|d| {
                let reference = Reference::Digest(d.clone());
                async move { self.get(&reference).await }
            })
            .collect();
        let fetched: Vec<Option<Image>> = stream::iter(gets)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (digest, image) in digests.iter().zip(fetched) {
            match image {
                Some(image) => found.push(image),
                None => missing.push(digest.clone()),
            }
        }
        Ok((found, missing))
    }

    /// The manifests a few tags name, `None` where a tag is absent: one call in ECR, a
    /// few at a time elsewhere.
    pub async fn get_tags(&self, tags: &[String]) -> Result<Vec<Option<Image>>, PromoteError> {
        if let Store::Ecr { repo, .. } = self {
            let found = ecr::get_by_tags(*repo, tags).await?;
            return Ok(found.into_iter().map(|f| f.map(Image::from)).collect());
        }
        let gets: Vec<_> = tags
            .iter()
            .map(|t| {
                let reference = Reference::Tag(t.clone());
                async move { self.get(&reference).await }
            })
            .collect();
        stream::iter(gets).buffered(CONCURRENCY).try_collect().await
    }

    /// Where `tag` points (with every tag of that image, where the store lists them);
    /// `None` when no image carries it.
    pub async fn tag_target(&self, tag: &str) -> Result<Option<TagTarget>, PromoteError> {
        match self {
            Store::Ecr { repo, .. } => Ok(ecr::tag_target(*repo, tag).await?),
            Store::Registry {
                client, repository, ..
            } => Ok(client
                .resolve_for_push(repository, tag)
                .await?
                .map(|r| TagTarget {
                    digest: r.digest,
                    tags: Vec::new(),
                })),
        }
    }

    /// The repository's registry, URI and tag rules: ECR's; another registry's tags move
    /// freely.
    pub async fn rules(&self) -> Result<RepoInfo, PromoteError> {
        match self {
            Store::Ecr { repo, .. } => Ok(ecr::repository(*repo).await?),
            Store::Registry { .. } => Ok(RepoInfo {
                registry_id: None,
                uri: None,
                mutability: Mutability::Mutable,
            }),
        }
    }

    /// Puts `image` (as `media_type`) under `tag`, or untagged (by its digest) when `tag`
    /// is `None`.
    pub async fn put(
        &self,
        image: &Image,
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Put, PromoteError> {
        match self {
            Store::Ecr { repo, .. } => {
                Ok(ecr::put_image(*repo, image.text()?, media_type, &image.digest, tag).await?)
            }
            Store::Registry {
                client, repository, ..
            } => {
                let manifest = registry::Manifest {
                    digest: image.digest.clone(),
                    media_type: media_type.to_string(),
                    bytes: image.bytes.clone(),
                };
                client
                    .put_manifest(repository, tag.unwrap_or(&image.digest), &manifest)
                    .await?;
                Ok(Put::Written)
            }
        }
    }

    /// The blobs of `blobs` this store does not hold (existence checks, a few at a time).
    pub async fn missing(&self, blobs: &[&Blob]) -> Result<Vec<Blob>, PromoteError> {
        match self {
            Store::Ecr { repo, .. } => Ok(ecr_layers::missing_blobs(*repo, blobs)
                .await?
                .into_iter()
                .cloned()
                .collect()),
            Store::Registry {
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

    /// The referrers the store lists for `subject`: ECR's `ListImageReferrers` (asked to
    /// keep only `artifact_types`, when given), a registry's referrers API or tag schema.
    pub async fn list_referrers(
        &self,
        subject: &str,
        artifact_types: &[String],
    ) -> Result<Vec<Descriptor>, PromoteError> {
        match self {
            Store::Ecr { repo, .. } => Ok(oci::ecr::list(*repo, subject, artifact_types).await?),
            Store::Registry {
                client, repository, ..
            } => Ok(client.list_referrers(repository, subject).await?.referrers),
        }
    }

    /// Puts `referrers` of `subject` by digest, untagged, a few at a time. A registry that
    /// answers without `OCI-Subject` does not index them itself: the tag schema's index of
    /// `subject` is updated once with those. ECR refusing one is
    /// [`PromoteError::ReferrerRefused`].
    pub async fn put_referrers(
        &self,
        subject: &str,
        referrers: &[&Referrer],
    ) -> Result<(), PromoteError> {
        match self {
            Store::Ecr { repo, .. } => {
                let puts: Vec<_> = referrers
                    .iter()
                    .map(|r| async move {
                        let text = r.manifest.text()?;
                        ecr::put_image(
                            *repo,
                            text,
                            &r.descriptor.media_type,
                            &r.descriptor.digest,
                            None,
                        )
                        .await
                        .map_err(|e| refused(e, r, repo.name))
                    })
                    .collect();
                crate::pipeline::bounded(puts)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(())
            }
            Store::Registry {
                client, repository, ..
            } => {
                let puts: Vec<_> = referrers
                    .iter()
                    .map(|r| async move {
                        let manifest = registry::Manifest {
                            digest: r.descriptor.digest.clone(),
                            media_type: r.descriptor.media_type.clone(),
                            bytes: r.manifest.bytes.clone(),
                        };
                        let indexed = client.put_referrer(repository, &manifest).await?;
                        Ok::<_, RegistryError>((!indexed).then(|| r.descriptor.clone()))
                    })
                    .collect();
                let unindexed: Vec<Descriptor> = crate::pipeline::bounded(puts)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect();
                if !unindexed.is_empty() {
                    client
                        .add_to_referrers_index(repository, subject, &unindexed)
                        .await?;
                }
                Ok(())
            }
        }
    }
}

/// A `PutImage` refusal of `referrer` as the refusal it is; other failures (denied,
/// throttled) stay what they are.
fn refused(e: shared::error::AwsError, referrer: &Referrer, repository: &str) -> PromoteError {
    if crate::ecr::refuses_manifest(&e) {
        PromoteError::ReferrerRefused {
            digest: referrer.descriptor.digest.clone(),
            artifact_type: referrer.descriptor.artifact_type.clone(),
            subject: referrer.subject.clone(),
            repository: repository.to_string(),
            answer: e.to_string(),
        }
    } else {
        e.into()
    }
}

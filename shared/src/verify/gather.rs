//! The one way to turn a subject's signature-bearing manifests into [`Candidate`]s.
//!
//! [`complete`] fetches the layer blobs [`wanted`] names (a few at a time, each at most
//! [`MAX_SIGNATURE_BLOB`]); a blob that cannot be read is left out, so that the verifier
//! reports that signature as unreadable and still tries the others. [`candidates`] is for
//! callers that have read nothing yet but the digest: the referrers ([`referred`]: listed,
//! manifests, blobs) and, beside them, cosign's legacy `sha256-<hex>.sig` tag
//! ([`tagged`]: manifest, blobs).

use aws_sdk_ecr::types::ImageIdentifier;
use futures::{StreamExt, TryStreamExt, stream};

use super::{Blob, Candidate, Found, MAX_SIGNATURE_BLOB, NOTATION_SIGNATURE, wanted};
use crate::referrers::{Descriptor, ReferrerError, ecr, legacy_tags};
use crate::registry::{Client, Manifest};

/// Reads in flight at once, per stage.
pub const CONCURRENCY: usize = 4;
/// The most referrer manifests read as possible signatures of one subject.
pub const MAX_SIGNATURE_MANIFESTS: usize = 32;

/// cosign's artifact type for a signature stored as an OCI 1.1 referrer.
const COSIGN_SIGNATURE_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// Where the subject's signatures are read from.
#[derive(Clone, Copy)]
pub enum Place<'a> {
    Ecr(ecr::Repository<'a>),
    Registry {
        client: &'a Client,
        repository: &'a str,
    },
}

impl Place<'_> {
    async fn blob(&self, digest: &str) -> Result<Vec<u8>, ReferrerError> {
        let bytes = match self {
            Self::Ecr(repo) => ecr::read_small_blob(*repo, digest, MAX_SIGNATURE_BLOB).await?,
            Self::Registry { client, repository } => {
                client
                    .read_small_blob(repository, digest, MAX_SIGNATURE_BLOB)
                    .await?
            }
        };
        Ok(bytes.to_vec())
    }

    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>, ReferrerError> {
        match self {
            Self::Ecr(repo) if reference.starts_with("sha256:") => {
                Ok(ecr::get_manifest(*repo, reference).await?)
            }
            Self::Ecr(repo) => Ok(ecr_tag(*repo, reference).await?),
            Self::Registry { client, repository } => {
                Ok(client.get_manifest(repository, reference).await?)
            }
        }
    }

    async fn referrers(&self, subject: &str) -> Result<Vec<Descriptor>, ReferrerError> {
        match self {
            Self::Ecr(repo) => ecr::list(*repo, subject, &[]).await,
            Self::Registry { client, repository } => {
                Ok(client.list_referrers(repository, subject).await?.referrers)
            }
        }
    }
}

/// The manifest a tag names in ECR, byte for byte; `None` when there is no such tag.
async fn ecr_tag(
    repo: ecr::Repository<'_>,
    tag: &str,
) -> Result<Option<Manifest>, crate::error::AwsError> {
    ecr::get_image(repo, ImageIdentifier::builder().image_tag(tag).build()).await
}

/// Whether a listed referrer may hold a signature (SBOMs and attestations are not read).
pub fn may_be_signature(referrer: &Descriptor) -> bool {
    match referrer.artifact_type.as_deref() {
        None | Some("") => true,
        Some(t) => {
            t == NOTATION_SIGNATURE
                || t == COSIGN_SIGNATURE_ARTIFACT
                || t.starts_with("application/vnd.dev.sigstore.bundle")
        }
    }
}

/// `manifests` with the blobs [`wanted`] names fetched from `place`, [`CONCURRENCY`] at a
/// time. A blob that cannot be read (too large, missing, a failed download) is left out:
/// the verifier reports that signature as not fetched.
pub async fn complete(place: Place<'_>, manifests: Vec<Candidate>) -> Vec<Candidate> {
    let fetches: Vec<(usize, String)> = manifests
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            wanted(&c.manifest)
                .into_iter()
                .filter(|d| !c.blobs.iter().any(|b| b.digest == d.digest))
                .map(move |d| (i, d.digest))
        })
        .collect();
    let fetched: Vec<(usize, Option<Blob>)> = stream::iter(fetches)
        .map(|(i, digest)| async move {
            match place.blob(&digest).await {
                Ok(bytes) => (i, Some(Blob { digest, bytes })),
                Err(e) => {
                    tracing::warn!(blob = %digest, error = %e, kind = e.kind(), "a signature blob could not be read");
                    (i, None)
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut out = manifests;
    for (i, blob) in fetched {
        if let Some(blob) = blob {
            out[i].blobs.push(blob);
        }
    }
    out
}

/// The signature candidates of the image `digest` at `place`, read from nothing: its
/// referrers ([`referred`]) and, beside them, cosign's legacy `.sig` tag ([`tagged`]), so
/// that neither waits for the other.
pub async fn candidates(place: Place<'_>, digest: &str) -> Result<Vec<Candidate>, ReferrerError> {
    let (mut referred, tagged) =
        futures::try_join!(referred(place, digest), tagged(place, digest))?;
    referred.extend(tagged);
    Ok(referred)
}

/// The referrers of `digest` that may be signatures: listed, at most
/// [`MAX_SIGNATURE_MANIFESTS`] manifests read, then their blobs (three stages).
pub async fn referred(place: Place<'_>, digest: &str) -> Result<Vec<Candidate>, ReferrerError> {
    let referrers: Vec<Descriptor> = place
        .referrers(digest)
        .await?
        .into_iter()
        .filter(may_be_signature)
        .take(MAX_SIGNATURE_MANIFESTS)
        .collect();
    let found: Vec<Candidate> = stream::iter(referrers)
        .map(|r| async move {
            let m = place.manifest(&r.digest).await?;
            Ok::<_, ReferrerError>(m.map(|m| Candidate {
                digest: r.digest,
                manifest: m.bytes.to_vec(),
                found: Found::Referrer,
                blobs: Vec::new(),
            }))
        })
        .buffered(CONCURRENCY)
        .try_filter_map(|c| async move { Ok(c) })
        .try_collect()
        .await?;
    Ok(complete(place, found).await)
}

/// cosign's legacy `sha256-<hex>.sig` tag of `digest`, if there is one: its manifest, then
/// its blobs (two stages).
pub async fn tagged(place: Place<'_>, digest: &str) -> Result<Vec<Candidate>, ReferrerError> {
    let Some(tag) = legacy_tags(digest)
        .into_iter()
        .find(|t| t.ends_with(".sig"))
    else {
        return Ok(Vec::new());
    };
    let Some(m) = place.manifest(&tag).await? else {
        return Ok(Vec::new());
    };
    let found = vec![Candidate {
        digest: m.digest,
        manifest: m.bytes.to_vec(),
        found: Found::LegacyTag(tag),
        blobs: Vec::new(),
    }];
    Ok(complete(place, found).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::OCI_MANIFEST;

    fn referrer(artifact_type: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: "sha256:00".into(),
            size: 1,
            artifact_type: artifact_type.map(str::to_owned),
            annotations: Default::default(),
        }
    }

    #[test]
    fn signatures_are_read_and_sboms_are_not() {
        assert!(may_be_signature(&referrer(None)));
        assert!(may_be_signature(&referrer(Some(NOTATION_SIGNATURE))));
        assert!(may_be_signature(&referrer(Some(
            super::super::SIGSTORE_BUNDLE
        ))));
        assert!(may_be_signature(&referrer(Some(COSIGN_SIGNATURE_ARTIFACT))));
        assert!(!may_be_signature(&referrer(Some("application/spdx+json"))));
        assert!(!may_be_signature(&referrer(Some(
            "application/vnd.in-toto+json"
        ))));
    }
}

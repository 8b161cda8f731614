//! OCI 1.1 referrers: the signatures, SBOMs and attestations that name an image as their
//! `subject`, discovered and read on either side a function meets.
//!
//! # API (stable)
//!
//! - [`Descriptor`]: a referrer as an index lists it; [`describe`] makes one from a
//!   referrer's manifest (its `artifactType`, else its config's media type: what
//!   [`classify`] returns, since registries' index entries are not reliable about it).
//! - [`subject_of`]: the `subject.digest` a manifest names.
//! - The referrers tag schema (registries without the referrers API):
//!   [`tag_schema_tag`] (`sha256-<hex>`), [`parse_index`] (an OCI index only),
//!   [`merge`] (deduplicated append) and [`index_bytes`].
//! - [`legacy_tags`]: cosign's `sha256-<hex>.sig`, `.att` and `.sbom` tags of a subject.
//! - Another registry: [`crate::registry::Client::list_referrers`] (the referrers API,
//!   else the tag schema, remembered per client), [`crate::registry::Client::get_manifest`]
//!   (exact bytes), [`crate::registry::Client::read_small_blob`],
//!   [`crate::registry::Client::put_referrer`] (says whether the answer had
//!   `OCI-Subject`) and [`crate::registry::Client::add_to_referrers_index`].
//! - ECR: [`ecr::list`] (`ListImageReferrers`, every page), [`ecr::get_manifest`] and
//!   [`ecr::read_small_blob`].
//! - [`ReferrerError`]: one variant per cause, each a failure type and a stable name.
//!
//! Every listing is bounded: at most [`MAX_REFERRERS`] per subject, an index no larger
//! than [`crate::registry::MAX_MANIFEST`].

pub mod ecr;
mod error;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use error::ReferrerError;

use crate::registry::OCI_INDEX;

/// The most referrers read for one subject.
pub const MAX_REFERRERS: usize = 1_000;

/// cosign's legacy tag suffixes (signatures, attestations, SBOMs), stored beside the image.
pub const LEGACY_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

/// A referrer as a referrers index lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// How a registry listed a subject's referrers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `GET /v2/<name>/referrers/<digest>` (or ECR's `ListImageReferrers`).
    Api,
    /// The `sha256-<hex>` tag's index (the registry has no referrers API).
    TagSchema,
}

/// A subject's referrers as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub referrers: Vec<Descriptor>,
    pub via: Via,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    subject: Option<RawDescriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
}

fn raw(bytes: &[u8]) -> Option<RawManifest> {
    serde_json::from_slice(bytes).ok()
}

/// What a referrer is: its manifest's `artifactType`, else its config's media type.
pub fn classify(manifest: &[u8]) -> Option<String> {
    let m = raw(manifest)?;
    m.artifact_type
        .filter(|t| !t.is_empty())
        .or_else(|| m.config.and_then(|c| c.media_type))
}

/// The `subject.digest` a manifest names, if any.
pub fn subject_of(manifest: &[u8]) -> Option<String> {
    raw(manifest)?.subject?.digest
}

/// The descriptor an index lists for the referrer manifest `bytes` (`digest`, stored as
/// `media_type`), as the distribution spec asks: its artifact type classified, its
/// annotations copied.
pub fn describe(digest: &str, media_type: &str, bytes: &[u8]) -> Descriptor {
    let m = raw(bytes);
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size: bytes.len() as u64,
        artifact_type: classify(bytes),
        annotations: m.map(|m| m.annotations).unwrap_or_default(),
    }
}

/// The tag-schema tag of `digest`: `sha256:ab..` is `sha256-ab..`; `None` for a string
/// that is not `<algorithm>:<hex>`.
pub fn tag_schema_tag(digest: &str) -> Option<String> {
    let (algorithm, hex) = digest.split_once(':')?;
    let ok = !algorithm.is_empty()
        && algorithm.chars().all(|c| c.is_ascii_alphanumeric())
        && !hex.is_empty()
        && hex.chars().all(|c| c.is_ascii_hexdigit());
    ok.then(|| format!("{algorithm}-{hex}"))
}

/// cosign's legacy tags for `digest` (`sha256-<hex>.sig`, `.att`, `.sbom`).
pub fn legacy_tags(digest: &str) -> Vec<String> {
    match tag_schema_tag(digest) {
        Some(base) => LEGACY_SUFFIXES
            .iter()
            .map(|s| format!("{base}.{s}"))
            .collect(),
        None => Vec::new(),
    }
}

/// Why bytes are not a referrers index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAnIndex {
    /// Another media type (a registry answering the tag with the subject itself).
    MediaType(String),
    /// Not JSON of an index's shape.
    Shape(String),
}

impl std::fmt::Display for NotAnIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MediaType(t) => write!(f, "it holds a `{t}`, not an OCI image index"),
            Self::Shape(e) => write!(f, "it is not an OCI image index ({e})"),
        }
    }
}

/// The entries of a referrers index served as `media_type`: an OCI image index only.
pub fn parse_index(media_type: &str, bytes: &[u8]) -> Result<Vec<Descriptor>, NotAnIndex> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Index {
        media_type: Option<String>,
        manifests: Vec<Descriptor>,
    }
    if media_type != OCI_INDEX {
        return Err(NotAnIndex::MediaType(media_type.to_string()));
    }
    let index: Index =
        serde_json::from_slice(bytes).map_err(|e| NotAnIndex::Shape(e.to_string()))?;
    match index.media_type {
        Some(t) if t != OCI_INDEX => Err(NotAnIndex::MediaType(t)),
        _ => Ok(index.manifests),
    }
}

/// `entries` with `referrer` appended, or `None` when it is listed already (by digest).
pub fn merge(entries: &[Descriptor], referrer: &Descriptor) -> Option<Vec<Descriptor>> {
    if entries.iter().any(|e| e.digest == referrer.digest) {
        return None;
    }
    let mut merged = entries.to_vec();
    merged.push(referrer.clone());
    Some(merged)
}

/// A referrers index over `entries`, as the tag schema stores it.
pub fn index_bytes(entries: &[Descriptor]) -> Bytes {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    });
    Bytes::from(serde_json::to_vec(&index).expect("an index serializes"))
}

/// Whether `listed` exceeds the bound, as an error naming the subject.
pub(crate) fn bounded(subject: &str, listed: usize, where_: &str) -> Result<(), ReferrerError> {
    if listed > MAX_REFERRERS {
        return Err(ReferrerError::TooMany {
            subject: subject.to_string(),
            place: where_.to_string(),
            count: listed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;

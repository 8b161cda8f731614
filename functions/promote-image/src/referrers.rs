//! An image's referrers (signatures, SBOMs, attestations: manifests whose `subject` is the
//! image or one of an index's children) and cosign's legacy signature tags, taken along
//! when the image goes to another repository.
//!
//! [`discover`] reads both sides before anything is written: what the source holds, with
//! each referrer's exact manifest, and what the target lists already. [`decide`] picks
//! what to copy from that alone. [`copy`] writes: the image by digest first, then the
//! referrers' blobs, their manifests by digest (on a registry without `OCI-Subject`, the
//! tag schema's index updated), then the legacy tags. The release tags come after.

use std::collections::{BTreeMap, BTreeSet};

use shared::referrers::{self as oci, Descriptor, ReferrerError};

use crate::copy_layers;
use crate::error::PromoteError;
use crate::manifest::{self, Blob};
use crate::pipeline::bounded;
use crate::route::ReferrerPolicy;
use crate::store::{Image, Store};
use crate::tags::Mutability;

/// A referrer found in the source, as it will be copied.
#[derive(Clone, Debug)]
pub struct Referrer {
    /// The image (or index child) it refers to.
    pub subject: String,
    /// As an index lists it, described from the manifest itself (its artifact type is the
    /// manifest's `artifactType`, else its config's media type).
    pub descriptor: Descriptor,
    /// The manifest, byte for byte.
    pub manifest: Image,
    /// Its config and layers.
    pub blobs: Vec<Blob>,
}

/// A cosign legacy tag (`sha256-<hex>.sig`, `.att`, `.sbom`) the source holds.
#[derive(Clone, Debug)]
pub struct LegacyTag {
    /// The image (or index child) whose digest the tag names.
    pub subject: String,
    pub tag: String,
    pub manifest: Image,
    pub blobs: Vec<Blob>,
    /// Where the tag points in the target, if anywhere.
    pub in_target: Option<String>,
}

/// What discovery found, before any write: the source's referrers (every one, whatever
/// the policy selects) and legacy tags, and the referrers the target lists already.
#[derive(Clone, Debug, Default)]
pub struct Referrers {
    pub found: Vec<Referrer>,
    pub in_target: BTreeSet<String>,
    pub legacy: Vec<LegacyTag>,
}

/// What to write, decided from the discovery alone.
#[derive(Debug, Default)]
pub struct ReferrerPlan<'a> {
    pub copy: Vec<&'a Referrer>,
    /// Selected, and listed in the target already.
    pub present: Vec<&'a Referrer>,
    pub legacy: Vec<&'a LegacyTag>,
}

impl ReferrerPlan<'_> {
    pub fn writes(&self) -> bool {
        !self.copy.is_empty() || !self.legacy.is_empty()
    }
}

/// What was copied, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReferrerStats {
    /// Referrers copied, per artifact type.
    pub copied: BTreeMap<String, usize>,
    pub present: usize,
    pub legacy: Vec<String>,
}

impl ReferrerStats {
    pub fn is_empty(&self) -> bool {
        self.copied.is_empty() && self.present == 0 && self.legacy.is_empty()
    }
}

/// Reads the referrers of `subjects` (the image, then an index's children) in the source
/// and in the target, each source referrer's manifest, and every subject's legacy tags on
/// both sides. A referrer that names itself, another subject, or one of the subjects as its
/// own digest is skipped with a warning; referrers of referrers are not followed.
pub async fn discover(
    source: Store<'_>,
    target: Store<'_>,
    subjects: &[String],
    policy: &ReferrerPolicy,
) -> Result<Referrers, PromoteError> {
    if *policy == ReferrerPolicy::Off || subjects.is_empty() {
        return Ok(Referrers::default());
    }
    let filter: &[String] = match policy {
        ReferrerPolicy::Only(types) if types.len() <= oci::ecr::MAX_FILTER_TYPES => types,
        _ => &[],
    };
    let (legacy_subjects, legacy_tags): (Vec<&String>, Vec<String>) = subjects
        .iter()
        .flat_map(|s| oci::legacy_tags(s).into_iter().map(move |t| (s, t)))
        .unzip();
    let (listed, in_target, legacy_source, legacy_target) = futures::try_join!(
        async {
            bounded(
                subjects
                    .iter()
                    .map(|s| source_listing(source, s, filter))
                    .collect(),
            )
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
        },
        async {
            bounded(
                subjects
                    .iter()
                    .map(|s| target.list_referrers(s, &[]))
                    .collect(),
            )
            .await
            .into_iter()
            .map(|r| new_repository_is_empty(r, Vec::new))
            .collect::<Result<Vec<_>, _>>()
        },
        source.get_tags(&legacy_tags),
        async {
            new_repository_is_empty(target.get_tags(&legacy_tags).await, || {
                vec![None; legacy_tags.len()]
            })
        },
    )?;

    let listed = candidates(subjects, listed);
    if listed.len() > oci::MAX_REFERRERS {
        return Err(ReferrerError::TooMany {
            subject: subjects[0].clone(),
            place: format!(
                "{} (for the image and its {} child manifests together)",
                source.name(),
                subjects.len() - 1
            ),
            count: listed.len(),
        }
        .into());
    }
    let digests: Vec<String> = listed.iter().map(|(_, d)| d.digest.clone()).collect();
    let (manifests, missing) = if digests.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        source.get_many(&digests).await?
    };
    for digest in &missing {
        tracing::warn!(%digest, "a listed referrer is not in the source; skipped");
    }
    let mut found = Vec::new();
    for (subject, listed) in listed {
        let Some(manifest) = manifests.iter().find(|m| m.digest == listed.digest) else {
            continue;
        };
        if let Some(referrer) = referrer_of(subject, manifest) {
            found.push(referrer);
        }
    }
    let legacy = legacy_subjects
        .into_iter()
        .zip(legacy_tags)
        .zip(legacy_source)
        .zip(legacy_target)
        .filter_map(|(((subject, tag), image), in_target)| {
            let image = image?;
            let in_target = in_target.map(|t| t.digest);
            let blobs = image_blobs(&image)?;
            Some(LegacyTag {
                subject: subject.clone(),
                tag,
                manifest: image,
                blobs,
                in_target,
            })
        })
        .collect();
    Ok(Referrers {
        found,
        in_target: in_target.into_iter().flatten().map(|d| d.digest).collect(),
        legacy,
    })
}

/// The source's referrers of `subject`; a tag-schema tag holding something other than an
/// index (a registry that answers it with the subject itself) lists none.
async fn source_listing(
    source: Store<'_>,
    subject: &str,
    filter: &[String],
) -> Result<Vec<Descriptor>, PromoteError> {
    match source.list_referrers(subject, filter).await {
        Err(PromoteError::Referrers(ReferrerError::NotAnIndex { tag, why, .. })) => {
            tracing::warn!(%tag, %why, "the source's referrers tag is not a referrers index; no referrers read from it");
            Ok(Vec::new())
        }
        other => other,
    }
}

/// A target repository a registry does not know yet (it is created by the first push)
/// holds nothing.
fn new_repository_is_empty<T>(
    result: Result<T, PromoteError>,
    empty: impl FnOnce() -> T,
) -> Result<T, PromoteError> {
    use shared::registry::RegistryError::RepositoryMissing;
    match result {
        Err(PromoteError::Registry(RepositoryMissing { .. }))
        | Err(PromoteError::Referrers(ReferrerError::Registry(RepositoryMissing { .. }))) => {
            Ok(empty())
        }
        other => other,
    }
}

/// The listed referrers worth reading: each digest once, none that is a subject itself.
fn candidates(subjects: &[String], listed: Vec<Vec<Descriptor>>) -> Vec<(String, Descriptor)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (subject, descriptors) in subjects.iter().zip(listed) {
        for d in descriptors {
            if subjects.contains(&d.digest) {
                tracing::warn!(digest = %d.digest, %subject, "a referrer that is one of the image's own manifests; skipped");
                continue;
            }
            if seen.insert(d.digest.clone()) {
                out.push((subject.clone(), d));
            }
        }
    }
    out
}

/// `manifest` as a referrer of `subject`, when it names that subject and is an image
/// manifest (its blobs can be copied); otherwise skipped with a warning.
fn referrer_of(subject: String, manifest: &Image) -> Option<Referrer> {
    let named = oci::subject_of(&manifest.bytes);
    if named.as_deref() != Some(subject.as_str()) {
        tracing::warn!(digest = %manifest.digest, %subject, named = ?named, "a listed referrer names another subject; skipped");
        return None;
    }
    let blobs = image_blobs(manifest)?;
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| shared::registry::OCI_MANIFEST.to_string());
    Some(Referrer {
        descriptor: oci::describe(&manifest.digest, &media_type, &manifest.bytes),
        subject,
        manifest: manifest.clone(),
        blobs,
    })
}

/// The blobs of an image manifest; `None` (with a warning) for anything else.
fn image_blobs(image: &Image) -> Option<Vec<Blob>> {
    let parsed = image
        .text()
        .ok()
        .and_then(|text| manifest::parse(text, image.media_type.as_deref()).ok());
    match parsed {
        Some(m) if !m.media_type.is_index() => Some(m.registry_blobs().cloned().collect()),
        _ => {
            tracing::warn!(digest = %image.digest, "a referrer that is not an image manifest; not copied");
            None
        }
    }
}

/// What to copy: the referrers the policy selects that the target does not list, and the
/// legacy tags not in place there. A legacy tag on another image under an immutable rule
/// is refused before anything is written.
pub fn decide<'a>(
    found: &'a Referrers,
    policy: &ReferrerPolicy,
    mutability: &Mutability,
    repository: &str,
) -> Result<ReferrerPlan<'a>, PromoteError> {
    let mut plan = ReferrerPlan::default();
    if *policy == ReferrerPolicy::Off {
        return Ok(plan);
    }
    for r in &found.found {
        if !policy.copies(r.descriptor.artifact_type.as_deref()) {
            continue;
        }
        if found.in_target.contains(&r.descriptor.digest) {
            plan.present.push(r);
        } else {
            plan.copy.push(r);
        }
    }
    for legacy in &found.legacy {
        match &legacy.in_target {
            Some(d) if *d == legacy.manifest.digest => {}
            Some(d) if mutability.is_immutable(&legacy.tag) => {
                return Err(PromoteError::ReferrerTagImmutable {
                    tag: legacy.tag.clone(),
                    repository: repository.to_string(),
                    current: d.clone(),
                    wanted: legacy.manifest.digest.clone(),
                });
            }
            _ => plan.legacy.push(legacy),
        }
    }
    Ok(plan)
}

/// Writes the plan into `target`: the image by digest when `put_image` (the target does
/// not hold it yet), the referrers' and legacy tags' blobs, the referrers by digest (each
/// subject's tag-schema index updated where the target does not index them), then the
/// legacy tags.
pub async fn copy(
    source: Store<'_>,
    target: Store<'_>,
    plan: &ReferrerPlan<'_>,
    image: Option<(&Image, &str)>,
) -> Result<ReferrerStats, PromoteError> {
    let mut stats = ReferrerStats {
        present: plan.present.len(),
        ..ReferrerStats::default()
    };
    if !plan.writes() {
        return Ok(stats);
    }
    if let Some((image, media_type)) = image {
        target.put(image, media_type, None).await?;
    }
    let blobs: Vec<Blob> = plan
        .copy
        .iter()
        .flat_map(|r| r.blobs.iter().cloned())
        .chain(plan.legacy.iter().flat_map(|l| l.blobs.iter().cloned()))
        .collect();
    copy_layers::copy_blobs(source, target, &blobs).await?;
    let mut subjects: Vec<&str> = plan.copy.iter().map(|r| r.subject.as_str()).collect();
    subjects.dedup();
    for subject in subjects {
        let of_subject: Vec<&Referrer> = plan
            .copy
            .iter()
            .copied()
            .filter(|r| r.subject == subject)
            .collect();
        target.put_referrers(subject, &of_subject).await?;
    }
    for r in &plan.copy {
        let kind = r
            .descriptor
            .artifact_type
            .clone()
            .unwrap_or_else(|| "unknown type".to_string());
        *stats.copied.entry(kind).or_default() += 1;
    }
    for legacy in &plan.legacy {
        let media_type = legacy
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| shared::registry::OCI_MANIFEST.to_string());
        target
            .put(&legacy.manifest, &media_type, Some(&legacy.tag))
            .await?;
        stats.legacy.push(legacy.tag.clone());
    }
    Ok(stats)
}

/// ` Referrers: 2 copied (1 application/spdx+json, 1 ...); 1 already there. Copied cosign
/// tag sha256-1a2b….sig.`, or nothing when there were none.
pub fn summary(stats: &ReferrerStats) -> String {
    if stats.is_empty() {
        return String::new();
    }
    let mut text = String::new();
    let copied: usize = stats.copied.values().sum();
    if copied > 0 || stats.present > 0 {
        let types: Vec<String> = stats
            .copied
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        text.push_str(&format!(" Referrers: {copied} copied"));
        if !types.is_empty() {
            text.push_str(&format!(" ({})", types.join(", ")));
        }
        if stats.present > 0 {
            text.push_str(&format!("; {} already there", stats.present));
        }
        text.push('.');
    }
    text.push_str(&legacy_summary(&stats.legacy));
    text
}

/// Legacy tags named in the summary; more are counted.
const LEGACY_NAMED: usize = 3;

/// ` Copied cosign tag sha256-1a2b….sig.`; past three tags (an index's children each
/// signed), the first three and a count of the rest.
fn legacy_summary(tags: &[String]) -> String {
    let named: Vec<String> = tags
        .iter()
        .take(LEGACY_NAMED)
        .map(|t| legacy_label(t))
        .collect();
    match tags.len() {
        0 => String::new(),
        1 => format!(" Copied cosign tag {}.", named[0]),
        n if n <= LEGACY_NAMED => format!(" Copied cosign tags {}.", named.join(", ")),
        n => format!(
            " Copied {n} cosign tags ({} and {} more).",
            named.join(", "),
            n - LEGACY_NAMED
        ),
    }
}

/// `sha256-1a2b3c4d5e6f….sig`: a legacy tag, its digest shortened as elsewhere.
fn legacy_label(tag: &str) -> String {
    const KEPT: usize = "sha256-".len() + 12;
    match tag.rsplit_once('.') {
        Some((base, suffix)) if base.len() > KEPT && base.is_ascii() => {
            format!("{}….{suffix}", &base[..KEPT])
        }
        _ => tag.to_string(),
    }
}

#[cfg(test)]
mod tests;

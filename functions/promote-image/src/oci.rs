//! Promotion where a side is a registry other than ECR (Docker Hub, GHCR, Quay, Harbor,
//! self-hosted), either direction with ECR or between two such registries.
//!
//! Round 1 reads the source manifest and where each target tag points, at once. Then
//! either nothing (every tag in place: one round trip), or the writes: on the same
//! repository the tags are put with the same bytes and media type (two round trips); on
//! another, the blobs the target lacks are found, mounted or streamed, an index's child
//! manifests are put, then the tags.

use std::collections::BTreeSet;

use futures::future::try_join_all;
use futures::stream::{self, StreamExt};
use shared::Success;
use shared::registry::Copied;

use crate::config::GatePolicy;
use crate::date::Date;
use crate::ecr::{self, Put, Repo};
use crate::error::PromoteError;
use crate::manifest::{self, Blob, Manifest};
use crate::promote::{bounded, tag_writes};
use crate::reference::{Reference, short_digest};
use crate::scan::{self, GateReport, ScanResult};
use crate::side::{self, Image, Rules, Side};
use crate::summary::{CopyStats, Promotion};
use crate::tags::{self, Current, TagPlan};

/// A promotion with a registry on either side.
pub struct Request<'a> {
    /// The source repository as named: `docker.io/user/app`.
    pub source_label: &'a str,
    pub reference: &'a Reference,
    pub tags: &'a [String],
    pub allow_moving_tags: bool,
    /// Only with an ECR source (configuration refuses it otherwise).
    pub gate: Option<(&'a GatePolicy, Repo<'a>)>,
    pub today: Date,
}

/// What round 1 found.
pub struct Facts {
    pub image: Image,
    pub manifest: Manifest,
    pub current: Vec<Option<String>>,
    pub rules: Rules,
}

/// What to do, decided from the facts.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub tags: Vec<(String, TagPlan)>,
    /// Blobs and child manifests must be copied first.
    pub copy: bool,
}

pub async fn promote(
    source: Side<'_>,
    target: Side<'_>,
    req: &Request<'_>,
) -> Result<Success, PromoteError> {
    futures::try_join!(
        source.authenticate(false, &target),
        target.authenticate(true, &source)
    )?;
    let facts = gather(source, target, req).await?;
    let same_repository = source.same_as(&target);
    let plan = decide(&facts, req, target.label(), same_repository)?;
    let gate = match req.gate {
        Some((policy, repo)) => Some(run_gate(policy, repo, &facts, req).await?),
        None => None,
    };
    let mut copied = None;
    let mut plans = plan.tags.clone();
    if plan.tags.iter().any(|(_, p)| p.writes()) {
        if plan.copy {
            copied = Some(copy_into(source, target, &facts).await?);
        }
        let to_write: Vec<String> = plan
            .tags
            .iter()
            .filter(|(_, p)| p.writes())
            .map(|(t, _)| t.clone())
            .collect();
        let results = bounded(
            to_write
                .iter()
                .map(|tag| target.put(&facts.image, Some(tag)))
                .collect(),
        )
        .await;
        for (tag, put) in tag_writes(to_write.into_iter().zip(results).collect())? {
            if put == Put::AlreadyExists {
                // ECR said the tag exists: fine when it now points at this image.
                let now = target.tag_digest(&tag).await?;
                if now.as_deref() != Some(facts.image.digest.as_str()) {
                    return Err(PromoteError::TagMoved {
                        tag,
                        repository: target.label().to_string(),
                        now,
                    });
                }
                if let Some((_, p)) = plans.iter_mut().find(|(t, _)| *t == tag) {
                    *p = TagPlan::InPlace;
                }
            }
        }
    }
    Ok(success(
        req,
        target,
        &facts,
        &plans,
        gate.as_ref(),
        copied.as_ref(),
        same_repository,
    ))
}

/// Round 1: the source manifest, where each target tag points, and the target's rules.
async fn gather(
    source: Side<'_>,
    target: Side<'_>,
    req: &Request<'_>,
) -> Result<Facts, PromoteError> {
    let (image, current, rules) = futures::join!(
        source.get(req.reference),
        bounded(req.tags.iter().map(|t| target.tag_digest(t)).collect()),
        target.rules(),
    );
    let image = image?.ok_or_else(|| missing(source, req))?;
    // The target's own errors first: a missing ECR repository fails every look-up there.
    let rules = rules.map_err(|e| {
        if e.code() == Some("RepositoryNotFoundException") {
            PromoteError::TargetRepositoryMissing {
                repository: target.label().to_string(),
                place: "ECR".to_string(),
            }
        } else {
            e.into()
        }
    })?;
    let current = current.into_iter().collect::<Result<Vec<_>, _>>()?;
    let manifest = manifest::parse(image.text()?, Some(&image.media_type)).map_err(|source| {
        PromoteError::Manifest {
            image: source_name(req),
            digest: image.digest.clone(),
            source,
        }
    })?;
    Ok(Facts {
        image,
        manifest,
        current,
        rules,
    })
}

fn missing(source: Side<'_>, req: &Request<'_>) -> PromoteError {
    match source {
        Side::Registry {
            client, repository, ..
        } => PromoteError::RegistryImageMissing {
            registry: client.host().to_string(),
            repository: repository.to_string(),
            reference: side::reference_str(req.reference),
            field: match req.reference {
                Reference::Tag(_) => "the tag in source.imageUri or source.tag",
                Reference::Digest(_) => "the digest in source.imageUri or source.digest",
            },
        },
        Side::Ecr { repo, .. } => PromoteError::SourceImageMissing {
            repository: repo.name.to_string(),
            place: source.label().to_string(),
            reference: req.reference.clone(),
        },
    }
}

/// Decides what each tag needs and whether blobs must be copied first.
pub fn decide(
    facts: &Facts,
    req: &Request<'_>,
    target_label: &str,
    same_repository: bool,
) -> Result<Plan, PromoteError> {
    let digest = facts.image.digest.as_str();
    let currents: Vec<Current> = facts
        .current
        .iter()
        .map(|c| c.clone().map_or(Current::Absent, Current::On))
        .collect();
    let tags = tags::decide_all(
        req.tags.iter().map(String::as_str).zip(currents.iter()),
        digest,
        &facts.rules.mutability,
        req.allow_moving_tags,
    )
    .map_err(|conflicts| PromoteError::TagConflict {
        conflicts,
        repository: target_label.to_string(),
        mutability: facts.rules.mutability.clone(),
        digest: digest.to_string(),
    })?;
    let writes = tags.iter().any(|(_, p)| p.writes());
    Ok(Plan {
        copy: writes && !same_repository,
        tags,
    })
}

/// The scan gate over an ECR source: the image, or each runnable child of an index.
async fn run_gate(
    policy: &GatePolicy,
    repo: Repo<'_>,
    facts: &Facts,
    req: &Request<'_>,
) -> Result<GateReport, PromoteError> {
    let digest = &facts.image.digest;
    let targets: Vec<(String, String)> = if facts.manifest.media_type.is_index() {
        let runnable: Vec<(String, String)> = facts
            .manifest
            .children()
            .iter()
            .filter(|c| !c.attestation)
            .map(|c| (c.label(), c.digest.clone()))
            .collect();
        if runnable.is_empty() {
            return Err(PromoteError::NothingToScan {
                image: source_name(req),
                digest: digest.clone(),
            });
        }
        runnable
    } else {
        vec![("image".to_string(), digest.clone())]
    };
    let results = bounded(
        targets
            .iter()
            .map(|(_, d)| {
                let reference = Reference::Digest(d.clone());
                async move { ecr::scan(repo, &reference).await }
            })
            .collect(),
    )
    .await;
    let mut scans: Vec<(String, ScanResult)> = Vec::new();
    for ((label, _), result) in targets.into_iter().zip(results) {
        scans.push((label, result?.0));
    }
    let report = scan::evaluate_all(policy, &scans, req.today);
    if !report.passed() {
        return Err(PromoteError::ScanGate {
            image: source_name(req),
            digest: digest.clone(),
            verdict: report.text(),
        });
    }
    Ok(report)
}

/// Copies what the target lacks: an index's children are read first (all must exist),
/// then the blobs the target lacks are mounted or streamed, then the children are put.
async fn copy_into(
    source: Side<'_>,
    target: Side<'_>,
    facts: &Facts,
) -> Result<CopyStats, PromoteError> {
    let children = facts.manifest.children();
    let fetched = try_join_all(children.iter().map(|c| {
        let reference = Reference::Digest(c.digest.clone());
        async move { source.get(&reference).await }
    }))
    .await?;
    let mut child_images = Vec::with_capacity(children.len());
    let mut missing = Vec::new();
    let mut blobs: Vec<Blob> = facts.manifest.registry_blobs().cloned().collect();
    for (child, image) in children.iter().zip(fetched) {
        let Some(image) = image else {
            missing.push(format!("{} {}", child.label(), child.digest));
            continue;
        };
        let parsed = manifest::parse(image.text()?, Some(&image.media_type)).map_err(|source| {
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
        child_images.push(image);
    }
    if !missing.is_empty() {
        return Err(PromoteError::IncompleteIndex {
            image: source.label().to_string(),
            media_type: facts.manifest.media_type,
            digest: facts.image.digest.clone(),
            repository: source.label().to_string(),
            missing,
        });
    }
    let mut seen = BTreeSet::new();
    let distinct: Vec<&Blob> = blobs
        .iter()
        .filter(|b| !b.foreign && seen.insert(b.digest.clone()))
        .collect();
    let lacking = target.missing(&distinct).await?;
    let copies: Vec<_> = lacking
        .iter()
        .map(|b| side::copy_blob(source, target, b))
        .collect();
    let moved: Vec<Copied> = stream::iter(copies)
        .buffer_unordered(side::CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    try_join_all(child_images.iter().map(|c| target.put(c, None))).await?;
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
        manifests_put: child_images.len(),
    })
}

fn success(
    req: &Request<'_>,
    target: Side<'_>,
    facts: &Facts,
    plans: &[(String, TagPlan)],
    gate: Option<&GateReport>,
    copied: Option<&CopyStats>,
    same_repository: bool,
) -> Success {
    let digest = facts.image.digest.as_str();
    let uri = match &facts.rules.uri {
        Some(repo_uri) => format!("{repo_uri}@{digest}"),
        None => format!("{}@{digest}", target.label()),
    };
    let mut tags_now: Vec<String> = req.tags.to_vec();
    if let Reference::Tag(tag) = req.reference
        && same_repository
        && !tags_now.contains(tag)
    {
        tags_now.push(tag.clone());
    }
    let description = facts.manifest.describe();
    let source = source_name(req);
    Promotion {
        source: &source,
        digest,
        manifest: &description,
        target: target.label(),
        tags: plans,
        gate,
        copy: copied,
    }
    .success(&uri, &tags_now)
}

/// `docker.io/user/app:v1`, or `...@sha256:9f86d081884c` for a digest.
fn source_name(req: &Request<'_>) -> String {
    match req.reference {
        Reference::Tag(t) => format!("{}:{t}", req.source_label),
        Reference::Digest(d) => format!("{}@{}", req.source_label, short_digest(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::{digest, docker_manifest};
    use crate::tags::Mutability;

    fn facts(current: &[Option<&str>], mutability: Mutability) -> Facts {
        let body = docker_manifest(&[1, 2]);
        Facts {
            manifest: manifest::parse(&body, None).unwrap(),
            image: Image {
                digest: digest(9),
                media_type: shared::registry::DOCKER_MANIFEST.to_string(),
                bytes: body.into(),
            },
            current: current.iter().map(|c| c.map(str::to_owned)).collect(),
            rules: Rules {
                mutability,
                uri: None,
            },
        }
    }

    #[test]
    fn decides_tags_and_copies_from_the_facts() {
        let tags = ["staging".to_string(), "prod".to_string()];
        let reference = Reference::Tag("sha-1".into());
        let (nine, other) = (digest(9), digest(8));
        let put = |t: &str| (t.to_string(), TagPlan::Put);
        let in_place = |t: &str| (t.to_string(), TagPlan::InPlace);
        // (case, where the tags point, mutability, moving allowed, same repository,
        //  Ok((plans, copy first)) or Err(error_type))
        type Row<'a> = (
            &'a str,
            Vec<Option<&'a str>>,
            Mutability,
            bool,
            bool,
            Result<(Vec<(String, TagPlan)>, bool), &'a str>,
        );
        let rows: Vec<Row> = vec![
            (
                "retag on the same repository: no copy",
                vec![None, None],
                Mutability::Mutable,
                true,
                true,
                Ok((vec![put("staging"), put("prod")], false)),
            ),
            (
                "into another registry: copy first",
                vec![None, Some(&nine)],
                Mutability::Mutable,
                true,
                false,
                Ok((vec![put("staging"), in_place("prod")], true)),
            ),
            (
                "everything in place: no copy, no writes",
                vec![Some(&nine), Some(&nine)],
                Mutability::Mutable,
                true,
                false,
                Ok((vec![in_place("staging"), in_place("prod")], false)),
            ),
            (
                "a tag elsewhere that may not move",
                vec![Some(&other), None],
                Mutability::Mutable,
                false,
                true,
                Err("TagConflict"),
            ),
            (
                "an immutable ECR target tag elsewhere",
                vec![Some(&other), None],
                Mutability::Immutable,
                true,
                false,
                Err("TagConflict"),
            ),
        ];
        for (case, current, mutability, allow, same, want) in rows {
            let req = Request {
                source_label: "docker.io/acme/web",
                reference: &reference,
                tags: &tags,
                allow_moving_tags: allow,
                gate: None,
                today: Date::today(),
            };
            let got = decide(&facts(&current, mutability), &req, "target", same)
                .map(|p| (p.tags, p.copy))
                .map_err(|e| shared::Failure::error_type(&e));
            assert_eq!(got, want, "{case}");
        }
    }
}

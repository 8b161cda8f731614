//! One promotion, from look-ups to writes. AWS calls that do not depend on each other
//! run concurrently, so a same-repository promotion takes two sequential round trips
//! (look-ups, then writes), one when every tag is already in place, and one more for
//! an index (its children are checked before anything is written).

use aws_sdk_ecr::Client;
use futures::future::try_join_all;
use futures::{FutureExt, TryFutureExt};
use shared::Success;
use shared::error::AwsError;

use crate::config::GatePolicy;
use crate::copy::{self, Downloader};
use crate::date::Date;
use crate::ecr::{self, Fetched, Put, Repo, RepoInfo, TagTarget};
use crate::error::PromoteError;
use crate::manifest::{self, Child, Manifest};
use crate::reference::{ImageRef, Reference, registry_host, short_digest};
use crate::scan::{self, GateReport, ScanResult};
use crate::summary::{self, CopyStats, Promotion};
use crate::tags::{self, Current, TagPlan};

/// The clients for each side; the same client when both sides are in one place.
pub struct Clients<'a> {
    pub source: &'a Client,
    pub target: &'a Client,
    pub downloader: &'a Downloader,
}

/// A promotion, fully resolved.
pub struct Request<'a> {
    pub source: &'a ImageRef,
    /// Where the source was read from, when an artifact named it.
    pub origin: Option<&'a str>,
    pub source_region: &'a str,
    pub target_repository: &'a str,
    pub target_registry_id: Option<&'a str>,
    pub target_region: &'a str,
    pub tags: &'a [String],
    pub allow_moving_tags: bool,
    pub gate: Option<&'a GatePolicy>,
    pub today: Date,
}

pub async fn promote(clients: &Clients<'_>, req: &Request<'_>) -> Result<Success, PromoteError> {
    let src = Repo {
        client: clients.source,
        registry_id: req.source.registry_id.as_deref(),
        name: &req.source.repository,
    };
    let dst = Repo {
        client: clients.target,
        registry_id: req.target_registry_id,
        name: req.target_repository,
    };

    // Round 1: the source manifest, where each target tag points, the target's rules,
    // and the scan result, all at once. All are awaited so that the error reported is
    // always the source's first (same-repository promotion fails both sides at once).
    let (image, first_scan, current, info) = futures::join!(
        ecr::get_image(src, &req.source.reference).map_err(|e| source_error(e, req)),
        async {
            match req.gate {
                Some(_) => ecr::scan(src, &req.source.reference).await.map(Some),
                None => Ok(None),
            }
        }
        .map_err(|e| source_error(e, req)),
        try_join_all(req.tags.iter().map(|t| ecr::tag_target(dst, t)))
            .map_err(|e| target_error(e, req)),
        ecr::repository(dst).map_err(|e| target_error(e, req)),
    );
    let image = image?.ok_or_else(|| not_found(req))?;
    let manifest = manifest::parse(&image.manifest, image.media_type.as_deref()).map_err(|e| {
        PromoteError::Manifest(format!(
            "{} ({}): {e}",
            req.source,
            short_digest(&image.digest)
        ))
    })?;
    // An index is gated on its children's scans (round 2); its own scan result, or an
    // error asking for one, does not count.
    let first_scan = if manifest.media_type.is_index() {
        None
    } else {
        first_scan?
    };
    let (current, info) = (current?, info?);
    let digest = image.digest.as_str();
    if let Some((_, Some(scanned))) = &first_scan
        && scanned != digest
        && !manifest.media_type.is_index()
    {
        return Err(PromoteError::Raced(format!(
            "{} moved from {} to {} while it was being promoted; run the stage again",
            req.source,
            short_digest(digest),
            short_digest(scanned)
        )));
    }

    let currents: Vec<Current> = current
        .iter()
        .map(|c| {
            c.as_ref()
                .map_or(Current::Absent, |t| Current::On(t.digest.clone()))
        })
        .collect();
    let mut plans = tags::decide_all(
        req.tags.iter().map(String::as_str).zip(currents.iter()),
        digest,
        &info.mutability,
        req.allow_moving_tags,
    )
    .map_err(|c| {
        PromoteError::TagConflict(tags::explain(
            &c,
            req.target_repository,
            &info.mutability,
            digest,
        ))
    })?;
    let writes = plans.iter().any(|(_, p)| p.writes());
    let same_repository = image.registry_id == info.registry_id
        && req.source_region == req.target_region
        && req.source.repository == req.target_repository;

    // Round 2, for an index only: its children exist (before anything is written), and
    // each runnable child's scan result.
    let children = manifest.children();
    let runnable: Vec<&Child> = children.iter().filter(|c| !c.attestation).collect();
    let child_digests: Vec<String> = children.iter().map(|c| c.digest.clone()).collect();
    let runnable_refs: Vec<Reference> = runnable
        .iter()
        .map(|c| Reference::Digest(c.digest.clone()))
        .collect();
    let (child_scans, (child_manifests, missing)) = futures::try_join!(
        async {
            match req.gate {
                Some(_) if manifest.media_type.is_index() => {
                    try_join_all(runnable_refs.iter().map(|r| ecr::scan(src, r))).await
                }
                _ => Ok(Vec::new()),
            }
        },
        async {
            if writes && !child_digests.is_empty() {
                ecr::get_by_digests(src, &child_digests).await
            } else {
                Ok((Vec::new(), Vec::new()))
            }
        },
    )
    .map_err(|e| source_error(e, req))?;
    if !missing.is_empty() {
        return Err(incomplete_index(req, &manifest, digest, &missing));
    }

    let gate = match req.gate {
        Some(_) if manifest.media_type.is_index() && runnable.is_empty() => {
            return Err(PromoteError::ScanGate(format!(
                "{} ({}) was not promoted: the index holds no runnable image to check (only attestations), so the scan gate cannot pass",
                req.source,
                short_digest(digest)
            )));
        }
        Some(policy) => {
            let scans: Vec<(String, ScanResult)> = if manifest.media_type.is_index() {
                runnable
                    .iter()
                    .zip(child_scans)
                    .map(|(c, (scan, _))| (c.label(), scan))
                    .collect()
            } else {
                vec![(
                    "image".to_string(),
                    first_scan.map(|(s, _)| s).unwrap_or_default(),
                )]
            };
            let report = scan::evaluate_all(policy, &scans, req.today);
            if !report.passed() {
                return Err(PromoteError::ScanGate(format!(
                    "{} ({}) was not promoted. {}. Fix the findings and rebuild, or add an allow-list entry \
                     (scanGate.allow: [{{\"id\": \"CVE-...\", \"until\": \"YYYY-MM-DD\"}}]) for accepted ones",
                    req.source,
                    short_digest(digest),
                    report.text()
                )));
            }
            Some(report)
        }
        None => None,
    };

    // Writes: layers and child manifests first when the target is another repository,
    // then every tag at once.
    let mut copied = None;
    if writes {
        if !same_repository {
            copied = Some(copy_into_target(clients, src, dst, &manifest, &child_manifests).await?);
        }
        let puts = try_join_all(plans.iter().filter(|(_, p)| p.writes()).map(|(tag, _)| {
            ecr::put_image(
                dst,
                &image.manifest,
                manifest.media_type.as_str(),
                digest,
                Some(tag),
            )
            .map(move |r| r.map(|put| (tag.clone(), put)))
        }))
        .await?;
        for (tag, put) in puts {
            if put == Put::AlreadyExists {
                confirm_race(dst, &tag, digest, &info, req).await?;
                if let Some((_, plan)) = plans.iter_mut().find(|(t, _)| *t == tag) {
                    *plan = TagPlan::InPlace;
                }
            }
        }
    }

    Ok(success(
        req,
        &image,
        &manifest,
        &info,
        &current,
        &plans,
        gate.as_ref(),
        copied.as_ref(),
        same_repository,
    ))
}

/// Copies blobs and child manifests the target lacks.
async fn copy_into_target(
    clients: &Clients<'_>,
    src: Repo<'_>,
    dst: Repo<'_>,
    manifest: &Manifest,
    children: &[Fetched],
) -> Result<CopyStats, PromoteError> {
    let mut blobs: Vec<manifest::Blob> = manifest.registry_blobs().cloned().collect();
    let mut child_types = Vec::with_capacity(children.len());
    for child in children {
        let parsed =
            manifest::parse(&child.manifest, child.media_type.as_deref()).map_err(|e| {
                PromoteError::Manifest(format!(
                    "child manifest {}: {e}",
                    short_digest(&child.digest)
                ))
            })?;
        if parsed.media_type.is_index() {
            return Err(PromoteError::Manifest(format!(
                "child manifest {} is itself an index; nested indexes are not supported",
                short_digest(&child.digest)
            )));
        }
        blobs.extend(parsed.registry_blobs().cloned());
        child_types.push(parsed.media_type);
    }
    let mut stats = copy::copy_blobs(src, dst, clients.downloader, &blobs).await?;
    try_join_all(
        children
            .iter()
            .zip(&child_types)
            .map(|(child, media_type)| {
                ecr::put_image(
                    dst,
                    &child.manifest,
                    media_type.as_str(),
                    &child.digest,
                    None,
                )
            }),
    )
    .await?;
    stats.manifests_put = children.len();
    Ok(stats)
}

/// PutImage said the tag or image exists: success if the tag now points at our digest.
async fn confirm_race(
    dst: Repo<'_>,
    tag: &str,
    digest: &str,
    info: &RepoInfo,
    req: &Request<'_>,
) -> Result<(), PromoteError> {
    let now = ecr::tag_target(dst, tag).await?;
    match now {
        Some(t) if t.digest == digest => Ok(()),
        Some(t) if info.mutability.is_immutable(tag) => {
            Err(PromoteError::TagConflict(tags::explain(
                &[tags::Conflict::Immutable {
                    tag: tag.to_string(),
                    current: t.digest,
                }],
                req.target_repository,
                &info.mutability,
                digest,
            )))
        }
        other => Err(PromoteError::Raced(format!(
            "tag `{tag}` in repository {} changed while it was being promoted (it now points at {}); run the stage again",
            req.target_repository,
            other.map_or_else(
                || "nothing".to_string(),
                |t| short_digest(&t.digest).to_string()
            )
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn success(
    req: &Request<'_>,
    image: &Fetched,
    manifest: &Manifest,
    info: &RepoInfo,
    current: &[Option<TagTarget>],
    plans: &[(String, TagPlan)],
    gate: Option<&GateReport>,
    copied: Option<&CopyStats>,
    same_repository: bool,
) -> Success {
    let digest = image.digest.as_str();
    let registry = info
        .registry_id
        .as_deref()
        .or(req.target_registry_id)
        .or(image.registry_id.as_deref());
    let uri = match (&info.uri, registry) {
        (Some(repo_uri), _) => format!("{repo_uri}@{digest}"),
        (None, Some(registry)) => {
            format!(
                "{}/{}@{digest}",
                registry_host(registry, req.target_region),
                req.target_repository
            )
        }
        (None, None) => format!("{}@{digest}", req.target_repository),
    };
    // Every tag known to be on the image in the target: the promoted ones first.
    let mut tags_now: Vec<String> = req.tags.to_vec();
    for target in current.iter().flatten().filter(|t| t.digest == digest) {
        for tag in &target.tags {
            if !tags_now.contains(tag) {
                tags_now.push(tag.clone());
            }
        }
    }
    if same_repository
        && let Reference::Tag(tag) = &req.source.reference
        && !tags_now.contains(tag)
    {
        tags_now.push(tag.clone());
    }
    let target_label = if same_repository
        || (info.registry_id == image.registry_id && req.source_region == req.target_region)
    {
        req.target_repository.to_string()
    } else {
        format!(
            "{}/{}/{}",
            registry.unwrap_or("?"),
            req.target_region,
            req.target_repository
        )
    };
    let source_label = match &req.source.reference {
        Reference::Tag(_) => req.source.to_string(),
        Reference::Digest(d) => format!("{}@{}", req.source.repository, short_digest(d)),
    };
    let description = manifest.describe();
    let text = summary::summary(&Promotion {
        source: &source_label,
        digest,
        manifest: &description,
        target: &target_label,
        tags: plans,
        gate,
        copy: copied,
    });
    Success::new(text)
        .variable("ImageDigest", digest)
        .variable("ImageUri", uri)
        .variable("ImageTags", tags_now.join(","))
}

fn where_source(req: &Request<'_>) -> String {
    match &req.source.registry_id {
        Some(id) => format!("registry {id}, {}", req.source_region),
        None => req.source_region.to_string(),
    }
}

fn source_error(e: AwsError, req: &Request<'_>) -> PromoteError {
    if e.code() == Some("RepositoryNotFoundException") {
        let hint = match req.origin {
            Some(origin) => format!("it is named by {origin}"),
            None => "check source.repository".to_string(),
        };
        return PromoteError::SourceNotFound(format!(
            "source repository `{}` does not exist ({}); {hint}",
            req.source.repository,
            where_source(req)
        ));
    }
    e.into()
}

fn target_error(e: AwsError, req: &Request<'_>) -> PromoteError {
    if e.code() == Some("RepositoryNotFoundException") {
        return PromoteError::Config(format!(
            "target repository `{}` does not exist ({}{}); create it first (promote-image does not create \
             repositories), or fix target.repository",
            req.target_repository,
            req.target_registry_id
                .map(|id| format!("registry {id}, "))
                .unwrap_or_default(),
            req.target_region
        ));
    }
    e.into()
}

fn not_found(req: &Request<'_>) -> PromoteError {
    let what = match &req.source.reference {
        Reference::Tag(tag) => format!("no image tagged `{tag}`"),
        Reference::Digest(d) => format!("no image with digest {d}"),
    };
    match req.origin {
        Some(origin) => PromoteError::RevisionUnavailable(format!(
            "repository `{}` ({}) has {what}, the image named by {origin}. Was it pushed, or expired by a \
             lifecycle policy? Re-run the build that produces it",
            req.source.repository,
            where_source(req)
        )),
        None => PromoteError::SourceNotFound(format!(
            "repository `{}` ({}) has {what}; check source.{}",
            req.source.repository,
            where_source(req),
            if matches!(req.source.reference, Reference::Tag(_)) {
                "tag"
            } else {
                "digest"
            }
        )),
    }
}

fn incomplete_index(
    req: &Request<'_>,
    manifest: &Manifest,
    digest: &str,
    missing: &[String],
) -> PromoteError {
    let listed: Vec<String> = manifest
        .children()
        .iter()
        .filter(|c| missing.contains(&c.digest))
        .map(|c| format!("{} {}", c.label(), c.digest))
        .collect();
    PromoteError::IncompleteIndex(format!(
        "{} is an {} ({}) whose child manifests are missing from repository `{}`: {}. Promoting it would \
         publish a broken multi-platform image. Push the complete image again (e.g. docker buildx build \
         --platform ... --push) and make sure no lifecycle policy expires untagged child images",
        req.source,
        manifest.media_type,
        short_digest(digest),
        req.source.repository,
        listed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::{digest, oci_index};

    #[test]
    fn incomplete_index_names_platform_digest_and_fix() {
        let source = ImageRef {
            registry_id: None,
            region: None,
            repository: "web".into(),
            reference: Reference::Tag("v1".into()),
        };
        let req = Request {
            source: &source,
            origin: None,
            source_region: "us-east-1",
            target_repository: "web",
            target_registry_id: None,
            target_region: "us-east-1",
            tags: &[],
            allow_moving_tags: true,
            gate: None,
            today: Date::today(),
        };
        let m =
            manifest::parse(&oci_index(&[(1, "linux/amd64"), (2, "linux/arm64")]), None).unwrap();
        let e = incomplete_index(&req, &m, &digest(9), &[digest(2)]).to_string();
        assert!(
            e.contains("web:v1 is an OCI image index")
                && e.contains(&format!("linux/arm64 {}", digest(2))),
            "{e}"
        );
        assert!(!e.contains("linux/amd64") && e.contains("buildx"), "{e}");
    }
}

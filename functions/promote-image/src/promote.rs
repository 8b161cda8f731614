//! One promotion, from look-ups to writes. AWS calls that do not depend on each other
//! run concurrently, so a same-repository promotion takes two sequential round trips
//! (look-ups, then writes), one when every tag is already in place, and one more for
//! an index (its children are checked before anything is written).

use aws_sdk_ecr::Client;
use futures::stream::{self, StreamExt};
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
use crate::summary::{CopyStats, Promotion};
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

/// Blobs, scans, child manifests and tags handled at once; the rest wait their turn.
pub const CONCURRENCY: usize = 4;

/// What round 1 found: the source image, where each target tag points, the target's rules
/// and, for a gated single image, its scan.
pub struct Facts {
    pub image: Fetched,
    pub manifest: Manifest,
    /// The source's scan and the digest it was taken of; `None` for an index or no gate.
    pub scan: Option<(ScanResult, Option<String>)>,
    pub current: Vec<Option<TagTarget>>,
    pub info: RepoInfo,
}

/// What to do, decided from the facts alone.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub tags: Vec<(String, TagPlan)>,
    pub same_repository: bool,
    /// Index children whose scans the gate needs: every runnable child.
    pub scan_children: Vec<Child>,
    /// Whether the index's children must be fetched (checked, and copied when elsewhere).
    pub fetch_children: bool,
}

impl Plan {
    pub fn writes(&self) -> bool {
        self.tags.iter().any(|(_, p)| p.writes())
    }
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

    let facts = gather(src, dst, req).await?;
    let mut plan = decide(&facts, req)?;
    let digest = facts.image.digest.as_str();

    // Round 2, for an index only: its children exist (before anything is written), and
    // each runnable child's scan result, a few at a time.
    let (child_scans, (child_manifests, missing)) = futures::try_join!(
        bounded(
            plan.scan_children
                .iter()
                .map(|c| {
                    let reference = Reference::Digest(c.digest.clone());
                    async move { ecr::scan(src, &reference).await }
                })
                .collect()
        )
        .map(|results| results.into_iter().collect::<Result<Vec<_>, _>>()),
        async {
            if plan.fetch_children {
                let digests: Vec<String> = facts
                    .manifest
                    .children()
                    .iter()
                    .map(|c| c.digest.clone())
                    .collect();
                ecr::get_by_digests(src, &digests).await
            } else {
                Ok((Vec::new(), Vec::new()))
            }
        },
    )
    .map_err(|e| source_error(e, req))?;
    if !missing.is_empty() {
        return Err(incomplete_index(req, &facts.manifest, digest, &missing));
    }
    let child_scans: Vec<ScanResult> = child_scans.into_iter().map(|(scan, _)| scan).collect();
    let gate = gate(&facts, &plan, child_scans, req)?;

    // Writes: layers and child manifests first when the target is another repository,
    // then the tags, a few at a time.
    let mut copied = None;
    if plan.writes() {
        if !plan.same_repository {
            copied =
                Some(copy_into_target(clients, src, dst, &facts.manifest, &child_manifests).await?);
        }
        let written = write_tags(dst, &facts, &plan).await?;
        for (tag, put) in written {
            if put == Put::AlreadyExists {
                confirm_race(dst, &tag, digest, &facts.info, req).await?;
                if let Some((_, p)) = plan.tags.iter_mut().find(|(t, _)| *t == tag) {
                    *p = TagPlan::InPlace;
                }
            }
        }
    }

    Ok(success(
        req,
        &facts,
        &plan.tags,
        gate.as_ref(),
        copied.as_ref(),
        plan.same_repository,
    ))
}

/// Round 1: the source manifest, where each target tag points, the target's rules, and
/// the scan result, all at once. All are awaited so that the error reported is always
/// the source's first (same-repository promotion fails both sides at once).
async fn gather(src: Repo<'_>, dst: Repo<'_>, req: &Request<'_>) -> Result<Facts, PromoteError> {
    let (image, scan, current, info) = futures::join!(
        ecr::get_image(src, &req.source.reference).map_err(|e| source_error(e, req)),
        async {
            match req.gate {
                Some(_) => ecr::scan(src, &req.source.reference).await.map(Some),
                None => Ok(None),
            }
        }
        .map_err(|e| source_error(e, req)),
        bounded(req.tags.iter().map(|t| ecr::tag_target(dst, t)).collect())
            .map(|r| r.into_iter().collect::<Result<Vec<_>, _>>())
            .map_err(|e| target_error(e, req)),
        ecr::repository(dst).map_err(|e| target_error(e, req)),
    );
    let image = image?.ok_or_else(|| not_found(req))?;
    let manifest =
        manifest::parse(&image.manifest, image.media_type.as_deref()).map_err(|source| {
            PromoteError::Manifest {
                image: req.source.to_string(),
                digest: image.digest.clone(),
                source,
            }
        })?;
    // An index is gated on its children's scans (round 2); its own scan result, or an
    // error asking for one, does not count.
    let scan = if manifest.media_type.is_index() {
        None
    } else {
        scan?
    };
    Ok(Facts {
        image,
        manifest,
        scan,
        current: current?,
        info: info?,
    })
}

/// Decides from round 1's facts: whether the source moved, what each tag needs, and what
/// round 2 must look at.
pub fn decide(facts: &Facts, req: &Request<'_>) -> Result<Plan, PromoteError> {
    let digest = facts.image.digest.as_str();
    let index = facts.manifest.media_type.is_index();
    if let Some((_, Some(scanned))) = &facts.scan
        && scanned != digest
        && !index
    {
        return Err(PromoteError::SourceMoved {
            image: req.source.to_string(),
            from: digest.to_string(),
            to: scanned.clone(),
        });
    }
    let currents: Vec<Current> = facts
        .current
        .iter()
        .map(|c| {
            c.as_ref()
                .map_or(Current::Absent, |t| Current::On(t.digest.clone()))
        })
        .collect();
    let tags = tags::decide_all(
        req.tags.iter().map(String::as_str).zip(currents.iter()),
        digest,
        &facts.info.mutability,
        req.allow_moving_tags,
    )
    .map_err(|conflicts| PromoteError::TagConflict {
        conflicts,
        repository: req.target_repository.to_string(),
        mutability: facts.info.mutability.clone(),
        digest: digest.to_string(),
    })?;
    let children = facts.manifest.children();
    let scan_children: Vec<Child> = match req.gate {
        Some(_) if index => {
            let runnable: Vec<Child> = children
                .iter()
                .filter(|c| !c.attestation)
                .cloned()
                .collect();
            if runnable.is_empty() {
                return Err(PromoteError::NothingToScan {
                    image: req.source.to_string(),
                    digest: digest.to_string(),
                });
            }
            runnable
        }
        _ => Vec::new(),
    };
    let writes = tags.iter().any(|(_, p)| p.writes());
    Ok(Plan {
        same_repository: facts.image.registry_id == facts.info.registry_id
            && req.source_region == req.target_region
            && req.source.repository == req.target_repository,
        fetch_children: writes && !children.is_empty(),
        scan_children,
        tags,
    })
}

/// The scan gate's verdict over the image, or each runnable child of an index.
fn gate(
    facts: &Facts,
    plan: &Plan,
    child_scans: Vec<ScanResult>,
    req: &Request<'_>,
) -> Result<Option<GateReport>, PromoteError> {
    let Some(policy) = req.gate else {
        return Ok(None);
    };
    let scans: Vec<(String, ScanResult)> = if facts.manifest.media_type.is_index() {
        plan.scan_children
            .iter()
            .map(Child::label)
            .zip(child_scans)
            .collect()
    } else {
        vec![(
            "image".to_string(),
            facts.scan.clone().map(|(s, _)| s).unwrap_or_default(),
        )]
    };
    let report = scan::evaluate_all(policy, &scans, req.today);
    if !report.passed() {
        return Err(PromoteError::ScanGate {
            image: req.source.to_string(),
            digest: facts.image.digest.clone(),
            verdict: report.text(),
        });
    }
    Ok(Some(report))
}

/// Puts every tag the plan writes, a few at a time. Each is tried; when one fails, the
/// error says which tags were written and which were not.
async fn write_tags(
    dst: Repo<'_>,
    facts: &Facts,
    plan: &Plan,
) -> Result<Vec<(String, Put)>, PromoteError> {
    let to_write: Vec<&String> = plan
        .tags
        .iter()
        .filter(|(_, p)| p.writes())
        .map(|(tag, _)| tag)
        .collect();
    let results = bounded(
        to_write
            .iter()
            .map(|tag| {
                ecr::put_image(
                    dst,
                    &facts.image.manifest,
                    facts.manifest.media_type.as_str(),
                    &facts.image.digest,
                    Some(tag.as_str()),
                )
            })
            .collect(),
    )
    .await;
    tag_writes(to_write.into_iter().cloned().zip(results).collect())
}

/// The tags written, or an error naming those written and those not.
pub fn tag_writes<E: Into<PromoteError>>(
    results: Vec<(String, Result<Put, E>)>,
) -> Result<Vec<(String, Put)>, PromoteError> {
    let mut written = Vec::new();
    let mut not_written = Vec::new();
    let mut first = None;
    for (tag, result) in results {
        match result {
            Ok(put) => written.push((tag, put)),
            Err(e) => {
                not_written.push(tag);
                first.get_or_insert(e.into());
            }
        }
    }
    match first {
        None => Ok(written),
        Some(source) if written.is_empty() => Err(source),
        Some(source) => Err(PromoteError::TagsPartlyWritten {
            written: written.into_iter().map(|(t, _)| t).collect(),
            not_written,
            source: Box::new(source),
        }),
    }
}

/// Runs `futures` with at most [`CONCURRENCY`] in flight; results in order. (They are
/// built before the call so the returned future stays `Send`.)
pub async fn bounded<Fut: std::future::Future>(futures: Vec<Fut>) -> Vec<Fut::Output> {
    stream::iter(futures).buffered(CONCURRENCY).collect().await
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
            manifest::parse(&child.manifest, child.media_type.as_deref()).map_err(|source| {
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
    let mut stats = copy::copy_blobs(src, dst, clients.downloader, &blobs).await?;
    bounded(
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
            })
            .collect(),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
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
        Some(t) if info.mutability.is_immutable(tag) => Err(PromoteError::TagConflict {
            conflicts: vec![tags::Conflict::Immutable {
                tag: tag.to_string(),
                current: t.digest,
            }],
            repository: req.target_repository.to_string(),
            mutability: info.mutability.clone(),
            digest: digest.to_string(),
        }),
        other => Err(PromoteError::TagMoved {
            tag: tag.to_string(),
            repository: req.target_repository.to_string(),
            now: other.map(|t| t.digest),
        }),
    }
}

fn success(
    req: &Request<'_>,
    facts: &Facts,
    plans: &[(String, TagPlan)],
    gate: Option<&GateReport>,
    copied: Option<&CopyStats>,
    same_repository: bool,
) -> Success {
    let (image, manifest, info) = (&facts.image, &facts.manifest, &facts.info);
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
    for target in facts
        .current
        .iter()
        .flatten()
        .filter(|t| t.digest == digest)
    {
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
    Promotion {
        source: &source_label,
        digest,
        manifest: &description,
        target: &target_label,
        tags: plans,
        gate,
        copy: copied,
    }
    .success(&uri, &tags_now)
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
        return PromoteError::SourceRepositoryMissing {
            repository: req.source.repository.clone(),
            place: where_source(req),
            hint,
        };
    }
    e.into()
}

fn target_error(e: AwsError, req: &Request<'_>) -> PromoteError {
    if e.code() == Some("RepositoryNotFoundException") {
        return PromoteError::TargetRepositoryMissing {
            repository: req.target_repository.to_string(),
            place: format!(
                "{}{}",
                req.target_registry_id
                    .map(|id| format!("registry {id}, "))
                    .unwrap_or_default(),
                req.target_region
            ),
        };
    }
    e.into()
}

fn not_found(req: &Request<'_>) -> PromoteError {
    let (repository, place, reference) = (
        req.source.repository.clone(),
        where_source(req),
        req.source.reference.clone(),
    );
    match req.origin {
        Some(origin) => PromoteError::RevisionUnavailable {
            repository,
            place,
            reference,
            origin: origin.to_string(),
        },
        None => PromoteError::SourceImageMissing {
            repository,
            place,
            reference,
        },
    }
}

fn incomplete_index(
    req: &Request<'_>,
    manifest: &Manifest,
    digest: &str,
    missing: &[String],
) -> PromoteError {
    PromoteError::IncompleteIndex {
        image: req.source.to_string(),
        media_type: manifest.media_type,
        digest: digest.to_string(),
        repository: req.source.repository.clone(),
        missing: manifest
            .children()
            .iter()
            .filter(|c| missing.contains(&c.digest))
            .map(|c| format!("{} {}", c.label(), c.digest))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::{digest, oci_index};
    use crate::scan::ScanResult;
    use shared::Failure;

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

    fn request<'a>(
        source: &'a ImageRef,
        tags: &'a [String],
        gate: Option<&'a GatePolicy>,
    ) -> Request<'a> {
        Request {
            source,
            origin: None,
            source_region: "us-east-1",
            target_repository: "web",
            target_registry_id: None,
            target_region: "us-east-1",
            tags,
            allow_moving_tags: false,
            gate,
            today: Date::today(),
        }
    }

    fn facts(
        body: String,
        scan: Option<(ScanResult, Option<String>)>,
        current: Vec<Option<&str>>,
    ) -> Facts {
        Facts {
            manifest: manifest::parse(&body, None).unwrap(),
            image: Fetched {
                digest: digest(9),
                manifest: body,
                media_type: None,
                registry_id: Some("111122223333".into()),
            },
            scan,
            current: current
                .into_iter()
                .map(|d| {
                    d.map(|d| TagTarget {
                        digest: d.to_string(),
                        tags: vec![],
                    })
                })
                .collect(),
            info: RepoInfo {
                registry_id: Some("111122223333".into()),
                uri: None,
                mutability: crate::tags::Mutability::Mutable,
            },
        }
    }

    /// An index whose second child claims to be an attestation but runs on linux/arm64.
    fn disguised_index() -> String {
        format!(
            r#"{{"mediaType": "{}", "manifests": [
                {{"digest": "{}", "platform": {{"os": "linux", "architecture": "amd64"}}}},
                {{"digest": "{}", "platform": {{"os": "linux", "architecture": "arm64"}},
                  "annotations": {{"vnd.docker.reference.type": "attestation-manifest"}}}},
                {{"digest": "{}", "platform": {{"os": "unknown", "architecture": "unknown"}},
                  "annotations": {{"vnd.docker.reference.type": "attestation-manifest"}}}}]}}"#,
            manifest::OCI_INDEX,
            digest(1),
            digest(2),
            digest(3)
        )
    }

    #[test]
    fn decides_from_the_facts() {
        let source = ImageRef {
            registry_id: None,
            region: None,
            repository: "web".into(),
            reference: Reference::Tag("v1".into()),
        };
        let policy = GatePolicy {
            max: Default::default(),
            allow: vec![],
            unscanned: Default::default(),
        };
        let tags = ["new".to_string(), "same".to_string()];
        let single = crate::manifest::tests::docker_manifest(&[1]);
        let only_attestations = oci_index(&[(3, "attestation")]);
        let nine = digest(9);
        let other = digest(8);
        // (case, facts, gate, outcome: Ok(children scanned, children fetched) or Err(error_type))
        type Row<'a> = (&'a str, Facts, bool, Result<(Vec<String>, bool), &'a str>);
        let rows: Vec<Row> = vec![
            (
                "single image, one tag to put",
                facts(single.clone(), None, vec![None, Some(&nine)]),
                false,
                Ok((vec![], false)),
            ),
            (
                "the source moved between look-up and scan",
                facts(
                    single.clone(),
                    Some((ScanResult::NotFound, Some(other.clone()))),
                    vec![None, None],
                ),
                true,
                Err("SourceMoved"),
            ),
            (
                "a tag elsewhere may not move",
                facts(single, None, vec![Some(&other), None]),
                false,
                Err("TagConflict"),
            ),
            (
                "an index without a gate fetches its children only",
                facts(disguised_index(), None, vec![None, None]),
                false,
                Ok((vec![], true)),
            ),
            (
                "a runnable child annotated as an attestation is scanned",
                facts(disguised_index(), None, vec![None, None]),
                true,
                Ok((vec![digest(1), digest(2)], true)),
            ),
            (
                "nothing to write: children are not fetched",
                facts(disguised_index(), None, vec![Some(&nine), Some(&nine)]),
                true,
                Ok((vec![digest(1), digest(2)], false)),
            ),
            (
                "an index of attestations only cannot pass a gate",
                facts(only_attestations, None, vec![None, None]),
                true,
                Err("ScanGateNothingToScan"),
            ),
        ];
        for (case, facts, gated, want) in rows {
            let req = request(&source, &tags, gated.then_some(&policy));
            let got = decide(&facts, &req)
                .map(|plan| {
                    (
                        plan.scan_children
                            .iter()
                            .map(|c| c.digest.clone())
                            .collect::<Vec<_>>(),
                        plan.fetch_children,
                    )
                })
                .map_err(|e| e.error_type());
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn a_partial_tag_write_names_what_was_written() {
        let failed = || {
            Err(PromoteError::Config(
                "ecr:PutImage failed: AccessDenied".into(),
            ))
        };
        type Row<'a> = (
            Vec<(String, Result<Put, PromoteError>)>,
            Result<Vec<&'a str>, &'a str>,
        );
        let rows: Vec<Row> = vec![
            (
                vec![
                    ("a".into(), Ok(Put::Written)),
                    ("b".into(), Ok(Put::AlreadyExists)),
                ],
                Ok(vec!["a", "b"]),
            ),
            (
                vec![("a".into(), failed()), ("b".into(), failed())],
                Err("ConfigError"),
            ),
            (
                vec![
                    ("a".into(), Ok(Put::Written)),
                    ("b".into(), failed()),
                    ("c".into(), Ok(Put::Written)),
                ],
                Err("TagsPartlyWritten"),
            ),
        ];
        for (results, want) in rows {
            let got = tag_writes(results);
            match (&got, want) {
                (Ok(written), Ok(tags)) => {
                    assert_eq!(
                        written.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
                        tags
                    )
                }
                (Err(e), Err(name)) => assert_eq!(e.error_type(), name),
                _ => panic!("{got:?}"),
            }
        }
        let e = tag_writes(vec![
            ("staging".to_string(), Ok(Put::Written)),
            ("prod".to_string(), failed()),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("Tags written: staging; not written: prod"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn runs_a_few_at_a_time_in_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let jobs: Vec<_> = (0..20)
            .map(|i| {
                let (now, peak) = (&now, &peak);
                async move {
                    let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(running, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            })
            .collect();
        let out = bounded(jobs).await;
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), CONCURRENCY);
    }
}

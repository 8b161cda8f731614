//! One promotion, whatever the two sides are (ECR or another registry, either way):
//! look-ups, decisions, the gate, the copy, the writes and the summary.
//!
//! Round 1 reads the source manifest, where each target tag points, the target's rules and
//! (gated, single image) the scan, all at once. Then either nothing (every tag in place:
//! one round trip), or, for an index, its children (and their scans) in round 2, with, for
//! another repository, the referrers of the image and its children on both sides
//! ([`referrers::discover`]), all before any write; with `verify`, the signatures are
//! checked then (read from the start when the source is pinned by digest). Then the
//! writes: on the same repository the tags are put with the same bytes and media type; on
//! another the blobs the target lacks are mounted or streamed and an index's children put,
//! then the image by digest and the referrers the target lacks, and the tags last. A tag
//! another run wrote meanwhile is fine when it points at this image.

use std::future::Future;

use futures::future::{join, maybe_done};
use futures::stream::{self, StreamExt};
use futures::{FutureExt, TryFutureExt};
use shared::Success;

use crate::config::GatePolicy;
use crate::copy_layers;
use crate::date::Date;
use crate::ecr::{self, Put, Repo, RepoInfo, TagTarget};
use crate::error::PromoteError;
use crate::manifest::{self, Child, Manifest};
use crate::referrers::{self, ReferrerStats};
use crate::route::ReferrerPolicy;
use crate::scan::{self, GateReport, ScanResult};
use crate::store::{CONCURRENCY, Image, Store};
use crate::summary::{CopyStats, Promotion};
use crate::tags::{self, Current, TagPlan};
use crate::verify::{self, Early};
use shared::image::{Reference, registry_host, short_digest};

/// A promotion between two stores.
pub struct Request<'a> {
    pub reference: &'a Reference,
    /// Where the source was read from, when an input artifact named it.
    pub origin: Option<&'a str>,
    pub tags: &'a [String],
    pub allow_moving_tags: bool,
    /// The gate, with the ECR repository whose scans it reads (only an ECR source has one).
    pub gate: Option<(&'a GatePolicy, Repo<'a>)>,
    pub today: Date,
    /// Which referrers go with the image to another repository.
    pub referrers: &'a ReferrerPolicy,
    /// The signatures the source must carry, checked before any write.
    pub verify: Option<&'a crate::verify::Gate<'a>>,
}

/// What round 1 found: the source image, where each target tag points, the target's rules
/// and, for a gated single image, its scan.
pub struct Facts {
    pub image: Image,
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

    /// Blobs and child manifests go first: something is written, in another repository.
    pub fn copies(&self) -> bool {
        self.writes() && !self.same_repository
    }
}

pub async fn promote(
    source: Store<'_>,
    target: Store<'_>,
    req: &Request<'_>,
) -> Result<Success, PromoteError> {
    futures::try_join!(
        source.authenticate(false, &target),
        target.authenticate(true, &source)
    )?;
    // With `verify` and a source pinned by digest (an `imageDetail.json`), the signatures
    // are read from the start, beside rounds 1 and 2, rather than after them: cosign's
    // `.sig` tag awaited with them, the referrers driven alongside until the check needs
    // them (it may not, when the `.sig` tag meets the policy).
    let pinned = match (req.verify, req.reference) {
        (Some(_), Reference::Digest(d)) => Some(d.as_str()),
        _ => None,
    };
    let referred = maybe_done(verify::early(source, pinned, Early::Referred));
    let mut referred = std::pin::pin!(referred);
    let main = async {
        let facts = gather(source, target, req).await?;
        let same = same_repository(source, target, &facts);
        let plan = decide(&facts, req, same, &source.name(), &target.name())?;
        let round = second_round(source, target, req, &facts, &plan).await?;
        Ok::<_, PromoteError>((facts, plan, round))
    };
    let tagged = verify::early(source, pinned, Early::Tagged);
    let (read, tagged) = verify::driving(referred.as_mut(), join(main, tagged)).await;
    let (facts, mut plan, round) = read?;
    let Round {
        child_scans,
        children,
        found,
        copy_referrers,
    } = round;
    let digest = facts.image.digest.as_str();
    let gate = gate(&facts, &plan, child_scans, source, req)?;
    let signatures = match req.verify {
        Some(v) => {
            let media_type = facts.manifest.media_type.as_str();
            let early = tagged.map(|t| (t, referred.as_mut()));
            verify::check(v, source, &facts.image, media_type, &found, early).await?
        }
        None => Vec::new(),
    };
    let referrer_plan = if copy_referrers {
        referrers::decide(
            &found,
            req.referrers,
            &facts.info.mutability,
            &target.name(),
        )?
    } else {
        referrers::ReferrerPlan::default()
    };

    // Writes, into another repository: blobs and child manifests, then (with referrers to
    // copy) the image by digest and its referrers, then the tags, a few at a time. A
    // referrer refused leaves no new tag on an image without it.
    let mut copied = None;
    let mut referred = ReferrerStats {
        present: referrer_plan.present.len(),
        ..ReferrerStats::default()
    };
    if plan.copies() {
        copied = Some(copy_layers::copy_into(source, target, &facts.manifest, &children).await?);
    }
    if referrer_plan.writes() {
        let media_type = facts.manifest.media_type.as_str();
        let image = plan.copies().then_some((&facts.image, media_type));
        referred = referrers::copy(source, target, &referrer_plan, image).await?;
    }
    if plan.writes() {
        let written = write_tags(target, &facts, &plan).await?;
        for (tag, put) in written {
            if put == Put::AlreadyExists {
                confirm_race(target, &tag, digest, &facts.info).await?;
                if let Some((_, p)) = plan.tags.iter_mut().find(|(t, _)| *t == tag) {
                    *p = TagPlan::InPlace;
                }
            }
        }
    }

    Ok(success(
        source,
        target,
        req,
        &facts,
        &plan,
        Done {
            gate: gate.as_ref(),
            copied: copied.as_ref(),
            referred: &referred,
            signatures: &signatures,
        },
    ))
}

/// What round 2 read: the children's scans, the children, and the referrers.
struct Round {
    child_scans: Vec<ScanResult>,
    children: Vec<Image>,
    found: referrers::Referrers,
    /// Whether the referrers go with the image (another repository, not `referrers: false`).
    copy_referrers: bool,
}

/// Round 2: an index's children exist (before anything is written), and each runnable
/// child's scan result, a few at a time; in another repository, the referrers of the image
/// and its children on both sides.
async fn second_round(
    source: Store<'_>,
    target: Store<'_>,
    req: &Request<'_>,
    facts: &Facts,
    plan: &Plan,
) -> Result<Round, PromoteError> {
    let subjects = referrer_subjects(facts, plan, req.referrers);
    let copy_referrers = !subjects.is_empty();
    let (subjects, discovery) = discovery(facts, subjects, req);
    let (child_scans, (children, missing), found) = futures::try_join!(
        async {
            match req.gate {
                Some((_, repo)) => bounded(
                    plan.scan_children
                        .iter()
                        .map(|c| {
                            let reference = Reference::Digest(c.digest.clone());
                            async move { ecr::scan(repo, &reference).await }
                        })
                        .collect(),
                )
                .await
                .into_iter()
                .map(|r| r.map(|(scan, _)| scan).map_err(PromoteError::from))
                .collect::<Result<Vec<_>, _>>(),
                None => Ok(Vec::new()),
            }
        }
        .map_err(|e| source_error(e, source, req)),
        async {
            if plan.fetch_children {
                let digests: Vec<String> = facts
                    .manifest
                    .children()
                    .iter()
                    .map(|c| c.digest.clone())
                    .collect();
                source.get_many(&digests).await
            } else {
                Ok((Vec::new(), Vec::new()))
            }
        }
        .map_err(|e| source_error(e, source, req)),
        referrers::discover(source, target, &subjects, &discovery),
    )?;
    if !missing.is_empty() {
        return Err(incomplete_index(
            source_image(source, req),
            source.name(),
            &facts.manifest,
            &facts.image.digest,
            &missing,
        ));
    }
    Ok(Round {
        child_scans,
        children,
        found,
        copy_referrers,
    })
}

/// What the promotion did besides the tags: the gate's verdict and what it copied.
struct Done<'a> {
    gate: Option<&'a GateReport>,
    copied: Option<&'a CopyStats>,
    referred: &'a ReferrerStats,
    signatures: &'a [shared::verify::Evidence],
}

/// The digests whose referrers go with the image: the image and an index's children, when
/// the target is another repository and referrers are copied.
fn referrer_subjects(facts: &Facts, plan: &Plan, policy: &ReferrerPolicy) -> Vec<String> {
    if plan.same_repository || *policy == ReferrerPolicy::Off {
        return Vec::new();
    }
    std::iter::once(facts.image.digest.clone())
        .chain(facts.manifest.children().iter().map(|c| c.digest.clone()))
        .collect()
}

/// What round 2 discovers: the referrer subjects, and with `verify` (its signatures not
/// read from the start, [`verify::early`]) also the image's own signatures when nothing
/// is copied (a retag in place, `referrers: false`), every referrer listed whatever
/// `referrers` selects (the copy still follows it).
fn discovery(
    facts: &Facts,
    subjects: Vec<String>,
    req: &Request<'_>,
) -> (Vec<String>, ReferrerPolicy) {
    match req.verify {
        Some(_) if !pinned(req) && subjects.is_empty() => {
            (vec![facts.image.digest.clone()], ReferrerPolicy::All)
        }
        Some(_) if !pinned(req) => (subjects, ReferrerPolicy::All),
        _ => (subjects, req.referrers.clone()),
    }
}

/// Whether the source is named by digest, so that its signatures can be read before its
/// manifest is.
fn pinned(req: &Request<'_>) -> bool {
    matches!(req.reference, Reference::Digest(_))
}

/// Round 1: the source manifest, where each target tag points, the target's rules, and
/// the scan result, all at once. All are awaited so that the error reported is always
/// the source's first (same-repository promotion fails both sides at once).
async fn gather(
    source: Store<'_>,
    target: Store<'_>,
    req: &Request<'_>,
) -> Result<Facts, PromoteError> {
    let (image, scan, current, info) = futures::join!(
        source
            .get(req.reference)
            .map_err(|e| source_error(e, source, req)),
        async {
            match req.gate {
                Some((_, repo)) => ecr::scan(repo, req.reference)
                    .await
                    .map(Some)
                    .map_err(PromoteError::from),
                None => Ok(None),
            }
        }
        .map_err(|e| source_error(e, source, req)),
        bounded(req.tags.iter().map(|t| target.tag_target(t)).collect())
            .map(|r| r.into_iter().collect::<Result<Vec<_>, _>>())
            .map_err(|e| target_error(e, target)),
        target.rules().map_err(|e| target_error(e, target)),
    );
    let image = image?.ok_or_else(|| not_found(source, req))?;
    let manifest = manifest::parse(image.text()?, image.media_type.as_deref()).map_err(|e| {
        PromoteError::Manifest {
            image: source_image(source, req),
            digest: image.digest.clone(),
            source: e,
        }
    })?;
    // An index is gated on its children's scans (round 2); its own scan result, or an
    // error asking for one, does not count.
    let scan = if manifest.media_type.is_index() {
        None
    } else {
        scan?
    };
    let info = info?;
    Ok(Facts {
        image,
        manifest,
        scan,
        current: current?,
        info,
    })
}

/// Whether both sides are one repository: two registry sides by host and name, two ECR
/// sides by the registry ECR answered with, the region and the name.
fn same_repository(source: Store<'_>, target: Store<'_>, facts: &Facts) -> bool {
    match (source, target) {
        (
            Store::Ecr {
                repo: s,
                region: source_region,
                ..
            },
            Store::Ecr {
                repo: t,
                region: target_region,
                ..
            },
        ) => {
            facts.image.registry_id == facts.info.registry_id
                && source_region == target_region
                && s.name == t.name
        }
        _ => source.same_registry_repository(&target),
    }
}

/// Decides from round 1's facts: whether the source moved, what each tag needs, and what
/// round 2 must look at.
pub fn decide(
    facts: &Facts,
    req: &Request<'_>,
    same_repository: bool,
    source_name: &str,
    target_name: &str,
) -> Result<Plan, PromoteError> {
    let digest = facts.image.digest.as_str();
    let index = facts.manifest.media_type.is_index();
    if let Some((_, Some(scanned))) = &facts.scan
        && scanned != digest
        && !index
    {
        return Err(PromoteError::SourceMoved {
            image: source_image_of(source_name, req),
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
        repository: target_name.to_string(),
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
                    image: source_image_of(source_name, req),
                    digest: digest.to_string(),
                });
            }
            runnable
        }
        _ => Vec::new(),
    };
    let writes = tags.iter().any(|(_, p)| p.writes());
    Ok(Plan {
        same_repository,
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
    source: Store<'_>,
    req: &Request<'_>,
) -> Result<Option<GateReport>, PromoteError> {
    let Some((policy, _)) = req.gate else {
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
            image: source_image(source, req),
            digest: facts.image.digest.clone(),
            verdict: report.text(),
        });
    }
    Ok(Some(report))
}

/// Puts every tag the plan writes, a few at a time. Each is tried; when one fails, the
/// error says which tags were written and which were not.
async fn write_tags(
    target: Store<'_>,
    facts: &Facts,
    plan: &Plan,
) -> Result<Vec<(String, Put)>, PromoteError> {
    let to_write: Vec<&String> = plan
        .tags
        .iter()
        .filter(|(_, p)| p.writes())
        .map(|(tag, _)| tag)
        .collect();
    let media_type = facts.manifest.media_type.as_str();
    let results = bounded(
        to_write
            .iter()
            .map(|tag| target.put(&facts.image, media_type, Some(tag.as_str())))
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
pub async fn bounded<Fut: Future>(futures: Vec<Fut>) -> Vec<Fut::Output> {
    stream::iter(futures).buffered(CONCURRENCY).collect().await
}

/// The target said the tag or image exists: success if the tag now points at our digest;
/// an immutable tag on another image is a conflict; anything else moved meanwhile.
async fn confirm_race(
    target: Store<'_>,
    tag: &str,
    digest: &str,
    info: &RepoInfo,
) -> Result<(), PromoteError> {
    match target.tag_target(tag).await? {
        Some(t) if t.digest == digest => Ok(()),
        Some(t) if info.mutability.is_immutable(tag) => Err(PromoteError::TagConflict {
            conflicts: vec![tags::Conflict::Immutable {
                tag: tag.to_string(),
                current: t.digest,
            }],
            repository: target.name(),
            mutability: info.mutability.clone(),
            digest: digest.to_string(),
        }),
        other => Err(PromoteError::TagMoved {
            tag: tag.to_string(),
            repository: target.name(),
            now: other.map(|t| t.digest),
        }),
    }
}

fn success(
    source: Store<'_>,
    target: Store<'_>,
    req: &Request<'_>,
    facts: &Facts,
    plan: &Plan,
    done: Done<'_>,
) -> Success {
    let Done {
        gate,
        copied,
        referred,
        signatures,
    } = done;
    let (image, manifest, info) = (&facts.image, &facts.manifest, &facts.info);
    let digest = image.digest.as_str();
    let (uri, target_label) = match target {
        Store::Ecr { repo, region, .. } => {
            let registry = info
                .registry_id
                .as_deref()
                .or(repo.registry_id)
                .or(image.registry_id.as_deref());
            let uri = match (&info.uri, registry) {
                (Some(repo_uri), _) => format!("{repo_uri}@{digest}"),
                (None, Some(registry)) => {
                    format!("{}/{}@{digest}", registry_host(registry, region), repo.name)
                }
                (None, None) => format!("{}@{digest}", repo.name),
            };
            let source_region = match source {
                Store::Ecr { region, .. } => Some(region),
                Store::Registry { .. } => None,
            };
            let label = if plan.same_repository
                || (info.registry_id == image.registry_id && source_region == Some(region))
            {
                repo.name.to_string()
            } else {
                format!("{}/{region}/{}", registry.unwrap_or("?"), repo.name)
            };
            (uri, label)
        }
        Store::Registry { .. } => (format!("{}@{digest}", target.name()), target.name()),
    };
    // Every tag known to be on the image in the target: the promoted ones first.
    let mut tags_now: Vec<String> = req.tags.to_vec();
    for current in facts
        .current
        .iter()
        .flatten()
        .filter(|t| t.digest == digest)
    {
        for tag in &current.tags {
            if !tags_now.contains(tag) {
                tags_now.push(tag.clone());
            }
        }
    }
    if plan.same_repository
        && let Reference::Tag(tag) = req.reference
        && !tags_now.contains(tag)
    {
        tags_now.push(tag.clone());
    }
    let source_label = match req.reference {
        Reference::Tag(_) => source_image(source, req),
        Reference::Digest(d) => format!("{}@{}", source.name(), short_digest(d)),
    };
    let description = manifest.describe();
    Promotion {
        source: &source_label,
        digest,
        manifest: &description,
        target: &target_label,
        tags: &plan.tags,
        gate,
        copy: copied,
        referrers: referred,
        signatures,
    }
    .success(&uri, &tags_now)
}

/// `web:v1`, `docker.io/user/app@sha256:...`: the source image as named.
fn source_image(source: Store<'_>, req: &Request<'_>) -> String {
    source_image_of(&source.name(), req)
}

fn source_image_of(name: &str, req: &Request<'_>) -> String {
    format!("{name}{}", req.reference)
}

/// Where an ECR source is: `registry 111122223333, eu-west-1`, or its region.
fn where_source(repo: Repo<'_>, region: &str) -> String {
    match repo.registry_id {
        Some(id) => format!("registry {id}, {region}"),
        None => region.to_string(),
    }
}

fn repository_missing(e: &PromoteError) -> bool {
    matches!(e, PromoteError::Aws(e) if e.code() == Some("RepositoryNotFoundException"))
}

fn source_error(e: PromoteError, source: Store<'_>, req: &Request<'_>) -> PromoteError {
    match source {
        Store::Ecr { repo, region, .. } if repository_missing(&e) => {
            let hint = match req.origin {
                Some(origin) => format!("it is named by {origin}"),
                None => "check source.repository".to_string(),
            };
            PromoteError::SourceRepositoryMissing {
                repository: repo.name.to_string(),
                place: where_source(repo, region),
                hint,
            }
        }
        _ => e,
    }
}

fn target_error(e: PromoteError, target: Store<'_>) -> PromoteError {
    match target {
        Store::Ecr { repo, region, .. } if repository_missing(&e) => {
            PromoteError::TargetRepositoryMissing {
                repository: repo.name.to_string(),
                place: where_source(repo, region),
            }
        }
        _ => e,
    }
}

fn not_found(source: Store<'_>, req: &Request<'_>) -> PromoteError {
    match source {
        Store::Registry {
            client, repository, ..
        } => PromoteError::RegistryImageMissing {
            registry: client.host().to_string(),
            repository: repository.to_string(),
            reference: req.reference.as_str().to_string(),
            field: match req.reference {
                Reference::Tag(_) => "the tag in source.imageUri or source.tag",
                Reference::Digest(_) => "the digest in source.imageUri or source.digest",
            },
        },
        Store::Ecr { repo, region, .. } => {
            let (repository, place, reference) = (
                repo.name.to_string(),
                where_source(repo, region),
                req.reference.clone(),
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
    }
}

fn incomplete_index(
    image: String,
    repository: String,
    manifest: &Manifest,
    digest: &str,
    missing: &[String],
) -> PromoteError {
    PromoteError::IncompleteIndex {
        image,
        media_type: manifest.media_type,
        digest: digest.to_string(),
        repository,
        missing: manifest
            .children()
            .iter()
            .filter(|c| missing.contains(&c.digest))
            .map(|c| format!("{} {}", c.label(), c.digest))
            .collect(),
    }
}

#[cfg(test)]
mod tests;

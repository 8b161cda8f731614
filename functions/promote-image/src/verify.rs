//! The signature gate: the source image must carry the signatures `verify` requires
//! before anything is written.
//!
//! The signature manifests come from referrer discovery (the image's own referrers and
//! cosign's `sha256-<hex>.sig` tag, read in round 2 with everything else), so verifying
//! adds one stage: the signature layers' blobs ([`shared::verify::complete`]). The image
//! checked is the digest that was pushed (for an index, the index's own digest), as cosign
//! and Notation sign it.

use shared::verify::{self, Candidate, Evidence, Found, Lookups, Place, Policy, Subject};

use crate::error::PromoteError;
use crate::referrers::Referrers;
use crate::store::{Image, Store};

/// The loaded policy and the clients revocation is asked with, once per invocation.
pub struct Gate<'a> {
    pub policy: &'a Policy,
    pub lookups: &'a Lookups,
}

/// The signature candidates discovery read already: the image's own referrers that hold
/// a signature, and its legacy `.sig` tag.
pub fn read_already(found: &Referrers, digest: &str) -> Vec<Candidate> {
    let referrers = found
        .found
        .iter()
        .filter(|r| r.subject == digest && verify::classify(&r.manifest.bytes).is_some())
        .map(|r| candidate(&r.manifest, Found::Referrer));
    let legacy = found
        .legacy
        .iter()
        .filter(|l| l.tag.ends_with(".sig"))
        .map(|l| candidate(&l.manifest, Found::LegacyTag(l.tag.clone())));
    referrers.chain(legacy).collect()
}

fn candidate(manifest: &Image, found: Found) -> Candidate {
    Candidate {
        digest: manifest.digest.clone(),
        manifest: manifest.bytes.to_vec(),
        found,
        blobs: Vec::new(),
    }
}

/// Where the source's signature blobs are read.
pub fn place<'a>(source: &Store<'a>) -> Place<'a> {
    match *source {
        Store::Ecr { repo, .. } => Place::Ecr(shared::referrers::ecr::Repository {
            client: repo.client,
            registry_id: repo.registry_id,
            name: repo.name,
        }),
        Store::Registry {
            client, repository, ..
        } => Place::Registry { client, repository },
    }
}

/// The evidence of a signature per requirement, or the refusal naming the image, what
/// was required and what was found.
pub async fn check(
    gate: &Gate<'_>,
    source: Store<'_>,
    image: &Image,
    media_type: &str,
    found: &Referrers,
) -> Result<Vec<Evidence>, PromoteError> {
    let subject = Subject {
        digest: image.digest.clone(),
        media_type: media_type.to_string(),
        size: image.bytes.len() as u64,
    };
    let candidates = verify::complete(place(&source), read_already(found, &image.digest)).await;
    Ok(verify::check(gate.policy, &subject, &candidates, gate.lookups).await?)
}

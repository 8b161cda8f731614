//! The signature gate: the source image must carry the signatures `verify` requires
//! before anything is written.
//!
//! A source pinned by digest has its signatures read from the start, beside the
//! promotion's first rounds ([`shared::verify::candidates`]). Otherwise the signature
//! manifests come from referrer discovery (the image's own referrers and cosign's
//! `sha256-<hex>.sig` tag, read in round 2 with everything else), and verifying adds one
//! stage: the signature layers' blobs ([`shared::verify::complete`]). The image checked is
//! the digest that was pushed (for an index, the index's own digest), as cosign and
//! Notation sign it.

use std::future::Future;
use std::pin::Pin;

use futures::future::{FutureExt, Shared};
use shared::verify::{
    self, Candidate, Evidence, Found, Lookups, Place, Policy, Requirements, Subject, VerifyError,
};

use crate::error::PromoteError;
use crate::referrers::Referrers;
use crate::store::{Image, Store};

/// The trust material loading once per invocation: started before the sides connect,
/// awaited by the check, so that its reads overlap the promotion's first rounds.
pub type Loading = Shared<Pin<Box<dyn Future<Output = Result<Policy, VerifyError>> + Send>>>;

/// Starts loading the trust material `requirements` name.
pub fn loading(requirements: &Requirements, lookups: &Lookups) -> Loading {
    let (requirements, lookups) = (requirements.clone(), lookups.clone());
    let load: Pin<Box<dyn Future<Output = _> + Send>> =
        Box::pin(async move { verify::load(&requirements, &lookups).await });
    load.shared()
}

/// The loading policy and the clients revocation is asked with, once per invocation.
pub struct Gate<'a> {
    pub policy: &'a Loading,
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
        .filter(|l| l.subject == digest && l.tag.ends_with(".sig"))
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
        Store::Ecr { repo, .. } => Place::Ecr(repo),
        Store::Registry {
            client, repository, ..
        } => Place::Registry { client, repository },
    }
}

/// The evidence of a signature per requirement, or the refusal naming the image, what
/// was required and what was found. The candidates are those read from the start
/// (`early`, a pinned source), else the manifests discovery read, completed with their
/// blobs.
pub async fn check(
    gate: &Gate<'_>,
    source: Store<'_>,
    image: &Image,
    media_type: &str,
    found: &Referrers,
    early: Option<Result<Vec<Candidate>, PromoteError>>,
) -> Result<Vec<Evidence>, PromoteError> {
    let subject = Subject {
        digest: image.digest.clone(),
        media_type: media_type.to_string(),
        size: image.bytes.len() as u64,
    };
    let candidates = async {
        match early {
            Some(early) => early,
            None => Ok(verify::complete(place(&source), read_already(found, &image.digest)).await),
        }
    };
    let (candidates, policy) = futures::join!(candidates, gate.policy.clone());
    Ok(verify::check(&policy?, &subject, &candidates?, gate.lookups).await?)
}

//! The signature gate: the source image must carry the signatures `verify` requires
//! before anything is written.
//!
//! A source pinned by digest has its signatures read from the start, beside the
//! promotion's first rounds ([`early`]): cosign's `.sig` tag, checked first, and the
//! referrers, waited for only when the tag falls short. Otherwise the signature
//! manifests come from referrer discovery (the image's own referrers and cosign's
//! `sha256-<hex>.sig` tag, read in round 2 with everything else), and verifying adds one
//! stage: the signature layers' blobs ([`shared::verify::complete`]). The image checked is
//! the digest that was pushed (for an index, the index's own digest), as cosign and
//! Notation sign it.

use std::future::Future;
use std::pin::Pin;

use futures::future::{FutureExt, MaybeDone, Shared};
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

/// Which of a pinned source's signatures to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Early {
    /// cosign's `sha256-<hex>.sig` tag (two stages).
    Tagged,
    /// The referrers (three stages).
    Referred,
}

/// A pinned source's signatures read from the start: the `.sig` tag's, read, and the
/// referrers', being read.
pub type Pinned<'p, R> = (
    Result<Vec<Candidate>, PromoteError>,
    Pin<&'p mut MaybeDone<R>>,
);

/// With `pinned` (`verify` on and the source named by digest), `which` of its signatures,
/// read from nothing; else `None`, and the check takes them from discovery.
pub async fn early(
    source: Store<'_>,
    pinned: Option<&str>,
    which: Early,
) -> Option<Result<Vec<Candidate>, PromoteError>> {
    let digest = pinned?;
    let place = place(&source);
    let read = match which {
        Early::Tagged => verify::tagged(place, digest).await,
        Early::Referred => verify::referred(place, digest).await,
    };
    Some(read.map_err(PromoteError::from))
}

/// Runs `main` to its end while also driving `beside`, which may end before or after it.
pub async fn driving<B: Future, M: Future>(
    mut beside: Pin<&mut MaybeDone<B>>,
    main: M,
) -> M::Output {
    let mut main = std::pin::pin!(main);
    std::future::poll_fn(|cx| {
        let _ = beside.as_mut().poll(cx);
        main.as_mut().poll(cx)
    })
    .await
}

/// The evidence of a signature per requirement, or the refusal naming the image, what
/// was required and what was found. A pinned source's `.sig` tag is checked first and,
/// when it meets every requirement, the referrers are not waited for; otherwise the
/// check is over all of its signatures, so that a refusal names everything found. Any
/// other source's candidates are the manifests discovery read, completed with their
/// blobs.
pub async fn check<R>(
    gate: &Gate<'_>,
    source: Store<'_>,
    image: &Image,
    media_type: &str,
    found: &Referrers,
    pinned: Option<Pinned<'_, R>>,
) -> Result<Vec<Evidence>, PromoteError>
where
    R: Future<Output = Option<Result<Vec<Candidate>, PromoteError>>>,
{
    let subject = Subject {
        digest: image.digest.clone(),
        media_type: media_type.to_string(),
        size: image.bytes.len() as u64,
    };
    let Some((tagged, mut referred)) = pinned else {
        let (candidates, policy) = futures::join!(
            verify::complete(place(&source), read_already(found, &image.digest)),
            gate.policy.clone()
        );
        return Ok(verify::check(&policy?, &subject, &candidates, gate.lookups).await?);
    };
    let tagged = tagged?;
    let policy = driving(referred.as_mut(), gate.policy.clone()).await?;
    if !tagged.is_empty()
        && let Ok(evidence) = verify::check(&policy, &subject, &tagged, gate.lookups).await
    {
        return Ok(evidence);
    }
    referred.as_mut().await;
    let mut all = match referred.as_mut().take_output().flatten() {
        Some(referred) => referred?,
        None => Vec::new(),
    };
    all.extend(tagged);
    Ok(verify::check(&policy, &subject, &all, gate.lookups).await?)
}

//! Image signatures: whether an image carries the signatures a policy requires.
//!
//! One verifier for every function that deploys or promotes images. The caller finds the
//! signature-bearing manifests of an image (its OCI referrers and cosign's legacy
//! `sha256-<hex>.sig` tag), asks [`wanted`] which of their layers to fetch, and passes
//! them as [`Candidate`]s to [`check`] with the [`Policy`] loaded from the user's
//! [`Requirements`] by [`load`]. The formats checked:
//!
//! - cosign's simple signing (cosign 2 and earlier, in [`cosign`]) with a key;
//! - Sigstore bundles (cosign 3's referrers): with a key, or keyless against a
//!   user-supplied `trusted_root.json` (through sigstore-verify, offline);
//! - Notation JWS signatures made by AWS Signer (in [`notation`]), with AWS Signer's
//!   revocation check.
//!
//! Everything fails closed: no signature, a signature over another digest, an untrusted
//! signer, a revoked or expired signature and an unreadable one are each refused with a
//! [`VerifyError`] that names the image, what was required and every signature found.
//! A malformed candidate never stops the others being tried.

mod candidate;
pub mod cosign;
mod crypto;
pub mod der;
mod error;
pub mod gather;
pub mod keys;
pub mod notation;
pub mod policy;
mod trust;

pub use candidate::{Blob, Candidate, Descriptor, Format, Found, Subject, classify, wanted};
use candidate::{Unit, units};
pub use error::VerifyError;
pub use gather::{Place, candidates, complete, referred, tagged};
pub use keys::PublicKey;
pub use policy::{Identity, KeySource, Requirement, Requirements, Revocation, S3Object};
pub use trust::{Lookups, Policy, Trust, load};

/// The most a signature layer (payload, bundle, JWS) may be, in bytes.
pub const MAX_SIGNATURE_BLOB: u64 = 1 << 20;
/// The most a signature manifest may be, in bytes.
pub const MAX_SIGNATURE_MANIFEST: u64 = 1 << 20;

/// Layer media type of a cosign simple-signing payload.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Media type (and artifact type) of a Sigstore bundle, version 0.3.
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Artifact type (or config media type) of a Notation signature manifest.
pub const NOTATION_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
/// Layer media type of a Notation JWS signature.
pub const JOSE: &str = "application/jose+json";

/// A signature that met a requirement: what the summary says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The requirement met, as [`Trust::describe`] says it.
    pub requirement: String,
    /// Who signed: `cosign key sha256:..`, `keyless <identity> (<issuer>)`, `notation
    /// profile <profile version ARN>`.
    pub signer: String,
    /// When it was signed, when known (RFC 3339).
    pub signed_at: Option<String>,
    /// The signature manifest's digest and where it was found.
    pub manifest: String,
    pub found: Found,
}

impl Evidence {
    /// One line for the summary.
    pub fn text(&self) -> String {
        match &self.signed_at {
            Some(at) => format!("signed by {}, {at}", self.signer),
            None => format!("signed by {}", self.signer),
        }
    }
}

/// Why one signature did not meet one requirement, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reason {
    Revoked,
    Expired,
    OtherDigest,
    Untrusted,
    Unsupported,
    Malformed,
    /// A signature of another kind than the requirement's.
    OtherKind,
}

/// A signature refused for a requirement, and what the message says it was.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub reason: Reason,
    pub found: String,
}

pub(crate) fn reject(reason: Reason, found: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        found: found.into(),
    }
}

/// A signature accepted by the pure checks.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub signer: String,
    pub signed_at: Option<String>,
    /// The AWS Signer revocation query still to make, if required.
    pub revocation: Option<notation::RevocationQuery>,
}

/// `sha256:0123456789ab`: a digest short enough for a message.
pub(crate) fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

fn judge(
    trust: &Trust,
    subject: &Subject,
    where_: &str,
    unit: &Unit<'_>,
    now: i64,
) -> Result<Accepted, Rejection> {
    match (trust, unit) {
        (_, Unit::Broken(detail)) => Err(reject(Reason::Malformed, format!("{detail} ({where_})"))),
        (
            Trust::CosignKey { key, .. },
            Unit::SimpleSigning {
                payload, signature, ..
            },
        ) => cosign::simple_signing(key, subject, payload, signature.as_deref(), where_),
        (Trust::CosignKeyless { .. }, Unit::SimpleSigning { keyless: true, .. }) => Err(reject(
            Reason::Unsupported,
            format!(
                "a keyless cosign signature in the legacy format ({where_}), which is not \
                 checked: sign with the Sigstore bundle format (cosign 3's default)"
            ),
        )),
        (Trust::CosignKeyless { .. }, Unit::SimpleSigning { .. }) => Err(reject(
            Reason::Untrusted,
            format!("a cosign signature by a key, not keyless ({where_})"),
        )),
        (Trust::CosignKey { key, .. }, Unit::Bundle(json)) => {
            cosign::bundle_with_key(key, subject, json, where_)
        }
        (
            Trust::CosignKeyless {
                identity,
                issuer,
                verifier,
                check_sct,
            },
            Unit::Bundle(json),
        ) => cosign::bundle_keyless(
            verifier, identity, issuer, *check_sct, subject, json, where_,
        ),
        (
            Trust::Notation {
                profiles,
                roots,
                revocation,
            },
            Unit::Notation(jws),
        ) => notation::verify(jws, subject, profiles, roots, *revocation, now, where_),
        (_, Unit::Notation(_)) => Err(reject(
            Reason::OtherKind,
            format!("a Notation signature ({where_})"),
        )),
        (_, Unit::SimpleSigning { .. } | Unit::Bundle(_)) => Err(reject(
            Reason::OtherKind,
            format!("a cosign signature ({where_})"),
        )),
    }
}

/// Checks that the subject's signatures meet every requirement of `policy`: the evidence
/// of one signature per requirement, or why a requirement is not met.
pub async fn check(
    policy: &Policy,
    subject: &Subject,
    candidates: &[Candidate],
    lookups: &Lookups,
) -> Result<Vec<Evidence>, VerifyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    check_at(policy, subject, candidates, now, |query| {
        let signer = lookups.signer.clone();
        async move { notation::revoked(&signer, &query).await }
    })
    .await
}

/// [`check`] at `now` (Unix seconds), with AWS Signer's revocation answers from
/// `revoked` (the entities revoked, or why the call failed): the pure checks, for callers
/// that ask AWS Signer themselves, and for tests.
pub async fn check_at<F, Fut>(
    policy: &Policy,
    subject: &Subject,
    candidates: &[Candidate],
    now: i64,
    revoked: F,
) -> Result<Vec<Evidence>, VerifyError>
where
    F: Fn(notation::RevocationQuery) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>, crate::error::AwsError>>,
{
    crypto::install();
    let units: Vec<(&Candidate, String, Unit<'_>)> = candidates
        .iter()
        .flat_map(|c| units(c).into_iter().map(move |(w, u)| (c, w, u)))
        .collect();
    let mut evidence = Vec::new();
    for trust in &policy.require {
        let required = trust.describe();
        if units.is_empty() {
            return Err(VerifyError::NoSignature {
                digest: subject.digest.clone(),
                required,
            });
        }
        let mut rejections = Vec::new();
        let mut unchecked = None;
        let mut met = None;
        for (candidate, where_, unit) in &units {
            let accepted = match judge(trust, subject, where_, unit, now) {
                Ok(a) => a,
                Err(r) => {
                    rejections.push(r);
                    continue;
                }
            };
            if let Some(query) = accepted.revocation.clone() {
                match revoked(query).await {
                    Ok(entities) if entities.is_empty() => {}
                    Ok(entities) => {
                        rejections.push(reject(
                            Reason::Revoked,
                            format!(
                                "{} ({where_}; revoked: {})",
                                accepted.signer,
                                entities.join(", ")
                            ),
                        ));
                        continue;
                    }
                    Err(e) => {
                        unchecked = Some(e);
                        continue;
                    }
                }
            }
            met = Some(Evidence {
                requirement: required.clone(),
                signer: accepted.signer,
                signed_at: accepted.signed_at,
                manifest: candidate.digest.clone(),
                found: candidate.found.clone(),
            });
            break;
        }
        match met {
            Some(e) => evidence.push(e),
            None => return Err(refusal(trust, subject, required, rejections, unchecked)),
        }
    }
    Ok(evidence)
}

fn refusal(
    trust: &Trust,
    subject: &Subject,
    required: String,
    mut rejections: Vec<Rejection>,
    unchecked: Option<crate::error::AwsError>,
) -> VerifyError {
    let digest = subject.digest.clone();
    let best = rejections.iter().map(|r| r.reason).min();
    if let (
        Some(e),
        None
        | Some(Reason::Untrusted | Reason::Unsupported | Reason::Malformed | Reason::OtherKind),
    ) = (unchecked, best)
    {
        return VerifyError::RevocationUnchecked {
            digest,
            required,
            kind: e.kind(),
            detail: e.to_string(),
        };
    }
    rejections.sort_by_key(|r| r.reason);
    let found = rejections.into_iter().map(|r| r.found).collect();
    let untrusted = |digest, required, found| match trust {
        Trust::CosignKey { .. } => VerifyError::UntrustedKey {
            digest,
            required,
            found,
        },
        Trust::CosignKeyless { .. } => VerifyError::UntrustedIdentity {
            digest,
            required,
            found,
        },
        Trust::Notation { .. } => VerifyError::WrongProfile {
            digest,
            required,
            found,
        },
    };
    match best {
        Some(Reason::Revoked) => VerifyError::Revoked {
            digest,
            required,
            found,
        },
        Some(Reason::Expired) => VerifyError::Expired {
            digest,
            required,
            found,
        },
        Some(Reason::OtherDigest) => VerifyError::OtherDigest {
            digest,
            required,
            found,
        },
        Some(Reason::Unsupported) => VerifyError::Unsupported {
            digest,
            required,
            found,
        },
        Some(Reason::Malformed) => VerifyError::Malformed {
            digest,
            required,
            found,
        },
        Some(Reason::Untrusted | Reason::OtherKind) | None => untrusted(digest, required, found),
    }
}

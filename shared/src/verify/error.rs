//! Why an image's signatures were refused, or its trust material could not be loaded.
//!
//! Every refusal names the image digest, what was required and what was found, so the
//! console message alone says what to fix. Refusals are `JobFailed`; bad trust material is
//! a `ConfigurationError`; failed AWS calls keep their own classification.

use crate::error::{AwsError, Failure, FailureType};
use crate::error_type as names;

/// Why [`check`](super::check) or [`load`](super::load) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    /// The image has no signature at all.
    #[error(
        "{digest} has no signature; a signature by {required} is required. Sign the image and push the signature to its repository"
    )]
    NoSignature { digest: String, required: String },
    /// Signatures exist, but only over other digests.
    #[error("no signature by {required} on {digest}: found {}", found_list(found))]
    OtherDigest {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// Signatures exist, but by keys not trusted.
    #[error("no signature by {required} on {digest}: found {}", found_list(found))]
    UntrustedKey {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// Keyless signatures exist, but by another identity or issuer, or not chaining to
    /// the trusted root.
    #[error("no signature by {required} on {digest}: found {}", found_list(found))]
    UntrustedIdentity {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// Notation signatures exist, but by other AWS Signer profiles or certificates.
    #[error("no signature by {required} on {digest}: found {}", found_list(found))]
    WrongProfile {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// The signing profile, job or a certificate was revoked.
    #[error(
        "the signature by {required} on {digest} is revoked: found {}",
        found_list(found)
    )]
    Revoked {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// The signature's own expiry has passed.
    #[error(
        "the signature by {required} on {digest} has expired: found {}",
        found_list(found)
    )]
    Expired {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// Signatures could not be read (bad encoding, bad JSON, a bad signature value).
    #[error(
        "no valid signature by {required} on {digest}: found {}",
        found_list(found)
    )]
    Malformed {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// Signatures of a form this verifier does not check.
    #[error(
        "no signature by {required} on {digest} in a supported form: found {}",
        found_list(found)
    )]
    Unsupported {
        digest: String,
        required: String,
        found: Vec<String>,
    },
    /// Revocation could not be checked, so the signature is not accepted.
    #[error(
        "the revocation of the signature by {required} on {digest} could not be checked ({detail}); the signature is not accepted"
    )]
    RevocationUnchecked {
        digest: String,
        required: String,
        /// The failed call's classification.
        kind: FailureType,
        detail: String,
    },
    /// Trust material named by the policy is unusable (a bad PEM, an unreadable root).
    #[error("{location}: {detail}")]
    TrustMaterial { location: String, detail: String },
    /// A KMS key the policy names is of a kind that cannot be verified.
    #[error("KMS key {key} {detail}")]
    KeyUnsupported { key: String, detail: String },
    /// An AWS call failed (S3, KMS).
    #[error("{0}")]
    Aws(AwsError),
}

/// The signatures found, each with why it did not count; the first few when there are many.
fn found_list(found: &[String]) -> String {
    const SHOWN: usize = 5;
    match found {
        [] => "no signature".to_owned(),
        [one] => format!("1 signature: {one}"),
        many if many.len() <= SHOWN + 1 => {
            format!("{} signatures: {}", many.len(), many.join(", "))
        }
        many => format!(
            "{} signatures: {}, and {} more",
            many.len(),
            many[..SHOWN].join(", "),
            many.len() - SHOWN
        ),
    }
}

impl Failure for VerifyError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::TrustMaterial { .. } | Self::KeyUnsupported { .. } => {
                FailureType::ConfigurationError
            }
            Self::Aws(e) => e.kind(),
            Self::RevocationUnchecked { kind, .. } => *kind,
            _ => FailureType::JobFailed,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::NoSignature { .. } => names::SIGNATURE_MISSING,
            Self::OtherDigest { .. } => names::SIGNATURE_OTHER_DIGEST,
            Self::UntrustedKey { .. } => names::SIGNATURE_UNTRUSTED_KEY,
            Self::UntrustedIdentity { .. } => names::SIGNATURE_UNTRUSTED_IDENTITY,
            Self::WrongProfile { .. } => names::SIGNATURE_WRONG_PROFILE,
            Self::Revoked { .. } => names::SIGNATURE_REVOKED,
            Self::Expired { .. } => names::SIGNATURE_EXPIRED,
            Self::Malformed { .. } => names::SIGNATURE_MALFORMED,
            Self::Unsupported { .. } => names::SIGNATURE_UNSUPPORTED,
            Self::RevocationUnchecked { .. } => names::SIGNATURE_REVOCATION_UNCHECKED,
            Self::TrustMaterial { .. } => names::SIGNATURE_TRUST_MATERIAL,
            Self::KeyUnsupported { .. } => names::SIGNATURE_KEY_UNSUPPORTED,
            Self::Aws(_) => names::AWS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::found_list;

    #[test]
    fn lists_the_first_few_signatures_found() {
        let found: Vec<String> = (1..=9).map(|i| format!("s{i}")).collect();
        assert_eq!(found_list(&found[..1]), "1 signature: s1");
        assert_eq!(
            found_list(&found[..6]),
            "6 signatures: s1, s2, s3, s4, s5, s6"
        );
        assert_eq!(
            found_list(&found),
            "9 signatures: s1, s2, s3, s4, s5, and 4 more"
        );
    }
}

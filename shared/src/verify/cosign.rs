//! cosign signatures: the legacy simple-signing layers (cosign 2 and earlier, found
//! under the `sha256-<hex>.sig` tag) and Sigstore bundles (cosign 3's referrers).
//!
//! A simple-signing layer's blob is the payload
//! `{"critical":{"identity":{"docker-reference":..},"image":{"docker-manifest-digest":"sha256:.."},"type":"cosign container image signature"},"optional":..}`
//! and its `dev.cosignproject.cosign/signature` annotation the base64 signature over those
//! exact bytes. Keys are matched case-insensitively, as cosign's Go decoder does. As with
//! `cosign verify`, `docker-reference` is not compared (images are copied between
//! registries); the digest is. Legacy
//! keyless signatures (a certificate and a SET in the annotations) are not checked: sign
//! with the bundle format.
//!
//! A bundle holds a DSSE envelope whose in-toto statement names the image digest as its
//! subject; sigstore-verify checks it, offline, against the key or the trusted root.

use std::sync::OnceLock;

use base64::Engine;
use serde_json::Value;
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{
    Error, IdentityMatcher, PublicKeyVerificationPolicy, VerificationPolicy, Verifier,
};

use super::keys::PublicKey;
use super::{Accepted, Identity, Reason, Rejection, Subject, reject, short};

pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The `critical.type` of an image signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

fn json_limits() -> crate::json::JsonLimits {
    crate::json::JsonLimits {
        max_bytes: super::MAX_SIGNATURE_BLOB,
        max_nodes: 20_000,
        max_depth: 32,
    }
}

/// `obj[key]`, the exact key first, else the first key equal ignoring ASCII case (Go's
/// `encoding/json` rule).
fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The image digest a simple-signing payload signs, after checking its type.
pub fn payload_digest(payload: &[u8]) -> Result<String, String> {
    let v = crate::json::parse(payload, &json_limits()).map_err(|e| format!("payload {e}"))?;
    let critical = get_ci(&v, "critical").ok_or("payload has no `critical`")?;
    match get_ci(critical, "type").and_then(Value::as_str) {
        Some(t) if t == PAYLOAD_TYPE => {}
        _ => {
            return Err(format!("payload's `critical.type` is not `{PAYLOAD_TYPE}`"));
        }
    }
    get_ci(critical, "image")
        .and_then(|i| get_ci(i, "docker-manifest-digest"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "payload has no `critical.image.docker-manifest-digest`".into())
}

/// Checks one simple-signing signature against a trusted key.
pub(crate) fn simple_signing(
    key: &PublicKey,
    subject: &Subject,
    payload: &[u8],
    signature: Option<&str>,
    at: &str,
) -> Result<Accepted, Rejection> {
    let malformed = |what: &str| {
        reject(
            Reason::Malformed,
            format!("a cosign signature {what} ({at})"),
        )
    };
    let signature = signature.ok_or_else(|| malformed("layer without its signature annotation"))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| malformed("whose signature is not base64"))?;
    if !key.verify(payload, &signature) {
        return Err(reject(
            Reason::Untrusted,
            format!("a cosign signature not by key {} ({at})", short_key(key)),
        ));
    }
    let signed = payload_digest(payload).map_err(|e| malformed(&format!("whose {e}")))?;
    if signed != subject.digest {
        return Err(reject(
            Reason::OtherDigest,
            format!(
                "a cosign signature by key {} over {} ({at})",
                short_key(key),
                short(&signed)
            ),
        ));
    }
    Ok(Accepted {
        signer: format!("cosign key {}", key.id()),
        signed_at: None,
        revocation: None,
    })
}

fn short_key(key: &PublicKey) -> String {
    short(&key.id())
}

/// Reads a bundle layer, refusing hostile JSON before sigstore's decoder sees it.
fn read_bundle(json: &[u8], at: &str) -> Result<Bundle, Rejection> {
    let malformed = |detail: String| {
        reject(
            Reason::Malformed,
            format!("a Sigstore bundle that {detail} ({at})"),
        )
    };
    crate::json::parse(json, &json_limits()).map_err(|e| malformed(e.to_string()))?;
    let text = std::str::from_utf8(json).map_err(|_| malformed("is not UTF-8".into()))?;
    Bundle::from_json(text).map_err(|e| malformed(format!("cannot be read ({e})")))
}

fn subject_hash(subject: &Subject, at: &str) -> Result<Sha256Hash, Rejection> {
    subject
        .digest
        .strip_prefix("sha256:")
        .and_then(|hex| Sha256Hash::from_hex(hex).ok())
        .ok_or_else(|| {
            reject(
                Reason::Unsupported,
                format!("an image digest that is not sha256 ({at})"),
            )
        })
}

/// The trusted root with no authorities: key-based bundles trust the key alone.
fn keyed_verifier() -> Result<&'static Verifier, String> {
    static VERIFIER: OnceLock<Result<Verifier, String>> = OnceLock::new();
    VERIFIER
        .get_or_init(|| {
            super::crypto::install();
            let root = TrustedRoot::from_json(
                r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
            )
            .map_err(|e| e.to_string())?;
            Verifier::new(&root).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Who a bundle's certificate names, for messages: `<SAN> (<issuer>)`.
fn claimed_signer(bundle: &Bundle) -> String {
    bundle
        .signing_certificate()
        .and_then(|c| sigstore_verify::crypto::parse_certificate_info(c).ok())
        .map(|info| {
            format!(
                "{} ({})",
                info.identity.as_ref().map_or("no identity", |s| s.as_str()),
                info.issuer.as_deref().unwrap_or("no issuer")
            )
        })
        .unwrap_or_else(|| "an unreadable certificate".into())
}

/// sigstore-verify's answer, with a panic in it (hostile input it did not foresee) turned
/// into an error, so that one bad bundle never stops the other signatures being tried.
fn guarded<T>(f: impl FnOnce() -> sigstore_verify::Result<T>) -> sigstore_verify::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::InvalidBundle(
            "the bundle made the verifier fail".into(),
        ))
    })
}

/// Checks a bundle signed with a trusted key.
pub(crate) fn bundle_with_key(
    key: &PublicKey,
    subject: &Subject,
    json: &[u8],
    at: &str,
) -> Result<Accepted, Rejection> {
    let bundle = read_bundle(json, at)?;
    let digest = subject_hash(subject, at)?;
    let verifier = keyed_verifier().map_err(|e| {
        reject(
            Reason::Malformed,
            format!("a Sigstore bundle that cannot be checked ({e})"),
        )
    })?;
    if bundle.signing_certificate().is_some() {
        return Err(reject(
            Reason::Untrusted,
            format!(
                "a keyless cosign bundle by {}, not by key {} ({at})",
                claimed_signer(&bundle),
                short_key(key)
            ),
        ));
    }
    let policy =
        PublicKeyVerificationPolicy::new(DerPublicKey::new(key.spki().to_vec())).skip_tlog_unsafe();
    match guarded(|| verifier.verify(digest, &bundle, &policy)) {
        Ok(_) => Ok(Accepted {
            signer: format!("cosign key {}", key.id()),
            signed_at: None,
            revocation: None,
        }),
        Err(Error::ArtifactMismatch(_)) => Err(reject(
            Reason::OtherDigest,
            format!(
                "a cosign bundle by key {} over another digest ({at})",
                short_key(key)
            ),
        )),
        Err(Error::SignatureInvalid(_)) => Err(reject(
            Reason::Untrusted,
            format!("a cosign bundle not by key {} ({at})", short_key(key)),
        )),
        Err(e) => Err(reject(
            Reason::Malformed,
            format!("a cosign bundle that does not verify: {e} ({at})"),
        )),
    }
}

/// Checks a keyless bundle: certificate chain, Rekor entry and the signer's identity.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bundle_keyless(
    verifier: &Verifier,
    identity: &Identity,
    issuer: &str,
    check_sct: bool,
    subject: &Subject,
    json: &[u8],
    at: &str,
) -> Result<Accepted, Rejection> {
    let bundle = read_bundle(json, at)?;
    let digest = subject_hash(subject, at)?;
    if bundle.signing_certificate().is_none() {
        return Err(reject(
            Reason::Untrusted,
            format!("a cosign bundle signed with a key, not keyless ({at})"),
        ));
    }
    let mut policy = VerificationPolicy::any_identity().require_issuer(issuer);
    if let Identity::Exact(exact) = identity {
        policy = policy.require_identity(IdentityMatcher::Exact(exact.clone()));
    }
    if !check_sct {
        policy = policy.skip_sct();
    }
    let claimed = || claimed_signer(&bundle);
    let untrusted = |why: String| {
        reject(
            Reason::Untrusted,
            format!("a keyless cosign bundle by {} ({why}; {at})", claimed()),
        )
    };
    match guarded(|| verifier.verify(digest, &bundle, &policy)) {
        Ok(result) => {
            let san = result
                .identity()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            if !identity.matches(&san) {
                return Err(untrusted("other identity".into()));
            }
            if !result.certificate_verified() || !result.tlog_verified() {
                return Err(untrusted("not fully verified".into()));
            }
            Ok(Accepted {
                signer: format!("keyless {san} ({issuer})"),
                signed_at: result.integrated_time().map(|t| t.to_string()),
                revocation: None,
            })
        }
        Err(Error::IdentityMismatch { .. }) => Err(untrusted("other identity".into())),
        Err(Error::IssuerMismatch { .. }) => Err(untrusted("other issuer".into())),
        Err(Error::ArtifactMismatch(_)) => Err(reject(
            Reason::OtherDigest,
            format!(
                "a keyless cosign bundle by {} over another digest ({at})",
                claimed()
            ),
        )),
        Err(
            e @ (Error::Certificate(_)
            | Error::TransparencyLog(_)
            | Error::Timestamp(_)
            | Error::SignatureInvalid(_)),
        ) => Err(untrusted(format!(
            "does not verify against the trusted root: {e}"
        ))),
        Err(e) => Err(reject(
            Reason::Malformed,
            format!("a keyless cosign bundle that does not verify: {e} ({at})"),
        )),
    }
}

//! Notation signatures made by AWS Signer: a JWS in flattened JSON, checked by hand (no
//! maintained Rust crate verifies Notation signatures).
//!
//! The signature manifest (`artifactType` or `config.mediaType`
//! `application/vnd.cncf.notary.signature`) has one `application/jose+json` layer:
//! `{"payload", "protected", "header": {"x5c": [leaf .. root], "io.cncf.notary.signingAgent"}, "signature"}`.
//! What is checked, in order:
//!
//! 1. the protected header: `cty` is the Notation payload type, `crit` lists
//!    `io.cncf.notary.signingScheme` and every critical header present, no unknown header
//!    is critical, the scheme is `notary.x509.signingAuthority` with an
//!    `io.cncf.notary.authenticSigningTime`, and AWS Signer's profile version and job ARNs
//!    are there;
//! 2. the signature over `protected.payload` (as received) with the leaf's key, by `alg`
//!    (ES256/384 are raw `r||s`; PS256/384/512; ES512 is refused, ring has no P-521),
//!    which must fit the key;
//! 3. the chain from the leaf to one of the user's roots, at the authentic signing time,
//!    with the code-signing extended key usage;
//! 4. the signing profile: a required profile ARN matches the profile version ARN without
//!    its last `/<version>`, a required version ARN matches exactly;
//! 5. the payload's `targetArtifact` digest, size and media type are the image's;
//! 6. `io.cncf.notary.expiry`, if present, has not passed;
//! 7. unless the user skips it, AWS Signer's `GetRevocationStatus` for the profile
//!    version, the job and the chain's certificates (done by the caller, see
//!    [`RevocationQuery`]).

use base64::Engine;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::{Map, Value};
use webpki::ring as algs;

use super::keys::{KeyKind, hex, key_of};
use super::{Accepted, Reason, Rejection, Revocation, Subject, der, reject};

/// The payload content type of a Notation signature.
pub const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// The signing scheme AWS Signer uses.
pub const SIGNING_AUTHORITY: &str = "notary.x509.signingAuthority";
/// AWS Signer's platform for container images.
pub const PLATFORM_ID: &str = "Notation-OCI-SHA384-ECDSA";
/// The most certificates a chain may have.
pub const MAX_CHAIN: usize = 10;
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3).
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

const SCHEME: &str = "io.cncf.notary.signingScheme";
const AUTHENTIC_TIME: &str = "io.cncf.notary.authenticSigningTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const PLUGIN_VERSION: &str = "io.cncf.notary.verificationPluginMinVersion";
const PROFILE_VERSION: &str = "com.amazonaws.signer.signingProfileVersion";
const JOB: &str = "com.amazonaws.signer.signingJob";
const PROFILE_ALIAS: &str = "com.amazonaws.signer.signingProfileAlias";
/// The verification plugin AWS Signer's signatures name: its checks are the ones made here.
pub const AWS_SIGNER_PLUGIN: &str = "com.amazonaws.signer.notation.plugin";
/// How far in the future a signing time may be (clock skew), in seconds.
const SKEW: i64 = 300;

/// Headers that must be listed in `crit` when present.
const MUST_BE_CRITICAL: &[&str] = &[SCHEME, AUTHENTIC_TIME, EXPIRY, PLUGIN, PLUGIN_VERSION];
/// Headers that may be listed in `crit`.
const MAY_BE_CRITICAL: &[&str] = &[
    SCHEME,
    AUTHENTIC_TIME,
    EXPIRY,
    PLUGIN,
    PLUGIN_VERSION,
    PROFILE_VERSION,
    JOB,
    PROFILE_ALIAS,
];

/// What AWS Signer is asked about a signature's revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationQuery {
    /// The authentic signing time, Unix seconds.
    pub signing_time: i64,
    pub profile_version_arn: String,
    pub job_arn: String,
    pub certificate_hashes: Vec<String>,
}

/// AWS Signer's certificate hashes for a chain (DER, leaf first): for each certificate,
/// hex SHA-384 of its to-be-signed part followed by that of its issuer's (the next one);
/// the last (the root) is paired with itself.
pub fn certificate_hashes(chain: &[Vec<u8>]) -> Result<Vec<String>, String> {
    let hashes = chain
        .iter()
        .map(|c| {
            let tbs = der::certificate(c)
                .map_err(|e| format!("a certificate in x5c is not X.509: {e}"))?
                .tbs;
            Ok(hex(
                ring::digest::digest(&ring::digest::SHA384, tbs).as_ref()
            ))
        })
        .collect::<Result<Vec<String>, String>>()?;
    Ok(hashes
        .iter()
        .enumerate()
        .map(|(i, h)| format!("{h}{}", hashes.get(i + 1).unwrap_or(h)))
        .collect())
}

/// Whether a signature's profile version ARN meets a required profile or version ARN.
pub fn profile_matches(required: &str, version_arn: &str) -> bool {
    required == version_arn
        || version_arn
            .rsplit_once('/')
            .is_some_and(|(profile, _)| profile == required)
}

/// The entities AWS Signer says are revoked (none: the signature stands). Asked in the
/// region of the signing profile, which may not be the function's.
pub async fn revoked(
    client: &aws_sdk_signer::Client,
    query: &RevocationQuery,
) -> Result<Vec<String>, crate::error::AwsError> {
    let in_region = aws_sdk_signer::config::Builder::default().region(
        crate::aws::account::arn_region(&query.profile_version_arn)
            .map(|r| aws_sdk_signer::config::Region::new(r.to_owned())),
    );
    let out = client
        .get_revocation_status()
        .signature_timestamp(aws_smithy_types::DateTime::from_secs(query.signing_time))
        .platform_id(PLATFORM_ID)
        .profile_version_arn(&query.profile_version_arn)
        .job_arn(&query.job_arn)
        .set_certificate_hashes(Some(query.certificate_hashes.clone()))
        .customize()
        .config_override(in_region)
        .send()
        .await
        .map_err(|e| crate::error::aws_error("signer:GetRevocationStatus", e))?;
    Ok(out.revoked_entities().to_vec())
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

fn limits() -> crate::json::JsonLimits {
    crate::json::JsonLimits {
        max_bytes: super::MAX_SIGNATURE_BLOB,
        max_nodes: 50_000,
        max_depth: 16,
    }
}

fn rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The parts of a JWS the checks read.
struct Jws {
    protected_b64: String,
    payload_b64: String,
    header: Map<String, Value>,
    payload: Value,
    signature: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn parse(jws: &[u8]) -> Result<Jws, String> {
    let v = crate::json::parse(jws, &limits()).map_err(|e| format!("JWS {e}"))?;
    let obj = v.as_object().ok_or("JWS that is not a JSON object")?;
    for key in obj.keys() {
        if !["payload", "protected", "header", "signature"].contains(&key.as_str()) {
            return Err(format!("JWS with the unknown member `{key}`"));
        }
    }
    let field = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("JWS without `{k}`"))
    };
    let protected_b64 = field("protected")?.to_owned();
    let payload_b64 = field("payload")?.to_owned();
    let signature = b64url(field("signature")?).ok_or("JWS whose signature is not base64url")?;
    let unprotected = obj
        .get("header")
        .and_then(Value::as_object)
        .ok_or("JWS without its unprotected `header`")?;
    for key in unprotected.keys() {
        if !["x5c", "io.cncf.notary.signingAgent"].contains(&key.as_str()) {
            return Err(format!("JWS with the unknown unprotected header `{key}`"));
        }
    }
    let x5c = unprotected
        .get("x5c")
        .and_then(Value::as_array)
        .ok_or("JWS without `x5c`")?;
    if x5c.is_empty() || x5c.len() > MAX_CHAIN {
        return Err(format!(
            "JWS whose x5c holds {} certificates (1 to {MAX_CHAIN} allowed)",
            x5c.len()
        ));
    }
    let chain = x5c
        .iter()
        .map(|c| {
            c.as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .ok_or("JWS with an x5c entry that is not base64")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let protected = b64url(&protected_b64).ok_or("JWS whose protected header is not base64url")?;
    let header = match crate::json::parse(&protected, &limits()) {
        Ok(Value::Object(m)) => m,
        _ => return Err("JWS whose protected header is not a JSON object".into()),
    };
    let payload = b64url(&payload_b64).ok_or("JWS whose payload is not base64url")?;
    let payload =
        crate::json::parse(&payload, &limits()).map_err(|e| format!("JWS payload {e}"))?;
    Ok(Jws {
        protected_b64,
        payload_b64,
        header,
        payload,
        signature,
        chain,
    })
}

/// The header checks (1): an error is `(reason, text)`.
fn check_header(h: &Map<String, Value>) -> Result<(), (Reason, String)> {
    let bad = |t: String| (Reason::Malformed, t);
    let s = |k: &str| h.get(k).and_then(Value::as_str);
    if s("cty") != Some(PAYLOAD_TYPE) {
        return Err(bad(format!(
            "protected header whose `cty` is not `{PAYLOAD_TYPE}`"
        )));
    }
    let crit: Vec<&str> = match h.get("crit").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => c
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| bad("`crit` with a non-string entry".into()))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("protected header without `crit`".into())),
    };
    for name in &crit {
        if !MAY_BE_CRITICAL.contains(name) {
            return Err((
                Reason::Unsupported,
                format!("protected header with the unknown critical header `{name}`"),
            ));
        }
        if !h.contains_key(*name) {
            return Err(bad(format!(
                "`crit` listing `{name}`, which is not in the header"
            )));
        }
    }
    for name in MUST_BE_CRITICAL {
        if h.contains_key(*name) && !crit.contains(name) {
            return Err(bad(format!(
                "protected header with `{name}` not listed in `crit`"
            )));
        }
    }
    if let Some(plugin) = h
        .get(PLUGIN)
        .filter(|p| p.as_str() != Some(AWS_SIGNER_PLUGIN))
    {
        return Err((
            Reason::Unsupported,
            format!(
                "verification plugin {plugin} (only AWS Signer's, {AWS_SIGNER_PLUGIN}, is checked)"
            ),
        ));
    }
    if s(SCHEME) != Some(SIGNING_AUTHORITY) {
        return Err((
            Reason::Unsupported,
            format!("signing scheme other than `{SIGNING_AUTHORITY}` (AWS Signer's)"),
        ));
    }
    Ok(())
}

/// The ring algorithm for `alg` and the leaf key kind it needs.
fn algorithm(alg: &str) -> Option<(&'static dyn ring::signature::VerificationAlgorithm, KeyKind)> {
    use ring::signature as s;
    Some(match alg {
        "ES256" => (&s::ECDSA_P256_SHA256_FIXED, KeyKind::P256),
        "ES384" => (&s::ECDSA_P384_SHA384_FIXED, KeyKind::P384),
        "PS256" => (&s::RSA_PSS_2048_8192_SHA256, KeyKind::Rsa),
        "PS384" => (&s::RSA_PSS_2048_8192_SHA384, KeyKind::Rsa),
        "PS512" => (&s::RSA_PSS_2048_8192_SHA512, KeyKind::Rsa),
        _ => return None,
    })
}

const CHAIN_ALGS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    algs::ECDSA_P256_SHA256,
    algs::ECDSA_P256_SHA384,
    algs::ECDSA_P384_SHA256,
    algs::ECDSA_P384_SHA384,
    algs::ED25519,
    algs::RSA_PKCS1_2048_8192_SHA256,
    algs::RSA_PKCS1_2048_8192_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA512,
    algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Whether `chain` (leaf first) leads to one of `roots` at `time`, for code signing.
fn check_chain(chain: &[Vec<u8>], roots: &[Vec<u8>], time: i64) -> Result<(), String> {
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let anchors: Vec<_> = root_ders
        .iter()
        .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
        .collect();
    let leaf = CertificateDer::from(chain[0].as_slice());
    let leaf = webpki::EndEntityCert::try_from(&leaf)
        .map_err(|e| format!("its leaf certificate cannot be read ({e:?})"))?;
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(time.max(0) as u64));
    leaf.verify_for_usage(
        CHAIN_ALGS,
        &anchors,
        &intermediates,
        at,
        webpki::KeyUsage::required(CODE_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("{e:?}"))
}

/// Checks one Notation signature against a requirement (steps 1-6); the revocation
/// query, when required, is left in the answer.
pub(crate) fn verify(
    jws: &[u8],
    subject: &Subject,
    profiles: &[String],
    roots: &[Vec<u8>],
    revocation: Revocation,
    now: i64,
    at: &str,
) -> Result<Accepted, Rejection> {
    let malformed = |t: String| {
        reject(
            Reason::Malformed,
            format!("a Notation signature: {t} ({at})"),
        )
    };
    let jws = parse(jws).map_err(malformed)?;
    check_header(&jws.header)
        .map_err(|(reason, t)| reject(reason, format!("a Notation signature: {t} ({at})")))?;
    let h = |k: &str| jws.header.get(k).and_then(Value::as_str);
    let signed_at_text =
        h(AUTHENTIC_TIME).ok_or_else(|| malformed(format!("no `{AUTHENTIC_TIME}`")))?;
    let signed_at = rfc3339(signed_at_text)
        .ok_or_else(|| malformed(format!("`{AUTHENTIC_TIME}` is not an RFC 3339 time")))?;
    if signed_at > now + SKEW {
        return Err(malformed(format!(
            "`{AUTHENTIC_TIME}` {signed_at_text} is in the future"
        )));
    }
    let expiry = match jws.header.get(EXPIRY) {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(rfc3339)
                .ok_or_else(|| malformed(format!("`{EXPIRY}` is not an RFC 3339 time")))?,
        ),
    };
    let (Some(version_arn), Some(job_arn)) = (h(PROFILE_VERSION), h(JOB)) else {
        return Err(malformed(format!(
            "no `{PROFILE_VERSION}` or `{JOB}`: not made by AWS Signer"
        )));
    };
    // (2) The signature, with the leaf's key, by an `alg` that fits it.
    let alg = h("alg").unwrap_or_default();
    let parts = der::certificate(&jws.chain[0])
        .map_err(|e| malformed(format!("its leaf certificate is not X.509 ({e})")))?;
    let (kind, raw_key) =
        key_of(parts.spki).map_err(|e| malformed(format!("its leaf certificate's key is {e}")))?;
    let (algorithm, wants) = algorithm(alg).ok_or_else(|| {
        malformed(format!(
            "unsupported `alg` `{alg}` (ES256, ES384, PS256, PS384, PS512)"
        ))
    })?;
    if wants != kind {
        return Err(malformed(format!(
            "`alg` {alg} does not fit its {} leaf key",
            kind.name()
        )));
    }
    let input = format!("{}.{}", jws.protected_b64, jws.payload_b64);
    ring::signature::UnparsedPublicKey::new(algorithm, raw_key)
        .verify(input.as_bytes(), &jws.signature)
        .map_err(|_| malformed("its signature does not verify with its leaf certificate".into()))?;
    // (3) The chain.
    let who = format!("notation profile {version_arn}");
    check_chain(&jws.chain, roots, signed_at).map_err(|e| {
        reject(
            Reason::Untrusted,
            format!("{who} (certificate chain not to the trusted roots: {e}; {at})"),
        )
    })?;
    // (4) The profile.
    if !profiles.iter().any(|p| profile_matches(p, version_arn)) {
        return Err(reject(
            Reason::Untrusted,
            format!("{who} (other profile; {at})"),
        ));
    }
    // (5) The target.
    let target = jws
        .payload
        .get("targetArtifact")
        .ok_or_else(|| malformed("payload without `targetArtifact`".into()))?;
    let digest = target
        .get("digest")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if digest != subject.digest {
        return Err(reject(
            Reason::OtherDigest,
            format!("{who} over {} ({at})", super::short(digest)),
        ));
    }
    let size = target.get("size").and_then(Value::as_u64);
    let media_type = target.get("mediaType").and_then(Value::as_str);
    if size != Some(subject.size) || media_type != Some(subject.media_type.as_str()) {
        return Err(reject(
            Reason::OtherDigest,
            format!(
                "{who} over {} of size {} and type {} (the image is {} bytes of {}; {at})",
                super::short(digest),
                size.map_or("none".into(), |s| s.to_string()),
                media_type.unwrap_or("none"),
                subject.size,
                subject.media_type
            ),
        ));
    }
    // (6) Expiry.
    if expiry.is_some_and(|e| now > e) {
        return Err(reject(
            Reason::Expired,
            format!("{who} (expired at {}; {at})", h(EXPIRY).unwrap_or_default()),
        ));
    }
    let revocation = match revocation {
        Revocation::Skip => None,
        Revocation::Required => Some(RevocationQuery {
            signing_time: signed_at,
            profile_version_arn: version_arn.to_owned(),
            job_arn: job_arn.to_owned(),
            certificate_hashes: certificate_hashes(&jws.chain).map_err(malformed)?,
        }),
    };
    Ok(Accepted {
        signer: who,
        signed_at: Some(signed_at_text.to_owned()),
        revocation,
    })
}

//! The signatures an image must carry, as the user writes them: read from the `verify`
//! value with [`Requirements::parse`] (every problem at once, each at its path), then
//! loaded into a [`Policy`](super::Policy) by [`load`](super::load).
//!
//! ```json
//! "verify": {"require": [
//!   {"cosign": {"key": "-----BEGIN PUBLIC KEY-----\n..."}},
//!   {"cosign": {"kmsKey": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-..."}},
//!   {"cosign": {"keyUri": "s3://bucket/cosign.pub"}},
//!   {"cosign": {"identity": "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
//!               "issuer": "https://token.actions.githubusercontent.com",
//!               "trustedRoot": "s3://bucket/trusted_root.json"}},
//!   {"cosign": {"identityPrefix": "https://github.com/org/", "issuer": "...", "trustedRoot": "s3://..."}},
//!   {"notation": {"signingProfiles": ["arn:aws:signer:eu-west-1:111122223333:/signing-profiles/release"],
//!                 "rootCertificates": "s3://bucket/aws-signer-root.pem",
//!                 "revocation": "required"}}
//! ]}
//! ```
//!
//! Every requirement must be met by at least one valid signature (one signature may meet
//! several). A cosign requirement names one key (PEM text, a KMS key ARN, or a PEM in S3)
//! or one keyless signer: the certificate's exact SAN (`identity`) or its start
//! (`identityPrefix`), the OIDC issuer, and the Sigstore `trusted_root.json` in S3 (it does
//! not fit in `UserParameters`). A key-based requirement trusts the key alone: a
//! transparency log entry, if the signature has one, is not checked. A keyless one checks
//! the certificate chain, the Rekor entry (signed entry timestamp, inclusion proof and
//! checkpoint) against the trusted root, and the certificate's SCT when that root lists
//! certificate transparency logs (a private root without CT logs skips the SCT).
//!
//! A notation requirement lists AWS Signer signing profiles: a profile ARN accepts every
//! version of the profile, a profile version ARN that version only; wildcards are refused.
//! `rootCertificates` is a PEM file (one or more certificates) in S3 that signatures'
//! chains must end at; `revocation` is `required` (the default: AWS Signer is asked
//! whether the profile, the job or a certificate was revoked, and a failed call refuses
//! the signature) or `skip`.
//!
//! A keyless requirement's identity is matched against the certificate's SAN (URI or
//! email) exactly, or by prefix with `identityPrefix`; the issuer exactly. Legacy keyless
//! cosign signatures (a certificate and a SET in the `.sig` tag's annotations) are
//! refused with a message to sign with the bundle format.

use serde_json::{Map, Value};

use super::keys::PublicKey;
use crate::problem::{Problems, join};

/// The requirements as written, checked but with no trust material loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements(pub Vec<Requirement>);

/// One requirement, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    CosignKey(KeySource),
    CosignKeyless {
        identity: Identity,
        issuer: String,
        trusted_root: S3Object,
    },
    Notation {
        profiles: Vec<String>,
        root_certificates: S3Object,
        revocation: Revocation,
    },
}

/// Where a cosign public key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Pem(String),
    Kms(String),
    S3(S3Object),
}

/// The certificate identity (SAN) a keyless signature must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Exact(String),
    Prefix(String),
}

impl Identity {
    pub fn matches(&self, san: &str) -> bool {
        match self {
            Self::Exact(want) => san == want,
            Self::Prefix(start) => san.starts_with(start.as_str()),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(s) => write!(f, "identity {s}"),
            Self::Prefix(s) => write!(f, "identity starting with {s}"),
        }
    }
}

/// Whether AWS Signer is asked about revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Required,
    Skip,
}

/// `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
}

impl S3Object {
    pub fn parse(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl std::fmt::Display for S3Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

const EXAMPLE: &str = r#"{"require": [{"cosign": {"keyUri": "s3://bucket/cosign.pub"}}]}"#;

impl Requirements {
    /// Reads the `verify` object found at `path` (`UserParameters.verify`), reporting every
    /// problem at once, each at its path.
    pub fn parse(value: &Value, path: &str) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let mut out = Vec::new();
        match value {
            Value::Object(map) => {
                unknown_keys(map, &["require"], path, &mut problems);
                match map.get("require") {
                    Some(Value::Array(items)) if !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            let at = format!("{}[{i}]", join(path, "require"));
                            if let Some(r) = requirement(item, &at, &mut problems) {
                                out.push(r);
                            }
                        }
                    }
                    Some(Value::Array(_)) | None => problems.push(
                        join(path, "require"),
                        format!(
                            "is missing or empty: list the signatures required, e.g. {EXAMPLE}"
                        ),
                    ),
                    Some(_) => {
                        problems.push(join(path, "require"), "must be a list of requirements")
                    }
                }
            }
            _ => problems.push(path, format!("must be an object, e.g. {EXAMPLE}")),
        }
        problems.into_result(Self(out))
    }
}

fn unknown_keys(map: &Map<String, Value>, known: &[&str], path: &str, problems: &mut Problems) {
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        problems.push(
            join(path, key),
            format!(
                "is not a known setting; use {}",
                crate::problem::list(known)
            ),
        );
    }
}

fn requirement(item: &Value, path: &str, problems: &mut Problems) -> Option<Requirement> {
    let Value::Object(map) = item else {
        problems.push(path, "must be an object with `cosign` or `notation`");
        return None;
    };
    match (map.len(), map.get("cosign"), map.get("notation")) {
        (1, Some(v), _) => cosign(v, &join(path, "cosign"), problems),
        (1, _, Some(v)) => notation(v, &join(path, "notation"), problems),
        _ => {
            problems.push(
                path,
                "must have exactly one of `cosign` or `notation` (list each requirement separately)",
            );
            None
        }
    }
}

/// A string field: `None` when absent; a problem when not a non-empty string.
fn text<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Problems,
) -> Option<&'a str> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => {
            problems.push(join(path, key), "must be a non-empty string");
            None
        }
    }
}

fn s3(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Problems,
) -> Option<S3Object> {
    let uri = text(map, key, path, problems)?;
    let parsed = S3Object::parse(uri);
    if parsed.is_none() {
        problems.push(
            join(path, key),
            format!("`{uri}` is not an S3 location (s3://bucket/key)"),
        );
    }
    parsed
}

fn cosign(value: &Value, path: &str, problems: &mut Problems) -> Option<Requirement> {
    const KEYS: &[&str] = &[
        "key",
        "kmsKey",
        "keyUri",
        "identity",
        "identityPrefix",
        "issuer",
        "trustedRoot",
    ];
    let Value::Object(map) = value else {
        problems.push(path, "must be an object: a key (`key`, `kmsKey`, `keyUri`) or a keyless signer (`identity`, `issuer`, `trustedRoot`)");
        return None;
    };
    unknown_keys(map, KEYS, path, problems);
    let keyed: Vec<&str> = ["key", "kmsKey", "keyUri"]
        .into_iter()
        .filter(|k| map.contains_key(*k))
        .collect();
    let keyless: Vec<&str> = ["identity", "identityPrefix", "issuer", "trustedRoot"]
        .into_iter()
        .filter(|k| map.contains_key(*k))
        .collect();
    if !keyed.is_empty() {
        if keyed.len() > 1 || !keyless.is_empty() {
            problems.push(
                path,
                format!(
                    "names {} together; give one key, or a keyless signer, per requirement",
                    crate::problem::list(keyed.iter().chain(&keyless))
                ),
            );
            return None;
        }
        return match keyed[0] {
            "key" => {
                let pem = text(map, "key", path, problems)?;
                match PublicKey::from_pem(pem) {
                    Ok(_) => Some(Requirement::CosignKey(KeySource::Pem(pem.to_owned()))),
                    Err(e) => {
                        problems.push(
                            join(path, "key"),
                            format!("is not a usable PEM public key: {e}"),
                        );
                        None
                    }
                }
            }
            "kmsKey" => {
                let arn = text(map, "kmsKey", path, problems)?;
                if arn.starts_with("arn:")
                    && arn.contains(":kms:")
                    && (arn.contains(":key/") || arn.contains(":alias/"))
                {
                    Some(Requirement::CosignKey(KeySource::Kms(arn.to_owned())))
                } else {
                    problems.push(
                        join(path, "kmsKey"),
                        format!("`{arn}` is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"),
                    );
                    None
                }
            }
            _ => {
                s3(map, "keyUri", path, problems).map(|o| Requirement::CosignKey(KeySource::S3(o)))
            }
        };
    }
    let identity = match (
        text(map, "identity", path, problems),
        text(map, "identityPrefix", path, problems),
    ) {
        (Some(_), Some(_)) => {
            problems.push(path, "has both `identity` and `identityPrefix`; keep one");
            None
        }
        (Some(exact), None) => Some(Identity::Exact(exact.to_owned())),
        (None, Some(prefix)) => Some(Identity::Prefix(prefix.to_owned())),
        (None, None) => {
            if !map.contains_key("identity") && !map.contains_key("identityPrefix") {
                problems.push(
                    path,
                    "names no signer: give `key`, `kmsKey` or `keyUri`, or a keyless `identity` (or `identityPrefix`) with `issuer` and `trustedRoot`",
                );
            }
            None
        }
    };
    let issuer = text(map, "issuer", path, problems);
    if let Some(issuer) = issuer {
        if !issuer.starts_with("https://") {
            problems.push(
                join(path, "issuer"),
                format!("`{issuer}` is not an OIDC issuer URL (https://...)"),
            );
        }
    } else if !map.contains_key("issuer") {
        problems.push(
            join(path, "issuer"),
            "is missing: a keyless signer needs the OIDC issuer URL",
        );
    }
    let root = s3(map, "trustedRoot", path, problems);
    if !map.contains_key("trustedRoot") {
        problems.push(join(path, "trustedRoot"), "is missing: a keyless signer needs the Sigstore trusted_root.json in S3 (s3://bucket/key)");
    }
    match (identity, issuer, root) {
        (Some(identity), Some(issuer), Some(trusted_root)) if issuer.starts_with("https://") => {
            Some(Requirement::CosignKeyless {
                identity,
                issuer: issuer.to_owned(),
                trusted_root,
            })
        }
        _ => None,
    }
}

/// Whether `arn` is an AWS Signer signing profile ARN, or a profile version ARN.
pub fn is_profile_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, _partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    let Some(profile) = resource.strip_prefix("/signing-profiles/") else {
        return false;
    };
    let segments: Vec<&str> = profile.split('/').collect();
    *arn_ == "arn"
        && *service == "signer"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=2).contains(&segments.len())
        && segments.iter().all(|s| !s.is_empty())
}

fn notation(value: &Value, path: &str, problems: &mut Problems) -> Option<Requirement> {
    let Value::Object(map) = value else {
        problems.push(
            path,
            "must be an object with `signingProfiles` and `rootCertificates`",
        );
        return None;
    };
    unknown_keys(
        map,
        &["signingProfiles", "rootCertificates", "revocation"],
        path,
        problems,
    );
    let at = join(path, "signingProfiles");
    let mut profiles = Vec::new();
    let mut good = true;
    match map.get("signingProfiles") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}[{i}]");
                match item.as_str() {
                    Some(arn) if arn.contains('*') => {
                        problems.push(here, format!("`{arn}` has a wildcard; name each signing profile (or profile version) ARN"));
                        good = false;
                    }
                    Some(arn) if is_profile_arn(arn) => profiles.push(arn.to_owned()),
                    Some(arn) => {
                        problems.push(here, format!("`{arn}` is not an AWS Signer signing profile ARN (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME, optionally /VERSION)"));
                        good = false;
                    }
                    None => {
                        problems.push(here, "must be a string");
                        good = false;
                    }
                }
            }
        }
        _ => {
            problems.push(
                at,
                "is missing or empty: list the AWS Signer signing profile ARNs trusted",
            );
            good = false;
        }
    }
    let roots = s3(map, "rootCertificates", path, problems);
    if !map.contains_key("rootCertificates") {
        problems.push(join(path, "rootCertificates"), "is missing: the PEM root certificate(s) in S3 (s3://bucket/key) that signatures must chain to");
    }
    let revocation = match map.get("revocation") {
        None => Some(Revocation::Required),
        Some(Value::String(s)) if s == "required" => Some(Revocation::Required),
        Some(Value::String(s)) if s == "skip" => Some(Revocation::Skip),
        Some(_) => {
            problems.push(
                join(path, "revocation"),
                "must be `required` (the default) or `skip`",
            );
            None
        }
    };
    match (good, roots, revocation) {
        (true, Some(root_certificates), Some(revocation)) => Some(Requirement::Notation {
            profiles,
            root_certificates,
            revocation,
        }),
        _ => None,
    }
}

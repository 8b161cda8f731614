//! The requirements with their trust material loaded (S3 objects, KMS public keys): what
//! [`check`](super::check) checks signatures against.

use std::sync::Arc;

use sigstore_verify::Verifier;
use sigstore_verify::trust_root::TrustedRoot;

use super::error::VerifyError;
use super::keys::{PublicKey, pem_blocks};
use super::policy::{Identity, KeySource, Requirement, Requirements, Revocation, S3Object};

/// The most a trust file in S3 may be.
pub const MAX_TRUST_FILE: u64 = 1 << 20;

/// The requirements with their trust material loaded: what [`check`](super::check) uses.
#[derive(Debug, Clone)]
pub struct Policy {
    pub require: Vec<Trust>,
}

/// One requirement, ready to check signatures against.
#[derive(Clone)]
pub enum Trust {
    CosignKey {
        key: PublicKey,
        /// Where the key came from, for messages: `KMS key <ARN>`, `s3://..`, `given inline`.
        source: String,
    },
    CosignKeyless {
        identity: Identity,
        issuer: String,
        verifier: Arc<Verifier>,
        /// Whether the trusted root lists CT logs (else the SCT is not checked).
        check_sct: bool,
    },
    Notation {
        profiles: Vec<String>,
        /// DER root certificates.
        roots: Vec<Vec<u8>>,
        revocation: Revocation,
    },
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Trust {
    /// Whose signature the requirement asks for, for messages: "the cosign key sha256:..".
    pub fn describe(&self) -> String {
        match self {
            Self::CosignKey { key, source } => format!("the cosign key {} ({source})", key.id()),
            Self::CosignKeyless {
                identity, issuer, ..
            } => format!("the keyless cosign signer with {identity} and issuer {issuer}"),
            Self::Notation { profiles, .. } => match profiles.as_slice() {
                [one] => format!("the AWS Signer profile {one}"),
                many => format!("one of the AWS Signer profiles {}", many.join(", ")),
            },
        }
    }

    /// A keyless signer trusted through `trusted_root_json` (a Sigstore `trusted_root.json`).
    pub fn keyless(
        identity: Identity,
        issuer: &str,
        trusted_root_json: &str,
    ) -> Result<Self, String> {
        super::crypto::install();
        let root = TrustedRoot::from_json(trusted_root_json)
            .map_err(|e| format!("is not a Sigstore trusted root ({e})"))?;
        if root.certificate_authorities.is_empty() || root.tlogs.is_empty() {
            return Err("lists no certificate authority or no transparency log; a keyless signature needs both".into());
        }
        let check_sct = !root.ctlogs.is_empty();
        let verifier = Verifier::new(&root)
            .map_err(|e| format!("is not a usable Sigstore trusted root ({e})"))?;
        Ok(Self::CosignKeyless {
            identity,
            issuer: issuer.to_owned(),
            verifier: Arc::new(verifier),
            check_sct,
        })
    }

    /// AWS Signer profiles whose signatures chain to the roots in `roots_pem`.
    pub fn notation(
        profiles: Vec<String>,
        roots_pem: &str,
        revocation: Revocation,
    ) -> Result<Self, String> {
        let roots = pem_blocks(roots_pem, "CERTIFICATE")?;
        if roots.is_empty() {
            return Err("holds no `-----BEGIN CERTIFICATE-----` block".into());
        }
        for root in &roots {
            let der = rustls_pki_types::CertificateDer::from(root.as_slice());
            webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| format!("holds a certificate that cannot be a root ({e:?})"))?;
        }
        Ok(Self::Notation {
            profiles,
            roots,
            revocation,
        })
    }
}

/// The AWS clients trust material and revocation are read with.
#[derive(Debug, Clone)]
pub struct Lookups {
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub signer: aws_sdk_signer::Client,
}

impl Lookups {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            // S3-compatible endpoints (set through AWS_ENDPOINT_URL[_S3]) want path-style.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(crate::aws::custom_endpoint(config, "S3"))
                    .build(),
            ),
            kms: crate::aws::clients::kms(config),
            signer: crate::aws::clients::signer(config),
        }
    }
}

/// Loads every requirement's trust material: S3 objects, KMS public keys.
pub async fn load(spec: &Requirements, lookups: &Lookups) -> Result<Policy, VerifyError> {
    // All at once: a policy of several requirements costs one round trip, not one each.
    let require =
        futures::future::try_join_all(spec.0.iter().map(|r| load_one(r, lookups))).await?;
    Ok(Policy { require })
}

async fn load_one(requirement: &Requirement, lookups: &Lookups) -> Result<Trust, VerifyError> {
    let bad =
        |location: String| move |detail: String| VerifyError::TrustMaterial { location, detail };
    Ok(match requirement {
        Requirement::CosignKey(KeySource::Pem(pem)) => Trust::CosignKey {
            key: PublicKey::from_pem(pem).map_err(bad("the cosign key".into()))?,
            source: "given inline".into(),
        },
        Requirement::CosignKey(KeySource::S3(object)) => {
            let text = read_s3(object, lookups).await?;
            Trust::CosignKey {
                key: PublicKey::from_pem(&text).map_err(bad(object.to_string()))?,
                source: object.to_string(),
            }
        }
        Requirement::CosignKey(KeySource::Kms(arn)) => Trust::CosignKey {
            key: kms_key(arn, lookups).await?,
            source: format!("KMS key {arn}"),
        },
        Requirement::CosignKeyless {
            identity,
            issuer,
            trusted_root,
        } => {
            let text = read_s3(trusted_root, lookups).await?;
            Trust::keyless(identity.clone(), issuer, &text)
                .map_err(bad(trusted_root.to_string()))?
        }
        Requirement::Notation {
            profiles,
            root_certificates,
            revocation,
        } => {
            let text = read_s3(root_certificates, lookups).await?;
            Trust::notation(profiles.clone(), &text, *revocation)
                .map_err(bad(root_certificates.to_string()))?
        }
    })
}

/// An S3 object's text, at most [`MAX_TRUST_FILE`] bytes.
async fn read_s3(object: &S3Object, lookups: &Lookups) -> Result<String, VerifyError> {
    let bad = |detail: String| VerifyError::TrustMaterial {
        location: object.to_string(),
        detail,
    };
    let out = lookups
        .s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| {
            let e = crate::error::aws_error("s3:GetObject", e);
            match e.code() {
                Some("NoSuchKey" | "NoSuchBucket") => bad("does not exist".into()),
                _ => VerifyError::Aws(e),
            }
        })?;
    if out
        .content_length()
        .is_some_and(|n| n < 0 || n as u64 > MAX_TRUST_FILE)
    {
        return Err(bad(format!(
            "is larger than the {MAX_TRUST_FILE} bytes a trust file may be"
        )));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| {
            VerifyError::Aws(crate::error::AwsError::local(
                "s3:GetObject",
                format!("reading the body failed: {e}"),
            ))
        })?
        .into_bytes();
    if bytes.len() as u64 > MAX_TRUST_FILE {
        return Err(bad(format!(
            "is larger than the {MAX_TRUST_FILE} bytes a trust file may be"
        )));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| bad("is not UTF-8 text".into()))
}

/// A KMS key's public key (`kms:GetPublicKey`), asked in the key ARN's region.
async fn kms_key(arn: &str, lookups: &Lookups) -> Result<PublicKey, VerifyError> {
    let in_region = aws_sdk_kms::config::Builder::default().region(
        crate::aws::account::arn_region(arn)
            .map(|r| aws_sdk_kms::config::Region::new(r.to_owned())),
    );
    let out = lookups
        .kms
        .get_public_key()
        .key_id(arn)
        .customize()
        .config_override(in_region)
        .send()
        .await
        .map_err(|e| VerifyError::Aws(crate::error::aws_error("kms:GetPublicKey", e)))?;
    let unsupported = |detail: String| VerifyError::KeyUnsupported {
        key: arn.to_owned(),
        detail,
    };
    if out.key_usage().is_some_and(|u| u.as_str() != "SIGN_VERIFY") {
        return Err(unsupported(
            "is not a signing key (its key usage is not SIGN_VERIFY)".into(),
        ));
    }
    let spki = out
        .public_key()
        .ok_or_else(|| unsupported("has no public key in the answer".into()))?;
    let spec = out.key_spec().map(|s| s.as_str()).unwrap_or("unknown");
    let algorithms: Vec<&str> = out
        .signing_algorithms()
        .iter()
        .map(|a| a.as_str())
        .collect();
    PublicKey::from_kms(spki.as_ref(), spec, &algorithms).map_err(unsupported)
}

//! Public keys: read from PEM, from a `SubjectPublicKeyInfo` or from KMS's `GetPublicKey`,
//! with the signature schemes each accepts, verified with ring.

use base64::Engine;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use super::der;

/// The DER of the OIDs a key's algorithm is named by.
pub mod oid {
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    pub const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    pub const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
}

/// What kind of key a `SubjectPublicKeyInfo` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    P521,
    Rsa,
    Ed25519,
}

impl KeyKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "ECDSA P-256",
            Self::P384 => "ECDSA P-384",
            Self::P521 => "ECDSA P-521",
            Self::Rsa => "RSA",
            Self::Ed25519 => "Ed25519",
        }
    }
}

/// The kind of key an SPKI holds and its raw key bytes (the uncompressed point, the
/// PKCS#1 `RSAPublicKey`, the 32 Ed25519 bytes): what ring verifies with.
pub fn key_of(spki_der: &[u8]) -> Result<(KeyKind, &[u8]), String> {
    let spki = der::spki(spki_der).map_err(|e| format!("not a DER SubjectPublicKeyInfo ({e})"))?;
    let kind = match (spki.algorithm, spki.parameters) {
        (oid::EC_PUBLIC_KEY, oid::P256) => KeyKind::P256,
        (oid::EC_PUBLIC_KEY, oid::P384) => KeyKind::P384,
        (oid::EC_PUBLIC_KEY, oid::P521) => KeyKind::P521,
        (oid::EC_PUBLIC_KEY, _) => {
            return Err("an EC key on a curve other than P-256/384/521".into());
        }
        (oid::RSA, _) => KeyKind::Rsa,
        (oid::ED25519, _) => KeyKind::Ed25519,
        _ => return Err("a key of an unsupported algorithm".into()),
    };
    Ok((kind, spki.key))
}

/// A trusted public key and the signature schemes it is trusted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
    kind: KeyKind,
    schemes: Vec<Scheme>,
}

/// A signature scheme over the message itself (ECDSA signatures in ASN.1 DER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    Ed25519,
    RsaPkcs1Sha256,
    RsaPssSha256,
}

impl Scheme {
    fn algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
            Self::Ed25519 => &signature::ED25519,
            Self::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        }
    }
}

impl PublicKey {
    /// A key from its DER `SubjectPublicKeyInfo`, trusted for the schemes cosign signs
    /// with that kind of key (ECDSA with the curve's hash, RSA PKCS#1 v1.5 with SHA-256).
    pub fn from_spki(spki: &[u8]) -> Result<Self, String> {
        let (kind, _) = key_of(spki)?;
        let schemes = match kind {
            KeyKind::P256 => vec![Scheme::EcdsaP256Sha256],
            KeyKind::P384 => vec![Scheme::EcdsaP384Sha384],
            KeyKind::Rsa => vec![Scheme::RsaPkcs1Sha256, Scheme::RsaPssSha256],
            KeyKind::Ed25519 => vec![Scheme::Ed25519],
            KeyKind::P521 => return Err("a P-521 key, which is not supported".into()),
        };
        Ok(Self {
            spki: spki.to_vec(),
            kind,
            schemes,
        })
    }

    /// A key from a PEM `PUBLIC KEY` block.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let blocks = pem_blocks(pem, "PUBLIC KEY")?;
        match blocks.as_slice() {
            [one] => Self::from_spki(one),
            [] => Err("no `-----BEGIN PUBLIC KEY-----` block".into()),
            _ => Err("more than one public key; give one per requirement".into()),
        }
    }

    /// A KMS key from `GetPublicKey`'s answer: its DER SPKI, `KeySpec` and
    /// `SigningAlgorithms`. Only the schemes both KMS and ring support are kept.
    pub fn from_kms(spki: &[u8], key_spec: &str, algorithms: &[&str]) -> Result<Self, String> {
        let wanted: &[(&str, Scheme)] = match key_spec {
            "ECC_NIST_P256" => &[("ECDSA_SHA_256", Scheme::EcdsaP256Sha256)],
            "RSA_2048" | "RSA_3072" | "RSA_4096" => &[
                ("RSASSA_PKCS1_V1_5_SHA_256", Scheme::RsaPkcs1Sha256),
                ("RSASSA_PSS_SHA_256", Scheme::RsaPssSha256),
            ],
            other => {
                return Err(format!(
                    "has key spec {other}; use an ECC_NIST_P256 key (ECDSA_SHA_256) or an \
                     RSA_2048/3072/4096 key (RSASSA_PKCS1_V1_5_SHA_256 or RSASSA_PSS_SHA_256)"
                ));
            }
        };
        let (kind, _) = key_of(spki).map_err(|e| format!("has a public key that is {e}"))?;
        let schemes: Vec<Scheme> = wanted
            .iter()
            .filter(|(name, _)| algorithms.contains(name))
            .map(|(_, s)| *s)
            .collect();
        let expected = if key_spec == "ECC_NIST_P256" {
            KeyKind::P256
        } else {
            KeyKind::Rsa
        };
        if kind != expected {
            return Err(format!(
                "has key spec {key_spec} but its public key is {}",
                kind.name()
            ));
        }
        if schemes.is_empty() {
            return Err(format!(
                "has key spec {key_spec} and none of its signing algorithms ({}) is supported",
                algorithms.join(", ")
            ));
        }
        Ok(Self {
            spki: spki.to_vec(),
            kind,
            schemes,
        })
    }

    /// Whether `signature` over `message` verifies with this key by one of its schemes.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok((_, raw)) = key_of(&self.spki) else {
            return false;
        };
        self.schemes.iter().any(|scheme| {
            UnparsedPublicKey::new(scheme.algorithm(), raw)
                .verify(message, signature)
                .is_ok()
        })
    }

    /// `sha256:<hex>` of the DER SPKI: the key's id in messages and evidence.
    pub fn id(&self) -> String {
        key_id(&self.spki)
    }

    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }
}

/// `sha256:<hex>` of a DER SPKI.
pub fn key_id(spki: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(ring::digest::digest(&ring::digest::SHA256, spki).as_ref())
    )
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The DER bodies of every `-----BEGIN <label>-----` block in `pem`, in order.
pub fn pem_blocks(pem: &str, label: &str) -> Result<Vec<Vec<u8>>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(&begin) {
        let body = &rest[start + begin.len()..];
        let stop = body
            .find(&end)
            .ok_or_else(|| format!("a `{begin}` block without its end line"))?;
        let text: String = body[..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| format!("a `{label}` block that is not base64"))?;
        out.push(der);
        rest = &body[stop + end.len()..];
    }
    Ok(out)
}

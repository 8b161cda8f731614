//! Signatures made by the tests, with freshly generated keys: cosign's simple signing
//! (the payload and its signature manifest) and Notation JWS envelopes signed by a test
//! AWS Signer chain (a P-384 root and a code-signing leaf), as the tools write them; keys
//! in the local KMS; and the vectors as `shared::verify` is given them (the test image,
//! candidates, a key's policy).

use aws_sdk_kms::primitives::Blob as KmsBlob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use rcgen::PublicKeyData;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair};
use serde_json::{Value, json};
use shared::registry::sha256_digest;
use shared::verify::{Blob, Candidate, Found, Policy, PublicKey, Subject, Trust};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
pub const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const COSIGN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
pub const NOTATION_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
pub const JOSE: &str = "application/jose+json";
pub const NOTATION_PAYLOAD: &str = "application/vnd.cncf.notary.payload.v1+json";

/// An ECDSA key pair: ring signs, the verifier gets the SPKI or PEM.
pub struct Key {
    pair: EcdsaKeyPair,
    pub rcgen: rcgen::KeyPair,
}

impl Key {
    pub fn new(
        alg: &'static rcgen::SignatureAlgorithm,
        ring_alg: &'static signature::EcdsaSigningAlgorithm,
    ) -> Self {
        let rcgen = rcgen::KeyPair::generate_for(alg).expect("key generated");
        let pair = EcdsaKeyPair::from_pkcs8(ring_alg, &rcgen.serialize_der(), &SystemRandom::new())
            .expect("key loaded");
        Self { pair, rcgen }
    }

    /// P-256 with ASN.1 signatures: cosign's default key.
    pub fn p256() -> Self {
        Self::new(
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        )
    }

    /// P-384 with fixed-size signatures: a JWS ES384 signer.
    pub fn p384_fixed() -> Self {
        Self::new(
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        )
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), msg)
            .expect("signed")
            .as_ref()
            .to_vec()
    }

    /// A cosign signature of `payload`, base64 as cosign's annotation holds it.
    pub fn cosign_signature(&self, payload: &[u8]) -> String {
        B64.encode(self.sign(payload))
    }

    pub fn pem(&self) -> String {
        self.rcgen.public_key_pem()
    }

    pub fn spki(&self) -> Vec<u8> {
        self.rcgen.subject_public_key_info()
    }
}

/// cosign's simple-signing payload for an image `digest`.
pub fn cosign_payload(digest: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"registry.example/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

/// cosign's legacy signature manifest (the `sha256-<hex>.sig` tag's): the empty-JSON config
/// and one simple-signing layer `(digest, size)` carrying `signature` (base64).
pub fn cosign_manifest(config: &str, payload: (&str, u64), signature: &str) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": SIMPLE_SIGNING, "digest": payload.0, "size": payload.1,
                    "annotations": {COSIGN_SIGNATURE: signature}}],
    })
    .to_string()
    .into_bytes()
}

/// A test AWS Signer chain: the root's PEM, the chain's DER certificates (leaf first) and
/// the leaf's key.
pub struct Chain {
    pub root_pem: String,
    pub ders: Vec<Vec<u8>>,
    pub leaf: Key,
}

impl Chain {
    /// A P-384 root and a code-signing leaf it issued.
    pub fn new() -> Self {
        let root_key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("root key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test Signer Root");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let root = params.self_signed(&root_key).expect("root");
        let issuer = rcgen::Issuer::new(params, root_key);
        let leaf = Key::p384_fixed();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test Signer Leaf");
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        let cert = params.signed_by(&leaf.rcgen, &issuer).expect("leaf");
        Self {
            root_pem: root.pem(),
            ders: vec![cert.der().to_vec(), root.der().to_vec()],
            leaf,
        }
    }

    /// A JWS envelope over `payload` with the protected `header`.
    pub fn jws(&self, header: &Value, payload: &Value) -> Vec<u8> {
        let protected = B64URL.encode(header.to_string());
        let payload = B64URL.encode(payload.to_string());
        let signature = self.leaf.sign(format!("{protected}.{payload}").as_bytes());
        json!({
            "payload": payload,
            "protected": protected,
            "header": {
                "x5c": self.ders.iter().map(|c| B64.encode(c)).collect::<Vec<_>>(),
                "io.cncf.notary.signingAgent": "notation-go/1.0.0 aws-signer-notation-plugin/1.0.298",
            },
            "signature": B64URL.encode(signature),
        })
        .to_string()
        .into_bytes()
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

/// The protected header AWS Signer's Notation plugin writes, signed at `signed_at` (RFC 3339).
pub fn signer_header(version_arn: &str, job_arn: &str, signed_at: &str) -> Value {
    json!({
        "alg": "ES384",
        "cty": NOTATION_PAYLOAD,
        "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.authenticSigningTime",
                 "com.amazonaws.signer.signingProfileVersion", "com.amazonaws.signer.signingJob"],
        "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
        "io.cncf.notary.authenticSigningTime": signed_at,
        "com.amazonaws.signer.signingProfileVersion": version_arn,
        "com.amazonaws.signer.signingJob": job_arn,
    })
}

/// Notation's payload for the subject `(digest, media type, size)`.
pub fn notation_payload(subject: (&str, &str, u64)) -> Value {
    json!({"targetArtifact": {"mediaType": subject.1, "digest": subject.0, "size": subject.2}})
}

/// A Notation signature manifest: a referrer of `subject` whose one layer is the JWS
/// `(digest, size)`.
pub fn notation_manifest(subject: (&str, &str, u64), jws: (&str, u64)) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": NOTATION_SIGNATURE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(b"{}"), "size": 2},
        "layers": [{"mediaType": JOSE, "digest": jws.0, "size": jws.1}],
        "subject": {"mediaType": subject.1, "digest": subject.0, "size": subject.2},
    })
    .to_string()
    .into_bytes()
}

/// A signing key of `spec` created in the local KMS: its ARN.
pub async fn kms_key(kms: &aws_sdk_kms::Client, spec: KeySpec) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("KMS key created")
        .key_metadata
        .and_then(|m| m.arn)
        .expect("a key ARN")
}

/// KMS `Sign` of `message` itself (not a digest of it) by the key `arn`: the signature.
pub async fn kms_sign(
    kms: &aws_sdk_kms::Client,
    arn: &str,
    algorithm: SigningAlgorithmSpec,
    message: &[u8],
) -> Vec<u8> {
    kms.sign()
        .key_id(arn)
        .message(KmsBlob::new(message))
        .message_type(MessageType::Raw)
        .signing_algorithm(algorithm)
        .send()
        .await
        .expect("signed by KMS")
        .signature
        .expect("a signature")
        .into_inner()
}

/// The image the vectors sign: an OCI image manifest with no layers.
pub fn test_image() -> Subject {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
    Subject {
        digest: sha256_digest(manifest),
        media_type: OCI_MANIFEST.into(),
        size: manifest.len() as u64,
    }
}

/// A signature as the verifier is given it: its manifest, where it was found, and the one
/// blob it reads.
pub fn candidate(manifest: Vec<u8>, found: Found, blob: Vec<u8>) -> Candidate {
    Candidate {
        digest: sha256_digest(&manifest),
        manifest,
        found,
        blobs: vec![Blob {
            digest: sha256_digest(&blob),
            bytes: blob,
        }],
    }
}

/// cosign's legacy signature [`cosign_manifest`] of `payload`, carrying `signature`
/// (base64), found at the test image's `sha256-<hex>.sig` tag.
pub fn legacy_candidate(payload: &[u8], signature: &str) -> Candidate {
    let manifest = cosign_manifest(
        &sha256_digest(b"{}"),
        (&sha256_digest(payload), payload.len() as u64),
        signature,
    );
    let tag = format!("{}.sig", test_image().digest.replace(':', "-"));
    candidate(manifest, Found::LegacyTag(tag), payload.to_vec())
}

/// The policy that requires a cosign signature by `key`, given inline.
pub fn cosign_key_policy(key: &Key) -> Policy {
    Policy {
        require: vec![Trust::CosignKey {
            key: PublicKey::from_pem(&key.pem()).expect("a PEM public key"),
            source: "given inline".into(),
        }],
    }
}

/// cosign's legacy signature of `digest` by `key` in `repository` of a registry: the
/// payload and the empty config pushed, the manifest tagged `sha256-<hex>.sig`. Returns
/// the signature manifest.
pub async fn registry_cosign(
    client: &shared::registry::Client,
    repository: &str,
    digest: &str,
    key: &Key,
) -> shared::registry::Manifest {
    let payload = cosign_payload(digest);
    let (config, _) =
        crate::registry::push_blob(client, repository, crate::registry::EMPTY_JSON.to_vec()).await;
    let (layer, size) = crate::registry::push_blob(client, repository, payload.clone()).await;
    let bytes = cosign_manifest(&config, (&layer, size), &key.cosign_signature(&payload));
    let signature = shared::registry::Manifest {
        digest: sha256_digest(&bytes),
        media_type: OCI_MANIFEST.to_string(),
        bytes: bytes.into(),
    };
    let tag = format!("{}.sig", digest.replace(':', "-"));
    client
        .put_manifest(repository, &tag, &signature)
        .await
        .expect("the signature manifest put");
    signature
}

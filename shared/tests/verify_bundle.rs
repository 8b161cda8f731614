//! shared::verify with Sigstore bundles (cosign 3's referrers) made here: signed with a
//! key, and keyless with a test "Fulcio" CA and a test "Rekor" log whose entry has a
//! signed entry timestamp and an RFC 6962 inclusion proof under a signed checkpoint.
#![cfg(feature = "verify")]

use base64::Engine;
use rcgen::PublicKeyData;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair};
use serde_json::{Value, json};
use shared::verify::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";

fn sha256(bytes: &[u8]) -> String {
    shared::registry::sha256_digest(bytes)
}

fn sha256_raw(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Key {
    pair: EcdsaKeyPair,
    rcgen: rcgen::KeyPair,
}

impl Key {
    fn p256() -> Self {
        let rcgen = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rcgen.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        Self { pair, rcgen }
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }
    fn spki(&self) -> Vec<u8> {
        self.rcgen.subject_public_key_info()
    }
}

fn image() -> Subject {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
    Subject {
        digest: sha256(manifest),
        media_type: OCI_MANIFEST.into(),
        size: manifest.len() as u64,
    }
}

fn run(policy: &Policy, candidates: &[Candidate]) -> Result<Vec<Evidence>, VerifyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(check_at(policy, &image(), candidates, now, |_| async {
        Ok(Vec::new())
    }))
}

/// cosign 3's statement for an image.
fn statement(digest: &str) -> Vec<u8> {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.example/app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    })
    .to_string()
    .into_bytes()
}

fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {IN_TOTO} {} ", IN_TOTO.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The Rekor `dsse` v0.0.1 body for a signature by `verifier_pem`.
fn dsse_body(payload: &[u8], signature: &[u8], verifier_pem: &str) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex(&sha256_raw(b"envelope"))},
            "payloadHash": {"algorithm": "sha256", "value": hex(&sha256_raw(payload))},
            "signatures": [{"signature": B64.encode(signature), "verifier": B64.encode(verifier_pem)}],
        },
    })
    .to_string()
    .into_bytes()
}

fn bundle(material: Value, entry: Value, payload: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut material = material;
    material["tlogEntries"] = json!([entry]);
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": B64.encode(payload),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": B64.encode(signature), "keyid": ""}],
        },
    })
    .to_string()
    .into_bytes()
}

fn candidate(bundle: Vec<u8>) -> Candidate {
    let subject = image();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGSTORE_BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": SIGSTORE_BUNDLE, "digest": sha256(&bundle), "size": bundle.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
    })
    .to_string()
    .into_bytes();
    Candidate {
        digest: sha256(&manifest),
        manifest,
        found: Found::Referrer,
        blobs: vec![Blob {
            digest: sha256(&bundle),
            bytes: bundle,
        }],
    }
}

fn keyed_bundle(key: &Key, digest: &str) -> Candidate {
    let payload = statement(digest);
    let signature = key.sign(&pae(&payload));
    let entry = json!({
        "logIndex": "7",
        "logId": {"keyId": B64.encode(sha256_raw(b"some log"))},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": "1767323045",
        "canonicalizedBody": B64.encode(dsse_body(&payload, &signature, &key.rcgen.public_key_pem())),
    });
    candidate(bundle(
        json!({"publicKey": {"hint": "test"}}),
        entry,
        &payload,
        &signature,
    ))
}

fn key_policy(key: &Key) -> Policy {
    Policy {
        require: vec![Trust::CosignKey {
            key: PublicKey::from_spki(&key.spki()).unwrap(),
            source: "key".into(),
        }],
    }
}

#[test]
fn bundle_signed_with_the_key_verifies() {
    let key = Key::p256();
    let c = keyed_bundle(&key, &image().digest);
    assert_eq!(classify(&c.manifest), Some(Format::SigstoreBundle));
    assert_eq!(wanted(&c.manifest).len(), 1);
    let evidence = run(&key_policy(&key), &[c]).unwrap();
    assert_eq!(
        evidence[0].signer,
        format!(
            "cosign key {}",
            PublicKey::from_spki(&key.spki()).unwrap().id()
        )
    );
}

#[test]
fn bundle_by_another_key_or_over_another_digest_is_refused() {
    let (key, other) = (Key::p256(), Key::p256());
    let err = run(&key_policy(&key), &[keyed_bundle(&other, &image().digest)]).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedKey { .. }), "{err}");
    let err = run(&key_policy(&key), &[keyed_bundle(&key, &sha256(b"other"))]).unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    let err = run(
        &key_policy(&key),
        &[candidate(b"{\"mediaType\": 1}".to_vec())],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
}

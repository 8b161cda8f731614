//! shared::verify with Sigstore bundles (cosign 3's referrers) made here: signed with a
//! key, and keyless with a test "Fulcio" CA and a test "Rekor" log whose entry has a
//! signed entry timestamp and an RFC 6962 inclusion proof under a signed checkpoint.
#![cfg(feature = "verify")]

use base64::Engine;
use serde_json::{Value, json};
use shared::verify::*;
use testkit::registry::referrer_manifest;
use testkit::signing::{
    B64, Key, candidate, cosign_key_policy, cosign_manifest, cosign_payload, test_image,
};

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

fn run(policy: &Policy, candidates: &[Candidate]) -> Result<Vec<Evidence>, VerifyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(check_at(
        policy,
        &test_image(),
        candidates,
        now,
        |_| async { Ok(Vec::new()) },
    ))
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

/// cosign 3's referrer of the test image whose one layer is `bundle`.
fn bundle_candidate(bundle: Vec<u8>) -> Candidate {
    let subject = test_image();
    let manifest = referrer_manifest(
        (&subject.digest, &subject.media_type, subject.size),
        SIGSTORE_BUNDLE,
        (&sha256(&bundle), bundle.len() as u64),
    );
    candidate(manifest.to_vec(), Found::Referrer, bundle)
}

fn keyed_bundle(key: &Key, digest: &str) -> Candidate {
    let payload = statement(digest);
    let signature = key.sign(&pae(&payload));
    let entry = json!({
        "logIndex": "7",
        "logId": {"keyId": B64.encode(sha256_raw(b"some log"))},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": "1767323045",
        "canonicalizedBody": B64.encode(dsse_body(&payload, &signature, &key.pem())),
    });
    bundle_candidate(bundle(
        json!({"publicKey": {"hint": "test"}}),
        entry,
        &payload,
        &signature,
    ))
}

#[test]
fn bundle_signed_with_the_key_verifies() {
    let key = Key::p256();
    let c = keyed_bundle(&key, &test_image().digest);
    assert_eq!(classify(&c.manifest), Some(Format::SigstoreBundle));
    assert_eq!(wanted(&c.manifest).len(), 1);
    let evidence = run(&cosign_key_policy(&key), &[c]).unwrap();
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
    let err = run(
        &cosign_key_policy(&key),
        &[keyed_bundle(&other, &test_image().digest)],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedKey { .. }), "{err}");
    let err = run(
        &cosign_key_policy(&key),
        &[keyed_bundle(&key, &sha256(b"other"))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    let err = run(
        &cosign_key_policy(&key),
        &[bundle_candidate(b"{\"mediaType\": 1}".to_vec())],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
}

// ---------------------------------------------------------------- keyless

const IDENTITY: &str = "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A test Sigstore: a "Fulcio" root and intermediate, a "Rekor" key.
struct Sigstore {
    intermediate: rcgen::Issuer<'static, rcgen::KeyPair>,
    trusted_root: String,
    rekor: Key,
}

fn ca(name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params
}

fn sigstore() -> Sigstore {
    let root_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let root_params = ca("test fulcio root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = rcgen::Issuer::new(root_params, root_key);
    let int_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let int_params = ca("test fulcio intermediate");
    let intermediate = int_params.signed_by(&int_key, &root_issuer).unwrap();
    let rekor = Key::p256();
    let trusted_root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": B64.encode(rekor.spki()), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": "2020-01-01T00:00:00Z"}},
            "logId": {"keyId": B64.encode(sha256_raw(&rekor.spki()))},
        }],
        "certificateAuthorities": [{
            "subject": {"organization": "test", "commonName": "test fulcio"},
            "uri": "https://fulcio.test",
            "certChain": {"certificates": [{"rawBytes": B64.encode(intermediate.der())}, {"rawBytes": B64.encode(root.der())}]},
            "validFor": {"start": "2020-01-01T00:00:00Z"},
        }],
        "ctlogs": [],
        "timestampAuthorities": [],
    })
    .to_string();
    Sigstore {
        intermediate: rcgen::Issuer::new(int_params, int_key),
        trusted_root,
        rekor,
    }
}

/// A DER UTF8String.
fn utf8_string(s: &str) -> Vec<u8> {
    let mut out = vec![0x0c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

/// A signing certificate "Fulcio" issues for `identity` from `issuer`, and its key.
fn fulcio_leaf(sigstore: &Sigstore, identity: &str, issuer: &str) -> (String, Key) {
    let key = Key::p256();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::URI(identity.try_into().unwrap())];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
        utf8_string(issuer),
    )];
    let cert = params
        .signed_by(&key.rcgen, &sigstore.intermediate)
        .unwrap();
    (cert.pem(), key)
}

fn hash_leaf(data: &[u8]) -> Vec<u8> {
    let mut input = vec![0u8];
    input.extend_from_slice(data);
    sha256_raw(&input)
}

fn hash_node(l: &[u8], r: &[u8]) -> Vec<u8> {
    let mut input = vec![1u8];
    input.extend_from_slice(l);
    input.extend_from_slice(r);
    sha256_raw(&input)
}

/// A Rekor v1 entry for `body` at index 1 of a three-leaf tree: its SET, and its
/// inclusion proof under a checkpoint signed by the log. With `in_log` false, the proof
/// and checkpoint are for a tree that does not hold the entry.
fn rekor_entry(sigstore: &Sigstore, body: &[u8], in_log: bool) -> Value {
    let log_id = sha256_raw(&sigstore.rekor.spki());
    let integrated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let body_b64 = B64.encode(body);
    // The SET: the log's signature over the canonical JSON of the entry (keys sorted).
    let set_payload = format!(
        r#"{{"body":"{body_b64}","integratedTime":{integrated},"logID":"{}","logIndex":1}}"#,
        hex(&log_id)
    );
    let set = sigstore.rekor.sign(set_payload.as_bytes());
    let (l0, l2) = (hash_leaf(b"entry 0"), hash_leaf(b"entry 2"));
    let l1 = if in_log {
        hash_leaf(body)
    } else {
        hash_leaf(b"another entry")
    };
    let root = hash_node(&hash_node(&l0, &l1), &l2);
    let note = format!("rekor.test - 1\n3\n{}\n", B64.encode(&root));
    let mut signed = log_id[..4].to_vec();
    signed.extend(sigstore.rekor.sign(note.as_bytes()));
    let checkpoint = format!("{note}\n\u{2014} rekor.test {}\n", B64.encode(signed));
    json!({
        "logIndex": "1",
        "logId": {"keyId": B64.encode(&log_id)},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": integrated.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": B64.encode(set)},
        "inclusionProof": {
            "logIndex": "1",
            "rootHash": B64.encode(&root),
            "treeSize": "3",
            "hashes": [B64.encode(&l0), B64.encode(&l2)],
            "checkpoint": {"envelope": checkpoint},
        },
        "canonicalizedBody": body_b64,
    })
}

fn keyless_bundle(sigstore: &Sigstore, identity: &str, issuer: &str, in_log: bool) -> Candidate {
    keyless_bundle_from(sigstore, sigstore, identity, issuer, in_log)
}

/// A keyless bundle whose certificate `ca` issued and whose entry `log` logged.
fn keyless_bundle_from(
    ca: &Sigstore,
    log: &Sigstore,
    identity: &str,
    issuer: &str,
    in_log: bool,
) -> Candidate {
    let sigstore = log;
    let (cert_pem, key) = fulcio_leaf(ca, identity, issuer);
    let cert_der = rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
        .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
        .unwrap();
    let payload = statement(&test_image().digest);
    let signature = key.sign(&pae(&payload));
    let entry = rekor_entry(
        sigstore,
        &dsse_body(&payload, &signature, &cert_pem),
        in_log,
    );
    bundle_candidate(bundle(
        json!({"certificate": {"rawBytes": B64.encode(cert_der)}}),
        entry,
        &payload,
        &signature,
    ))
}

fn keyless_policy(sigstore: &Sigstore, identity: Identity, issuer: &str) -> Policy {
    Policy {
        require: vec![Trust::keyless(identity, issuer, &sigstore.trusted_root).unwrap()],
    }
}

/// The policy requiring IDENTITY from ISSUER, exactly.
fn exact_policy(sigstore: &Sigstore) -> Policy {
    keyless_policy(sigstore, Identity::Exact(IDENTITY.into()), ISSUER)
}

/// The policy requiring an identity of the `org` organisation from ISSUER.
fn org_policy(sigstore: &Sigstore) -> Policy {
    let org = Identity::Prefix("https://github.com/org/".into());
    keyless_policy(sigstore, org, ISSUER)
}

/// The refusal of `candidate` by `policy` for an untrusted identity: its message.
fn untrusted_identity(policy: &Policy, candidate: &Candidate) -> String {
    let err = run(policy, std::slice::from_ref(candidate)).unwrap_err();
    assert!(
        matches!(err, VerifyError::UntrustedIdentity { .. }),
        "{err}"
    );
    err.to_string()
}

#[test]
fn keyless_bundle_by_the_identity_verifies() {
    let s = sigstore();
    let c = keyless_bundle(&s, IDENTITY, ISSUER, true);
    let evidence = run(&exact_policy(&s), std::slice::from_ref(&c)).unwrap();
    assert_eq!(evidence[0].signer, format!("keyless {IDENTITY} ({ISSUER})"));
    assert!(evidence[0].signed_at.is_some());
    run(&org_policy(&s), &[c]).unwrap();
}

#[test]
fn keyless_bundle_by_another_identity_or_issuer_is_refused() {
    let s = sigstore();
    let c = keyless_bundle(
        &s,
        "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main",
        ISSUER,
        true,
    );
    for policy in [exact_policy(&s), org_policy(&s)] {
        let text = untrusted_identity(&policy, &c);
        assert!(text.contains("github.com/evil/app"), "{text}");
    }
    let c = keyless_bundle(&s, IDENTITY, "https://accounts.example.com", true);
    let text = untrusted_identity(&exact_policy(&s), &c);
    assert!(text.contains("other issuer"), "{text}");
}

#[test]
fn keyless_bundle_whose_entry_is_not_in_the_log_is_refused() {
    let s = sigstore();
    let c = keyless_bundle(&s, IDENTITY, ISSUER, false);
    let text = untrusted_identity(&exact_policy(&s), &c);
    assert!(
        text.contains("does not verify against the trusted root"),
        "{text}"
    );
}

#[test]
fn keyless_bundle_from_another_fulcio_is_refused() {
    let (s, other) = (sigstore(), sigstore());
    for c in [
        keyless_bundle_from(&other, &s, IDENTITY, ISSUER, true),
        keyless_bundle(&other, IDENTITY, ISSUER, true),
    ] {
        let text = untrusted_identity(&exact_policy(&s), &c);
        assert!(
            text.contains("does not verify against the trusted root"),
            "{text}"
        );
    }
}

#[test]
fn legacy_keyless_signatures_are_refused_with_the_way_out() {
    let s = sigstore();
    let payload = cosign_payload(&test_image().digest);
    let (cert_pem, key) = fulcio_leaf(&s, IDENTITY, ISSUER);
    let signed = cosign_manifest(
        &sha256(b"{}"),
        (&sha256(&payload), payload.len() as u64),
        &key.cosign_signature(&payload),
    );
    // The legacy keyless form: the signing certificate and the Rekor bundle as annotations.
    let mut manifest: Value = serde_json::from_slice(&signed).unwrap();
    let annotations = &mut manifest["layers"][0]["annotations"];
    annotations["dev.sigstore.cosign/certificate"] = json!(cert_pem);
    annotations["dev.sigstore.cosign/bundle"] = json!("{}");
    let legacy = Found::LegacyTag("sha256-x.sig".into());
    let c = candidate(manifest.to_string().into_bytes(), legacy, payload);
    let err = run(&exact_policy(&s), &[c]).unwrap_err();
    assert!(matches!(err, VerifyError::Unsupported { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("sign with the Sigstore bundle format"),
        "{err}"
    );
}

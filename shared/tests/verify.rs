//! shared::verify with signatures made here, from freshly generated keys and certificates:
//! cosign simple signing, Notation JWS as AWS Signer makes them, the policy's parsing and
//! hostile input.
#![cfg(feature = "verify")]

use base64::Engine;
use serde_json::{Value, json};
use shared::error::{Failure, FailureType};
use shared::verify::notation::{self, RevocationQuery};
use shared::verify::*;
use testkit::signing::{Chain, Key};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn sha256(bytes: &[u8]) -> String {
    shared::registry::sha256_digest(bytes)
}

/// The verifier's view of a test key.
fn public(key: &Key) -> PublicKey {
    PublicKey::from_spki(&key.spki()).unwrap()
}

fn image() -> Subject {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
    Subject {
        digest: sha256(manifest),
        media_type: OCI_MANIFEST.into(),
        size: manifest.len() as u64,
    }
}

fn other_digest() -> String {
    sha256(b"another image")
}

fn run(
    policy: &Policy,
    subject: &Subject,
    candidates: &[Candidate],
) -> Result<Vec<Evidence>, VerifyError> {
    run_at(policy, subject, candidates, NOW, |_| Ok(Vec::new()))
}

fn run_at(
    policy: &Policy,
    subject: &Subject,
    candidates: &[Candidate],
    now: i64,
    revoked: impl Fn(RevocationQuery) -> Result<Vec<String>, shared::AwsError>,
) -> Result<Vec<Evidence>, VerifyError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(check_at(policy, subject, candidates, now, |q| {
        let answer = revoked(q);
        async move { answer }
    }))
}

/// 2026-01-02T03:04:05Z, the signing time of the Notation signatures.
const SIGNED: i64 = 1_767_323_045;
const SIGNED_TEXT: &str = "2026-01-02T03:04:05Z";
const NOW: i64 = SIGNED + 3600;

// ---------------------------------------------------------------- cosign simple signing

fn payload(digest: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"registry.example/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

fn manifest_with(layers: Value, extra: Value) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": layers,
    });
    if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
        m.extend(extra.clone());
    }
    m.to_string().into_bytes()
}

fn legacy(payload: &[u8], signature: &str) -> Candidate {
    let manifest = manifest_with(
        json!([{
            "mediaType": SIMPLE_SIGNING,
            "digest": sha256(payload),
            "size": payload.len(),
            "annotations": {"dev.cosignproject.cosign/signature": signature},
        }]),
        json!({}),
    );
    Candidate {
        digest: sha256(&manifest),
        manifest,
        found: Found::LegacyTag(format!("{}.sig", image().digest.replace(':', "-"))),
        blobs: vec![Blob {
            digest: sha256(payload),
            bytes: payload.to_vec(),
        }],
    }
}

fn signed_legacy(key: &Key, payload: &[u8]) -> Candidate {
    legacy(payload, &B64.encode(key.sign(payload)))
}

fn key_policy(key: &Key) -> Policy {
    Policy {
        require: vec![Trust::CosignKey {
            key: PublicKey::from_pem(&key.pem()).unwrap(),
            source: "given inline".into(),
        }],
    }
}

#[test]
fn cosign_legacy_signature_by_the_key_verifies() {
    let key = Key::p256();
    let subject = image();
    let candidate = signed_legacy(&key, &payload(&subject.digest));
    assert_eq!(wanted(&candidate.manifest).len(), 1);
    let evidence = run(&key_policy(&key), &subject, &[candidate]).unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(
        evidence[0].signer,
        format!("cosign key {}", public(&key).id())
    );
    assert!(
        evidence[0]
            .text()
            .starts_with("signed by cosign key sha256:")
    );
    assert!(matches!(evidence[0].found, Found::LegacyTag(_)));
}

#[test]
fn cosign_legacy_payload_keys_match_case_insensitively() {
    let key = Key::p256();
    let subject = image();
    let text = format!(
        r#"{{"Critical":{{"Identity":{{"docker-reference":"x"}},"IMAGE":{{"Docker-Manifest-Digest":"{}"}},"Type":"cosign container image signature"}}}}"#,
        subject.digest
    );
    let candidate = signed_legacy(&key, text.as_bytes());
    run(&key_policy(&key), &subject, &[candidate]).unwrap();
}

#[test]
fn cosign_legacy_signature_over_another_digest_is_refused() {
    let key = Key::p256();
    let subject = image();
    let err = run(
        &key_policy(&key),
        &subject,
        &[signed_legacy(&key, &payload(&other_digest()))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    eprintln!("MSG {err}");
    assert_eq!(err.error_type(), "SignatureOtherDigest");
    assert_eq!(err.failure_type(), FailureType::JobFailed);
    let text = err.to_string();
    assert!(text.contains(&subject.digest), "{text}");
    assert!(text.contains(&other_digest()[..19]), "{text}");
}

#[test]
fn cosign_legacy_signature_by_another_key_is_refused() {
    let (key, other) = (Key::p256(), Key::p256());
    let subject = image();
    let err = run(
        &key_policy(&key),
        &subject,
        &[signed_legacy(&other, &payload(&subject.digest))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedKey { .. }), "{err}");
    eprintln!("MSG {err}");
    let text = err.to_string();
    assert!(
        text.contains("found 1 signature: a cosign signature not by key sha256:"),
        "{text}"
    );
    assert!(text.contains(&public(&key).id()), "{text}");
}

#[test]
fn cosign_legacy_malformed_signatures_are_refused_and_do_not_stop_the_others() {
    let key = Key::p256();
    let subject = image();
    let bad_base64 = legacy(&payload(&subject.digest), "not base64!");
    let err = run(
        &key_policy(&key),
        &subject,
        std::slice::from_ref(&bad_base64),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(err.to_string().contains("not base64"), "{err}");

    let not_json = signed_legacy(&key, b"{not json");
    let err = run(&key_policy(&key), &subject, std::slice::from_ref(&not_json)).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    let good = signed_legacy(&key, &payload(&subject.digest));
    run(&key_policy(&key), &subject, &[bad_base64, not_json, good]).unwrap();
}

#[test]
fn no_signature_at_all_is_refused() {
    let key = Key::p256();
    let subject = image();
    let err = run(&key_policy(&key), &subject, &[]).unwrap_err();
    assert!(matches!(err, VerifyError::NoSignature { .. }), "{err}");
    eprintln!("MSG {err}");
    assert_eq!(err.error_type(), "SignatureMissing");
    assert!(err.to_string().starts_with(&format!(
        "{} has no signature; a signature by the cosign key sha256:",
        subject.digest
    )));
}

#[test]
fn every_requirement_must_be_met() {
    let (a, b) = (Key::p256(), Key::p256());
    let subject = image();
    let policy = Policy {
        require: vec![
            key_policy(&a).require.remove(0),
            key_policy(&b).require.remove(0),
        ],
    };
    let only_a = [signed_legacy(&a, &payload(&subject.digest))];
    assert!(matches!(
        run(&policy, &subject, &only_a),
        Err(VerifyError::UntrustedKey { .. })
    ));
    let both = [
        only_a[0].clone(),
        signed_legacy(&b, &payload(&subject.digest)),
    ];
    assert_eq!(run(&policy, &subject, &both).unwrap().len(), 2);
}

#[test]
fn kms_keys_map_to_ring_schemes_or_are_refused_by_spec() {
    let key = Key::p256();
    let spki = key.spki();
    let kms = PublicKey::from_kms(&spki, "ECC_NIST_P256", &["ECDSA_SHA_256"]).unwrap();
    assert!(kms.verify(b"m", &key.sign(b"m")));
    let err = PublicKey::from_kms(&spki, "ECC_SECG_P256K1", &["ECDSA_SHA_256"]).unwrap_err();
    assert!(err.contains("ECC_SECG_P256K1"), "{err}");
    let err = PublicKey::from_kms(&spki, "RSA_2048", &["RSASSA_PSS_SHA_256"]).unwrap_err();
    assert!(err.contains("RSA_2048"), "{err}");
    assert!(PublicKey::from_kms(&spki, "ECC_NIST_P256", &["ECDSA_SHA_384"]).is_err());
}

// ---------------------------------------------------------------- Notation by AWS Signer

const PROFILE: &str = "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/release";
const JOB: &str =
    "arn:aws:signer:eu-west-1:111122223333:/signing-jobs/4b6f5a3c-0d1e-4a8b-9c2d-1e2f3a4b5c6d";

fn version() -> String {
    format!("{PROFILE}/a1b2c3d4e5")
}

/// A P-384 root and a code-signing leaf, as AWS Signer's chain (leaf first).
fn chain() -> Chain {
    Chain::new()
}

fn header(version_arn: &str) -> Value {
    json!({
        "alg": "ES384",
        "cty": notation::PAYLOAD_TYPE,
        "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.authenticSigningTime",
                 "com.amazonaws.signer.signingProfileVersion", "com.amazonaws.signer.signingJob"],
        "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
        "io.cncf.notary.authenticSigningTime": SIGNED_TEXT,
        "com.amazonaws.signer.signingProfileVersion": version_arn,
        "com.amazonaws.signer.signingJob": JOB,
    })
}

fn target(subject: &Subject) -> Value {
    json!({"targetArtifact": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size}})
}

fn jws(chain: &Chain, header: &Value, payload: &Value) -> Vec<u8> {
    chain.jws(header, payload)
}

fn notation_candidate(jws: Vec<u8>) -> Candidate {
    let subject = image();
    let manifest = manifest_with(
        json!([{"mediaType": JOSE, "digest": sha256(&jws), "size": jws.len()}]),
        json!({
            "artifactType": NOTATION_SIGNATURE,
            "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        }),
    );
    Candidate {
        digest: sha256(&manifest),
        manifest,
        found: Found::Referrer,
        blobs: vec![Blob {
            digest: sha256(&jws),
            bytes: jws,
        }],
    }
}

fn notation_policy(chain: &Chain, profiles: &[&str], revocation: Revocation) -> Policy {
    Policy {
        require: vec![
            Trust::notation(
                profiles.iter().map(|p| p.to_string()).collect(),
                &chain.root_pem,
                revocation,
            )
            .unwrap(),
        ],
    }
}

fn good_notation(chain: &Chain) -> Candidate {
    notation_candidate(jws(chain, &header(&version()), &target(&image())))
}

#[test]
fn notation_signature_by_the_profile_verifies() {
    let chain = chain();
    let candidate = good_notation(&chain);
    assert_eq!(classify(&candidate.manifest), Some(Format::Notation));
    assert_eq!(wanted(&candidate.manifest).len(), 1);
    let evidence = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[candidate],
    )
    .unwrap();
    assert_eq!(
        evidence[0].signer,
        format!("notation profile {}", version())
    );
    assert_eq!(evidence[0].signed_at.as_deref(), Some(SIGNED_TEXT));
}

#[test]
fn notation_version_arn_must_match_exactly() {
    let chain = chain();
    let exact = version();
    run(
        &notation_policy(&chain, &[&exact], Revocation::Skip),
        &image(),
        &[good_notation(&chain)],
    )
    .unwrap();
    let other_version = format!("{PROFILE}/zzzzzzzzzz");
    let err = run(
        &notation_policy(&chain, &[&other_version], Revocation::Skip),
        &image(),
        &[good_notation(&chain)],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::WrongProfile { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(notation::profile_matches(PROFILE, &exact));
    assert!(!notation::profile_matches(&format!("{PROFILE}-2"), &exact));
    assert!(!notation::profile_matches(
        "arn:aws:signer:eu-west-1:111122223333:/signing-profiles",
        &exact
    ));
}

#[test]
fn notation_signature_by_another_profile_is_refused() {
    let chain = chain();
    let other = "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/other";
    let candidate = notation_candidate(jws(
        &chain,
        &header(&format!("{other}/v1")),
        &target(&image()),
    ));
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[candidate],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::WrongProfile { .. }), "{err}");
    eprintln!("MSG {err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "no signature by the AWS Signer profile {PROFILE} on {}",
            image().digest
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("notation profile {other}/v1 (other profile")),
        "{text}"
    );
}

#[test]
fn notation_unknown_critical_header_is_refused() {
    let chain = chain();
    let mut h = header(&version());
    h["crit"]
        .as_array_mut()
        .unwrap()
        .push(json!("io.example.mustUnderstand"));
    h["io.example.mustUnderstand"] = json!("x");
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[notation_candidate(jws(&chain, &h, &target(&image())))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Unsupported { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string()
            .contains("unknown critical header `io.example.mustUnderstand`"),
        "{err}"
    );

    // A critical header present but not listed in `crit`.
    let mut h = header(&version());
    h["io.cncf.notary.expiry"] = json!("2099-01-01T00:00:00Z");
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[notation_candidate(jws(&chain, &h, &target(&image())))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn notation_payload_for_another_image_is_refused() {
    let chain = chain();
    let mut other = image();
    other.digest = other_digest();
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[notation_candidate(jws(
            &chain,
            &header(&version()),
            &target(&other),
        ))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    eprintln!("MSG {err}");
    let mut resized = image();
    resized.size += 1;
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[notation_candidate(jws(
            &chain,
            &header(&version()),
            &target(&resized),
        ))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn notation_alg_must_fit_the_leaf_key() {
    let chain = chain();
    let mut h = header(&version());
    h["alg"] = json!("ES256");
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[notation_candidate(jws(&chain, &h, &target(&image())))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string()
            .contains("`alg` ES256 does not fit its ECDSA P-384 leaf key"),
        "{err}"
    );
}

#[test]
fn notation_expired_signature_is_refused() {
    let chain = chain();
    let mut h = header(&version());
    h["io.cncf.notary.expiry"] = json!("2026-01-02T04:00:00Z");
    h["crit"]
        .as_array_mut()
        .unwrap()
        .push(json!("io.cncf.notary.expiry"));
    let candidate = notation_candidate(jws(&chain, &h, &target(&image())));
    let policy = notation_policy(&chain, &[PROFILE], Revocation::Skip);
    run_at(
        &policy,
        &image(),
        std::slice::from_ref(&candidate),
        SIGNED + 60,
        |_| Ok(Vec::new()),
    )
    .unwrap();
    let err = run_at(&policy, &image(), &[candidate], SIGNED + 7200, |_| {
        Ok(Vec::new())
    })
    .unwrap_err();
    assert!(matches!(err, VerifyError::Expired { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn notation_chain_to_another_root_is_refused() {
    let (chain, other) = (chain(), chain());
    let err = run(
        &notation_policy(&other, &[PROFILE], Revocation::Skip),
        &image(),
        &[good_notation(&chain)],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::WrongProfile { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string()
            .contains("certificate chain not to the trusted roots"),
        "{err}"
    );
}

#[test]
fn notation_revocation_is_asked_and_fails_closed() {
    let chain = chain();
    let policy = notation_policy(&chain, &[PROFILE], Revocation::Required);
    let candidates = [good_notation(&chain)];
    let asked = std::cell::RefCell::new(Vec::new());
    run_at(&policy, &image(), &candidates, NOW, |q| {
        asked.borrow_mut().push(q);
        Ok(Vec::new())
    })
    .unwrap();
    let asked = asked.into_inner();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].signing_time, SIGNED);
    assert_eq!(asked[0].profile_version_arn, version());
    assert_eq!(asked[0].job_arn, JOB);
    assert_eq!(
        asked[0].certificate_hashes,
        notation::certificate_hashes(&chain.ders).unwrap()
    );

    let err = run_at(&policy, &image(), &candidates, NOW, |_| {
        Ok(vec![JOB.to_owned()])
    })
    .unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string().contains(&format!("revoked: {JOB}")),
        "{err}"
    );

    let err = run_at(&policy, &image(), &candidates, NOW, |_| {
        Err(shared::AwsError::local(
            "signer:GetRevocationStatus",
            "unreachable",
        ))
    })
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::RevocationUnchecked { .. }),
        "{err}"
    );
    assert_eq!(err.error_type(), "SignatureRevocationUnchecked");
}

/// The TBS of a certificate read without shared's DER reader: the first element of the
/// outer SEQUENCE (both with two-byte long-form lengths, as these certificates have).
fn tbs_by_hand(cert: &[u8]) -> &[u8] {
    assert_eq!(&cert[..2], &[0x30, 0x82]);
    let inner = &cert[4..];
    let len = match inner[1] {
        0x82 => 4 + (usize::from(inner[2]) << 8 | usize::from(inner[3])),
        0x81 => 3 + usize::from(inner[2]),
        n => 2 + usize::from(n),
    };
    &inner[..len]
}

#[test]
fn revocation_hashes_pair_each_certificate_with_its_issuer() {
    let chain = chain();
    let hashes = notation::certificate_hashes(&chain.ders).unwrap();
    let h = |c: &[u8]| {
        ring::digest::digest(&ring::digest::SHA384, tbs_by_hand(c))
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let (leaf, root) = (h(&chain.ders[0]), h(&chain.ders[1]));
    assert_eq!(
        hashes,
        vec![format!("{leaf}{root}"), format!("{root}{root}")]
    );
    assert_eq!(hashes[0].len(), 192);
    assert!(notation::certificate_hashes(&[vec![0x30, 0x00]]).is_err());
}

// ---------------------------------------------------------------- the policy

#[test]
fn policy_parses_every_form() {
    let key = Key::p256();
    let value = json!({"require": [
        {"cosign": {"key": key.pem()}},
        {"cosign": {"kmsKey": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
        {"cosign": {"keyUri": "s3://trust/cosign.pub"}},
        {"cosign": {"identity": "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
                    "issuer": "https://token.actions.githubusercontent.com", "trustedRoot": "s3://trust/trusted_root.json"}},
        {"cosign": {"identityPrefix": "https://github.com/org/", "issuer": "https://token.actions.githubusercontent.com",
                    "trustedRoot": "s3://trust/trusted_root.json"}},
        {"notation": {"signingProfiles": [PROFILE, version()], "rootCertificates": "s3://trust/root.pem"}},
        {"notation": {"signingProfiles": [PROFILE], "rootCertificates": "s3://trust/root.pem", "revocation": "skip"}},
    ]});
    let spec = Requirements::parse(&value, "UserParameters.verify").unwrap();
    let trust = S3Object::parse("s3://trust/trusted_root.json").unwrap();
    assert_eq!(spec.0.len(), 7);
    assert_eq!(
        spec.0[2],
        Requirement::CosignKey(KeySource::S3(
            S3Object::parse("s3://trust/cosign.pub").unwrap()
        ))
    );
    assert_eq!(
        spec.0[4],
        Requirement::CosignKeyless {
            identity: Identity::Prefix("https://github.com/org/".into()),
            issuer: "https://token.actions.githubusercontent.com".into(),
            trusted_root: trust,
        }
    );
    assert!(
        matches!(&spec.0[5], Requirement::Notation { revocation: Revocation::Required, profiles, .. } if profiles.len() == 2)
    );
    assert!(matches!(
        &spec.0[6],
        Requirement::Notation {
            revocation: Revocation::Skip,
            ..
        }
    ));
}

#[test]
fn policy_reports_every_problem_at_once() {
    let value = json!({"require": [
        {"cosign": {"key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}},
        {"cosign": {"kmsKey": "my-key", "keyUri": "s3://b/k"}},
        {"cosign": {"identity": "x", "identityPrefix": "y", "issuer": "http://plain", "trustedRoot": "https://not-s3"}},
        {"notation": {"signingProfiles": ["arn:aws:signer:eu-west-1:111122223333:/signing-profiles/*", "nope"],
                      "revocation": "sometimes"}},
        {"cosign": {}, "notation": {}},
        {"cosign": {"keyUri": "s3://b/k", "colour": "blue"}},
    ], "extra": 1});
    let problems = Requirements::parse(&value, "UserParameters.verify").unwrap_err();
    let text = problems.to_string();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "UserParameters.verify.extra",
        "UserParameters.verify.require[0].cosign.key",
        "UserParameters.verify.require[1].cosign",
        "UserParameters.verify.require[2].cosign",
        "UserParameters.verify.require[2].cosign.issuer",
        "UserParameters.verify.require[2].cosign.trustedRoot",
        "UserParameters.verify.require[3].notation.signingProfiles[0]",
        "UserParameters.verify.require[3].notation.signingProfiles[1]",
        "UserParameters.verify.require[3].notation.rootCertificates",
        "UserParameters.verify.require[3].notation.revocation",
        "UserParameters.verify.require[4]",
        "UserParameters.verify.require[5].cosign.colour",
    ] {
        assert!(paths.contains(&want), "{want} missing from {text}");
    }
    assert!(text.contains("has a wildcard"), "{text}");
    assert!(Requirements::parse(&json!({"require": []}), "verify").is_err());
    assert!(Requirements::parse(&json!("no"), "verify").is_err());
}

// ---------------------------------------------------------------- hostile input

#[test]
fn a_blob_over_the_limit_is_refused() {
    let key = Key::p256();
    let subject = image();
    let mut big = payload(&subject.digest);
    big.resize(MAX_SIGNATURE_BLOB as usize + 1, b' ');
    let candidate = signed_legacy(&key, &big);
    assert!(
        wanted(&candidate.manifest).is_empty(),
        "a layer over the limit is not fetched"
    );
    let err = run(&key_policy(&key), &subject, &[candidate]).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string().contains("more than the 1048576 allowed"),
        "{err}"
    );
}

#[test]
fn a_jws_with_ten_thousand_certificates_is_refused() {
    let chain = chain();
    let mut v: Value =
        serde_json::from_slice(&jws(&chain, &header(&version()), &target(&image()))).unwrap();
    let one = v["header"]["x5c"][0].clone();
    v["header"]["x5c"] = Value::Array(vec![one; 10_000]);
    let err = run(
        &notation_policy(&chain, &[PROFILE], Revocation::Skip),
        &image(),
        &[notation_candidate(v.to_string().into_bytes())],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn deeply_nested_json_is_refused() {
    let key = Key::p256();
    let subject = image();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = run(
        &key_policy(&key),
        &subject,
        &[signed_legacy(&key, deep.as_bytes())],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(err.to_string().contains("nests"), "{err}");

    let manifest = deep.into_bytes();
    assert!(wanted(&manifest).is_empty());
    assert_eq!(classify(&manifest), None);
    let candidate = Candidate {
        digest: sha256(&manifest),
        manifest,
        found: Found::Referrer,
        blobs: Vec::new(),
    };
    let err = run(&key_policy(&key), &subject, &[candidate]).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn a_chain_longer_than_allowed_and_other_plugins_are_refused() {
    let chain = chain();
    let mut v: Value =
        serde_json::from_slice(&jws(&chain, &header(&version()), &target(&image()))).unwrap();
    let one = v["header"]["x5c"][0].clone();
    v["header"]["x5c"] = Value::Array(vec![one; notation::MAX_CHAIN + 1]);
    let policy = notation_policy(&chain, &[PROFILE], Revocation::Skip);
    let err = run(
        &policy,
        &image(),
        &[notation_candidate(v.to_string().into_bytes())],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    assert!(
        err.to_string().contains("x5c holds 11 certificates"),
        "{err}"
    );

    let mut h = header(&version());
    h["io.cncf.notary.verificationPlugin"] = json!(notation::AWS_SIGNER_PLUGIN);
    h["io.cncf.notary.verificationPluginMinVersion"] = json!("1.0.0");
    for name in [
        "io.cncf.notary.verificationPlugin",
        "io.cncf.notary.verificationPluginMinVersion",
    ] {
        h["crit"].as_array_mut().unwrap().push(json!(name));
    }
    run(
        &policy,
        &image(),
        &[notation_candidate(jws(&chain, &h, &target(&image())))],
    )
    .unwrap();
    h["io.cncf.notary.verificationPlugin"] = json!("io.example.plugin");
    let err = run(
        &policy,
        &image(),
        &[notation_candidate(jws(&chain, &h, &target(&image())))],
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Unsupported { .. }), "{err}");
}

#[test]
fn every_refusal_has_a_listed_name_and_is_job_failed() {
    let key = Key::p256();
    let subject = image();
    let errors = [
        run(&key_policy(&key), &subject, &[]).unwrap_err(),
        run(
            &key_policy(&key),
            &subject,
            &[signed_legacy(&key, &payload(&other_digest()))],
        )
        .unwrap_err(),
        run(
            &key_policy(&key),
            &subject,
            &[signed_legacy(&Key::p256(), &payload(&subject.digest))],
        )
        .unwrap_err(),
        run(
            &key_policy(&key),
            &subject,
            &[legacy(&payload(&subject.digest), "!")],
        )
        .unwrap_err(),
    ];
    for err in errors {
        assert!(shared::error_type::ALL.contains(&err.error_type()), "{err}");
        assert_eq!(err.failure_type(), FailureType::JobFailed);
    }
    let bad = VerifyError::TrustMaterial {
        location: "s3://b/k".into(),
        detail: "does not exist".into(),
    };
    assert_eq!(bad.failure_type(), FailureType::ConfigurationError);
    assert!(shared::error_type::ALL.contains(&bad.error_type()));
}

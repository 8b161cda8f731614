//! shared::verify with signatures made here, from freshly generated keys and certificates:
//! cosign simple signing, Notation JWS as AWS Signer makes them, the policy's parsing and
//! hostile input.
#![cfg(feature = "verify")]

use serde_json::{Value, json};
use shared::error::{Failure, FailureType};
use shared::verify::notation::{self, RevocationQuery};
use shared::verify::*;
use testkit::signing::{
    Chain, Key, candidate, cosign_key_policy, cosign_payload, legacy_candidate, notation_manifest,
    notation_payload, signer_header, test_image,
};

fn sha256(bytes: &[u8]) -> String {
    shared::registry::sha256_digest(bytes)
}

/// The verifier's view of a test key.
fn public(key: &Key) -> PublicKey {
    PublicKey::from_spki(&key.spki()).unwrap()
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

/// What a policy requiring a signature by `key` makes of `candidates` for the test image.
fn run_cosign(key: &Key, candidates: &[Candidate]) -> Result<Vec<Evidence>, VerifyError> {
    run(&cosign_key_policy(key), &test_image(), candidates)
}

/// cosign's legacy signature of `payload` by `key`.
fn signed_legacy(key: &Key, payload: &[u8]) -> Candidate {
    legacy_candidate(payload, &key.cosign_signature(payload))
}

/// cosign's legacy signature of the test image by `key`.
fn signed_image(key: &Key) -> Candidate {
    signed_legacy(key, &cosign_payload(&test_image().digest))
}

#[test]
fn cosign_legacy_signature_by_the_key_verifies() {
    let key = Key::p256();
    let candidate = signed_image(&key);
    assert_eq!(wanted(&candidate.manifest).len(), 1);
    let evidence = run_cosign(&key, &[candidate]).unwrap();
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
    let subject = test_image();
    let text = format!(
        r#"{{"Critical":{{"Identity":{{"docker-reference":"x"}},"IMAGE":{{"Docker-Manifest-Digest":"{}"}},"Type":"cosign container image signature"}}}}"#,
        subject.digest
    );
    let candidate = signed_legacy(&key, text.as_bytes());
    run_cosign(&key, &[candidate]).unwrap();
}

#[test]
fn cosign_legacy_signature_over_another_digest_is_refused() {
    let key = Key::p256();
    let subject = test_image();
    let err = run_cosign(
        &key,
        &[signed_legacy(&key, &cosign_payload(&other_digest()))],
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
    let err = run_cosign(&key, &[signed_image(&other)]).unwrap_err();
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
    let subject = test_image();
    let bad_base64 = legacy_candidate(&cosign_payload(&subject.digest), "not base64!");
    let err = run_cosign(&key, std::slice::from_ref(&bad_base64)).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(err.to_string().contains("not base64"), "{err}");

    let not_json = signed_legacy(&key, b"{not json");
    let err = run_cosign(&key, std::slice::from_ref(&not_json)).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    let good = signed_image(&key);
    run_cosign(&key, &[bad_base64, not_json, good]).unwrap();
}

#[test]
fn no_signature_at_all_is_refused() {
    let key = Key::p256();
    let subject = test_image();
    let err = run_cosign(&key, &[]).unwrap_err();
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
    let subject = test_image();
    let policy = Policy {
        require: vec![
            cosign_key_policy(&a).require.remove(0),
            cosign_key_policy(&b).require.remove(0),
        ],
    };
    let only_a = [signed_image(&a)];
    assert!(matches!(
        run(&policy, &subject, &only_a),
        Err(VerifyError::UntrustedKey { .. })
    ));
    let both = [only_a[0].clone(), signed_image(&b)];
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

/// AWS Signer's protected header for `version_arn`, signed by the job at SIGNED_TEXT.
fn header(version_arn: &str) -> Value {
    signer_header(version_arn, JOB, SIGNED_TEXT)
}

/// Notation's payload naming `subject`.
fn target(subject: &Subject) -> Value {
    notation_payload((&subject.digest, &subject.media_type, subject.size))
}

/// The Notation signature manifest of the test image whose layer is `jws`.
fn notation_candidate(jws: Vec<u8>) -> Candidate {
    let subject = test_image();
    let subject = (
        subject.digest.as_str(),
        subject.media_type.as_str(),
        subject.size,
    );
    let manifest = notation_manifest(subject, (&sha256(&jws), jws.len() as u64));
    candidate(manifest, Found::Referrer, jws)
}

/// A Notation signature of the test image by `chain`, with the protected `header`.
fn notation(chain: &Chain, header: &Value) -> Candidate {
    notation_candidate(chain.jws(header, &target(&test_image())))
}

/// `header` with the critical header `name` set to `value` (and listed in `crit`).
fn with_critical(mut header: Value, name: &str, value: Value) -> Value {
    header[name] = value;
    header["crit"].as_array_mut().unwrap().push(json!(name));
    header
}

/// A good Notation signature's JWS whose `x5c` holds its leaf `count` times.
fn jws_with_certificates(chain: &Chain, count: usize) -> Vec<u8> {
    let jws = chain.jws(&header(&version()), &target(&test_image()));
    let mut v: Value = serde_json::from_slice(&jws).unwrap();
    let one = v["header"]["x5c"][0].clone();
    v["header"]["x5c"] = Value::Array(vec![one; count]);
    v.to_string().into_bytes()
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
    notation(chain, &header(&version()))
}

/// What a policy requiring PROFILE (revocation skipped) makes of `candidate`.
fn run_notation(chain: &Chain, candidate: Candidate) -> Result<Vec<Evidence>, VerifyError> {
    let policy = notation_policy(chain, &[PROFILE], Revocation::Skip);
    run(&policy, &test_image(), &[candidate])
}

#[test]
fn notation_signature_by_the_profile_verifies() {
    let chain = Chain::new();
    let candidate = good_notation(&chain);
    assert_eq!(classify(&candidate.manifest), Some(Format::Notation));
    assert_eq!(wanted(&candidate.manifest).len(), 1);
    let evidence = run_notation(&chain, candidate).unwrap();
    assert_eq!(
        evidence[0].signer,
        format!("notation profile {}", version())
    );
    assert_eq!(evidence[0].signed_at.as_deref(), Some(SIGNED_TEXT));
}

#[test]
fn notation_version_arn_must_match_exactly() {
    let chain = Chain::new();
    let exact = version();
    run(
        &notation_policy(&chain, &[&exact], Revocation::Skip),
        &test_image(),
        &[good_notation(&chain)],
    )
    .unwrap();
    let other_version = format!("{PROFILE}/zzzzzzzzzz");
    let err = run(
        &notation_policy(&chain, &[&other_version], Revocation::Skip),
        &test_image(),
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
    let chain = Chain::new();
    let other = "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/other";
    let candidate = notation(&chain, &header(&format!("{other}/v1")));
    let err = run_notation(&chain, candidate).unwrap_err();
    assert!(matches!(err, VerifyError::WrongProfile { .. }), "{err}");
    eprintln!("MSG {err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "no signature by the AWS Signer profile {PROFILE} on {}",
            test_image().digest
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
    let chain = Chain::new();
    let h = with_critical(header(&version()), "io.example.mustUnderstand", json!("x"));
    let err = run_notation(&chain, notation(&chain, &h)).unwrap_err();
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
    let err = run_notation(&chain, notation(&chain, &h)).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn notation_payload_for_another_image_is_refused() {
    let chain = Chain::new();
    let mut other = test_image();
    other.digest = other_digest();
    let signed = chain.jws(&header(&version()), &target(&other));
    let err = run_notation(&chain, notation_candidate(signed)).unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    eprintln!("MSG {err}");
    let mut resized = test_image();
    resized.size += 1;
    let signed = chain.jws(&header(&version()), &target(&resized));
    let err = run_notation(&chain, notation_candidate(signed)).unwrap_err();
    assert!(matches!(err, VerifyError::OtherDigest { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn notation_alg_must_fit_the_leaf_key() {
    let chain = Chain::new();
    let mut h = header(&version());
    h["alg"] = json!("ES256");
    let err = run_notation(&chain, notation(&chain, &h)).unwrap_err();
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
    let chain = Chain::new();
    let expiry = json!("2026-01-02T04:00:00Z");
    let h = with_critical(header(&version()), "io.cncf.notary.expiry", expiry);
    let candidate = notation(&chain, &h);
    let policy = notation_policy(&chain, &[PROFILE], Revocation::Skip);
    run_at(
        &policy,
        &test_image(),
        std::slice::from_ref(&candidate),
        SIGNED + 60,
        |_| Ok(Vec::new()),
    )
    .unwrap();
    let err = run_at(&policy, &test_image(), &[candidate], SIGNED + 7200, |_| {
        Ok(Vec::new())
    })
    .unwrap_err();
    assert!(matches!(err, VerifyError::Expired { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn notation_chain_to_another_root_is_refused() {
    let (chain, other) = (Chain::new(), Chain::new());
    let err = run(
        &notation_policy(&other, &[PROFILE], Revocation::Skip),
        &test_image(),
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
    let chain = Chain::new();
    let policy = notation_policy(&chain, &[PROFILE], Revocation::Required);
    let candidates = [good_notation(&chain)];
    let asked = std::cell::RefCell::new(Vec::new());
    run_at(&policy, &test_image(), &candidates, NOW, |q| {
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

    let err = run_at(&policy, &test_image(), &candidates, NOW, |_| {
        Ok(vec![JOB.to_owned()])
    })
    .unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string().contains(&format!("revoked: {JOB}")),
        "{err}"
    );

    let err = run_at(&policy, &test_image(), &candidates, NOW, |_| {
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
    let chain = Chain::new();
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
    let subject = test_image();
    let mut big = cosign_payload(&subject.digest);
    big.resize(MAX_SIGNATURE_BLOB as usize + 1, b' ');
    let candidate = signed_legacy(&key, &big);
    assert!(
        wanted(&candidate.manifest).is_empty(),
        "a layer over the limit is not fetched"
    );
    let err = run_cosign(&key, &[candidate]).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
    assert!(
        err.to_string().contains("more than the 1048576 allowed"),
        "{err}"
    );
}

#[test]
fn a_jws_with_ten_thousand_certificates_is_refused() {
    let chain = Chain::new();
    let jws = jws_with_certificates(&chain, 10_000);
    let err = run_notation(&chain, notation_candidate(jws)).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn deeply_nested_json_is_refused() {
    let key = Key::p256();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = run_cosign(&key, &[signed_legacy(&key, deep.as_bytes())]).unwrap_err();
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
    let err = run_cosign(&key, &[candidate]).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    eprintln!("MSG {err}");
}

#[test]
fn a_chain_longer_than_allowed_and_other_plugins_are_refused() {
    let chain = Chain::new();
    let jws = jws_with_certificates(&chain, notation::MAX_CHAIN + 1);
    let err = run_notation(&chain, notation_candidate(jws)).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    assert!(
        err.to_string().contains("x5c holds 11 certificates"),
        "{err}"
    );

    let plugin = json!(notation::AWS_SIGNER_PLUGIN);
    let h = with_critical(
        header(&version()),
        "io.cncf.notary.verificationPlugin",
        plugin,
    );
    let mut h = with_critical(
        h,
        "io.cncf.notary.verificationPluginMinVersion",
        json!("1.0.0"),
    );
    run_notation(&chain, notation(&chain, &h)).unwrap();
    h["io.cncf.notary.verificationPlugin"] = json!("io.example.plugin");
    let err = run_notation(&chain, notation(&chain, &h)).unwrap_err();
    assert!(matches!(err, VerifyError::Unsupported { .. }), "{err}");
}

#[test]
fn every_refusal_has_a_listed_name_and_is_job_failed() {
    let key = Key::p256();
    let subject = test_image();
    let errors = [
        run_cosign(&key, &[]).unwrap_err(),
        run_cosign(
            &key,
            &[signed_legacy(&key, &cosign_payload(&other_digest()))],
        )
        .unwrap_err(),
        run_cosign(
            &key,
            &[signed_legacy(
                &Key::p256(),
                &cosign_payload(&subject.digest),
            )],
        )
        .unwrap_err(),
        run_cosign(
            &key,
            &[legacy_candidate(&cosign_payload(&subject.digest), "!")],
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

//! shared::verify's trust material read from the local AWS: cosign keys in S3 and in KMS
//! (signatures made by KMS `Sign`), and the refusals of missing objects and unusable keys.
#![cfg(feature = "verify")]

use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use serde_json::json;
use shared::error::{Failure, FailureType};
use shared::verify::*;
use testkit::LocalAws;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn sha256(bytes: &[u8]) -> String {
    shared::registry::sha256_digest(bytes)
}

fn image() -> Subject {
    let manifest = br#"{"schemaVersion":2,"layers":[]}"#;
    Subject {
        digest: sha256(manifest),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: manifest.len() as u64,
    }
}

fn payload() -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"app"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}}"#,
        image().digest
    )
    .into_bytes()
}

fn legacy(signature: &[u8]) -> Candidate {
    let payload = payload();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{
            "mediaType": SIMPLE_SIGNING,
            "digest": sha256(&payload),
            "size": payload.len(),
            "annotations": {"dev.cosignproject.cosign/signature": B64.encode(signature)},
        }],
    })
    .to_string()
    .into_bytes();
    Candidate {
        digest: sha256(&manifest),
        manifest,
        found: Found::LegacyTag("sha256-x.sig".into()),
        blobs: vec![Blob {
            digest: sha256(&payload),
            bytes: payload,
        }],
    }
}

async fn kms_key(kms: &aws_sdk_kms::Client, spec: KeySpec) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

async fn kms_sign(
    kms: &aws_sdk_kms::Client,
    arn: &str,
    algorithm: SigningAlgorithmSpec,
) -> Vec<u8> {
    kms.sign()
        .key_id(arn)
        .message(aws_smithy_types::Blob::new(payload()))
        .message_type(MessageType::Raw)
        .signing_algorithm(algorithm)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner()
}

fn spec(value: serde_json::Value) -> Requirements {
    Requirements::parse(&value, "verify").unwrap()
}

#[tokio::test]
async fn keys_are_read_from_kms_and_s3() {
    let aws = LocalAws::start().await;
    let sdk = aws.sdk_config().await;
    let lookups = Lookups::new(&sdk);
    let kms = &lookups.kms;

    // A key in S3 (its PEM), made here and signing here.
    let local = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &local.serialize_der(),
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let s3 = aws.s3().await;
    s3.create_bucket().bucket("trust").send().await.unwrap();
    s3.put_object()
        .bucket("trust")
        .key("cosign.pub")
        .body(local.public_key_pem().into_bytes().into())
        .send()
        .await
        .unwrap();

    let p256 = kms_key(kms, KeySpec::EccNistP256).await;
    let rsa = kms_key(kms, KeySpec::Rsa2048).await;
    let policy = load(
        &spec(json!({"require": [
            {"cosign": {"kmsKey": p256}},
            {"cosign": {"kmsKey": rsa}},
            {"cosign": {"keyUri": "s3://trust/cosign.pub"}},
        ]})),
        &lookups,
    )
    .await
    .unwrap();
    let candidates = [
        legacy(&kms_sign(kms, &p256, SigningAlgorithmSpec::EcdsaSha256).await),
        legacy(&kms_sign(kms, &rsa, SigningAlgorithmSpec::RsassaPkcs1V15Sha256).await),
        legacy(
            signer
                .sign(&ring::rand::SystemRandom::new(), &payload())
                .unwrap()
                .as_ref(),
        ),
    ];
    let evidence = check(&policy, &image(), &candidates, &lookups)
        .await
        .unwrap();
    assert_eq!(evidence.len(), 3);
    assert!(
        evidence[2].requirement.contains("(s3://trust/cosign.pub)"),
        "{evidence:?}"
    );

    // One signature missing: the KMS key's requirement names the key ARN.
    let err = check(&policy, &image(), &candidates[1..], &lookups)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedKey { .. }), "{err}");
    assert!(err.to_string().contains(&p256), "{err}");
}

#[tokio::test]
async fn missing_objects_and_unusable_keys_are_configuration_errors() {
    let aws = LocalAws::start().await;
    let sdk = aws.sdk_config().await;
    let lookups = Lookups::new(&sdk);
    let s3 = aws.s3().await;
    s3.create_bucket().bucket("trust").send().await.unwrap();
    s3.put_object()
        .bucket("trust")
        .key("root.json")
        .body(b"{\"not\": \"a root\"}".to_vec().into())
        .send()
        .await
        .unwrap();

    let err = load(
        &spec(json!({"require": [{"cosign": {"keyUri": "s3://trust/none.pub"}}]})),
        &lookups,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, VerifyError::TrustMaterial { .. }), "{err}");
    assert_eq!(err.to_string(), "s3://trust/none.pub: does not exist");
    assert_eq!(err.failure_type(), FailureType::ConfigurationError);

    let err = load(
        &spec(
            json!({"require": [{"cosign": {"identity": "x", "issuer": "https://issuer.example",
                                              "trustedRoot": "s3://trust/root.json"}}]}),
        ),
        &lookups,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, VerifyError::TrustMaterial { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("s3://trust/root.json: is not a Sigstore trusted root"),
        "{err}"
    );

    let k1 = kms_key(&lookups.kms, KeySpec::EccSecgP256K1).await;
    let err = load(
        &spec(json!({"require": [{"cosign": {"kmsKey": k1}}]})),
        &lookups,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, VerifyError::KeyUnsupported { .. }), "{err}");
    assert!(
        err.to_string().contains("has key spec ECC_SECG_P256K1"),
        "{err}"
    );
    assert_eq!(err.error_type(), "SignatureKeyUnsupported");
}

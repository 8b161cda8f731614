//! shared::verify's trust material read from the local AWS: cosign keys in S3 and in KMS
//! (signatures made by KMS `Sign`), and the refusals of missing objects and unusable keys.
#![cfg(feature = "verify")]

use aws_sdk_kms::types::{KeySpec, SigningAlgorithmSpec};
use base64::Engine;
use serde_json::json;
use shared::error::{Failure, FailureType};
use shared::verify::*;
use testkit::LocalAws;
use testkit::signing::{B64, Key, cosign_payload, kms_key, kms_sign, legacy_candidate, test_image};

fn payload() -> Vec<u8> {
    cosign_payload(&test_image().digest)
}

/// cosign's legacy signature of the test image, `signature` over its payload.
fn legacy(signature: &[u8]) -> Candidate {
    legacy_candidate(&payload(), &B64.encode(signature))
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
    let local = Key::p256();
    let s3 = aws.s3().await;
    s3.create_bucket().bucket("trust").send().await.unwrap();
    s3.put_object()
        .bucket("trust")
        .key("cosign.pub")
        .body(local.pem().into_bytes().into())
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
    let payload = payload();
    let candidates = [
        legacy(&kms_sign(kms, &p256, SigningAlgorithmSpec::EcdsaSha256, &payload).await),
        legacy(
            &kms_sign(
                kms,
                &rsa,
                SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
                &payload,
            )
            .await,
        ),
        legacy(&local.sign(&payload)),
    ];
    let evidence = check(&policy, &test_image(), &candidates, &lookups)
        .await
        .unwrap();
    assert_eq!(evidence.len(), 3);
    assert!(
        evidence[2].requirement.contains("(s3://trust/cosign.pub)"),
        "{evidence:?}"
    );

    // One signature missing: the KMS key's requirement names the key ARN.
    let err = check(&policy, &test_image(), &candidates[1..], &lookups)
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

#[tokio::test]
async fn a_kms_key_is_read_in_its_own_region() {
    let aws = LocalAws::start().await;
    let sdk = aws.sdk_config().await;
    let lookups = Lookups::new(&sdk);
    // The key lives in eu-west-1; the function's clients are in its own region.
    let elsewhere = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .region(aws_sdk_kms::config::Region::new("eu-west-1"))
            .build(),
    );
    let arn = kms_key(&elsewhere, KeySpec::EccNistP256).await;
    assert!(arn.contains(":eu-west-1:"), "{arn}");
    let policy = load(
        &spec(json!({"require": [{"cosign": {"kmsKey": arn}}]})),
        &lookups,
    )
    .await
    .expect("the key is read in its region");
    assert_eq!(policy.require.len(), 1);
}

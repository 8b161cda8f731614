//! `verify`: the source must carry the signatures required before anything is written,
//! against the real parts: the local AWS (ECR with ListImageReferrers, S3, KMS Sign, AWS
//! Signer's revocations) and Debian's distribution registry, with signatures made here by
//! freshly generated keys. cosign keys (inline and KMS), Notation by a test AWS Signer
//! chain (revoked and not), and each refusal: no signature, another digest, another key, a
//! signature layer over 1 MiB; a retag in place is gated too.

mod common;

use aws_sdk_kms::types::{KeySpec, SigningAlgorithmSpec};
use common::*;
use serde_json::{Value, json};
use shared::referrers::tag_schema_tag;
use shared::registry::sha256_digest;
use testkit::local_aws::{ACCOUNT, Fault};
use testkit::registry::{AuthMode, EMPTY_JSON, Registry, put_user_secret, seed_image};
use testkit::signing::{
    Chain, Key, cosign_payload, kms_key, kms_sign, notation_manifest, notation_payload,
    registry_cosign, signer_header,
};

const SECRET: &str = "registry/verify";
const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release";
const JOB: &str = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/5c6d7e8f";
const BUCKET: &str = "verify-trust";

/// A new repository `repo` holding an unsigned image tagged `v1`: its digest and manifest.
async fn image_in_new_repo(env: &Env, repo: &str) -> (String, String) {
    create_repo(&env.ecr, repo, false).await;
    ecr_image(env, repo, "v1", repo).await
}

async fn signed_by(env: &Env, repo: &str, subject: &str, key: &Key) -> String {
    let payload = cosign_payload(subject);
    ecr_cosign(env, repo, subject, &payload, &key.sign(&payload)).await
}

fn key_policy(key: &Key) -> Value {
    json!({"require": [{"cosign": {"key": key.pem()}}]})
}

fn params(source: &str, target: &str, verify: Value) -> Value {
    json!({
        "source": {"repository": source, "tag": "v1"},
        "tags": ["prod"],
        "target": {"repository": target},
        "verify": verify,
    })
}

/// Runs the promotion of `source:v1` into `target`, requiring a cosign signature by `key`.
async fn promote_requiring(env: &Env, source: &str, target: &str, key: &Key) -> Run {
    run_job(env, &params(source, target, key_policy(key)), None).await
}

/// The refusal of a run that must have written nothing.
fn refused<'a>(run: &'a Run, digest: &str) -> &'a str {
    let message = run.failure("JobFailed");
    assert!(
        message.contains(digest),
        "names the image digest: {message}"
    );
    assert!(
        run.ops("PutImage").is_empty(),
        "nothing written: {:?}",
        run.operations()
    );
    assert_eq!(run.writes(), Vec::<String>::new());
    message
}

async fn put_trust_file(env: &Env, key: &str, body: &str) -> String {
    let _ = env.s3.create_bucket().bucket(BUCKET).send().await;
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .expect("trust file stored");
    format!("s3://{BUCKET}/{key}")
}

#[test]
fn ecr_to_ecr_signed_by_the_key_is_promoted_with_its_signature_named() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        create_repo(&env.ecr, "v-dst", false).await;
        let (digest, _) = image_in_new_repo(env, "v-src").await;
        let signature = signed_by(env, "v-src", &digest, &key).await;

        let run = promote_requiring(env, "v-src", "v-dst", &key).await;
        run.summary_with("Verified: signed by cosign key sha256:");
        assert_eq!(
            digest_of(&env.ecr, "v-dst", "prod").await.as_deref(),
            Some(digest.as_str())
        );
        let tag = format!("{}.sig", tag_schema_tag(&digest).unwrap());
        assert_eq!(
            digest_of(&env.ecr, "v-dst", &tag).await.as_deref(),
            Some(signature.as_str()),
            "the signature travels with the image"
        );
        // Discovery read the signature manifest already: verifying adds the payload blob's
        // read to the four blobs copied (the image's config and layer, the signature's).
        assert_eq!(
            run.ops("GetDownloadUrlForLayer").len(),
            5,
            "{:?}",
            run.operations()
        );
        assert_eq!(
            run.ops("ListImageReferrers").len(),
            2,
            "each side listed once"
        );
    });
}

#[test]
fn an_unsigned_image_is_refused_before_any_write() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        create_repo(&env.ecr, "v-unsigned-dst", false).await;
        let (digest, _) = image_in_new_repo(env, "v-unsigned").await;
        let run = promote_requiring(env, "v-unsigned", "v-unsigned-dst", &key).await;
        let message = refused(&run, &digest);
        assert!(
            message.contains("cosign key"),
            "names what was required: {message}"
        );
        assert_eq!(digest_of(&env.ecr, "v-unsigned-dst", "prod").await, None);
    });
}

#[test]
fn an_index_whose_children_alone_are_signed_is_refused_and_signed_it_moves_with_theirs() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        create_repo(&env.ecr, "v-index", false).await;
        create_repo(&env.ecr, "v-index-dst", false).await;
        let (index, _, children) = ecr_index(env, "v-index", "v1", 2).await;
        for child in &children {
            signed_by(env, "v-index", child, &key).await;
        }
        let run = promote_requiring(env, "v-index", "v-index-dst", &key).await;
        let message = refused(&run, &index);
        assert!(message.contains("cosign key"), "{message}");

        // cosign signs the index too (`--recursive`): all three signatures move.
        signed_by(env, "v-index", &index, &key).await;
        let run = promote_requiring(env, "v-index", "v-index-dst", &key).await;
        run.summary_with("Verified: signed by cosign key sha256:");
        run.summary_with("Copied cosign tags sha256-");
        for subject in std::iter::once(&index).chain(&children) {
            let tag = format!("{}.sig", tag_schema_tag(subject).unwrap());
            assert!(
                digest_of(&env.ecr, "v-index-dst", &tag).await.is_some(),
                "{tag}"
            );
        }
    });
}

#[test]
fn a_signature_over_another_digest_or_by_another_key_is_refused() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (trusted, other) = (Key::p256(), Key::p256());
        create_repo(&env.ecr, "v-other-dst", false).await;
        let (digest, _) = image_in_new_repo(env, "v-other").await;
        let elsewhere = sha256_digest(b"another image");
        let payload = cosign_payload(&elsewhere);
        ecr_cosign(env, "v-other", &digest, &payload, &trusted.sign(&payload)).await;
        let run = promote_requiring(env, "v-other", "v-other-dst", &trusted).await;
        let message = refused(&run, &digest);
        assert!(
            message.contains(&format!("over {}", &elsewhere[..19])),
            "says which image the signature is over: {message}"
        );

        let (digest, _) = image_in_new_repo(env, "v-untrusted").await;
        signed_by(env, "v-untrusted", &digest, &other).await;
        let run = promote_requiring(env, "v-untrusted", "v-other-dst", &trusted).await;
        let message = refused(&run, &digest);
        assert!(
            message.contains("a cosign signature not by key"),
            "{message}"
        );
        assert_eq!(digest_of(&env.ecr, "v-other-dst", "prod").await, None);
    });
}

#[test]
fn a_signature_layer_over_one_mebibyte_is_refused_clearly() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        create_repo(&env.ecr, "v-big-dst", false).await;
        let (digest, _) = image_in_new_repo(env, "v-big").await;
        let mut payload = cosign_payload(&digest);
        payload.resize((1 << 20) + 1, b' ');
        ecr_cosign(env, "v-big", &digest, &payload, &key.sign(&payload)).await;
        let run = promote_requiring(env, "v-big", "v-big-dst", &key).await;
        let message = refused(&run, &digest);
        assert!(message.contains("1048576"), "names the bound: {message}");
        assert!(
            run.ops("GetDownloadUrlForLayer").is_empty(),
            "the blob is not read"
        );
    });
}

#[test]
fn a_retag_in_the_same_repository_is_gated_too() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        let (digest, _) = image_in_new_repo(env, "v-retag").await;
        let params = json!({
            "source": {"repository": "v-retag", "tag": "v1"},
            "tags": ["prod"],
            "verify": key_policy(&key),
        });
        let run = run_job(env, &params, None).await;
        refused(&run, &digest);
        assert_eq!(digest_of(&env.ecr, "v-retag", "prod").await, None);

        signed_by(env, "v-retag", &digest, &key).await;
        let run = run_job(env, &params, None).await;
        run.summary_with("Verified: signed by cosign key");
        assert_eq!(
            digest_of(&env.ecr, "v-retag", "prod").await.as_deref(),
            Some(digest.as_str())
        );
        assert_eq!(
            run.ops("PutImage").len(),
            1,
            "only the tag: {:?}",
            run.operations()
        );
    });
}

#[test]
fn a_source_pinned_by_digest_is_gated_with_its_signatures_read_once() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        let (digest, _) = image_in_new_repo(env, "v-pinned").await;
        let mut params = json!({
            "source": {"repository": "v-pinned", "digest": digest},
            "tags": ["prod"],
            "verify": key_policy(&key),
        });
        let run = run_job(env, &params, None).await;
        refused(&run, &digest);

        signed_by(env, "v-pinned", &digest, &key).await;
        let run = run_job(env, &params, None).await;
        run.summary_with("Verified: signed by cosign key");
        assert_eq!(
            digest_of(&env.ecr, "v-pinned", "prod").await.as_deref(),
            Some(digest.as_str())
        );
        assert_eq!(
            run.ops("ListImageReferrers").len(),
            1,
            "read from the start, not again in discovery: {:?}",
            run.operations()
        );

        // Into another repository: the signature moves with the image.
        create_repo(&env.ecr, "v-pinned-dst", false).await;
        params["target"] = json!({"repository": "v-pinned-dst"});
        let run = run_job(env, &params, None).await;
        run.summary_with("Verified: signed by cosign key");
        let tag = format!("{}.sig", tag_schema_tag(&digest).unwrap());
        assert!(digest_of(&env.ecr, "v-pinned-dst", &tag).await.is_some());
        assert_eq!(
            digest_of(&env.ecr, "v-pinned-dst", "prod").await.as_deref(),
            Some(digest.as_str())
        );
    });
}

#[test]
fn a_pinned_sources_sig_tag_meeting_the_policy_does_not_wait_for_its_referrers() {
    let (env, _serial) = env();
    RT.block_on(async {
        let key = Key::p256();
        let params = |repo: &str, digest: &str| {
            json!({"source": {"repository": repo, "digest": digest}, "tags": ["prod"],
                   "verify": key_policy(&key)})
        };
        // The referrers cannot be listed; the `.sig` tag meets the policy without them.
        env.aws
            .fault(Fault::deny("ecr", "ListImageReferrers").times(-1))
            .await;
        let (digest, _) = image_in_new_repo(env, "v-early").await;
        signed_by(env, "v-early", &digest, &key).await;
        let run = run_job(env, &params("v-early", &digest), None).await;
        run.summary_with("Verified: signed by cosign key");

        // Signed by another key, the tag falls short: the referrers are waited for, and
        // their failure is the answer.
        let (digest, _) = image_in_new_repo(env, "v-early-other").await;
        signed_by(env, "v-early-other", &digest, &Key::p256()).await;
        let run = run_job(env, &params("v-early-other", &digest), None).await;
        let message = run.failure("PermissionError");
        assert!(message.contains("ListImageReferrers"), "{message}");
        assert!(run.ops("PutImage").is_empty());
        env.aws.clear_faults().await;
    });
}

#[test]
fn a_kms_key_signature_is_checked_against_the_key_kms_holds() {
    let (env, _serial) = env();
    RT.block_on(async {
        let kms = aws_sdk_kms::Client::new(&env.sdk);
        let arn = kms_key(&kms, KeySpec::EccNistP256).await;
        create_repo(&env.ecr, "v-kms-dst", false).await;
        let (digest, _) = image_in_new_repo(env, "v-kms").await;
        let payload = cosign_payload(&digest);
        let signature = kms_sign(&kms, &arn, SigningAlgorithmSpec::EcdsaSha256, &payload).await;
        ecr_cosign(env, "v-kms", &digest, &payload, &signature).await;
        let verify = json!({"require": [{"cosign": {"kmsKey": arn}}]});
        let run = run_job(env, &params("v-kms", "v-kms-dst", verify), None).await;
        run.summary_with("Verified: signed by cosign key");
        assert_eq!(run.ops("GetPublicKey").len(), 1, "the key read once");
    });
}

/// A Notation signature of `subject` by the test chain, pushed to ECR as a referrer.
async fn ecr_notation(env: &Env, repo: &str, subject: (&str, u64), chain: &Chain, version: &str) {
    let subject = (subject.0, OCI_MANIFEST, subject.1);
    let jws = chain.jws(
        &signer_header(version, JOB, "2026-12-01T10:00:00Z"),
        &notation_payload(subject),
    );
    put_blob(env, repo, EMPTY_JSON);
    let layer = put_blob(env, repo, &jws);
    let manifest = notation_manifest(subject, (&layer, jws.len() as u64));
    let digest = sha256_digest(&manifest);
    let text = String::from_utf8(manifest).unwrap();
    push(&env.ecr, repo, &text, OCI_MANIFEST, &digest, None).await;
}

#[test]
fn notation_by_the_signer_profile_is_accepted_unless_revoked() {
    let (env, _serial) = env();
    RT.block_on(async {
        let chain = Chain::new();
        let roots = put_trust_file(env, "signer-root.pem", &chain.root_pem).await;
        let version = format!("{PROFILE}/v1a2b3c");
        create_repo(&env.ecr, "v-notation-dst", false).await;
        let (digest, manifest) = image_in_new_repo(env, "v-notation").await;
        ecr_notation(env, "v-notation", (&digest, manifest.len() as u64), &chain, &version).await;
        let verify = json!({"require": [{"notation": {"signingProfiles": [PROFILE], "rootCertificates": roots}}]});
        let params = params("v-notation", "v-notation-dst", verify);

        env.aws.clear_signer_revocations().await;
        env.aws.revoke_signer_entities(ACCOUNT, &[&format!("{PROFILE}/another")]).await;
        let run = run_job(env, &params, None).await;
        run.summary_with(&format!("Verified: signed by notation profile {version}"));
        assert_eq!(run.ops("GetRevocationStatus").len(), 1, "revocation asked");

        env.aws.revoke_signer_entities(ACCOUNT, &[&version]).await;
        let retag = json!({
            "source": {"repository": "v-notation", "tag": "v1"},
            "tags": ["v1-approved"],
            "target": {"repository": "v-notation-dst"},
            "verify": params["verify"],
        });
        let run = run_job(env, &retag, None).await;
        let message = refused(&run, &digest);
        assert!(message.contains("revoked"), "{message}");
        assert_eq!(digest_of(&env.ecr, "v-notation-dst", "v1-approved").await, None);
        env.aws.clear_signer_revocations().await;
    });
}

#[test]
fn registry_to_ecr_signed_by_the_key_is_promoted_with_its_signature() {
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, SECRET).await;
        let key = Key::p256();
        let registry = Registry::start(AuthMode::Basic).await;
        let from = registry.client();
        let image = seed_image(&from, "hub/signed", "v1", &[10_000], 71, true).await;
        let signature = registry_cosign(&from, "hub/signed", &image.digest, &key).await;
        let tag = format!("{}.sig", tag_schema_tag(&image.digest).unwrap());

        // The signed image promoted into `repository` of the local ECR, requiring `key`.
        let params = |repository: &str, key: &Key| {
            json!({
                "source": {"imageUri": format!("{}/hub/signed:v1", registry.host()), "credentialsSecret": SECRET},
                "tags": ["prod"],
                "target": {"registry": ECR_HOST, "repository": repository},
                "verify": key_policy(key),
            })
        };
        create_repo(&env.ecr, "v-from-hub", false).await;
        let run = run_job(env, &params("v-from-hub", &key), None).await;
        run.summary_with("Verified: signed by cosign key");
        assert_eq!(digest_of(&env.ecr, "v-from-hub", &tag).await.as_deref(), Some(signature.digest.as_str()));

        create_repo(&env.ecr, "v-from-hub-2", false).await;
        let run = run_job(env, &params("v-from-hub-2", &Key::p256()), None).await;
        refused(&run, &image.digest);
    });
}

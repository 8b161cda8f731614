//! `verify` end to end against the local AWS: an ECR image signed with a test cosign key
//! is rendered and registered with its signature named; an unsigned one is refused before
//! anything is written or registered. An image in a private registry (Debian's
//! distribution registry with Basic auth) is read with its container's
//! `repositoryCredentials`, and refused read anonymously, saying where to name them.

mod common;

use common::*;
use serde_json::{Value, json};
use testkit::registry::{AuthMode, Registry, put_user_secret, seed_image};
use testkit::signing::{Key, OCI_MANIFEST, cosign_manifest, cosign_payload, registry_cosign};
use testkit::{JobBuilder, StagedJob};

const ECR: &str = "AmazonEC2ContainerRegistry_V20150921";

async fn call(target: &str, body: Value) -> Value {
    aws()
        .json_call(target, &body)
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"))
}

async fn put_image(repo: &str, manifest: &str, tag: &str) -> String {
    let digest = shared::registry::sha256_digest(manifest.as_bytes());
    call(
        &format!("{ECR}.PutImage"),
        json!({"repositoryName": repo, "imageManifest": manifest, "imageManifestMediaType": OCI_MANIFEST,
               "imageDigest": digest, "imageTag": tag}),
    )
    .await;
    digest
}

/// An image in the local ECR repository `repo` (created), tagged `v1`: its digest.
async fn image(repo: &str) -> String {
    call(
        &format!("{ECR}.CreateRepository"),
        json!({"repositoryName": repo}),
    )
    .await;
    let config = format!(r#"{{"architecture":"amd64","os":"linux","repo":"{repo}"}}"#);
    let config_digest = aws().put_ecr_blob(repo, config.as_bytes()).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [],
    })
    .to_string();
    put_image(repo, &manifest, "v1").await
}

/// cosign's legacy signature of `digest` by `key`, tagged `sha256-<hex>.sig`.
async fn sign(repo: &str, digest: &str, key: &Key) {
    let payload = cosign_payload(digest);
    let config = aws().put_ecr_blob(repo, b"{}").await;
    let layer = aws().put_ecr_blob(repo, &payload).await;
    let manifest = cosign_manifest(
        &config,
        (&layer, payload.len() as u64),
        &key.cosign_signature(&payload),
    );
    let tag = format!("{}.sig", digest.replace(':', "-"));
    put_image(repo, std::str::from_utf8(&manifest).unwrap(), &tag).await;
}

fn template(family: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "family": family,
        "containerDefinitions": [{"name": "app", "image": "<IMAGE1_NAME>", "essential": true, "memory": 128}],
    }))
    .unwrap()
}

async fn job(family: &str, repo: &str, key: &Key) -> StagedJob {
    let params = json!({
        "images": {"app": format!("{ECR_HOST}/{repo}:v1")},
        "register": true,
        "verify": {"require": [{"cosign": {"key": key.pem()}}]},
    });
    JobBuilder::new()
        .input("SourceArtifact", &[("taskdef.json", &template(family))])
        .output("Rendered")
        .user_parameters(params.to_string())
        .stage(aws())
        .await
}

async fn revisions(family: &str) -> usize {
    let out = call(
        &format!("{ECS}.ListTaskDefinitions"),
        json!({"familyPrefix": family}),
    )
    .await;
    out["taskDefinitionArns"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_signed_ecr_image_is_rendered_and_registered_with_its_signature_named() {
    let key = Key::p256();
    let digest = image("rv-signed").await;
    sign("rv-signed", &digest, &key).await;
    let job = job("rv-signed", "rv-signed", &key).await;
    let report = run(&job).await;
    let (summary, _) = report.expect_success();
    assert!(
        summary.contains("Verified: app signed by cosign key sha256:"),
        "{summary}"
    );
    assert_eq!(revisions("rv-signed").await, 1);
}

#[tokio::test]
async fn an_unsigned_image_is_refused_and_nothing_is_registered() {
    let key = Key::p256();
    let digest = image("rv-unsigned").await;
    let job = job("rv-unsigned", "rv-unsigned", &key).await;
    let report = run(&job).await;
    let message = report.expect_failure("JobFailed");
    assert!(message.contains(&digest), "names the digest: {message}");
    assert!(
        message.contains("cosign key"),
        "names the requirement: {message}"
    );
    assert_eq!(revisions("rv-unsigned").await, 0);

    // Signed by another key: refused the same way.
    sign("rv-unsigned", &digest, &Key::p256()).await;
    let job = self::job("rv-unsigned", "rv-unsigned", &key).await;
    let message = run(&job).await.expect_failure("JobFailed").to_owned();
    assert!(message.contains("not by key"), "{message}");
    assert_eq!(revisions("rv-unsigned").await, 0);
}

#[tokio::test]
async fn a_private_registry_image_is_read_with_its_containers_repository_credentials() {
    let sdk = aws().sdk_config().await;
    put_user_secret(&sdk, "rv-registry").await;
    let arn = aws_sdk_secretsmanager::Client::new(&sdk)
        .describe_secret()
        .secret_id("rv-registry")
        .send()
        .await
        .expect("the secret")
        .arn()
        .expect("its ARN")
        .to_owned();
    let key = Key::p256();
    let registry = Registry::start(AuthMode::Basic).await;
    let hub = registry.client();
    let image = seed_image(&hub, "team/app", "v1", &[4096], 91, true).await;
    registry_cosign(&hub, "team/app", &image.digest, &key).await;

    let job = |credentials: Option<&str>| {
        let mut container =
            json!({"name": "app", "image": "<IMAGE1_NAME>", "essential": true, "memory": 128});
        if let Some(arn) = credentials {
            container["repositoryCredentials"] = json!({"credentialsParameter": arn});
        }
        let template = json!({"family": "rv-hub", "containerDefinitions": [container]});
        let params = json!({
            "images": {"app": format!("{}/team/app@{}", registry.host(), image.digest)},
            "verify": {"require": [{"cosign": {"key": key.pem()}}]},
        });
        JobBuilder::new()
            .input(
                "SourceArtifact",
                &[("taskdef.json", &serde_json::to_vec(&template).unwrap())],
            )
            .output("Rendered")
            .user_parameters(params.to_string())
            .stage(aws())
    };

    let report = run(&job(Some(&arn)).await).await;
    let (summary, _) = report.expect_success();
    assert!(
        summary.contains("Verified: app signed by cosign key sha256:"),
        "{summary}"
    );

    let report = run(&job(None).await).await;
    let message = match &report {
        testkit::JobReport::Failure { message, .. } => message.clone(),
        other => panic!("refused without credentials: {other:?}"),
    };
    assert!(
        message.contains("requires credentials")
            && message.contains("repositoryCredentials.credentialsParameter"),
        "{message}"
    );
}

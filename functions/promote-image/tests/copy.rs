//! Promotion into another repository and another account: missing layers are streamed
//! through the ECR layer API in parts, then the manifests are put; throttling during
//! the copy is retried. The emulator serves the manifests and S3; the layer API answers
//! come from stubs and the uploaded bytes are checked from the call log.

mod common;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use common::*;
use serde_json::{Value, json};
use testkit::Fault;

const PART: usize = 64 * 1024;
const BLOBS: &str = "promote-image-test-blobs";

/// Deterministic bytes standing in for a compressed layer.
fn blob(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

struct Layer {
    digest: String,
    bytes: Vec<u8>,
}

/// Stores each blob in S3 and stubs GetDownloadUrlForLayer to hand out a presigned URL.
async fn serve_blobs(env: &Env, layers: &[&Layer]) {
    testkit::job::ensure_bucket(&env.s3, BLOBS).await;
    for layer in layers {
        let key = layer.digest.replace(':', "-");
        env.s3
            .put_object()
            .bucket(BLOBS)
            .key(&key)
            .body(layer.bytes.clone().into())
            .send()
            .await
            .expect("store blob");
        let presigned = env
            .s3
            .get_object()
            .bucket(BLOBS)
            .key(&key)
            .presigned(
                PresigningConfig::expires_in(Duration::from_secs(3600)).expect("presign config"),
            )
            .await
            .expect("presign");
        env.aws
            .stub(
                "ecr",
                "GetDownloadUrlForLayer",
                json!({"layerDigest": layer.digest}),
                json!({"downloadUrl": presigned.uri(), "layerDigest": layer.digest}),
            )
            .await;
    }
}

/// Stubs the target repository's layer API: `available` blobs exist, the others do not.
async fn stub_upload_api(env: &Env, target: &str, digests: &[&str], available: &[&str]) {
    let layers: Vec<Value> = digests
        .iter()
        .map(|dg| json!({"layerDigest": dg, "layerAvailability": if available.contains(dg) { "AVAILABLE" } else { "UNAVAILABLE" }}))
        .collect();
    let repo = json!({"repositoryName": target});
    env.aws
        .stub(
            "ecr",
            "BatchCheckLayerAvailability",
            repo.clone(),
            json!({"layers": layers, "failures": []}),
        )
        .await;
    env.aws
        .stub(
            "ecr",
            "InitiateLayerUpload",
            repo.clone(),
            json!({"uploadId": format!("{target}-upload"), "partSize": PART}),
        )
        .await;
    env.aws
        .stub("ecr", "UploadLayerPart", repo.clone(),
              json!({"uploadId": format!("{target}-upload"), "lastByteReceived": 0, "repositoryName": target}))
        .await;
    env.aws
        .stub(
            "ecr",
            "CompleteLayerUpload",
            repo,
            json!({"uploadId": format!("{target}-upload"), "repositoryName": target}),
        )
        .await;
}

/// Every uploaded part as (first byte, bytes), for one target repository.
fn uploaded_parts(run: &Run, target: &str) -> Vec<(u64, Vec<u8>)> {
    run.ops("UploadLayerPart")
        .into_iter()
        .filter(|c| c.fault.is_none() && c.status == 200)
        .filter_map(|c| c.request.as_ref())
        .filter(|r| r["repositoryName"] == target)
        .map(|r| {
            let bytes =
                aws_smithy_types::base64::decode(r["layerPartBlob"].as_str().unwrap_or_default())
                    .expect("base64 part");
            let first = r["partFirstByte"].as_u64().unwrap_or(u64::MAX);
            assert_eq!(
                r["partLastByte"].as_u64(),
                Some(first + bytes.len() as u64 - 1),
                "part range matches its bytes"
            );
            assert!(
                bytes.len() <= PART,
                "parts never exceed the part size ECR asked for"
            );
            (first, bytes)
        })
        .collect()
}

/// Asserts `layer` arrived whole: every part of it, at its offset, in the uploads.
fn assert_copied(parts: &[(u64, Vec<u8>)], layer: &Layer) {
    for (i, chunk) in layer.bytes.chunks(PART).enumerate() {
        let offset = (i * PART) as u64;
        assert!(
            parts
                .iter()
                .any(|(first, bytes)| *first == offset && bytes == chunk),
            "part {i} of {} missing",
            layer.digest
        );
    }
}

fn image_layers(name: &str) -> (Layer, Layer, Layer) {
    let config = Layer {
        digest: d(&format!("{name}/config")),
        bytes: blob(1, 1470),
    };
    let big = Layer {
        digest: d(&format!("{name}/big")),
        bytes: blob(2, 150_000),
    };
    let shared = Layer {
        digest: d(&format!("{name}/base")),
        bytes: blob(3, 70_000),
    };
    (config, big, shared)
}

fn manifest_of(config: &Layer, layers: &[&Layer]) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", &config.digest, config.bytes.len() as u64),
        "layers": layers.iter().map(|l| descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", &l.digest, l.bytes.len() as u64)).collect::<Vec<_>>(),
    })
    .to_string()
}

#[test]
fn cross_repository_copy_streams_missing_layers_in_parts() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (config, big, base) = image_layers("cp-web");
        let manifest = manifest_of(&config, &[&base, &big]);
        let digest = d("cp-web/image");
        create_repo(&env.ecr, "cp-web", false).await;
        create_repo(&env.ecr, "cp-web-prod", true).await;
        push(&env.ecr, "cp-web", &manifest, DOCKER_MANIFEST, &digest, Some("sha-1a2b3c")).await;
        serve_blobs(env, &[&config, &big, &base]).await;
        stub_upload_api(env, "cp-web-prod", &[&config.digest, &big.digest, &base.digest], &[&base.digest]).await;

        let params = json!({"source": {"repository": "cp-web", "tag": "sha-1a2b3c"}, "tags": ["prod", "v1.4.2"],
                            "target": {"repository": "cp-web-prod"}});
        let run = run_job(env, &params, None).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("to cp-web-prod: prod new; v1.4.2 new"), "{summary}");
        assert!(summary.contains("Copied 2 of 3 blobs (147.9 KiB)"), "{summary}");
        assert_eq!(vars["ImageUri"], format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/cp-web-prod@{digest}").as_str());

        assert_eq!(run.ops("BatchCheckLayerAvailability").len(), 1);
        let downloads: Vec<String> = run.ops("GetDownloadUrlForLayer").iter().map(|c| format!("{:?}", c.request)).collect();
        assert_eq!(downloads.len(), 2, "the blob the target has is not copied");
        assert!(downloads.iter().all(|r| !r.contains(&base.digest)));
        let parts = uploaded_parts(&run, "cp-web-prod");
        assert_eq!(parts.len(), 1 + 3, "config in one part, 150,000 bytes in three");
        assert_copied(&parts, &config);
        assert_copied(&parts, &big);
        let completed: Vec<String> = run.ops("CompleteLayerUpload").iter().map(|c| format!("{:?}", c.request)).collect();
        assert!(completed.iter().any(|r| r.contains(&big.digest)) && completed.iter().any(|r| r.contains(&config.digest)));
        let puts = run.ops("PutImage");
        assert_eq!(puts.len(), 2);
        assert!(puts.iter().all(|p| p.request.as_ref().is_some_and(|r| r["imageManifest"] == manifest.as_str() && r["repositoryName"] == "cp-web-prod")));
        assert_eq!(digest_of(&env.ecr, "cp-web-prod", "v1.4.2").await.as_deref(), Some(digest.as_str()));

        let again = run_job(env, &params, None).await;
        assert!(again.success().0.starts_with("Nothing to do: prod, v1.4.2 in cp-web-prod"), "{}", again.success().0);
        assert!(again.calls.iter().all(|c| !c.operation.contains("Layer")), "re-run copies nothing");
        assert_eq!(again.round_trips(), 1);
    });
}

#[test]
fn throttling_during_the_copy_is_retried_and_persistent_throttling_is_reported() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (config, big, base) = image_layers("cp-throttle");
        let manifest = manifest_of(&config, &[&base, &big]);
        let digest = d("cp-throttle/image");
        create_repo(&env.ecr, "cp-throttle", false).await;
        create_repo(&env.ecr, "cp-throttle-prod", false).await;
        create_repo(&env.ecr, "cp-throttle-dr", false).await;
        push(&env.ecr, "cp-throttle", &manifest, DOCKER_MANIFEST, &digest, Some("build")).await;
        serve_blobs(env, &[&config, &big, &base]).await;
        let all = [config.digest.as_str(), big.digest.as_str(), base.digest.as_str()];
        stub_upload_api(env, "cp-throttle-prod", &all, &[]).await;
        stub_upload_api(env, "cp-throttle-dr", &all, &[]).await;

        env.aws.fault(Fault::throttle("ecr", "UploadLayerPart").times(2)).await;
        let params = json!({"source": {"repository": "cp-throttle", "tag": "build"}, "tags": ["prod"], "target": {"repository": "cp-throttle-prod"}});
        let run = run_job(env, &params, None).await;
        let (summary, _) = run.success();
        assert!(summary.contains("Copied 3 of 3 blobs"), "{summary}");
        assert_eq!(run.ops("UploadLayerPart").iter().filter(|c| c.fault.as_deref() == Some("throttle")).count(), 2);
        let parts = uploaded_parts(&run, "cp-throttle-prod");
        for layer in [&config, &big, &base] {
            assert_copied(&parts, layer);
        }
        assert_eq!(digest_of(&env.ecr, "cp-throttle-prod", "prod").await.as_deref(), Some(digest.as_str()));

        env.aws.fault(Fault::throttle("ecr", "UploadLayerPart").times(-1)).await;
        let params = json!({"source": {"repository": "cp-throttle", "tag": "build"}, "tags": ["dr"], "target": {"repository": "cp-throttle-dr"}});
        let run = run_job(env, &params, None).await;
        env.aws.clear_faults().await;
        let message = run.failure("SystemUnavailable");
        assert!(message.contains("ecr:UploadLayerPart failed: ThrottlingException") && message.contains("retry the stage"), "{message}");
        assert!(run.ops("PutImage").is_empty(), "no manifest is put without its layers");
    });
}

#[test]
fn index_is_copied_into_another_account_through_an_assumed_role() {
    let (env, _serial) = env();
    RT.block_on(async {
        // The target account's view, through the same role the action assumes.
        let role = "arn:aws:iam::222233334444:role/promote-image-target";
        let sts = aws_sdk_sts::Client::new(&env.sdk);
        let creds = sts.assume_role().role_arn(role).role_session_name("test").send().await.expect("assume role");
        let c = creds.credentials().expect("credentials");
        let target_sdk = env
            .sdk
            .to_builder()
            .credentials_provider(aws_sdk_ecr::config::SharedCredentialsProvider::new(aws_sdk_ecr::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "test",
            )))
            .build();
        let target_ecr = aws_sdk_ecr::Client::new(&target_sdk);
        create_repo(&target_ecr, "cp-account", false).await;

        let (config, big, base) = image_layers("cp-account-amd64");
        let amd = (d("cp-account/amd64"), manifest_of(&config, &[&base, &big]));
        let att_layer = Layer { digest: d("cp-account/att-layer"), bytes: blob(9, 1450) };
        let att_config = Layer { digest: d("cp-account/att-config"), bytes: blob(10, 167) };
        let att = (d("cp-account/att"), manifest_of(&att_config, &[&att_layer]));
        create_repo(&env.ecr, "cp-account", false).await;
        push(&env.ecr, "cp-account", &amd.1, DOCKER_MANIFEST, &amd.0, None).await;
        push(&env.ecr, "cp-account", &att.1, DOCKER_MANIFEST, &att.0, None).await;
        let idx = index(OCI_INDEX, DOCKER_MANIFEST, &[(amd.0.clone(), "linux/amd64"), (att.0.clone(), "attestation")]);
        let digest = d("cp-account/index");
        push(&env.ecr, "cp-account", &idx, OCI_INDEX, &digest, Some("v1.4.2")).await;
        let layers = [&config, &big, &base, &att_layer, &att_config];
        serve_blobs(env, &layers).await;
        let digests: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
        stub_upload_api(env, "cp-account", &digests, &[]).await;

        let params = json!({"source": {"repository": "cp-account", "tag": "v1.4.2"}, "tags": ["prod"],
                            "target": {"roleArn": role}});
        let run = run_job(env, &params, None).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("to 222233334444/us-east-1/cp-account: prod new"), "{summary}");
        assert!(summary.contains("Copied 5 of 5 blobs") && summary.contains("and 2 child manifests"), "{summary}");
        assert_eq!(vars["ImageUri"], format!("222233334444.dkr.ecr.us-east-1.amazonaws.com/cp-account@{digest}").as_str());
        assert_eq!(run.ops("AssumeRole").len(), 1);

        // Children first (untagged), then the index under its tag.
        let puts: Vec<&Value> = run.ops("PutImage").into_iter().filter_map(|c| c.request.as_ref()).collect();
        assert_eq!(puts.len(), 3);
        let index_put = run.ops("PutImage").into_iter().find(|c| c.request.as_ref().is_some_and(|r| r["imageTag"] == "prod")).expect("tagged put");
        for child in run.ops("PutImage").into_iter().filter(|c| c.request.as_ref().is_some_and(|r| r.get("imageTag").is_none())) {
            assert!(child.end_ms <= index_put.start_ms, "children are in place before the index");
        }
        let parts = uploaded_parts(&run, "cp-account");
        for layer in layers {
            assert_copied(&parts, layer);
        }
        assert_eq!(digest_of(&target_ecr, "cp-account", "prod").await.as_deref(), Some(digest.as_str()));
        assert_eq!(digest_of(&env.ecr, "cp-account", "prod").await, None, "the source account is untouched");
    });
}

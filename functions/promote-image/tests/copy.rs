//! Promotion into another repository and another account: the blobs the target lacks
//! are streamed through the ECR layer API in parts, then the manifests are put;
//! throttling and slow downloads during the copy are retried. The emulator serves the
//! whole layer API with real blobs: it checks that parts are contiguous and that each
//! upload's sha256 matches its digest, and its download URLs serve the stored bytes.

mod common;

use std::collections::BTreeSet;

use aws_sdk_ecr::types::LayerAvailability;
use common::*;
use serde_json::{Value, json};
use testkit::Fault;
use testkit::local_aws::ACCOUNT;

/// The part size the emulated ECR asks for (ECR's is 10 MiB), so small blobs take
/// several parts.
const PART: usize = 64 * 1024;

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

/// A blob and its real digest.
struct Layer {
    digest: String,
    bytes: Vec<u8>,
}

/// Stores `bytes` as a blob of `repo` in the test account.
fn stored(env: &Env, repo: &str, bytes: Vec<u8>) -> Layer {
    Layer {
        digest: put_blob(env, repo, &bytes),
        bytes,
    }
}

/// A config and two layers (150,000 and 70,000 bytes), stored in `repo`.
fn image_layers(env: &Env, repo: &str) -> (Layer, Layer, Layer) {
    let config = stored(env, repo, blob(1, 1470));
    let big = stored(env, repo, blob(2, 150_000));
    let base = stored(env, repo, blob(3, 70_000));
    (config, big, base)
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

/// Asserts `repo` (through `ecr`) holds every layer whole: ECR reports each one
/// available with its size, and its download URL serves exactly its bytes.
async fn assert_has_blobs(env: &Env, ecr: &aws_sdk_ecr::Client, repo: &str, layers: &[&Layer]) {
    let out = ecr
        .batch_check_layer_availability()
        .repository_name(repo)
        .set_layer_digests(Some(layers.iter().map(|l| l.digest.clone()).collect()))
        .send()
        .await
        .expect("BatchCheckLayerAvailability");
    assert!(
        out.failures().is_empty(),
        "missing from {repo}: {:?}",
        out.failures()
    );
    for layer in layers {
        let found = out
            .layers()
            .iter()
            .find(|l| l.layer_digest() == Some(layer.digest.as_str()))
            .unwrap_or_else(|| panic!("{} not reported", layer.digest));
        assert_eq!(
            found.layer_availability(),
            Some(&LayerAvailability::Available)
        );
        assert_eq!(found.layer_size(), Some(layer.bytes.len() as i64));
        let bytes = download_blob(env, ecr, repo, &layer.digest).await;
        assert!(
            bytes == layer.bytes,
            "{} in {repo} has other bytes",
            layer.digest
        );
    }
}

/// The digests named by the run's successful `operation` calls (a fault of kind delay
/// still succeeds), sorted.
fn digests(run: &Run, operation: &str, field: &str) -> Vec<String> {
    let mut found: Vec<String> = run
        .ops(operation)
        .into_iter()
        .filter(|c| c.status == 200)
        .filter_map(|c| c.request.as_ref())
        .map(|r| match &r[field] {
            Value::Array(list) => list[0].as_str().unwrap_or_default().to_owned(),
            other => other.as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    found.sort();
    found
}

/// The `seq`s of the calls of `operation` whose `field` names `digest`.
fn seqs_of(run: &Run, operation: &str, field: &str, digest: &str) -> Vec<u64> {
    run.ops(operation)
        .into_iter()
        .filter(|c| {
            c.request.as_ref().is_some_and(|r| match &r[field] {
                Value::Array(list) => list.iter().any(|d| d == digest),
                other => other == digest,
            })
        })
        .map(|c| c.seq)
        .collect()
}

fn sorted(layers: &[&Layer]) -> Vec<String> {
    let mut digests: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    digests.sort();
    digests
}

/// The sizes of the parts uploaded to `target`, after checking each part's byte range
/// matches its bytes and never exceeds the part size ECR asked for.
fn part_sizes(run: &Run, target: &str) -> Vec<usize> {
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
            bytes.len()
        })
        .collect()
}

#[test]
fn cross_repository_copy_streams_missing_layers_in_parts() {
    let (env, _serial) = env();
    RT.block_on(async {
        layer_part_size(env, PART);
        create_repo(&env.ecr, "cp-web", false).await;
        create_repo(&env.ecr, "cp-web-prod", true).await;
        let (config, big, base) = image_layers(env, "cp-web");
        // The target already has the base layer (another image of it uses it).
        assert_eq!(put_blob(env, "cp-web-prod", &base.bytes), base.digest);
        let manifest = manifest_of(&config, &[&base, &big]);
        let digest = d("cp-web/image");
        push(&env.ecr, "cp-web", &manifest, DOCKER_MANIFEST, &digest, Some("sha-1a2b3c")).await;

        let params = json!({"source": {"repository": "cp-web", "tag": "sha-1a2b3c"}, "tags": ["prod", "v1.4.2"],
                            "target": {"repository": "cp-web-prod"}});
        let run = run_job(env, &params, None).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("to cp-web-prod: prod new; v1.4.2 new"), "{summary}");
        assert!(summary.contains("Copied 2 of 3 blobs (147.9 KiB)"), "{summary}");
        assert_eq!(vars["ImageUri"], format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/cp-web-prod@{digest}").as_str());

        // One availability check; only the two missing blobs are fetched and uploaded.
        assert_eq!(run.ops("BatchCheckLayerAvailability").len(), 1);
        let copied = sorted(&[&config, &big]);
        assert_eq!(digests(&run, "GetDownloadUrlForLayer", "layerDigest"), copied, "the blob the target has is not copied");
        assert_eq!(digests(&run, "DownloadLayer", "layerDigest"), copied);
        assert!(run.ops("DownloadLayer").iter().all(|c| c.service == "ecr-blob" && c.status == 200));
        assert_eq!(run.ops("InitiateLayerUpload").len(), 2);
        assert_eq!(digests(&run, "CompleteLayerUpload", "layerDigests"), copied);
        let mut parts = part_sizes(&run, "cp-web-prod");
        parts.sort_unstable();
        assert_eq!(parts, [1470, 150_000 - 2 * PART, PART, PART], "config in one part, 150,000 bytes in three");

        // The target now holds every blob of the image, byte for byte, and nothing else.
        assert_has_blobs(env, &env.ecr, "cp-web-prod", &[&config, &big, &base]).await;
        let held = stored_blobs(env, ACCOUNT, "cp-web-prod");
        let expected: Vec<(String, u64)> = [&config, &big, &base].iter().map(|l| (l.digest.clone(), l.bytes.len() as u64)).collect();
        assert_eq!(held, expected.into_iter().collect());
        let puts = run.ops("PutImage");
        assert_eq!(puts.len(), 2);
        assert!(puts.iter().all(|p| p.request.as_ref().is_some_and(|r| r["imageManifest"] == manifest.as_str() && r["repositoryName"] == "cp-web-prod")));
        assert_eq!(digest_of(&env.ecr, "cp-web-prod", "v1.4.2").await.as_deref(), Some(digest.as_str()));

        let again = run_job(env, &params, None).await;
        assert!(again.success().0.starts_with("Nothing to do: prod, v1.4.2 in cp-web-prod"), "{}", again.success().0);
        assert!(again.calls.iter().all(|c| !c.operation.contains("Layer")), "re-run copies nothing");
        let mut look_ups: Vec<&str> = LOOK_UPS_OF_TWO_TAGS.into_iter().chain(REFERRER_LOOK_UPS).collect();
        look_ups.sort_unstable();
        assert_eq!(again.operations(), look_ups, "no layer is checked or copied");
        assert!(again.writes().is_empty());
    });
}

#[test]
fn throttling_during_the_copy_is_retried_and_persistent_throttling_is_reported() {
    let (env, _serial) = env();
    RT.block_on(async {
        layer_part_size(env, PART);
        for repo in ["cp-throttle", "cp-throttle-prod", "cp-throttle-dr", "cp-throttle-eu"] {
            create_repo(&env.ecr, repo, false).await;
        }
        let (config, big, base) = image_layers(env, "cp-throttle");
        let all = [&config, &big, &base];
        let manifest = manifest_of(&config, &[&base, &big]);
        let digest = d("cp-throttle/image");
        push(&env.ecr, "cp-throttle", &manifest, DOCKER_MANIFEST, &digest, Some("build")).await;
        let params = |tag: &str, target: &str| json!({"source": {"repository": "cp-throttle", "tag": "build"}, "tags": [tag], "target": {"repository": target}});

        // Throttled parts, throttled downloads and a slow download: all retried in place.
        env.aws.fault(Fault::throttle("ecr", "UploadLayerPart").times(2)).await;
        env.aws.fault(Fault::throttle("ecr-blob", "DownloadLayer").times(2)).await;
        env.aws.fault(Fault::delay("ecr-blob", "DownloadLayer", 400)).await;
        let run = run_job(env, &params("prod", "cp-throttle-prod"), None).await;
        let (summary, _) = run.success();
        assert!(summary.contains("Copied 3 of 3 blobs"), "{summary}");
        let faulted = |op: &str, kind: &str| run.ops(op).iter().filter(|c| c.fault.as_deref() == Some(kind)).count();
        assert_eq!(faulted("UploadLayerPart", "throttle"), 2);
        assert_eq!(faulted("DownloadLayer", "throttle"), 2);
        let slow = run.ops("DownloadLayer").into_iter().find(|c| c.fault.as_deref() == Some("delay")).expect("a delayed download");
        assert_eq!(slow.status, 200, "a slow download is waited for: {slow:?}");
        assert_eq!(run.ops("GetDownloadUrlForLayer").len(), 3, "the SDK retried the download itself; no blob started over");
        assert_eq!(digests(&run, "DownloadLayer", "layerDigest"), sorted(&all));
        assert_eq!(digests(&run, "CompleteLayerUpload", "layerDigests"), sorted(&all));
        assert_has_blobs(env, &env.ecr, "cp-throttle-prod", &all).await;
        assert_eq!(digest_of(&env.ecr, "cp-throttle-prod", "prod").await.as_deref(), Some(digest.as_str()));

        // Throttled on every part: reported for a retry of the stage, nothing put.
        env.aws.fault(Fault::throttle("ecr", "UploadLayerPart").times(-1)).await;
        let run = run_job(env, &params("dr", "cp-throttle-dr"), None).await;
        env.aws.clear_faults().await;
        let message = run.failure("SystemUnavailable");
        assert!(message.contains("ecr:UploadLayerPart failed: ThrottlingException") && message.contains("retry the stage"), "{message}");
        assert!(run.ops("PutImage").is_empty(), "no manifest is put without its layers");
        assert!(run.ops("CompleteLayerUpload").is_empty());
        assert!(stored_blobs(env, ACCOUNT, "cp-throttle-dr").is_empty(), "no partial blob is stored");

        // Downloads throttled every time: each blob is tried again from a fresh URL,
        // then the copy gives up and says which layer could not be fetched.
        env.aws.fault(Fault::throttle("ecr-blob", "DownloadLayer").times(-1)).await;
        let run = run_job(env, &params("eu", "cp-throttle-eu"), None).await;
        env.aws.clear_faults().await;
        let message = run.failure("SystemUnavailable");
        assert!(message.contains("could not download layer") && message.contains("from repository cp-throttle after 3 attempts (HTTP 503)")
            && message.contains("retry the stage"), "{message}");
        assert!(run.ops("DownloadLayer").iter().all(|c| c.status == 503));
        assert!(run.ops("GetDownloadUrlForLayer").len() >= 3, "a fresh URL for every attempt");
        assert!(run.ops("UploadLayerPart").is_empty() && run.ops("PutImage").is_empty());
        assert!(stored_blobs(env, ACCOUNT, "cp-throttle-eu").is_empty());
    });
}

#[test]
fn index_is_copied_into_another_account_through_an_assumed_role() {
    let (env, _serial) = env();
    RT.block_on(async {
        layer_part_size(env, PART);
        // The target account's view, through the same role the action assumes.
        let role = "arn:aws:iam::222233334444:role/promote-image-target";
        env.aws.create_role("222233334444", "promote-image-target", &testkit::accounts::trust_tools(None)).await;
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

        create_repo(&env.ecr, "cp-account", false).await;
        let (config, big, base) = image_layers(env, "cp-account");
        let amd = (d("cp-account/amd64"), manifest_of(&config, &[&base, &big]));
        let att_layer = stored(env, "cp-account", blob(9, 1450));
        let att_config = stored(env, "cp-account", blob(10, 167));
        let att = (d("cp-account/att"), manifest_of(&att_config, &[&att_layer]));
        push(&env.ecr, "cp-account", &amd.1, DOCKER_MANIFEST, &amd.0, None).await;
        push(&env.ecr, "cp-account", &att.1, DOCKER_MANIFEST, &att.0, None).await;
        let idx = index(OCI_INDEX, DOCKER_MANIFEST, &[(amd.0.clone(), "linux/amd64"), (att.0.clone(), "attestation")]);
        let digest = d("cp-account/index");
        push(&env.ecr, "cp-account", &idx, OCI_INDEX, &digest, Some("v1.4.2")).await;
        let layers = [&config, &big, &base, &att_layer, &att_config];

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
        let child_puts: Vec<u64> = run.ops("PutImage").into_iter().filter(|c| c.request.as_ref().is_some_and(|r| r.get("imageTag").is_none())).map(|c| c.seq).collect();
        assert_after(&child_puts, &[index_put.seq], "the children's PutImage", "the index's", &run.calls);
        // Each blob is completed only after it was downloaded, and all before any manifest.
        for layer in layers {
            let of = |op: &str, field: &str| seqs_of(&run, op, field, &layer.digest);
            assert_after(&of("DownloadLayer", "layerDigest"), &of("CompleteLayerUpload", "layerDigests"), "its download", "its upload", &run.calls);
        }
        run.assert_after("CompleteLayerUpload", "PutImage");
        assert_eq!(digests(&run, "CompleteLayerUpload", "layerDigests"), sorted(&layers));

        // The blobs are in the target account's registry, readable through the role,
        // and the source account's repository is as it was.
        assert_has_blobs(env, &target_ecr, "cp-account", &layers).await;
        let in_target: BTreeSet<String> = stored_blobs(env, "222233334444", "cp-account").into_keys().collect();
        assert_eq!(in_target, sorted(&layers).into_iter().collect());
        assert_eq!(stored_blobs(env, ACCOUNT, "cp-account").len(), layers.len());
        assert_eq!(digest_of(&target_ecr, "cp-account", "prod").await.as_deref(), Some(digest.as_str()));
        assert_eq!(digest_of(&env.ecr, "cp-account", "prod").await, None, "the source account is untouched");
    });
}

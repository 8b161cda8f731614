//! Promotion with a registry other than ECR, against a real distribution registry (with
//! htpasswd Basic auth, or token auth behind the test kit's token server) and the local
//! ECR: retag on the registry, copies registry -> ECR and ECR -> registry, wrong
//! credentials, rate limits, and the scan gate's refusal of a registry source.

mod common;

use common::*;
use serde_json::{Value, json};
use shared::registry::sha256_digest;
use std::time::Duration;
use testkit::registry::{
    AuthMode, Proxy, Registry, Throttle, USER, put_secret, put_user_secret, seed_image, seed_index,
};
use testkit::{Function, JobBuilder};

const SECRET: &str = "registry/ci";

/// The calls after authentication: neither `401` challenges nor the `/v2/` check.
fn after_auth(proxy: &Proxy) -> Vec<testkit::Call> {
    proxy
        .calls_after_auth()
        .into_iter()
        .filter(|c| c.operation != "GET /v2/")
        .collect()
}

/// `METHOD /v2/...` of each call, sorted (concurrent calls end in any order).
fn requests(calls: &[testkit::Call]) -> Vec<&str> {
    let mut requests: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    requests.sort_unstable();
    requests
}

/// The `seq`s of the calls of `request`, in the order they ended.
fn seqs(calls: &[testkit::Call], request: &str) -> Vec<u64> {
    calls
        .iter()
        .filter(|c| c.operation == request)
        .map(|c| c.seq)
        .collect()
}

/// Runs the real binary with `params`, with extra environment; returns the run.
async fn run_with(env: &Env, params: &Value, vars: &[(&str, &str)]) -> Run {
    let job = JobBuilder::new()
        .user_parameters(params.to_string())
        .stage(&env.aws)
        .await;
    env.aws.reset_calls().await;
    let mut function =
        Function::start_with_env(env!("CARGO_BIN_EXE_promote-image"), &env.aws, vars).await;
    let invocation = function.invoke(&job.event, Duration::from_secs(60)).await;
    assert!(
        invocation.is_response(),
        "{invocation:?}\n{}",
        function.logs()
    );
    let report = env
        .aws
        .job(&job.id)
        .await
        .unwrap_or_else(|| panic!("no job report\n{}", function.logs()));
    Run {
        report,
        calls: Vec::new(),
        logs: function.logs(),
    }
}

#[test]
fn retags_on_a_registry_by_putting_the_manifest_it_read_and_only_looks_when_in_place() {
    let (env, _serial) = env();
    RT.block_on(async {
        for mode in [AuthMode::Token, AuthMode::Basic] {
            put_user_secret(&env.sdk, SECRET).await;
            let registry = Registry::start(mode).await;
            let image = seed_image(&registry.client(), "team/web", "sha-1", &[2048, 4096], 7, false).await;
            let proxy = Proxy::start(registry.addr).await;
            let params = json!({
                "source": {"imageUri": format!("{}/team/web:sha-1", proxy.host()), "credentialsSecret": SECRET},
                "tags": ["staging", "prod"],
            });
            let run = run_with(env, &params, &[]).await;
            let (summary, vars) = run.success();
            assert!(summary.contains("staging new; prod new"), "{summary}");
            assert_eq!(vars["ImageDigest"], image.digest.as_str());
            let uri = format!("{}/team/web@{}", proxy.host(), image.digest);
            assert_eq!(vars["ImageUri"], uri.as_str());
            let calls = after_auth(&proxy);
            // The source's manifest and where each tag points; then the same bytes put.
            let expected = [
                "GET /v2/team/web/manifests/sha-1",
                "HEAD /v2/team/web/manifests/prod",
                "HEAD /v2/team/web/manifests/staging",
                "PUT /v2/team/web/manifests/prod",
                "PUT /v2/team/web/manifests/staging",
            ];
            assert_eq!(requests(&calls), expected, "{mode:?}");
            let gets: Vec<u64> = seqs(&calls, "GET /v2/team/web/manifests/sha-1");
            let puts: Vec<u64> = calls.iter().filter(|c| c.operation.starts_with("PUT ")).map(|c| c.seq).collect();
            assert_after(&gets, &puts, "the source's GET", "the PUTs of its bytes", &calls);
            let client = registry.client();
            for tag in ["staging", "prod"] {
                let r = client.resolve("team/web", tag).await.unwrap().unwrap();
                assert_eq!((r.digest, r.media_type), (image.digest.clone(), image.media_type.clone()));
            }

            proxy.clear();
            let again = run_with(env, &params, &[]).await;
            let (summary, _) = again.success();
            assert!(summary.starts_with("Nothing to do"), "{summary}");
            let calls = after_auth(&proxy);
            assert_eq!(requests(&calls), expected[..3], "{mode:?}: the same look-ups, nothing put");
        }
    });
}

#[test]
fn copies_a_registry_image_into_ecr() {
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, SECRET).await;
        let registry = Registry::start(AuthMode::Token).await;
        let image = seed_image(&registry.client(), "hub/app", "v2", &[100_000, 3000], 8, true).await;
        create_repo(&env.ecr, "from-hub", false).await;
        let params = json!({
            "source": {"imageUri": format!("{}/hub/app:v2", registry.host()), "credentialsSecret": SECRET},
            "tags": ["prod"],
            "target": {"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "repository": "from-hub"},
        });
        let run = run_with(env, &params, &[]).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("Copied 3 of 3 blobs"), "{summary}");
        assert_eq!(vars["ImageDigest"], image.digest.as_str());
        assert_eq!(digest_of(&env.ecr, "from-hub", "prod").await.as_deref(), Some(image.digest.as_str()));
        let stored = stored_blobs(env, testkit::local_aws::ACCOUNT, "from-hub");
        for blob in &image.blobs {
            assert!(stored.contains_key(blob), "{blob} not copied: {stored:?}");
        }
        // Again: nothing to copy, nothing to write.
        let again = run_with(env, &params, &[]).await;
        assert!(again.success().0.starts_with("Nothing to do"), "{}", again.success().0);
    });
}

#[test]
fn copies_an_ecr_image_into_a_registry() {
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, SECRET).await;
        let registry = Registry::start(AuthMode::Basic).await;
        create_repo(&env.ecr, "to-hub", false).await;
        let config_bytes = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        let layer_bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let config = put_blob(env, "to-hub", &config_bytes);
        let layer = put_blob(env, "to-hub", &layer_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor("application/vnd.docker.container.image.v1+json", &config, config_bytes.len() as u64),
            "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", &layer, layer_bytes.len() as u64)],
        })
        .to_string();
        let digest = sha256_digest(manifest.as_bytes());
        push(&env.ecr, "to-hub", &manifest, DOCKER_MANIFEST, &digest, Some("v1")).await;
        let params = json!({
            "source": {"repository": "to-hub", "tag": "v1"},
            "tags": ["v1", "latest"],
            "target": {"registry": registry.host(), "repository": "mirror/web", "credentialsSecret": SECRET},
        });
        let run = run_with(env, &params, &[]).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("Copied 2 of 2 blobs"), "{summary}");
        let uri = format!("{}/mirror/web@{digest}", registry.host());
        assert_eq!(vars["ImageUri"], uri.as_str());
        let client = registry.client();
        let got = client.get_manifest("mirror/web", "latest").await.unwrap().unwrap();
        assert_eq!((got.digest, got.bytes.as_ref()), (digest.clone(), manifest.as_bytes()));
        assert!(client.blob_exists("mirror/web", &layer).await.unwrap());
    });
}

#[test]
fn a_wrong_password_is_a_permission_error_that_never_shows_it() {
    let (env, _serial) = env();
    RT.block_on(async {
        let wrong = "not-the-password-31337";
        put_secret(&env.sdk, "registry/wrong", USER, wrong).await;
        for mode in [AuthMode::Basic, AuthMode::Token] {
            let registry = Registry::start(mode).await;
            let params = json!({
                "source": {"imageUri": format!("{}/team/web:v1", registry.host()), "credentialsSecret": "registry/wrong"},
                "tags": ["prod"],
            });
            let run = run_with(env, &params, &[("RUST_LOG", "trace")]).await;
            let message = run.failure("PermissionError");
            assert!(message.contains(USER) && message.contains("registry/wrong"), "{message}");
            assert!(!message.contains(wrong), "{message}");
            assert!(!run.logs.contains(wrong), "the password reached the logs");
            let basic = base64_basic(USER, wrong);
            assert!(!run.logs.contains(&basic), "the Basic header reached the logs");
        }
    });
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[test]
fn a_long_rate_limit_is_system_unavailable_with_the_reset_time() {
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, SECRET).await;
        let registry = Registry::start(AuthMode::Basic).await;
        let proxy = Proxy::start(registry.addr).await;
        proxy.throttle(Throttle {
            count: 100,
            headers: vec![
                ("RateLimit-Limit".into(), "100;w=21600".into()),
                ("RateLimit-Remaining".into(), "0;w=21600".into()),
                ("Retry-After".into(), "3600".into()),
            ],
        });
        let params = json!({
            "source": {"imageUri": format!("{}/team/web:v1", proxy.host()), "credentialsSecret": SECRET},
            "tags": ["prod"],
        });
        let run = run_with(env, &params, &[]).await;
        let message = run.failure("SystemUnavailable");
        assert!(message.contains("429") && message.contains("resets at") && message.contains("UTC"), "{message}");
    });
}

#[test]
fn a_scan_gate_on_a_registry_source_is_a_configuration_error() {
    let (env, _serial) = env();
    RT.block_on(async {
        let params = json!({
            "source": {"imageUri": "docker.io/user/app:v1"},
            "tags": ["prod"],
            "scanGate": {"max": {"CRITICAL": 0}},
        });
        let run = run_with(env, &params, &[]).await;
        let message = run.failure("ConfigurationError");
        assert!(
            message.contains("scanGate")
                && message.contains("ECR sources only")
                && message.contains("docker.io"),
            "{message}"
        );
    });
}

#[test]
fn an_index_moves_to_another_repository_by_mounts_children_first() {
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, SECRET).await;
        let registry = Registry::start(AuthMode::Token).await;
        let client = registry.client();
        let (index, children) = seed_index(&client, "team/app", "v3", 9).await;
        let params = json!({
            "source": {"imageUri": format!("{}/team/app:v3", registry.host()), "credentialsSecret": SECRET},
            "tags": ["prod"],
            "target": {"repository": "team/app-prod"},
        });
        let run = run_with(env, &params, &[]).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("OCI image index, 2 platforms"), "{summary}");
        assert!(summary.contains("Copied 6 of 6 blobs (0 B, 6 mounted) and 2 child manifests"), "{summary}");
        assert_eq!(vars["ImageDigest"], index.digest.as_str());
        let got = client.get_manifest("team/app-prod", "prod").await.unwrap().unwrap();
        assert_eq!(got.bytes, index.manifest);
        for child in &children {
            assert!(client.resolve("team/app-prod", &child.digest).await.unwrap().is_some());
            for blob in &child.blobs {
                assert!(client.blob_exists("team/app-prod", blob).await.unwrap());
            }
        }
    });
}

/// The benchmark's registry section on this build's binary (scripts/bench runs it on
/// release binaries): `cargo test -p promote-image --test registry -- --ignored`.
#[test]
#[ignore = "a measurement, run on demand"]
fn bench_registry_section() {
    let (env, _serial) = env();
    RT.block_on(async {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_promote-image"));
        let rows = testkit::registry::bench::rows(&env.aws, exe.parent().unwrap(), 20).await;
        testkit::registry::bench::print(&rows);
        assert!(
            rows.iter()
                .all(|r| !r["status"].as_str().unwrap_or("").starts_with("Failed")),
            "{rows:#?}"
        );
    });
}

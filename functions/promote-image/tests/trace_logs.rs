//! No signed query string, credential or token reaches a log line, even at TRACE, where
//! the SDK and the HTTP client log every request: a cross-repository copy downloads layers
//! through presigned URLs.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use testkit::{Function, JobBuilder};

const SIGNED: [&str; 3] = [
    "x-amz-signature=",
    "x-amz-credential=",
    "x-amz-security-token=",
];

/// Every value after a signed-URL parameter in `logs` is masked.
fn assert_masked(logs: &str) {
    let lower = logs.to_ascii_lowercase();
    for key in SIGNED {
        for (at, _) in lower.match_indices(key) {
            let value = &lower[at + key.len()..];
            assert!(
                value.starts_with("***"),
                "unmasked {key}: {}",
                &logs[at..(at + 120).min(logs.len())]
            );
        }
    }
    for secret in ["asialocalblobaccess", "localblobsessiontoken"] {
        assert!(!lower.contains(secret), "{secret} reached the logs");
    }
}

#[test]
fn a_cross_repository_copy_at_trace_logs_no_signed_url() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "trace-src", false).await;
        create_repo(&env.ecr, "trace-dst", false).await;
        let config_bytes = br#"{"architecture":"amd64","os":"linux"}"#;
        let config = put_blob(env, "trace-src", config_bytes);
        let layer_bytes = vec![7u8; 4096];
        let layer = put_blob(env, "trace-src", &layer_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor("application/vnd.docker.container.image.v1+json", &config, config_bytes.len() as u64),
            "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", &layer, 4096)],
        })
        .to_string();
        push(&env.ecr, "trace-src", &manifest, DOCKER_MANIFEST, &d("trace/image"), Some("v1")).await;

        let params = json!({"source": {"repository": "trace-src", "tag": "v1"}, "tags": ["prod"],
                            "target": {"repository": "trace-dst"}});
        let job = JobBuilder::new().user_parameters(params.to_string()).stage(&env.aws).await;
        let mut f = Function::start_with_env(
            env!("CARGO_BIN_EXE_promote-image"),
            &env.aws,
            &[("RUST_LOG", "trace")],
        )
        .await;
        let result = f.invoke(&job.event, Duration::from_secs(60)).await;
        assert!(result.is_response(), "{result:?}\n{}", f.logs());
        env.aws.job(&job.id).await.expect("a report").expect_success();
        let logs = f.logs();
        assert!(
            logs.to_ascii_lowercase().contains("x-amz-signature="),
            "the test must see the download URL logged at TRACE"
        );
        assert_masked(&logs);
    });
}

/// A registry promotion at TRACE: neither the registry password, nor its Basic header,
/// nor any Bearer token the token server issued reaches a log line.
#[test]
fn a_registry_promotion_at_trace_logs_no_password_or_token() {
    use testkit::registry::{AuthMode, PASSWORD, Registry, USER, put_user_secret, seed_image};
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, "trace/registry").await;
        let registry = Registry::start(AuthMode::Token).await;
        seed_image(&registry.client(), "trace/web", "v1", &[4096], 3, false).await;
        create_repo(&env.ecr, "trace-from-registry", false).await;
        let params = json!({
            "source": {"imageUri": format!("{}/trace/web:v1", registry.host()), "credentialsSecret": "trace/registry"},
            "tags": ["prod"],
            "target": {"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "repository": "trace-from-registry"},
        });
        let job = JobBuilder::new().user_parameters(params.to_string()).stage(&env.aws).await;
        let mut f = Function::start_with_env(
            env!("CARGO_BIN_EXE_promote-image"),
            &env.aws,
            &[("RUST_LOG", "trace")],
        )
        .await;
        let result = f.invoke(&job.event, Duration::from_secs(60)).await;
        assert!(result.is_response(), "{result:?}\n{}", f.logs());
        env.aws.job(&job.id).await.expect("a report").expect_success();
        let logs = f.logs();
        assert!(logs.contains("registry answered"), "the test must see the registry calls logged");
        let tokens = registry.token_server.as_ref().expect("token auth").tokens();
        assert!(!tokens.is_empty());
        for token in tokens {
            let signature = token.rsplit('.').next().unwrap_or_default();
            assert!(!logs.contains(signature), "a token reached the logs");
        }
        assert!(!logs.contains(PASSWORD), "the password reached the logs");
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        assert!(!logs.contains(&basic), "the Basic header reached the logs");
    });
}

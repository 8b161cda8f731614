//! The source and target roles: assumed through the shared client factory for one job
//! only (the next job of the same process assumes them again), and a refusal explained.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use testkit::accounts::STAGING;
use testkit::local_aws::ACCOUNT;
use testkit::{Fault, Function, JobBuilder};

const ROLE: &str = "arn:aws:iam::123456789012:role/promote-image-target";
const EXTERNAL: &str = "tools-7f3a";

/// The target role, in the functions' own account (trusting it).
async fn target_role(env: &Env) -> String {
    env.aws
        .create_role(
            ACCOUNT,
            "promote-image-target",
            &testkit::accounts::trust_tools(None),
        )
        .await
}

#[test]
fn a_denied_assume_role_names_the_target_roles_trust_policy() {
    let (env, _serial) = env();
    RT.block_on(async {
        target_role(env).await;
        env.aws.fault(Fault::deny("sts", "AssumeRole")).await;
        let params = json!({"source": {"repository": "as-denied", "tag": "build"}, "tags": ["prod"],
                            "target": {"roleArn": ROLE}});
        let run = run_job(env, &params, None).await;
        let message = run.failure("PermissionError");
        assert!(message.contains("trust policy in account"), "{message}");
        assert!(
            message.contains(ROLE) && message.contains("AccessDenied"),
            "{message}"
        );
        assert_eq!(run.ops("AssumeRole").len(), 1, "a denial is not retried");
        assert!(run.ops("PutImage").is_empty());
    });
}

#[test]
fn the_next_job_of_the_same_process_assumes_the_role_again_and_no_credential_is_logged() {
    let (env, _serial) = env();
    RT.block_on(async {
        target_role(env).await;
        create_repo(&env.ecr, "as-reuse", false).await;
        let manifest = docker_manifest("as-reuse", &[(d("as-reuse/layer"), 1000)]);
        let digest = d("as-reuse/image");
        push(
            &env.ecr,
            "as-reuse",
            &manifest,
            DOCKER_MANIFEST,
            &digest,
            Some("build"),
        )
        .await;
        let mut function = Function::start_with_env(
            env!("CARGO_BIN_EXE_promote-image"),
            &env.aws,
            &[("RUST_LOG", "trace")],
        )
        .await;
        for tag in ["qa", "prod"] {
            let params = json!({"source": {"repository": "as-reuse", "tag": "build"}, "tags": [tag],
                                "target": {"roleArn": ROLE}});
            let job = JobBuilder::new()
                .user_parameters(params.to_string())
                .stage(&env.aws)
                .await;
            let invocation = function.invoke(&job.event, Duration::from_secs(60)).await;
            assert!(
                invocation.is_response(),
                "{invocation:?}\n{}",
                function.logs()
            );
            let report = env.aws.job(&job.id).await.expect("a report");
            let (summary, _) = report.expect_success();
            assert!(summary.contains(tag), "{summary}");
        }
        let assumed = env
            .aws
            .calls()
            .await
            .into_iter()
            .filter(|c| c.operation == "AssumeRole")
            .count();
        assert_eq!(assumed, 2, "credentials live for one job");
        let logs = function.logs();
        env.aws.assert_trace_logs_hold_no_credentials(&logs).await;
        assert_eq!(
            digest_of(&env.ecr, "as-reuse", "prod").await.as_deref(),
            Some(digest.as_str())
        );
    });
}

#[test]
fn a_source_in_a_workload_account_is_read_through_source_role_arn() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (role, staging) = env.aws.workload(STAGING, "promote-image-source", Some(EXTERNAL)).await;
        let staging_ecr = aws_sdk_ecr::Client::new(&staging);
        create_repo(&staging_ecr, "as-source", false).await;
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let stored = control_json(
            env,
            "POST",
            "/_local/ecr/blobs",
            &json!({"repositoryName": "as-source", "registryId": STAGING,
                    "content_b64": aws_smithy_types::base64::encode(config)}),
        );
        let config_digest = stored["digest"].as_str().expect("digest").to_owned();
        let manifest = json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": descriptor("application/vnd.docker.container.image.v1+json", &config_digest, config.len() as u64),
            "layers": []})
        .to_string();
        let digest = d("as-source/image");
        push(&staging_ecr, "as-source", &manifest, DOCKER_MANIFEST, &digest, Some("rc")).await;
        create_repo(&env.ecr, "as-source", false).await;
        let params = json!({"source": {"repository": "as-source", "tag": "rc", "registryId": STAGING,
                                       "roleArn": role, "externalId": EXTERNAL},
                            "tags": ["prod"], "target": {"registryId": ACCOUNT}});
        let run = run_job(env, &params, None).await;
        let (summary, _) = run.success();
        assert!(summary.contains("prod new"), "{summary}");
        assert_eq!(digest_of(&env.ecr, "as-source", "prod").await.as_deref(), Some(digest.as_str()));
        assert_eq!(run.ops("AssumeRole").len(), 1);
        // The source's reads name its registry (the target's look-ups of cosign tags name
        // the tools account's).
        let reads: Vec<_> = run
            .ops("BatchGetImage")
            .into_iter()
            .filter(|c| c.request.as_ref().is_some_and(|r| r["registryId"] == STAGING))
            .collect();
        assert!(!reads.is_empty() && reads.iter().all(|c| c.account == STAGING), "the source is read in staging");
        assert!(run.ops("PutImage").iter().all(|c| c.account == ACCOUNT), "the target is written in the tools account");

        // A wrong external id is refused with the role named.
        let params = json!({"source": {"repository": "as-source", "tag": "rc", "registryId": STAGING,
                                       "roleArn": role, "externalId": "not-it"},
                            "tags": ["qa"], "target": {"registryId": ACCOUNT}});
        let run = run_job(env, &params, None).await;
        let message = run.failure("PermissionError");
        assert!(message.contains(&role) && message.contains("account 222222222222"), "{message}");
        assert!(run.ops("PutImage").is_empty());
    });
}

#[test]
fn a_source_role_for_another_registry_is_refused() {
    let (env, _serial) = env();
    RT.block_on(async {
        let params = json!({"source": {"registry": "docker.io", "repository": "library/nginx", "tag": "1",
                                       "roleArn": format!("arn:aws:iam::{STAGING}:role/x")},
                            "tags": ["prod"], "target": {"repository": "web"}});
        let run = run_job(env, &params, None).await;
        let message = run.failure("ConfigurationError");
        assert!(message.contains("source.roleArn: applies to an ECR source only"), "{message}");
    });
}

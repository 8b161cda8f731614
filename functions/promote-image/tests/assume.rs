//! The target role: assumed through the shared client factory, its credentials reused by
//! later jobs of the same process, and a refusal explained.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use testkit::{Fault, Function, JobBuilder};

const ROLE: &str = "arn:aws:iam::123456789012:role/promote-image-target";

#[test]
fn a_denied_assume_role_names_the_target_roles_trust_policy() {
    let (env, _serial) = env();
    RT.block_on(async {
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
fn the_assumed_role_is_reused_by_the_next_job_of_the_same_process() {
    let (env, _serial) = env();
    RT.block_on(async {
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
        let mut function = Function::start(env!("CARGO_BIN_EXE_promote-image"), &env.aws).await;
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
        assert_eq!(assumed, 1, "the second job used the cached credentials");
        assert_eq!(
            digest_of(&env.ecr, "as-reuse", "prod").await.as_deref(),
            Some(digest.as_str())
        );
    });
}

//! The AWS calls each mode makes, read from the local AWS's call log (the final
//! CodePipeline report excluded): what depends on what. How many sequential round trips
//! they take on the wire is a figure of `scripts/bench` (a loaded machine would make a
//! test of it fail). Its own local AWS, so that the log holds only these calls.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Function, JobBuilder, LocalAws};

const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn template(family: &str) -> Value {
    json!({
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {"name": "app", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080}]}
        ]
    })
}

struct Case {
    name: &'static str,
    params: Value,
    with_files: bool,
    /// The calls made, sorted (concurrent calls end in any order).
    calls: &'static [&'static str],
}

#[tokio::test]
async fn calls_per_mode() {
    let aws = LocalAws::start().await;
    for (target, body) in testkit::seed::calls_of(&json!({
        "ecr": [{"repository": "rt-web", "images": [{"tag": "v1"}, {"tag": "v2"}]}],
        "ecs": {"clusters": ["rt"], "taskDefinitions": [
            {"family": "rt-svc", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
             "containerDefinitions": [{"name": "app", "image": format!("{ECR_HOST}/rt-web:v1"), "portMappings": [{"containerPort": 8080}]}]}],
            "services": [{"cluster": "rt", "serviceName": "rt-svc", "taskDefinition": "rt-svc"}]}
    })) {
        aws.json_call(&target, &body)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let image_detail = json!({"ImageURI": format!("{ECR_HOST}/rt-web:v1")}).to_string();
    let cases = [
        Case {
            name: "render from files",
            params: json!({}),
            with_files: true,
            calls: &["s3:GetObject", "s3:GetObject", "s3:PutObject"],
        },
        Case {
            name: "render, pinned",
            params: json!({"pinDigests": true}),
            with_files: true,
            calls: &[
                "ecr:DescribeImages",
                "s3:GetObject",
                "s3:GetObject",
                "s3:PutObject",
            ],
        },
        Case {
            name: "render, pinned, registered",
            params: json!({"pinDigests": true, "register": true}),
            with_files: true,
            calls: &[
                "ecr:DescribeImages",
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "s3:GetObject",
                "s3:GetObject",
                "s3:PutObject",
            ],
        },
        Case {
            name: "same again: nothing registered",
            params: json!({"pinDigests": true, "register": true}),
            with_files: true,
            calls: &[
                "ecr:DescribeImages",
                "ecs:DescribeTaskDefinition",
                "s3:GetObject",
                "s3:GetObject",
                "s3:PutObject",
            ],
        },
        Case {
            name: "template from a family, registered",
            params: json!({"taskDefinition": "rt-svc", "images": {"app": format!("{ECR_HOST}/rt-web:v2")}, "pinDigests": true, "register": true}),
            with_files: false,
            calls: &[
                "ecr:DescribeImages",
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "s3:PutObject",
            ],
        },
        Case {
            name: "template from a service, registered",
            params: json!({"service": "rt-svc", "cluster": "rt", "images": {"app": format!("{ECR_HOST}/rt-web:v1")}, "pinDigests": true, "register": true}),
            with_files: false,
            calls: &[
                "ecr:DescribeImages",
                "ecs:DescribeServices",
                "ecs:DescribeTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "s3:PutObject",
            ],
        },
    ];
    let mut f = Function::start(env!("CARGO_BIN_EXE_render-taskdef"), &aws).await;
    for case in cases {
        let mut job = JobBuilder::new()
            .output("Rendered")
            .user_parameters(case.params.to_string());
        if case.with_files {
            job = job
                .input(
                    "SourceArtifact",
                    &[("taskdef.json", template("rt-files").to_string().as_bytes())],
                )
                .input(
                    "BuildArtifact",
                    &[("imageDetail.json", image_detail.as_bytes())],
                );
        }
        let job = job.stage(&aws).await;
        aws.reset_calls().await;
        let r = f.invoke(&job.event, Duration::from_secs(30)).await;
        assert!(r.is_response(), "{}: {r:?}\n{}", case.name, f.logs());
        let outcome = aws.job(&job.id).await;
        assert!(
            matches!(outcome, Some(testkit::JobReport::Success { .. })),
            "{}: {outcome:?}",
            case.name
        );
        let calls: Vec<_> = aws
            .calls()
            .await
            .into_iter()
            .filter(|c| c.service != "codepipeline")
            .collect();
        let mut ops: Vec<String> = calls
            .iter()
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect();
        ops.sort();
        assert_eq!(ops, case.calls, "{}", case.name);
    }
}

//! Sequential AWS round trips per mode, measured on the local AWS's call log (the final
//! CodePipeline report excluded). Its own local AWS, so that the log holds only these calls.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Function, JobBuilder, LocalAws, sequential_round_trips};

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
    expected: usize,
}

#[tokio::test]
async fn round_trips_per_mode() {
    let aws = LocalAws::start().await;
    // A fixed latency per call makes concurrency visible in the timings.
    aws.latency(25).await;
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
            expected: 2,
        },
        Case {
            name: "render, pinned",
            params: json!({"pinDigests": true}),
            with_files: true,
            expected: 3,
        },
        Case {
            name: "render, pinned, registered",
            params: json!({"pinDigests": true, "register": true}),
            with_files: true,
            expected: 4,
        },
        Case {
            name: "same again: nothing registered",
            params: json!({"pinDigests": true, "register": true}),
            with_files: true,
            expected: 3,
        },
        Case {
            name: "template from a family, registered",
            params: json!({"taskDefinition": "rt-svc", "images": {"app": format!("{ECR_HOST}/rt-web:v2")}, "pinDigests": true, "register": true}),
            with_files: false,
            expected: 4,
        },
        Case {
            name: "template from a service, registered",
            params: json!({"service": "rt-svc", "cluster": "rt", "images": {"app": format!("{ECR_HOST}/rt-web:v1")}, "pinDigests": true, "register": true}),
            with_files: false,
            expected: 4,
        },
    ];
    let mut f = Function::start(env!("CARGO_BIN_EXE_render-taskdef"), &aws).await;
    let mut report = Vec::new();
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
        let trips = sequential_round_trips(&calls);
        let ops: Vec<String> = calls
            .iter()
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect();
        report.push(format!(
            "{}: {trips} round trips ({})",
            case.name,
            ops.join(", ")
        ));
        assert_eq!(trips, case.expected, "{}: {ops:?}", case.name);
    }
    eprintln!("{}", report.join("\n"));
}

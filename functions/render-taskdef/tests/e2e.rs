//! End to end: the real binary under the Lambda Runtime API, against the local AWS.
//! One local AWS serves the whole file; each test uses its own families and repositories.

mod common;

use common::*;
use serde_json::{Value, json};
use testkit::{JobBuilder, StagedJob};

async fn outputs(job: &StagedJob) -> Vec<(String, Vec<u8>)> {
    job.read_output(aws(), "Rendered").await
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    files
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b.as_slice())
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                files.iter().map(|f| &f.0).collect::<Vec<_>>()
            )
        })
}

fn json_file(files: &[(String, Vec<u8>)], name: &str) -> Value {
    serde_json::from_slice(file(files, name)).expect("JSON output")
}

fn text_file(files: &[(String, Vec<u8>)], name: &str) -> String {
    String::from_utf8(file(files, name).to_vec()).expect("text output")
}

async fn ecs(operation: &str, body: Value) -> Value {
    aws()
        .json_call(&format!("{ECS}.{operation}"), &body)
        .await
        .unwrap_or_else(|e| panic!("{operation}: {e}"))
}

/// Seeds ECR/ECS in the seed file format of the sample events.
async fn seed(spec: Value) {
    for (target, body) in testkit::seed::calls_of(&spec) {
        aws()
            .json_call(&target, &body)
            .await
            .unwrap_or_else(|e| panic!("seed {target}: {e}"));
    }
}

/// A Fargate template with `<IMAGE1_NAME>` for `app` and a sidecar.
fn template(family: &str) -> Value {
    json!({
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {"name": "app", "image": "<IMAGE1_NAME>", "essential": true,
             "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
             "environment": [{"name": "MODE", "value": "web"}],
             "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"}}},
            {"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29", "essential": false}
        ]
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("json")
}

/// A job that renders `template`, given as `taskdef.json` in SourceArtifact, into Rendered.
fn rendering(template: &Value) -> JobBuilder {
    JobBuilder::new()
        .input("SourceArtifact", &[("taskdef.json", &bytes(template))])
        .output("Rendered")
}

/// A job whose template is live (UserParameters `params`), rendered into Rendered.
async fn live(params: &Value) -> StagedJob {
    JobBuilder::new()
        .output("Rendered")
        .user_parameters(params.to_string())
        .stage(aws())
        .await
}

/// An `imageDetail.json` that names `uri`.
fn image_detail(uri: &str) -> Vec<u8> {
    json!({"ImageURI": uri}).to_string().into_bytes()
}

fn containers(td: &Value) -> &Vec<Value> {
    td["containerDefinitions"].as_array().expect("containers")
}

async fn revisions(family: &str) -> usize {
    let out = ecs("ListTaskDefinitions", json!({"familyPrefix": family})).await;
    out["taskDefinitionArns"].as_array().map_or(0, |a| {
        a.iter()
            .filter(|arn| {
                arn.as_str()
                    .is_some_and(|s| s.contains(&format!("/{family}:")))
            })
            .count()
    })
}

#[tokio::test]
async fn image_detail_fills_the_placeholder_and_writes_all_three_files() {
    let uri = format!("{ECR_HOST}/web:v1.4.2");
    let job = rendering(&template("e2e-detail"))
        .input(
            "BuildArtifact",
            &[("imageDetail.json", &image_detail(&uri))],
        )
        .stage(aws())
        .await;
    let report = run(&job).await;
    let (summary, vars) = report.expect_success();
    assert_eq!(
        summary,
        "e2e-detail rendered (not registered); app -> 123456789012.dkr.ecr.../web:v1.4.2"
    );
    assert_eq!(vars["Family"], "e2e-detail");
    assert_eq!(vars["ImageUri_app"], uri.as_str());
    assert_eq!(
        vars["ImageUri_envoy"],
        "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"
    );

    let files = outputs(&job).await;
    let td = json_file(&files, "taskdef.json");
    assert_eq!(containers(&td)[0]["image"], uri.as_str());
    let mut expected = template("e2e-detail");
    expected["containerDefinitions"][0]["image"] = json!(uri);
    assert_eq!(td, expected, "only the image changed");
    assert_eq!(
        json_file(&files, "imagedefinitions.json"),
        json!([{"name": "app", "imageUri": uri}, {"name": "envoy", "imageUri": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"}])
    );
    let appspec = text_file(&files, "appspec.yaml");
    assert!(
        appspec.contains("TaskDefinition: <TASK_DEFINITION>\n"),
        "{appspec}"
    );
    assert!(
        appspec.contains("ContainerName: \"app\"\n          ContainerPort: 8080\n"),
        "{appspec}"
    );
}

#[tokio::test]
async fn ecr_source_image_detail_keeps_its_digest() {
    let digest = format!("sha256:{}", "ab12".repeat(16));
    let detail = json!({
        "ImageSizeInBytes": "52428800", "ImageDigest": digest, "Version": "1.0",
        "ImagePushedAt": "Mon Nov 16 10:04:00 UTC 2026", "RegistryId": "123456789012",
        "RepositoryName": "web", "ImageURI": format!("{ECR_HOST}/web@{digest}"), "ImageTags": ["v1.4.2"]
    });
    let job = rendering(&template("e2e-ecr-source"))
        .input("ImageArtifact", &[("imageDetail.json", &bytes(&detail))])
        .stage(aws())
        .await;
    let report = run(&job).await;
    let (summary, vars) = report.expect_success();
    assert_eq!(
        summary,
        "e2e-ecr-source rendered (not registered); app -> 123456789012.dkr.ecr.../web@sha256:ab12ab12ab12.. (from :v1.4.2)"
    );
    assert_eq!(vars["ImageDigest_app"], digest.as_str());
    let td = json_file(&outputs(&job).await, "taskdef.json");
    assert_eq!(
        containers(&td)[0]["image"],
        format!("{ECR_HOST}/web@{digest}")
    );
}

#[tokio::test]
async fn imagedefinitions_for_many_containers_and_lossless_edits() {
    let mut t = template("e2e-multi");
    t["containerDefinitions"][1]["image"] = json!("<IMAGE2_NAME>");
    t["containerDefinitions"]
        .as_array_mut()
        .expect("list")
        .push(json!({
            "name": "log-router", "image": "old", "essential": false,
            "firelensConfiguration": {"type": "fluentbit"}
        }));
    let defs = json!([
        {"name": "app", "imageUri": format!("{ECR_HOST}/web:v2")},
        {"name": "envoy", "imageUri": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.30"},
        {"name": "log-router", "imageUri": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32"}
    ]);
    let params = json!({
        "environment": {"app": {"MODE": null, "DSN": "postgres://u@h/db?sslmode=require&a=b", "EMPTY": ""}},
        "secrets": {"app": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}},
        "logOptions": {"app": {"awslogs-stream-prefix": "web", "tag": ""}},
        "dockerLabels": {"app": {"com.example.commit": "0a1b2c"}},
        "command": {"app": ["sh", "-c", "exec server --greeting='hello world' --x=1"]},
        "taskRoleArn": "arn:aws:iam::123456789012:role/web-task"
    });
    let job = rendering(&t)
        .input("BuildArtifact", &[("imagedefinitions.json", &bytes(&defs))])
        .user_parameters(params.to_string())
        .stage(aws())
        .await;
    let (summary, _) = run(&job).await.expect_success().to_owned_pair();
    assert!(summary.contains("app -> 123456789012.dkr.ecr.../web:v2; envoy -> public.ecr.aws/appmesh/aws-appmesh-envoy:v1.30; log-router -> "), "{summary}");
    let files = outputs(&job).await;
    let td = json_file(&files, "taskdef.json");
    let app = &containers(&td)[0];
    assert_eq!(
        app["environment"],
        json!([
            {"name": "DSN", "value": "postgres://u@h/db?sslmode=require&a=b"},
            {"name": "EMPTY", "value": ""}
        ])
    );
    assert_eq!(
        app["secrets"],
        json!([{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}])
    );
    assert_eq!(
        app["logConfiguration"]["options"],
        json!({"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web", "tag": ""})
    );
    assert_eq!(app["dockerLabels"], json!({"com.example.commit": "0a1b2c"}));
    assert_eq!(
        app["command"],
        json!(["sh", "-c", "exec server --greeting='hello world' --x=1"])
    );
    assert_eq!(td["taskRoleArn"], "arn:aws:iam::123456789012:role/web-task");
    assert_eq!(
        containers(&td)[2]["firelensConfiguration"],
        json!({"type": "fluentbit"})
    );
    let defs_out = json_file(&files, "imagedefinitions.json");
    assert_eq!(defs_out.as_array().map(Vec::len), Some(3));
}

trait Owned {
    fn to_owned_pair(&self) -> (String, Value);
}

impl Owned for (&str, &Value) {
    fn to_owned_pair(&self) -> (String, Value) {
        (self.0.to_owned(), self.1.clone())
    }
}

#[tokio::test]
async fn image_uris_from_user_parameters_by_name_and_placeholder() {
    let mut t = template("e2e-params");
    t["containerDefinitions"][1]["image"] = json!("<IMAGE2_NAME>");
    let params = json!({"images": {"IMAGE2_NAME": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.31", "app": format!("{ECR_HOST}/web:v3")}});
    let job = JobBuilder::new()
        .input("SourceArtifact", &[("deploy/taskdef.json", &bytes(&t))])
        .output("Rendered")
        .user_parameters(params.to_string())
        .stage(aws())
        .await;
    run(&job).await.expect_success();
    let td = json_file(&outputs(&job).await, "taskdef.json");
    assert_eq!(containers(&td)[0]["image"], format!("{ECR_HOST}/web:v3"));
    assert_eq!(
        containers(&td)[1]["image"],
        "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.31"
    );
}

#[tokio::test]
async fn describe_output_as_a_template_is_unwrapped_and_stripped() {
    let mut inner = template("e2e-wrapped");
    inner["containerDefinitions"][0]["image"] = json!("<IMAGE1_NAME>");
    for (k, v) in [
        (
            "taskDefinitionArn",
            json!("arn:aws:ecs:us-east-1:123456789012:task-definition/e2e-wrapped:3"),
        ),
        ("revision", json!(3)),
        ("status", json!("ACTIVE")),
        (
            "requiresAttributes",
            json!([{"name": "ecs.capability.task-eni"}]),
        ),
        ("compatibilities", json!(["EC2", "FARGATE"])),
        ("registeredAt", json!("2026-01-01T00:00:00Z")),
        ("registeredBy", json!("arn:aws:iam::123456789012:user/x")),
    ] {
        inner[k] = v;
    }
    let wrapped = json!({"taskDefinition": inner, "tags": []});
    let job = rendering(&wrapped)
        .user_parameters(json!({"images": {"app": "web:1"}}).to_string())
        .stage(aws())
        .await;
    run(&job).await.expect_success();
    let td = json_file(&outputs(&job).await, "taskdef.json");
    let mut expected = template("e2e-wrapped");
    expected["containerDefinitions"][0]["image"] = json!("web:1");
    assert_eq!(td, expected);
}

/// A template with fields newer than the SDK model: rendered and registered unchanged.
#[tokio::test]
async fn fields_newer_than_the_sdk_pass_through_to_the_file_and_to_ecs() {
    let mut t = template("e2e-future");
    t["enableFaultInjection"] = json!(true);
    t["runtimePlatform"] = json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"});
    t["ephemeralStorage"] = json!({"sizeInGiB": 30});
    t["someFieldFrom2030"] = json!({"nested": [1, "two", {"three": null}]});
    t["containerDefinitions"][0]["portMappings"] =
        json!([{"containerPort": 8080, "protocol": "tcp", "name": "http", "appProtocol": "http2"}]);
    t["containerDefinitions"][0]["restartPolicy"] =
        json!({"enabled": true, "restartAttemptPeriod": 60});
    let job = rendering(&t)
        .user_parameters(json!({"images": {"app": "web:9"}, "register": true}).to_string())
        .stage(aws())
        .await;
    let (summary, _) = run(&job).await.expect_success().to_owned_pair();
    assert!(summary.starts_with("e2e-future:1 registered;"), "{summary}");
    let mut expected = t.clone();
    expected["containerDefinitions"][0]["image"] = json!("web:9");
    assert_eq!(json_file(&outputs(&job).await, "taskdef.json"), expected);
    let calls = aws().calls().await;
    let sent = calls
        .iter()
        .filter(|c| c.operation == "RegisterTaskDefinition")
        .filter_map(|c| c.request.clone())
        .find(|r| r["family"] == "e2e-future")
        .expect("the RegisterTaskDefinition request");
    assert_eq!(
        sent, expected,
        "the request body is the rendered document, unknown fields included"
    );
}

/// Registers `template` directly in ECS, as a pipeline's earlier deploy would have.
async fn register(t: &Value) -> Value {
    ecs("RegisterTaskDefinition", t.clone()).await["taskDefinition"].clone()
}

#[tokio::test]
async fn live_templates_family_revision_arn_and_service() {
    let family = "e2e-live";
    let mut t = template(family);
    t["containerDefinitions"][0]["image"] = json!(format!("{ECR_HOST}/web:v1"));
    let first = register(&t).await;
    t["containerDefinitions"][0]["environment"] = json!([{"name": "MODE", "value": "second"}]);
    let second = register(&t).await;
    ecs("CreateCluster", json!({"clusterName": "e2e-live"})).await;
    ecs("CreateService", json!({"cluster": "e2e-live", "serviceName": "web", "taskDefinition": first["taskDefinitionArn"], "desiredCount": 1})).await;

    let arn1 = first["taskDefinitionArn"].as_str().expect("arn").to_owned();
    let cases = [
        (json!({"taskDefinition": family}), "second"),
        (json!({"taskDefinition": format!("{family}:1")}), "web"),
        (json!({"taskDefinition": arn1}), "web"),
        (json!({"service": "web", "cluster": "e2e-live"}), "web"),
    ];
    assert_eq!(second["revision"], 2);
    for (mut params, mode) in cases {
        params["images"] = json!({"app": format!("{ECR_HOST}/web:v2")});
        let job = live(&params).await;
        let report = run(&job).await;
        let (summary, _) = report.expect_success();
        assert!(
            summary.starts_with("e2e-live rendered"),
            "{params}: {summary}"
        );
        let td = json_file(&outputs(&job).await, "taskdef.json");
        assert_eq!(
            containers(&td)[0]["image"],
            format!("{ECR_HOST}/web:v2"),
            "{params}"
        );
        assert_eq!(
            containers(&td)[0]["environment"][0]["value"],
            mode,
            "{params}"
        );
        for describe_only in [
            "taskDefinitionArn",
            "revision",
            "status",
            "requiresAttributes",
            "compatibilities",
            "registeredAt",
            "registeredBy",
        ] {
            assert!(
                td.get(describe_only).is_none(),
                "{params}: {describe_only} was not stripped"
            );
        }
    }
}

#[tokio::test]
async fn live_template_errors_name_what_is_missing() {
    let cases = [
        (
            json!({"taskDefinition": "e2e-no-such-family"}),
            "task definition `e2e-no-such-family` was not found",
        ),
        (
            json!({"service": "ghost", "cluster": "e2e-no-cluster"}),
            "service `ghost` was not found in cluster `e2e-no-cluster`",
        ),
    ];
    for (params, expected) in cases {
        let job = live(&params).await;
        let message = run(&job)
            .await
            .expect_failure("ConfigurationError")
            .to_owned();
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn registration_is_idempotent_two_runs_one_revision() {
    let family = "e2e-idem";
    let params = json!({"images": {"app": format!("{ECR_HOST}/web:v1")}, "register": true,
                        "appspec": {"taskDefinition": "registered", "hooks": {"AfterAllowTestTraffic": "health-gate"}}});
    let mut summaries = Vec::new();
    let mut appspecs = Vec::new();
    for _ in 0..2 {
        let job = rendering(&template(family))
            .user_parameters(params.to_string())
            .stage(aws())
            .await;
        let report = run(&job).await;
        let (summary, vars) = report.expect_success().to_owned_pair();
        assert_eq!(
            vars["TaskDefinitionArn"],
            format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:1")
        );
        assert_eq!(vars["Revision"], "1");
        summaries.push(summary);
        appspecs.push(text_file(&outputs(&job).await, "appspec.yaml"));
    }
    assert!(
        summaries[0].starts_with("e2e-idem:1 registered;"),
        "{summaries:?}"
    );
    assert!(
        summaries[1].starts_with("e2e-idem:1 unchanged, nothing registered;"),
        "{summaries:?}"
    );
    assert_eq!(revisions(family).await, 1);
    for appspec in &appspecs {
        assert!(
            appspec.contains(&format!(
                "TaskDefinition: \"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:1\""
            )),
            "{appspec}"
        );
        assert!(
            appspec.ends_with("Hooks:\n  - AfterAllowTestTraffic: \"health-gate\"\n"),
            "{appspec}"
        );
    }

    // A real change registers a new revision.
    let changed = json!({"images": {"app": format!("{ECR_HOST}/web:v2")}, "register": true});
    let job = rendering(&template(family))
        .user_parameters(changed.to_string())
        .stage(aws())
        .await;
    let (summary, _) = run(&job).await.expect_success().to_owned_pair();
    assert!(summary.starts_with("e2e-idem:2 registered;"), "{summary}");
    assert_eq!(revisions(family).await, 2);
}

#[tokio::test]
async fn output_artifact_is_written_with_sse_kms() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/0b6e4d5c-1234-4abc-9def-0123456789ab";
    let job = rendering(&template("e2e-kms"))
        .user_parameters(json!({"images": {"app": "web:1"}}).to_string())
        .encryption_key(key)
        .stage(aws())
        .await;
    run(&job).await.expect_success();
    let head = job.output_head(aws(), "Rendered").await;
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(head.ssekms_key_id(), Some(key));
}

#[tokio::test]
async fn digest_pinning_resolves_tags_through_ecr() {
    seed(
        json!({"ecr": [{"repository": "e2e-pin", "images": [{"tag": "v1.4.2"}]},
                        {"repository": "e2e-pin-side", "images": [{"tag": "latest"}]}]}),
    )
    .await;
    let described = aws()
        .json_call(
            "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
            &json!({"repositoryName": "e2e-pin", "imageIds": [{"imageTag": "v1.4.2"}]}),
        )
        .await
        .expect("describe images");
    let digest = described["imageDetails"][0]["imageDigest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let mut t = template("e2e-pin");
    t["containerDefinitions"][1]["image"] = json!("<IMAGE2_NAME>");
    let params =
        json!({"pinDigests": true, "images": {"IMAGE2_NAME": format!("{ECR_HOST}/e2e-pin-side")}});
    let job = rendering(&t)
        .input(
            "BuildArtifact",
            &[(
                "imageDetail.json",
                &image_detail(&format!("{ECR_HOST}/e2e-pin:v1.4.2")),
            )],
        )
        .user_parameters(params.to_string())
        .stage(aws())
        .await;
    let (summary, vars) = run(&job).await.expect_success().to_owned_pair();
    let short = &digest["sha256:".len().."sha256:".len() + 12];
    assert!(
        summary.contains(&format!(
            "app -> 123456789012.dkr.ecr.../e2e-pin@sha256:{short}.. (from :v1.4.2)"
        )),
        "{summary}"
    );
    assert!(
        summary.contains("envoy -> 123456789012.dkr.ecr.../e2e-pin-side@sha256:"),
        "{summary}"
    );
    assert!(summary.contains("(from :latest)"), "{summary}");
    assert_eq!(vars["ImageDigest_app"], digest.as_str());
    let td = json_file(&outputs(&job).await, "taskdef.json");
    assert_eq!(
        containers(&td)[0]["image"],
        format!("{ECR_HOST}/e2e-pin@{digest}")
    );

    // A tag that is not in ECR fails the job before anything is written.
    let job = rendering(&template("e2e-pin"))
        .user_parameters(
            json!({"pinDigests": true, "images": {"app": format!("{ECR_HOST}/e2e-pin:v9.9.9")}})
                .to_string(),
        )
        .stage(aws())
        .await;
    let message = run(&job).await.expect_failure("JobFailed").to_owned();
    assert!(
        message.contains(&format!(
            "image `{ECR_HOST}/e2e-pin:v9.9.9` was not found in ECR"
        )),
        "{message}"
    );
    assert!(
        message.contains("push it before this action runs"),
        "{message}"
    );
}

#[tokio::test]
async fn every_validation_problem_in_one_configuration_error() {
    let t = json!({
        "family": "e2e bad family",
        "networkMode": "bridge",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "4096",
        "containerDefinitions": [
            {"name": "app", "image": "<IMAGE1_NAME>", "essential": false, "memory": 256, "memoryReservation": 512},
            {"name": "app", "image": "", "essential": false},
            {"name": "bad.name", "image": "x", "essential": false, "environment": [{"name": "V", "value": "{{ version }}"}]}
        ]
    });
    let job = rendering(&t).stage(aws()).await;
    let message = run(&job)
        .await
        .expect_failure("ConfigurationError")
        .to_owned();
    for expected in [
        "family: `e2e bad family` must be 1-255 letters, digits, `-` or `_`",
        "containerDefinitions[0].memory: (256) must be greater than memoryReservation (512)",
        "containerDefinitions[1].name: `app` is also the name of containerDefinitions[0]",
        "containerDefinitions[1].image: is empty",
        "containerDefinitions[2].name: `bad.name` must be 1-255 letters",
        "containerDefinitions: no container is essential",
        "networkMode: is `bridge`, but Fargate requires `awsvpc`",
        "memory: (4096 MiB) is not allowed with Fargate cpu 256; allowed: 512, 1024 or 2048 MiB",
        "containerDefinitions[0].image: placeholder `<IMAGE1_NAME>` is left",
        "containerDefinitions[2].environment[0].value: template marker `{{ version }}` is left unfilled",
        "Nothing was written or registered",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in {message}"
        );
    }
    assert!(message.starts_with("10 problems: (1) "), "{message}");
}

#[tokio::test]
async fn bad_inputs_fail_with_the_problem_and_the_fix() {
    let td = bytes(&template("e2e-bad"));
    let detail = json!({"ImageURI": "web:1"}).to_string();
    let cases: Vec<(&str, JobBuilder, &str, Vec<&str>)> = vec![
        (
            "UserParameters not JSON",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).user_parameters("images=web:1"),
            "ConfigurationError",
            vec!["UserParameters is not a JSON object", "Write it as JSON"],
        ),
        (
            "unknown key",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).user_parameters(r#"{"image": "web:1"}"#),
            "ConfigurationError",
            vec!["unknown key `image`", "images", "pinDigests"],
        ),
        (
            "wrong value type",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).user_parameters(r#"{"command": {"app": "node server.js"}}"#),
            "ConfigurationError",
            vec!["invalid type: string \"node server.js\", expected a sequence"],
        ),
        (
            "missing template file",
            JobBuilder::new().input("Src", &[("README.md", b"hi".as_slice())]),
            "ConfigurationError",
            vec!["no input artifact has the template `taskdef.json`", "Src (`README.md`)", "Set templatePath"],
        ),
        (
            "missing named template file",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).user_parameters(r#"{"templateArtifact": "Src", "templatePath": "deploy/td.json"}"#),
            "ConfigurationError",
            vec!["has no file `deploy/td.json`", "taskdef.json"],
        ),
        (
            "imagedefinitions.json written as a single object",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).input("Build", &[("imagedefinitions.json", br#"{"name": "app", "imageUri": "web:1"}"#.as_slice())]),
            "ConfigurationError",
            vec!["Build/imagedefinitions.json: holds a single imagedefinitions.json entry", "wrap it in `[ ]`"],
        ),
        (
            "empty image file",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).input("Build", &[("imageDetail.json", b"".as_slice())]),
            "ConfigurationError",
            vec!["Build/imageDetail.json: is empty; expected imageDetail.json (`{\"ImageURI\": \"<uri>\"}`) or imagedefinitions.json"],
        ),
        (
            "unknown container name",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]).input("Build", &[("imagedefinitions.json", br#"[{"name": "web", "imageUri": "web:1"}]"#.as_slice())]),
            "ConfigurationError",
            vec!["Build/imagedefinitions.json[0]: no container is named `web`", "containers: `app`, `envoy`"],
        ),
        (
            "image detail for a template with no placeholder and two containers",
            JobBuilder::new().input("Src", &[("taskdef.json", &bytes(&json!({"family": "x", "memory": "512", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]})))]).input("Build", &[("imageDetail.json", detail.as_bytes())]),
            "ConfigurationError",
            vec!["imageDetail.json names no container", "set `imageContainer`"],
        ),
        (
            "no output artifact",
            JobBuilder::new().input("Src", &[("taskdef.json", &td)]),
            "ConfigurationError",
            vec!["no output artifact"],
        ),
    ];
    for (name, builder, kind, expected) in cases {
        let builder = if name == "no output artifact" {
            builder
        } else {
            builder.output("Rendered")
        };
        let job = builder.stage(aws()).await;
        let message = run(&job).await.expect_failure(kind).to_owned();
        for e in expected {
            assert!(message.contains(e), "{name}: missing {e:?} in {message}");
        }
    }
}

/// A live task definition holding fields newer than the SDK model (ECS answers them; the
/// SDK's types would drop them): they reach the rendered file unchanged.
#[tokio::test]
async fn live_template_fields_newer_than_the_sdk_pass_through() {
    let mut described = template("e2e-live-future");
    described["containerDefinitions"][0]["image"] = json!("web:1");
    described["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp", "name": "http", "appProtocol": "grpc"}]);
    described["enableFaultInjection"] = json!(true);
    described["runtimePlatform"] =
        json!({"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"});
    described["ephemeralStorage"] = json!({"sizeInGiB": 50});
    described["aFieldFrom2031"] = json!({"mode": "quantum"});
    let mut response = described.clone();
    for (k, v) in [
        (
            "taskDefinitionArn",
            json!("arn:aws:ecs:us-east-1:123456789012:task-definition/e2e-live-future:7"),
        ),
        ("revision", json!(7)),
        ("status", json!("ACTIVE")),
        ("compatibilities", json!(["EC2", "FARGATE"])),
        (
            "requiresAttributes",
            json!([{"name": "ecs.capability.task-eni"}]),
        ),
        ("registeredAt", json!(1.7e9)),
    ] {
        response[k] = v;
    }
    aws()
        .stub(
            "ecs",
            "DescribeTaskDefinition",
            json!({"taskDefinition": "e2e-live-future:7"}),
            json!({"taskDefinition": response, "tags": []}),
        )
        .await;
    let job =
        live(&json!({"taskDefinition": "e2e-live-future:7", "images": {"app": "web:2"}})).await;
    run(&job).await.expect_success();
    let mut expected = described;
    expected["containerDefinitions"][0]["image"] = json!("web:2");
    assert_eq!(json_file(&outputs(&job).await, "taskdef.json"), expected);
}

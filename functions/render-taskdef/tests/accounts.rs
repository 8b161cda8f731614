//! A workload account's task definition: the live service read, the digest looked up and
//! the revision registered in the staging account through the `account` role, while the
//! files go to the pipeline's artifact store in the tools account. The role costs at most
//! one sequential round trip: it is assumed while the input artifacts are read.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::accounts::{STAGING, trust};
use testkit::{Call, Function, JobBuilder, JobReport, LocalAws, StagedJob};

const BIN: &str = env!("CARGO_BIN_EXE_render-taskdef");
const ECS: &str = "AmazonEC2ContainerServiceV20141113";
const ECR: &str = "AmazonEC2ContainerRegistry_V20150921";
const EXTERNAL: &str = "tools-7f3a";
const TOOLS: &str = testkit::local_aws::ACCOUNT;

async fn run(aws: &LocalAws, job: &StagedJob) -> (JobReport, String) {
    let mut f = Function::start_with_env(BIN, aws, &[("RUST_LOG", "trace")]).await;
    let r = f.invoke(&job.event, Duration::from_secs(30)).await;
    assert!(r.is_response(), "{r:?}\n{}", f.logs());
    let report = aws.job(&job.id).await;
    (
        report.unwrap_or_else(|| panic!("no report\n{}", f.logs())),
        f.logs(),
    )
}

async fn call(aws: &LocalAws, account: &str, target: &str, body: Value) -> Value {
    aws.json_call_in(account, target, &body)
        .await
        .unwrap_or_else(|e| panic!("{target} in {account}: {e}"))
}

/// A service `web` in cluster `xa` of `account` running `xa-web:1`, and image `xa-web:v2`
/// in that account's ECR; returns the image's digest.
async fn seed(aws: &LocalAws, account: &str) -> String {
    let td = json!({"family": "xa-web", "containerDefinitions": [
        {"name": "app", "image": format!("{account}.dkr.ecr.us-east-1.amazonaws.com/xa-web:v1"), "memory": 256, "essential": true}]});
    call(aws, account, &format!("{ECS}.RegisterTaskDefinition"), td).await;
    call(
        aws,
        account,
        &format!("{ECS}.CreateCluster"),
        json!({"clusterName": "xa"}),
    )
    .await;
    call(aws, account, &format!("{ECS}.CreateService"),
        json!({"cluster": "xa", "serviceName": "web", "taskDefinition": "xa-web:1", "desiredCount": 1})).await;
    call(
        aws,
        account,
        &format!("{ECR}.CreateRepository"),
        json!({"repositoryName": "xa-web"}),
    )
    .await;
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": format!("sha256:{}", "c".repeat(64))},
        "layers": []});
    let put = call(aws, account, &format!("{ECR}.PutImage"),
        json!({"repositoryName": "xa-web", "imageManifest": manifest.to_string(), "imageTag": "v2"})).await;
    put["image"]["imageId"]["imageDigest"]
        .as_str()
        .expect("digest")
        .to_owned()
}

fn params(account: &str, role: Option<&str>) -> Value {
    let mut p = json!({"service": "web", "cluster": "xa", "register": true, "pinDigests": true,
        "images": {"app": format!("{account}.dkr.ecr.us-east-1.amazonaws.com/xa-web:v2")}});
    if let Some(role) = role {
        p["account"] = json!({"roleArn": role, "externalId": EXTERNAL});
    }
    p
}

async fn job(aws: &LocalAws, params: &Value) -> StagedJob {
    JobBuilder::new()
        .input("SourceArtifact", &[("README", b"source")])
        .output("Rendered")
        .user_parameters(params.to_string())
        .stage(aws)
        .await
}

fn workload_calls(calls: &[Call]) -> Vec<&Call> {
    calls
        .iter()
        .filter(|c| c.service == "ecs" || c.service == "ecr")
        .collect()
}

#[tokio::test]
async fn a_workload_service_is_read_pinned_and_registered_through_its_role() {
    let aws = &LocalAws::start().await;
    let (role, _) = aws
        .workload(STAGING, "render-taskdef", Some(EXTERNAL))
        .await;
    let digest = seed(aws, STAGING).await;
    // The same job in the tools account, for the calls it makes without a role.
    seed(aws, TOOLS).await;
    let home = job(aws, &params(TOOLS, None)).await;
    aws.reset_calls().await;
    let (report, _) = run(aws, &home).await;
    report.expect_success();
    let home_calls = aws.calls().await;

    let staged = job(aws, &params(STAGING, Some(&role))).await;
    aws.reset_calls().await;
    let (report, logs) = run(aws, &staged).await;
    let (summary, vars) = report.expect_success();
    assert!(summary.starts_with("xa-web:2 registered;"), "{summary}");
    assert!(
        vars.to_string().contains(&format!(
            "arn:aws:ecs:us-east-1:{STAGING}:task-definition/xa-web:2"
        )),
        "{vars}"
    );

    let calls = aws.calls().await;
    for c in workload_calls(&calls) {
        assert_eq!(
            c.account, STAGING,
            "{} ran in the workload account",
            c.operation
        );
    }
    for c in calls
        .iter()
        .filter(|c| c.service == "s3" || c.service == "codepipeline")
    {
        assert_eq!(
            c.account, TOOLS,
            "{} stayed in the tools account",
            c.operation
        );
    }
    // The role costs one call, AssumeRole, which the workload calls wait for; everything
    // else is the same job. (The round trips on the wire: `scripts/bench --accounts-only`.)
    let sorted = |calls: &[Call], skip: &str| {
        let mut ops: Vec<String> = calls
            .iter()
            .filter(|c| c.operation != skip)
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect();
        ops.sort();
        ops
    };
    assert_eq!(
        sorted(&calls, "AssumeRole"),
        sorted(&home_calls, "AssumeRole")
    );
    let assumed: Vec<&Call> = calls
        .iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 1, "{:?}", sorted(&calls, ""));
    assert_eq!(
        sorted(&home_calls, "").len(),
        sorted(&home_calls, "AssumeRole").len()
    );
    let td: Value = serde_json::from_slice(
        &staged
            .read_output(aws, "Rendered")
            .await
            .into_iter()
            .find(|(n, _)| n == "taskdef.json")
            .expect("taskdef.json")
            .1,
    )
    .unwrap();
    assert_eq!(
        td["containerDefinitions"][0]["image"],
        format!("{STAGING}.dkr.ecr.us-east-1.amazonaws.com/xa-web@{digest}")
    );
    aws.assert_no_credentials_in("the logs (TRACE)", &logs)
        .await;
}

#[tokio::test]
async fn a_refused_role_writes_and_registers_nothing() {
    let aws = &LocalAws::start().await;
    let role = aws
        .create_role(
            STAGING,
            "render-untrusting",
            &trust("arn:aws:iam::999999999999:root", None),
        )
        .await;
    let staged = job(aws, &params(STAGING, Some(&role))).await;
    aws.reset_calls().await;
    let (report, _) = run(aws, &staged).await;
    let message = report.expect_failure("PermissionError");
    assert!(
        message.contains(&role) && message.contains("trust policy in account 222222222222"),
        "{message}"
    );
    let calls = aws.calls().await;
    assert!(
        workload_calls(&calls).is_empty(),
        "{:?}",
        calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    assert!(
        calls.iter().all(|c| c.operation != "PutObject"),
        "nothing written"
    );
}

#[tokio::test]
async fn an_arn_of_another_account_than_the_role_is_a_configuration_error() {
    let aws = &LocalAws::start().await;
    let role = format!("arn:aws:iam::{STAGING}:role/render-taskdef");
    let mut p = params(STAGING, Some(&role));
    p["cluster"] = json!("arn:aws:ecs:us-east-1:333333333333:cluster/xa");
    let staged = job(aws, &p).await;
    let (report, _) = run(aws, &staged).await;
    let message = report.expect_failure("ConfigurationError");
    assert!(
        message.contains("UserParameters.cluster: is in account 333333333333"),
        "{message}"
    );
}

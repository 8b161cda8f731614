//! The pipeline action in a workload account: every check through the `account` role,
//! assumed afresh on each continuation (credentials never ride in the token), and the
//! refusals named. The tools account is the test credentials' own; the deployment lives
//! in the staging account only.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::accounts::STAGING;
use testkit::{Function, JobBuilder, JobReport, LocalAws};

const BIN: &str = env!("CARGO_BIN_EXE_health-gate");
const TIMEOUT: Duration = Duration::from_secs(30);
const EXTERNAL: &str = "tools-7f3a";

fn tg(account: &str, name: &str) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:{account}:targetgroup/{name}/1")
}

fn targets(states: &[&str]) -> Value {
    let list: Vec<Value> = states
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": format!("10.0.0.{i}"), "port": 8080, "state": s}))
        .collect();
    json!({ "targets": list })
}

/// One invocation of the job on `f` (the same process across continuations).
async fn invoke(
    aws: &LocalAws,
    f: &mut Function,
    params: &Value,
    token: Option<&str>,
) -> JobReport {
    let mut builder = JobBuilder::new().user_parameters(params.to_string());
    if let Some(t) = token {
        builder = builder.continuation_token(t);
    }
    let staged = builder.stage(aws).await;
    let r = f.invoke(&staged.event, TIMEOUT).await;
    assert!(r.is_response(), "{r:?}\n{}", f.logs());
    aws.job(&staged.id)
        .await
        .unwrap_or_else(|| panic!("no report\n{}", f.logs()))
}

#[tokio::test]
async fn a_bake_in_a_workload_account_assumes_its_role_on_every_continuation() {
    let aws = &LocalAws::start().await;
    let (role, _) = aws.workload(STAGING, "health-gate", Some(EXTERNAL)).await;
    let group = tg(STAGING, "xa-green");
    aws.set_state(json!({
        "account": STAGING,
        "targetHealth": {group.clone(): [targets(&["healthy", "initial"]), targets(&["healthy", "healthy"])]},
        "alarms": [{"AlarmName": "xa-5xx", "StateValue": "OK"}],
    }))
    .await;
    let params = json!({
        "account": {"roleArn": role, "externalId": EXTERNAL},
        "targets": {"targetGroups": [group]},
        "alarms": {"names": ["xa-5xx"]},
        "interval": 1,
    });
    aws.reset_calls().await;
    let mut f = Function::start_with_env(BIN, aws, &[("RUST_LOG", "trace")]).await;
    let first = invoke(aws, &mut f, &params, None).await;
    let JobReport::Success {
        summary,
        continuation_token: Some(token),
        ..
    } = &first
    else {
        panic!("expected a continuation: {first:?}\n{}", f.logs());
    };
    assert!(summary.contains("xa-green 1/2 healthy"), "{summary}");
    aws.assert_no_credentials_in("the continuation token", token)
        .await;

    // The credentials of the first pass expire before the next one.
    aws.expire_credentials().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = invoke(aws, &mut f, &params, Some(token)).await;
    let (summary, _) = second.expect_success();
    assert!(summary.starts_with("passed"), "{summary}\n{}", f.logs());

    let calls = aws.calls().await;
    let assumed: Vec<_> = calls
        .iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 2, "one AssumeRole per invocation");
    for c in calls
        .iter()
        .filter(|c| c.service == "elasticloadbalancing" || c.service == "monitoring")
    {
        assert_eq!(
            c.account, STAGING,
            "{} ran in the workload account",
            c.operation
        );
        assert!(c.status < 300, "{c:?}");
    }
    aws.assert_no_credentials_in("the logs (TRACE)", &f.logs())
        .await;
}

#[tokio::test]
async fn a_role_that_does_not_trust_the_function_is_a_permission_error_naming_it() {
    let aws = &LocalAws::start().await;
    let role = aws
        .create_role(
            STAGING,
            "gate-untrusting",
            &testkit::accounts::trust("arn:aws:iam::999999999999:root", None),
        )
        .await;
    let (wrong_id, _) = aws.workload(STAGING, "gate-external", Some(EXTERNAL)).await;
    for (account, why) in [
        (json!({"roleArn": role}), "untrusted principal"),
        (
            json!({"roleArn": wrong_id, "externalId": "not-it"}),
            "wrong external id",
        ),
    ] {
        let params = json!({"account": account, "alarms": {"names": ["web-5xx"]}});
        let mut f = Function::start(BIN, aws).await;
        let report = invoke(aws, &mut f, &params, None).await;
        let message = report.expect_failure("PermissionError");
        let named = account["roleArn"].as_str().unwrap();
        assert!(
            message.contains(named)
                && message.contains("account 222222222222")
                && message.contains("trust policy"),
            "{why}: {message}"
        );
    }
    let calls = aws.calls().await;
    assert!(
        calls.iter().all(|c| {
            !["ecs", "elasticloadbalancing", "monitoring", "codedeploy"]
                .contains(&c.service.as_str())
        }),
        "no check ran: {:?}",
        calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_resource_of_another_account_or_region_than_the_block_is_a_configuration_error() {
    let aws = &LocalAws::start().await;
    let role = format!("arn:aws:iam::{STAGING}:role/health-gate");
    for (params, says) in [
        (
            json!({"account": {"roleArn": role}, "targets": {"targetGroups": [tg("333333333333", "web")]}}),
            "is in account 333333333333 but account.roleArn acts in account 222222222222",
        ),
        (
            json!({"account": {"roleArn": role, "region": "eu-west-1"}, "targets": {"targetGroups": [tg(STAGING, "web")]}}),
            "is in region us-east-1 but account.region is eu-west-1",
        ),
        (
            json!({"account": {"roleArn": "health-gate"}, "alarms": {"names": ["a"]}}),
            "must be a role ARN",
        ),
    ] {
        let mut f = Function::start(BIN, aws).await;
        let report = invoke(aws, &mut f, &params, None).await;
        let message = report.expect_failure("ConfigurationError");
        assert!(message.contains(says), "{message}");
    }
    assert!(
        aws.calls()
            .await
            .iter()
            .all(|c| c.operation != "AssumeRole"),
        "nothing is assumed for a bad configuration"
    );
}

//! Every entry point end to end: the real binary under the Lambda Runtime API, against
//! the local AWS playing scripted deployments, and a real HTTP server for the probes.
//! A test that scripts deployments starts its own local AWS: scripted parts are replaced whole.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Fault, Function, Invocation, JobBuilder, JobReport, LocalAws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_health-gate");
const TIMEOUT: Duration = Duration::from_secs(30);
const SD: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/d2";
const GREEN: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/2";
const BLUE: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/1";

fn tg(name: &str) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/1")
}

fn targets(states: &[(&str, Option<&str>)]) -> Value {
    let list: Vec<Value> = states
        .iter()
        .enumerate()
        .map(|(i, (state, reason))| json!({"id": format!("10.0.0.{i}"), "port": 8080, "state": state, "reason": reason}))
        .collect();
    json!({ "targets": list })
}

/// A real HTTP server answering every request with `status` and `body`.
async fn http_server(status: u16, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://probe:secret@{addr}/health?token=s3cret")
}

async fn job(
    aws: &LocalAws,
    params: &Value,
    token: Option<&str>,
) -> (Invocation, JobReport, String) {
    let mut builder = JobBuilder::new().user_parameters(params.to_string());
    if let Some(t) = token {
        builder = builder.continuation_token(t);
    }
    let staged = builder.stage(aws).await;
    let mut f = Function::start(BIN, aws).await;
    let r = f.invoke(&staged.event, TIMEOUT).await;
    let report = aws
        .job(&staged.id)
        .await
        .unwrap_or_else(|| panic!("no report\n{}", f.logs()));
    (r, report, f.logs())
}

fn token_of(report: &JobReport) -> String {
    match report {
        JobReport::Success {
            continuation_token: Some(t),
            ..
        } => t.clone(),
        other => panic!("expected a continuation, got {other:?}"),
    }
}

#[tokio::test]
async fn pipeline_action_waits_through_continuation_tokens_then_passes() {
    let aws = &LocalAws::start().await;
    let group = tg("cont-green");
    aws.set_state(json!({
        "targetHealth": {group.clone(): [
            targets(&[("healthy", None), ("initial", Some("Elb.InitialHealthChecking"))]),
            targets(&[("healthy", None), ("healthy", None)]),
        ]},
        "alarms": [{"AlarmName": "cont-5xx", "StateValue": "OK"}],
        "metricData": {"latency": [[30, 0.12]]},
    }))
    .await;
    let url = http_server(200, r#"{"status":"UP"}"#).await;
    let params = json!({
        "targets": {"targetGroups": [group]},
        "alarms": {"names": ["cont-5xx"]},
        "metrics": [{"id": "latency", "namespace": "AWS/ApplicationELB", "metricName": "TargetResponseTime", "max": 0.3}],
        "probes": [{"url": url, "jsonPointer": "/status", "jsonEquals": "UP"}],
        "interval": 1, "consecutiveSuccesses": 1
    });
    let (_, first, logs) = job(aws, &params, None).await;
    let token = token_of(&first);
    let JobReport::Success {
        summary,
        percent_complete,
        ..
    } = &first
    else {
        unreachable!()
    };
    assert!(
        summary.starts_with("waiting (pass 1): targets: cont-green 1/2 healthy"),
        "{summary}"
    );
    assert!(percent_complete.is_some());
    assert!(
        !logs.contains("s3cret") && !summary.contains("s3cret"),
        "{logs}"
    );

    // Continued before the interval is up: it waits without measuring.
    let (_, early, _) = job(aws, &params, Some(&token)).await;
    let token = token_of(&early);
    let JobReport::Success { summary, .. } = &early else {
        unreachable!()
    };
    assert!(summary.starts_with("waiting: pass 2 in"), "{summary}");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (_, second, logs) = job(aws, &params, Some(&token)).await;
    let (summary, vars) = second.expect_success();
    assert!(
        summary.starts_with("passed after 2 passes"),
        "{summary}\n{logs}"
    );
    for text in [
        "cont-green 2/2 healthy",
        "alarm cont-5xx OK",
        "latency 0.12 <= 0.3",
        "GET /health 200 in",
    ] {
        assert!(summary.contains(text), "{text} not in {summary}");
    }
    assert_eq!(vars["Verdict"], "passed");
    assert!(
        vars["Checks"].as_str().unwrap().contains("targets=passed"),
        "{vars}"
    );
}

#[tokio::test]
async fn pipeline_action_fails_at_once_on_a_circuit_breaker_rollback() {
    let aws = &LocalAws::start().await;
    aws.set_state(json!({"serviceDeployments": [{
        "serviceDeploymentArn": SD,
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "createdAt": 1767000000,
        "timeline": [{
            "status": "ROLLBACK_SUCCESSFUL",
            "statusReason": "ECS deployment circuit breaker: tasks failed to start.",
            "targetServiceRevision": {"arn": GREEN, "requestedTaskCount": 2, "runningTaskCount": 0, "pendingTaskCount": 0},
            "rollback": {"reason": "circuit breaker", "serviceRevisionArn": BLUE},
            "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}
        }]
    }]}))
    .await;
    aws.stub("ecs", "ListTasks", json!({"serviceName": "web", "desiredStatus": "STOPPED"}),
        json!({"taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/prod/t1", "arn:aws:ecs:us-east-1:123456789012:task/prod/t2"]})).await;
    aws.stub("ecs", "DescribeTasks", json!({}), json!({"tasks": [
        {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/t1", "stoppedReason": "Essential container in task exited"},
        {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/t2", "stoppedReason": "Essential container in task exited"}
    ]})).await;
    let (_, report, logs) = job(
        aws,
        &json!({"ecs": {"cluster": "prod", "service": "web"}}),
        None,
    )
    .await;
    let message = report.expect_failure("JobFailed");
    assert!(
        message.starts_with("health gate failed: deployment: deployment d2 ROLLBACK_SUCCESSFUL"),
        "{message}"
    );
    assert!(
        message.contains("tasks stopped: Essential container in task exited (2 tasks)"),
        "{message}\n{logs}"
    );
    assert!(
        message.contains("ROLLBACK_SUCCESSFUL")
            && message.contains("circuit breaker triggered (3 of 3"),
        "{message}\n{logs}"
    );
}

#[tokio::test]
async fn pipeline_action_bad_input_gets_a_clear_error() {
    let aws = LocalAws::shared();
    let (_, report, _) = job(aws, &json!({"alarm": {"names": ["x"]}}), None).await;
    let m = report.expect_failure("ConfigurationError");
    assert!(
        m.contains("unknown key `alarm`") && m.contains("alarms"),
        "{m}"
    );
    let (_, report, _) = job(aws, &json!({"alarms": {"names": ["x"]}}), Some("garbled!")).await;
    let m = report.expect_failure("JobFailed");
    assert!(m.to_lowercase().contains("continuation token"), "{m}");
}

#[tokio::test]
async fn ec2_deployment_whose_instance_fails_validate_service_is_stopped_with_rollback() {
    let aws = LocalAws::start().await;
    let failed = json!({"status": "Failed", "lifecycleEvents": [
        {"lifecycleEventName": "ValidateService", "status": "Failed", "diagnostics": {
            "errorCode": "ScriptFailed", "scriptName": "scripts/validate.sh",
            "message": "Script at specified location: scripts/validate.sh failed with exit code 1",
            "logTail": "[stderr]curl: (7) Failed to connect to localhost port 8080"}}]});
    aws.set_state(json!({"codedeployDeployments": {"d-EC2FAIL": {
        "applicationName": "web", "deploymentGroupName": "prod",
        // The targets are read concurrently with the deployment: keep them the same in
        // every frame so that the order of the two reads does not matter.
        "timeline": [
            {"status": "InProgress", "deploymentOverview": {"InProgress": 2}},
            {"status": "InProgress", "deploymentOverview": {"Failed": 1, "Succeeded": 1}}
        ],
        "targets": {"i-1": failed, "i-2": {"status": "Succeeded", "lifecycleEvents": []}}
    }}}))
    .await;
    let params = json!({"codeDeploy": {"application": "web", "deploymentGroup": "prod", "stopOnFailure": true}, "interval": 1});
    let (_, first, _) = job(&aws, &params, None).await;
    let token = token_of(&first);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, second, logs) = job(&aws, &params, Some(&token)).await;
    let m = second.expect_failure("JobFailed");
    assert!(
        m.contains("i-1 failed ValidateService (scripts/validate.sh, ScriptFailed)"),
        "{m}\n{logs}"
    );
    assert!(
        m.contains("Failed to connect") && m.contains("stopped deployment d-EC2FAIL with rollback"),
        "{m}"
    );
    let stops: Vec<_> = aws
        .calls()
        .await
        .into_iter()
        .filter(|c| c.operation == "StopDeployment")
        .collect();
    assert_eq!(stops.len(), 1);
    assert_eq!(
        stops[0].request.as_ref().unwrap()["autoRollbackEnabled"],
        true
    );
}

fn codedeploy_event(id: &str) -> Value {
    json!({"DeploymentId": id, "LifecycleEventHookExecutionId": format!("hook-{id}")})
}

#[tokio::test]
async fn codedeploy_hook_polls_until_healthy_and_answers_succeeded() {
    let aws = &LocalAws::start().await;
    let group = tg("hook-green");
    aws.set_state(json!({"targetHealth": {group.clone(): [
        targets(&[("initial", Some("Elb.InitialHealthChecking"))]),
        targets(&[("healthy", None)]),
    ]}}))
    .await;
    let config = json!({"targets": {"targetGroups": [group]}, "interval": 1}).to_string();
    let mut f =
        Function::start_with_env(BIN, aws, &[("HEALTH_GATE_CONFIG", config.as_str())]).await;
    let r = f.invoke(&codedeploy_event("d-HOOKOK"), TIMEOUT).await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("passed after 2 passes"),
        "{answer}"
    );
    let hook = aws.hook("d-HOOKOK", "hook-d-HOOKOK").await.unwrap();
    assert_eq!(
        (hook["status"].as_str(), hook["reports"].as_u64()),
        (Some("Succeeded"), Some(1))
    );
}

#[tokio::test]
async fn codedeploy_hook_answers_failed_when_an_aws_call_keeps_failing() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::throttle("elbv2", "DescribeTargetHealth").times(-1))
        .await;
    let config =
        json!({"targets": {"targetGroups": [tg("throttled")]}, "interval": 1, "errorLimit": 1})
            .to_string();
    let mut f =
        Function::start_with_env(BIN, &aws, &[("HEALTH_GATE_CONFIG", config.as_str())]).await;
    let r = f.invoke(&codedeploy_event("d-HOOKERR"), TIMEOUT).await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["status"], "Failed", "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(
        reason.contains("errored 2 times in a row") && reason.contains("Throttling"),
        "{reason}"
    );
    let hook = aws.hook("d-HOOKERR", "hook-d-HOOKERR").await.unwrap();
    assert_eq!(hook["status"], "Failed");
}

fn ecs_event(stage: &str, test: Value, prod: Value, details: Value) -> Value {
    json!({
        "executionId": "exec-1",
        "lifecycleStage": stage,
        "resourceArn": SD,
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
            "targetServiceRevisionArn": GREEN,
            "testTrafficWeights": test,
            "productionTrafficWeights": prod
        },
        "hookDetails": details
    })
}

#[tokio::test]
async fn ecs_hook_waits_in_progress_then_succeeds_and_never_blocks_a_rollback() {
    let aws = &LocalAws::start().await;
    let group = tg("ecs-green");
    aws.set_state(json!({"targetHealth": {group.clone(): [targets(&[("healthy", None)])]}}))
        .await;
    let mut f = Function::start(BIN, aws).await;
    let mut details =
        json!({"targets": {"targetGroups": [group]}, "consecutiveSuccesses": 2, "interval": 2});
    let stage = "POST_TEST_TRAFFIC_SHIFT";
    let weights = json!({GREEN: 100, BLUE: 0});
    let first = f
        .invoke(
            &ecs_event(stage, weights.clone(), json!({}), details.clone()),
            TIMEOUT,
        )
        .await;
    let Invocation::Response(first) = first else {
        panic!("{first:?}\n{}", f.logs())
    };
    assert_eq!(
        (
            first["hookStatus"].as_str(),
            first["callBackDelay"].as_u64()
        ),
        (Some("IN_PROGRESS"), Some(2)),
        "{first}"
    );
    // ECS merges the returned details into the next event of the same hook.
    for (k, v) in first["hookDetails"].as_object().unwrap() {
        details[k] = v.clone();
    }
    // Called back early: it waits the rest of the interval without measuring.
    let early = f
        .invoke(
            &ecs_event(stage, weights.clone(), json!({}), details.clone()),
            TIMEOUT,
        )
        .await;
    let Invocation::Response(early) = early else {
        panic!("{early:?}")
    };
    assert_eq!(early["hookStatus"], "IN_PROGRESS", "{early}");
    assert!(early["callBackDelay"].as_u64().unwrap() <= 2, "{early}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = f
        .invoke(&ecs_event(stage, weights, json!({}), details), TIMEOUT)
        .await;
    let Invocation::Response(second) = second else {
        panic!("{second:?}")
    };
    assert_eq!(second["hookStatus"], "SUCCEEDED", "{second}");

    let rollback = ecs_event(
        "PRODUCTION_TRAFFIC_SHIFT",
        json!({}),
        json!({GREEN: 0, BLUE: 100}),
        json!({"alarms": {"names": ["missing"]}}),
    );
    let answer = f.invoke(&rollback, TIMEOUT).await;
    let Invocation::Response(answer) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    assert_eq!(answer["hookDetails"]["verdict"], "rollback");
}

#[tokio::test]
async fn one_pass_makes_one_call_per_check_and_one_dependent_call() {
    let aws = &LocalAws::start().await;
    let group = tg("cost-green");
    aws.set_state(json!({
        "serviceDeployments": [{
            "serviceDeploymentArn": SD,
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "createdAt": 1767000000,
            "timeline": [{"status": "SUCCESSFUL",
                          "targetServiceRevision": {"arn": GREEN, "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0}}]
        }],
        "targetHealth": {group.clone(): [targets(&[("healthy", None), ("healthy", None)])]},
        "alarms": [{"AlarmName": "cost-5xx", "StateValue": "OK"}],
        "metricData": {"errors": [[60, 0.0]]},
    }))
    .await;
    let params = json!({
        "ecs": {"cluster": "prod", "service": "web"},
        "targets": {"targetGroups": [group]},
        "alarms": {"names": ["cost-5xx"]},
        "metrics": [{"id": "errors", "namespace": "AWS/ApplicationELB", "metricName": "HTTPCode_Target_5XX_Count", "stat": "Sum", "max": 0}]
    });
    let (_, report, logs) = job(aws, &params, None).await;
    let (summary, vars) = report.expect_success();
    assert!(
        summary.contains("deployment d2 SUCCESSFUL, running 2/2"),
        "{summary}\n{logs}"
    );
    assert_eq!(vars["DeploymentId"], SD);
    let calls: Vec<_> = aws
        .calls()
        .await
        .into_iter()
        // Staging the job uses S3; the gate itself does not.
        .filter(|c| !matches!(c.service.as_str(), "codepipeline" | "s3"))
        .collect();
    // What depends on what: only the deployment's description waits for its listing; the
    // other checks need nothing but the configuration. (How many round trips that takes
    // on the wire is measured by `scripts/bench`, not here: it would depend on the load.)
    let mut operations: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    operations.sort_unstable();
    assert_eq!(
        operations,
        [
            "DescribeAlarms",
            "DescribeServiceDeployments",
            "DescribeTargetHealth",
            "GetMetricData",
            "ListServiceDeployments",
        ]
    );
}

#[tokio::test]
async fn hooks_for_a_deployment_that_does_not_exist_get_a_clear_answer() {
    let aws = &LocalAws::start().await;
    // CodeDeploy refuses the answer for a deployment it does not know: the caller is told.
    aws.stub_error(
        "codedeploy",
        "PutLifecycleEventHookExecutionStatus",
        json!({"deploymentId": "d-MISSING"}),
        "DeploymentDoesNotExistException",
        "The deployment d-MISSING could not be found",
    )
    .await;
    aws.set_state(json!({"alarms": [{"AlarmName": "gone-5xx", "StateValue": "OK"}]}))
        .await;
    let config = json!({"alarms": {"names": ["gone-5xx"]}}).to_string();
    let mut f =
        Function::start_with_env(BIN, aws, &[("HEALTH_GATE_CONFIG", config.as_str())]).await;
    let r = f.invoke(&codedeploy_event("d-MISSING"), TIMEOUT).await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["status"], "HookNotFound", "{answer}");

    // ECS: a service deployment it does not know fails the hook, saying which.
    let event = ecs_event("POST_SCALE_UP", json!({}), json!({}), json!({"ecs": {}}));
    let r = f.invoke(&event, TIMEOUT).await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let summary = answer["hookDetails"]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("ECS has no service deployment {SD}")),
        "{summary}"
    );
}

#[tokio::test]
async fn ecs_hook_finds_the_green_target_group_from_the_target_revision_once() {
    let aws = &LocalAws::start().await;
    let (green, blue) = (tg("found-green"), tg("found-blue"));
    aws.set_state(json!({
        "serviceRevisions": {GREEN: {
            "loadBalancers": [{"targetGroupArn": blue}],
            "resolvedConfiguration": {"loadBalancers": [{"targetGroupArn": green}]}
        }},
        "targetHealth": {
            green.clone(): [targets(&[("healthy", None), ("healthy", None)])],
            blue.clone(): [targets(&[("unhealthy", Some("Target.Timeout"))])]
        }
    }))
    .await;
    let mut f = Function::start(BIN, aws).await;
    let mut details = json!({"targets": {}, "consecutiveSuccesses": 2, "interval": 1});
    let event = |d: &Value| ecs_event("POST_SCALE_UP", json!({}), json!({}), d.clone());
    let first = f.invoke(&event(&details), TIMEOUT).await;
    let Invocation::Response(first) = first else {
        panic!("{first:?}\n{}", f.logs())
    };
    assert_eq!(first["hookStatus"], "IN_PROGRESS", "{first}");
    assert_eq!(
        first["hookDetails"]["gateState"]["tg"],
        json!([green]),
        "{first}"
    );
    for (k, v) in first["hookDetails"].as_object().unwrap() {
        details[k] = v.clone();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = f.invoke(&event(&details), TIMEOUT).await;
    let Invocation::Response(second) = second else {
        panic!("{second:?}")
    };
    assert_eq!(second["hookStatus"], "SUCCEEDED", "{second}");
    assert!(
        second["hookDetails"]["summary"]
            .as_str()
            .unwrap()
            .contains("found-green 2/2 healthy"),
        "{second}"
    );
    let revisions = aws
        .calls()
        .await
        .into_iter()
        .filter(|c| c.operation == "DescribeServiceRevisions")
        .count();
    assert_eq!(
        revisions, 1,
        "the target group is found once and kept in the hook's details"
    );
}

#[tokio::test]
async fn a_service_without_service_deployments_is_read_from_describe_services() {
    let aws = &LocalAws::start().await;
    aws.stub(
        "ecs",
        "DescribeServices",
        json!({"services": ["legacy"]}),
        json!({"services": [{
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/legacy",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "deployments": [
                {"id": "ecs-svc/222", "status": "PRIMARY", "rolloutState": "IN_PROGRESS", "desiredCount": 2, "runningCount": 2},
                {"id": "ecs-svc/111", "status": "ACTIVE", "rolloutState": "FAILED", "failedTasks": 3,
                 "rolloutStateReason": "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/000"}
            ]
        }]}),
    )
    .await;
    let (_, report, logs) = job(
        aws,
        &json!({"ecs": {"cluster": "prod", "service": "legacy"}}),
        None,
    )
    .await;
    let m = report.expect_failure("JobFailed");
    assert!(
        m.contains("FAILED: ECS deployment circuit breaker: rolling back")
            && m.contains("(3 tasks failed to start)"),
        "{m}\n{logs}"
    );
}

/// A CodeDeploy ECS blue/green deployment `id` of web/bg whose task sets are `task_sets`,
/// the group's target group pair web-tg-1/web-tg-2, and their scripted health.
fn codedeploy_ecs_state(
    id: &str,
    status: &str,
    task_sets: Value,
    green: Value,
    blue: Value,
) -> Value {
    json!({
        "codedeployDeployments": {id: {
            "applicationName": "web", "deploymentGroupName": "bg", "computePlatform": "ECS",
            "timeline": [{"status": status}],
            "targets": {"prod:web": {"status": "InProgress", "taskSetsInfo": task_sets}}
        }},
        "deploymentGroups": {"web/bg": {"computePlatform": "ECS", "loadBalancerInfo": {
            "targetGroupPairInfoList": [{"targetGroups": [{"name": "web-tg-1"}, {"name": "web-tg-2"}]}]}}},
        "targetHealth": {tg("web-tg-2"): green, tg("web-tg-1"): blue}
    })
}

#[tokio::test]
async fn codedeploy_hook_checks_the_green_target_group_of_its_deployment() {
    let aws = &LocalAws::start().await;
    let sets = json!([
        {"taskSetLabel": "Blue", "targetGroup": {"name": "web-tg-1"}, "trafficWeight": 100.0},
        {"taskSetLabel": "Green", "targetGroup": {"name": "web-tg-2"}, "trafficWeight": 0.0}
    ]);
    let blue = json!([targets(&[("unhealthy", Some("Target.Timeout"))])]);
    let state = |green: Value| {
        codedeploy_ecs_state("d-ECSBG1", "InProgress", sets.clone(), green, blue.clone())
    };
    // Each answer goes to a hook execution of its own.
    let invoke = |hook: &'static str, env: Vec<(&'static str, String)>| async move {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut f = Function::start_with_env(BIN, aws, &env).await;
        let event = json!({"DeploymentId": "d-ECSBG1", "LifecycleEventHookExecutionId": hook});
        let r = f.invoke(&event, TIMEOUT).await;
        let Invocation::Response(answer) = r else {
            panic!("{r:?}\n{}", f.logs())
        };
        let reason = answer["reason"].as_str().unwrap_or_default().to_owned();
        (
            answer["status"].as_str().unwrap_or_default().to_owned(),
            reason,
        )
    };
    let count =
        |calls: &[testkit::Call], op: &str| calls.iter().filter(|c| c.operation == op).count();

    // No HEALTH_GATE_CONFIG: the green target group, every target healthy.
    aws.set_state(state(json!([targets(&[
        ("healthy", None),
        ("healthy", None)
    ])])))
    .await;
    let (status, reason) = invoke("hook-default", Vec::new()).await;
    assert_eq!(status, "Succeeded", "{reason}");
    assert!(reason.contains("web-tg-2 2/2 healthy"), "{reason}");

    // Found once, then kept across the passes of the invocation.
    aws.set_state(state(json!([
        targets(&[("initial", Some("Elb.InitialHealthChecking"))]),
        targets(&[("healthy", None), ("healthy", None)])
    ])))
    .await;
    aws.reset_calls().await;
    let config = json!({"targets": {}, "interval": 1}).to_string();
    let (status, reason) = invoke("hook-found", vec![("HEALTH_GATE_CONFIG", config)]).await;
    assert_eq!(status, "Succeeded", "{reason}");
    assert!(reason.contains("passed after 2 passes"), "{reason}");
    let calls = aws.calls().await;
    let counts = [
        "BatchGetDeploymentTargets",
        "DescribeTargetGroups",
        "DescribeTargetHealth",
    ]
    .map(|op| count(&calls, op));
    assert_eq!(counts, [1, 1, 2], "found once, then kept");

    // A configured target group wins: nothing is looked up.
    aws.reset_calls().await;
    let config = json!({"targets": {"targetGroups": [tg("web-tg-2")]}}).to_string();
    let (status, reason) = invoke("hook-configured", vec![("HEALTH_GATE_CONFIG", config)]).await;
    assert_eq!(status, "Succeeded", "{reason}");
    let calls = aws.calls().await;
    assert_eq!(
        (
            count(&calls, "GetDeployment"),
            count(&calls, "ListDeploymentTargets")
        ),
        (0, 0)
    );
}

#[tokio::test]
async fn pipeline_action_on_a_codedeploy_ecs_deployment_finds_its_green_target_group() {
    let aws = &LocalAws::start().await;
    // Only the blue task set names its target group: the green one is the other of the pair.
    let sets = json!([
        {"taskSetLabel": "Blue", "targetGroup": {"name": "web-tg-1"}, "trafficWeight": 0.0},
        {"taskSetLabel": "Green", "trafficWeight": 100.0}
    ]);
    aws.set_state(codedeploy_ecs_state(
        "d-ECSBG2",
        "Succeeded",
        sets,
        json!([targets(&[
            ("unhealthy", Some("Target.ResponseCodeMismatch")),
            ("healthy", None)
        ])]),
        json!([targets(&[("healthy", None)])]),
    ))
    .await;
    let params =
        json!({"codeDeploy": {"application": "web", "deploymentGroup": "bg"}, "targets": {}});
    let (_, report, logs) = job(aws, &params, None).await;
    let m = report.expect_failure("JobFailed");
    assert!(
        m.contains("web-tg-2 1/2 healthy")
            && m.contains("10.0.0.0:8080 unhealthy (Target.ResponseCodeMismatch)"),
        "{m}\n{logs}"
    );
    assert!(!m.contains("web-tg-1"), "{m}");

    // Without codeDeploy, a pipeline action must name its target groups.
    let (_, report, _) = job(aws, &json!({"targets": {}}), None).await;
    let m = report.expect_failure("ConfigurationError");
    assert!(
        m.contains("targets.targetGroups") && m.contains("configure codeDeploy"),
        "{m}"
    );
}

#[tokio::test]
async fn hooks_with_an_unknown_key_in_a_long_configuration_name_it() {
    let aws = &LocalAws::start().await;
    // Over CodePipeline's 1,000 characters, which hook configurations may be.
    let names: Vec<String> = (0..80).map(|i| format!("web-alarm-{i}")).collect();
    let mut f = Function::start(BIN, aws).await;
    let details = json!({"alarms": {"names": names}, "bakeTime": "5m"});
    let r = f
        .invoke(
            &ecs_event("POST_SCALE_UP", json!({}), json!({}), details),
            TIMEOUT,
        )
        .await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let text = answer["hookDetails"].to_string();
    assert!(
        text.contains("unknown key `bakeTime`") && text.contains("initialDelay"),
        "{text}"
    );

    let config = json!({"alarms": {"names": names, "prefixes": ["web-"]}}).to_string();
    let mut f =
        Function::start_with_env(BIN, aws, &[("HEALTH_GATE_CONFIG", config.as_str())]).await;
    let r = f.invoke(&codedeploy_event("d-BADKEY"), TIMEOUT).await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["status"], "Failed", "{answer}");
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("unknown key `prefixes`") && reason.contains("prefix"),
        "{reason}"
    );
}

#[tokio::test]
async fn codedeploy_hook_for_a_deployment_that_does_not_exist_fails_at_once() {
    let aws = &LocalAws::start().await;
    // The default configuration looks for the deployment's green target group.
    let mut f = Function::start(BIN, aws).await;
    let started = std::time::Instant::now();
    let r = f.invoke(&codedeploy_event("d-NOSUCH"), TIMEOUT).await;
    let Invocation::Response(answer) = r else {
        panic!("{r:?}\n{}", f.logs())
    };
    assert_eq!(answer["status"], "Failed", "{answer}");
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("CodeDeploy has no deployment d-NOSUCH"),
        "{reason}\n{}",
        f.logs()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not retried for minutes"
    );
    let hook = aws.hook("d-NOSUCH", "hook-d-NOSUCH").await.unwrap();
    assert_eq!(hook["status"], "Failed");
}

#[tokio::test]
async fn ecs_hook_answers_failed_when_an_aws_call_keeps_failing() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::throttle("elbv2", "DescribeTargetHealth").times(-1))
        .await;
    let mut f = Function::start(BIN, &aws).await;
    let mut details =
        json!({"targets": {"targetGroups": [tg("ecs-throttled")]}, "interval": 1, "errorLimit": 1});
    let mut answers = Vec::new();
    for _ in 0..4 {
        let event = ecs_event("POST_SCALE_UP", json!({}), json!({}), details.clone());
        let r = f.invoke(&event, TIMEOUT).await;
        let Invocation::Response(answer) = r else {
            panic!("{r:?}\n{}", f.logs())
        };
        answers.push(answer["hookStatus"].as_str().unwrap_or_default().to_owned());
        if answer["hookStatus"] != "IN_PROGRESS" {
            let summary = answer["hookDetails"]["summary"]
                .as_str()
                .unwrap_or_default();
            assert!(
                summary.contains("errored 2 times in a row") && summary.contains("Throttling"),
                "{summary}"
            );
            break;
        }
        for (k, v) in answer["hookDetails"].as_object().unwrap() {
            details[k] = v.clone();
        }
        tokio::time::sleep(Duration::from_millis(1050)).await;
    }
    assert_eq!(answers, ["IN_PROGRESS", "FAILED"]);
}

#[tokio::test]
async fn every_sample_answers_against_the_demo_seed() {
    let aws = &LocalAws::start().await;
    let events = testkit::workspace_root().join("events");
    testkit::seed::seed_only(aws, &events, "health-gate")
        .await
        .unwrap();
    for path in testkit::seed::sample_events(&events, "health-gate") {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // A pause hook has no details to carry configuration: the function's own.
        let pause = name.contains("ecs-pause");
        let env: &[(&str, &str)] = if pause {
            &[("HEALTH_GATE_CONFIG", r#"{"ecs": {}}"#)]
        } else {
            &[]
        };
        let mut f = Function::start_with_env(BIN, aws, env).await;
        let r = f.invoke(&event, TIMEOUT).await;
        let Invocation::Response(answer) = r else {
            panic!("{name}: {r:?}\n{}", f.logs())
        };
        let said = match event["CodePipeline.job"]["id"].as_str() {
            None if pause => {
                let d = &answer["decisions"][0];
                assert_eq!(
                    (d["outcome"].as_str(), d["action"].as_str()),
                    (Some("acted"), Some("answered CONTINUE")),
                    "{name}: {answer}\n{}",
                    f.logs()
                );
                answer.to_string()
            }
            Some(id) => {
                let report = aws.job(id).await.expect("a report");
                let (summary, vars) = report.expect_success();
                assert_eq!(vars["Verdict"], "passed", "{name}: {summary}");
                summary.to_owned()
            }
            None if name.ends_with("rollback") => {
                assert_eq!(
                    answer["hookDetails"]["verdict"], "rollback",
                    "{name}: {answer}"
                );
                answer.to_string()
            }
            None => {
                let ok = answer["status"] == "Succeeded" || answer["hookStatus"] == "SUCCEEDED";
                assert!(ok, "{name}: {answer}\n{}", f.logs());
                answer.to_string()
            }
        };
        assert!(
            said.contains("passed") || said.contains("rolling back"),
            "{name}: {said}"
        );
    }
}

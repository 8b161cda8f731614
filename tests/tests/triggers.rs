//! Every trigger end to end: the fixture binary, run through the Lambda Runtime API against
//! the local AWS, answers each invocation exactly once, on success, error, panic and deadline.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testkit::{Fault, Function, Invocation, LocalAws, binary};

const TIMEOUT: Duration = Duration::from_secs(30);
/// Short enough for a deadline test, long enough for the answer after the margin.
const SHORT: Duration = Duration::from_secs(4);

async fn fixture(aws: &LocalAws) -> Function {
    Function::start(binary("fixture-action"), aws).await
}

fn codedeploy_event(deployment: &str) -> Value {
    json!({"DeploymentId": deployment, "LifecycleEventHookExecutionId": format!("hook-{deployment}")})
}

fn ecs_event(details: Value) -> Value {
    json!({
        "executionId": "exec-1",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc",
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/web",
            "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/c/web/2",
            "testTrafficWeights": {},
            "productionTrafficWeights": {}
        },
        "hookDetails": details
    })
}

fn response(result: &Invocation) -> &Value {
    match result {
        Invocation::Response(v) => v,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Invokes a CodeDeploy hook and returns the invocation and what CodeDeploy recorded.
async fn codedeploy(aws: &LocalAws, deployment: &str, timeout: Duration) -> (Invocation, Value) {
    let mut f = fixture(aws).await;
    let result = f.invoke(&codedeploy_event(deployment), timeout).await;
    let hook = aws
        .hook(deployment, &format!("hook-{deployment}"))
        .await
        .unwrap_or_else(|| panic!("the hook was never answered\n{}", f.logs()));
    assert_eq!(hook["reports"], 1, "{hook}");
    (result, hook)
}

#[tokio::test]
async fn codedeploy_hook_answers_exactly_once_whatever_happens() {
    let aws = LocalAws::shared();
    let cases = [
        ("d-ok-1", "Succeeded"),
        ("d-fail-1", "Failed"),
        ("d-error-1", "Failed"),
        ("d-panic-1", "Failed"),
    ];
    for (deployment, status) in cases {
        let (result, hook) = codedeploy(aws, deployment, TIMEOUT).await;
        assert_eq!(hook["status"], status, "{deployment}");
        assert_eq!(response(&result)["status"], status, "{deployment}");
    }
}

#[tokio::test]
async fn codedeploy_hook_answers_failed_before_the_deadline() {
    let aws = LocalAws::shared();
    let started = Instant::now();
    let (result, hook) = codedeploy(aws, "d-sleep-1", SHORT).await;
    assert!(started.elapsed() < SHORT + Duration::from_secs(1));
    assert_eq!(hook["status"], "Failed");
    assert!(
        response(&result)["reason"]
            .as_str()
            .unwrap()
            .contains("ran out of time")
    );
}

#[tokio::test]
async fn codedeploy_hook_repeated_delivery_is_already_ended() {
    let aws = LocalAws::shared();
    let mut f = fixture(aws).await;
    let event = codedeploy_event("d-ok-repeat");
    assert_eq!(
        response(&f.invoke(&event, TIMEOUT).await)["status"],
        "Succeeded"
    );
    assert_eq!(
        response(&f.invoke(&event, TIMEOUT).await)["status"],
        "AlreadyEnded"
    );
    let hook = aws.hook("d-ok-repeat", "hook-d-ok-repeat").await.unwrap();
    assert_eq!(
        (hook["reports"].as_u64(), hook["rejected"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn codedeploy_hook_whose_report_keeps_failing_errors_so_lambda_retries() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::error("codedeploy", "PutLifecycleEventHookExecutionStatus").times(-1))
        .await;
    let mut f = fixture(&aws).await;
    let result = f.invoke(&codedeploy_event("d-ok-2"), TIMEOUT).await;
    match result {
        Invocation::Error(e) => assert_eq!(e["errorType"], "ReportFailed", "{e}"),
        other => panic!("expected an invocation error, got {other:?}"),
    }
    aws.clear_faults().await;
    let retried = f.invoke(&codedeploy_event("d-ok-2"), TIMEOUT).await;
    assert_eq!(response(&retried)["status"], "Succeeded");
    assert_eq!(
        aws.hook("d-ok-2", "hook-d-ok-2").await.unwrap()["reports"],
        1
    );
}

#[tokio::test]
async fn ecs_hook_answers_with_its_return_value_never_an_error() {
    let aws = LocalAws::shared();
    let mut f = fixture(aws).await;
    let cases = [
        ("ok", "SUCCEEDED", None),
        ("fail", "FAILED", None),
        ("error", "FAILED", Some("Asked")),
        ("retryable", "FAILED", Some("Asked")),
        ("panic", "FAILED", Some("Panic")),
    ];
    for (behave, status, error_type) in cases {
        let result = f
            .invoke(&ecs_event(json!({"behave": behave})), TIMEOUT)
            .await;
        let answer = response(&result);
        assert_eq!(answer["hookStatus"], status, "{behave}: {answer}");
        if let Some(t) = error_type {
            assert_eq!(answer["hookDetails"]["errorType"], t, "{answer}");
            assert!(answer["hookDetails"]["reason"].as_str().is_some());
        }
    }
    // An event that looks like a hook but cannot be read is answered FAILED too.
    let bad = json!({"lifecycleStage": "POST_SCALE_UP", "executionDetails": "nope"});
    let answer = f.invoke(&bad, TIMEOUT).await;
    assert_eq!(response(&answer)["hookStatus"], "FAILED");
    assert_eq!(
        response(&answer)["hookDetails"]["errorType"],
        "InvalidEvent"
    );
}

#[tokio::test]
async fn ecs_hook_waits_through_its_details_and_fails_at_the_deadline() {
    let aws = LocalAws::shared();
    let mut f = fixture(aws).await;
    let mut details = json!({"behave": "progress"});
    let mut answers = Vec::new();
    for _ in 0..3 {
        let result = f.invoke(&ecs_event(details.clone()), TIMEOUT).await;
        let answer = response(&result).clone();
        details = answer["hookDetails"].clone();
        answers.push(answer["hookStatus"].as_str().unwrap().to_owned());
        if answer["hookStatus"] == "IN_PROGRESS" {
            assert_eq!(answer["callBackDelay"], 5);
        }
    }
    assert_eq!(answers, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]);

    let started = Instant::now();
    let result = f
        .invoke(&ecs_event(json!({"behave": "sleep"})), SHORT)
        .await;
    assert!(started.elapsed() < SHORT);
    assert_eq!(response(&result)["hookStatus"], "FAILED");
    assert_eq!(response(&result)["hookDetails"]["errorType"], "Timeout");
}

#[tokio::test]
async fn other_events_answer_by_return_value_and_error_only_when_a_retry_helps() {
    let aws = LocalAws::shared();
    let mut f = fixture(aws).await;
    let ok = f.invoke(&json!({"behave": "ok"}), TIMEOUT).await;
    assert_eq!(response(&ok)["status"], "Handled");
    let error = f.invoke(&json!({"behave": "error"}), TIMEOUT).await;
    assert_eq!(response(&error)["status"], "Failed");
    assert_eq!(response(&error)["errorType"], "Asked");
    let panic = f.invoke(&json!({"behave": "panic"}), TIMEOUT).await;
    assert_eq!(response(&panic)["errorType"], "Panic");
    match f.invoke(&json!({"behave": "retryable"}), TIMEOUT).await {
        Invocation::Error(e) => assert_eq!(e["errorType"], "Asked"),
        other => panic!("expected an invocation error, got {other:?}"),
    }
    let started = Instant::now();
    match f.invoke(&json!({"behave": "sleep"}), SHORT).await {
        Invocation::Error(e) => assert_eq!(e["errorType"], "Timeout"),
        other => panic!("expected an invocation error, got {other:?}"),
    }
    assert!(started.elapsed() < SHORT);
    assert!(f.is_running(), "the process must serve the next invocation");
}

#[tokio::test]
async fn a_function_names_the_shapes_it_accepts() {
    let aws = LocalAws::shared();
    let mut f = Function::start(binary("render-taskdef"), aws).await;
    match f.invoke(&codedeploy_event("d-ok-3"), TIMEOUT).await {
        Invocation::Error(e) => {
            assert_eq!(e["errorType"], "UnsupportedEvent");
            let message = e["errorMessage"].as_str().unwrap();
            assert!(message.contains("CodePipeline.job"), "{message}");
        }
        other => panic!("expected an invocation error, got {other:?}"),
    }
    assert!(aws.hook("d-ok-3", "hook-d-ok-3").await.is_none());
}

#[tokio::test]
async fn a_bad_report_margin_stops_the_function_at_start() {
    let aws = LocalAws::shared();
    let mut f =
        Function::start_with_env(binary("fixture-action"), aws, &[("REPORT_MARGIN_MS", "3s")])
            .await;
    let result = f
        .invoke(&json!({"behave": "ok"}), Duration::from_secs(5))
        .await;
    assert!(matches!(result, Invocation::Crashed(_)), "{result:?}");
    assert!(
        f.logs().contains("REPORT_MARGIN_MS is `3s`"),
        "{}",
        f.logs()
    );
}

#[tokio::test]
async fn a_small_report_margin_still_leaves_the_report_its_time() {
    let aws = LocalAws::shared();
    let mut f =
        Function::start_with_env(binary("fixture-action"), aws, &[("REPORT_MARGIN_MS", "0")]).await;
    let (result, hook) = {
        let r = f.invoke(&codedeploy_event("d-sleep-margin"), SHORT).await;
        let h = aws.hook("d-sleep-margin", "hook-d-sleep-margin").await;
        (r, h)
    };
    assert!(result.is_response(), "{result:?}\n{}", f.logs());
    assert_eq!(hook.expect("answered")["status"], "Failed");
}

//! ECS pause hooks end to end: the real binary, invoked by the `ECS Hook State Change`
//! event and by the schedule, against the local AWS playing paused deployments. Each hook
//! is answered once (`ContinueServiceDeployment`), re-deliveries and answered hooks get
//! nothing, and a bake not yet over waits for the next invocation.

use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::{Fault, Function, Invocation, LocalAws};

const BIN: &str = env!("CARGO_BIN_EXE_health-gate");
const TIMEOUT: Duration = Duration::from_secs(30);
const BASE: &str = "arn:aws:ecs:us-east-1:123456789012";
const CONFIG: &str = r#"{"ecs": {}, "alarms": {"names": ["pz-5xx"]}, "bake": "1m"}"#;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn arn(name: &str) -> String {
    format!("{BASE}:service-deployment/pz/web/{name}")
}

/// A deployment of `pz/web` paused at POST_TEST_TRAFFIC_SHIFT for `paused_s` seconds (a
/// 10-minute pause hook: it expires 10 minutes after it began), in `status`.
fn paused(name: &str, paused_s: f64, status: &str) -> Value {
    json!({
        "serviceDeploymentArn": arn(name), "serviceArn": format!("{BASE}:service/pz/web"),
        "clusterArn": format!("{BASE}:cluster/pz"), "createdAt": now() - 600.0, "startedAt": now() - 600.0,
        "status": status, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "targetServiceRevision": {"arn": format!("{BASE}:service-revision/pz/web/{name}"),
                                  "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0},
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "lifecycleHooks": [{
            "targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 10, "action": "ROLLBACK"}}]},
        "lifecycleHookDetails": [{"hookId": format!("ecs-pause-{name}"), "targetType": "PAUSE",
                                  "status": "AWAITING_ACTION", "expiresAt": now() - paused_s + 600.0,
                                  "timeoutAction": "ROLLBACK"}],
    })
}

/// The sample `HOOK_AWAITING_ACTION` event for deployment `name`.
fn awaiting(name: &str) -> Value {
    let mut event = testkit::seed::sample("health-gate-ecs-pause");
    event["detail"]["serviceDeploymentArn"] = json!(arn(name));
    event["resources"] = json!([arn(name)]);
    event["detail"]["hookId"] = json!(format!("ecs-pause-{name}"));
    event
}

async fn invoke(f: &mut Function, event: &Value) -> Value {
    match f.invoke(event, TIMEOUT).await {
        Invocation::Response(v) => v,
        other => panic!("{other:?}\n{}", f.logs()),
    }
}

fn outcomes(answer: &Value) -> Vec<(String, String)> {
    answer["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["hookId"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{} {}",
                    d["outcome"].as_str().unwrap_or_default(),
                    d["action"]
                        .as_str()
                        .or(d["verdict"].as_str())
                        .unwrap_or_default()
                ),
            )
        })
        .collect()
}

async fn continued(aws: &LocalAws) -> Vec<(String, String)> {
    aws.calls()
        .await
        .into_iter()
        .filter(|c| c.operation == "ContinueServiceDeployment")
        .map(|c| {
            let r = c.request.unwrap_or_default();
            (
                r["hookId"].as_str().unwrap_or_default().to_owned(),
                r["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_healthy_pause_continues_once_and_a_bad_one_rolls_back() {
    let aws = &LocalAws::start().await;
    aws.set_state(json!({
        "serviceDeployments": [paused("ok", 120.0, "IN_PROGRESS"), paused("young", 10.0, "IN_PROGRESS")],
        "alarms": [{"AlarmName": "pz-5xx", "StateValue": "OK"}]}))
        .await;
    let mut f = Function::start_with_env(BIN, aws, &[("HEALTH_GATE_CONFIG", CONFIG)]).await;

    // Paused for 2 minutes with every check passing: past the 1-minute bake.
    let answer = invoke(&mut f, &awaiting("ok")).await;
    assert_eq!(
        outcomes(&answer),
        [("ecs-pause-ok".into(), "acted answered CONTINUE".into())],
        "{answer}"
    );
    assert_eq!(answer["decisions"][0]["step"], "POST_TEST_TRAFFIC_SHIFT");
    // EventBridge delivers again: the hook is answered, nothing is sent.
    let again = invoke(&mut f, &awaiting("ok")).await;
    assert_eq!(outcomes(&again)[0].1, "nothing ", "{again}");
    assert!(
        again["decisions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("SUCCEEDED"),
        "{again}"
    );

    // Paused for 10 s: the bake is not over; nothing is sent, the schedule comes back.
    let answer = invoke(&mut f, &awaiting("young")).await;
    assert_eq!(
        outcomes(&answer),
        [("ecs-pause-young".into(), "waiting wait".into())],
        "{answer}"
    );
    assert!(
        answer["decisions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("bake 10s of 60s")
            || answer["decisions"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("bake 1"),
        "{answer}"
    );

    // The alarm fires: the schedule's pass rolls the young one back.
    aws.set_state(
        json!({"alarms": [{"AlarmName": "pz-5xx", "StateValue": "ALARM",
                                     "StateReason": "Threshold Crossed"}]}),
    )
    .await;
    let scheduled = json!({"ecsPauseHooks": {"cluster": "pz", "service": "web"}});
    let answer = invoke(&mut f, &scheduled).await;
    assert_eq!(
        outcomes(&answer),
        [("ecs-pause-young".into(), "acted answered ROLLBACK".into())],
        "{answer}"
    );
    assert!(
        answer["decisions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("pz-5xx"),
        "{answer}"
    );
    // The next scheduled pass finds no deployment in progress.
    let answer = invoke(&mut f, &scheduled).await;
    assert_eq!(answer["decisions"], json!([]), "{answer}");

    assert_eq!(
        continued(aws).await,
        [
            ("ecs-pause-ok".into(), "CONTINUE".into()),
            ("ecs-pause-young".into(), "ROLLBACK".into())
        ],
        "exactly one answer per hook"
    );
}

#[tokio::test]
async fn a_deployment_ecs_rolled_back_or_a_bad_event_gets_no_answer() {
    let aws = &LocalAws::start().await;
    aws.set_state(json!({
        "serviceDeployments": [paused("gone", 120.0, "ROLLBACK_IN_PROGRESS")],
        "alarms": [{"AlarmName": "pz-5xx", "StateValue": "OK"}]}))
        .await;
    let mut f = Function::start_with_env(BIN, aws, &[("HEALTH_GATE_CONFIG", CONFIG)]).await;
    let answer = invoke(&mut f, &awaiting("gone")).await;
    assert_eq!(outcomes(&answer)[0].1, "nothing ", "{answer}");
    assert!(
        answer["decisions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ROLLBACK_IN_PROGRESS"),
        "{answer}"
    );

    let mut other = awaiting("gone");
    other["detail"]["eventName"] = json!("HOOK_TIMED_OUT");
    let answer = invoke(&mut f, &other).await;
    assert_eq!(
        answer["ignored"], "HOOK_TIMED_OUT of a PAUSE hook: nothing to answer",
        "{answer}"
    );

    let mut broken = awaiting("gone");
    broken["detail"]["hookId"] = Value::Null;
    let answer = invoke(&mut f, &broken).await;
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("detail.hookId"),
        "{answer}"
    );
    assert!(continued(aws).await.is_empty());
}

#[tokio::test]
async fn an_answer_ecs_keeps_refusing_fails_the_invocation_so_lambda_delivers_again() {
    let aws = &LocalAws::start().await;
    aws.set_state(json!({
        "serviceDeployments": [paused("busy", 120.0, "IN_PROGRESS")],
        "alarms": [{"AlarmName": "pz-5xx", "StateValue": "OK"}]}))
        .await;
    aws.fault(Fault::throttle("ecs", "ContinueServiceDeployment").times(-1))
        .await;
    let mut f = Function::start_with_env(BIN, aws, &[("HEALTH_GATE_CONFIG", CONFIG)]).await;
    let failed = f.invoke(&awaiting("busy"), TIMEOUT).await;
    let Invocation::Error(error) = &failed else {
        panic!("a retryable error reaches Lambda: {failed:?}\n{}", f.logs());
    };
    assert!(
        error.to_string().contains("ContinueServiceDeployment"),
        "{error:?}"
    );
    // The next delivery, with ECS answering again, continues the hook once.
    aws.clear_faults().await;
    let answer = invoke(&mut f, &awaiting("busy")).await;
    assert_eq!(
        outcomes(&answer)[0].1,
        "acted answered CONTINUE",
        "{answer}"
    );

    // No configuration: said before any AWS call, not retried.
    let mut bare = Function::start(BIN, aws).await;
    aws.reset_calls().await;
    let answer = invoke(&mut bare, &awaiting("busy")).await;
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("no check is configured"),
        "{answer}"
    );
    assert!(aws.calls().await.is_empty(), "no AWS call");
}

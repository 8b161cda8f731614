//! The real binary through the Lambda Runtime API against the local AWS seeded from
//! `events/seed/rollback-trigger.json`: every sample event in `events/` parses and acts
//! (one rollback per target kind), a duplicate delivery writes nothing, and an AWS call
//! that keeps failing fails the invocation so that Lambda retries; the retry acts once.

use rollback_trigger::event::{self, Delivery, Input};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use testkit::{Fault, Function, Invocation, LocalAws, binary, workspace_root};

const TIMEOUT: Duration = Duration::from_secs(30);
const SAMPLES: [&str; 4] = ["alarm-action", "eventbridge", "request", "sns"];

fn sample(name: &str) -> Value {
    testkit::seed::sample(&format!("rollback-trigger-{name}"))
}

fn fixture(name: &str) -> Value {
    testkit::seed::read_json(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

#[test]
fn every_sample_event_and_real_payload_parses() {
    let found = testkit::seed::sample_events(&testkit::seed::events_dir(), "rollback-trigger");
    let names: Vec<String> = found
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    let expected: Vec<String> = SAMPLES
        .iter()
        .map(|s| format!("rollback-trigger-{s}.json"))
        .collect();
    assert_eq!(
        names, expected,
        "one sample per input shape, each tested here"
    );
    let delivery =
        |name: &str| match event::parse(&sample(name)).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Input::Alarm(a) => Some(a.delivery),
            Input::Manual(_) => None,
        };
    assert_eq!(delivery("eventbridge"), Some(Delivery::EventBridge));
    assert_eq!(delivery("alarm-action"), Some(Delivery::AlarmAction));
    assert_eq!(delivery("sns"), Some(Delivery::Sns));
    assert_eq!(delivery("request"), None);

    // AWS's documentation payloads, quirks included.
    let Input::Alarm(metric) =
        event::parse(&fixture("example-cloudwatch-alarm-metric.json")).unwrap()
    else {
        panic!("an alarm")
    };
    assert_eq!(
        (metric.name.as_str(), metric.state.as_str()),
        ("lambda-demo-metric-alarm", "ALARM")
    );
    assert_eq!(metric.changed_at_ms, 1_691_152_575_490);
    assert_eq!(
        metric.arn.as_deref(),
        Some("arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm")
    );
    let Input::Alarm(composite) =
        event::parse(&fixture("example-cloudwatch-alarm-composite.json")).unwrap()
    else {
        panic!("an alarm")
    };
    assert!(composite.composite && composite.suppressed_by.is_none());
    assert_eq!(
        composite
            .previous
            .as_ref()
            .map(|(s, suppressed)| (s.as_str(), *suppressed)),
        Some(("ALARM", true))
    );
    let Input::Alarm(sns) = event::parse(&fixture(
        "example-cloudwatch-alarm-sns-payload-single-metric.json",
    ))
    .unwrap() else {
        panic!("an alarm")
    };
    assert_eq!(
        (sns.name.as_str(), sns.delivery),
        ("EXAMPLE", Delivery::Sns)
    );
    let text =
        std::fs::read_to_string(workspace_root().join("events/rollback-trigger-sns.json")).unwrap();
    assert!(
        text.contains(r#"\"AlarmDescription\": null"#) && text.contains("US East (N. Virginia)")
    );
}

async fn seeded() -> LocalAws {
    let aws = LocalAws::start().await;
    testkit::seed::seed_only(&aws, &testkit::seed::events_dir(), "rollback-trigger")
        .await
        .unwrap_or_else(|e| panic!("seeding: {e}"));
    aws.reset_calls().await;
    aws
}

fn outcomes(answer: &Invocation) -> Vec<String> {
    let Invocation::Response(value) = answer else {
        panic!("expected a response, got {answer:?}");
    };
    value["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("no decisions in {value}"))
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["outcome"].as_str().unwrap_or_default(),
                d["target"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

async fn writes(aws: &LocalAws) -> Vec<String> {
    const WRITES: &[&str] = &[
        "StopServiceDeployment",
        "ContinueServiceDeployment",
        "UpdateService",
        "StopDeployment",
        "CreateDeployment",
        "RollbackStage",
        "DisableStageTransition",
    ];
    aws.calls()
        .await
        .into_iter()
        .filter(|c| WRITES.contains(&c.operation.as_str()) && c.status == 200)
        .map(|c| c.operation)
        .collect::<Vec<_>>()
        .sorted()
}

trait Sorted {
    fn sorted(self) -> Self;
}

impl Sorted for Vec<String> {
    fn sorted(mut self) -> Self {
        self.sort();
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sample_rolls_back_once_through_the_runtime_api() {
    let aws = seeded().await;
    let mut f = Function::start(binary("rollback-trigger"), &aws).await;
    let expected = [
        ("eventbridge", vec!["acted ECS service demo/web"]),
        ("alarm-action", vec!["acted CodeDeploy group web-ec2/prod"]),
        (
            "sns",
            vec![
                "acted pipeline stage web-pipeline/Prod",
                "acted freeze of stage web-pipeline/Prod",
            ],
        ),
        ("request", vec!["dryRun ECS service demo/api"]),
    ];
    for (name, want) in &expected {
        let answer = f.invoke(&sample(name), TIMEOUT).await;
        assert_eq!(&outcomes(&answer), want, "{name}: {answer:?}\n{}", f.logs());
    }
    // Sorted: the rollback and the freeze of a target are written concurrently.
    let once = [
        "DisableStageTransition",
        "RollbackStage",
        "StopDeployment",
        "StopServiceDeployment",
    ];
    assert_eq!(writes(&aws).await, once);
    // Every sample delivered again: nothing more is written.
    for (name, _) in &expected {
        let answer = f.invoke(&sample(name), TIMEOUT).await;
        let got = outcomes(&answer);
        let expect = if *name == "request" {
            "dryRun"
        } else {
            "nothing"
        };
        assert!(
            got.iter().all(|o| o.starts_with(expect)),
            "{name} again: {got:?}"
        );
    }
    assert_eq!(
        writes(&aws).await,
        once,
        "a duplicate delivery writes nothing"
    );
    assert!(f.logs().contains("decision"), "one log line per decision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_call_that_keeps_failing_fails_the_invocation_and_the_retry_acts_once() {
    let aws = seeded().await;
    aws.fault(Fault::error("ecs", "ListServiceDeployments").times(-1))
        .await;
    let mut f = Function::start(binary("rollback-trigger"), &aws).await;
    let event = sample("eventbridge");
    let answer = f.invoke(&event, TIMEOUT).await;
    let Invocation::Error(error) = &answer else {
        panic!("expected an invocation error so that Lambda retries, got {answer:?}");
    };
    assert_eq!(error["errorType"], "RetryLater", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("ecs:ListServiceDeployments"),
        "{error}"
    );
    assert!(writes(&aws).await.is_empty());
    aws.clear_faults().await;
    assert_eq!(
        outcomes(&f.invoke(&event, TIMEOUT).await),
        ["acted ECS service demo/web"]
    );
    assert_eq!(
        outcomes(&f.invoke(&event, TIMEOUT).await),
        ["nothing ECS service demo/web"]
    );
    assert_eq!(writes(&aws).await, ["StopServiceDeployment"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_event_is_answered_not_retried() {
    let aws = LocalAws::shared();
    let mut f = Function::start(binary("rollback-trigger"), aws).await;
    let answer = f
        .invoke(
            &json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"}),
            TIMEOUT,
        )
        .await;
    let Invocation::Response(value) = &answer else {
        panic!("expected an answer, got {answer:?}");
    };
    assert_eq!(value["status"], "Failed", "{value}");
    assert_eq!(value["errorType"], "BadEvent", "{value}");
    assert!(
        value["message"]
            .as_str()
            .unwrap_or_default()
            .contains("narrow the EventBridge rule"),
        "{value}"
    );
}

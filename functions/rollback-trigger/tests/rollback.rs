//! The handler against the local AWS with real SDK clients: one rollback per target kind,
//! repeats (duplicate, flapping, concurrent) that act once, dry runs, the round trips
//! spent, and an AWS call that keeps failing.

mod common;

use common::*;
use rollback_trigger::RollbackTrigger;
use serde_json::{Value, json};
use shared::Failure;
use testkit::Fault;

fn ecs_tags(cluster: &str, service: &str) -> Option<Value> {
    Some(json!({"rollback:ecs-service": format!("{cluster}/{service}")}))
}

/// Handles `event` with `f`, and expects one decision with `outcome` that says `says`.
async fn expect_decision(f: &RollbackTrigger, event: &Value, outcome: &str, says: &str) {
    expect_one(&f.handle_event(event).await, outcome, says);
}

/// The service `prod/<service>` deploying revision 2 (`b`, in progress) after revision 1.
fn deploying(service: &str) -> Value {
    ecs_service(
        "prod",
        service,
        &[("a", "SUCCESSFUL", -180, 1), ("b", "IN_PROGRESS", -20, 2)],
    )
}

/// Its alarm `<service>-5xx`, tagged with `prod/<service>`, into ALARM `minutes` from now.
fn service_alarm(service: &str, minutes: i64) -> Value {
    let name = format!("{service}-5xx");
    eventbridge(&name, "ALARM", minutes, ecs_tags("prod", service))
}

#[test]
fn an_ecs_deployment_in_progress_is_stopped_with_rollback_once() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(deploying("web1")).await;
        let f = env.function(&[]);
        let event = service_alarm("web1", -1);
        expect_decision(&f, &event, "acted", "with ROLLBACK").await;
        // The same delivery again, and a flap of the alarm: the rollback is under way.
        expect_decision(&f, &event, "nothing", "already being stopped").await;
        let flap = service_alarm("web1", 1);
        expect_decision(&f, &flap, "nothing", "already being stopped").await;
        let calls = env.calls().await;
        let stops = writes(&calls, "StopServiceDeployment");
        assert_eq!(stops.len(), 1, "{:?}", any_write(&calls));
        let request = stops[0].request.as_ref().unwrap();
        assert_eq!(request["stopType"], "ROLLBACK");
        assert!(
            request["serviceDeploymentArn"]
                .as_str()
                .unwrap()
                .ends_with("/prod/web1/b")
        );
    });
}

#[test]
fn a_deployment_waiting_at_a_pause_hook_is_answered_rollback_once() {
    let (env, _g) = env();
    RT.block_on(async {
        let mut service = deploying("web-paused");
        service["ecsServices"][0]["deployments"][1]["lifecycleStage"] =
            json!("POST_TEST_TRAFFIC_SHIFT");
        service["ecsServices"][0]["deployments"][1]["lifecycleHookDetails"] = json!([{
            "hookId": "ecs-pause-web", "targetType": "PAUSE", "status": "AWAITING_ACTION",
            "expiresAt": at(10), "timeoutAction": "ROLLBACK"}]);
        env.seed(service).await;
        let f = env.function(&[]);
        let event = service_alarm("web-paused", -1);
        expect_decision(&f, &event, "acted", "answered pause hook ecs-pause-web").await;
        expect_decision(&f, &event, "nothing", "already being stopped").await;
        let calls = env.calls().await;
        assert_eq!(
            any_write(&calls),
            ["ContinueServiceDeployment"],
            "one call, not a stop"
        );
        let request = writes(&calls, "ContinueServiceDeployment")[0]
            .request
            .clone()
            .unwrap();
        assert_eq!(
            (request["hookId"].as_str(), request["action"].as_str()),
            (Some("ecs-pause-web"), Some("ROLLBACK"))
        );
    });
}

#[test]
fn a_completed_ecs_deployment_goes_back_to_the_last_known_good_task_definition() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(ecs_service(
            "prod",
            "web2",
            &[
                ("a", "SUCCESSFUL", -300, 1),
                ("b", "ROLLBACK_SUCCESSFUL", -200, 7),
                ("c", "SUCCESSFUL", -180, 2),
                ("d", "SUCCESSFUL", -20, 3),
            ],
        ))
        .await;
        let f = env.function(&[]);
        let event = service_alarm("web2", -1);
        expect_decision(&f, &event, "acted", &task_definition("web2", 2)).await;
        // A duplicate finds a deployment newer than the alarm (the rollback itself).
        expect_decision(&f, &event, "nothing", "after the trigger").await;
        // A flap after the rollback started: the newest deployment is a rollback.
        let flap = service_alarm("web2", 1);
        expect_decision(&f, &flap, "nothing", "it is a rollback").await;
        let calls = env.calls().await;
        let updates = writes(&calls, "UpdateService");
        assert_eq!(updates.len(), 1, "{:?}", any_write(&calls));
        let request = updates[0].request.as_ref().unwrap();
        assert_eq!(request["taskDefinition"], task_definition("web2", 2));
        assert_eq!(
            (request["cluster"].as_str(), request["service"].as_str()),
            (Some("prod"), Some("web2"))
        );
    });
}

#[test]
fn an_ecs_service_without_a_known_good_deployment_is_refused() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(ecs_service("prod", "web3", &[("a", "SUCCESSFUL", -20, 1)]))
            .await;
        let f = env.function(&[]);
        let event = service_alarm("web3", -1);
        expect_decision(&f, &event, "refused", "no known good revision").await;
        assert!(any_write(&env.calls().await).is_empty());
    });
}

#[test]
fn an_active_codedeploy_deployment_is_stopped_with_automatic_rollback() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(codedeploy_group(
            "app1",
            "prod",
            &[
                ("d-APP1A", "Succeeded", -180, "app-1.zip"),
                ("d-APP1B", "InProgress", -20, "app-2.zip"),
            ],
        ))
        .await;
        let f = env.function(&[(
            "ROLLBACK_TARGETS",
            r#"{"app1-*": {"codeDeploy": {"application": "app1", "deploymentGroup": "prod"}}}"#,
        )]);
        let event = eventbridge("app1-errors", "ALARM", -1, None);
        expect_decision(
            &f,
            &event,
            "acted",
            "stopped deployment d-APP1B with automatic rollback",
        )
        .await;
        // CodeDeploy's rollback deployment is now the latest: a duplicate leaves it alone.
        expect_decision(&f, &event, "nothing", "after the trigger").await;
        let flap = eventbridge("app1-errors", "ALARM", 1, None);
        expect_decision(&f, &flap, "nothing", "made by CodeDeploy").await;
        let calls = env.calls().await;
        let stops = writes(&calls, "StopDeployment");
        assert_eq!(stops.len(), 1, "{:?}", any_write(&calls));
        assert_eq!(
            stops[0].request.as_ref().unwrap()["autoRollbackEnabled"],
            true
        );
    });
}

#[test]
fn a_succeeded_codedeploy_deployment_is_reverted_to_the_previous_revision() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(codedeploy_group("app2", "prod", &[
            ("d-APP2A", "Succeeded", -180, "app-1.zip"),
            ("d-APP2B", "Succeeded", -20, "app-2.zip"),
        ]))
        .await;
        let f = env.function(&[("ROLLBACK_TARGETS", r#"{"app2-errors": [{"codeDeploy": {"application": "app2", "deploymentGroup": "prod"}}]}"#)]);
        let event = eventbridge("app2-errors", "ALARM", -1, None);
        expect_decision(&f, &event, "acted", "deployed the revision that ran before deployment d-APP2B").await;
        let flap = eventbridge("app2-errors", "ALARM", 1, None);
        expect_decision(&f, &flap, "nothing", "made by this function").await;
        let calls = env.calls().await;
        let creates = writes(&calls, "CreateDeployment");
        assert_eq!(creates.len(), 1, "{:?}", any_write(&calls));
        let request = creates[0].request.as_ref().unwrap();
        assert_eq!(request["revision"]["s3Location"]["key"], "app-1.zip");
        assert!(request["description"].as_str().unwrap().starts_with("rollback-trigger: alarm app2-errors"));
    });
}

/// A pipeline `name` whose stage Prod last ran `current` (Succeeded), after `earlier`.
async fn seed_pipeline(env: &Env, name: &str) -> (String, String) {
    let (earlier, rollback, current) = (uuid(1, name), uuid(2, name), uuid(3, name));
    env.seed(json!({
        "pipelineExecutions": {name: [
            {"pipelineExecutionId": earlier, "status": "Succeeded", "startTime": at(-300), "executionType": "STANDARD", "succeededInStages": ["Prod"]},
            {"pipelineExecutionId": rollback, "status": "Succeeded", "startTime": at(-200), "executionType": "ROLLBACK", "succeededInStages": ["Prod"]},
            {"pipelineExecutionId": current, "status": "Succeeded", "startTime": at(-20), "executionType": "STANDARD", "succeededInStages": ["Prod"]},
        ]},
        "pipelineStates": {name: {"pipelineName": name, "stageStates": [
            {"stageName": "Prod", "inboundTransitionState": {"enabled": true, "lastChangedAt": at(-600)},
             "latestExecution": {"pipelineExecutionId": current, "status": "Succeeded", "type": "STANDARD"}}]}},
    }))
    .await;
    (earlier, current)
}

fn uuid(n: u8, name: &str) -> String {
    let tag: u32 = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    format!("{tag:08x}-0000-4000-8000-{n:012}")
}

#[test]
fn a_pipeline_stage_rolls_back_to_the_newest_earlier_success_and_freezes() {
    let (env, _g) = env();
    RT.block_on(async {
        let (earlier, _) = seed_pipeline(env, "pipe1").await;
        let targets = r#"{"pipe1-5xx": {"pipelineStage": {"pipeline": "pipe1", "stage": "Prod"}, "freeze": {"pipeline": "pipe1", "stage": "Prod"}}}"#;
        let f = env.function(&[("ROLLBACK_TARGETS", targets)]);
        let event = eventbridge("pipe1-5xx", "ALARM", -1, None);
        let result = f.handle_event(&event).await;
        let found = decisions(&result);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(o, _)| o == "acted"), "{found:?}");
        assert!(found[0].1.contains(&format!("to {earlier}")), "{found:?}");
        // Duplicate and flap: the stage's latest execution is the rollback; the
        // transition is already disabled.
        for again in [event.clone(), eventbridge("pipe1-5xx", "ALARM", 1, None)] {
            let found = decisions(&f.handle_event(&again).await);
            assert!(found.iter().all(|(o, _)| o == "nothing"), "{found:?}");
        }
        let calls = env.calls().await;
        let mut written = any_write(&calls);
        written.sort();
        assert_eq!(written, ["DisableStageTransition", "RollbackStage"], "one write each");
        let reason = writes(&calls, "DisableStageTransition")[0].request.as_ref().unwrap()["reason"].clone();
        assert!(reason.as_str().unwrap().starts_with("Frozen by rollback-trigger. alarm pipe1-5xx went to ALARM at "), "{reason}");
    });
}

#[test]
fn a_dry_run_decides_and_reports_without_acting() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(ecs_service("prod", "web4", &[("a", "SUCCESSFUL", -180, 1), ("b", "SUCCESSFUL", -20, 2)]))
            .await;
        let f = env.function(&[("DRY_RUN", "true")]);
        let event = service_alarm("web4", -1);
        expect_decision(&f, &event, "dryRun", &task_definition("web4", 1)).await;
        let request = json!({"rollback": {"target": {"ecsService": {"cluster": "prod", "service": "web4"}, "dryRun": true}},
                             "reason": "checking"});
        expect_decision(&env.function(&[]), &request, "dryRun", "updated the service").await;
        assert!(any_write(&env.calls().await).is_empty());
    });
}

#[test]
fn a_persons_request_rolls_back_through_the_same_path() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(deploying("web5"))
            .await;
        let request = json!({"rollback": {"target": [{"ecsService": {"cluster": "prod", "service": "web5"}}]},
                             "reason": "bad release", "requestedAt": stamp(-1)});
        let f = env.function(&[]);
        expect_decision(&f, &request, "acted", "with ROLLBACK").await;
        expect_decision(&f, &request, "nothing", "already being stopped").await;
        assert_eq!(any_write(&env.calls().await), ["StopServiceDeployment"]);
    });
}

#[test]
fn concurrent_invocations_roll_back_once() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(codedeploy_group("app3", "prod", &[
            ("d-APP3A", "Succeeded", -180, "app-1.zip"),
            ("d-APP3B", "Succeeded", -20, "app-2.zip"),
        ]))
        .await;
        // Both invocations' CreateDeployment calls are held until both have arrived: they
        // race whatever the machine's load.
        env.aws.rendezvous("codedeploy", "CreateDeployment", 2).await;
        let f = env.function(&[("ROLLBACK_TARGETS", r#"{"app3-errors": {"codeDeploy": {"application": "app3", "deploymentGroup": "prod"}}}"#)]);
        let event = eventbridge("app3-errors", "ALARM", -1, None);
        let (a, b) = futures::join!(f.handle_event(&event), f.handle_event(&event));
        let mut outcomes = [decisions(&a), decisions(&b)].concat();
        outcomes.sort();
        assert_eq!(outcomes[0].0, "acted", "{outcomes:?}");
        assert_eq!(outcomes[1].0, "nothing", "{outcomes:?}");
        assert!(outcomes[1].1.contains("looking again"), "{outcomes:?}");
        let calls = env.calls().await;
        assert_eq!(writes(&calls, "CreateDeployment").len(), 1);
        let refused: Vec<_> = calls.iter().filter(|c| c.operation == "CreateDeployment" && c.status != 200).collect();
        assert_eq!(refused.len(), 1, "the second CreateDeployment raced and was refused");
        assert!(!env.aws.rendezvous_missed().await, "both invocations reached CreateDeployment");
    });
}

/// The operations called, sorted: concurrent calls end in any order.
fn ops(calls: &[testkit::Call]) -> Vec<&str> {
    let mut ops: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    ops.sort_unstable();
    ops
}

/// What each target costs, and a duplicate alarm: the calls made, which say what depends on
/// what (each write needs the reads before it; the reads need only the target). How many
/// round trips they take on the wire is a figure of `scripts/bench`, which a loaded machine
/// cannot make a test fail on.
#[test]
fn calls_for_one_target_and_for_a_duplicate() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(ecs_service("prod", "web6", &[("a", "SUCCESSFUL", -180, 1), ("b", "SUCCESSFUL", -20, 2)]))
            .await;
        env.seed(codedeploy_group("app4", "prod", &[("d-APP4A", "Succeeded", -180, "1.zip"), ("d-APP4B", "InProgress", -20, "2.zip")]))
            .await;
        seed_pipeline(env, "pipe2").await;
        let targets = json!({
            "web6-5xx": {"ecsService": {"cluster": "prod", "service": "web6"}},
            "app4-5xx": {"codeDeploy": {"application": "app4", "deploymentGroup": "prod"}},
            "pipe2-5xx": {"pipelineStage": {"pipeline": "pipe2", "stage": "Prod"}, "freeze": {"pipeline": "pipe2", "stage": "Prod"}},
        })
        .to_string();
        let f = env.function(&[("ROLLBACK_TARGETS", &targets)]);
        // (alarm, the calls of the first delivery, those of a duplicate)
        let cases: [(&str, &[&str], &[&str]); 3] = [
            // ListServiceDeployments -> DescribeServiceRevisions -> UpdateService.
            (
                "web6-5xx",
                &["DescribeServiceRevisions", "ListServiceDeployments", "UpdateService"],
                &["ListServiceDeployments"],
            ),
            // GetDeploymentGroup -> GetDeployment -> StopDeployment.
            (
                "app4-5xx",
                &["GetDeployment", "GetDeploymentGroup", "StopDeployment"],
                &["GetDeployment", "GetDeploymentGroup"],
            ),
            // The rollback and the freeze side by side, each its two reads, then its write.
            (
                "pipe2-5xx",
                &[
                    "DisableStageTransition",
                    "GetPipelineState",
                    "GetPipelineState",
                    "ListPipelineExecutions",
                    "ListPipelineExecutions",
                    "RollbackStage",
                ],
                &["GetPipelineState", "GetPipelineState", "ListPipelineExecutions", "ListPipelineExecutions"],
            ),
        ];
        for (alarm, first_calls, again_calls) in cases {
            let event = eventbridge(alarm, "ALARM", -1, None);
            env.aws.reset_calls().await;
            let first = f.handle_event(&event).await;
            assert!(decisions(&first).iter().all(|(o, _)| o == "acted"), "{alarm}: {first:?}");
            assert_eq!(ops(&env.calls().await), first_calls, "{alarm}");
            env.aws.reset_calls().await;
            let again = f.handle_event(&event).await;
            assert!(decisions(&again).iter().all(|(o, _)| o == "nothing"), "{alarm}: {again:?}");
            let calls = env.calls().await;
            assert_eq!(ops(&calls), again_calls, "{alarm} duplicate");
            assert!(any_write(&calls).is_empty(), "{alarm} duplicate wrote {:?}", any_write(&calls));
        }
    });
}

#[test]
fn an_aws_call_that_keeps_failing_asks_for_a_retry_and_the_retry_acts_once() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(deploying("web7")).await;
        env.aws
            .fault(Fault::error("ecs", "ListServiceDeployments").times(-1))
            .await;
        let f = env.function(&[]);
        let event = service_alarm("web7", -1);
        let err = f.handle_event(&event).await.expect_err("a retryable error");
        assert!(err.retryable() && err.error_type() == "RetryLater", "{err}");
        assert!(
            err.to_string()
                .contains("ecs:ListServiceDeployments failed"),
            "{err}"
        );
        env.aws.clear_faults().await;
        expect_decision(&f, &event, "acted", "with ROLLBACK").await;
        assert_eq!(any_write(&env.calls().await), ["StopServiceDeployment"]);
    });
}

#[test]
fn targets_come_from_the_alarms_tags_when_the_event_has_none() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(deploying("web8")).await;
        env.seed(json!({"alarmTags": {
            alarm_arn("web8-5xx"): {"rollback:ecs-service": "prod/web8"},
            alarm_arn("untagged"): {"team": "web"},
        }}))
        .await;
        let f = env.function(&[]);
        let result = f
            .handle_event(&eventbridge("web8-5xx", "ALARM", -1, None))
            .await;
        expect_one(&result, "acted", "with ROLLBACK");
        assert_eq!(result.unwrap()["targetsFrom"], "alarm tags");
        let none = f
            .handle_event(&eventbridge("untagged", "ALARM", -1, None))
            .await
            .unwrap();
        assert_eq!(none["decisions"], json!([]));
        assert!(none["note"].as_str().unwrap().contains("maps to no target"));
        let bad = json!({"rollback:ecs-service": "web8"});
        let err = f
            .handle_event(&eventbridge("x", "ALARM", -1, Some(bad)))
            .await
            .unwrap_err();
        assert!(
            !err.retryable() && err.to_string().contains("write each as `a/b`"),
            "{err}"
        );
    });
}

#[test]
fn other_state_changes_and_suppressed_alarms_do_nothing_and_call_nothing() {
    let (env, _g) = env();
    RT.block_on(async {
        let f = env.function(&[]);
        for event in [
            eventbridge("web-5xx", "OK", -1, ecs_tags("prod", "web")),
            eventbridge("web-5xx", "INSUFFICIENT_DATA", -1, ecs_tags("prod", "web")),
        ] {
            let out = f.handle_event(&event).await.unwrap();
            assert!(
                out["ignored"]
                    .as_str()
                    .unwrap()
                    .contains("only a change into ALARM"),
                "{out}"
            );
        }
        let mut suppressed = service_alarm("web", -1);
        suppressed["detail"]["state"]["actionsSuppressedBy"] = json!("Alarm");
        let out = f.handle_event(&suppressed).await.unwrap();
        assert!(
            out["ignored"].as_str().unwrap().contains("suppressed"),
            "{out}"
        );
        assert!(env.calls().await.is_empty());
        let err = f
            .handle_event(&json!({"hello": "world"}))
            .await
            .unwrap_err();
        assert!(
            !err.retryable() && err.error_type() == "UnknownEvent",
            "{err}"
        );
        let bad = env.function(&[("DRY_RUN", "maybe")]);
        let err = bad
            .handle_event(&eventbridge("web-5xx", "ALARM", -1, None))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("DRY_RUN"), "{err}");
    });
}

#[test]
fn a_message_goes_to_the_topic_when_something_is_done_not_for_a_duplicate() {
    let (env, _g) = env();
    RT.block_on(async {
        env.seed(deploying("web9")).await;
        let sns = aws_sdk_sns::Client::new(&env.sdk);
        let topic = sns
            .create_topic()
            .name("deploy-alerts")
            .send()
            .await
            .expect("CreateTopic");
        let topic = topic.topic_arn().expect("a topic ARN").to_owned();
        let f = env.function(&[("NOTIFY_TOPIC_ARN", &topic)]);
        let event = service_alarm("web9", -1);
        expect_decision(&f, &event, "acted", "with ROLLBACK").await;
        expect_decision(&f, &event, "nothing", "already being stopped").await;
        let calls = env.calls().await;
        assert_eq!(
            writes(&calls, "Publish").len(),
            1,
            "one message, none for the duplicate"
        );
        // A topic that cannot take the message does not undo the report of the rollback.
        env.aws.fault(Fault::deny("sns", "Publish")).await;
        env.seed(deploying("web9")).await;
        expect_decision(&f, &event, "acted", "with ROLLBACK").await;
    });
}

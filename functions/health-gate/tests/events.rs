//! The sample events in `events/health-gate-*.json`, one per entry point (and the pause
//! hook's schedule): each is
//! recognised as its trigger and its configuration parses and validates.

use health_gate::config::{self, Config};
use serde_json::{Map, Value};
use shared::job::JobEvent;
use shared::trigger::{Trigger, recognise};
use shared::{CodeDeployHookEvent, EcsHookEvent, EcsPauseRequest};

const SAMPLES: [(&str, Trigger); 7] = [
    ("pipeline", Trigger::Job),
    ("pipeline-ec2", Trigger::Job),
    ("codedeploy-hook", Trigger::CodeDeployHook),
    ("ecs-hook", Trigger::EcsHook),
    ("ecs-hook-rollback", Trigger::EcsHook),
    ("ecs-pause", Trigger::EcsPause),
    ("ecs-pause-schedule", Trigger::EcsPause),
];

fn load(name: &str) -> Value {
    testkit::seed::sample(&format!("health-gate-{name}"))
}

#[test]
fn every_sample_is_its_trigger_with_a_valid_configuration() {
    let found: Vec<String> =
        testkit::seed::sample_events(&testkit::seed::events_dir(), "health-gate")
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
    let mut expected: Vec<String> = SAMPLES
        .iter()
        .map(|(n, _)| format!("health-gate-{n}.json"))
        .collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "one sample per entry point, each tested here"
    );
    for (name, trigger) in SAMPLES {
        let event = load(name);
        assert_eq!(recognise(&event), trigger, "{name}");
        match trigger {
            Trigger::Job => {
                let job: JobEvent =
                    serde_json::from_value(event).unwrap_or_else(|e| panic!("{name}: {e}"));
                let c: Config = shared::params::parse_params(job.job.user_parameters())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                c.check(health_gate::config::Entry::Pipeline)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Trigger::CodeDeployHook => {
                serde_json::from_value::<CodeDeployHookEvent>(event)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Trigger::EcsPause => {
                let request =
                    EcsPauseRequest::parse(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(
                    !matches!(request, EcsPauseRequest::Other(_)),
                    "{name}: a hook to answer"
                );
            }
            _ => {
                let e: EcsHookEvent =
                    serde_json::from_value(event).unwrap_or_else(|e| panic!("{name}: {e}"));
                let details: Map<String, Value> = e
                    .hook_details
                    .and_then(|d| d.as_object().cloned())
                    .unwrap_or_default();
                if health_gate::entry::rollback(&e.execution_details).is_none() {
                    let mut details = details;
                    // The deployment comes from the event, as the hook fills it in.
                    details.insert(
                        "ecs".into(),
                        serde_json::json!({"deploymentArn": e.resource_arn}),
                    );
                    config::from_value(Value::Object(details))
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                } else {
                    assert!(Config::merged(None, &details).is_ok(), "{name}");
                }
            }
        }
    }
}

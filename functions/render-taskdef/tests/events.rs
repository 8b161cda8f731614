//! The sample events in `events/render-taskdef-*.json`: each parses, refers only to
//! artifacts that exist under `events/artifacts/`, and succeeds against the local AWS
//! seeded from `events/seed/render-taskdef.json`.

use render_taskdef::config::Config;
use serde_json::Value;
use shared::job::JobEvent;
use std::time::Duration;
use testkit::{Function, JobReport, LocalAws};

const MODES: [&str; 8] = [
    "image-detail",
    "ecr-source",
    "imagedefinitions",
    "register",
    "family",
    "service",
    "revision",
    "revision-template",
];

fn load(mode: &str) -> Value {
    testkit::seed::sample(&format!("render-taskdef-{mode}"))
}

/// Seeds what this action's samples need: its artifacts and `events/seed/render-taskdef.json`.
async fn seed(aws: &LocalAws) {
    testkit::seed::seed_only(aws, &testkit::seed::events_dir(), "render-taskdef")
        .await
        .unwrap_or_else(|e| panic!("seeding: {e}"));
}

#[test]
fn every_sample_event_parses_and_names_existing_artifacts() {
    let found: Vec<String> =
        testkit::seed::sample_events(&testkit::seed::events_dir(), "render-taskdef")
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
    let mut expected: Vec<String> = MODES
        .iter()
        .map(|m| format!("render-taskdef-{m}.json"))
        .collect();
    expected.sort();
    assert_eq!(found, expected, "one sample per mode, each tested here");
    for mode in MODES {
        let event = load(mode);
        let job: JobEvent = serde_json::from_value(event).unwrap_or_else(|e| panic!("{mode}: {e}"));
        let config: Config = shared::params::parse_params(job.job.user_parameters())
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        config.check().unwrap_or_else(|e| panic!("{mode}: {e}"));
        for artifact in &job.job.data.input_artifacts {
            let s3 = &artifact.location.s3_location;
            assert_eq!(s3.bucket_name, "pipeline-artifacts", "{mode}");
            let dir = testkit::seed::events_dir()
                .join("artifacts")
                .join(&s3.object_key);
            assert!(
                dir.is_dir() && s3.object_key.ends_with(".zip"),
                "{mode}: {} has no folder",
                s3.object_key
            );
        }
        assert_eq!(job.job.data.output_artifacts.len(), 1, "{mode}");
    }
}

#[tokio::test]
async fn every_sample_event_succeeds_against_the_seeded_local_aws() {
    let aws = LocalAws::start().await;
    seed(&aws).await;
    let mut f = Function::start(env!("CARGO_BIN_EXE_render-taskdef"), &aws).await;
    let mut summaries = Vec::new();
    for mode in MODES {
        let event = load(mode);
        let r = f.invoke(&event, Duration::from_secs(30)).await;
        assert!(r.is_response(), "{mode}: {r:?}\n{}", f.logs());
        let id = event["CodePipeline.job"]["id"].as_str().expect("job id");
        match aws.job(id).await {
            Some(JobReport::Success { summary, .. }) => {
                summaries.push(format!("{mode}: {summary}"))
            }
            other => panic!("{mode}: {other:?}\n{}", f.logs()),
        }
    }
    eprintln!("{}", summaries.join("\n"));
}

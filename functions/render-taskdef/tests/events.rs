//! The sample events in `events/render-taskdef-*.json`: each parses, refers only to
//! artifacts that exist under `events/artifacts/`, and succeeds against the local AWS
//! seeded from `events/seed/render-taskdef.json`.

use render_taskdef::config::Config;
use serde_json::Value;
use shared::job::JobEvent;
use std::path::{Path, PathBuf};
use std::time::Duration;
use testkit::{Function, JobReport, LocalAws, workspace_root};

const MODES: [&str; 6] = [
    "image-detail",
    "ecr-source",
    "imagedefinitions",
    "register",
    "family",
    "service",
];

fn events_dir() -> PathBuf {
    workspace_root().join("events")
}

fn load(mode: &str) -> Value {
    let path = events_dir().join(format!("render-taskdef-{mode}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_under(dir: &Path, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, root, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.push((rel, std::fs::read(&path).unwrap_or_default()));
        }
    }
}

/// Seeds what this action's samples need, as the test kit's seeding does for all of
/// `events/`: each `events/artifacts/<key>.zip/` folder zipped to `s3://pipeline-artifacts/<key>.zip`,
/// and the calls of `events/seed/render-taskdef.json`.
async fn seed(aws: &LocalAws) {
    let s3 = aws.s3().await;
    testkit::job::ensure_bucket(&s3, testkit::job::BUCKET).await;
    let root = events_dir().join("artifacts");
    let mut dirs: Vec<_> = std::fs::read_dir(root.join("render-taskdef"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs
        .into_iter()
        .filter(|d| d.is_dir() && d.extension().is_some_and(|x| x == "zip"))
    {
        let mut files = Vec::new();
        files_under(&dir, &dir, &mut files);
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        let zip = shared::artifacts::build_zip(&refs).expect("zip");
        let key = dir
            .strip_prefix(&root)
            .expect("under artifacts")
            .to_string_lossy()
            .replace('\\', "/");
        s3.put_object()
            .bucket(testkit::job::BUCKET)
            .key(&key)
            .body(zip.into())
            .send()
            .await
            .expect("upload");
    }
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("seed/render-taskdef.json")).expect("seed file"),
    )
    .expect("seed JSON");
    for (target, body) in testkit::seed::calls_of(&spec) {
        aws.json_call(&target, &body)
            .await
            .unwrap_or_else(|e| panic!("seed {target}: {e}"));
    }
}

#[test]
fn every_sample_event_parses_and_names_existing_artifacts() {
    let mut found: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.starts_with("render-taskdef-") && n.ends_with(".json"))
        .collect();
    found.sort();
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
            let dir = events_dir().join("artifacts").join(&s3.object_key);
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

//! Reading input artifacts from the local AWS when S3 misbehaves: a body cut off midway is
//! downloaded again within the time left, and a missing object blames the upstream action.

use serde_json::Value;
use shared::artifacts::{ArtifactError, Artifacts};
use shared::job::JobEvent;
use shared::{Failure, FailureType};
use std::time::Duration;
use testkit::{Fault, JobBuilder, LocalAws, StagedJob};
use tokio::time::Instant;

/// A body cut off after its first half, on the next `count` GetObject calls (-1: all).
fn cut(count: i64) -> Fault {
    Fault {
        kind: "cut",
        ..Fault::reset("s3", "GetObject").times(count)
    }
}

/// A job with one input artifact big enough to be cut midway (about 200 KB).
async fn staged(aws: &LocalAws) -> StagedJob {
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    JobBuilder::new()
        .input(
            "BuildArtifact",
            &[
                ("imageDetail.json", br#"{"ImageURI": "web:1"}"#),
                ("noise.bin", &noise),
            ],
        )
        .stage(aws)
        .await
}

async fn artifacts(aws: &LocalAws, event: &Value) -> Artifacts {
    let event: JobEvent = serde_json::from_value(event.clone()).expect("job event");
    Artifacts::for_job(&aws.sdk_config().await, &event.job)
        .with_download_retries(3, Duration::from_millis(50))
}

async fn get_objects(aws: &LocalAws) -> usize {
    aws.calls()
        .await
        .iter()
        .filter(|c| c.operation == "GetObject")
        .count()
}

#[tokio::test]
async fn a_download_cut_off_midway_is_tried_again() {
    let aws = LocalAws::start().await;
    let job = staged(&aws).await;
    aws.reset_calls().await;
    aws.fault(cut(1)).await;
    let zip = artifacts(&aws, &job.event)
        .await
        .read("BuildArtifact")
        .await
        .expect("read on the second attempt");
    assert_eq!(zip.json("imageDetail.json").unwrap()["ImageURI"], "web:1");
    assert_eq!(get_objects(&aws).await, 2);
}

#[tokio::test]
async fn a_download_cut_off_every_time_is_system_unavailable() {
    let aws = LocalAws::start().await;
    let job = staged(&aws).await;
    aws.reset_calls().await;
    aws.fault(cut(-1)).await;
    let e = artifacts(&aws, &job.event)
        .await
        .read("BuildArtifact")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ArtifactError::Interrupted { attempts: 3, .. }),
        "{e}"
    );
    assert_eq!(e.failure_type(), FailureType::SystemUnavailable);
    let text = e.to_string();
    assert!(
        text.starts_with("input artifact `BuildArtifact` could not be downloaded: the connection dropped on each of 3 attempts")
            && text.contains("retry the stage")
            && !text.contains("not a readable zip"),
        "{text}"
    );
    assert_eq!(get_objects(&aws).await, 3);

    // With little time left, no second attempt is started.
    aws.reset_calls().await;
    let e = artifacts(&aws, &job.event)
        .await
        .with_download_retries(3, Duration::from_millis(500))
        .with_deadline(Instant::now() + Duration::from_millis(300))
        .read("BuildArtifact")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ArtifactError::Interrupted { attempts: 1, .. }),
        "{e}"
    );
    assert_eq!(get_objects(&aws).await, 1);
}

#[tokio::test]
async fn a_missing_input_object_blames_the_upstream_action() {
    let aws = LocalAws::shared();
    let job = staged(aws).await;
    let mut event = job.event.clone();
    let location =
        &mut event["CodePipeline.job"]["data"]["inputArtifacts"][0]["location"]["s3Location"];
    location["objectKey"] = Value::from(format!("jobs/{}/in/never-written.zip", job.id));
    let e = artifacts(aws, &event)
        .await
        .read("BuildArtifact")
        .await
        .unwrap_err();
    assert!(matches!(e, ArtifactError::Missing { .. }), "{e}");
    assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    let text = e.to_string();
    assert!(
        text.starts_with("input artifact `BuildArtifact` (s3://")
            && text.contains("never-written.zip) does not exist")
            && text.contains("upstream action"),
        "{text}"
    );
}

//! What the end-to-end test files share: the one local AWS of the test binary and a run
//! of the real function binary under the Lambda Runtime API.
#![allow(dead_code)]

use std::time::Duration;

use testkit::{Function, JobReport, LocalAws, StagedJob};

pub const ECS: &str = "AmazonEC2ContainerServiceV20141113";
pub const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

pub fn aws() -> &'static LocalAws {
    LocalAws::shared()
}

/// Runs the job through the real binary: what CodePipeline recorded, and the logs.
pub async fn run_logged(job: &StagedJob) -> (JobReport, String) {
    let mut f = Function::start(env!("CARGO_BIN_EXE_render-taskdef"), aws()).await;
    let r = f.invoke(&job.event, Duration::from_secs(30)).await;
    assert!(r.is_response(), "{r:?}\n{}", f.logs());
    let report = aws().job(&job.id).await;
    (
        report.unwrap_or_else(|| panic!("no report\n{}", f.logs())),
        f.logs(),
    )
}

/// Runs the job through the real binary and returns what CodePipeline recorded.
pub async fn run(job: &StagedJob) -> JobReport {
    run_logged(job).await.0
}

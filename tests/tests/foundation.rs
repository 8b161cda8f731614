//! The job contract end to end: the real fixture binary, run through the Lambda Runtime
//! API against the local AWS, always ends in exactly one report.

use serde_json::json;
use std::time::{Duration, Instant};
use testkit::job::{SECRET_ACCESS_KEY, SESSION_TOKEN};
use testkit::{Fault, Function, Invocation, JobBuilder, JobReport, LocalAws, StagedJob, binary};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn fixture(aws: &LocalAws) -> Function {
    Function::start(binary("fixture-action"), aws).await
}

fn taskdef() -> &'static [u8] {
    br#"{"family": "web"}"#
}

/// The failure message CodePipeline recorded for the job, which must be of `kind`.
async fn failure(aws: &LocalAws, job_id: &str, kind: &str) -> String {
    aws.job(job_id)
        .await
        .expect("a report")
        .expect_failure(kind)
        .to_owned()
}

/// Invokes `f` on `job`, which must answer within TIMEOUT: the report CodePipeline recorded.
async fn report_of(f: &mut Function, aws: &LocalAws, job: &StagedJob) -> JobReport {
    let result = f.invoke(&job.event, TIMEOUT).await;
    assert!(result.is_response(), "{result:?}\n{}", f.logs());
    aws.job(&job.id).await.expect("a report")
}

/// Runs `job` on a new fixture: the report CodePipeline recorded.
async fn run_once(aws: &LocalAws, job: &StagedJob) -> JobReport {
    let mut f = fixture(aws).await;
    report_of(&mut f, aws, job).await
}

/// The calls of `operation` the local AWS received, retries included.
async fn attempts(aws: &LocalAws, operation: &str) -> Vec<testkit::Call> {
    let calls = aws.calls().await;
    calls
        .into_iter()
        .filter(|c| c.operation == operation)
        .collect()
}

/// A job with `params` as its UserParameters and no artifacts.
async fn job_with(aws: &LocalAws, params: &str) -> StagedJob {
    JobBuilder::new().user_parameters(params).stage(aws).await
}

/// A job that copies `taskdef.json` from its input artifact to its output artifact.
async fn copy_job(aws: &LocalAws) -> StagedJob {
    JobBuilder::new()
        .input("SourceArtifact", &[("taskdef.json", taskdef())])
        .output("Out")
        .user_parameters(r#"{"file": "taskdef.json"}"#)
        .stage(aws)
        .await
}

#[tokio::test]
async fn copies_an_artifact_and_reports_success_with_variables() {
    let aws = LocalAws::shared();
    let job = JobBuilder::new()
        .input("SourceArtifact", &[("deploy/taskdef.json", taskdef())])
        .output("Out")
        .user_parameters(r#"{"file": "taskdef.json"}"#)
        .stage(aws)
        .await;
    let report = run_once(aws, &job).await;
    let (summary, vars) = report.expect_success();
    assert!(
        summary.starts_with("copied taskdef.json (17 bytes)"),
        "{summary}"
    );
    assert_eq!(vars["Bytes"], "17");
    let files = job.read_output(aws, "Out").await;
    assert_eq!(files, vec![("taskdef.json".to_owned(), taskdef().to_vec())]);
}

#[tokio::test]
async fn output_artifacts_carry_sse_kms_with_the_jobs_key() {
    let aws = LocalAws::shared();
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let job = JobBuilder::new()
        .input("SourceArtifact", &[("taskdef.json", taskdef())])
        .output("Out")
        .encryption_key(key)
        .user_parameters(r#"{"file": "taskdef.json"}"#)
        .stage(aws)
        .await;
    run_once(aws, &job).await.expect_success();
    let head = job.output_head(aws, "Out").await;
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(head.ssekms_key_id(), Some(key));
}

#[tokio::test]
async fn output_artifacts_use_sse_kms_even_without_a_job_key() {
    let aws = LocalAws::shared();
    let job = copy_job(aws).await;
    run_once(aws, &job).await.expect_success();
    let head = job.output_head(aws, "Out").await;
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
}

#[tokio::test]
async fn a_panicking_action_is_reported_as_failed() {
    let aws = LocalAws::shared();
    let job = job_with(aws, r#"{"panic": true}"#).await;
    let mut f = fixture(aws).await;
    let report = report_of(&mut f, aws, &job).await;
    let message = report.expect_failure("JobFailed");
    assert!(
        message.contains("internal error") && message.contains("asked to panic"),
        "{message}"
    );
    // The function keeps serving after the panic.
    let next = JobBuilder::new().stage(aws).await;
    report_of(&mut f, aws, &next).await.expect_success();
}

#[tokio::test]
async fn an_action_that_overruns_reports_before_the_deadline() {
    let aws = LocalAws::shared();
    let job = job_with(aws, r#"{"sleepMs": 60000}"#).await;
    let mut f = fixture(aws).await;
    let started = Instant::now();
    let timeout = Duration::from_secs(6);
    let result = f.invoke(&job.event, timeout).await;
    assert!(result.is_response(), "{result:?}");
    assert!(started.elapsed() < timeout, "answered after the deadline");
    let message = failure(aws, &job.id, "JobFailed").await;
    assert!(message.contains("ran out of time"), "{message}");
}

#[tokio::test]
async fn a_slow_aws_call_is_cut_off_by_the_deadline() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::delay("s3", "GetObject", 20_000)).await;
    let job = copy_job(&aws).await;
    let mut f = fixture(&aws).await;
    let result = f.invoke(&job.event, Duration::from_secs(6)).await;
    assert!(result.is_response(), "{result:?}");
    let report = aws.job(&job.id).await.expect("a report");
    assert!(
        report
            .expect_failure("JobFailed")
            .contains("ran out of time")
    );
}

#[tokio::test]
async fn a_throttled_report_is_retried() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::throttle("codepipeline", "PutJobSuccessResult").times(2))
        .await;
    let job = JobBuilder::new().stage(&aws).await;
    run_once(&aws, &job).await.expect_success();
    let attempts: Vec<_> = attempts(&aws, "PutJobSuccessResult")
        .await
        .into_iter()
        .map(|c| (c.status, c.fault))
        .collect();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(attempts[2].0, 200);
}

#[tokio::test]
async fn a_report_whose_connection_is_reset_is_retried() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::reset("codepipeline", "PutJobFailureResult"))
        .await;
    let job = job_with(&aws, r#"{"nope": 1}"#).await;
    run_once(&aws, &job)
        .await
        .expect_failure("ConfigurationError");
    assert_eq!(attempts(&aws, "PutJobFailureResult").await.len(), 2);
}

#[tokio::test]
async fn a_report_that_keeps_failing_makes_the_invocation_fail_so_lambda_retries() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::error("codepipeline", "PutJobFailureResult").times(-1))
        .await;
    let job = job_with(&aws, r#"{"panic": true}"#).await;
    let mut f = fixture(&aws).await;
    let result = f.invoke(&job.event, TIMEOUT).await;
    assert!(matches!(result, Invocation::Error(_)), "{result:?}");
    assert!(aws.job(&job.id).await.is_none());
}

#[tokio::test]
async fn a_job_delivered_again_after_it_ended_ends_cleanly() {
    let aws = LocalAws::shared();
    let job = JobBuilder::new().stage(aws).await;
    let mut f = fixture(aws).await;
    assert!(f.invoke(&job.event, TIMEOUT).await.is_response());
    // The same job again: CodePipeline answers InvalidJobStateException.
    let again = f.invoke(&job.event, TIMEOUT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        again,
        Invocation::Response(json!({"jobId": job.id, "status": "AlreadyEnded"})),
        "{}",
        f.logs()
    );
    assert!(f.logs().contains("job already ended"), "{}", f.logs());
}

#[tokio::test]
async fn continuation_carries_typed_state_between_invocations() {
    let aws = LocalAws::shared();
    let first = job_with(aws, r#"{"continueTimes": 2}"#).await;
    let mut f = fixture(aws).await;
    let JobReport::Success {
        continuation_token: Some(token),
        percent_complete,
        summary,
        ..
    } = report_of(&mut f, aws, &first).await
    else {
        panic!("expected a continuation")
    };
    assert_eq!(percent_complete, Some(50));
    assert_eq!(summary, "waited 1 of 2");
    // CodePipeline invokes again, as a new job carrying the token.
    let second = JobBuilder::new()
        .user_parameters(r#"{"continueTimes": 2}"#)
        .continuation_token(&token)
        .stage(aws)
        .await;
    let JobReport::Success {
        continuation_token: Some(token),
        ..
    } = report_of(&mut f, aws, &second).await
    else {
        panic!("expected a second continuation")
    };
    let third = JobBuilder::new()
        .user_parameters(r#"{"continueTimes": 2}"#)
        .continuation_token(&token)
        .stage(aws)
        .await;
    report_of(&mut f, aws, &third).await.expect_success();
}

#[tokio::test]
async fn trace_logs_of_a_whole_job_hold_no_credentials() {
    let aws = LocalAws::shared();
    let job = copy_job(aws).await;
    for format in ["TEXT", "JSON"] {
        let mut f = Function::start_with_env(
            binary("fixture-action"),
            aws,
            &[
                ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
                ("AWS_LAMBDA_LOG_FORMAT", format),
            ],
        )
        .await;
        assert!(f.invoke(&job.event, TIMEOUT).await.is_response());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let logs = f.logs();
        assert!(
            logs.lines().count() > 20,
            "expected TRACE output, got:\n{logs}"
        );
        assert!(logs.contains(&job.id), "the job id is on the lines");
        assert!(
            !logs.contains(SECRET_ACCESS_KEY),
            "secret key leaked ({format})"
        );
        assert!(
            !logs.contains(SESSION_TOKEN),
            "session token leaked ({format})"
        );
        assert!(
            !logs.contains(&SESSION_TOKEN[..24]),
            "part of the session token leaked ({format})"
        );
        if format == "JSON" {
            let job_lines = logs.lines().filter(|l| l.contains("\"job_id\"")).count();
            assert!(job_lines > 0, "JSON lines carry the job id");
        }
    }
}

#[tokio::test]
async fn hostile_zips_are_refused_as_configuration_errors() {
    let aws = LocalAws::shared();
    let mut f = fixture(aws).await;
    let bomb = shared::artifacts::build_zip(&[("taskdef.json", &vec![0u8; 8 << 20])]).unwrap();
    let climb = shared::artifacts::build_zip(&[("../../taskdef.json", taskdef())]).unwrap();
    for (zip, expect) in [
        (bomb, "zip bomb"),
        (climb, "climbs out"),
        (b"not a zip".to_vec(), "not a readable zip"),
    ] {
        let job = JobBuilder::new()
            .input_zip("SourceArtifact", zip)
            .output("Out")
            .user_parameters(r#"{"file": "taskdef.json"}"#)
            .stage(aws)
            .await;
        let report = report_of(&mut f, aws, &job).await;
        let message = report.expect_failure("ConfigurationError");
        assert!(
            message.contains(expect) && message.contains("SourceArtifact"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn bad_input_ends_in_a_failure_that_names_the_problem() {
    let aws = LocalAws::shared();
    let mut f = fixture(aws).await;
    let cases = [
        (r#"{"fle": "taskdef.json"}"#, "unknown key `fle`"),
        ("not json", "not a JSON object"),
        (r#"{"file": "missing.json"}"#, "has no file `missing.json`"),
    ];
    for (params, expect) in cases {
        let job = JobBuilder::new()
            .input("SourceArtifact", &[("taskdef.json", taskdef())])
            .output("Out")
            .user_parameters(params)
            .stage(aws)
            .await;
        let report = report_of(&mut f, aws, &job).await;
        let message = report.expect_failure("ConfigurationError");
        assert!(message.contains(expect), "{params}: {message}");
    }
    let long = format!(r#"{{"file": "{}"}}"#, "a".repeat(1200));
    let job = job_with(aws, &long).await;
    let report = report_of(&mut f, aws, &job).await;
    let message = report.expect_failure("ConfigurationError");
    assert!(message.contains("at most 1000"), "{message}");
}

#[tokio::test]
async fn a_malformed_event_with_a_job_id_is_still_failed() {
    let aws = LocalAws::shared();
    let id = testkit::job::job_id();
    let mut f = fixture(aws).await;
    let event = json!({"CodePipeline.job": {"id": id, "data": {"inputArtifacts": "nope"}}});
    assert!(f.invoke(&event, TIMEOUT).await.is_response());
    let message = failure(aws, &id, "ConfigurationError").await;
    assert!(message.contains("could not be read"), "{message}");
}

#[tokio::test]
async fn the_local_aws_leaves_no_process_behind() {
    let aws = LocalAws::start().await;
    let pid = aws.pid().expect("running");
    drop(aws);
    let gone = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_or(true, |s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
    };
    for _ in 0..50 {
        if gone(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the local AWS (pid {pid}) is still running after drop");
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_system_unavailable() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::throttle("s3", "GetObject").times(-1))
        .await;
    let job = copy_job(&aws).await;
    let report = run_once(&aws, &job).await;
    let message = report.expect_failure("SystemUnavailable");
    assert!(
        message.contains("s3:GetObject") && message.contains("SlowDown"),
        "{message}"
    );
    let attempts = attempts(&aws, "GetObject").await.len();
    assert!(attempts >= 3, "the SDK retried ({attempts} attempts)");
}

#[tokio::test]
async fn access_denied_is_a_permission_error_that_names_the_iam_action() {
    let aws = LocalAws::start().await;
    let job = copy_job(&aws).await;
    aws.fault(Fault::deny("s3", "PutObject")).await;
    let report = run_once(&aws, &job).await;
    let message = report.expect_failure("PermissionError");
    assert!(
        message.contains("artifact `Out`")
            && message.contains("s3:PutObject")
            && message.contains("artifact credentials"),
        "{message}"
    );
}

#[tokio::test]
async fn lambdas_default_three_second_timeout_still_runs_the_action() {
    let aws = LocalAws::shared();
    let job = copy_job(aws).await;
    let mut f = fixture(aws).await;
    assert!(
        f.invoke(&job.event, Duration::from_secs(3))
            .await
            .is_response()
    );
    aws.job(&job.id).await.expect("a report").expect_success();
}

#[tokio::test]
async fn a_result_codepipeline_refuses_becomes_a_failure_report() {
    let aws = LocalAws::shared();
    let job = JobBuilder::new().stage(aws).await;
    aws.stub_error(
        "codepipeline",
        "PutJobSuccessResult",
        json!({"jobId": job.id}),
        "ValidationException",
        "1 validation error detected: Value at 'executionDetails.summary' failed to satisfy constraint",
    )
    .await;
    let report = run_once(aws, &job).await;
    let message = report.expect_failure("JobFailed");
    assert!(
        message.contains("refused its result report") && message.contains("ValidationException"),
        "{message}"
    );
}

#[tokio::test]
async fn a_report_that_cannot_finish_before_the_deadline_errors_in_time() {
    let aws = LocalAws::start().await;
    aws.fault(Fault::delay("codepipeline", "PutJobSuccessResult", 10_000).times(-1))
        .await;
    let job = JobBuilder::new().stage(&aws).await;
    let mut f = fixture(&aws).await;
    let started = Instant::now();
    let timeout = Duration::from_secs(4);
    let result = f.invoke(&job.event, timeout).await;
    assert!(matches!(result, Invocation::Error(_)), "{result:?}");
    assert!(started.elapsed() < timeout, "answered after the deadline");
}

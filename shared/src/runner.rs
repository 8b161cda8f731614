//! Runs an action for one job and reports exactly one result to CodePipeline, whatever
//! happens: success, continuation, typed failure, bad input, panic, or a deadline coming.

use crate::action::{Action, JobContext};
use crate::artifacts::Artifacts;
use crate::error::{AwsError, Failure, FailureType, aws_error};
use crate::job::{JobEvent, job_id_of};
use crate::logging;
use crate::params::parse_params;
use crate::report::{Report, decode_token};
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::{Instrument, error, info, warn};

/// Time kept back from the Lambda deadline to report a failure, by default.
pub const DEFAULT_REPORT_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(
        "the event is not a CodePipeline job (no CodePipeline.job.id); this function is meant to be invoked by a CodePipeline Lambda action"
    )]
    NotAJob,
    #[error("could not report the job result to CodePipeline: {0}")]
    Report(String),
}

/// What became of a report.
enum Delivery {
    /// CodePipeline took the report with this status.
    Accepted(&'static str),
    /// CodePipeline had already closed the job (a repeated delivery).
    AlreadyEnded,
    /// CodePipeline does not know the job (another region or account).
    JobNotFound,
}

pub struct Runner<A: Action> {
    action: Arc<A>,
    sdk: SdkConfig,
    codepipeline: aws_sdk_codepipeline::Client,
    margin: Duration,
}

impl<A: Action> Runner<A> {
    pub fn new(action: A, sdk: &SdkConfig) -> Self {
        let config = aws_sdk_codepipeline::config::Builder::from(sdk)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(5)
                    .with_initial_backoff(Duration::from_millis(100)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .build(),
            )
            .build();
        let margin = std::env::var("REPORT_MARGIN_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(DEFAULT_REPORT_MARGIN, Duration::from_millis);
        Self {
            action: Arc::new(action),
            sdk: sdk.clone(),
            codepipeline: aws_sdk_codepipeline::Client::from_conf(config),
            margin,
        }
    }

    /// Keeps `margin` back from the Lambda deadline for the report.
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The Lambda handler. Returns an error only when the result could not be reported
    /// (so that Lambda invokes again) or when the event is not a job at all.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        let (payload, context) = event.into_parts();
        logging::register_job_secrets(&payload);
        let Some(job_id) = job_id_of(&payload).map(str::to_owned) else {
            error!(action = A::NAME, "{}", RunnerError::NotAJob);
            return Err(RunnerError::NotAJob.into());
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = time_left(context.deadline, now_ms);
        let start = Instant::now();
        let times = Times {
            action: start + action_budget(left, self.margin),
            // Lambda ends the invocation at the deadline: the report must be done before.
            report: start + left.saturating_sub(REPORT_SLACK),
        };
        let span = tracing::info_span!("job", job_id = %job_id, action = A::NAME);
        tracing::debug!(
            parent: &span,
            deadline_ms = context.deadline,
            budget_ms = times.action.saturating_duration_since(start).as_millis() as u64,
            "invoked"
        );
        async move {
            let report = self.decide(payload, &times).await;
            let delivery = tokio::time::timeout_at(times.report, self.send(&job_id, &report))
                .await
                .map_err(|_| {
                    error!("no time left to report before the Lambda deadline");
                    RunnerError::Report(
                        "no time left before the Lambda deadline; Lambda will invoke again"
                            .to_owned(),
                    )
                })??;
            let status = match delivery {
                Delivery::Accepted(label) => label,
                Delivery::AlreadyEnded => "AlreadyEnded",
                Delivery::JobNotFound => "JobNotFound",
            };
            Ok(json!({ "jobId": job_id, "status": status }))
        }
        .instrument(span)
        .await
    }

    async fn decide(&self, payload: Value, times: &Times) -> Report {
        let deadline = times.action;
        let job = match serde_json::from_value::<JobEvent>(payload) {
            Ok(event) => event.job,
            Err(e) => {
                return Report::failure(
                    FailureType::ConfigurationError,
                    format!(
                        "the job event could not be read ({e}); this function expects the event CodePipeline sends to a Lambda invoke action"
                    ),
                );
            }
        };
        let config = match parse_params::<A::Config>(job.user_parameters()) {
            Ok(c) => c,
            Err(e) => return Report::failure(e.failure_type(), e.to_string()),
        };
        let state = match job.data.continuation_token.as_deref() {
            None => None,
            Some(token) => match decode_token(token, A::STATE_VERSION) {
                Ok(s) => Some(s),
                Err(e) => return Report::failure(FailureType::JobFailed, e.to_string()),
            },
        };
        if Instant::now() >= deadline {
            return Report::failure(
                FailureType::JobFailed,
                format!(
                    "{} was invoked with no time left before its Lambda timeout; raise the function's timeout",
                    A::NAME
                ),
            );
        }
        let artifacts = Artifacts::for_job(&self.sdk, &job);
        let ctx = JobContext {
            job,
            config,
            state,
            artifacts,
            deadline,
        };
        let started = Instant::now();
        let task = tokio::spawn(self.action.clone().run(ctx).in_current_span());
        let abort = task.abort_handle();
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(outcome))) => Report::from_outcome(outcome, A::STATE_VERSION),
            Ok(Ok(Err(e))) => Report::failure(e.failure_type(), e.to_string()),
            Ok(Err(join)) => {
                let why = if join.is_panic() {
                    panic_message(join.into_panic())
                } else {
                    "the task was cancelled".to_owned()
                };
                error!(panic = %why, "action panicked");
                Report::failure(
                    FailureType::JobFailed,
                    format!(
                        "{} stopped on an internal error ({why}). This is a bug in the action; retry the stage, and report it if it happens again",
                        A::NAME
                    ),
                )
            }
            Err(_) => {
                abort.abort();
                warn!("deadline reached, reporting failure");
                Report::failure(
                    FailureType::JobFailed,
                    format!(
                        "{} ran out of time after {:.1}s, {:.1}s before its Lambda timeout (kept to report this). An AWS call was slow or unreachable; retry the stage, or raise the function's timeout",
                        A::NAME,
                        started.elapsed().as_secs_f64(),
                        times
                            .report
                            .saturating_duration_since(deadline)
                            .as_secs_f64()
                            + REPORT_SLACK.as_secs_f64()
                    ),
                )
            }
        }
    }

    /// Sends the report. A success that CodePipeline refuses for its content (a limit it
    /// counts differently) is replaced by a failure report, so the job still ends.
    async fn send(&self, job_id: &str, report: &Report) -> Result<Delivery, RunnerError> {
        let mut sent = self.put(job_id, report).await;
        let mut label = report.label();
        if let (Err(e), Report::Success { .. } | Report::Continue { .. }) = (&sent, report)
            && refused_content(e)
        {
            error!(error = %e, "CodePipeline refused the result; reporting a failure instead");
            let fallback = Report::failure(
                FailureType::JobFailed,
                format!(
                    "{} finished, but CodePipeline refused its result report: {e}. This is a bug in the action; please report it",
                    A::NAME
                ),
            );
            label = fallback.label();
            sent = self.put(job_id, &fallback).await;
        }
        match sent {
            Ok(()) => {
                info!(status = label, "reported");
                Ok(Delivery::Accepted(label))
            }
            // The job already ended (a repeated delivery, or a report that got through
            // before a retry): there is nothing left to do.
            Err(e) if e.code() == Some("InvalidJobStateException") => {
                info!(reason = %e, "job already ended; nothing to report");
                Ok(Delivery::AlreadyEnded)
            }
            // Retrying cannot help: the job is in another account or region, or made up.
            Err(e) if e.code() == Some("JobNotFoundException") => {
                error!(error = %e, "CodePipeline does not know this job; check the function's region and account");
                Ok(Delivery::JobNotFound)
            }
            Err(e) => {
                error!(error = %e, "report failed after retries");
                Err(RunnerError::Report(e.to_string()))
            }
        }
    }

    async fn put(&self, job_id: &str, report: &Report) -> Result<(), AwsError> {
        match report {
            Report::Success {
                summary,
                external_execution_id,
                output_variables,
            } => {
                info!(%summary, "succeeded");
                let details = ExecutionDetails::builder()
                    .summary(summary)
                    .set_external_execution_id(external_execution_id.clone())
                    .build();
                let vars = (!output_variables.is_empty())
                    .then(|| output_variables.iter().cloned().collect());
                self.codepipeline
                    .put_job_success_result()
                    .job_id(job_id)
                    .execution_details(details)
                    .set_output_variables(vars)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error("codepipeline:PutJobSuccessResult", e))
            }
            Report::Continue {
                summary,
                continuation_token,
                percent_complete,
            } => {
                info!(%summary, "continuing");
                let details = ExecutionDetails::builder()
                    .summary(summary)
                    .set_percent_complete(*percent_complete)
                    .build();
                self.codepipeline
                    .put_job_success_result()
                    .job_id(job_id)
                    .execution_details(details)
                    .continuation_token(continuation_token)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error("codepipeline:PutJobSuccessResult", e))
            }
            Report::Failure { kind, message } => {
                info!(failure_type = %kind, %message, "failed");
                let details = FailureDetails::builder()
                    .r#type(kind.as_str().into())
                    .message(message)
                    .build()
                    .map_err(|e| {
                        AwsError::local("codepipeline:PutJobFailureResult", e.to_string())
                    })?;
                self.codepipeline
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(details)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error("codepipeline:PutJobFailureResult", e))
            }
        }
    }
}

/// Whether CodePipeline refused a report for what it holds (not for the job's state,
/// throttling, an outage or permissions).
fn refused_content(e: &AwsError) -> bool {
    e.kind() == FailureType::JobFailed
        && !matches!(
            e.code(),
            Some("InvalidJobStateException" | "JobNotFoundException")
        )
}

/// Deadlines for one invocation.
struct Times {
    /// When the action must have returned.
    action: Instant,
    /// When the report must have been sent.
    report: Instant,
}

/// Kept before the Lambda deadline for returning the invocation's own answer.
const REPORT_SLACK: Duration = Duration::from_millis(150);

/// Time left before the deadline header's moment. Lambda sends epoch milliseconds; some
/// local runtimes (`cargo lambda watch`) send the timeout itself, which no real deadline can
/// be (it would lie before 2001), so a small value is read as a duration.
pub fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    match deadline_ms {
        0 => Duration::from_secs(15 * 60),
        d if d < YEAR_2001_MS => Duration::from_millis(d),
        d => Duration::from_millis(d.saturating_sub(now_ms)),
    }
}

/// How much of the time left the action gets: all but the report margin, and the margin is
/// at most a quarter of the time left, so that short timeouts (Lambda's default is 3 s)
/// still leave the action most of it.
pub fn action_budget(remaining: Duration, margin: Duration) -> Duration {
    remaining.saturating_sub(margin.min(remaining / 4))
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_epoch_milliseconds_or_a_local_runtimes_timeout() {
        let now = 1_795_370_667_726;
        assert_eq!(time_left(now + 30_000, now), Duration::from_secs(30));
        assert_eq!(time_left(now - 5, now), Duration::ZERO);
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
        assert_eq!(time_left(0, now), Duration::from_secs(900));
    }

    #[test]
    fn the_margin_is_kept_but_never_eats_a_short_timeout() {
        let ms = Duration::from_millis;
        assert_eq!(action_budget(ms(120_000), ms(3000)), ms(117_000));
        assert_eq!(action_budget(ms(12_000), ms(3000)), ms(9000));
        assert_eq!(action_budget(ms(3000), ms(3000)), ms(2250));
        assert_eq!(action_budget(ms(400), ms(3000)), ms(300));
        assert_eq!(action_budget(ms(0), ms(3000)), ms(0));
    }
}

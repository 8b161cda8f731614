//! A CodePipeline job: runs the action and reports exactly one result to CodePipeline,
//! whatever happens: success, continuation, typed failure, bad input, panic, or the
//! deadline coming.

use super::deadline::{ANSWER_SLACK, Times};
use super::guard::{Ended, guarded, panic_text, timeout_text};
use super::{Serve, answer_error, reporting_retries};
use crate::action::{Action, JobContext};
use crate::artifacts::Artifacts;
use crate::aws::Lazy;
use crate::error::{AwsError, Failure, FailureType, aws_error};
use crate::job::{JobEvent, job_id_of};
use crate::params::parse_params;
use crate::report::{Report, decode_token};
use aws_config::SdkConfig;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails};
use futures::future::BoxFuture;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::time::Instant;
use tracing::{Instrument, error, info};

/// What became of a report.
enum Delivery {
    /// CodePipeline took the report with this status.
    Accepted(&'static str),
    /// CodePipeline had already closed the job (a repeated delivery).
    AlreadyEnded,
    /// CodePipeline does not know the job (another region or account).
    JobNotFound,
}

pub(crate) struct JobRunner<A: Action> {
    action: Arc<A>,
    sdk: SdkConfig,
    codepipeline: Lazy<aws_sdk_codepipeline::Client>,
}

impl<A: Action> JobRunner<A> {
    pub(crate) fn new(action: Arc<A>, sdk: &SdkConfig) -> Self {
        let (retry, timeout) = reporting_retries();
        let config = aws_sdk_codepipeline::config::Builder::from(sdk)
            .retry_config(retry)
            .timeout_config(timeout)
            .build();
        Self {
            action,
            sdk: sdk.clone(),
            codepipeline: Lazy::with(move || {
                aws_sdk_codepipeline::Client::from_conf(config.clone())
            }),
        }
    }
}

impl<A: Action> Serve for JobRunner<A> {
    fn serve(&self, payload: Value, times: Times) -> BoxFuture<'_, Result<Value, Diagnostic>> {
        Box::pin(self.run(payload, times))
    }
}

impl<A: Action> JobRunner<A> {
    async fn run(&self, payload: Value, times: Times) -> Result<Value, Diagnostic> {
        let Some(job_id) = job_id_of(&payload).map(str::to_owned) else {
            return Err(answer_error(
                crate::error_type::INVALID_EVENT,
                "the CodePipeline job has no id (CodePipeline.job.id); this function expects the event CodePipeline sends to a Lambda invoke action",
            ));
        };
        let span = tracing::info_span!("job", job_id = %job_id, action = A::NAME);
        async move {
            let report = self.decide(payload, &times).await;
            let delivery = tokio::time::timeout_at(times.report, self.send(&job_id, &report))
                .await
                .map_err(|_| {
                    error!("no time left to report before the Lambda deadline");
                    answer_error(
                        "ReportFailed",
                        "could not report the job result to CodePipeline: no time left before the Lambda deadline; Lambda will invoke again",
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
        let artifacts = Artifacts::for_job(&self.sdk, &job).with_deadline(deadline);
        let ctx = JobContext {
            job,
            config,
            state,
            artifacts,
            deadline,
        };
        match guarded(self.action.clone().run(ctx), deadline).await {
            Ended::Done(Ok(outcome)) => Report::from_outcome(outcome, A::STATE_VERSION),
            Ended::Done(Err(e)) => {
                info!(error_type = e.error_type(), "action failed");
                Report::failure(e.failure_type(), e.to_string())
            }
            Ended::Panicked(why) => {
                Report::failure(FailureType::JobFailed, panic_text(A::NAME, &why))
            }
            Ended::TimedOut(ran) => Report::failure(
                FailureType::JobFailed,
                timeout_text(
                    A::NAME,
                    ran,
                    times.report.saturating_duration_since(deadline) + ANSWER_SLACK,
                ),
            ),
        }
    }

    /// Sends the report. A success that CodePipeline refuses for its content (a limit it
    /// counts differently) is replaced by a failure report, so the job still ends.
    async fn send(&self, job_id: &str, report: &Report) -> Result<Delivery, Diagnostic> {
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
                Err(answer_error(
                    "ReportFailed",
                    format!("could not report the job result to CodePipeline: {e}"),
                ))
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

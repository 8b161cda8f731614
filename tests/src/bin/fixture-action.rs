//! A small function used by the foundation's end-to-end tests: it takes every trigger and
//! exercises the runner, artifact I/O and continuation through the real Lambda Runtime API.
//!
//! CodePipeline job, UserParameters: `{"file": "<path in the first input>", "sleepMs": 0,
//! "panic": false, "continueTimes": 0}`; it copies `file` into the first output artifact.
//!
//! The other triggers behave as their event says, `ok`, `fail`, `error`, `retryable`,
//! `panic`, `sleep` or `progress`: a CodeDeploy hook by the word after `d-` in its
//! `DeploymentId`, an ECS hook by `hookDetails.behave`, any other event by `behave`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::artifacts::ArtifactError;
use shared::{
    Action, CodeDeployHook, CodeDeployHookEvent, EcsHook, EcsHookAnswer, EcsHookEvent,
    EventHandler, Failure, FailureType, HookContext, HookVerdict, JobContext, Outcome, Success,
    Triggers,
};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    file: Option<String>,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    panic: bool,
    #[serde(default)]
    continue_times: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Waited {
    times: u32,
}

struct Fixture;

impl Action for Fixture {
    type Config = Config;
    type State = Waited;
    type Error = ArtifactError;
    const NAME: &'static str = "fixture-action";

    async fn run(
        self: Arc<Self>,
        ctx: JobContext<Config, Waited>,
    ) -> Result<Outcome<Waited>, ArtifactError> {
        tracing::debug!(job = ?ctx.job, "job received");
        if ctx.config.panic {
            panic!("asked to panic");
        }
        tokio::time::sleep(Duration::from_millis(ctx.config.sleep_ms)).await;
        let times = ctx.state.map_or(0, |s| s.times);
        if times < ctx.config.continue_times {
            return Ok(Outcome::Continue {
                state: Waited { times: times + 1 },
                summary: format!("waited {} of {}", times + 1, ctx.config.continue_times),
                percent_complete: Some((100 * (times + 1) / ctx.config.continue_times) as u8),
            });
        }
        let mut success = Success::new("nothing to copy");
        if let Some(file) = &ctx.config.file {
            let input = ctx
                .artifacts
                .input_names()
                .first()
                .map(|s| s.to_string())
                .unwrap_or_default();
            let zip = ctx.artifacts.read(&input).await?;
            let bytes = zip.file(file)?;
            let output = ctx
                .artifacts
                .output_names()
                .first()
                .map(|s| s.to_string())
                .unwrap_or_default();
            ctx.artifacts
                .write(&output, &[(file.as_str(), &bytes)])
                .await?;
            success = Success::new(format!(
                "copied {file} ({} bytes) from {input} to {output}",
                bytes.len()
            ))
            .variable("Bytes", bytes.len().to_string());
        }
        Ok(Outcome::Success(success.external_id(ctx.job.id.clone())))
    }
}

/// The error the fixture was asked for.
#[derive(Debug, thiserror::Error)]
#[error("asked to fail with a {0} error")]
struct Asked(FailureType);

impl Failure for Asked {
    fn failure_type(&self) -> FailureType {
        self.0
    }

    fn error_type(&self) -> &'static str {
        "Asked"
    }
}

/// Does what `behave` says: `Ok(false)` for `fail` (a verdict, not an error).
async fn behave(behave: &str, deadline_left: Duration) -> Result<bool, Asked> {
    match behave {
        "panic" => panic!("asked to panic"),
        "error" => Err(Asked(FailureType::ConfigurationError)),
        "retryable" => Err(Asked(FailureType::SystemUnavailable)),
        "sleep" => {
            tokio::time::sleep(deadline_left + Duration::from_secs(60)).await;
            Ok(true)
        }
        "fail" => Ok(false),
        _ => Ok(true),
    }
}

impl CodeDeployHook for Fixture {
    type Error = Asked;
    const NAME: &'static str = "fixture-action";

    async fn check(
        self: Arc<Self>,
        ctx: HookContext<CodeDeployHookEvent>,
    ) -> Result<HookVerdict, Asked> {
        let word = ctx.event.deployment_id.trim_start_matches("d-");
        let word = word.split('-').next().unwrap_or_default().to_owned();
        Ok(if behave(&word, ctx.remaining()).await? {
            HookVerdict::Succeeded {
                reason: "checked".into(),
            }
        } else {
            HookVerdict::Failed {
                reason: "asked to fail".into(),
            }
        })
    }
}

impl EcsHook for Fixture {
    type Error = Asked;
    const NAME: &'static str = "fixture-action";

    async fn check(
        self: Arc<Self>,
        ctx: HookContext<EcsHookEvent>,
    ) -> Result<EcsHookAnswer, Asked> {
        let details = ctx.event.hook_details.clone().unwrap_or(Value::Null);
        let word = details["behave"].as_str().unwrap_or("ok").to_owned();
        if word == "progress" {
            let polls = details["polls"].as_u64().unwrap_or(0);
            return Ok(if polls < 2 {
                EcsHookAnswer::InProgress {
                    callback_delay_s: 5,
                    details: json!({"behave": "progress", "polls": polls + 1}),
                }
            } else {
                EcsHookAnswer::Succeeded {
                    details: json!({"polls": polls}),
                }
            });
        }
        let stage = json!({"stage": ctx.event.lifecycle_stage});
        Ok(if behave(&word, ctx.remaining()).await? {
            EcsHookAnswer::Succeeded { details: stage }
        } else {
            EcsHookAnswer::Failed { details: stage }
        })
    }
}

impl EventHandler for Fixture {
    type Error = Asked;
    const NAME: &'static str = "fixture-action";

    async fn handle(self: Arc<Self>, ctx: HookContext<Value>) -> Result<Value, Asked> {
        let word = ctx.event["behave"].as_str().unwrap_or("ok").to_owned();
        let acted = behave(&word, ctx.remaining()).await?;
        Ok(json!({"status": if acted { "Handled" } else { "Ignored" }}))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::serve(|_| {
        let f = Arc::new(Fixture);
        Triggers::new()
            .job_arc(f.clone())
            .codedeploy_hook_arc(f.clone())
            .ecs_hook_arc(f.clone())
            .event_arc(f)
    })
    .await
}

//! The CodePipeline invoke action: one pass per invocation; between passes the state
//! rides in the continuation token, so a 30-minute bake costs a few short invocations.
//! With `codeDeploy.stopOnFailure`, a failed gate stops the watched CodeDeploy
//! deployment with rollback.

use super::{GateState, HealthGate, NAME, now_ms, pass};
use crate::checks::{Clients, Vantage, codedeploy};
use crate::config::{Config, Entry};
use crate::decide::{Verdict, due_in, human_ms};
use crate::error::GateError;
use crate::summary::{checks_variable, failed_checks};
use shared::{Action, JobContext, Outcome, Success};
use std::sync::Arc;

impl Action for HealthGate {
    type Config = Config;
    type State = GateState;
    type Error = GateError;
    const NAME: &'static str = NAME;
    const STATE_VERSION: u32 = 1;

    async fn run(
        self: Arc<Self>,
        ctx: JobContext<Config, GateState>,
    ) -> Result<Outcome<GateState>, GateError> {
        let config = ctx.config;
        let account = config.check(Entry::Pipeline)?;
        let timing = config.timing();
        let now = now_ms();
        let state = ctx.state.unwrap_or_else(|| GateState::start(now));
        let percent = |s: &GateState| {
            let elapsed = now.saturating_sub(s.progress.started_ms);
            Some((elapsed * 100 / timing.timeout_ms.max(1)).min(99) as u8)
        };
        if let Some(wait) = due_in(&timing, &state.progress, now) {
            return Ok(Outcome::Continue {
                summary: if state.progress.passes == 0 {
                    format!("waiting: first pass in {} (initialDelay)", human_ms(wait))
                } else {
                    format!(
                        "waiting: pass {} in {} (interval)",
                        state.progress.passes + 1,
                        human_ms(wait)
                    )
                },
                percent_complete: percent(&state),
                state,
            });
        }
        // The role is assumed afresh on each invocation (its credentials never ride in the
        // token), so a bake longer than the credentials' lifetime works.
        let session = shared::aws::session_name(NAME, &ctx.job.id);
        let sdk = self
            .factory
            .for_invocation()
            .at(&account, &session)
            .await
            .map_err(GateError::Assume)?;
        let clients = Clients::new(&sdk);
        let (verdict, state, measured, text) =
            pass(&clients, &config, state, Vantage::Outside, None).await;
        let deployment_id = state
            .watched
            .codedeploy
            .clone()
            .or_else(|| state.watched.ecs_deployment.clone())
            .unwrap_or_default();
        match verdict {
            Verdict::Passed => {
                let mut success = Success::new(text)
                    .variable("Verdict", "passed")
                    .variable("Checks", checks_variable(&measured.readings))
                    .variable("FailedChecks", failed_checks(&measured.readings));
                if !deployment_id.is_empty() {
                    success = success
                        .variable("DeploymentId", deployment_id.clone())
                        .external_id(deployment_id);
                }
                Ok(Outcome::Success(success))
            }
            Verdict::Wait { .. } => Ok(Outcome::Continue {
                summary: text,
                percent_complete: percent(&state),
                state,
            }),
            Verdict::Failed { .. } | Verdict::Inconclusive { .. } => {
                let mut text = text;
                let stop = config
                    .code_deploy
                    .as_ref()
                    .is_some_and(|c| c.stop_on_failure && !c.dry_run);
                if let (true, Some(d)) = (stop, &measured.codedeploy)
                    && codedeploy::running(&d.status)
                {
                    let note = match codedeploy::stop(&clients.codedeploy, &d.id).await {
                        Ok(note) => note,
                        Err(e) => format!("could not stop deployment {}: {e}", d.id),
                    };
                    tracing::info!(deployment_id = %d.id, %note, "stop");
                    text = format!("{text}; {note}");
                }
                Err(if matches!(verdict, Verdict::Failed { .. }) {
                    GateError::Failed { summary: text }
                } else {
                    GateError::Inconclusive { summary: text }
                })
            }
        }
    }
}

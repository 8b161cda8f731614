//! An ECS pause hook: a deployment waits at a stage until someone answers it. Invoked by
//! EventBridge's `ECS Hook State Change` event (`HOOK_AWAITING_ACTION`), and by a
//! schedule (`{"ecsPauseHooks": {"cluster", "service"}}`, EventBridge Scheduler, every
//! minute) for the passes after the first: each invocation measures once and answers
//! `ContinueServiceDeployment` with `CONTINUE` or `ROLLBACK`, or waits for the next
//! one; nothing sleeps. An answer is given once: only to a hook in `AWAITING_ACTION` of
//! a deployment `IN_PROGRESS`, and a refusal because another invocation (or ECS) got
//! there first is reported, not retried. The hook's `timeoutConfiguration` is the
//! backstop when no invocation comes.
//!
//! Configuration: `HEALTH_GATE_CONFIG`, as for the other hooks; with `ecs`, the
//! deployment is the paused one.

use super::{HealthGate, NAME, now_ms};
use crate::checks::{Vantage, Watched, measure};
use crate::config::{self, Config, Entry};
use crate::decide::pause::{PauseVerdict, decide_pause};
use crate::error::GateError;
use crate::summary::checks_variable;
use serde_json::{Map, Value, json};
use shared::ecs::pause::{self, Answered, Paused};
use shared::{EcsPauseRequest, EventHandler, HookContext};
use std::sync::Arc;

impl EventHandler for HealthGate {
    type Error = GateError;
    const NAME: &'static str = NAME;

    async fn handle(self: Arc<Self>, ctx: HookContext<Value>) -> Result<Value, GateError> {
        let request = EcsPauseRequest::parse(&ctx.event)
            .map_err(|problem| GateError::config("event", problem))?;
        // The configuration first: a wrong one is answered before any AWS call.
        let config = Config::merged(config::from_env()?.as_ref(), &Map::new())?;
        config.check(Entry::EcsHook)?;
        let (arns, only) = match request {
            EcsPauseRequest::Other(what) => {
                return Ok(
                    json!({"decisions": [], "ignored": format!("{what}: nothing to answer")}),
                );
            }
            EcsPauseRequest::Awaiting {
                deployment_arn,
                hook_id,
                ..
            } => (vec![deployment_arn], Some(hook_id)),
            EcsPauseRequest::Scheduled { cluster, service } => {
                let found =
                    shared::ecs::service_deployments(&self.clients.ecs, &cluster, &service).await?;
                let arns = found
                    .iter()
                    .filter(|d| d.status().is_some_and(|s| s.as_str() == "IN_PROGRESS"))
                    .filter_map(|d| d.service_deployment_arn().map(str::to_owned))
                    .collect();
                (arns, None)
            }
        };
        let mut decisions = Vec::new();
        for arn in arns {
            let Some(paused) = pause::read(&self.clients.ecs, &arn).await? else {
                decisions.push(json!({"deployment": arn, "outcome": "nothing",
                                      "reason": "ECS does not know this service deployment"}));
                continue;
            };
            // The event's hook, answered or not; on a schedule, the hooks still waiting.
            let hooks: Vec<_> = paused
                .hooks
                .iter()
                .filter(|h| match only.as_deref() {
                    Some(id) => id == h.id,
                    None => paused.awaiting(h),
                })
                .collect();
            if hooks.is_empty() && only.is_some() {
                decisions.push(
                    json!({"deployment": arn, "hookId": only, "outcome": "nothing",
                                      "reason": "the deployment has no such pause hook"}),
                );
            }
            for hook in hooks {
                decisions.push(self.decide(&config, &paused, hook).await?);
            }
        }
        Ok(json!({ "decisions": decisions }))
    }
}

impl HealthGate {
    /// One pass for one hook, and its answer.
    async fn decide(
        &self,
        config: &Config,
        paused: &Paused,
        hook: &pause::PauseHook,
    ) -> Result<Value, GateError> {
        let mut decision = json!({"deployment": paused.deployment_arn, "hookId": hook.id,
                                  "step": paused.step()});
        if !paused.awaiting(hook) {
            decision["outcome"] = json!("nothing");
            decision["reason"] = json!(format!(
                "the hook is {} and the deployment {}: it was answered, or the deployment moved on",
                hook.status, paused.status
            ));
            return Ok(decision);
        }
        let mut config = config.clone();
        if let Some(ecs) = config.ecs.as_mut() {
            ecs.deployment_arn = Some(paused.deployment_arn.clone());
        }
        let now = now_ms();
        let since = hook.since_ms.unwrap_or(now).min(now);
        let vantage = Vantage::Hook {
            revision: paused.target_revision.as_deref(),
            codedeploy: None,
        };
        let pass = measure(&self.clients, &config, &Watched::default(), vantage, now).await;
        let verdict = decide_pause(&config.timing(), &pass.readings, since, now);
        let checks = checks_variable(&pass.readings);
        tracing::info!(hook = %hook.id, step = %paused.step(), verdict = verdict.word(), checks = %checks,
                       reason = verdict.reason(), "pause decision");
        decision["verdict"] = json!(verdict.word());
        decision["checks"] = json!(checks);
        decision["reason"] = json!(verdict.reason());
        let rollback = match &verdict {
            PauseVerdict::Wait(_) => {
                decision["outcome"] = json!("waiting");
                return Ok(decision);
            }
            PauseVerdict::Continue(_) => false,
            PauseVerdict::Rollback(_) => true,
        };
        let action = if rollback { "ROLLBACK" } else { "CONTINUE" };
        match pause::answer(
            &self.clients.ecs,
            &paused.deployment_arn,
            &hook.id,
            rollback,
        )
        .await?
        {
            Answered::Sent => {
                decision["outcome"] = json!("acted");
                decision["action"] = json!(format!("answered {action}"));
            }
            Answered::Already(why) => {
                decision["outcome"] = json!("nothing");
                decision["action"] = json!(format!("{action} not sent: {why}"));
            }
        }
        Ok(decision)
    }
}

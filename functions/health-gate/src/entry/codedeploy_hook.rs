//! A CodeDeploy ECS blue/green lifecycle hook (`AfterAllowTestTraffic`,
//! `BeforeAllowTraffic`, `AfterAllowTraffic`): passes within the invocation until a
//! verdict, bounded by the Lambda deadline. The runner always answers
//! `PutLifecycleEventHookExecutionStatus`, `Failed` on any error or when time runs out.
//! Configured by `HEALTH_GATE_CONFIG`; unset, the hook checks that every target of the
//! deployment's green target group is healthy ([`default_config`]). A `targets` check
//! without `targetGroups` reads the green target group of the hook's deployment.

use super::{GateState, HealthGate, NAME, now_ms, pass};
use crate::checks::Vantage;
use crate::config::{self, Config, Entry};
use crate::decide::{Verdict, due_in};
use crate::error::GateError;
use serde_json::{Map, Value, json};
use shared::{CodeDeployHook, CodeDeployHookEvent, HookContext, HookVerdict};
use std::sync::Arc;
use std::time::Duration;

/// The configuration when `HEALTH_GATE_CONFIG` is unset: the green target group of the
/// hook's deployment, every target healthy.
pub fn default_config() -> Value {
    json!({"targets": {}})
}

impl CodeDeployHook for HealthGate {
    type Error = GateError;
    const NAME: &'static str = NAME;

    async fn check(
        self: Arc<Self>,
        ctx: HookContext<CodeDeployHookEvent>,
    ) -> Result<HookVerdict, GateError> {
        let base = config::from_env()?.unwrap_or_else(default_config);
        let config = Config::merged(Some(&base), &Map::new())?;
        config.check(Entry::CodeDeployHook)?;
        let deployment = ctx.event.deployment_id.clone();
        let timing = config.timing();
        let deadline_ms = now_ms() + ctx.remaining().as_millis() as u64;
        let mut state = GateState::start(now_ms());
        if let Some(wait) = due_in(&timing, &state.progress, now_ms()) {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        loop {
            let (verdict, next, _, text) = pass(
                &self.clients,
                &config,
                state,
                Vantage::Hook {
                    revision: None,
                    codedeploy: Some(&deployment),
                },
                Some(deadline_ms),
            )
            .await;
            state = next;
            match verdict {
                Verdict::Passed => return Ok(HookVerdict::Succeeded { reason: text }),
                Verdict::Failed { .. } | Verdict::Inconclusive { .. } => {
                    return Ok(HookVerdict::Failed { reason: text });
                }
                Verdict::Wait { after_ms, .. } => {
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                }
            }
        }
    }
}

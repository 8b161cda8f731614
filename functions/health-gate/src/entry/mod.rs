//! The entry points over one gate: the pipeline action (which also watches CodeDeploy
//! EC2/on-premises deployments), the CodeDeploy hook, the ECS hook and ECS pause hooks.

mod codedeploy_hook;
mod ecs_hook;
mod ecs_pause;
mod pipeline;

pub use ecs_hook::rollback;

use crate::checks::{Clients, Pass, Vantage, Watched};
use crate::config::Config;
use crate::decide::{Progress, Verdict, decide};
use crate::summary::summary;
use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

pub const NAME: &str = "health-gate";

/// The gate, with its AWS clients: the function's own (hooks), and the factory that
/// places the pipeline action's checks in a workload account.
pub struct HealthGate {
    clients: Clients,
    factory: shared::aws::Clients,
}

impl HealthGate {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            clients: Clients::new(sdk),
            factory: shared::aws::Clients::new(sdk),
        }
    }
}

/// The state carried between passes: the continuation token's content, or the ECS
/// hook's `hookDetails.gateState`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateState {
    #[serde(flatten)]
    pub progress: Progress,
    #[serde(flatten)]
    pub watched: Watched,
    /// The ECS hook stage and traffic step this state belongs to.
    #[serde(rename = "st", default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl GateState {
    pub fn start(now_ms: u64) -> Self {
        Self {
            progress: Progress::start(now_ms),
            ..Self::default()
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One pass: measure, decide, log the decision as one structured line.
pub(crate) async fn pass(
    clients: &Clients,
    config: &Config,
    state: GateState,
    vantage: Vantage<'_>,
    deadline_ms: Option<u64>,
) -> (Verdict, GateState, Pass, String) {
    let now = now_ms();
    let measured = crate::checks::measure(clients, config, &state.watched, vantage, now).await;
    let (verdict, progress) = decide(
        &config.timing(),
        state.progress,
        &measured.readings,
        now,
        deadline_ms,
    );
    let text = summary(&verdict, &measured.readings, progress.passes);
    tracing::info!(
        verdict = verdict.word(),
        passes = progress.passes,
        streak = progress.streak,
        checks = %crate::summary::checks_variable(&measured.readings),
        summary = %text,
        "decision"
    );
    let state = GateState {
        progress,
        watched: measured.watched.clone(),
        step: state.step,
    };
    (verdict, state, measured, text)
}

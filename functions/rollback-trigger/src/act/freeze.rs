//! Freezing a stage: `GetPipelineState` for the inbound transition, then
//! `DisableStageTransition`.

use super::Adapter;
use super::pipeline::{stage_state, state};
use crate::decide::freeze::{self, Transition};
use crate::decide::{Plan, Step, TriggerTime};
use crate::event::time::millis;
use aws_sdk_codepipeline::types::StageTransitionType;
use shared::error::{AwsError, aws_error};

pub struct Freeze<'a> {
    pub client: &'a aws_sdk_codepipeline::Client,
    pub pipeline: &'a str,
    pub stage: &'a str,
    pub at: TriggerTime,
    pub reason: &'a str,
}

impl Adapter for Freeze<'_> {
    fn label(&self) -> String {
        format!("freeze of stage {}/{}", self.pipeline, self.stage)
    }

    fn races(&self) -> &'static [&'static str] {
        &[]
    }

    async fn look(&self) -> Result<Plan, AwsError> {
        let state = state(self.client, self.pipeline).await?;
        let transition = stage_state(&state, self.stage).map(|s| {
            let t = s.inbound_transition_state();
            Transition {
                enabled: t.is_none_or(|t| t.enabled()),
                changed_ms: t.and_then(|t| t.last_changed_at()).and_then(millis),
            }
        });
        Ok(freeze::decide(transition.as_ref(), self.at, self.reason))
    }

    async fn act(&self, step: &Step) -> Result<String, AwsError> {
        let Step::Freeze { reason } = step else {
            return Err(AwsError::local(
                "codepipeline",
                format!("not a freeze: {step:?}"),
            ));
        };
        self.client
            .disable_stage_transition()
            .pipeline_name(self.pipeline)
            .stage_name(self.stage)
            .transition_type(StageTransitionType::Inbound)
            .reason(reason)
            .send()
            .await
            .map_err(|e| aws_error("codepipeline:DisableStageTransition", e))?;
        Ok(format!("{} (reason: {reason})", step.describe()))
    }
}

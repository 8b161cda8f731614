//! CodePipeline V2 stages: `GetPipelineState` and `ListPipelineExecutions` (all, and
//! those that succeeded in the stage), concurrently, then `RollbackStage`.

use super::Adapter;
use crate::decide::pipeline::{self, Execution, Facts, StageRun};
use crate::decide::{Plan, Step, TriggerTime};
use crate::event::time::millis;
use aws_sdk_codepipeline::operation::get_pipeline_state::GetPipelineStateOutput;
use aws_sdk_codepipeline::types::{
    ExecutionType, PipelineExecutionFilter, PipelineExecutionSummary, StageState,
    SucceededInStageFilter,
};
use shared::error::{AwsError, aws_error};

/// How many executions to read (the API's page limit is 100).
const PAGE: i32 = 50;

pub struct PipelineStage<'a> {
    pub client: &'a aws_sdk_codepipeline::Client,
    pub pipeline: &'a str,
    pub stage: &'a str,
    pub at: TriggerTime,
}

/// `GetPipelineState` for `pipeline`.
pub async fn state(
    client: &aws_sdk_codepipeline::Client,
    pipeline: &str,
) -> Result<GetPipelineStateOutput, AwsError> {
    client
        .get_pipeline_state()
        .name(pipeline)
        .send()
        .await
        .map_err(|e| aws_error("codepipeline:GetPipelineState", e))
}

/// The state of `stage`, if the pipeline has it.
pub fn stage_state<'s>(state: &'s GetPipelineStateOutput, stage: &str) -> Option<&'s StageState> {
    state
        .stage_states()
        .iter()
        .find(|s| s.stage_name() == Some(stage))
}

impl PipelineStage<'_> {
    async fn executions(&self, succeeded_in: Option<&str>) -> Result<Vec<Execution>, AwsError> {
        let filter = succeeded_in.map(|stage| {
            PipelineExecutionFilter::builder()
                .succeeded_in_stage(SucceededInStageFilter::builder().stage_name(stage).build())
                .build()
        });
        let out = self
            .client
            .list_pipeline_executions()
            .pipeline_name(self.pipeline)
            .set_filter(filter)
            .max_results(PAGE)
            .send()
            .await
            .map_err(|e| aws_error("codepipeline:ListPipelineExecutions", e))?;
        Ok(out
            .pipeline_execution_summaries()
            .iter()
            .filter_map(execution)
            .collect())
    }
}

fn execution(s: &PipelineExecutionSummary) -> Option<Execution> {
    Some(Execution {
        id: s.pipeline_execution_id()?.to_owned(),
        start_ms: s.start_time().and_then(millis),
        rollback: s.execution_type() == Some(&ExecutionType::Rollback),
    })
}

impl Adapter for PipelineStage<'_> {
    fn label(&self) -> String {
        format!("pipeline stage {}/{}", self.pipeline, self.stage)
    }

    fn races(&self) -> &'static [&'static str] {
        &["ConflictException", "UnableToRollbackStageException"]
    }

    async fn look(&self) -> Result<Plan, AwsError> {
        let (state, recent, succeeded) = futures::try_join!(
            state(self.client, self.pipeline),
            self.executions(None),
            self.executions(Some(self.stage)),
        )?;
        let stage = stage_state(&state, self.stage).map(|s| {
            s.latest_execution().map(|e| StageRun {
                execution: e.pipeline_execution_id().to_owned(),
                status: e.status().as_str().to_owned(),
                rollback: e.r#type() == Some(&ExecutionType::Rollback),
            })
        });
        Ok(pipeline::decide(
            &Facts {
                stage,
                recent,
                succeeded,
            },
            self.at,
        ))
    }

    async fn act(&self, step: &Step) -> Result<String, AwsError> {
        let Step::PipelineRollback { target, .. } = step else {
            return Err(AwsError::local(
                "codepipeline",
                format!("not a pipeline step: {step:?}"),
            ));
        };
        let out = self
            .client
            .rollback_stage()
            .pipeline_name(self.pipeline)
            .stage_name(self.stage)
            .target_pipeline_execution_id(target)
            .send()
            .await
            .map_err(|e| aws_error("codepipeline:RollbackStage", e))?;
        Ok(format!(
            "{} (rollback execution {})",
            step.describe(),
            out.pipeline_execution_id()
        ))
    }
}

//! CodeDeploy deployment groups: `GetDeploymentGroup` (the latest attempted deployment),
//! `GetDeployment` (who made it, what ran before), then `StopDeployment` with automatic
//! rollback or `CreateDeployment` of the previous revision.

use super::Adapter;
use crate::decide::codedeploy::{self, Deployment, MARK, RollbackBy};
use crate::decide::{Plan, Step, TriggerTime};
use crate::event::time::millis;
use aws_sdk_codedeploy::types::{DeploymentCreator, RevisionLocation};
use shared::error::{AwsError, aws_error};
use std::sync::Mutex;

pub struct CodeDeployGroup<'a> {
    pub client: &'a aws_sdk_codedeploy::Client,
    pub application: &'a str,
    pub group: &'a str,
    pub at: TriggerTime,
    /// Why the deployment is made, for its description.
    pub why: &'a str,
    /// The previous revision of the latest deployment, from the last look.
    previous: Mutex<Option<RevisionLocation>>,
}

impl<'a> CodeDeployGroup<'a> {
    pub fn new(
        client: &'a aws_sdk_codedeploy::Client,
        application: &'a str,
        group: &'a str,
        at: TriggerTime,
        why: &'a str,
    ) -> Self {
        Self {
            client,
            application,
            group,
            at,
            why,
            previous: Mutex::new(None),
        }
    }

    async fn latest(&self) -> Result<Option<Deployment>, AwsError> {
        let group = self
            .client
            .get_deployment_group()
            .application_name(self.application)
            .deployment_group_name(self.group)
            .send()
            .await
            .map_err(|e| aws_error("codedeploy:GetDeploymentGroup", e))?;
        let Some(id) = group
            .deployment_group_info()
            .and_then(|g| g.last_attempted_deployment())
            .and_then(|d| d.deployment_id())
        else {
            return Ok(None);
        };
        let out = self
            .client
            .get_deployment()
            .deployment_id(id)
            .send()
            .await
            .map_err(|e| aws_error("codedeploy:GetDeployment", e))?;
        let Some(info) = out.deployment_info() else {
            return Ok(None);
        };
        let rollback_by = if info.creator() == Some(&DeploymentCreator::CodeDeployRollback) {
            Some(RollbackBy::CodeDeploy)
        } else if info.description().is_some_and(|d| d.starts_with(MARK)) {
            Some(RollbackBy::ThisFunction)
        } else {
            None
        };
        let previous = info.previous_revision().cloned();
        let deployment = Deployment {
            id: id.to_owned(),
            status: info.status().map_or("", |s| s.as_str()).to_owned(),
            created_ms: info.create_time().and_then(millis).unwrap_or(0),
            rollback_by,
            has_previous_revision: previous.is_some(),
        };
        *self.previous.lock().unwrap_or_else(|e| e.into_inner()) = previous;
        Ok(Some(deployment))
    }
}

impl Adapter for CodeDeployGroup<'_> {
    fn label(&self) -> String {
        format!("CodeDeploy group {}/{}", self.application, self.group)
    }

    fn races(&self) -> &'static [&'static str] {
        &[
            "DeploymentAlreadyCompletedException",
            "DeploymentLimitExceededException",
        ]
    }

    async fn look(&self) -> Result<Plan, AwsError> {
        let latest = self.latest().await?;
        Ok(codedeploy::decide(latest.as_ref(), self.at))
    }

    async fn act(&self, step: &Step) -> Result<String, AwsError> {
        match step {
            Step::CodeDeployStop { deployment } => {
                self.client
                    .stop_deployment()
                    .deployment_id(deployment)
                    .auto_rollback_enabled(true)
                    .send()
                    .await
                    .map_err(|e| aws_error("codedeploy:StopDeployment", e))?;
                Ok(step.describe())
            }
            Step::CodeDeployRedeploy { .. } => {
                let revision = self
                    .previous
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let out = self
                    .client
                    .create_deployment()
                    .application_name(self.application)
                    .deployment_group_name(self.group)
                    .set_revision(revision)
                    .description(description(self.why))
                    .send()
                    .await
                    .map_err(|e| aws_error("codedeploy:CreateDeployment", e))?;
                Ok(format!(
                    "{} as deployment {}",
                    step.describe(),
                    out.deployment_id().unwrap_or("?")
                ))
            }
            other => Err(AwsError::local(
                "codedeploy",
                format!("not a CodeDeploy step: {other:?}"),
            )),
        }
    }
}

/// The new deployment's description (at most 512 characters), marked as this
/// function's so that it is never rolled back in turn.
fn description(why: &str) -> String {
    format!("{MARK} {why}").chars().take(512).collect()
}

//! ECS service deployments: `ListServiceDeployments`, then `DescribeServiceRevisions`
//! for the task definitions, then `StopServiceDeployment` (ROLLBACK) or `UpdateService`;
//! a deployment to stop is described first, and one that waits at a pause hook is
//! answered `ROLLBACK` there instead (`ContinueServiceDeployment`).

use super::Adapter;
use crate::decide::ecs::{self, Deployment, First, Status};
use crate::decide::{Plan, Step, TriggerTime};
use crate::event::time::millis;
use aws_sdk_ecs::types::StopServiceDeploymentStopType;
use shared::ecs::pause::Answered;
use shared::error::{AwsError, aws_error};
use std::collections::BTreeMap;

pub struct EcsService<'a> {
    pub client: &'a aws_sdk_ecs::Client,
    pub cluster: &'a str,
    pub service: &'a str,
    pub at: TriggerTime,
}

impl EcsService<'_> {
    async fn deployments(&self) -> Result<Vec<Deployment>, AwsError> {
        let found =
            shared::ecs::service_deployments(self.client, self.cluster, self.service).await?;
        Ok(found
            .iter()
            .filter_map(|b| {
                Some(Deployment {
                    arn: b.service_deployment_arn()?.to_owned(),
                    status: Status::parse(b.status().map_or("", |s| s.as_str())),
                    created_ms: b
                        .created_at()
                        .or(b.started_at())
                        .and_then(millis)
                        .unwrap_or(0),
                    revision: b.target_service_revision_arn().map(str::to_owned),
                })
            })
            .collect())
    }

    async fn task_definitions(
        &self,
        arns: Vec<String>,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .client
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns))
            .send()
            .await
            .map_err(|e| aws_error("ecs:DescribeServiceRevisions", e))?;
        Ok(out
            .service_revisions()
            .iter()
            .filter_map(|r| {
                Some((
                    r.service_revision_arn()?.to_owned(),
                    r.task_definition()?.to_owned(),
                ))
            })
            .collect())
    }
}

impl Adapter for EcsService<'_> {
    fn label(&self) -> String {
        format!("ECS service {}/{}", self.cluster, self.service)
    }

    fn races(&self) -> &'static [&'static str] {
        &["ConflictException"]
    }

    async fn look(&self) -> Result<Plan, AwsError> {
        let deployments = self.deployments().await?;
        let plan = match ecs::first(&deployments, self.at) {
            First::Plan(plan) => plan,
            First::Revisions(c) => {
                let task_definitions = self.task_definitions(c.revisions()).await?;
                ecs::second(&c, &task_definitions)
            }
        };
        let Plan::Act(Step::EcsStop { deployment }) = &plan else {
            return Ok(plan);
        };
        let awaiting: Vec<String> = match shared::ecs::pause::read(self.client, deployment).await? {
            Some(p) => p
                .hooks
                .iter()
                .filter(|h| p.awaiting(h))
                .map(|h| h.id.clone())
                .collect(),
            None => Vec::new(),
        };
        Ok(ecs::at_pause(plan, &awaiting))
    }

    async fn act(&self, step: &Step) -> Result<String, AwsError> {
        match step {
            Step::EcsStop { deployment } => {
                self.client
                    .stop_service_deployment()
                    .service_deployment_arn(deployment)
                    .stop_type(StopServiceDeploymentStopType::Rollback)
                    .send()
                    .await
                    .map_err(|e| aws_error("ecs:StopServiceDeployment", e))?;
            }
            Step::EcsPauseRollback { deployment, hook } => {
                if let Answered::Already(why) =
                    shared::ecs::pause::answer(self.client, deployment, hook, true).await?
                {
                    return Ok(format!(
                        "pause hook {hook} of service deployment {deployment} was answered already ({why})"
                    ));
                }
            }
            Step::EcsRevert {
                task_definition, ..
            } => {
                self.client
                    .update_service()
                    .cluster(self.cluster)
                    .service(self.service)
                    .task_definition(task_definition)
                    .send()
                    .await
                    .map_err(|e| aws_error("ecs:UpdateService", e))?;
            }
            other => {
                return Err(AwsError::local(
                    "ecs",
                    format!("not an ECS step: {other:?}"),
                ));
            }
        }
        Ok(step.describe())
    }
}

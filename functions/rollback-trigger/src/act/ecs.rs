//! ECS service deployments: `ListServiceDeployments`, then `DescribeServiceRevisions`
//! for the task definitions, then `StopServiceDeployment` (ROLLBACK) or `UpdateService`.

use super::Adapter;
use crate::decide::ecs::{self, Deployment, First, Status};
use crate::decide::{Plan, Step, TriggerTime};
use crate::event::time::millis;
use aws_sdk_ecs::types::StopServiceDeploymentStopType;
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
        match ecs::first(&deployments, self.at) {
            First::Plan(plan) => Ok(plan),
            First::Revisions(c) => {
                let task_definitions = self.task_definitions(c.revisions()).await?;
                Ok(ecs::second(&c, &task_definitions))
            }
        }
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

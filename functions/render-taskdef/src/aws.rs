//! AWS calls, as small functions over the SDK clients. The ECS adapters (task definitions
//! and services as raw JSON) are `shared::ecs`'s; this file adds what only this action asks.

use crate::render::DigestQuery;
use crate::template::TaskDef;
use serde_json::Value;
use shared::ecs::{EcsError, ServiceLookup};
use shared::error::{AwsError, aws_error};

pub use shared::ecs::{Described, describe_task_definition};

/// The task definition ARN that a service runs, or why it cannot be found.
pub async fn service_task_definition(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Result<String, String>, EcsError> {
    Ok(
        match shared::ecs::describe_service(ecs, cluster, service).await? {
            ServiceLookup::Found(s) => match s.get("taskDefinition").and_then(Value::as_str) {
                Some(td) => Ok(td.to_owned()),
                None => Err("the service has no task definition".to_owned()),
            },
            ServiceLookup::Missing(reason) => Err(reason),
        },
    )
}

/// RegisterTaskDefinition with `doc` as the request body, as it is. Returns ARN and revision.
pub async fn register_task_definition(
    ecs: &aws_sdk_ecs::Client,
    doc: &TaskDef,
) -> Result<(String, i64), EcsError> {
    let r = shared::ecs::register_task_definition(ecs, doc).await?;
    Ok((r.arn, r.revision))
}

/// The digest of each tag (DescribeImages, one call per tag, all at once). A tag ECR does
/// not have gives `Err` with ECR's message.
pub async fn resolve_digests(
    ecr: &aws_sdk_ecr::Client,
    queries: &[DigestQuery],
) -> Result<Vec<(DigestQuery, Result<String, String>)>, AwsError> {
    let calls = queries.iter().map(|q| async move {
        let mut call = ecr
            .describe_images()
            .registry_id(&q.repository.account)
            .repository_name(&q.repository.name)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(&q.tag)
                    .build(),
            )
            .customize();
        if ecr.config().region().map(|r| r.as_ref()) != Some(q.repository.region.as_str()) {
            call = call.config_override(aws_sdk_ecr::config::Builder::default().region(
                aws_sdk_ecr::config::Region::new(q.repository.region.clone()),
            ));
        }
        let answer = match call.send().await {
            Ok(out) => out
                .image_details()
                .iter()
                .find_map(|d| d.image_digest())
                .map(str::to_owned)
                .ok_or_else(|| "ECR returned no digest".to_owned()),
            Err(e) => {
                let e = aws_error("ecr:DescribeImages", e);
                match e.code() {
                    Some("ImageNotFoundException" | "RepositoryNotFoundException") => {
                        Err(e.to_string())
                    }
                    _ => return Err(e),
                }
            }
        };
        Ok((q.clone(), answer))
    });
    futures::future::try_join_all(calls).await
}

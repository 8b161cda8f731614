//! AWS calls, as small functions over the SDK clients.
//!
//! Task definitions travel as raw JSON: DescribeTaskDefinition's response body is read as
//! it came, and RegisterTaskDefinition's request body is the rendered document, so fields
//! newer than the SDK's model are neither dropped on the way in nor on the way out.

use crate::render::DigestQuery;
use crate::template::TaskDef;
use aws_sdk_ecs::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use serde_json::Value;
use shared::error::{AwsError, aws_error};
use std::sync::{Arc, Mutex};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Keeps the last response body of an operation.
#[derive(Debug, Clone, Default)]
struct RawBody(Arc<Mutex<Option<Vec<u8>>>>);

impl RawBody {
    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut b| b.take())
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "RawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(bytes), Ok(mut slot)) = (context.response().body().bytes(), self.0.lock()) {
            *slot = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// What DescribeTaskDefinition answered.
#[derive(Debug)]
pub enum Described {
    /// The raw response: `{"taskDefinition": {...}, "tags": [...]}`.
    Found(Value),
    /// ECS does not know it (its `ClientException`), with ECS's message.
    NotFound(String),
}

/// DescribeTaskDefinition (with tags) for a family, `family:revision` or ARN.
pub async fn describe_task_definition(
    ecs: &aws_sdk_ecs::Client,
    id: &str,
) -> Result<Described, AwsError> {
    let raw = RawBody::default();
    let result = ecs
        .describe_task_definition()
        .task_definition(id)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await;
    match result {
        Ok(_) => match raw.take().and_then(|b| serde_json::from_slice(&b).ok()) {
            Some(v @ Value::Object(_)) => Ok(Described::Found(v)),
            _ => Ok(Described::NotFound(
                "the response held no task definition".to_owned(),
            )),
        },
        Err(e) => {
            let e = aws_error("ecs:DescribeTaskDefinition", e);
            if e.code() == Some("ClientException") {
                Ok(Described::NotFound(e.to_string()))
            } else {
                Err(e)
            }
        }
    }
}

/// The task definition ARN that a service runs, or why it cannot be found.
pub async fn service_task_definition(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Result<String, String>, AwsError> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let e = aws_error("ecs:DescribeServices", e);
            return match e.code() {
                Some("ClusterNotFoundException") => {
                    Ok(Err(format!("cluster `{cluster}` does not exist")))
                }
                _ => Err(e),
            };
        }
    };
    if let Some(s) = out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
    {
        return match s.task_definition() {
            Some(td) => Ok(Ok(td.to_owned())),
            None => Ok(Err("the service has no task definition".to_owned())),
        };
    }
    let reason = out
        .failures()
        .first()
        .and_then(|f| f.reason())
        .map_or("it is INACTIVE or absent", |r| r);
    Ok(Err(reason.to_owned()))
}

/// RegisterTaskDefinition with `doc` as the request body, as it is. Returns ARN and revision.
pub async fn register_task_definition(
    ecs: &aws_sdk_ecs::Client,
    doc: &TaskDef,
) -> Result<(String, i64), AwsError> {
    let body: Arc<[u8]> = serde_json::to_vec(doc).unwrap_or_default().into();
    let family = doc
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let out = ecs
        .register_task_definition()
        .family(family)
        .customize()
        .mutate_request(move |req| {
            req.headers_mut()
                .insert("content-length", body.len().to_string());
            *req.body_mut() = SdkBody::from(body.to_vec());
        })
        .send()
        .await
        .map_err(|e| aws_error("ecs:RegisterTaskDefinition", e))?;
    let td = out.task_definition();
    let arn = td
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_owned();
    let revision = td.map_or(0, |t| i64::from(t.revision()));
    Ok((arn, revision))
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

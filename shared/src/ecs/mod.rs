//! ECS adapters: task definitions and services as raw JSON.
//!
//! DescribeTaskDefinition's and DescribeServices' response bodies are read as they came,
//! and RegisterTaskDefinition's request body is the caller's document, so fields newer than
//! the SDK's model are neither dropped on the way in nor on the way out.

pub mod pause;
mod raw;

use crate::aws::retry::throttling_like;
use crate::error::{AwsError, Failure, FailureType, aws_error};
use aws_sdk_ecs::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use raw::RawBody;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Fields that DescribeTaskDefinition returns and RegisterTaskDefinition refuses.
pub const DESCRIBE_ONLY: [&str; 8] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// An ECS call that failed.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// ECS refused the task definition as given (`ClientException`,
    /// `InvalidParameterException`): the input must change, a retry cannot help.
    #[error(
        "ECS refused the task definition of family `{family}` ({code}: {message}); correct the template or UserParameters so that ECS accepts it. Nothing was registered"
    )]
    Refused {
        family: String,
        code: String,
        message: String,
    },
    /// ECS kept answering its throttling as a client error after the retries.
    #[error(
        "{operation} failed: {code}: {message}. ECS was throttling after retries; retry the stage"
    )]
    Throttled {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Failure for EcsError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::Refused { .. } => FailureType::ConfigurationError,
            Self::Throttled { .. } => FailureType::SystemUnavailable,
            Self::Aws(e) => e.failure_type(),
        }
    }
}

impl EcsError {
    /// The AWS error code, when ECS sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } | Self::Throttled { code, .. } => Some(code),
            Self::Aws(e) => e.code(),
        }
    }
}

/// Classifies an ECS error: throttling in disguise first, then as any AWS error.
fn ecs_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> EcsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let (Some(code), message) = (err.code(), err.message().unwrap_or_default())
        && throttling_like(code, message)
    {
        return EcsError::Throttled {
            operation,
            code: code.to_owned(),
            message: message.to_owned(),
        };
    }
    EcsError::Aws(aws_error(operation, err))
}

/// What DescribeTaskDefinition answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Described {
    /// The raw response: `{"taskDefinition": {...}, "tags": [...]}`.
    Found(Value),
    /// ECS does not know it (its `ClientException`), with ECS's message.
    NotFound(String),
}

impl Described {
    /// The response, when found.
    pub fn found(self) -> Option<Value> {
        match self {
            Self::Found(v) => Some(v),
            Self::NotFound(_) => None,
        }
    }
}

/// DescribeTaskDefinition (with tags) for a family (its latest ACTIVE revision),
/// `family:revision` or ARN.
pub async fn describe_task_definition(ecs: &Client, id: &str) -> Result<Described, EcsError> {
    const OPERATION: &str = "ecs:DescribeTaskDefinition";
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
        Ok(_) => match raw.json() {
            Some(v @ Value::Object(_)) => Ok(Described::Found(v)),
            _ => Ok(Described::NotFound(
                "the response held no task definition".to_owned(),
            )),
        },
        Err(e) => match ecs_error(OPERATION, e) {
            EcsError::Aws(e) if e.code() == Some("ClientException") => {
                Ok(Described::NotFound(e.to_string()))
            }
            e => Err(e),
        },
    }
}

/// The latest ACTIVE revision of `family` (DescribeTaskDefinition of the bare family), or
/// `None` when the family has none.
pub async fn latest_revision(ecs: &Client, family: &str) -> Result<Option<Value>, EcsError> {
    Ok(describe_task_definition(ecs, family).await?.found())
}

/// What DescribeServices answered for one service.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceLookup {
    /// The service as ECS described it (one element of `services`, raw JSON).
    Found(Value),
    /// Why there is no such live service: ECS's failure reason, or a cluster that does not
    /// exist, or a service that is INACTIVE.
    Missing(String),
}

/// DescribeServices for one service of `cluster`.
pub async fn describe_service(
    ecs: &Client,
    cluster: &str,
    service: &str,
) -> Result<ServiceLookup, EcsError> {
    const OPERATION: &str = "ecs:DescribeServices";
    let raw = RawBody::default();
    let sent = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await;
    match sent {
        Ok(_) => Ok(live_service(&raw.json().unwrap_or_default())),
        Err(e) => match ecs_error(OPERATION, e) {
            EcsError::Aws(e) if e.code() == Some("ClusterNotFoundException") => Ok(
                ServiceLookup::Missing(format!("cluster `{cluster}` does not exist")),
            ),
            e => Err(e),
        },
    }
}

/// The first service of a DescribeServices response that is not INACTIVE.
///
/// | response | lookup |
/// |---|---|
/// | an ACTIVE or DRAINING service | found |
/// | only INACTIVE services, no failure | missing: "it is INACTIVE or absent" |
/// | a failure (`MISSING`) | missing: its reason |
pub fn live_service(response: &Value) -> ServiceLookup {
    let services = response.get("services").and_then(Value::as_array);
    if let Some(s) = services
        .into_iter()
        .flatten()
        .find(|s| s.get("status").and_then(Value::as_str) != Some("INACTIVE"))
    {
        return ServiceLookup::Found(s.clone());
    }
    let reason = response
        .get("failures")
        .and_then(Value::as_array)
        .and_then(|f| f.first())
        .and_then(|f| f.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("it is INACTIVE or absent");
    ServiceLookup::Missing(reason.to_owned())
}

/// A task definition ECS registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub arn: String,
    pub revision: i64,
}

/// RegisterTaskDefinition with `doc` as the request body, as it is. ECS's refusal of the
/// document (`ClientException`, `InvalidParameterException`) is [`EcsError::Refused`].
pub async fn register_task_definition(
    ecs: &Client,
    doc: &Map<String, Value>,
) -> Result<Registered, EcsError> {
    const OPERATION: &str = "ecs:RegisterTaskDefinition";
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
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let code = e.code().map(str::to_owned);
            let message = e.message().unwrap_or("no message").to_owned();
            return Err(match ecs_error(OPERATION, e) {
                EcsError::Aws(_) if refused(code.as_deref()) => EcsError::Refused {
                    family: family.to_owned(),
                    code: code.unwrap_or_default(),
                    message,
                },
                e => e,
            });
        }
    };
    let td = out.task_definition();
    Ok(Registered {
        arn: td
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_owned(),
        revision: td.map_or(0, |t| i64::from(t.revision())),
    })
}

/// Whether RegisterTaskDefinition's error code means the document was refused.
fn refused(code: Option<&str>) -> bool {
    matches!(code, Some("ClientException" | "InvalidParameterException"))
}

/// ListServiceDeployments answers at most 100 per page; the newest are the ones that matter.
const DEPLOYMENTS_PAGE: i32 = 100;

/// A service's deployments (ECS keeps 90 days of them), newest first, in one round trip.
/// Services with the CODE_DEPLOY or EXTERNAL controller have none.
/// One service deployment (one round trip); `None` when ECS does not know it.
pub async fn service_deployment(
    ecs: &Client,
    arn: &str,
) -> Result<Option<aws_sdk_ecs::types::ServiceDeployment>, AwsError> {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| aws_error("ecs:DescribeServiceDeployments", e))?;
    Ok(out.service_deployments().first().cloned())
}

pub async fn service_deployments(
    ecs: &Client,
    cluster: &str,
    service: &str,
) -> Result<Vec<aws_sdk_ecs::types::ServiceDeploymentBrief>, AwsError> {
    let out = ecs
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .max_results(DEPLOYMENTS_PAGE)
        .send()
        .await
        .map_err(|e| aws_error("ecs:ListServiceDeployments", e))?;
    let mut found = out.service_deployments().to_vec();
    found.sort_by_key(|d| std::cmp::Reverse(d.created_at().map(|t| t.as_nanos())));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_service_table() {
        let active =
            json!({"serviceName": "web", "status": "ACTIVE", "taskDefinition": "arn:td:3"});
        let inactive = json!({"serviceName": "web", "status": "INACTIVE"});
        let cases = [
            (
                json!({"services": [inactive.clone(), active.clone()], "failures": []}),
                ServiceLookup::Found(active.clone()),
            ),
            (
                json!({"services": [inactive], "failures": []}),
                ServiceLookup::Missing("it is INACTIVE or absent".into()),
            ),
            (
                json!({"services": [], "failures": [{"arn": "x", "reason": "MISSING"}]}),
                ServiceLookup::Missing("MISSING".into()),
            ),
            (
                json!({}),
                ServiceLookup::Missing("it is INACTIVE or absent".into()),
            ),
        ];
        for (response, want) in cases {
            assert_eq!(live_service(&response), want, "{response}");
        }
    }

    #[test]
    fn refusals_are_configuration_errors_and_throttling_is_not() {
        assert!(refused(Some("ClientException")));
        assert!(refused(Some("InvalidParameterException")));
        assert!(!refused(Some("ServerException")));
        assert!(!refused(None));
        let e = EcsError::Refused {
            family: "web".into(),
            code: "ClientException".into(),
            message: "Invalid 'memory' setting for container 'app'".into(),
        };
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        assert!(e.to_string().contains("Invalid 'memory' setting"), "{e}");
        let e = EcsError::Throttled {
            operation: "ecs:RegisterTaskDefinition",
            code: "ClientException".into(),
            message: "Rate exceeded".into(),
        };
        assert_eq!(e.failure_type(), FailureType::SystemUnavailable);
    }
}

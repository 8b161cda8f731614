//! The ways a function is invoked, recognised from the raw event, and the typed events of
//! the two lifecycle hooks. CodePipeline jobs are in [`crate::job`].

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A way a function can be invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A CodePipeline Lambda invoke action: `{"CodePipeline.job": {...}}`.
    Job,
    /// A CodeDeploy lifecycle hook: `{"DeploymentId", "LifecycleEventHookExecutionId"}`.
    CodeDeployHook,
    /// An ECS service deployment lifecycle hook: `{"executionId", "lifecycleStage", ...}`.
    EcsHook,
    /// An ECS pause hook to answer with `ContinueServiceDeployment`: EventBridge's
    /// `ECS Hook State Change` event, or a schedule's `{"ecsPauseHooks": {...}}`.
    EcsPause,
    /// Anything else (alarm state changes, SNS, a person's request), answered by the
    /// return value alone.
    Event,
}

impl Trigger {
    /// The event's shape, as a person would recognise it.
    pub fn shape(self) -> &'static str {
        match self {
            Self::Job => "a CodePipeline job ({\"CodePipeline.job\": {...}})",
            Self::CodeDeployHook => {
                "a CodeDeploy lifecycle hook ({\"DeploymentId\", \"LifecycleEventHookExecutionId\"})"
            }
            Self::EcsHook => {
                "an ECS deployment lifecycle hook ({\"executionId\", \"lifecycleStage\", \"executionDetails\"})"
            }
            Self::EcsPause => {
                "an ECS pause hook (EventBridge's \"ECS Hook State Change\" event, or a schedule's {\"ecsPauseHooks\": {\"cluster\", \"service\"}})"
            }
            Self::Event => "an event (alarm state change, SNS notification or request)",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Job => "codepipeline-job",
            Self::CodeDeployHook => "codedeploy-hook",
            Self::EcsHook => "ecs-hook",
            Self::EcsPause => "ecs-pause",
            Self::Event => "event",
        })
    }
}

/// Which trigger sent `payload`. Only the keys that mark each shape are looked at; the
/// event is parsed by the trigger's own type afterwards, which names what is wrong.
pub fn recognise(payload: &Value) -> Trigger {
    let has = |key: &str| payload.get(key).is_some();
    if has("CodePipeline.job") {
        Trigger::Job
    } else if has("DeploymentId") && has("LifecycleEventHookExecutionId") {
        Trigger::CodeDeployHook
    } else if has(PAUSE_SCHEDULE)
        || (payload["source"] == "aws.ecs" && payload["detail-type"] == PAUSE_EVENT)
    {
        Trigger::EcsPause
    } else if has("lifecycleStage")
        && (has("executionDetails") || has("executionId") || has("targetServiceRevisionArn"))
    {
        Trigger::EcsHook
    } else {
        Trigger::Event
    }
}

/// The EventBridge detail type of ECS hook state changes.
pub const PAUSE_EVENT: &str = "ECS Hook State Change";
/// The key of a scheduled pause-hook check.
pub const PAUSE_SCHEDULE: &str = "ecsPauseHooks";

/// What an [`Trigger::EcsPause`] invocation asks. The event is ECS's (pause-lifecycle-hooks
/// in the ECS developer guide): `detail.eventName` `HOOK_AWAITING_ACTION` with
/// `detail.hookType` `PAUSE`, `hookId`, `lifecycleStage` and `serviceDeploymentArn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsPauseRequest {
    /// A pause hook began waiting for an answer.
    Awaiting {
        deployment_arn: String,
        hook_id: String,
        lifecycle_stage: Option<String>,
    },
    /// Another hook state change (a Lambda hook, a hook answered or timed out): nothing
    /// to decide; says which.
    Other(String),
    /// A schedule: every pause hook awaiting action in the service's deployments.
    Scheduled { cluster: String, service: String },
}

impl EcsPauseRequest {
    /// Reads the event or the schedule's input; the error names what is missing.
    pub fn parse(payload: &Value) -> Result<Self, String> {
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(schedule) = payload.get(PAUSE_SCHEDULE) {
            let field = |k: &str| {
                text(&schedule[k]).ok_or_else(|| {
                    format!("{PAUSE_SCHEDULE}.{k} must be the name or ARN of the ECS {k} to watch, as a string")
                })
            };
            return Ok(Self::Scheduled {
                cluster: field("cluster")?,
                service: field("service")?,
            });
        }
        let detail = &payload["detail"];
        let event = text(&detail["eventName"]).unwrap_or_default();
        let kind = text(&detail["hookType"]).unwrap_or_default();
        if event != "HOOK_AWAITING_ACTION" || kind != "PAUSE" {
            return Ok(Self::Other(format!(
                "{} of a {} hook",
                if event.is_empty() { "an event" } else { &event },
                if kind.is_empty() { "lifecycle" } else { &kind }
            )));
        }
        let required = |k: &str| {
            text(&detail[k]).ok_or_else(|| format!("the {PAUSE_EVENT} event has no detail.{k}"))
        };
        Ok(Self::Awaiting {
            deployment_arn: required("serviceDeploymentArn")?,
            hook_id: required("hookId")?,
            lifecycle_stage: text(&detail["lifecycleStage"]),
        })
    }
}

/// A CodeDeploy lifecycle hook invocation (ECS or Lambda compute platform).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CodeDeployHookEvent {
    #[serde(rename = "DeploymentId")]
    pub deployment_id: String,
    #[serde(rename = "LifecycleEventHookExecutionId")]
    pub lifecycle_event_hook_execution_id: String,
}

/// An ECS service deployment lifecycle hook invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsHookEvent {
    pub execution_id: String,
    /// `POST_SCALE_UP`, `POST_TEST_TRAFFIC_SHIFT`, `PRODUCTION_TRAFFIC_SHIFT`, ...
    pub lifecycle_stage: String,
    /// The service deployment's ARN.
    pub resource_arn: Option<String>,
    pub execution_details: EcsExecutionDetails,
    /// The hook's configured details merged with those the previous answer returned.
    pub hook_details: Option<Value>,
}

/// What ECS says about the deployment. Weight maps are revision ARN -> percent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsExecutionDetails {
    #[serde(default)]
    pub service_arn: Option<String>,
    #[serde(default)]
    pub target_service_revision_arn: Option<String>,
    #[serde(default, deserialize_with = "weights")]
    pub test_traffic_weights: BTreeMap<String, f64>,
    #[serde(default, deserialize_with = "weights")]
    pub production_traffic_weights: BTreeMap<String, f64>,
}

/// Weights as ECS sends them (numbers), also when a hand-written sample has strings or null.
fn weights<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (arn, w) in raw.unwrap_or_default() {
        let weight = match &w {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            serde::de::Error::custom(format!("the traffic weight of {arn} is not a number: {w}"))
        })?;
        out.insert(arn, weight);
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for EcsHookEvent {
    /// Real invocations wrap the deployment's fields in `executionDetails`; some
    /// documentation pages show them at the top level. Both are read.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            execution_id: Option<String>,
            lifecycle_stage: String,
            #[serde(default)]
            resource_arn: Option<String>,
            #[serde(default)]
            execution_details: Option<EcsExecutionDetails>,
            #[serde(default)]
            hook_details: Option<Value>,
            #[serde(flatten)]
            rest: BTreeMap<String, Value>,
        }
        let raw = Raw::deserialize(d)?;
        let execution_details = match raw.execution_details {
            Some(details) => details,
            None => EcsExecutionDetails::deserialize(Value::Object(raw.rest.into_iter().collect()))
                .map_err(serde::de::Error::custom)?,
        };
        Ok(Self {
            execution_id: raw.execution_id.unwrap_or_default(),
            lifecycle_stage: raw.lifecycle_stage,
            resource_arn: raw.resource_arn,
            execution_details,
            hook_details: raw.hook_details.filter(|d| !d.is_null()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_each_shape() {
        let cases = [
            (json!({"CodePipeline.job": {"id": "1"}}), Trigger::Job),
            (
                json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "x"}),
                Trigger::CodeDeployHook,
            ),
            (json!({"DeploymentId": "d-1"}), Trigger::Event),
            (
                json!({"executionId": "e", "lifecycleStage": "POST_SCALE_UP", "executionDetails": {}}),
                Trigger::EcsHook,
            ),
            (
                json!({"lifecycleStage": "POST_SCALE_UP", "targetServiceRevisionArn": "r"}),
                Trigger::EcsHook,
            ),
            (json!({"lifecycleStage": "x"}), Trigger::Event),
            (
                json!({"source": "aws.ecs", "detail-type": "ECS Hook State Change", "detail": {}}),
                Trigger::EcsPause,
            ),
            (
                json!({"source": "aws.ecs", "detail-type": "ECS Service Action"}),
                Trigger::Event,
            ),
            (json!({"ecsPauseHooks": {}}), Trigger::EcsPause),
            (json!({"source": "aws.cloudwatch"}), Trigger::Event),
            (json!({"Records": [{"Sns": {}}]}), Trigger::Event),
            (json!([1, 2]), Trigger::Event),
            (json!("text"), Trigger::Event),
        ];
        for (event, want) in cases {
            assert_eq!(recognise(&event), want, "{event}");
        }
    }

    #[test]
    fn reads_pause_hook_requests_and_names_what_is_missing() {
        let awaiting: Value =
            serde_json::from_str(include_str!("../../events/health-gate-ecs-pause.json")).unwrap();
        assert_eq!(recognise(&awaiting), Trigger::EcsPause);
        let EcsPauseRequest::Awaiting {
            deployment_arn,
            hook_id,
            lifecycle_stage,
        } = EcsPauseRequest::parse(&awaiting).unwrap()
        else {
            panic!("awaiting");
        };
        assert!(
            deployment_arn.contains(":service-deployment/"),
            "{deployment_arn}"
        );
        assert!(hook_id.starts_with("ecs-pause-"), "{hook_id}");
        assert_eq!(lifecycle_stage.as_deref(), Some("POST_TEST_TRAFFIC_SHIFT"));

        let mut done = awaiting.clone();
        done["detail"]["eventName"] = json!("HOOK_SUCCEEDED");
        assert_eq!(
            EcsPauseRequest::parse(&done).unwrap(),
            EcsPauseRequest::Other("HOOK_SUCCEEDED of a PAUSE hook".into())
        );
        let mut no_hook = awaiting.clone();
        no_hook["detail"]["hookId"] = Value::Null;
        assert!(
            EcsPauseRequest::parse(&no_hook)
                .unwrap_err()
                .contains("detail.hookId")
        );

        let scheduled = json!({"ecsPauseHooks": {"cluster": "prod", "service": "web"}});
        assert_eq!(
            EcsPauseRequest::parse(&scheduled).unwrap(),
            EcsPauseRequest::Scheduled {
                cluster: "prod".into(),
                service: "web".into()
            }
        );
        let err =
            EcsPauseRequest::parse(&json!({"ecsPauseHooks": {"cluster": "prod"}})).unwrap_err();
        assert!(err.contains("ecsPauseHooks.service"), "{err}");
    }

    #[test]
    fn reads_the_codedeploy_fixture() {
        let event: CodeDeployHookEvent = serde_json::from_str(include_str!(
            "../tests/fixtures/codedeploy-lifecycle-event.json"
        ))
        .unwrap();
        assert_eq!(event.deployment_id, "d-deploymentId");
        assert!(event.lifecycle_event_hook_execution_id.starts_with("eyJ"));
    }

    #[test]
    fn reads_an_ecs_hook_with_or_without_the_wrapper() {
        let wrapped = json!({
            "executionId": "e-1",
            "lifecycleStage": "TEST_TRAFFIC_SHIFT",
            "resourceArn": "arn:aws:ecs:us-east-1:1:service-deployment/c/s/abc",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:us-east-1:1:service/c/s",
                "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:1:service-revision/c/s/2",
                "testTrafficWeights": {"arn:aws:ecs:us-east-1:1:service-revision/c/s/2": 100,
                                       "arn:aws:ecs:us-east-1:1:service-revision/c/s/1": 0},
                "productionTrafficWeights": {}
            },
            "hookDetails": {"polls": 2}
        });
        let e: EcsHookEvent = serde_json::from_value(wrapped).unwrap();
        assert_eq!(e.lifecycle_stage, "TEST_TRAFFIC_SHIFT");
        assert_eq!(e.execution_details.test_traffic_weights.len(), 2);
        assert_eq!(e.hook_details, Some(json!({"polls": 2})));

        let flat = json!({
            "lifecycleStage": "POST_SCALE_UP",
            "serviceArn": "arn:aws:ecs:us-east-1:1:service/c/s",
            "targetServiceRevisionArn": "r2",
            "testTrafficWeights": {"r2": "100"},
            "hookDetails": null
        });
        let e: EcsHookEvent = serde_json::from_value(flat).unwrap();
        assert_eq!(
            e.execution_details.target_service_revision_arn.as_deref(),
            Some("r2")
        );
        assert_eq!(e.execution_details.test_traffic_weights["r2"], 100.0);
        assert_eq!(e.hook_details, None);

        let bad =
            json!({"lifecycleStage": "X", "executionDetails": {"testTrafficWeights": {"r": true}}});
        let err = serde_json::from_value::<EcsHookEvent>(bad).unwrap_err();
        assert!(err.to_string().contains("traffic weight of r"), "{err}");
    }
}

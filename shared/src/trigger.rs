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
    } else if has("lifecycleStage")
        && (has("executionDetails") || has("executionId") || has("targetServiceRevisionArn"))
    {
        Trigger::EcsHook
    } else {
        Trigger::Event
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

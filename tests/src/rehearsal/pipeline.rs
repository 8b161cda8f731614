//! The pipeline a template declares (`AWS::CodePipeline::Pipeline`, V2): stages, actions
//! with their type, configuration, artifacts, namespace and run order, and the
//! pipeline-level variables.

use super::template::{Template, TemplateError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub stages: Vec<Stage>,
    /// `Variables` of a V2 pipeline: name -> default value.
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub category: String,
    pub provider: String,
    /// Values are strings once resolved (`#{...}` variables still in them).
    pub configuration: Map<String, Value>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub namespace: Option<String>,
    pub run_order: u32,
    /// The role CodePipeline acts through (`RoleArn`), and the region the action runs in
    /// (`Region`), when the action names them.
    pub role_arn: Option<String>,
    pub region: Option<String>,
}

impl Action {
    pub fn config(&self, key: &str) -> Option<&str> {
        self.configuration.get(key).and_then(Value::as_str)
    }
}

/// The one pipeline of `template`.
pub fn read(template: &Template) -> Result<Pipeline, TemplateError> {
    let pipelines = template.resources("AWS::CodePipeline::Pipeline")?;
    let Some((id, props)) = pipelines.into_iter().next() else {
        return Err(TemplateError::NoPipeline {
            path: template.path.clone(),
        });
    };
    let bad = |message: String| TemplateError::Intrinsic {
        path: template.path.clone(),
        message: format!("pipeline {id}: {message}"),
    };
    let mut stages = Vec::new();
    for stage in props["Stages"].as_array().into_iter().flatten() {
        let stage_name = stage["Name"].as_str().unwrap_or_default().to_owned();
        let mut actions = Vec::new();
        for a in stage["Actions"].as_array().into_iter().flatten() {
            let type_id = &a["ActionTypeId"];
            let names = |key: &str| -> Vec<String> {
                a[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x["Name"].as_str().map(str::to_owned))
                    .collect()
            };
            let configuration = a["Configuration"]
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(_) => v,
                        Value::Number(n) => Value::String(n.to_string()),
                        Value::Bool(b) => Value::String(b.to_string()),
                        other => Value::String(other.to_string()),
                    };
                    (k, v)
                })
                .collect();
            let action = Action {
                name: a["Name"].as_str().unwrap_or_default().to_owned(),
                category: type_id["Category"].as_str().unwrap_or_default().to_owned(),
                provider: type_id["Provider"].as_str().unwrap_or_default().to_owned(),
                configuration,
                inputs: names("InputArtifacts"),
                outputs: names("OutputArtifacts"),
                namespace: a["Namespace"].as_str().map(str::to_owned),
                run_order: match &a["RunOrder"] {
                    Value::Number(n) => n.as_u64().unwrap_or(1) as u32,
                    Value::String(s) => s.parse().unwrap_or(1),
                    _ => 1,
                },
                role_arn: a["RoleArn"].as_str().map(str::to_owned),
                region: a["Region"].as_str().map(str::to_owned),
            };
            if action.name.is_empty() || action.provider.is_empty() {
                return Err(bad(format!(
                    "stage {stage_name}: an action without Name or ActionTypeId.Provider"
                )));
            }
            actions.push(action);
        }
        stages.push(Stage {
            name: stage_name,
            actions,
        });
    }
    if stages.is_empty() {
        return Err(bad("no Stages".into()));
    }
    let variables = props["Variables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v["Name"].as_str()?.to_owned(),
                v["DefaultValue"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    Ok(Pipeline {
        name: props["Name"].as_str().unwrap_or(&id).to_owned(),
        stages,
        variables,
    })
}

/// Every string in `value` (for finding ARNs and names a template mentions).
pub fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

//! The functions stack (`infra/template.yaml`), read as the example pipelines import it:
//! its exports (function names and ARNs, the alarm prefix) stand in for
//! `Fn::ImportValue`, and each function's environment is the environment its binary runs
//! with in the rehearsal.

use super::template::{Template, TemplateError};
use super::world::{function_binary, parameter_value, pseudo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The stack name the example pipelines default to (`FunctionsStackName`).
pub const DEFAULT_STACK: &str = "ecs-pipeline-actions";

#[derive(Debug, Clone, Default)]
pub struct FunctionsStack {
    /// Export name -> value.
    pub exports: BTreeMap<String, String>,
    /// Function (binary) -> its environment variables.
    pub environments: BTreeMap<String, Vec<(String, String)>>,
}

impl FunctionsStack {
    /// Reads the stack template at `path` (with its parameters' defaults) as stack `name`;
    /// a missing file is an empty stack.
    pub fn read(path: &Path, name: &str) -> Result<Self, TemplateError> {
        Self::read_with(path, name, &BTreeMap::new())
    }

    /// [`FunctionsStack::read`] with `parameters` given values (the rest: their defaults).
    pub fn read_with(
        path: &Path,
        name: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Self, TemplateError> {
        if !path.exists() {
            return Ok(Self::default());
        }
        let (template, _) = Template::read(
            path,
            &pseudo(name),
            |p, decl| {
                parameters
                    .get(p)
                    .cloned()
                    .or_else(|| parameter_value(p, decl))
            },
            |e| e.to_owned(),
        )?;
        let mut stack = Self::default();
        for (_, output) in template.raw["Outputs"].as_object().into_iter().flatten() {
            let Some(export) = output.pointer("/Export/Name") else {
                continue;
            };
            let export = template.resolve(export)?;
            let value = template.resolve(&output["Value"])?;
            if let (Some(e), Some(v)) = (export.as_str(), value.as_str()) {
                stack.exports.insert(e.to_owned(), v.to_owned());
            }
        }
        let globals =
            template.resolve(&template.raw["Globals"]["Function"]["Environment"]["Variables"])?;
        for kind in ["AWS::Serverless::Function", "AWS::Lambda::Function"] {
            for (id, props) in template.resources(kind)? {
                let binary = template.raw["Resources"][&id]
                    .pointer("/Metadata/BuildProperties/Binary")
                    .and_then(Value::as_str)
                    .or_else(|| props["FunctionName"].as_str())
                    .and_then(function_binary)
                    .or_else(|| function_binary(&id));
                let Some(binary) = binary else { continue };
                let mut env: Vec<(String, String)> = Vec::new();
                for vars in [&globals, &props["Environment"]["Variables"]] {
                    for (k, v) in vars.as_object().into_iter().flatten() {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        env.retain(|(name, _)| name != k);
                        env.push((k.clone(), v));
                    }
                }
                stack.environments.insert(binary.to_owned(), env);
            }
        }
        Ok(stack)
    }

    /// What `Fn::ImportValue` of `export` gives.
    pub fn import(&self, export: &str) -> String {
        self.exports
            .get(export)
            .cloned()
            .unwrap_or_else(|| export.to_owned())
    }

    pub fn environment(&self, function: &str) -> Vec<(String, String)> {
        self.environments.get(function).cloned().unwrap_or_default()
    }
}

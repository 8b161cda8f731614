//! Reads a CloudFormation template (YAML with its short-form tags, or JSON) and resolves
//! its intrinsic functions to the rehearsal's local values, so that the pipeline played is
//! the one users deploy.
//!
//! Supported: `Ref`, `Fn::Sub` (both forms), `Fn::GetAtt`, `Fn::ImportValue`, `Fn::Join`,
//! `Fn::Select`, `Fn::Split`, `Fn::If` / `Fn::Equals` / `Fn::Not` / `Fn::And` / `Fn::Or`
//! over the template's `Conditions`, `Fn::FindInMap`, and `AWS::NoValue`. A resource the
//! rehearsal created for real ([`Template::created`]) gives its real values.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a YAML or JSON template: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Intrinsic { path: String, message: String },
    #[error("{path}: no AWS::CodePipeline::Pipeline resource; the rehearsal plays a pipeline")]
    NoPipeline { path: String },
}

/// What `Ref` and `Fn::GetAtt` of a resource created for real give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Physical {
    pub reference: String,
    /// Attribute name -> value.
    pub attributes: BTreeMap<String, String>,
}

/// A template read and its values chosen: parameters, pseudo parameters, exports.
pub struct Template {
    pub path: String,
    pub raw: Value,
    pub values: BTreeMap<String, String>,
    conditions: Map<String, Value>,
    /// Parameters of a list type: `Ref` gives a list.
    lists: Vec<String>,
    /// Stands in for `Fn::ImportValue`: export name -> value.
    imports: BTreeMap<String, String>,
    /// Resources created for real: logical id -> their values.
    physical: BTreeMap<String, Physical>,
}

impl Template {
    /// Reads `path`; `local` gives the value of a parameter (by name, with its
    /// declaration) when the rehearsal has one, else the parameter's default is used.
    pub fn read(
        path: &Path,
        pseudo: &BTreeMap<String, String>,
        local: impl Fn(&str, &Value) -> Option<String>,
        imports: impl Fn(&str) -> String,
    ) -> Result<(Self, Vec<String>), TemplateError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: shown.clone(),
            source,
        })?;
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|e| TemplateError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        let raw = to_json(yaml);
        let mut values = pseudo.clone();
        let mut missing = Vec::new();
        let mut lists = Vec::new();
        for (name, decl) in raw["Parameters"].as_object().into_iter().flatten() {
            let kind = decl["Type"].as_str().unwrap_or_default();
            if kind == "CommaDelimitedList" || kind.starts_with("List<") {
                lists.push(name.clone());
            }
            let value = local(name, decl).or_else(|| match &decl["Default"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            });
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => missing.push(name.clone()),
            }
        }
        let mut template = Self {
            path: shown,
            conditions: raw["Conditions"].as_object().cloned().unwrap_or_default(),
            raw,
            values,
            lists,
            imports: BTreeMap::new(),
            physical: BTreeMap::new(),
        };
        // Exports are resolved lazily through the closure: collect the names used.
        let mut names = Vec::new();
        collect_imports(&template.raw, &mut names);
        for name in names {
            let resolved = template.resolve(&name)?;
            let key = resolved.as_str().unwrap_or_default().to_owned();
            template.imports.insert(key.clone(), imports(&key));
        }
        Ok((template, missing))
    }

    /// The resources of a type that the stack creates (their `Condition` holds), as
    /// (logical id, resolved properties).
    pub fn resources(&self, kind: &str) -> Result<Vec<(String, Value)>, TemplateError> {
        let mut out = Vec::new();
        for (id, resource) in self.raw["Resources"].as_object().into_iter().flatten() {
            let created = match resource["Condition"].as_str() {
                Some(name) => self.condition(name)?,
                None => true,
            };
            if resource["Type"] == kind && created {
                let properties = self.resolve(&resource["Properties"])?;
                out.push((id.clone(), properties));
            }
        }
        Ok(out)
    }

    /// Records resource `id` as created: from now on `Ref` and `Fn::GetAtt` of it give
    /// `physical`'s values.
    pub fn created(&mut self, id: &str, physical: Physical) {
        self.physical.insert(id.to_owned(), physical);
    }

    /// The stack's account and region (`AWS::AccountId`, `AWS::Region`).
    pub fn place(&self) -> (String, String) {
        let value = |k: &str| self.values.get(k).cloned().unwrap_or_default();
        (value("AWS::AccountId"), value("AWS::Region"))
    }

    /// Resolves every intrinsic function in `value`.
    pub fn resolve(&self, value: &Value) -> Result<Value, TemplateError> {
        self.eval(value).map(|v| v.unwrap_or(Value::Null))
    }

    fn error(&self, message: String) -> TemplateError {
        TemplateError::Intrinsic {
            path: self.path.clone(),
            message,
        }
    }

    /// `None` is `AWS::NoValue`: the key or element is left out.
    fn eval(&self, value: &Value) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.eval(item)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(arg),
                    "Fn::Sub" => self.sub(arg).map(Some),
                    "Fn::GetAtt" => self.get_att(arg).map(Some),
                    "Fn::ImportValue" => {
                        let name = self.string(arg)?;
                        Ok(Some(Value::String(
                            self.imports.get(&name).cloned().unwrap_or(name),
                        )))
                    }
                    "Fn::Join" => self.join(arg).map(Some),
                    "Fn::Select" => self.select(arg),
                    "Fn::Split" => {
                        let args = self.args(arg, 2, key)?;
                        let sep = self.string(&args[0])?;
                        let text = self.string(&args[1])?;
                        Ok(Some(json!(text.split(sep.as_str()).collect::<Vec<_>>())))
                    }
                    "Fn::If" => {
                        let args = self.args(arg, 3, key)?;
                        let name = args[0].as_str().unwrap_or_default();
                        let branch = if self.condition(name)? {
                            &args[1]
                        } else {
                            &args[2]
                        };
                        self.eval(branch)
                    }
                    "Fn::FindInMap" => {
                        let args = self.args(arg, 3, key)?;
                        let keys: Vec<String> = args
                            .iter()
                            .map(|a| self.string(a))
                            .collect::<Result<_, _>>()?;
                        let found = &self.raw["Mappings"][&keys[0]][&keys[1]][&keys[2]];
                        if found.is_null() {
                            return Err(self.error(format!("Fn::FindInMap: no {keys:?}")));
                        }
                        self.eval(found)
                    }
                    _ => self.object(map),
                }
            }
            Value::Object(map) => self.object(map),
            other => Ok(Some(other.clone())),
        }
    }

    fn object(&self, map: &Map<String, Value>) -> Result<Option<Value>, TemplateError> {
        let mut out = Map::new();
        for (k, v) in map {
            if let Some(v) = self.eval(v)? {
                out.insert(k.clone(), v);
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn args(&self, arg: &Value, n: usize, name: &str) -> Result<Vec<Value>, TemplateError> {
        match arg {
            Value::Array(items) if items.len() == n => Ok(items.clone()),
            _ => Err(self.error(format!("{name} takes a list of {n}, got {arg}"))),
        }
    }

    fn string(&self, value: &Value) -> Result<String, TemplateError> {
        match self.resolve(value)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(self.error(format!("expected a string, got {other}"))),
        }
    }

    fn reference(&self, arg: &Value) -> Result<Option<Value>, TemplateError> {
        let name = arg.as_str().unwrap_or_default();
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(v) = self.values.get(name) {
            if self.lists.iter().any(|l| l == name) {
                return Ok(Some(json!(v.split(',').map(str::trim).collect::<Vec<_>>())));
            }
            return Ok(Some(Value::String(v.clone())));
        }
        if let Some(created) = self.physical.get(name) {
            return Ok(Some(Value::String(created.reference.clone())));
        }
        if let Some(resource) = self.raw["Resources"].get(name) {
            return Ok(Some(Value::String(self.physical_name(name, resource))));
        }
        Err(self.error(format!(
            "Ref {name}: neither a parameter nor a resource of the template"
        )))
    }

    /// What `Ref` of a resource gives here: its name property when it has one, else the
    /// logical id.
    fn physical_name(&self, id: &str, resource: &Value) -> String {
        let props = &resource["Properties"];
        for key in [
            "Name",
            "FunctionName",
            "AlarmName",
            "ServiceName",
            "ClusterName",
            "RepositoryName",
            "ApplicationName",
            "DeploymentGroupName",
        ] {
            if let Some(v) = props.get(key)
                && let Ok(Value::String(s)) = self.resolve(v)
            {
                return s;
            }
        }
        id.to_owned()
    }

    fn get_att(&self, arg: &Value) -> Result<Value, TemplateError> {
        let (id, attribute) = match arg {
            Value::String(s) => s
                .split_once('.')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .unwrap_or_default(),
            Value::Array(parts) if parts.len() == 2 => {
                (self.string(&parts[0])?, self.string(&parts[1])?)
            }
            _ => return Err(self.error(format!("Fn::GetAtt takes A.B or [A, B], got {arg}"))),
        };
        let Some(resource) = self.raw["Resources"].get(&id) else {
            return Err(self.error(format!("Fn::GetAtt {id}.{attribute}: no resource {id}")));
        };
        if let Some(value) = self
            .physical
            .get(&id)
            .and_then(|p| p.attributes.get(&attribute))
        {
            return Ok(Value::String(value.clone()));
        }
        let name = self.physical_name(&id, resource);
        let (account, region) = self.place();
        let kind = resource["Type"].as_str().unwrap_or_default();
        Ok(Value::String(match (kind, attribute.as_str()) {
            (_, "Arn") if kind.contains("Function") => {
                format!("arn:aws:lambda:{region}:{account}:function:{name}")
            }
            (_, "Arn") if kind.contains("Role") => format!("arn:aws:iam::{account}:role/{name}"),
            (_, "Arn") if kind.contains("Alarm") => {
                format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
            }
            (_, "Arn") => format!("arn:aws:local:{region}:{account}:{id}/{name}"),
            _ => format!("{name}.{attribute}"),
        }))
    }

    fn sub(&self, arg: &Value) -> Result<Value, TemplateError> {
        let (text, vars) = match arg {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(parts) if parts.len() == 2 => (
                self.string(&parts[0])?,
                parts[1].as_object().cloned().unwrap_or_default(),
            ),
            _ => {
                return Err(self.error(format!(
                    "Fn::Sub takes a string or [string, map], got {arg}"
                )));
            }
        };
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(self.error(format!("Fn::Sub: unclosed ${{ in {text:?}")));
            };
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.string(v)?);
            } else if name.contains('.') {
                out.push_str(self.get_att(&json!(name))?.as_str().unwrap_or_default());
            } else {
                let v = self.reference(&json!(name))?.unwrap_or(Value::Null);
                out.push_str(v.as_str().unwrap_or_default());
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }

    fn join(&self, arg: &Value) -> Result<Value, TemplateError> {
        let args = self.args(arg, 2, "Fn::Join")?;
        let sep = self.string(&args[0])?;
        let items = match self.resolve(&args[1])? {
            Value::Array(items) => items,
            other => return Err(self.error(format!("Fn::Join needs a list, got {other}"))),
        };
        let parts: Vec<String> = items
            .iter()
            .map(|i| self.string(i))
            .collect::<Result<_, _>>()?;
        Ok(Value::String(parts.join(&sep)))
    }

    fn select(&self, arg: &Value) -> Result<Option<Value>, TemplateError> {
        let args = self.args(arg, 2, "Fn::Select")?;
        let index: usize = self.string(&args[0])?.parse().unwrap_or(usize::MAX);
        match self.resolve(&args[1])? {
            Value::Array(items) => items
                .get(index)
                .cloned()
                .map(Some)
                .ok_or_else(|| self.error(format!("Fn::Select: no item {index}"))),
            other => Err(self.error(format!("Fn::Select needs a list, got {other}"))),
        }
    }

    fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let Some(cond) = self.conditions.get(name) else {
            return Err(self.error(format!("Fn::If: no condition {name}")));
        };
        self.truth(cond)
    }

    fn truth(&self, cond: &Value) -> Result<bool, TemplateError> {
        let Some((key, arg)) = cond.as_object().and_then(|m| m.iter().next()) else {
            return Err(self.error(format!("a condition must be a function, got {cond}")));
        };
        let list = || arg.as_array().cloned().unwrap_or_default();
        match key.as_str() {
            "Fn::Equals" => {
                let items = list();
                Ok(items.len() == 2 && self.resolve(&items[0])? == self.resolve(&items[1])?)
            }
            "Fn::Not" => Ok(!self.truth(list().first().unwrap_or(&Value::Null))?),
            "Fn::And" => {
                for c in list() {
                    if !self.truth(&c)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "Fn::Or" => {
                for c in list() {
                    if self.truth(&c)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            "Condition" => self.condition(arg.as_str().unwrap_or_default()),
            other => Err(self.error(format!("unknown condition function {other}"))),
        }
    }
}

/// YAML to JSON, each short-form tag as its long form (`!Sub x` -> `{"Fn::Sub": x}`,
/// `!Ref x` -> `{"Ref": x}`, `!GetAtt A.B` -> `{"Fn::GetAtt": "A.B"}`).
pub fn to_json(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                other => format!("Fn::{other}"),
            };
            let mut map = Map::new();
            map.insert(key, to_json(tagged.value));
            Value::Object(map)
        }
    }
}

fn collect_imports(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "Fn::ImportValue" {
                    out.push(v.clone());
                } else {
                    collect_imports(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_imports(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(yaml: &str) -> Template {
        let dir = std::env::temp_dir().join(format!("tpl-{}", crate::job::job_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.yaml");
        std::fs::write(&path, yaml).unwrap();
        let pseudo = BTreeMap::from([
            ("AWS::AccountId".to_owned(), "123456789012".to_owned()),
            ("AWS::Region".to_owned(), "us-east-1".to_owned()),
        ]);
        let (t, missing) = Template::read(
            &path,
            &pseudo,
            |name, _| (name == "Local").then(|| "here".to_owned()),
            |export| format!("imported:{export}"),
        )
        .unwrap();
        assert!(missing.is_empty(), "{missing:?}");
        t
    }

    #[test]
    fn short_and_long_forms_resolve_to_local_values() {
        let t = template(
            r#"
Parameters:
  Service: {Type: String, Default: web}
  Local: {Type: String}
  Env: {Type: String, Default: prod}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Project: {Type: AWS::CodeBuild::Project, Properties: {Name: !Sub "${Service}-build"}}
  Fn: {Type: AWS::Serverless::Function, Properties: {}}
Outputs:
  A: {Value: !Sub "${Service}/${Local}/${AWS::Region}/${!Literal}"}
  B: {Value: !Ref Project}
  C: {Value: !GetAtt Fn.Arn}
  D: {Value: {"Fn::ImportValue": {"Fn::Sub": "${Service}-Gate"}}}
  E: {Value: !Join [":", [a, !Ref Service]]}
  F: {Value: !If [IsProd, yes, no]}
  G: {Value: !Select [1, !Split [",", "x,y,z"]]}
  H: {Value: !Sub ['#{Vars.X} ${Name}', {Name: !Ref Service}]}
"#,
        );
        let out = t.resolve(&t.raw["Outputs"]).unwrap();
        let got: Vec<&str> = ["A", "B", "C", "D", "E", "F", "G", "H"]
            .iter()
            .map(|k| out[k]["Value"].as_str().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "web/here/us-east-1/${Literal}",
                "web-build",
                "arn:aws:lambda:us-east-1:123456789012:function:Fn",
                "imported:web-Gate",
                "a:web",
                "yes",
                "y",
                "#{Vars.X} web"
            ]
        );
    }

    #[test]
    fn a_resource_created_for_real_gives_its_real_values() {
        let mut t = template(
            r#"
Resources:
  Key: {Type: AWS::KMS::Key, Properties: {KeySpec: ECC_NIST_P256}}
Outputs:
  Ref: {Value: !Ref Key}
  Arn: {Value: !GetAtt Key.Arn}
  KeyId: {Value: !GetAtt [Key, KeyId]}
  Sub: {Value: !Sub "awskms:///${Key.Arn}"}
"#,
        );
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let key = super::super::resources::kms_key(
            &json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Arn": arn}),
        )
        .unwrap();
        let before = t.resolve(&t.raw["Outputs"]["Arn"]["Value"]).unwrap();
        assert!(
            before.as_str().unwrap().starts_with("arn:aws:local:"),
            "{before}"
        );
        t.created("Key", key);
        let out = t.resolve(&t.raw["Outputs"]).unwrap();
        let got: Vec<&str> = ["Ref", "Arn", "KeyId", "Sub"]
            .iter()
            .map(|k| out[k]["Value"].as_str().unwrap())
            .collect();
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(got, [id, arn, id, &format!("awskms:///{arn}")]);
    }

    #[test]
    fn an_unknown_reference_is_named() {
        let t = template("Resources: {}\nOutputs: {A: {Value: !Ref Nope}}\n");
        let err = t.resolve(&t.raw["Outputs"]).unwrap_err().to_string();
        assert!(err.contains("Ref Nope"), "{err}");
    }
}

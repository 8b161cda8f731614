//! `appspec.yaml` for the ECS blue/green (CodeDeploy) deploy action: from a template, or
//! generated from the container and port that take the load balancer's traffic.

use crate::config::{AppSpecConfig, AppSpecTaskDefinition, HOOKS};
use crate::edit::SetImage;
use crate::problem::{Problem, list};
use crate::template::{TaskDef, container_names, containers};
use serde_json::Value;

/// The text CodeDeploy's deploy action replaces with the registered task definition.
pub const PLACEHOLDER: &str = "<TASK_DEFINITION>";

/// The container and port behind the load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub container: String,
    pub port: u64,
}

fn ports(c: &Value) -> Vec<u64> {
    c.get("portMappings")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|p| p.get("containerPort")?.as_u64())
                .collect()
        })
        .unwrap_or_default()
}

fn name(c: &Value) -> Option<&str> {
    c.get("name").and_then(Value::as_str)
}

/// Picks the load balancer target: the configured container (and port), else the one
/// container with a port mapping among those whose image this action set, else the one
/// container with a port mapping. `Ok(None)` when it cannot be told and nothing asked for it.
pub fn choose_target(
    doc: &TaskDef,
    cfg: &AppSpecConfig,
    set: &[SetImage],
) -> Result<Option<Target>, Problem> {
    let all = containers(doc);
    if let Some(wanted) = &cfg.container {
        let Some(c) = all.iter().find(|c| name(c) == Some(wanted.as_str())) else {
            return Err(Problem::new(
                "UserParameters.appspec.container",
                format!(
                    "no container is named `{wanted}`; containers: {}",
                    list(container_names(doc))
                ),
            ));
        };
        let port = match (cfg.port, ports(c).first()) {
            (Some(p), _) => u64::from(p),
            (None, Some(p)) => *p,
            (None, None) => {
                return Err(Problem::new(
                    "UserParameters.appspec.port",
                    format!("container `{wanted}` has no portMappings; set `appspec.port`"),
                ));
            }
        };
        return Ok(Some(Target {
            container: wanted.clone(),
            port,
        }));
    }
    let with_port = |c: &&Value| match cfg.port {
        Some(p) => ports(c).contains(&u64::from(p)),
        None => !ports(c).is_empty(),
    };
    let edited: Vec<&Value> = set
        .iter()
        .filter_map(|s| all.get(s.index))
        .filter(with_port)
        .collect();
    let any: Vec<&Value> = all.iter().filter(with_port).collect();
    let chosen = match (edited.as_slice(), any.as_slice()) {
        ([one], _) | (_, [one]) => Some(*one),
        _ => None,
    };
    match chosen.and_then(|c| Some((name(c)?, ports(c)))) {
        Some((container, p)) => Ok(Some(Target {
            container: container.to_owned(),
            port: cfg
                .port
                .map(u64::from)
                .or(p.first().copied())
                .unwrap_or_default(),
        })),
        None if cfg.port.is_some() || cfg.platform_version.is_some() || !cfg.hooks.is_empty() => {
            Err(Problem::new(
                "UserParameters.appspec.container",
                format!(
                    "cannot tell which container takes the load balancer's traffic ({} have port mappings); set `appspec.container`",
                    list(any.iter().filter_map(|c| name(c)))
                ),
            ))
        }
        None => Ok(None),
    }
}

/// A generated `appspec.yaml`. `task_definition` is the ARN to write, or `None` to keep
/// the placeholder for CodeDeploy.
pub fn generate(target: &Target, cfg: &AppSpecConfig, task_definition: Option<&str>) -> String {
    let mut out = String::from(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n",
    );
    out.push_str(&format!(
        "        TaskDefinition: {}\n",
        task_definition.map_or_else(|| PLACEHOLDER.to_owned(), quote)
    ));
    out.push_str("        LoadBalancerInfo:\n");
    out.push_str(&format!(
        "          ContainerName: {}\n",
        quote(&target.container)
    ));
    out.push_str(&format!("          ContainerPort: {}\n", target.port));
    if let Some(v) = &cfg.platform_version {
        out.push_str(&format!("        PlatformVersion: {}\n", quote(v)));
    }
    out.push_str(&hooks_section(cfg));
    out
}

/// How `appspec.yaml` is made: checked before anything is registered, written after.
#[derive(Debug, Clone, PartialEq)]
pub enum AppSpec {
    /// The user's template.
    Template(Template),
    /// Generated for the container and port behind the load balancer.
    Generated(Target),
}

impl AppSpec {
    /// The appspec to write: the template when there is one, else one generated for the
    /// target [`choose_target`] finds; `None` when neither is given nor can be told.
    pub fn plan(
        doc: &TaskDef,
        cfg: &AppSpecConfig,
        set: &[SetImage],
        template: Option<(String, String)>,
    ) -> Result<Option<Self>, Problem> {
        Ok(match template {
            Some((label, text)) => Some(Self::Template(Template::parse(&label, &text, cfg)?)),
            None => choose_target(doc, cfg, set)?.map(Self::Generated),
        })
    }

    /// The text to write. `registered` is the registered ARN, written when the
    /// configuration asks for it; otherwise the placeholder stays for CodeDeploy.
    pub fn text(&self, cfg: &AppSpecConfig, registered: Option<&str>) -> String {
        let arn = match cfg.task_definition {
            AppSpecTaskDefinition::Registered => registered,
            AppSpecTaskDefinition::Placeholder => None,
        };
        match self {
            Self::Template(template) => template.fill(cfg, arn),
            Self::Generated(target) => generate(target, cfg, arn),
        }
    }
}

/// An appspec template, checked: it holds the placeholder, and no `Hooks` of its own when
/// hooks are configured. A template may be YAML or JSON (CodeDeploy reads both).
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// YAML text, kept as it is written (without a byte order mark).
    Yaml(String),
    /// A JSON document: edited as JSON, written back as JSON.
    Json(Value),
}

impl Template {
    /// Checks the template `text`; `path` names it in the problem.
    pub fn parse(path: &str, text: &str, cfg: &AppSpecConfig) -> Result<Self, Problem> {
        let text = text.trim_start_matches('\u{feff}');
        if text.trim_start().starts_with('{') {
            let doc: Value = serde_json::from_str(text)
                .map_err(|e| Problem::new(path, format!("is not valid JSON ({e})")))?;
            if !holds_placeholder(&doc) {
                return Err(no_placeholder(path));
            }
            if !cfg.hooks.is_empty() {
                let Some(map) = doc.as_object() else {
                    return Err(Problem::new(path, "is not a JSON object"));
                };
                if map.contains_key("Hooks") {
                    return Err(hooks_twice(path));
                }
            }
            return Ok(Self::Json(doc));
        }
        if !text.contains(PLACEHOLDER) {
            return Err(no_placeholder(path));
        }
        if !cfg.hooks.is_empty() && text.lines().any(|l| l.starts_with("Hooks:")) {
            return Err(hooks_twice(path));
        }
        Ok(Self::Yaml(text.to_owned()))
    }

    /// The template with the placeholder filled when `task_definition` is given and the
    /// configured hooks added.
    pub fn fill(&self, cfg: &AppSpecConfig, task_definition: Option<&str>) -> String {
        match self {
            Self::Yaml(text) => fill_yaml(text, cfg, task_definition),
            Self::Json(doc) => fill_json(doc.clone(), cfg, task_definition),
        }
    }
}

fn fill_yaml(text: &str, cfg: &AppSpecConfig, task_definition: Option<&str>) -> String {
    let mut out = text.to_owned();
    if let Some(arn) = task_definition {
        // A quoted placeholder is replaced quotes and all, so the ARN is quoted once.
        for quoted in [format!("\"{PLACEHOLDER}\""), format!("'{PLACEHOLDER}'")] {
            out = out.replace(&quoted, &quote(arn));
        }
        out = out.replace(PLACEHOLDER, &quote(arn));
    }
    if !cfg.hooks.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&hooks_section(cfg));
    }
    out
}

fn fill_json(mut doc: Value, cfg: &AppSpecConfig, task_definition: Option<&str>) -> String {
    if let Some(arn) = task_definition {
        fill_placeholder(&mut doc, arn);
    }
    // A template with hooks to add is an object (checked by `Template::parse`).
    if let Some(map) = doc.as_object_mut().filter(|_| !cfg.hooks.is_empty()) {
        let hooks: Vec<Value> = HOOKS
            .iter()
            .flat_map(|hook| cfg.hooks.0.iter().filter(move |(n, _)| n == hook))
            .map(|(name, function)| serde_json::json!({ name.as_str(): function }))
            .collect();
        map.insert("Hooks".to_owned(), Value::Array(hooks));
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// Whether any string of a JSON document holds the placeholder.
fn holds_placeholder(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(PLACEHOLDER),
        Value::Array(items) => items.iter().any(holds_placeholder),
        Value::Object(map) => map.values().any(holds_placeholder),
        _ => false,
    }
}

/// Replaces the placeholder in every string of a JSON document.
fn fill_placeholder(v: &mut Value, arn: &str) {
    match v {
        Value::String(s) if s.contains(PLACEHOLDER) => *s = s.replace(PLACEHOLDER, arn),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| fill_placeholder(item, arn)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|item| fill_placeholder(item, arn)),
        _ => {}
    }
}

fn no_placeholder(path: &str) -> Problem {
    Problem::new(
        path,
        format!(
            "has no `{PLACEHOLDER}` to fill with the registered task definition; put `TaskDefinition: {PLACEHOLDER}` in it"
        ),
    )
}

fn hooks_twice(path: &str) -> Problem {
    Problem::new(
        path,
        "already has `Hooks`; put the hooks in the template or in UserParameters.appspec.hooks, not both",
    )
}

/// `Hooks:` in lifecycle order, or nothing.
fn hooks_section(cfg: &AppSpecConfig) -> String {
    if cfg.hooks.is_empty() {
        return String::new();
    }
    let mut out = String::from("Hooks:\n");
    for hook in HOOKS {
        for (name, function) in cfg.hooks.0.iter().filter(|(n, _)| n == hook) {
            out.push_str(&format!("  - {name}: {}\n", quote(function)));
        }
    }
    out
}

/// A YAML double-quoted scalar: safe for any text.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::ImageRef;
    use crate::template::tests_support::doc;
    use serde_json::json;

    fn cfg(json: &str) -> AppSpecConfig {
        serde_json::from_str(json).unwrap()
    }

    /// A template checked, then filled.
    fn from_template(
        path: &str,
        text: &str,
        cfg: &AppSpecConfig,
        task_definition: Option<&str>,
    ) -> Result<String, Problem> {
        Template::parse(path, text, cfg).map(|t| t.fill(cfg, task_definition))
    }

    fn set(index: usize) -> SetImage {
        SetImage {
            index,
            container: String::new(),
            image: ImageRef::from_uri("x"),
            source: String::new(),
        }
    }

    fn sidecars() -> TaskDef {
        doc(json!({"containerDefinitions": [
            {"name": "envoy", "image": "e", "portMappings": [{"containerPort": 9901}]},
            {"name": "app", "image": "a", "portMappings": [{"containerPort": 8080}, {"containerPort": 8081}]},
            {"name": "log", "image": "l"}
        ]}))
    }

    #[test]
    fn target_from_the_edited_container() {
        let t = choose_target(&sidecars(), &cfg("{}"), &[set(1), set(2)]).unwrap();
        assert_eq!(
            t,
            Some(Target {
                container: "app".into(),
                port: 8080
            })
        );
    }

    #[test]
    fn target_by_port_or_name() {
        let t = choose_target(&sidecars(), &cfg(r#"{"port": 9901}"#), &[]).unwrap();
        assert_eq!(
            t,
            Some(Target {
                container: "envoy".into(),
                port: 9901
            })
        );
        let t = choose_target(
            &sidecars(),
            &cfg(r#"{"container": "app", "port": 8081}"#),
            &[],
        )
        .unwrap();
        assert_eq!(
            t,
            Some(Target {
                container: "app".into(),
                port: 8081
            })
        );
        let t = choose_target(&sidecars(), &cfg(r#"{"container": "envoy"}"#), &[]).unwrap();
        assert_eq!(t.unwrap().port, 9901);
    }

    #[test]
    fn undecidable_target() {
        assert_eq!(choose_target(&sidecars(), &cfg("{}"), &[]).unwrap(), None);
        let e = choose_target(
            &sidecars(),
            &cfg(r#"{"hooks": {"BeforeInstall": "f"}}"#),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "cannot tell which container takes the load balancer's traffic (`envoy`, `app` have port mappings); set `appspec.container`"
        );
        let e = choose_target(&sidecars(), &cfg(r#"{"container": "web"}"#), &[]).unwrap_err();
        assert_eq!(
            e.message,
            "no container is named `web`; containers: `envoy`, `app`, `log`"
        );
        let e = choose_target(&sidecars(), &cfg(r#"{"container": "log"}"#), &[]).unwrap_err();
        assert_eq!(e.path, "UserParameters.appspec.port");
    }

    #[test]
    fn generated_with_placeholder_and_hooks() {
        let c = cfg(
            r#"{"platformVersion": "LATEST", "hooks": {"AfterAllowTraffic": "after", "AfterAllowTestTraffic": "arn:aws:lambda:eu-west-1:1:function:gate"}}"#,
        );
        let text = generate(
            &Target {
                container: "app".into(),
                port: 8080,
            },
            &c,
            None,
        );
        assert_eq!(
            text,
            "version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: \"app\"
          ContainerPort: 8080
        PlatformVersion: \"LATEST\"
Hooks:
  - AfterAllowTestTraffic: \"arn:aws:lambda:eu-west-1:1:function:gate\"
  - AfterAllowTraffic: \"after\"
"
        );
    }

    #[test]
    fn generated_with_the_registered_arn() {
        let arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42";
        let text = generate(
            &Target {
                container: "app".into(),
                port: 80,
            },
            &cfg("{}"),
            Some(arn),
        );
        assert!(text.contains(&format!("TaskDefinition: \"{arn}\"\n")));
        assert!(!text.contains("Hooks"));
    }

    #[test]
    fn template_kept_filled_or_extended() {
        let t = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n          ContainerName: app\n          ContainerPort: 80";
        assert_eq!(
            from_template("appspec.yaml", t, &cfg("{}"), None).unwrap(),
            t
        );
        let filled = from_template(
            "appspec.yaml",
            t,
            &cfg(r#"{"hooks": {"BeforeInstall": "f"}}"#),
            Some("arn:x"),
        )
        .unwrap();
        assert!(filled.contains("TaskDefinition: \"arn:x\"\n"));
        assert!(
            filled.ends_with("ContainerPort: 80\nHooks:\n  - BeforeInstall: \"f\"\n"),
            "{filled}"
        );
        let with_hooks = format!("{t}\nHooks:\n  - BeforeInstall: g\n");
        let e = from_template(
            "a.yaml",
            &with_hooks,
            &cfg(r#"{"hooks": {"BeforeInstall": "f"}}"#),
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("already has `Hooks`"));
        let e = from_template("a.yaml", "version: 0.0\n", &cfg("{}"), Some("arn:x")).unwrap_err();
        assert!(e.message.contains("has no `<TASK_DEFINITION>`"));
    }

    #[test]
    fn quoted_placeholders_are_filled_once_quoted() {
        for t in [
            "TaskDefinition: \"<TASK_DEFINITION>\"\n",
            "TaskDefinition: '<TASK_DEFINITION>'\n",
            "TaskDefinition: <TASK_DEFINITION>\n",
        ] {
            let out = from_template("a.yaml", t, &cfg("{}"), Some("arn:x")).unwrap();
            assert_eq!(out, "TaskDefinition: \"arn:x\"\n", "{t}");
        }
    }

    #[test]
    fn json_templates_stay_json() {
        let t = r#"{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service",
            "Properties": {"TaskDefinition": "<TASK_DEFINITION>",
            "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80}}}}]}"#;
        let out = from_template(
            "appspec.json",
            t,
            &cfg(r#"{"hooks": {"AfterAllowTestTraffic": "gate", "BeforeInstall": "f"}}"#),
            Some("arn:x"),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"],
            "arn:x"
        );
        assert_eq!(
            v["Hooks"],
            json!([{"BeforeInstall": "f"}, {"AfterAllowTestTraffic": "gate"}])
        );
        let with_hooks = r#"{"version": 0.0, "Resources": [{"TargetService": {"Properties": {"TaskDefinition": "<TASK_DEFINITION>"}}}], "Hooks": []}"#;
        let e = from_template(
            "a.json",
            with_hooks,
            &cfg(r#"{"hooks": {"BeforeInstall": "f"}}"#),
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("already has `Hooks`"));
        let e = from_template("a.json", "{not json", &cfg("{}"), None).unwrap_err();
        assert!(e.message.contains("not valid JSON"));
    }

    #[test]
    fn the_registered_arn_is_written_only_when_asked() {
        let target = AppSpec::Generated(Target {
            container: "app".into(),
            port: 80,
        });
        let template = AppSpec::Template(
            Template::parse("a.yaml", "TaskDefinition: <TASK_DEFINITION>\n", &cfg("{}")).unwrap(),
        );
        let cases = [
            ("{}", Some("arn:x"), "TaskDefinition: <TASK_DEFINITION>\n"),
            (
                r#"{"taskDefinition": "registered"}"#,
                Some("arn:x"),
                "TaskDefinition: \"arn:x\"\n",
            ),
            (
                r#"{"taskDefinition": "registered"}"#,
                None,
                "TaskDefinition: <TASK_DEFINITION>\n",
            ),
        ];
        for (c, registered, want) in cases {
            for plan in [&target, &template] {
                let text = plan.text(&cfg(c), registered);
                assert!(text.contains(want), "{c} {registered:?}: {text}");
            }
        }
    }

    #[test]
    fn a_template_without_the_placeholder_is_refused_in_either_mode() {
        for c in ["{}", r#"{"taskDefinition": "registered"}"#] {
            for (path, text) in [
                ("a.yaml", "version: 0.0\n"),
                ("a.json", r#"{"version": 0.0}"#),
            ] {
                let e = Template::parse(path, text, &cfg(c)).unwrap_err();
                assert!(
                    e.message.contains("has no `<TASK_DEFINITION>`"),
                    "{c} {path}"
                );
            }
        }
    }

    #[test]
    fn quoting_is_safe() {
        assert_eq!(quote("a\"b\\c\nd: #e"), "\"a\\\"b\\\\c\\nd: #e\"");
        assert_eq!(quote("\u{1}"), "\"\\u0001\"");
        assert_eq!(quote(""), "\"\"");
    }
}

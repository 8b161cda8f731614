//! Edits on the task definition JSON. Only the fields named are touched; everything else,
//! including fields newer than any SDK model, passes through as it was, in its order.

use crate::config::{Config, OrderedMap, PerContainer};
use crate::images::{Assignment, ImageRef};
use crate::problem::{Problem, list};
use crate::template::{TaskDef, container_names, containers};
use serde_json::{Map, Value};

/// An image this action set on a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetImage {
    /// Index in `containerDefinitions`.
    pub index: usize,
    pub container: String,
    pub image: ImageRef,
    /// Where the image was given (`imagedefinitions.json[0]`, `UserParameters.images.app`).
    pub source: String,
}

/// A placeholder such as `<IMAGE1_NAME>`: the whole value in angle brackets.
pub fn is_placeholder(image: &str) -> bool {
    image.len() > 2
        && image.starts_with('<')
        && image.ends_with('>')
        && !image[1..image.len() - 1].contains(['<', '>'])
}

/// The distinct placeholder images in the template, in order.
pub fn placeholders(doc: &TaskDef) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in containers(doc) {
        if let Some(image) = c.get("image").and_then(Value::as_str)
            && is_placeholder(image)
            && !out.contains(&image)
        {
            out.push(image);
        }
    }
    out
}

/// The containers an image key designates: `<X>` is a placeholder; otherwise a container
/// name, else the placeholder `<key>` (so `IMAGE1_NAME` works without brackets).
fn resolve(doc: &TaskDef, key: &str) -> Vec<usize> {
    let by_image = |image: &str| -> Vec<usize> {
        containers(doc)
            .iter()
            .enumerate()
            .filter(|(_, c)| c.get("image").and_then(Value::as_str) == Some(image))
            .map(|(i, _)| i)
            .collect()
    };
    if is_placeholder(key) {
        return by_image(key);
    }
    if let Some(i) = containers(doc)
        .iter()
        .position(|c| c.get("name").and_then(Value::as_str) == Some(key))
    {
        return vec![i];
    }
    by_image(&format!("<{key}>"))
}

/// Sets the images. Every assignment is resolved against the template as given; a later
/// assignment to the same container wins. All unknown names are reported together.
pub fn apply_images(
    doc: &mut TaskDef,
    assignments: &[Assignment],
) -> Result<Vec<SetImage>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut resolved: Vec<(usize, &Assignment)> = Vec::new();
    for a in assignments {
        let targets = resolve(doc, &a.key);
        if targets.is_empty() {
            problems.push(Problem::new(
                &a.source,
                format!(
                    "no container is named `{}` and no image is the placeholder `<{}>`; containers: {}; placeholders: {}",
                    a.key,
                    a.key.trim_start_matches('<').trim_end_matches('>'),
                    list(container_names(doc)),
                    list(placeholders(doc)),
                ),
            ));
        }
        resolved.extend(targets.into_iter().map(|i| (i, a)));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut set: Vec<SetImage> = Vec::new();
    let Some(list) = doc
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    else {
        return Ok(set);
    };
    for (index, a) in resolved {
        let Some(container) = list.get_mut(index).and_then(Value::as_object_mut) else {
            continue;
        };
        container.insert("image".to_owned(), Value::String(a.image.uri.clone()));
        let name = container
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let entry = SetImage {
            index,
            container: name,
            image: a.image.clone(),
            source: a.source.clone(),
        };
        match set.iter_mut().find(|s| s.index == index) {
            Some(existing) => *existing = entry,
            None => set.push(entry),
        }
    }
    set.sort_by_key(|s| s.index);
    Ok(set)
}

/// Applies the container edits and the role ARNs of `cfg`; returns every problem found.
pub fn apply_edits(doc: &mut TaskDef, cfg: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let names: Vec<String> = container_names(doc)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let index_of = |doc: &TaskDef, name: &str| {
        containers(doc)
            .iter()
            .position(|c| c.get("name").and_then(Value::as_str) == Some(name))
    };
    let unknown = |key: &str, name: &str| {
        Problem::new(
            format!("UserParameters.{key}.{name}"),
            format!(
                "no container is named `{name}`; containers: {}",
                list(&names)
            ),
        )
    };

    let named_lists: [(&str, &str, &PerContainer, &str); 2] = [
        ("environment", "environment", &cfg.environment, "value"),
        ("secrets", "secrets", &cfg.secrets, "valueFrom"),
    ];
    for (key, field, by_container, value_field) in named_lists {
        for (name, entries) in &by_container.0 {
            let Some(i) = index_of(doc, name) else {
                problems.push(unknown(key, name));
                continue;
            };
            let path = format!("containerDefinitions[{i}].{field}");
            if let Some(c) = container_mut(doc, i)
                && let Err(p) = set_named_list(c, field, value_field, entries, &path)
            {
                problems.push(p);
            }
        }
    }

    for (name, entries) in &cfg.docker_labels.0 {
        let Some(i) = index_of(doc, name) else {
            problems.push(unknown("dockerLabels", name));
            continue;
        };
        let path = format!("containerDefinitions[{i}].dockerLabels");
        if let Some(c) = container_mut(doc, i)
            && let Err(p) = set_map(c, "dockerLabels", entries, &path, true)
        {
            problems.push(p);
        }
    }

    for (name, entries) in &cfg.log_options.0 {
        let Some(i) = index_of(doc, name) else {
            problems.push(unknown("logOptions", name));
            continue;
        };
        let path = format!("containerDefinitions[{i}].logConfiguration");
        let Some(c) = container_mut(doc, i) else {
            continue;
        };
        match c.get_mut("logConfiguration") {
            Some(Value::Object(log)) => {
                if let Err(p) = set_map(log, "options", entries, &format!("{path}.options"), true) {
                    problems.push(p);
                }
            }
            Some(_) => problems.push(Problem::new(path, "is not an object")),
            None => problems.push(Problem::new(
                path,
                format!(
                    "container `{name}` has no logConfiguration, so logOptions has nothing to change; add a logConfiguration with a logDriver to the template"
                ),
            )),
        }
    }

    for (name, command) in &cfg.command.0 {
        let Some(i) = index_of(doc, name) else {
            problems.push(unknown("command", name));
            continue;
        };
        let Some(c) = container_mut(doc, i) else {
            continue;
        };
        match command {
            Some(args) => {
                let args = args.iter().cloned().map(Value::String).collect();
                c.insert("command".to_owned(), Value::Array(args));
            }
            None => {
                c.shift_remove("command");
            }
        }
    }

    for (field, value) in [
        ("taskRoleArn", &cfg.task_role_arn),
        ("executionRoleArn", &cfg.execution_role_arn),
    ] {
        match value.as_deref() {
            Some("") => {
                doc.shift_remove(field);
            }
            Some(arn) => {
                doc.insert(field.to_owned(), Value::String(arn.to_owned()));
            }
            None => {}
        }
    }
    problems
}

fn container_mut(doc: &mut TaskDef, index: usize) -> Option<&mut Map<String, Value>> {
    doc.get_mut("containerDefinitions")?
        .as_array_mut()?
        .get_mut(index)?
        .as_object_mut()
}

/// `[{"name": k, value_field: v}]`: set the first entry named `k` (later duplicates are
/// dropped, so the result is unambiguous), append when absent, `None` removes.
fn set_named_list(
    container: &mut Map<String, Value>,
    field: &str,
    value_field: &str,
    entries: &OrderedMap<Option<String>>,
    path: &str,
) -> Result<(), Problem> {
    let list = container
        .entry(field.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = list else {
        return Err(Problem::new(path, "is not a list"));
    };
    for (key, value) in &entries.0 {
        let named = |e: &Value| e.get("name").and_then(Value::as_str) == Some(key.as_str());
        match value {
            None => list.retain(|e| !named(e)),
            Some(v) => match list.iter().position(named) {
                Some(first) => {
                    if let Some(obj) = list[first].as_object_mut() {
                        obj.insert(value_field.to_owned(), Value::String(v.clone()));
                    }
                    let mut seen = 0usize;
                    list.retain(|e| {
                        if named(e) {
                            seen += 1;
                            seen == 1
                        } else {
                            true
                        }
                    });
                }
                None => {
                    let mut entry = Map::new();
                    entry.insert("name".to_owned(), Value::String(key.clone()));
                    entry.insert(value_field.to_owned(), Value::String(v.clone()));
                    list.push(Value::Object(entry));
                }
            },
        }
    }
    Ok(())
}

/// `{k: v}`: set or override, `None` removes.
fn set_map(
    parent: &mut Map<String, Value>,
    field: &str,
    entries: &OrderedMap<Option<String>>,
    path: &str,
    create: bool,
) -> Result<(), Problem> {
    if !parent.contains_key(field) {
        if !create || entries.0.iter().all(|(_, v)| v.is_none()) {
            return Ok(());
        }
        parent.insert(field.to_owned(), Value::Object(Map::new()));
    }
    let Some(Value::Object(map)) = parent.get_mut(field) else {
        return Err(Problem::new(path, "is not an object"));
    };
    for (key, value) in &entries.0 {
        match value {
            Some(v) => {
                map.insert(key.clone(), Value::String(v.clone()));
            }
            None => {
                map.shift_remove(key);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::tests_support::doc;
    use serde_json::json;

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    fn assign(key: &str, uri: &str) -> Assignment {
        Assignment {
            key: key.into(),
            image: ImageRef::from_uri(uri),
            source: format!("UserParameters.images.{key}"),
        }
    }

    fn two() -> TaskDef {
        doc(json!({
            "family": "web",
            "containerDefinitions": [
                {"name": "app", "image": "<IMAGE1_NAME>", "essential": true},
                {"name": "envoy", "image": "<IMAGE2_NAME>", "futureField": {"x": [1, 2]}},
                {"name": "log", "image": "fluent/fluent-bit:3"}
            ]
        }))
    }

    #[test]
    fn images_by_name_and_placeholder() {
        let mut d = two();
        let set = apply_images(
            &mut d,
            &[
                assign("IMAGE2_NAME", "envoy:1"),
                assign("app", "web:2"),
                assign("<IMAGE1_NAME>", "web:3"),
            ],
        )
        .unwrap();
        let c = containers(&d);
        assert_eq!(c[0]["image"], "web:3", "the later assignment wins");
        assert_eq!(c[1]["image"], "envoy:1");
        assert_eq!(c[1]["futureField"], json!({"x": [1, 2]}));
        assert_eq!(c[2]["image"], "fluent/fluent-bit:3");
        assert_eq!(set.len(), 2);
        assert_eq!((set[0].index, set[0].container.as_str()), (0, "app"));
        assert_eq!(set[0].source, "UserParameters.images.<IMAGE1_NAME>");
    }

    #[test]
    fn one_placeholder_in_several_containers() {
        let mut d = doc(json!({"containerDefinitions": [
            {"name": "a", "image": "<IMAGE1_NAME>"}, {"name": "b", "image": "<IMAGE1_NAME>"}]}));
        let set = apply_images(&mut d, &[assign("IMAGE1_NAME", "x:1")]).unwrap();
        assert_eq!(set.len(), 2);
        assert!(containers(&d).iter().all(|c| c["image"] == "x:1"));
    }

    #[test]
    fn unknown_names_list_what_exists() {
        let mut d = two();
        let before = d.clone();
        let e = apply_images(
            &mut d,
            &[
                assign("web", "x"),
                assign("app", "y"),
                assign("<IMAGE9_NAME>", "z"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, "UserParameters.images.web");
        assert_eq!(
            e[0].message,
            "no container is named `web` and no image is the placeholder `<web>`; containers: `app`, `envoy`, `log`; placeholders: `<IMAGE1_NAME>`, `<IMAGE2_NAME>`"
        );
        assert!(e[1].message.contains("`<IMAGE9_NAME>`"));
        assert_eq!(d, before, "nothing is changed when a name is wrong");
    }

    #[test]
    fn environment_set_override_remove_lossless() {
        let mut d = doc(
            json!({"containerDefinitions": [{"name": "app", "image": "x", "environment": [
                {"name": "KEEP", "value": "1"},
                {"name": "OVER", "value": "old"},
                {"name": "GONE", "value": "x"},
                {"name": "OVER", "value": "dup"},
                {"name": "EMPTY", "value": ""}
            ]}]}),
        );
        let c = cfg(
            r#"{"environment": {"app": {"OVER": "new", "GONE": null, "EQ": "a=b=c", "BLANK": "", "MISSING": null}}}"#,
        );
        assert!(apply_edits(&mut d, &c).is_empty());
        assert_eq!(
            containers(&d)[0]["environment"],
            json!([
                {"name": "KEEP", "value": "1"},
                {"name": "OVER", "value": "new"},
                {"name": "EMPTY", "value": ""},
                {"name": "EQ", "value": "a=b=c"},
                {"name": "BLANK", "value": ""}
            ])
        );
    }

    #[test]
    fn environment_and_secrets_are_created_when_absent() {
        let mut d = two();
        let c = cfg(
            r#"{"environment": {"envoy": {"A": "1"}}, "secrets": {"envoy": {"S": "arn:aws:ssm:eu-west-1:1:parameter/s"}}}"#,
        );
        assert!(apply_edits(&mut d, &c).is_empty());
        let envoy = &containers(&d)[1];
        assert_eq!(envoy["environment"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(
            envoy["secrets"],
            json!([{"name": "S", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/s"}])
        );
        let keys: Vec<&String> = envoy.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["name", "image", "futureField", "environment", "secrets"]
        );
    }

    #[test]
    fn log_options_labels_command_roles() {
        let mut d = doc(json!({
            "family": "web", "taskRoleArn": "old", "executionRoleArn": "keep",
            "containerDefinitions": [{"name": "app", "image": "x",
                "command": ["a"],
                "dockerLabels": {"a": "1", "b": "2"},
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/g", "mode": "x"}, "secretOptions": []}},
                {"name": "side", "image": "y", "command": ["z"]}]
        }));
        let c = cfg(
            r#"{"logOptions": {"app": {"tag": "", "mode": null, "awslogs-group": "/new"}},
                "dockerLabels": {"app": {"b": null, "c": "x=y"}, "side": {"n": "1"}},
                "command": {"app": ["sh", "-c", "echo \"a b\" && run --x=1"], "side": null},
                "taskRoleArn": "arn:aws:iam::1:role/t", "executionRoleArn": ""}"#,
        );
        assert!(apply_edits(&mut d, &c).is_empty());
        let app = &containers(&d)[0];
        assert_eq!(
            app["logConfiguration"],
            json!({"logDriver": "awslogs", "options": {"awslogs-group": "/new", "tag": ""}, "secretOptions": []})
        );
        assert_eq!(app["dockerLabels"], json!({"a": "1", "c": "x=y"}));
        assert_eq!(
            app["command"],
            json!(["sh", "-c", "echo \"a b\" && run --x=1"])
        );
        let side = &containers(&d)[1];
        assert_eq!(side.get("command"), None);
        assert_eq!(side["dockerLabels"], json!({"n": "1"}));
        assert_eq!(d["taskRoleArn"], "arn:aws:iam::1:role/t");
        assert_eq!(d.get("executionRoleArn"), None);
        let keys: Vec<&String> = d.keys().collect();
        assert_eq!(keys, ["family", "taskRoleArn", "containerDefinitions"]);
    }

    #[test]
    fn removing_labels_that_do_not_exist_adds_nothing() {
        let mut d = two();
        let c = cfg(r#"{"dockerLabels": {"app": {"x": null}}}"#);
        assert!(apply_edits(&mut d, &c).is_empty());
        assert_eq!(containers(&d)[0].get("dockerLabels"), None);
    }

    #[test]
    fn every_edit_problem_is_reported() {
        let mut d = doc(json!({"containerDefinitions": [
            {"name": "app", "image": "x", "environment": {"A": "1"}},
            {"name": "side", "image": "y", "logConfiguration": "awslogs"}]}));
        let c = cfg(r#"{"environment": {"app": {"A": "2"}, "web": {"A": "1"}},
                "secrets": {"ghost": {}}, "logOptions": {"side": {"a": "b"}, "app": {"a": "b"}},
                "dockerLabels": {"nope": {}}, "command": {"who": null}}"#);
        let problems = apply_edits(&mut d, &c);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "containerDefinitions[0].environment: is not a list",
                "UserParameters.environment.web: no container is named `web`; containers: `app`, `side`",
                "UserParameters.secrets.ghost: no container is named `ghost`; containers: `app`, `side`",
                "UserParameters.dockerLabels.nope: no container is named `nope`; containers: `app`, `side`",
                "containerDefinitions[1].logConfiguration: is not an object",
                "containerDefinitions[0].logConfiguration: container `app` has no logConfiguration, so logOptions has nothing to change; add a logConfiguration with a logDriver to the template",
                "UserParameters.command.who: no container is named `who`; containers: `app`, `side`",
            ]
        );
    }

    #[test]
    fn placeholder_detection() {
        assert!(is_placeholder("<IMAGE1_NAME>"));
        assert!(is_placeholder("<MY_APP>"));
        assert!(!is_placeholder("<>"));
        assert!(!is_placeholder("web:<tag>"));
        assert!(!is_placeholder("<a><b>"));
        assert_eq!(placeholders(&two()), ["<IMAGE1_NAME>", "<IMAGE2_NAME>"]);
    }
}

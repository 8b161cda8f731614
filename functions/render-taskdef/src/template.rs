//! The task definition template: a file, or a described task definition, as JSON.

use crate::problem::Problem;
use serde_json::{Map, Value};
use shared::json::{self, JsonError, JsonLimits};

pub use shared::ecs::DESCRIBE_ONLY;

/// A task definition document, ready to edit.
pub type TaskDef = Map<String, Value>;

/// Parses a template. `source` names it in messages. Accepts the `{"taskDefinition": {...}}`
/// wrapper that describe-task-definition prints (its `tags` are kept) and strips the
/// describe-only fields. Returns the document and the names of the fields stripped.
pub fn parse(source: &str, bytes: &[u8]) -> Result<(TaskDef, Vec<String>), Problem> {
    let value = json::parse(bytes, &JsonLimits::default()).map_err(|e| not_json(source, &e))?;
    from_value(source, value)
}

/// Why a template's text is not JSON, said for a template.
pub fn not_json(source: &str, e: &JsonError) -> Problem {
    match e {
        JsonError::Empty => Problem::new(
            source,
            "is empty; expected a task definition JSON object with `family` and `containerDefinitions`",
        ),
        other => Problem::new(source, other.to_string()),
    }
}

/// A template already parsed as JSON: see [`parse`].
pub fn from_value(source: &str, value: Value) -> Result<(TaskDef, Vec<String>), Problem> {
    let Value::Object(obj) = value else {
        return Err(Problem::new(
            source,
            "is not a JSON object; expected a task definition with `family` and `containerDefinitions`",
        ));
    };
    let mut doc = unwrap(obj);
    let stripped = strip_describe_only(&mut doc);
    Ok((doc, stripped))
}

/// `{"taskDefinition": {...}, "tags": [...]}` to the inner object (with the tags).
fn unwrap(mut obj: TaskDef) -> TaskDef {
    let is_wrapper = matches!(obj.get("taskDefinition"), Some(Value::Object(_)))
        && !obj.contains_key("containerDefinitions")
        && !obj.contains_key("family");
    if !is_wrapper {
        return obj;
    }
    let tags = obj.remove("tags");
    let Some(Value::Object(mut inner)) = obj.remove("taskDefinition") else {
        return obj;
    };
    if let Some(tags @ Value::Array(_)) = tags
        && tags.as_array().is_some_and(|t| !t.is_empty())
        && !inner.contains_key("tags")
    {
        inner.insert("tags".to_owned(), tags);
    }
    inner
}

/// Removes the describe-only fields; returns the names removed.
pub fn strip_describe_only(doc: &mut TaskDef) -> Vec<String> {
    DESCRIBE_ONLY
        .iter()
        .filter(|k| doc.shift_remove(**k).is_some())
        .map(|k| (*k).to_owned())
        .collect()
}

/// The container names, in order (entries without a string name are skipped).
pub fn container_names(doc: &TaskDef) -> Vec<&str> {
    containers(doc)
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect()
}

/// `containerDefinitions`, or an empty slice when absent or not a list.
pub fn containers(doc: &TaskDef) -> &[Value] {
    doc.get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_template_is_kept_in_order() {
        let src = br#"{"family": "web", "zeta": 1, "containerDefinitions": [{"name": "app", "image": "<IMAGE1_NAME>"}], "alpha": {"b": 1, "a": 2}}"#;
        let (doc, stripped) = parse("taskdef.json", src).unwrap();
        assert!(stripped.is_empty());
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(keys, ["family", "zeta", "containerDefinitions", "alpha"]);
        assert_eq!(
            serde_json::to_string(&doc["alpha"]).unwrap(),
            r#"{"b":1,"a":2}"#
        );
        assert_eq!(container_names(&doc), ["app"]);
    }

    #[test]
    fn describe_output_is_unwrapped_and_stripped() {
        let described = json!({
            "taskDefinition": {
                "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7",
                "containerDefinitions": [{"name": "app", "image": "x"}],
                "family": "web",
                "revision": 7,
                "status": "ACTIVE",
                "requiresAttributes": [{"name": "ecs.capability.execution-role-awslogs"}],
                "compatibilities": ["EC2", "FARGATE"],
                "registeredAt": "2024-01-01T00:00:00Z",
                "registeredBy": "arn:aws:iam::123456789012:user/x",
                "deregisteredAt": "2024-01-02T00:00:00Z",
                "enableFaultInjection": false
            },
            "tags": [{"key": "team", "value": "web"}]
        });
        let (doc, stripped) = parse("t", described.to_string().as_bytes()).unwrap();
        assert_eq!(stripped.len(), DESCRIBE_ONLY.len());
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(
            keys,
            [
                "containerDefinitions",
                "family",
                "enableFaultInjection",
                "tags"
            ]
        );
    }

    #[test]
    fn wrapper_without_tags_and_bare_describe_fields() {
        let (doc, _) = parse("t", br#"{"taskDefinition": {"family": "a"}, "tags": []}"#).unwrap();
        assert_eq!(Value::Object(doc), json!({"family": "a"}));
        let (doc, stripped) = parse(
            "t",
            br#"{"family": "a", "revision": 3, "status": "ACTIVE"}"#,
        )
        .unwrap();
        assert_eq!(Value::Object(doc), json!({"family": "a"}));
        assert_eq!(stripped, ["revision", "status"]);
    }

    #[test]
    fn a_field_named_task_definition_beside_a_family_is_not_a_wrapper() {
        let (doc, _) = parse("t", br#"{"family": "a", "taskDefinition": {"x": 1}}"#).unwrap();
        assert!(doc.contains_key("taskDefinition"));
    }

    #[test]
    fn bad_templates_are_explained() {
        let e = parse("SourceArtifact/taskdef.json", b"").unwrap_err();
        assert_eq!(e.path, "SourceArtifact/taskdef.json");
        assert!(e.message.contains("is empty"));
        let e = parse("t", b"{\"family\": ").unwrap_err();
        assert!(e.message.contains("not valid JSON (EOF"), "{e}");
        let e = parse("t", b"[1]").unwrap_err();
        assert!(e.message.contains("not a JSON object"));
        let e = parse("t", &[0xff]).unwrap_err();
        assert!(e.message.contains("UTF-8"));
        let e = parse("t", "\u{feff} \n".as_bytes()).unwrap_err();
        assert!(e.message.contains("is empty"));
        let e = parse(
            "t",
            br#"{"containerDefinitions": [{"name": "app", "image": "a", "image": "b"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t: has the key `image` twice in `containerDefinitions[0]`; keep one (a JSON reader would silently take the last)"
        );
    }

    #[test]
    fn containers_tolerate_bad_shapes() {
        let (doc, _) = parse("t", br#"{"containerDefinitions": {"name": "x"}}"#).unwrap();
        assert!(containers(&doc).is_empty());
        let (doc, _) = parse(
            "t",
            br#"{"containerDefinitions": [{"name": 1}, {"name": "b"}]}"#,
        )
        .unwrap();
        assert_eq!(container_names(&doc), ["b"]);
    }
}

/// Test helpers shared by the crate's unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::TaskDef;
    use serde_json::Value;

    /// A task definition document from a `json!` object.
    pub fn doc(v: Value) -> TaskDef {
        match v {
            Value::Object(m) => m,
            _ => panic!("a task definition is a JSON object"),
        }
    }
}

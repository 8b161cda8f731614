//! "Is this the same task definition?": both sides in one canonical form, so that the
//! defaults ECS fills in on describe do not look like changes.

use crate::template::{TaskDef, strip_describe_only};
use crate::validate::{parse_cpu, parse_memory};
use serde_json::{Map, Value};

/// Container booleans that ECS reports as `false` when they were not given.
const FALSE_BY_DEFAULT: [&str; 5] = [
    "readonlyRootFilesystem",
    "privileged",
    "interactive",
    "pseudoTerminal",
    "disableNetworking",
];

/// True when registering `rendered` would only repeat `described`.
pub fn same_definition(rendered: &TaskDef, described: &TaskDef) -> bool {
    normalize(rendered) == normalize(described)
}

/// The canonical form: describe-only fields and tags dropped, defaults made explicit or
/// dropped, sizes as strings, environment and secrets sorted, empty values dropped.
pub fn normalize(doc: &TaskDef) -> Value {
    let mut doc = doc.clone();
    strip_describe_only(&mut doc);
    doc.shift_remove("tags");
    for (key, parse) in [
        ("cpu", parse_cpu as fn(&Value) -> Option<u64>),
        ("memory", parse_memory),
    ] {
        if let Some(n) = doc.get(key).and_then(parse) {
            doc.insert(key.to_owned(), Value::String(n.to_string()));
        }
    }
    if doc.get("enableFaultInjection") == Some(&Value::Bool(false)) {
        doc.shift_remove("enableFaultInjection");
    }
    let network_mode = doc
        .entry("networkMode")
        .or_insert_with(|| Value::String("bridge".to_owned()))
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(Value::Array(list)) = doc.get_mut("requiresCompatibilities") {
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    if let Some(Value::Array(containers)) = doc.get_mut("containerDefinitions") {
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            normalize_container(c, &network_mode);
        }
    }
    let mut v = Value::Object(doc);
    drop_empty(&mut v);
    v
}

fn normalize_container(c: &mut Map<String, Value>, network_mode: &str) {
    c.entry("essential").or_insert(Value::Bool(true));
    if c.get("cpu").and_then(Value::as_u64) == Some(0) {
        c.shift_remove("cpu");
    }
    for flag in FALSE_BY_DEFAULT {
        if c.get(flag) == Some(&Value::Bool(false)) {
            c.shift_remove(flag);
        }
    }
    if c.get("versionConsistency").and_then(Value::as_str) == Some("enabled") {
        c.shift_remove("versionConsistency");
    }
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol")
                .or_insert_with(|| Value::String("tcp".to_owned()));
            let container_port = p.get("containerPort").cloned();
            match network_mode {
                "awsvpc" | "host" => {
                    if let Some(cp) = container_port {
                        p.entry("hostPort").or_insert(cp);
                    }
                }
                _ => {
                    if p.get("hostPort").and_then(Value::as_u64) == Some(0) {
                        p.shift_remove("hostPort");
                    }
                }
            }
        }
    }
    // ECS fills in a health check's defaults on describe.
    if let Some(Value::Object(hc)) = c.get_mut("healthCheck") {
        for (key, default) in [("interval", 30), ("timeout", 5), ("retries", 3)] {
            hc.entry(key).or_insert(Value::from(default));
        }
        if hc.get("startPeriod").and_then(Value::as_u64) == Some(0) {
            hc.shift_remove("startPeriod");
        }
    }
    for field in ["environment", "secrets"] {
        if let Some(Value::Array(list)) = c.get_mut(field) {
            list.sort_by(|a, b| name_of(a).cmp(&name_of(b)));
        }
    }
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// Removes `null`, `[]` and `{}` values, recursively (ECS treats them as absent).
fn drop_empty(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for item in map.values_mut() {
                drop_empty(item);
            }
            map.retain(|_, item| !is_empty(item));
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                drop_empty(item);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::tests_support::doc;
    use serde_json::json;

    fn rendered() -> TaskDef {
        doc(json!({
            "family": "web",
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": "0.25 vCPU",
            "memory": 512,
            "tags": [{"key": "a", "value": "b"}],
            "containerDefinitions": [{
                "name": "app",
                "image": "web:1",
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "B", "value": ""}, {"name": "A", "value": "x=y"}],
                "secrets": [{"name": "S2", "valueFrom": "b"}, {"name": "S1", "valueFrom": "a"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"tag": ""}}
            }]
        }))
    }

    /// What DescribeTaskDefinition returns for `rendered()`.
    fn described() -> TaskDef {
        doc(json!({
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3",
            "containerDefinitions": [{
                "name": "app",
                "image": "web:1",
                "cpu": 0,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "essential": true,
                "environment": [{"name": "A", "value": "x=y"}, {"name": "B", "value": ""}],
                "mountPoints": [],
                "volumesFrom": [],
                "secrets": [{"name": "S1", "valueFrom": "a"}, {"name": "S2", "valueFrom": "b"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"tag": ""}, "secretOptions": []},
                "systemControls": [],
                "readonlyRootFilesystem": false,
                "versionConsistency": "enabled"
            }],
            "family": "web",
            "networkMode": "awsvpc",
            "revision": 3,
            "volumes": [],
            "status": "ACTIVE",
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "placementConstraints": [],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "registeredAt": "2024-05-01T10:00:00.000Z",
            "registeredBy": "arn:aws:sts::123456789012:assumed-role/x",
            "enableFaultInjection": false
        }))
    }

    #[test]
    fn describe_defaults_are_not_changes() {
        assert!(same_definition(&rendered(), &described()));
    }

    #[test]
    fn real_changes_are_changes() {
        let changes: [(&str, Value); 6] = [
            ("image", json!("web:2")),
            ("environment", json!([{"name": "A", "value": "x=y"}])),
            (
                "environment",
                json!([{"name": "A", "value": "x=y"}, {"name": "B", "value": "b"}]),
            ),
            ("essential", json!(false)),
            (
                "logConfiguration",
                json!({"logDriver": "awslogs", "options": {}}),
            ),
            ("futureField", json!(true)),
        ];
        for (field, value) in changes {
            let mut r = rendered();
            r["containerDefinitions"][0][field] = value.clone();
            assert!(!same_definition(&r, &described()), "{field} = {value}");
        }
        let mut r = rendered();
        r.insert("memory".into(), json!("1024"));
        assert!(!same_definition(&r, &described()));
        let mut r = rendered();
        r.insert("enableFaultInjection".into(), json!(true));
        assert!(!same_definition(&r, &described()));
    }

    #[test]
    fn health_check_defaults_are_not_changes() {
        let hc = |h: Value| {
            doc(
                json!({"family": "w", "containerDefinitions": [{"name": "a", "image": "x",
                "memory": 128, "healthCheck": h}]}),
            )
        };
        let given = hc(json!({"command": ["CMD-SHELL", "curl -f localhost/health"]}));
        let described = hc(json!({"command": ["CMD-SHELL", "curl -f localhost/health"],
            "interval": 30, "timeout": 5, "retries": 3}));
        assert!(same_definition(&given, &described));
        let changed = hc(json!({"command": ["CMD-SHELL", "curl -f localhost/health"],
            "interval": 10, "timeout": 5, "retries": 3}));
        assert!(!same_definition(&given, &changed));
    }

    #[test]
    fn bridge_mode_defaults() {
        let a = doc(
            json!({"family": "w", "containerDefinitions": [{"name": "a", "image": "x", "memory": 128,
            "portMappings": [{"containerPort": 80}]}]}),
        );
        let b = doc(
            json!({"family": "w", "networkMode": "bridge", "containerDefinitions": [{"name": "a", "image": "x",
            "memory": 128, "essential": true, "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]}]}),
        );
        assert!(same_definition(&a, &b));
        let c = doc(
            json!({"family": "w", "containerDefinitions": [{"name": "a", "image": "x", "memory": 128,
            "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}),
        );
        assert!(!same_definition(&a, &c));
    }

    #[test]
    fn empty_strings_are_not_dropped() {
        let n = normalize(&rendered());
        assert_eq!(
            n["containerDefinitions"][0]["logConfiguration"]["options"]["tag"],
            ""
        );
        assert_eq!(n["containerDefinitions"][0]["environment"][1]["value"], "");
        assert_eq!(n["cpu"], "256");
        assert_eq!(n["memory"], "512");
    }
}

//! Checks on the rendered task definition, before anything is written or registered.
//! Every problem is returned, each at its JSON path.

use crate::edit::is_placeholder;
use crate::problem::Problem;
use crate::template::TaskDef;
use serde_json::Value;

/// The memory values (MiB) Fargate allows with `cpu` units, or `None` for an unsupported cpu.
pub fn fargate_memory(cpu: u64) -> Option<Vec<u64>> {
    let gb = |from: u64, to: u64, step: u64| -> Vec<u64> {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect()
    };
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => gb(1, 4, 1),
        1024 => gb(2, 8, 1),
        2048 => gb(4, 16, 1),
        4096 => gb(8, 30, 1),
        8192 => gb(16, 60, 4),
        16384 => gb(32, 120, 8),
        _ => return None,
    })
}

/// Task `cpu` as ECS reads it: `"1024"`, `1024`, `"1 vCPU"`, `"0.25 vcpu"`.
pub fn parse_cpu(v: &Value) -> Option<u64> {
    parse_units(v, &["vcpu"])
}

/// Task `memory` as ECS reads it: `"2048"`, `2048`, `"2 GB"`, `"0.5GB"`.
pub fn parse_memory(v: &Value) -> Option<u64> {
    parse_units(v, &["gb"])
}

fn parse_units(v: &Value, units_of_1024: &[&str]) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            if let Ok(n) = s.parse::<u64>() {
                return Some(n);
            }
            let unit = units_of_1024.iter().find(|u| s.ends_with(*u))?;
            let x: f64 = s[..s.len() - unit.len()].trim().parse().ok()?;
            let scaled = x * 1024.0;
            (scaled >= 0.0 && scaled.fract() == 0.0).then_some(scaled as u64)
        }
        _ => None,
    }
}

/// `family` and container names: 1-255 letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const NAME_RULE: &str = "must be 1-255 letters, digits, `-` or `_`";

/// Every problem with the rendered document.
pub fn validate(doc: &TaskDef) -> Vec<Problem> {
    let mut out = Vec::new();
    check_family(doc, &mut out);
    check_containers(doc, &mut out);
    check_task_size(doc, &mut out);
    let mut steps = Vec::with_capacity(8);
    for (key, value) in doc {
        steps.push(Step::Key(key));
        scan_placeholders(value, &mut steps, &mut out);
        steps.pop();
    }
    out
}

fn check_family(doc: &TaskDef, out: &mut Vec<Problem>) {
    match doc.get("family") {
        None => out.push(Problem::new(
            "family",
            "is missing; every task definition needs a family",
        )),
        Some(Value::String(f)) if !valid_name(f) => {
            out.push(Problem::new("family", format!("`{f}` {NAME_RULE}")))
        }
        Some(Value::String(_)) => {}
        Some(_) => out.push(Problem::new("family", "must be a string")),
    }
}

fn check_containers(doc: &TaskDef, out: &mut Vec<Problem>) {
    let list = match doc.get("containerDefinitions") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            return out.push(Problem::new(
                "containerDefinitions",
                "is empty; add at least one container",
            ));
        }
        Some(_) => return out.push(Problem::new("containerDefinitions", "must be a list")),
        None => return out.push(Problem::new("containerDefinitions", "is missing")),
    };
    let task_memory = doc.contains_key("memory");
    let mut names: Vec<(&str, usize)> = Vec::new();
    let mut any_essential = false;
    for (i, c) in list.iter().enumerate() {
        let at = |field: &str| format!("containerDefinitions[{i}].{field}");
        let Some(c) = c.as_object() else {
            out.push(Problem::new(
                format!("containerDefinitions[{i}]"),
                "must be an object",
            ));
            continue;
        };
        match c.get("name").and_then(Value::as_str) {
            None => out.push(Problem::new(at("name"), "is missing")),
            Some(n) if !valid_name(n) => out.push(Problem::new(at("name"), format!("`{n}` {NAME_RULE}"))),
            Some(n) => match names.iter().find(|(seen, _)| *seen == n) {
                Some((_, first)) => out.push(Problem::new(
                    at("name"),
                    format!("`{n}` is also the name of containerDefinitions[{first}]; container names must be unique"),
                )),
                None => names.push((n, i)),
            },
        }
        match c.get("image") {
            Some(Value::String(s)) if s.trim().is_empty() => out.push(Problem::new(
                at("image"),
                "is empty; give the image in imagedefinitions.json, imageDetail.json or UserParameters.images",
            )),
            Some(Value::String(_)) => {}
            None => out.push(Problem::new(at("image"), "is missing")),
            Some(_) => out.push(Problem::new(at("image"), "must be a string")),
        }
        if c.get("essential") != Some(&Value::Bool(false)) {
            any_essential = true;
        }
        let mut whole = |field: &str| -> Option<u64> {
            let v = c.get(field)?;
            match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    out.push(Problem::new(at(field), "must be a whole number of MiB"));
                    None
                }
            }
        };
        let memory = whole("memory");
        let reservation = whole("memoryReservation");
        if let (Some(m), Some(r)) = (memory, reservation)
            && m <= r
        {
            out.push(Problem::new(
                at("memory"),
                format!("({m}) must be greater than memoryReservation ({r})"),
            ));
        }
        if !task_memory && !c.contains_key("memory") && !c.contains_key("memoryReservation") {
            out.push(Problem::new(
                format!("containerDefinitions[{i}]"),
                "has neither memory nor memoryReservation, and the task has no memory; set one of them",
            ));
        }
    }
    if !any_essential {
        out.push(Problem::new(
            "containerDefinitions",
            "no container is essential; at least one must be (`essential` is true when absent)",
        ));
    }
}

fn check_task_size(doc: &TaskDef, out: &mut Vec<Problem>) {
    let cpu = doc.get("cpu");
    let memory = doc.get("memory");
    let cpu_units = cpu.and_then(parse_cpu);
    let memory_mib = memory.and_then(parse_memory);
    if cpu.is_some() && cpu_units.is_none() {
        out.push(Problem::new(
            "cpu",
            "is not a cpu size such as \"1024\" or \"1 vCPU\"",
        ));
    }
    if memory.is_some() && memory_mib.is_none() {
        out.push(Problem::new(
            "memory",
            "is not a memory size such as \"2048\" or \"2 GB\"",
        ));
    }
    let fargate = doc
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|v| v == "FARGATE"));
    if !fargate {
        return;
    }
    match doc.get("networkMode").and_then(Value::as_str) {
        Some("awsvpc") => {}
        Some(other) => out.push(Problem::new(
            "networkMode",
            format!("is `{other}`, but Fargate requires `awsvpc`"),
        )),
        None => out.push(Problem::new(
            "networkMode",
            "is missing; Fargate requires `awsvpc`",
        )),
    }
    if cpu.is_none() {
        out.push(Problem::new(
            "cpu",
            "is missing; Fargate needs the task cpu",
        ));
    }
    if memory.is_none() {
        out.push(Problem::new(
            "memory",
            "is missing; Fargate needs the task memory",
        ));
    }
    let Some(cpu) = cpu_units else { return };
    let Some(allowed) = fargate_memory(cpu) else {
        return out.push(Problem::new(
            "cpu",
            format!("({cpu}) is not a Fargate size; use 256, 512, 1024, 2048, 4096, 8192 or 16384"),
        ));
    };
    if let Some(m) = memory_mib
        && !allowed.contains(&m)
    {
        out.push(Problem::new(
            "memory",
            format!(
                "({m} MiB) is not allowed with Fargate cpu {cpu}; allowed: {}",
                describe(&allowed)
            ),
        ));
    }
}

fn describe(allowed: &[u64]) -> String {
    match allowed {
        [a, b, c] => format!("{a}, {b} or {c} MiB"),
        [first, second, .., last] => {
            format!("{first} to {last} MiB in steps of {}", second - first)
        }
        _ => format!("{allowed:?}"),
    }
}

/// One step of a JSON path.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path text, built only when a problem is found.
fn path_text(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => out = child(&out, k),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Flags placeholders left anywhere: `<IMAGEn_NAME>` and `{{ ... }}` in any string, and an
/// `image` that is still a `<...>` placeholder.
fn scan_placeholders<'a>(v: &'a Value, steps: &mut Vec<Step<'a>>, out: &mut Vec<Problem>) {
    match v {
        Value::String(s) => {
            let image_field = matches!(
                steps.as_slice(),
                [
                    Step::Key("containerDefinitions"),
                    Step::Index(_),
                    Step::Key("image")
                ]
            );
            let left = image_placeholder(s)
                .or_else(|| (image_field && is_placeholder(s)).then_some(s.as_str()));
            if let Some(p) = left {
                out.push(Problem::new(
                    path_text(steps),
                    format!("placeholder `{p}` is left; give its image in imagedefinitions.json, imageDetail.json or UserParameters.images"),
                ));
            } else if let Some(t) = template_marker(s).filter(|_| !in_log_options(steps)) {
                out.push(Problem::new(
                    path_text(steps),
                    format!("template marker `{t}` is left unfilled"),
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                steps.push(Step::Index(i));
                scan_placeholders(item, steps, out);
                steps.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                steps.push(Step::Key(k));
                scan_placeholders(item, steps, out);
                steps.pop();
            }
        }
        _ => {}
    }
}

/// `a.b`, or `a["b.c"]` for keys that are not plain words.
fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

/// The first `<IMAGEn_NAME>` in `s`.
fn image_placeholder(s: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(start) = s[from..].find("<IMAGE").map(|i| i + from) {
        let rest = &s[start + 6..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with("_NAME>") {
            return Some(&s[start..start + 6 + digits + 6]);
        }
        from = start + 1;
    }
    None
}

/// Whether the path is inside a container's `logConfiguration.options`, where Docker log
/// drivers read Go templates such as `tag: "{{.Name}}"`.
fn in_log_options(steps: &[Step<'_>]) -> bool {
    matches!(
        steps,
        [
            Step::Key("containerDefinitions"),
            Step::Index(_),
            Step::Key("logConfiguration"),
            Step::Key("options"),
            ..
        ]
    )
}

/// The first `{{ ... }}` in `s`.
fn template_marker(s: &str) -> Option<&str> {
    let start = s.find("{{")?;
    let end = s[start..].find("}}")? + start + 2;
    Some(&s[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(v: Value) -> Vec<String> {
        let Value::Object(doc) = v else {
            unreachable!()
        };
        validate(&doc).iter().map(ToString::to_string).collect()
    }

    fn fargate(cpu: Value, memory: Value) -> Value {
        json!({"family": "web", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
               "cpu": cpu, "memory": memory,
               "containerDefinitions": [{"name": "app", "image": "web:1"}]})
    }

    #[test]
    fn a_good_definition_passes() {
        assert!(problems(fargate(json!("256"), json!("512"))).is_empty());
        assert!(problems(json!({"family": "w", "containerDefinitions": [{"name": "a", "image": "x", "memory": 256}]})).is_empty());
    }

    #[test]
    fn every_fargate_pair() {
        let ok = [
            (256, 512),
            (256, 1024),
            (256, 2048),
            (512, 1024),
            (512, 4096),
            (1024, 2048),
            (1024, 8192),
            (2048, 4096),
            (2048, 9216),
            (2048, 16384),
            (4096, 8192),
            (4096, 30720),
            (8192, 16384),
            (8192, 20480),
            (8192, 61440),
            (16384, 32768),
            (16384, 40960),
            (16384, 122880),
        ];
        for (c, m) in ok {
            assert!(
                problems(fargate(json!(c.to_string()), json!(m.to_string()))).is_empty(),
                "{c}/{m}"
            );
        }
        let bad = [
            (256, 256),
            (256, 3072),
            (512, 512),
            (512, 5120),
            (1024, 1024),
            (1024, 9216),
            (2048, 2048),
            (2048, 17408),
            (4096, 31744),
            (8192, 17408),
            (8192, 65536),
            (16384, 36864),
            (16384, 131072),
        ];
        for (c, m) in bad {
            let p = problems(fargate(json!(c.to_string()), json!(m.to_string())));
            assert_eq!(p.len(), 1, "{c}/{m}: {p:?}");
            assert!(
                p[0].starts_with(&format!(
                    "memory: ({m} MiB) is not allowed with Fargate cpu {c}"
                )),
                "{p:?}"
            );
        }
        let p = problems(fargate(json!("256"), json!("4096")));
        assert_eq!(
            p,
            [
                "memory: (4096 MiB) is not allowed with Fargate cpu 256; allowed: 512, 1024 or 2048 MiB"
            ]
        );
        let p = problems(fargate(json!("8192"), json!("17408")));
        assert!(
            p[0].ends_with("allowed: 16384 to 61440 MiB in steps of 4096"),
            "{p:?}"
        );
        let p = problems(fargate(json!("300"), json!("512")));
        assert_eq!(
            p,
            ["cpu: (300) is not a Fargate size; use 256, 512, 1024, 2048, 4096, 8192 or 16384"]
        );
    }

    #[test]
    fn unit_strings_and_numbers() {
        assert!(problems(fargate(json!("1 vCPU"), json!("2 GB"))).is_empty());
        assert!(problems(fargate(json!("0.25 vcpu"), json!("0.5GB"))).is_empty());
        assert!(problems(fargate(json!(512), json!(1024))).is_empty());
        let p = problems(fargate(json!("lots"), json!([1])));
        assert_eq!(
            p[0],
            "cpu: is not a cpu size such as \"1024\" or \"1 vCPU\""
        );
        assert_eq!(
            p[1],
            "memory: is not a memory size such as \"2048\" or \"2 GB\""
        );
    }

    #[test]
    fn fargate_needs_awsvpc_cpu_and_memory() {
        let p = problems(
            json!({"family": "web", "requiresCompatibilities": ["EC2", "FARGATE"], "networkMode": "bridge",
            "containerDefinitions": [{"name": "app", "image": "x", "memory": 512}]}),
        );
        assert_eq!(
            p,
            [
                "networkMode: is `bridge`, but Fargate requires `awsvpc`",
                "cpu: is missing; Fargate needs the task cpu",
                "memory: is missing; Fargate needs the task memory",
            ]
        );
        let p = problems(
            json!({"family": "web", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": "app", "image": "x"}]}),
        );
        assert_eq!(p, ["networkMode: is missing; Fargate requires `awsvpc`"]);
    }

    #[test]
    fn essential_memory_and_names() {
        let p = problems(
            json!({"family": "my web", "memory": "1024", "containerDefinitions": [
                {"name": "app", "image": "x", "essential": false, "memory": 512, "memoryReservation": 512},
                {"name": "app", "image": "y", "essential": false, "memory": "1g"},
                {"name": "bad.name", "image": "z", "essential": false},
                {"image": "z", "essential": false},
                7
            ]}),
        );
        assert_eq!(
            p,
            [
                "family: `my web` must be 1-255 letters, digits, `-` or `_`",
                "containerDefinitions[0].memory: (512) must be greater than memoryReservation (512)",
                "containerDefinitions[1].name: `app` is also the name of containerDefinitions[0]; container names must be unique",
                "containerDefinitions[1].memory: must be a whole number of MiB",
                "containerDefinitions[2].name: `bad.name` must be 1-255 letters, digits, `-` or `_`",
                "containerDefinitions[3].name: is missing",
                "containerDefinitions[4]: must be an object",
                "containerDefinitions: no container is essential; at least one must be (`essential` is true when absent)",
            ]
        );
        let long = "a".repeat(256);
        let p = problems(
            json!({"family": long, "memory": "512", "containerDefinitions": [{"name": "a".repeat(255), "image": "x"}]}),
        );
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("family: `aaa"));
    }

    #[test]
    fn container_memory_needed_without_task_memory() {
        let p = problems(
            json!({"family": "w", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "b", "image": "x", "memoryReservation": 64}]}),
        );
        assert_eq!(
            p,
            [
                "containerDefinitions[0]: has neither memory nor memoryReservation, and the task has no memory; set one of them"
            ]
        );
    }

    #[test]
    fn missing_structure() {
        assert_eq!(
            problems(json!({})),
            [
                "family: is missing; every task definition needs a family",
                "containerDefinitions: is missing"
            ]
        );
        assert_eq!(
            problems(json!({"family": 1, "containerDefinitions": []})),
            [
                "family: must be a string",
                "containerDefinitions: is empty; add at least one container"
            ]
        );
        assert_eq!(
            problems(json!({"family": "a", "containerDefinitions": {}})),
            ["containerDefinitions: must be a list"]
        );
    }

    #[test]
    fn placeholders_anywhere_are_found_with_their_path() {
        let p = problems(
            json!({"family": "w", "memory": "512", "containerDefinitions": [
                {"name": "app", "image": "<IMAGE1_NAME>",
                 "environment": [{"name": "A", "value": "ok"}, {"name": "B", "value": "see <IMAGE2_NAME> here"}],
                 "dockerLabels": {"com.example.v": "{{ .Version }}"},
                 "logConfiguration": {"logDriver": "fluentd", "options": {"tag": "{{.Name}}/{{.ID}}"}}},
                {"name": "side", "image": "", "command": ["echo", "{{x}}"]},
                {"name": "third", "image": "<SIDECAR>", "entryPoint": ["<not a placeholder>"]},
                {"name": "fourth", "image": "repo:<IMAGE3_NAME>"}
            ]}),
        );
        assert_eq!(
            p,
            [
                "containerDefinitions[1].image: is empty; give the image in imagedefinitions.json, imageDetail.json or UserParameters.images",
                "containerDefinitions[0].image: placeholder `<IMAGE1_NAME>` is left; give its image in imagedefinitions.json, imageDetail.json or UserParameters.images",
                "containerDefinitions[0].environment[1].value: placeholder `<IMAGE2_NAME>` is left; give its image in imagedefinitions.json, imageDetail.json or UserParameters.images",
                "containerDefinitions[0].dockerLabels[\"com.example.v\"]: template marker `{{ .Version }}` is left unfilled",
                "containerDefinitions[1].command[1]: template marker `{{x}}` is left unfilled",
                "containerDefinitions[2].image: placeholder `<SIDECAR>` is left; give its image in imagedefinitions.json, imageDetail.json or UserParameters.images",
                "containerDefinitions[3].image: placeholder `<IMAGE3_NAME>` is left; give its image in imagedefinitions.json, imageDetail.json or UserParameters.images",
            ]
        );
    }

    #[test]
    fn marker_helpers() {
        assert_eq!(
            image_placeholder("x<IMAGE<IMAGE12_NAME>"),
            Some("<IMAGE12_NAME>")
        );
        assert_eq!(image_placeholder("<IMAGE_NAME>"), None);
        assert_eq!(template_marker("a {{ b }} c"), Some("{{ b }}"));
        assert_eq!(template_marker("{{ open"), None);
        assert!(valid_name("a-b_C9"));
        assert!(!valid_name(""));
    }
}

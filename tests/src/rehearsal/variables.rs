//! CodePipeline variables: `#{Namespace.Name}` in action configurations, resolved from
//! the output variables of earlier actions, `#{codepipeline.PipelineExecutionId}` and the
//! pipeline's own `#{variables.Name}`; and the rehearsal's shortening of the health
//! gate's waits (the real delays, scaled down, so that a 10-minute bake takes seconds).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Namespace -> variable -> value.
#[derive(Debug, Clone, Default)]
pub struct Variables(BTreeMap<String, BTreeMap<String, String>>);

impl Variables {
    pub fn set(&mut self, namespace: &str, name: &str, value: &str) {
        self.0
            .entry(namespace.to_owned())
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn set_all(&mut self, namespace: &str, values: &Map<String, Value>) {
        for (k, v) in values {
            self.set(namespace, k, v.as_str().unwrap_or_default());
        }
    }

    /// `text` with every `#{Namespace.Name}` replaced; the names that resolve to nothing
    /// are the error.
    pub fn substitute(&self, text: &str) -> Result<String, Vec<String>> {
        let mut out = String::new();
        let mut missing = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("#{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let found = name
                .split_once('.')
                .and_then(|(ns, var)| self.0.get(ns).and_then(|m| m.get(var)));
            match found {
                Some(v) => out.push_str(v),
                None => missing.push(name.to_owned()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(missing)
        }
    }
}

/// How much the rehearsal shortens the gate's real waits.
pub const TIME_SCALE: u64 = 300;

/// A gate's configuration (UserParameters or `HEALTH_GATE_CONFIG`) with `initialDelay`,
/// `interval`, `bake` and `timeout` scaled down by [`TIME_SCALE`] (the interval at least
/// the gate's 1 s minimum, the timeout long enough for the bake and a few passes); the
/// changes are listed for the reader. Text that is not a JSON object is left alone.
pub fn shorten_gate_waits(config: &str) -> (String, Vec<String>) {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(config) else {
        return (config.to_owned(), Vec::new());
    };
    let mut notes = Vec::new();
    let mut scaled = |key: &str, floor_ms: u64, map: &mut Map<String, Value>| -> Option<u64> {
        let ms = duration_ms(map.get(key)?)?;
        let short = (ms / TIME_SCALE).max(floor_ms);
        notes.push(format!("{key} {} -> {}", human(ms), human(short)));
        map.insert(key.to_owned(), Value::String(format!("{short}ms")));
        Some(short)
    };
    scaled("initialDelay", 0, &mut map);
    let interval = scaled("interval", 1000, &mut map).unwrap_or(1000);
    let bake = scaled("bake", 0, &mut map).unwrap_or(0);
    if let Some(ms) = map.get("timeout").and_then(duration_ms) {
        let short = (ms / TIME_SCALE).max(bake + 4 * interval + 2000);
        notes.push(format!("timeout {} -> {}", human(ms), human(short)));
        map.insert("timeout".into(), Value::String(format!("{short}ms")));
    }
    if notes.is_empty() {
        return (config.to_owned(), notes);
    }
    (Value::Object(map).to_string(), notes)
}

/// Seconds (`30`) or text (`"500ms"`, `"30s"`, `"5m"`, `"1h"`), as the gate reads them.
pub fn duration_ms(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0) as u64),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
            let (n, unit) = s.split_at(split);
            let n: f64 = n.parse().ok()?;
            let factor = match unit {
                "ms" => 1.0,
                "s" => 1000.0,
                "m" => 60_000.0,
                "h" => 3_600_000.0,
                _ => return None,
            };
            Some((n * factor) as u64)
        }
        _ => None,
    }
}

pub fn human(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ => format!("{}s", ms / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_resolve_or_are_named() {
        let mut v = Variables::default();
        v.set("Build", "IMAGE_URI", "repo:1");
        v.set("codepipeline", "PipelineExecutionId", "e-1");
        let cases = [
            (
                "#{Build.IMAGE_URI}@#{codepipeline.PipelineExecutionId}",
                Ok("repo:1@e-1".to_owned()),
            ),
            ("no variables {}", Ok("no variables {}".to_owned())),
            (
                "#{Build.NOPE} #{Other.X}",
                Err(vec!["Build.NOPE".to_owned(), "Other.X".to_owned()]),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(v.substitute(text), want, "{text}");
        }
    }

    #[test]
    fn gate_waits_are_shortened_and_named() {
        let (out, notes) =
            shorten_gate_waits(r#"{"bake": "10m", "interval": "1m", "timeout": "30m", "x": 1}"#);
        let out: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out["bake"], "2000ms");
        assert_eq!(out["interval"], "1000ms");
        assert_eq!(out["timeout"], "8000ms");
        assert_eq!(out["x"], 1);
        assert_eq!(
            notes,
            ["interval 1m -> 1s", "bake 10m -> 2s", "timeout 30m -> 8s"]
        );
        assert_eq!(shorten_gate_waits("not json").0, "not json");
        assert_eq!(duration_ms(&Value::from(30)), Some(30_000));
        assert_eq!(duration_ms(&Value::from("500ms")), Some(500));
        assert_eq!(duration_ms(&Value::from("1h")), Some(3_600_000));
        assert_eq!(duration_ms(&Value::from("5 parsecs")), None);
    }
}

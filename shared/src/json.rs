//! Bounded JSON: a parse that limits what an input may cost before it is built, and that
//! refuses duplicate keys.
//!
//! `serde_json::from_slice::<Value>` builds whatever the text describes: 12 MB of `1,`
//! becomes six million values and about 400 MB of memory, and `{"a": 1, "a": 2}` keeps the
//! last `a` without a word. [`parse`] checks the size first, then builds the value in one
//! pass that counts every value and key, tracks the nesting depth and looks each key up in
//! its object before inserting it, so it stops at the first value over a limit with that
//! limit named, holding no more than the limits allow.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// What a JSON input may cost. The defaults take a task definition of 100 containers with
/// room to spare (12,400 values, 180 KB pretty-printed) and keep a whole render of an input
/// at the limits under 64 MB of memory (40 MB measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Largest text, in bytes.
    pub max_bytes: u64,
    /// Most values and object keys, counted together.
    pub max_nodes: u64,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        Self {
            max_bytes: 2 << 20,
            max_nodes: 100_000,
            max_depth: 64,
        }
    }
}

/// Why a JSON text was refused. Each message completes a sentence that starts with the
/// input's name: "`Build/imageDetail.json` is empty".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("is {size} bytes, more than the {limit} bytes a JSON input may be")]
    TooLarge { size: u64, limit: u64 },
    #[error(
        "holds more than {limit} JSON values and keys, the most a JSON input may hold (it stopped at `{path}`)"
    )]
    TooManyNodes { limit: u64, path: String },
    #[error(
        "nests arrays and objects more than {limit} deep, the most a JSON input may (at `{path}`)"
    )]
    TooDeep { limit: usize, path: String },
    #[error(
        "has the key `{key}` twice in {}; keep one (a JSON reader would silently take the last)",
        location(parent)
    )]
    DuplicateKey {
        key: String,
        /// The object holding the key, as a JSON path (`containerDefinitions[0]`); empty for
        /// the top level.
        parent: String,
    },
    #[error("is not UTF-8 text")]
    NotUtf8,
    #[error("is empty")]
    Empty,
    #[error("is not valid JSON ({detail})")]
    Syntax { detail: String },
}

impl JsonError {
    /// Whether the text is simply not JSON (empty, not UTF-8, a syntax error), as opposed
    /// to JSON refused for its cost or its duplicate keys.
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::NotUtf8 | Self::Empty | Self::Syntax { .. })
    }

    /// The JSON path of a duplicate key (`images.app`), if that is the error.
    pub fn duplicate_path(&self) -> Option<String> {
        match self {
            Self::DuplicateKey { key, parent } => Some(Path::child(parent, key)),
            _ => None,
        }
    }
}

fn location(parent: &str) -> String {
    if parent.is_empty() {
        "the top-level object".to_owned()
    } else {
        format!("`{parent}`")
    }
}

/// Parses JSON text within `limits`: a leading byte order mark and surrounding whitespace
/// are allowed; duplicate keys are refused.
pub fn parse(bytes: &[u8], limits: &JsonLimits) -> Result<Value, JsonError> {
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(JsonError::TooLarge {
            size,
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(JsonError::Empty);
    }
    let mut state = State {
        limits: *limits,
        nodes: 0,
        path: Vec::new(),
        refused: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Node { state: &mut state }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match (parsed, state.refused) {
        (_, Some(refused)) => Err(refused),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(JsonError::Syntax {
            detail: e.to_string(),
        }),
    }
}

/// The parse's progress: values counted, where it is, and why it stopped, if it was refused.
struct State {
    limits: JsonLimits,
    nodes: u64,
    path: Vec<Step>,
    refused: Option<JsonError>,
}

enum Step {
    Index(usize),
    Key(String),
}

impl State {
    /// Counts one value or key; fails past the limit.
    fn count<E: de::Error>(&mut self) -> Result<(), E> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            let path = self.path_text();
            return self.refuse(JsonError::TooManyNodes {
                limit: self.limits.max_nodes,
                path,
            });
        }
        Ok(())
    }

    /// Enters an array or object; fails past the depth limit.
    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        if self.path.len() >= self.limits.max_depth {
            let path = self.path_text();
            return self.refuse(JsonError::TooDeep {
                limit: self.limits.max_depth,
                path,
            });
        }
        Ok(())
    }

    /// Keeps the typed reason; serde carries only a placeholder back up.
    fn refuse<T, E: de::Error>(&mut self, why: JsonError) -> Result<T, E> {
        self.refused = Some(why);
        Err(E::custom("refused"))
    }

    fn path_text(&self) -> String {
        Path(&self.path).to_string()
    }
}

/// A JSON path as messages show it: `containerDefinitions[0].image`, `["odd key"]`.
struct Path<'a>(&'a [Step]);

impl Path<'_> {
    fn child(parent: &str, key: &str) -> String {
        let step = [Step::Key(key.to_owned())];
        let tail = Path(&step).to_string();
        if parent.is_empty() || tail.starts_with('[') {
            format!("{parent}{tail}")
        } else {
            format!("{parent}.{tail}")
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) if is_plain(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
            }
        }
        Ok(())
    }
}

/// A key that reads unambiguously after a dot.
fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | '@'))
}

/// Builds one value, counting it and everything in it.
struct Node<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.state.count()?;
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.state.enter()?;
        let mut items = Vec::new();
        loop {
            self.state.path.push(Step::Index(items.len()));
            let item = seq.next_element_seed(Node {
                state: &mut *self.state,
            });
            self.state.path.pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.state.enter()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.state.count()?;
            if object.contains_key(&key) {
                let parent = self.state.path_text();
                return self.state.refuse(JsonError::DuplicateKey { key, parent });
            }
            self.state.path.push(Step::Key(key));
            let value = map.next_value_seed(Node {
                state: &mut *self.state,
            });
            let Some(Step::Key(key)) = self.state.path.pop() else {
                unreachable!("the step pushed above")
            };
            object.insert(key, value?);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn small(max_nodes: u64, max_depth: usize) -> JsonLimits {
        JsonLimits {
            max_bytes: 1 << 20,
            max_nodes,
            max_depth,
        }
    }

    #[test]
    fn parses_what_serde_json_parses_in_order() {
        let text = br#"{"z": [1, -2, 3.5, true, null, "s\u00e9"], "a": {"b": {}, "c": []}}"#;
        let value = parse(text, &JsonLimits::default()).unwrap();
        assert_eq!(value, serde_json::from_slice::<Value>(text).unwrap());
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(
            parse("\u{feff} [1] \n".as_bytes(), &JsonLimits::default()).unwrap(),
            json!([1])
        );
    }

    #[test]
    fn counts_values_and_keys() {
        // {"a": [1, 2]}: the object, the key, the array, two numbers.
        let text = br#"{"a": [1, 2]}"#;
        assert!(parse(text, &small(5, 8)).is_ok());
        let e = parse(text, &small(4, 8)).unwrap_err();
        assert_eq!(
            e,
            JsonError::TooManyNodes {
                limit: 4,
                path: "a[1]".into()
            }
        );
        assert!(e.to_string().contains("more than 4 JSON values and keys"));
    }

    #[test]
    fn limits_depth() {
        assert!(parse(b"[[[]]]", &small(100, 3)).is_ok());
        let e = parse(br#"[[{"x": []}]]"#, &small(100, 3)).unwrap_err();
        assert_eq!(
            e,
            JsonError::TooDeep {
                limit: 3,
                path: "[0][0].x".into()
            }
        );
        // Deeper than serde_json's own recursion limit: still our limit, named.
        let deep = "[".repeat(10_000);
        let e = parse(deep.as_bytes(), &JsonLimits::default()).unwrap_err();
        assert!(matches!(e, JsonError::TooDeep { limit: 64, .. }), "{e}");
    }

    #[test]
    fn limits_size_before_reading() {
        let limits = JsonLimits {
            max_bytes: 10,
            ..JsonLimits::default()
        };
        assert_eq!(
            parse(b"[1,1,1,1,1,1]", &limits).unwrap_err(),
            JsonError::TooLarge {
                size: 13,
                limit: 10
            }
        );
    }

    #[test]
    fn refuses_duplicate_keys_with_their_path() {
        let cases: [(&str, &str, &str, &str); 4] = [
            (r#"{"a": 1, "a": 2}"#, "a", "", "the top-level object"),
            (
                r#"{"images": {"app": "web:v1", "app": "web:v2"}}"#,
                "app",
                "images",
                "`images`",
            ),
            (
                r#"{"containerDefinitions": [{"name": "a"}, {"image": "x", "name": "b", "image": "y"}]}"#,
                "image",
                "containerDefinitions[1]",
                "`containerDefinitions[1]`",
            ),
            (
                r#"{"odd key": {"k": 1, "k": 1}}"#,
                "k",
                r#"["odd key"]"#,
                r#"`["odd key"]`"#,
            ),
        ];
        for (text, key, parent, shown) in cases {
            let e = parse(text.as_bytes(), &JsonLimits::default()).unwrap_err();
            assert_eq!(
                e,
                JsonError::DuplicateKey {
                    key: key.into(),
                    parent: parent.into()
                },
                "{text}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("has the key `{key}` twice in {shown}; keep one")),
                "{e}"
            );
            assert!(!e.is_syntax());
        }
        let e = parse(
            br#"{"images": {"app": 1, "app": 2}}"#,
            &JsonLimits::default(),
        )
        .unwrap_err();
        assert_eq!(e.duplicate_path().as_deref(), Some("images.app"));
        // Keys that differ only in case are different keys to JSON.
        assert!(parse(br#"{"a": 1, "A": 2}"#, &JsonLimits::default()).is_ok());
    }

    #[test]
    fn not_json_is_a_syntax_error() {
        for (text, expected) in [
            (&b""[..], JsonError::Empty),
            (b" \n ", JsonError::Empty),
            (&[0xff, 0xfe], JsonError::NotUtf8),
        ] {
            assert_eq!(parse(text, &JsonLimits::default()).unwrap_err(), expected);
        }
        for text in ["{", "[1,]", "{\"a\": 1} x", "nope"] {
            let e = parse(text.as_bytes(), &JsonLimits::default()).unwrap_err();
            assert!(
                matches!(e, JsonError::Syntax { .. }) && e.is_syntax(),
                "{text}: {e}"
            );
            assert!(e.to_string().contains("line 1 column"), "{e}");
        }
    }

    #[test]
    fn a_million_numbers_stop_at_the_node_limit() {
        let mut text = Vec::with_capacity(2 << 20);
        text.push(b'[');
        for _ in 0..(1 << 20) - 2 {
            text.extend(b"1,");
        }
        text.extend(b"1]");
        let e = parse(&text, &JsonLimits::default()).unwrap_err();
        assert!(
            matches!(e, JsonError::TooManyNodes { limit: 100_000, ref path } if path == "[99999]"),
            "{e}"
        );
    }
}

//! `UserParameters`: one JSON string per action, parsed into the action's typed configuration.

use crate::error::{Failure, FailureType};
use crate::json::{self, JsonError, JsonLimits};
use serde::de::DeserializeOwned;

/// CodePipeline's limit on the `UserParameters` string.
pub const MAX_USER_PARAMETERS: usize = 1000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    #[error(
        "UserParameters is {len} characters long; CodePipeline allows at most {MAX_USER_PARAMETERS}. Shorten it (drop keys that repeat the defaults)"
    )]
    TooLong { len: usize },
    #[error(
        "UserParameters is not a JSON object ({detail}). Write it as JSON, for example {{\"key\": \"value\"}}"
    )]
    NotJson { detail: String },
    #[error(
        "UserParameters has the key `{key}` twice (at `{path}`); keep one: the last would otherwise win without a word"
    )]
    DuplicateKey { key: String, path: String },
    #[error("UserParameters has an unknown key `{key}`. Accepted keys: {accepted}")]
    UnknownKey { key: String, accepted: String },
    #[error("UserParameters: {detail}")]
    Invalid { detail: String },
}

impl Failure for ParamsError {
    fn failure_type(&self) -> FailureType {
        FailureType::ConfigurationError
    }
}

/// Parses `UserParameters`. Absent or blank gives `T::default()`. `T` should use
/// `#[serde(deny_unknown_fields)]` so that a typo is named instead of ignored.
pub fn parse_params<T: DeserializeOwned + Default>(raw: Option<&str>) -> Result<T, ParamsError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(T::default());
    };
    let len = raw.chars().count();
    if len > MAX_USER_PARAMETERS {
        return Err(ParamsError::TooLong { len });
    }
    let value = json::parse(raw.as_bytes(), &JsonLimits::default()).map_err(not_json)?;
    if !value.is_object() {
        return Err(ParamsError::NotJson {
            detail: format!("found {}", kind_of(&value)),
        });
    }
    serde_json::from_value(value).map_err(|e| explain(&e.to_string()))
}

/// Duplicate keys are named with their path; anything else is not JSON as CodePipeline
/// passes it on. (1,000 characters stay far inside the size and count limits.)
fn not_json(e: JsonError) -> ParamsError {
    match e {
        JsonError::DuplicateKey { ref key, .. } => ParamsError::DuplicateKey {
            key: key.clone(),
            path: e.duplicate_path().unwrap_or_default(),
        },
        JsonError::Syntax { detail } => ParamsError::NotJson { detail },
        other => ParamsError::NotJson {
            detail: format!("it {other}"),
        },
    }
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Turns serde's `unknown field `x`, expected one of `a`, `b`` into a message that names
/// the key and lists the accepted ones; any other message is kept as `Invalid`. For
/// configuration read outside `UserParameters` (longer JSON, a hook's details).
pub fn explain(message: &str) -> ParamsError {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return ParamsError::Invalid {
            detail: message.to_owned(),
        };
    };
    let (key, rest) = rest.split_once('`').unwrap_or((rest, ""));
    let accepted = if let Some(list) = rest.split_once("expected one of ").map(|(_, l)| l) {
        list.to_owned()
    } else if let Some(one) = rest.split_once("expected ").map(|(_, l)| l) {
        one.to_owned()
    } else {
        "none".to_owned()
    };
    ParamsError::UnknownKey {
        key: key.to_owned(),
        accepted: accepted.replace('`', "").replace(" or ", ", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Cfg {
        #[serde(default)]
        target_tags: Vec<String>,
        #[serde(default)]
        register: bool,
    }

    #[test]
    fn absent_or_blank_is_default() {
        assert_eq!(parse_params::<Cfg>(None).unwrap(), Cfg::default());
        assert_eq!(parse_params::<Cfg>(Some("  ")).unwrap(), Cfg::default());
    }

    #[test]
    fn parses_known_keys() {
        let c: Cfg = parse_params(Some(r#"{"targetTags": ["prod"], "register": true}"#)).unwrap();
        assert_eq!(c.target_tags, vec!["prod"]);
        assert!(c.register);
    }

    #[test]
    fn unknown_key_is_named_with_the_accepted_ones() {
        let e = parse_params::<Cfg>(Some(r#"{"targetTag": "prod"}"#)).unwrap_err();
        assert_eq!(
            e,
            ParamsError::UnknownKey {
                key: "targetTag".into(),
                accepted: "targetTags, register".into()
            }
        );
        let text = e.to_string();
        assert!(text.contains("`targetTag`") && text.contains("targetTags, register"));
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    }

    #[test]
    fn not_json_and_not_an_object() {
        let e = parse_params::<Cfg>(Some("some-input-such-as-a-URL")).unwrap_err();
        assert!(matches!(e, ParamsError::NotJson { .. }), "{e}");
        let e = parse_params::<Cfg>(Some("[1]")).unwrap_err();
        assert!(e.to_string().contains("found an array"), "{e}");
    }

    #[test]
    fn wrong_type_is_explained() {
        let e = parse_params::<Cfg>(Some(r#"{"register": "yes"}"#)).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)] // only parsed
        struct Images {
            #[serde(default)]
            images: std::collections::BTreeMap<String, String>,
            #[serde(default)]
            register: bool,
        }
        for (raw, key, path) in [
            (
                r#"{"images": {"app": "web:v1", "app": "web:v2"}}"#,
                "app",
                "images.app",
            ),
            (
                r#"{"register": false, "register": true}"#,
                "register",
                "register",
            ),
        ] {
            let e = parse_params::<Images>(Some(raw)).unwrap_err();
            assert_eq!(
                e,
                ParamsError::DuplicateKey {
                    key: key.into(),
                    path: path.into()
                },
                "{raw}"
            );
            assert_eq!(e.failure_type(), FailureType::ConfigurationError);
            assert!(
                e.to_string().starts_with(&format!(
                    "UserParameters has the key `{key}` twice (at `{path}`); keep one"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn over_the_limit_is_refused() {
        let long = format!(r#"{{"targetTags": ["{}"]}}"#, "a".repeat(1000));
        let e = parse_params::<Cfg>(Some(&long)).unwrap_err();
        assert!(matches!(e, ParamsError::TooLong { len } if len > 1000));
        assert!(e.to_string().contains("at most 1000"));
    }
}

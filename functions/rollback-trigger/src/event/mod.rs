//! What invoked the function: an alarm state change in one of its three deliveries, or a
//! person's explicit request. Parsed from the JSON itself (not a crate's event types,
//! which refuse real payloads: metric-math configurations, a null `AlarmDescription`).

mod alarm_action;
mod eventbridge;
mod manual;
mod sns;
pub mod time;

use crate::error::RollbackError;
use serde_json::Value;
use std::collections::BTreeMap;

pub use manual::ManualRequest;

/// The shapes the function accepts, for the message that refuses any other.
pub const SHAPES: &str = "an EventBridge \"CloudWatch Alarm State Change\" event, a CloudWatch \
    alarm's Lambda action payload, an SNS notification of an alarm, or a request \
    {\"rollback\": {\"target\": ...}, \"reason\": \"...\"}";

/// How the event arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    EventBridge,
    AlarmAction,
    Sns,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventBridge => "eventbridge",
            Self::AlarmAction => "alarm-action",
            Self::Sns => "sns",
        }
    }
}

/// An alarm's state value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
    Other(String),
}

impl AlarmState {
    pub fn parse(text: &str) -> Self {
        match text {
            "ALARM" => Self::Alarm,
            "OK" => Self::Ok,
            "INSUFFICIENT_DATA" => Self::InsufficientData,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Alarm => "ALARM",
            Self::Ok => "OK",
            Self::InsufficientData => "INSUFFICIENT_DATA",
            Self::Other(s) => s,
        }
    }
}

/// One alarm state change, whatever the delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    pub delivery: Delivery,
    pub name: String,
    /// The alarm's ARN, needed to read its tags (absent only in malformed events).
    pub arn: Option<String>,
    pub state: AlarmState,
    /// The state before, and whether its actions were suppressed then.
    pub previous: Option<(AlarmState, bool)>,
    /// When the state changed, in milliseconds since the epoch.
    pub changed_at_ms: i64,
    pub reason: String,
    pub composite: bool,
    /// `actionsSuppressedBy` of the new state (composite alarms).
    pub suppressed_by: Option<String>,
    /// The alarm's tags when the event carries them (EventBridge with tag propagation).
    pub tags: Option<BTreeMap<String, String>>,
    /// Where the alarm is: the event's account and region (an event forwarded from a
    /// workload account's bus keeps them), else its ARN's.
    pub account: Option<String>,
    pub region: Option<String>,
}

/// What the function was asked to handle.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Alarm(AlarmChange),
    Manual(ManualRequest),
}

/// Recognises the shape of `event` and parses it.
pub fn parse(event: &Value) -> Result<Input, RollbackError> {
    if event.get("rollback").is_some() {
        return manual::parse(event).map(Input::Manual);
    }
    let change = if event.get("detail-type").is_some() {
        eventbridge::parse(event)
    } else if event.get("alarmData").is_some() {
        alarm_action::parse(event)
    } else if event.get("Records").is_some() {
        sns::parse(event)
    } else {
        return Err(RollbackError::UnknownEvent {
            keys: top_keys(event),
        });
    };
    change.map(|c| Input::Alarm(located(c)))
}

/// The alarm's account and region, from its ARN where the event did not say.
fn located(mut c: AlarmChange) -> AlarmChange {
    use shared::aws::account::{arn_account, arn_region};
    let arn = c.arn.as_deref();
    if c.account.is_none() {
        c.account = arn.and_then(arn_account).map(str::to_owned);
    }
    if c.region.is_none() {
        c.region = arn.and_then(arn_region).map(str::to_owned);
    }
    c
}

fn top_keys(event: &Value) -> String {
    match event.as_object() {
        Some(map) if map.is_empty() => "an empty object".to_owned(),
        Some(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            format!("an object with keys {}", keys.join(", "))
        }
        None => format!("a JSON {}", kind(event)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Reads fields of one event shape, naming the shape and the path in every error.
pub(crate) struct Fields<'a> {
    pub shape: &'static str,
    pub root: &'a Value,
}

impl<'a> Fields<'a> {
    pub fn at(&self, path: &str) -> Option<&'a Value> {
        path.split('.')
            .try_fold(self.root, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, path: &str) -> Option<String> {
        self.at(path).and_then(Value::as_str).map(str::to_owned)
    }

    pub fn str(&self, path: &str) -> Result<String, RollbackError> {
        self.opt_str(path)
            .ok_or_else(|| self.bad(format!("`{path}` is missing or not a string")))
    }

    pub fn time(&self, path: &str) -> Result<i64, RollbackError> {
        let text = self.str(path)?;
        time::parse_millis(&text)
            .ok_or_else(|| self.bad(format!("`{path}` is not a timestamp: `{text}`")))
    }

    pub fn bad(&self, problem: String) -> RollbackError {
        RollbackError::BadEvent {
            shape: self.shape,
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn other_shapes_are_refused_with_the_accepted_ones_named() {
        for (event, seen) in [
            (json!({}), "an empty object"),
            (json!([1]), "a JSON array"),
            (json!({"CodePipeline.job": {}}), "keys CodePipeline.job"),
        ] {
            let err = parse(&event).unwrap_err().to_string();
            assert!(err.contains(seen), "{err}");
            assert!(err.contains("CloudWatch Alarm State Change"), "{err}");
        }
    }
}

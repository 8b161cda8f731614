//! EventBridge's "CloudWatch Alarm State Change" event.

use super::{AlarmChange, AlarmState, Delivery, Fields};
use crate::error::RollbackError;
use serde_json::Value;
use std::collections::BTreeMap;

pub const DETAIL_TYPE: &str = "CloudWatch Alarm State Change";

pub fn parse(event: &Value) -> Result<AlarmChange, RollbackError> {
    let f = Fields {
        shape: "EventBridge event",
        root: event,
    };
    let detail_type = f.opt_str("detail-type").unwrap_or_default();
    if detail_type != DETAIL_TYPE || f.opt_str("source").as_deref() != Some("aws.cloudwatch") {
        return Err(f.bad(format!(
            "it is a `{detail_type}` event from `{}`; only `{DETAIL_TYPE}` events from \
             `aws.cloudwatch` are handled: narrow the EventBridge rule's pattern",
            f.opt_str("source").unwrap_or_default()
        )));
    }
    let arn = event["resources"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .map(str::to_owned);
    let previous = f.opt_str("detail.previousState.value").map(|v| {
        let suppressed = f.at("detail.previousState.actionsSuppressedBy").is_some();
        (AlarmState::parse(&v), suppressed)
    });
    Ok(AlarmChange {
        delivery: Delivery::EventBridge,
        name: f.str("detail.alarmName")?,
        arn,
        state: AlarmState::parse(&f.str("detail.state.value")?),
        previous,
        changed_at_ms: f.time("detail.state.timestamp")?,
        reason: f.opt_str("detail.state.reason").unwrap_or_default(),
        composite: f.at("detail.configuration.alarmRule").is_some(),
        suppressed_by: f.opt_str("detail.state.actionsSuppressedBy"),
        tags: tags(f.at("detail.alarmTags")),
        account: f.opt_str("account"),
        region: f.opt_str("region"),
    })
}

/// `alarmTags` is an object of key -> value.
fn tags(value: Option<&Value>) -> Option<BTreeMap<String, String>> {
    let map = value?.as_object()?;
    Some(
        map.iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect(),
    )
}

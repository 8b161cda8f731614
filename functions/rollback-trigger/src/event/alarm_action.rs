//! The payload a CloudWatch alarm's Lambda action sends:
//! `{source, alarmArn, accountId, time, region, alarmData{alarmName, state, previousState, configuration}}`.

use super::{AlarmChange, AlarmState, Delivery, Fields};
use crate::error::RollbackError;
use serde_json::Value;

pub fn parse(event: &Value) -> Result<AlarmChange, RollbackError> {
    let f = Fields {
        shape: "alarm action payload",
        root: event,
    };
    if f.opt_str("source").as_deref() != Some("aws.cloudwatch") {
        return Err(f.bad("`source` is not `aws.cloudwatch`".to_owned()));
    }
    let previous = f.opt_str("alarmData.previousState.value").map(|v| {
        let suppressed = f
            .at("alarmData.previousState.actionsSuppressedBy")
            .is_some();
        (AlarmState::parse(&v), suppressed)
    });
    // The state's own timestamp is when it changed; `time` (when the action ran) is the
    // fallback.
    let changed_at_ms = f
        .time("alarmData.state.timestamp")
        .or_else(|_| f.time("time"))?;
    Ok(AlarmChange {
        delivery: Delivery::AlarmAction,
        name: f.str("alarmData.alarmName")?,
        arn: f
            .opt_str("alarmArn")
            .map(|a| a.split_whitespace().collect()),
        state: AlarmState::parse(&f.str("alarmData.state.value")?),
        previous,
        changed_at_ms,
        reason: f.opt_str("alarmData.state.reason").unwrap_or_default(),
        composite: f.at("alarmData.configuration.alarmRule").is_some(),
        suppressed_by: f.opt_str("alarmData.state.actionsSuppressedBy"),
        tags: None,
        account: f.opt_str("accountId"),
        region: f.opt_str("region"),
    })
}

//! An SNS notification (Lambda subscription) whose `Message` is a CloudWatch alarm as a
//! JSON string: `{AlarmName, AlarmArn, NewStateValue, OldStateValue, StateChangeTime, ...}`.

use super::{AlarmChange, AlarmState, Delivery, Fields};
use crate::error::RollbackError;
use serde_json::Value;

pub fn parse(event: &Value) -> Result<AlarmChange, RollbackError> {
    let outer = Fields {
        shape: "SNS notification",
        root: event,
    };
    let records = event["Records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let [record] = records else {
        return Err(outer.bad(format!(
            "it has {} records; SNS delivers one message per invocation",
            records.len()
        )));
    };
    let text = record["Sns"]["Message"]
        .as_str()
        .ok_or_else(|| outer.bad("`Records[0].Sns.Message` is missing".to_owned()))?;
    let message: Value = serde_json::from_str(text).map_err(|_| {
        outer.bad(format!(
            "its message is not a CloudWatch alarm (not JSON): `{}`; subscribe the function \
             only to the topic the alarm notifies",
            text.chars().take(80).collect::<String>()
        ))
    })?;
    let f = Fields {
        shape: "SNS alarm message",
        root: &message,
    };
    if f.at("AlarmName").is_none() {
        return Err(f.bad(
            "the message has no `AlarmName`: it is not a CloudWatch alarm notification".to_owned(),
        ));
    }
    // Composite alarms name their rule in the message; metric alarms a `Trigger`.
    let composite = f.at("AlarmRule").is_some();
    Ok(AlarmChange {
        delivery: Delivery::Sns,
        name: f.str("AlarmName")?,
        arn: f.opt_str("AlarmArn"),
        state: AlarmState::parse(&f.str("NewStateValue")?),
        previous: f
            .opt_str("OldStateValue")
            .map(|v| (AlarmState::parse(&v), false)),
        changed_at_ms: f.time("StateChangeTime")?,
        reason: f.opt_str("NewStateReason").unwrap_or_default(),
        composite,
        suppressed_by: f.opt_str("ActionsSuppressedBy"),
        tags: None,
        account: f.opt_str("AWSAccountId"),
        // `Region` is a display name (`US East (N. Virginia)`): the ARN's is used.
        region: None,
    })
}

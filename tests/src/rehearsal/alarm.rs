//! Alarm state changes, delivered to rollback-trigger as EventBridge delivers them: the
//! "CloudWatch Alarm State Change" event with the alarm's tags (tag propagation on).

use super::control;
use super::execution::Execution;
use super::invoke::{TIMEOUT, invocation_word, start};
use super::report::Step;
use crate::function::Invocation;
use crate::local_aws::{ACCOUNT, REGION};
use serde_json::{Value, json};
use std::time::Instant;

/// Delivers the alarm state changes since the last call; a step per delivery.
pub async fn deliver_pending(ex: &Execution<'_>) -> Vec<Step> {
    let events = match control(ex.aws, "GET", "events", json!({})).await {
        Ok(Value::Array(events)) => events,
        _ => return Vec::new(),
    };
    let mut steps = Vec::new();
    for change in events {
        let step = deliver(ex, &change).await;
        ex.printer.step(&step);
        steps.push(step);
    }
    steps
}

async fn deliver(ex: &Execution<'_>, change: &Value) -> Step {
    let name = change["alarmName"].as_str().unwrap_or_default();
    let state = change["state"].as_str().unwrap_or_default();
    let (account, region) = place(change);
    let shown = if account == ACCOUNT && region == REGION {
        name.to_owned()
    } else {
        format!("{name} (account {account}, {region})")
    };
    let mut step = Step::new("(alarm)", &shown, "EventBridge -> Lambda rollback-trigger");
    let started = Instant::now();
    let event = event_bridge(change);
    let mut f = match start(ex, "rollback-trigger", &[]).await {
        Ok(f) => f,
        Err(e) => {
            step.result = "Failed".into();
            step.summary = e;
            return step;
        }
    };
    step.invocations = 1;
    let result = f.invoke(&event, TIMEOUT).await;
    step.duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Invocation::Response(answer) => {
            let decisions: Vec<String> = answer["decisions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    format!(
                        "{}: {} {}",
                        d["target"].as_str().unwrap_or_default(),
                        d["outcome"].as_str().unwrap_or_default(),
                        d["action"]
                            .as_str()
                            .or_else(|| d["reason"].as_str())
                            .unwrap_or_default()
                    )
                })
                .collect();
            step.summary = if decisions.is_empty() {
                format!(
                    "{name} went to {state}; {}",
                    answer["ignored"].as_str().unwrap_or("no decision")
                )
            } else {
                format!("{name} went to {state}; {} decision(s)", decisions.len())
            };
            step.details = decisions;
            let outcomes: Vec<&str> = answer["decisions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["outcome"].as_str())
                .collect();
            let failed = outcomes
                .iter()
                .any(|o| matches!(*o, "failed" | "refused" | "retryLater"));
            if failed || (state == "ALARM" && !outcomes.contains(&"acted")) {
                step.result = "Failed".into();
            }
        }
        other => {
            step.result = "Failed".into();
            step.summary = format!(
                "{name} went to {state}; the invocation ended {}",
                invocation_word(&other)
            );
        }
    }
    step
}

/// The account and region of a recorded state change (the alarm's).
fn place(change: &Value) -> (&str, &str) {
    (
        change["account"].as_str().unwrap_or(ACCOUNT),
        change["region"].as_str().unwrap_or(REGION),
    )
}

/// The EventBridge event of a state change the emulator recorded; an alarm of another
/// account arrives as that account's rule forwards it, with its `account` and `region`.
pub fn event_bridge(change: &Value) -> Value {
    let name = change["alarmName"].as_str().unwrap_or_default();
    let (account, region) = place(change);
    let at = change["time"].as_f64().unwrap_or_default();
    let stamp = iso(at, true);
    json!({
        "version": "0",
        "id": crate::job::job_id(),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": iso(at, false),
        "region": region,
        "resources": [change["alarmArn"]],
        "detail": {
            "alarmName": name,
            "state": {"value": change["state"], "reason": change["reason"],
                      "reasonData": json!({"version": "1.0", "queryDate": stamp, "recentDatapoints": [12.5],
                                           "threshold": 5.0}).to_string(),
                      "timestamp": stamp},
            "previousState": {"value": change["previousState"], "reason": "Threshold not crossed",
                              "timestamp": iso(at - 60.0, true)},
            "configuration": {"description": null, "metrics": [{"id": "m1", "metricStat": {"metric": {
                "namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count",
                "dimensions": {"LoadBalancer": "app/web/0123456789abcdef"}}, "period": 60, "stat": "Sum"},
                "returnData": true}]},
            "alarmTags": change["tags"],
        }
    })
}

/// Epoch seconds as `2026-11-20T10:30:00Z`, or with milliseconds and `+0000` as alarm
/// timestamps are written.
pub fn iso(epoch: f64, alarm_style: bool) -> String {
    let secs = epoch.floor() as i64;
    let millis = ((epoch - secs as f64) * 1000.0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if alarm_style {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}+0000")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_eventbridge_and_alarms_write_them() {
        assert_eq!(iso(0.0, false), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_795_170_600.25, true), "2026-11-20T10:30:00.250+0000");
        assert_eq!(iso(951_782_400.0, false), "2000-02-29T00:00:00Z");
    }
}

//! CloudWatch alarms by name or prefix, by their current state: an alarm already in ALARM
//! when the deploy starts fails the gate as surely as one that goes off during it.

use crate::config::AlarmsCheck;
use crate::decide::{CheckReading, Reading};
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::AlarmType;
use shared::{AwsError, aws_error};

/// One alarm's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
}

pub fn judge(check: &AlarmsCheck, alarms: &[Alarm]) -> Reading {
    let missing: Vec<&str> = check
        .names
        .iter()
        .filter(|n| !alarms.iter().any(|a| &a.name == *n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Reading::Fatal(format!(
            "no such alarm: {} (check the names and the region)",
            missing.join(", ")
        ));
    }
    if alarms.is_empty() {
        return Reading::Fatal(format!(
            "no alarm matches the prefix {:?}",
            check.prefix.as_deref().unwrap_or_default()
        ));
    }
    let firing: Vec<String> = alarms
        .iter()
        .filter(|a| a.state == "ALARM")
        .map(|a| format!("alarm {} ALARM: {}", a.name, a.reason))
        .collect();
    if !firing.is_empty() {
        return Reading::Fatal(firing.join("; "));
    }
    let states = alarms
        .iter()
        .map(|a| format!("alarm {} {}", a.name, a.state))
        .collect::<Vec<_>>()
        .join(", ");
    if alarms.iter().any(|a| a.state != "OK") {
        return Reading::NoData(states);
    }
    Reading::Pass(states)
}

/// Reads the alarms (names and prefix concurrently: CloudWatch takes one or the other).
pub async fn check(client: &Client, check: &AlarmsCheck) -> CheckReading {
    let by_names = async {
        if check.names.is_empty() {
            return Ok(Vec::new());
        }
        read(
            client
                .describe_alarms()
                .set_alarm_names(Some(check.names.clone())),
        )
        .await
    };
    let by_prefix = async {
        match check.prefix.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => read(client.describe_alarms().alarm_name_prefix(p)).await,
            None => Ok(Vec::new()),
        }
    };
    let reading = match futures::future::try_join(by_names, by_prefix).await {
        Ok((mut alarms, more)) => {
            for a in more {
                if !alarms.iter().any(|b| b.name == a.name) {
                    alarms.push(a);
                }
            }
            judge(check, &alarms)
        }
        Err(e) => Reading::Error(e.to_string()),
    };
    CheckReading::new("alarms", reading)
        .dry_run(check.dry_run)
        .missing_data(check.missing_data)
}

async fn read(
    request: aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder,
) -> Result<Vec<Alarm>, AwsError> {
    let out = request
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await
        .map_err(|e| aws_error("cloudwatch:DescribeAlarms", e))?;
    let metric = out.metric_alarms().iter().map(|a| Alarm {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        state: a.state_value().map_or("", |s| s.as_str()).to_owned(),
        reason: a.state_reason().unwrap_or_default().to_owned(),
    });
    let composite = out.composite_alarms().iter().map(|a| Alarm {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        state: a.state_value().map_or("", |s| s.as_str()).to_owned(),
        reason: a.state_reason().unwrap_or_default().to_owned(),
    });
    Ok(metric.chain(composite).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, state: &str) -> Alarm {
        Alarm {
            name: name.into(),
            state: state.into(),
            reason: "Threshold Crossed".into(),
        }
    }

    #[test]
    fn current_states_decide() {
        let named = AlarmsCheck {
            names: vec!["web-5xx".into()],
            ..AlarmsCheck::default()
        };
        let prefixed = AlarmsCheck {
            prefix: Some("web-".into()),
            ..AlarmsCheck::default()
        };
        let cases = [
            (
                &named,
                vec![alarm("web-5xx", "OK")],
                "passed",
                "alarm web-5xx OK",
            ),
            (
                &named,
                vec![alarm("web-5xx", "ALARM")],
                "failed",
                "alarm web-5xx ALARM: Threshold Crossed",
            ),
            (
                &named,
                vec![alarm("web-5xx", "INSUFFICIENT_DATA")],
                "no-data",
                "INSUFFICIENT_DATA",
            ),
            (&named, vec![], "failed", "no such alarm: web-5xx"),
            (&prefixed, vec![], "failed", "no alarm matches the prefix"),
            (
                &prefixed,
                vec![alarm("web-a", "OK"), alarm("web-b", "ALARM")],
                "failed",
                "web-b",
            ),
        ];
        for (check, alarms, word, text) in cases {
            let r = judge(check, &alarms);
            assert_eq!(r.word(), word, "{r:?}");
            assert!(r.detail().contains(text), "{r:?}");
        }
    }
}

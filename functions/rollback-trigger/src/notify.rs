//! The optional SNS message: what fired and what was done, readable in one glance.

use crate::report::{Decision, Outcome};
use shared::error::{AwsError, aws_error};

/// Whether the decisions are worth a message: something was done, refused, failed or
/// would have been done. Duplicates and stale events stay quiet.
pub fn worth_sending(decisions: &[Decision]) -> bool {
    decisions.iter().any(|d| d.outcome != Outcome::Nothing)
}

/// The subject (at most 100 ASCII characters, as SNS requires) and the body.
pub fn message(trigger: &str, decisions: &[Decision]) -> (String, String) {
    let acted = decisions
        .iter()
        .filter(|d| d.outcome == Outcome::Acted)
        .count();
    let head = if acted > 0 {
        format!("Rolled back {acted} of {}", decisions.len())
    } else {
        format!("No rollback ({} targets)", decisions.len())
    };
    let subject: String = format!("{head}: {trigger}")
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect();
    let mut body = format!("{trigger}\n\n");
    for d in decisions {
        body.push_str("- ");
        body.push_str(&d.line());
        body.push('\n');
    }
    (subject, body)
}

pub async fn send(
    client: &aws_sdk_sns::Client,
    topic: &str,
    subject: &str,
    body: &str,
) -> Result<(), AwsError> {
    client
        .publish()
        .topic_arn(topic)
        .subject(subject)
        .message(body)
        .send()
        .await
        .map_err(|e| aws_error("sns:Publish", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(outcome: Outcome) -> Decision {
        Decision::new(
            "ECS service prod/web".into(),
            outcome,
            Some("stopped d".into()),
            String::new(),
        )
    }

    #[test]
    fn messages() {
        assert!(!worth_sending(&[d(Outcome::Nothing)]));
        assert!(worth_sending(&[d(Outcome::Nothing), d(Outcome::Refused)]));
        let (subject, body) = message(
            "alarm web-5xx went to ALARM",
            &[d(Outcome::Acted), d(Outcome::Nothing)],
        );
        assert_eq!(subject, "Rolled back 1 of 2: alarm web-5xx went to ALARM");
        assert!(
            body.contains("- ECS service prod/web: acted: stopped d\n"),
            "{body}"
        );
        let (subject, _) = message(&"é".repeat(200), &[d(Outcome::Refused)]);
        assert!(subject.starts_with("No rollback (1 targets): ??") && subject.len() == 100);
    }
}

//! Freezing a stage: `DisableStageTransition` (Inbound), so that nothing more is
//! promoted into it until a person enables it again. A transition that a person changed
//! after the trigger is left alone: they have already looked.

use super::{Plan, Step, TriggerTime, is_newer};
use crate::event::time::format_millis;

/// The stage's inbound transition, from `GetPipelineState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub enabled: bool,
    pub changed_ms: Option<i64>,
}

/// `None`: the pipeline has no such stage.
pub fn decide(transition: Option<&Transition>, at: TriggerTime, reason: &str) -> Plan {
    let Some(t) = transition else {
        return Plan::Refuse(
            "the pipeline has no such stage to freeze: check the target's freeze pipeline and \
             stage names"
                .to_owned(),
        );
    };
    if !t.enabled {
        return Plan::Nothing("the stage's inbound transition is already disabled".to_owned());
    }
    if let Some(changed) = t.changed_ms.filter(|c| is_newer(*c, at)) {
        return Plan::Nothing(format!(
            "the transition was enabled again at {}, after the trigger: a person has looked",
            format_millis(changed)
        ));
    }
    Plan::Act(Step::Freeze {
        reason: reason_text(reason),
    })
}

/// `reason` within what `DisableStageTransition` accepts: at most 300 characters of
/// `[a-zA-Z0-9!@ \(\)\.\*\?\-]`. Colons become dots, other characters dashes.
pub fn reason_text(reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .map(|c| match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | '!'
            | '@'
            | ' '
            | '('
            | ')'
            | '.'
            | '*'
            | '?'
            | '-' => c,
            ':' => '.',
            _ => '-',
        })
        .take(300)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "Frozen by rollback-trigger".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The reason for an alarm.
pub fn alarm_reason(alarm: &str, at_ms: i64) -> String {
    format!(
        "Frozen by rollback-trigger. alarm {alarm} went to ALARM at {}",
        format_millis(at_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::assert_plan;

    #[test]
    fn each_state() {
        let on = |changed| Transition {
            enabled: true,
            changed_ms: changed,
        };
        let table: Vec<(&str, Option<Transition>, TriggerTime, &str)> = vec![
            ("enabled", Some(on(Some(10))), Some(100), "act"),
            ("enabled, never changed", Some(on(None)), Some(100), "act"),
            (
                "already disabled (duplicate)",
                Some(Transition {
                    enabled: false,
                    changed_ms: Some(110),
                }),
                Some(100),
                "nothing: already disabled",
            ),
            (
                "re-enabled by a person after the alarm",
                Some(on(Some(150))),
                Some(100),
                "nothing: a person has looked",
            ),
            ("manual without time", Some(on(Some(150))), None, "act"),
            ("no such stage", None, Some(100), "refuse: no such stage"),
        ];
        for (name, t, at, want) in table {
            assert_plan(name, decide(t.as_ref(), at, "r"), |_| String::new(), want);
        }
    }

    #[test]
    fn reasons_fit_the_api() {
        let r = reason_text(&alarm_reason("web_5xx/p99", 1_691_152_575_490));
        assert_eq!(
            r,
            "Frozen by rollback-trigger. alarm web-5xx-p99 went to ALARM at 2023-08-04T12.36.15.49Z"
        );
        assert_eq!(reason_text(&"é".repeat(400)).len(), 300);
        assert_eq!(reason_text("::"), "..");
        assert_eq!(reason_text("\u{1F600}"), "-");
        assert_eq!(reason_text("   "), "Frozen by rollback-trigger");
    }
}

//! Whether an alarm state change acts at all.

use crate::event::{AlarmChange, AlarmState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Act,
    Ignore(String),
}

/// Only a change into ALARM acts; a composite alarm whose actions are suppressed does
/// not. ALARM -> ALARM acts only when the previous ALARM's actions were suppressed (the
/// suppression just ended): otherwise it is not a transition.
pub fn judge(change: &AlarmChange) -> Verdict {
    if change.state != AlarmState::Alarm {
        return Verdict::Ignore(format!(
            "the alarm went to {}: only a change into ALARM acts",
            change.state.as_str()
        ));
    }
    if let Some(by) = &change.suppressed_by {
        return Verdict::Ignore(format!(
            "the alarm's actions are suppressed (by {by}): nothing acts while they are"
        ));
    }
    match &change.previous {
        Some((AlarmState::Alarm, false)) => Verdict::Ignore(
            "the alarm was already in ALARM: not a transition into ALARM".to_owned(),
        ),
        _ => Verdict::Act,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Delivery;

    fn change(
        state: AlarmState,
        previous: Option<(AlarmState, bool)>,
        suppressed: Option<&str>,
    ) -> AlarmChange {
        AlarmChange {
            delivery: Delivery::EventBridge,
            name: "web-5xx".into(),
            arn: None,
            state,
            previous,
            changed_at_ms: 0,
            reason: String::new(),
            composite: suppressed.is_some(),
            suppressed_by: suppressed.map(str::to_owned),
            tags: None,
            account: None,
            region: None,
        }
    }

    /// New state, previous (state, suppressed), suppressed by, ignored because.
    type Row = (
        AlarmState,
        Option<(AlarmState, bool)>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn each_transition() {
        use AlarmState::*;
        let table: Vec<Row> = vec![
            (Alarm, Some((Ok, false)), None, None),
            (Alarm, Some((InsufficientData, false)), None, None),
            (Alarm, None, None, None),
            (Alarm, Some((Alarm, true)), None, None),
            (Alarm, Some((Alarm, false)), None, Some("already in ALARM")),
            (
                Alarm,
                Some((Ok, false)),
                Some("Alarm"),
                Some("suppressed (by Alarm)"),
            ),
            (
                Alarm,
                Some((Ok, false)),
                Some("WaitPeriod"),
                Some("suppressed"),
            ),
            (Ok, Some((Alarm, false)), None, Some("went to OK")),
            (
                InsufficientData,
                Some((Alarm, false)),
                None,
                Some("went to INSUFFICIENT_DATA"),
            ),
            (Other("WEIRD".into()), None, None, Some("went to WEIRD")),
        ];
        for (state, previous, suppressed, ignored) in table {
            let c = change(state, previous, suppressed);
            match (judge(&c), ignored) {
                (Verdict::Act, None) => {}
                (Verdict::Ignore(why), Some(says)) => assert!(why.contains(says), "{c:?}: {why}"),
                (got, want) => panic!("{c:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}

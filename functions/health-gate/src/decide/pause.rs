//! The verdict on an ECS pause hook. ECS keeps no state for a pause hook and passes none
//! back, so each invocation judges one pass against the time the hook began waiting: a
//! failed check rolls back at once (the answer is final), and the hook continues once
//! every deciding check passes and `bake` has gone by since the pause began. Counters
//! that need earlier passes (`failureLimit`, `errorLimit`, `consecutiveSuccesses`) cannot
//! be kept: a failed reading within `failureLimit`, and a measurement error, wait for the
//! next pass instead. Every scenario is in the table below.

use super::{CheckReading, MissingData, OnInconclusive, Reading, Timing};

/// What to answer the pause hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseVerdict {
    /// `ContinueServiceDeployment` with `CONTINUE`.
    Continue(String),
    /// `ContinueServiceDeployment` with `ROLLBACK`.
    Rollback(String),
    /// Nothing yet: the next pass (the schedule) decides.
    Wait(String),
}

impl PauseVerdict {
    pub fn word(&self) -> &'static str {
        match self {
            Self::Continue(_) => "continue",
            Self::Rollback(_) => "rollback",
            Self::Wait(_) => "wait",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Continue(r) | Self::Rollback(r) | Self::Wait(r) => r,
        }
    }
}

/// One pass of `readings` for a hook paused since `since_ms`.
pub fn decide_pause(
    timing: &Timing,
    readings: &[CheckReading],
    since_ms: u64,
    now_ms: u64,
) -> PauseVerdict {
    let paused = now_ms.saturating_sub(since_ms);
    let deciding: Vec<&CheckReading> = readings.iter().filter(|c| !c.dry_run).collect();
    let named = |c: &CheckReading| format!("{} {}", c.name, c.reading.detail());
    let mut waiting = Vec::new();
    for c in &deciding {
        match (&c.reading, c.missing_data) {
            (Reading::Fatal(_), _) => return PauseVerdict::Rollback(named(c)),
            (Reading::Fail(_), _) | (Reading::NoData(_), MissingData::Fail)
                if timing.failure_limit == 0 =>
            {
                return PauseVerdict::Rollback(named(c));
            }
            (Reading::NoData(_), MissingData::Inconclusive)
                if timing.on_inconclusive == OnInconclusive::Fail =>
            {
                return PauseVerdict::Rollback(format!("inconclusive: {}", named(c)));
            }
            (Reading::Pass(_), _) | (Reading::NoData(_), MissingData::Pass) => {}
            (Reading::Fail(_), _) | (Reading::NoData(_), MissingData::Fail) => {
                waiting.push(format!(
                    "{} (within failureLimit {}, judged again on the next pass)",
                    named(c),
                    timing.failure_limit
                ))
            }
            (Reading::Error(_), _) => waiting.push(format!(
                "{} could not be measured: {}",
                c.name,
                c.reading.detail()
            )),
            _ => waiting.push(named(c)),
        }
    }
    if deciding.is_empty() {
        return PauseVerdict::Rollback(
            "no check decides (every check is a dry run): nothing says the deployment is healthy"
                .into(),
        );
    }
    if !waiting.is_empty() && paused >= timing.timeout_ms {
        return PauseVerdict::Rollback(format!(
            "no verdict {} after the pause began (timeout): {}",
            seconds(paused),
            waiting.join("; ")
        ));
    }
    if !waiting.is_empty() {
        return PauseVerdict::Wait(waiting.join("; "));
    }
    let bake = timing.bake_ms.max(timing.initial_delay_ms);
    if paused < bake {
        return PauseVerdict::Wait(format!("bake {} of {}", seconds(paused), seconds(bake)));
    }
    PauseVerdict::Continue(format!(
        "every check passed, {} after the pause began",
        seconds(paused)
    ))
}

fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, reading: Reading) -> CheckReading {
        CheckReading::new(name, reading)
    }

    fn pass(name: &str) -> CheckReading {
        r(name, Reading::Pass(format!("{name} ok")))
    }

    #[test]
    fn every_scenario() {
        let timing = Timing {
            bake_ms: 60_000,
            timeout_ms: 600_000,
            ..Timing::default()
        };
        let tolerant = Timing {
            failure_limit: 2,
            ..timing
        };
        let waits_inconclusive = Timing {
            on_inconclusive: OnInconclusive::Wait,
            ..timing
        };
        let fatal = r("alarms", Reading::Fatal("alarm x ALARM".into()));
        let fail = r("targets", Reading::Fail("web-green 1/2 healthy".into()));
        let pending = r("deployment", Reading::Pending("2/4 running".into()));
        let error = r("metric:p99", Reading::Error("throttled".into()));
        let no_data =
            |policy| r("metric:p99", Reading::NoData("no datapoints".into())).missing_data(policy);
        let dry_fail = fail.clone().dry_run(true);
        // (timing, readings, paused ms, verdict word, reason contains)
        let cases: Vec<(&Timing, Vec<CheckReading>, u64, &str, &str)> = vec![
            (
                &timing,
                vec![pass("alarms"), pass("targets")],
                60_000,
                "continue",
                "60s after",
            ),
            (
                &timing,
                vec![pass("alarms"), pass("targets")],
                59_000,
                "wait",
                "bake 59s of 60s",
            ),
            (
                &timing,
                vec![pass("alarms"), fatal.clone()],
                1_000,
                "rollback",
                "alarm x ALARM",
            ),
            (
                &timing,
                vec![pass("alarms"), fail.clone()],
                1_000,
                "rollback",
                "1/2 healthy",
            ),
            (
                &tolerant,
                vec![pass("alarms"), fail.clone()],
                1_000,
                "wait",
                "within failureLimit 2",
            ),
            (
                &tolerant,
                vec![fatal.clone()],
                1_000,
                "rollback",
                "alarm x ALARM",
            ),
            (
                &timing,
                vec![pass("alarms"), pending.clone()],
                90_000,
                "wait",
                "2/4 running",
            ),
            (
                &timing,
                vec![pending.clone()],
                600_000,
                "rollback",
                "timeout",
            ),
            (
                &timing,
                vec![pass("alarms")],
                900_000,
                "continue",
                "900s after",
            ),
            (
                &timing,
                vec![pass("alarms"), error.clone()],
                90_000,
                "wait",
                "could not be measured: throttled",
            ),
            (
                &timing,
                vec![error.clone()],
                700_000,
                "rollback",
                "could not be measured",
            ),
            (
                &timing,
                vec![pass("a"), no_data(MissingData::Wait)],
                90_000,
                "wait",
                "no datapoints",
            ),
            (
                &timing,
                vec![pass("a"), no_data(MissingData::Pass)],
                90_000,
                "continue",
                "",
            ),
            (
                &timing,
                vec![pass("a"), no_data(MissingData::Fail)],
                90_000,
                "rollback",
                "no datapoints",
            ),
            (
                &timing,
                vec![pass("a"), no_data(MissingData::Inconclusive)],
                90_000,
                "rollback",
                "inconclusive",
            ),
            (
                &waits_inconclusive,
                vec![pass("a"), no_data(MissingData::Inconclusive)],
                90_000,
                "wait",
                "no datapoints",
            ),
            (
                &timing,
                vec![pass("a"), dry_fail.clone()],
                90_000,
                "continue",
                "",
            ),
            (
                &timing,
                vec![dry_fail.clone()],
                90_000,
                "rollback",
                "dry run",
            ),
            (
                &timing,
                vec![fatal.clone(), pending.clone()],
                1_000,
                "rollback",
                "alarm x ALARM",
            ),
        ];
        for (i, (t, readings, paused, word, says)) in cases.into_iter().enumerate() {
            let v = decide_pause(t, &readings, 1_000_000, 1_000_000 + paused);
            assert_eq!(v.word(), word, "case {i}: {v:?}");
            assert!(
                v.reason().contains(says),
                "case {i}: {v:?} should say {says:?}"
            );
        }
    }

    #[test]
    fn initial_delay_holds_the_answer_as_bake_does() {
        let timing = Timing {
            initial_delay_ms: 120_000,
            bake_ms: 60_000,
            ..Timing::default()
        };
        let v = decide_pause(&timing, &[pass("alarms")], 0, 90_000);
        assert_eq!(v, PauseVerdict::Wait("bake 90s of 120s".into()));
    }
}

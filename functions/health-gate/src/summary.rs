//! What the console shows: the measured values behind the verdict, pending and failing
//! checks first, within CodePipeline's summary limit; and the output variables.

use crate::decide::{CheckReading, Reading, Verdict};
use shared::report::{MAX_SUMMARY, truncate};

/// `passed after 3 passes: deployment abc SUCCESSFUL, running 4/4; targets web-green 4/4 healthy; ...`
pub fn summary(verdict: &Verdict, readings: &[CheckReading], passes: u32) -> String {
    let head = match verdict {
        Verdict::Passed => format!("passed after {passes} pass{}", plural(passes)),
        Verdict::Failed { reason } => format!("failed: {reason}"),
        Verdict::Inconclusive { reason } => format!("inconclusive: {reason}"),
        Verdict::Wait { pending, .. } => format!("waiting (pass {passes}): {}", pending.join("; ")),
    };
    let mut ordered: Vec<&CheckReading> = readings.iter().collect();
    ordered.sort_by_key(|c| match c.reading {
        Reading::Fatal(_) | Reading::Fail(_) => 0,
        Reading::Pending(_) | Reading::NoData(_) | Reading::Error(_) => 1,
        Reading::Pass(_) => 2,
    });
    let values: Vec<String> = ordered.iter().map(|c| line(c)).collect();
    let text = if values.is_empty() {
        head
    } else {
        format!("{head} | {}", values.join("; "))
    };
    truncate(&text, MAX_SUMMARY)
}

fn line(c: &CheckReading) -> String {
    let dry = if c.dry_run { " (dry run)" } else { "" };
    match &c.reading {
        Reading::Pass(d) => format!("{d}{dry}"),
        other => format!("{} {}: {}{dry}", c.name, other.word(), other.detail()),
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "es" }
}

/// `deployment=passed,targets=failed`
pub fn checks_variable(readings: &[CheckReading]) -> String {
    readings
        .iter()
        .map(|c| format!("{}={}", c.name, c.reading.word()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The deciding checks that did not pass.
pub fn failed_checks(readings: &[CheckReading]) -> String {
    readings
        .iter()
        .filter(|c| !c.dry_run && matches!(c.reading, Reading::Fail(_) | Reading::Fatal(_)))
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_and_failing_first_then_measured_values() {
        let readings = vec![
            CheckReading::new("alarms", Reading::Pass("alarm web-5xx OK".into())),
            CheckReading::new("targets", Reading::Pending("web-green 2/4 healthy".into())),
            CheckReading::new(
                "probe:/health",
                Reading::Pass("GET /health 200 in 35 ms".into()),
            )
            .dry_run(true),
        ];
        let wait = Verdict::Wait {
            after_ms: 30_000,
            pending: vec!["targets: web-green 2/4 healthy".into()],
        };
        let s = summary(&wait, &readings, 2);
        assert!(
            s.starts_with("waiting (pass 2): targets: web-green 2/4 healthy | targets pending"),
            "{s}"
        );
        assert!(
            s.ends_with("alarm web-5xx OK; GET /health 200 in 35 ms (dry run)"),
            "{s}"
        );
        assert_eq!(summary(&Verdict::Passed, &[], 1), "passed after 1 pass");
        assert_eq!(
            checks_variable(&readings),
            "alarms=passed,targets=pending,probe:/health=passed"
        );
        let long = vec![CheckReading::new("x", Reading::Fail("y".repeat(5000)))];
        assert!(summary(&Verdict::Passed, &long, 1).chars().count() <= MAX_SUMMARY);
    }
}

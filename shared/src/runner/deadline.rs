//! The time an invocation has: what the handler gets, and what is kept to answer.

use std::time::Duration;
use tokio::time::Instant;

/// Time kept back from the Lambda deadline to report, by default.
pub const DEFAULT_REPORT_MARGIN: Duration = Duration::from_secs(3);

/// Kept before the Lambda deadline for returning the invocation's own answer.
pub const ANSWER_SLACK: Duration = Duration::from_millis(150);

/// The least time a report call gets, whatever the margin: one attempt at a local AWS
/// endpoint takes a few milliseconds, one at CodePipeline tens.
pub const MIN_REPORT_WINDOW: Duration = Duration::from_millis(100);

/// The smallest margin that keeps the report's time: the answer's slack and one window.
pub const MIN_MARGIN: Duration = Duration::from_millis(250);

/// The largest margin accepted from `REPORT_MARGIN_MS`.
pub const MAX_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "REPORT_MARGIN_MS is `{0}`; it must be a whole number of milliseconds from 0 to 60000 (the default is 3000). Fix or remove the function's REPORT_MARGIN_MS environment variable"
)]
pub struct BadMargin(String);

/// The report margin from `REPORT_MARGIN_MS` (unset: the default). A value that is not a
/// number of milliseconds within range is an error, not silently replaced.
pub fn margin_from(value: Option<&str>) -> Result<Duration, BadMargin> {
    let Some(raw) = value else {
        return Ok(DEFAULT_REPORT_MARGIN);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
        .filter(|m| *m <= MAX_MARGIN)
        .ok_or_else(|| BadMargin(raw.to_owned()))
}

/// Deadlines for one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// When the handler must have returned.
    pub action: Instant,
    /// When the report must have been sent.
    pub report: Instant,
}

impl Times {
    /// Splits the `left` time from `start`: the handler gets all but the kept margin;
    /// the report gets the margin less the answer's slack. The margin is at most a quarter
    /// of the time left (Lambda's default timeout is 3 s) but never less than
    /// [`MIN_MARGIN`], so the handler's deadline never falls after the report's.
    pub fn split(start: Instant, left: Duration, margin: Duration) -> Self {
        let report = left.saturating_sub(ANSWER_SLACK);
        let kept = margin.min(left / 4).max(MIN_MARGIN);
        let action = left.saturating_sub(kept).min(report);
        Self {
            action: start + action,
            report: start + report,
        }
    }
}

/// Time left before the deadline header's moment. Lambda sends epoch milliseconds; some
/// local runtimes (`cargo lambda watch`) send the timeout itself, which no real deadline can
/// be (it would lie before 2001), so a small value is read as a duration.
pub fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    match deadline_ms {
        0 => Duration::from_secs(15 * 60),
        d if d < YEAR_2001_MS => Duration::from_millis(d),
        d => Duration::from_millis(d.saturating_sub(now_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn deadlines_are_epoch_milliseconds_or_a_local_runtimes_timeout() {
        let now = 1_795_370_667_726;
        assert_eq!(time_left(now + 30_000, now), Duration::from_secs(30));
        assert_eq!(time_left(now - 5, now), Duration::ZERO);
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
        assert_eq!(time_left(0, now), Duration::from_secs(900));
    }

    /// (time left, margin) -> (handler's time, report's time).
    #[test]
    fn the_report_always_gets_its_time() {
        let cases = [
            ((120_000, 3000), (117_000, 119_850)),
            ((12_000, 3000), (9000, 11_850)),
            ((3000, 3000), (2250, 2850)),
            // A short timeout: the margin is a quarter, never under the minimum.
            ((800, 3000), (550, 650)),
            ((400, 3000), (150, 250)),
            // A margin under the slack (it used to put the handler's deadline last).
            ((10_000, 0), (9750, 9850)),
            ((10_000, 100), (9750, 9850)),
            // Almost no time: the handler gets none, the report what there is.
            ((200, 3000), (0, 50)),
            ((100, 3000), (0, 0)),
            ((0, 3000), (0, 0)),
        ];
        let start = Instant::now();
        for ((left, margin), (action, report)) in cases {
            let t = Times::split(start, ms(left), ms(margin));
            assert_eq!(
                (t.action - start, t.report - start),
                (ms(action), ms(report)),
                "left {left} ms, margin {margin} ms"
            );
            assert!(t.action <= t.report);
        }
    }

    #[test]
    fn a_bad_margin_is_an_error_that_says_so() {
        assert_eq!(margin_from(None), Ok(DEFAULT_REPORT_MARGIN));
        assert_eq!(margin_from(Some("1500")), Ok(ms(1500)));
        assert_eq!(margin_from(Some(" 0 ")), Ok(ms(0)));
        for bad in ["", "3s", "-1", "1.5", "60001", "lots"] {
            let e = margin_from(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("REPORT_MARGIN_MS") && e.contains("0 to 60000"),
                "{e}"
            );
        }
    }
}

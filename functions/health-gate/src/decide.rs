//! The verdict: a plain function over one pass of measured facts and the timing state
//! carried between passes. No I/O, no SDK types; every scenario is in `decide/tests.rs`.
//!
//! A pass measures every configured check once. Each measurement is one [`Reading`]:
//!
//! | reading | counts as |
//! | --- | --- |
//! | `Pass` | a success |
//! | `Fail` | a failed check; more than `failureLimit` of them fail the gate |
//! | `Fatal` | fails the gate at once (a rollback, a stopped deployment, an alarm in ALARM) |
//! | `Pending` | not ready yet (tasks starting, targets in initial health checks): wait |
//! | `NoData` | the check's missing-data policy: `fail`, `pass`, `wait` or `inconclusive` |
//! | `Error` | the measurement itself failed (throttling, an outage): more than `errorLimit` in a row is inconclusive |
//!
//! The gate passes once every deciding check has passed `consecutiveSuccesses` passes in
//! a row and for `bake`. A pass with an error neither extends nor breaks the streak, so a
//! run in which every measurement errored never passes. Dry-run checks are measured and
//! reported, never decide. Running out of time fails, naming the checks still pending.

pub mod pause;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one measurement of one check found. `detail` is the measured value, as the
/// summary shows it (`targets 4/4 healthy`, `p99 180 ms <= 300 ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Pass(String),
    Fail(String),
    Fatal(String),
    Pending(String),
    NoData(String),
    Error(String),
}

impl Reading {
    pub fn detail(&self) -> &str {
        match self {
            Self::Pass(d)
            | Self::Fail(d)
            | Self::Fatal(d)
            | Self::Pending(d)
            | Self::NoData(d)
            | Self::Error(d) => d,
        }
    }

    /// A short word for logs and the `Checks` output variable.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Pass(_) => "passed",
            Self::Fail(_) | Self::Fatal(_) => "failed",
            Self::Pending(_) => "pending",
            Self::NoData(_) => "no-data",
            Self::Error(_) => "error",
        }
    }
}

/// What "no data" means for a check. Never an implicit pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingData {
    /// No data fails the check (counted against `failureLimit`).
    Fail,
    /// No data passes the check, said so in the summary.
    Pass,
    /// No data is not ready yet: keep measuring until `timeout`.
    #[default]
    Wait,
    /// No data makes the verdict inconclusive.
    Inconclusive,
}

/// What an inconclusive verdict does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInconclusive {
    /// The gate fails, saying it could not tell.
    #[default]
    Fail,
    /// The gate keeps measuring; a conclusive pass may still decide, else `timeout` fails it.
    Wait,
}

/// One check's reading in a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReading {
    /// Stable name: `deployment`, `targets`, `alarms`, `metric:<id>`, `probe:<path>`, `codedeploy`.
    pub name: String,
    pub reading: Reading,
    /// Reported, never decides.
    pub dry_run: bool,
    pub missing_data: MissingData,
}

impl CheckReading {
    pub fn new(name: impl Into<String>, reading: Reading) -> Self {
        Self {
            name: name.into(),
            reading,
            dry_run: false,
            missing_data: MissingData::default(),
        }
    }

    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    pub fn missing_data(mut self, policy: MissingData) -> Self {
        self.missing_data = policy;
        self
    }
}

/// Timing, as analysis tools offer it. Durations in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Wait this long after the gate starts before the first measurement.
    pub initial_delay_ms: u64,
    /// Between passes.
    pub interval_ms: u64,
    /// How long every check must keep passing.
    pub bake_ms: u64,
    /// Passes in a row in which every check passed.
    pub consecutive_successes: u32,
    /// Failed readings tolerated per check; one more fails the gate.
    pub failure_limit: u32,
    /// Measurement errors in a row tolerated per check; one more is inconclusive.
    pub error_limit: u32,
    /// From the gate's start to a verdict; past it the gate fails.
    pub timeout_ms: u64,
    pub on_inconclusive: OnInconclusive,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            initial_delay_ms: 0,
            interval_ms: 30_000,
            bake_ms: 0,
            consecutive_successes: 1,
            failure_limit: 0,
            error_limit: 4,
            timeout_ms: 30 * 60_000,
            on_inconclusive: OnInconclusive::Fail,
        }
    }
}

/// Counters of one check, kept between passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Failed readings so far.
    #[serde(rename = "f", default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    /// Measurement errors in a row.
    #[serde(rename = "e", default, skip_serializing_if = "is_zero")]
    pub errors: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The gate's progress, carried between passes (in the continuation token or the ECS
/// hook's details). Short field names: CodePipeline's token holds 2,048 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// When the gate started (epoch ms).
    #[serde(rename = "t0")]
    pub started_ms: u64,
    /// Passes measured.
    #[serde(rename = "n", default)]
    pub passes: u32,
    /// Passes in a row in which every deciding check passed.
    #[serde(rename = "ok", default)]
    pub streak: u32,
    /// When the current streak began (epoch ms).
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub bake_since_ms: Option<u64>,
    /// When the last pass was measured (epoch ms).
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<u64>,
    /// Whether any deciding check has ever been measured without error.
    #[serde(rename = "m", default)]
    pub measured: bool,
    #[serde(rename = "c", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Counters>,
}

impl Progress {
    pub fn start(now_ms: u64) -> Self {
        Self {
            started_ms: now_ms,
            ..Self::default()
        }
    }
}

/// The verdict of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed {
        reason: String,
    },
    Inconclusive {
        reason: String,
    },
    /// Measure again after `after_ms`.
    Wait {
        after_ms: u64,
        pending: Vec<String>,
    },
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed { .. } => "failed",
            Self::Inconclusive { .. } => "inconclusive",
            Self::Wait { .. } => "pending",
        }
    }
}

/// How long until the next pass is due (`initialDelay` after the start, then `interval`
/// after the last pass): `None` when it is due now. A re-invocation that comes early
/// (CodePipeline chooses when to continue) waits without measuring.
pub fn due_in(timing: &Timing, progress: &Progress, now_ms: u64) -> Option<u64> {
    let next = match progress.last_ms {
        Some(last) if progress.passes > 0 => last + timing.interval_ms,
        _ => progress.started_ms + timing.initial_delay_ms,
    };
    (now_ms < next).then(|| next - now_ms)
}

/// Where a pass's readings leave the gate. `deadline_ms` is the latest time another pass
/// could still be measured (the Lambda deadline for a hook that polls in one invocation);
/// the configured `timeout` applies in any case.
pub fn decide(
    timing: &Timing,
    mut progress: Progress,
    readings: &[CheckReading],
    now_ms: u64,
    deadline_ms: Option<u64>,
) -> (Verdict, Progress) {
    progress.passes += 1;
    progress.last_ms = Some(now_ms);
    let mut failed = Vec::new();
    let mut inconclusive = Vec::new();
    let mut pending = Vec::new();
    let mut errored = false;
    let mut all_passed = true;

    for check in readings.iter().filter(|c| !c.dry_run) {
        let counters = progress.checks.entry(check.name.clone()).or_default();
        let reading = match (&check.reading, check.missing_data) {
            (Reading::NoData(d), MissingData::Fail) => Reading::Fail(d.clone()),
            (Reading::NoData(d), MissingData::Pass) => {
                Reading::Pass(format!("{d} (passed: missingData pass)"))
            }
            (Reading::NoData(d), MissingData::Wait) => Reading::Pending(d.clone()),
            (other, _) => other.clone(),
        };
        if !matches!(reading, Reading::Error(_)) {
            counters.errors = 0;
        }
        match &reading {
            Reading::Pass(_) => progress.measured = true,
            Reading::Fatal(d) => {
                progress.measured = true;
                failed.push(format!("{}: {d}", check.name));
            }
            Reading::Fail(d) => {
                progress.measured = true;
                counters.failures += 1;
                if counters.failures > timing.failure_limit {
                    failed.push(format!(
                        "{}: {d}{}",
                        check.name,
                        limit_note(counters.failures, timing.failure_limit, "failed")
                    ));
                } else {
                    pending.push(format!(
                        "{}: {d} (failure {} of {} tolerated)",
                        check.name, counters.failures, timing.failure_limit
                    ));
                }
            }
            Reading::Pending(d) => {
                progress.measured = true;
                pending.push(format!("{}: {d}", check.name));
            }
            Reading::NoData(d) => {
                inconclusive.push(format!("{}: {d} (missingData inconclusive)", check.name));
            }
            Reading::Error(d) => {
                errored = true;
                counters.errors += 1;
                if counters.errors > timing.error_limit {
                    inconclusive.push(format!(
                        "{}: the measurement errored {} times in a row (errorLimit {}): {d}",
                        check.name, counters.errors, timing.error_limit
                    ));
                } else {
                    pending.push(format!("{}: measurement error: {d}", check.name));
                }
            }
        }
        all_passed &= matches!(reading, Reading::Pass(_));
    }

    if !failed.is_empty() {
        return (
            Verdict::Failed {
                reason: failed.join("; "),
            },
            progress,
        );
    }
    if !inconclusive.is_empty() && timing.on_inconclusive == OnInconclusive::Fail {
        return (
            Verdict::Inconclusive {
                reason: inconclusive.join("; "),
            },
            progress,
        );
    }
    pending.extend(inconclusive);

    if all_passed && progress.measured {
        progress.streak += 1;
        let since = *progress.bake_since_ms.get_or_insert(now_ms);
        let baked = now_ms.saturating_sub(since);
        if progress.streak >= timing.consecutive_successes && baked >= timing.bake_ms {
            return (Verdict::Passed, progress);
        }
        if progress.streak < timing.consecutive_successes {
            pending.push(format!(
                "passed {} of {} passes in a row",
                progress.streak, timing.consecutive_successes
            ));
        }
        if baked < timing.bake_ms {
            pending.push(format!(
                "bake {} of {}",
                human_ms(baked),
                human_ms(timing.bake_ms)
            ));
        }
    } else if !errored || !all_passed_but_errors(readings) {
        // Anything short of a pass breaks the streak; errors alone only hold it.
        progress.streak = 0;
        progress.bake_since_ms = None;
    }
    if pending.is_empty() {
        pending.push("no deciding check has been measured yet".to_owned());
    }

    let next_ms = now_ms + timing.interval_ms;
    let timeout_at = progress.started_ms + timing.timeout_ms;
    let out_of_time = next_ms > timeout_at || deadline_ms.is_some_and(|d| next_ms > d);
    if out_of_time {
        let limit = if next_ms > timeout_at {
            format!("timeout {}", human_ms(timing.timeout_ms))
        } else {
            "the time this invocation has".to_owned()
        };
        return (
            Verdict::Failed {
                reason: format!(
                    "no verdict within {limit} after {} passes; still pending: {}",
                    progress.passes,
                    pending.join("; ")
                ),
            },
            progress,
        );
    }
    (
        Verdict::Wait {
            after_ms: timing.interval_ms,
            pending,
        },
        progress,
    )
}

/// Whether every deciding reading is a pass or an error (an error holds the streak).
fn all_passed_but_errors(readings: &[CheckReading]) -> bool {
    readings.iter().filter(|c| !c.dry_run).all(|c| {
        matches!(
            (&c.reading, c.missing_data),
            (Reading::Pass(_) | Reading::Error(_), _) | (Reading::NoData(_), MissingData::Pass)
        )
    })
}

fn limit_note(count: u32, limit: u32, what: &str) -> String {
    if limit == 0 {
        String::new()
    } else {
        format!(" ({what} {count} times, failureLimit {limit})")
    }
}

/// `90000` -> `1m30s`, `1500` -> `1.5s`, `250` -> `250ms`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{:.1}s", ms as f64 / 1000.0)
        };
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests;

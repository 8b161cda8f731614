//! The verdict over scenarios: each is a timing and a sequence of passes, run through
//! [`decide`] as the entry points do, with the verdict expected after the last pass.

use super::*;
use Reading::*;

const S: u64 = 1000;
const M: u64 = 60 * S;

fn timing() -> Timing {
    Timing {
        interval_ms: 30 * S,
        timeout_ms: 30 * M,
        ..Timing::default()
    }
}

fn check(name: &str, reading: Reading) -> CheckReading {
    CheckReading::new(name, reading)
}

fn pass(name: &str) -> CheckReading {
    check(name, Pass(format!("{name} ok")))
}

/// Runs passes `interval` apart from t=0 and returns every verdict.
fn run(timing: &Timing, passes: &[Vec<CheckReading>]) -> Vec<Verdict> {
    run_until(timing, passes, None)
}

fn run_until(timing: &Timing, passes: &[Vec<CheckReading>], deadline: Option<u64>) -> Vec<Verdict> {
    let mut progress = Progress::start(0);
    let mut now = timing.initial_delay_ms;
    let mut verdicts = Vec::new();
    for readings in passes {
        let (verdict, next) = decide(timing, progress, readings, now, deadline);
        progress = next;
        let stop = !matches!(verdict, Verdict::Wait { .. });
        verdicts.push(verdict);
        if stop {
            break;
        }
        now += timing.interval_ms;
    }
    verdicts
}

fn last(verdicts: &[Verdict]) -> &Verdict {
    verdicts.last().expect("a verdict")
}

fn reason(v: &Verdict) -> &str {
    match v {
        Verdict::Failed { reason } | Verdict::Inconclusive { reason } => reason,
        Verdict::Wait { pending, .. } => pending.first().map_or("", String::as_str),
        Verdict::Passed => "",
    }
}

/// (scenario, timing, passes, expected verdict word after the last pass, a text the
/// reason must contain, passes taken).
#[test]
fn scenarios() {
    let bake_5m = Timing {
        bake_ms: 5 * M,
        interval_ms: M,
        ..timing()
    };
    let three_in_a_row = Timing {
        consecutive_successes: 3,
        ..timing()
    };
    let tolerant = Timing {
        failure_limit: 2,
        consecutive_successes: 2,
        ..timing()
    };
    let short = Timing {
        timeout_ms: 2 * M,
        ..timing()
    };
    let wait_inconclusive = Timing {
        on_inconclusive: OnInconclusive::Wait,
        timeout_ms: 2 * M,
        ..timing()
    };
    let no_data = |policy| {
        vec![check("metric:p99", NoData("p99: no datapoints in 5m".into())).missing_data(policy)]
    };
    let healthy = vec![pass("deployment"), pass("targets"), pass("alarms")];
    let errors = |n: usize| {
        vec![
            vec![
                check("targets", Error("ThrottlingException".into())),
                check("alarms", Error("InternalFailure".into()))
            ];
            n
        ]
    };

    type Case<'a> = (
        &'a str,
        Timing,
        Vec<Vec<CheckReading>>,
        &'a str,
        &'a str,
        usize,
    );
    let cases: Vec<Case> = vec![
        ("healthy at once", timing(), vec![healthy.clone()], "passed", "", 1),
        ("healthy through a 5 minute bake", bake_5m, vec![healthy.clone(); 10], "passed", "", 6),
        (
            "slow start: tasks and targets starting, then healthy",
            timing(),
            vec![
                vec![check("deployment", Pending("running 0/4".into())), check("targets", Pending("0/4 healthy; 4 initial (Elb.InitialHealthChecking)".into()))],
                vec![check("deployment", Pending("running 2/4".into())), check("targets", Pending("2/4 healthy".into()))],
                vec![pass("deployment"), pass("targets")],
            ],
            "passed", "", 3,
        ),
        (
            "flapping target: a failure past the limit fails",
            timing(),
            vec![vec![pass("deployment"), check("targets", Fail("3/4 healthy; 10.0.0.7:80 unhealthy (Target.Timeout)".into()))]],
            "failed", "Target.Timeout", 1,
        ),
        (
            "flapping target within failureLimit: needs passes in a row again",
            tolerant,
            vec![
                healthy.clone(),
                vec![pass("deployment"), check("targets", Fail("3/4 healthy".into())), pass("alarms")],
                healthy.clone(),
                vec![pass("deployment"), check("targets", Fail("3/4 healthy".into())), pass("alarms")],
                healthy.clone(),
                healthy.clone(),
            ],
            "passed", "", 6,
        ),
        (
            "flapping target beyond failureLimit",
            tolerant,
            vec![vec![pass("deployment"), check("targets", Fail("3/4 healthy".into()))]; 5],
            "failed", "failed 3 times, failureLimit 2", 3,
        ),
        (
            "circuit-breaker rollback fails at once, whatever the limits",
            tolerant,
            vec![vec![check("deployment", Fatal("rolled back by the circuit breaker (3 of 3 tasks failed): task stopped: Essential container exited".into())), pass("targets")]],
            "failed", "circuit breaker", 1,
        ),
        (
            "alarm already in ALARM before the deploy",
            timing(),
            vec![vec![pass("deployment"), check("alarms", Fatal("web-5xx ALARM since before the deployment".into()))]],
            "failed", "web-5xx ALARM", 1,
        ),
        ("no data, policy fail", timing(), vec![no_data(MissingData::Fail)], "failed", "no datapoints", 1),
        ("no data, policy pass", timing(), vec![no_data(MissingData::Pass)], "passed", "", 1),
        ("no data, policy wait: times out naming it", short, vec![no_data(MissingData::Wait); 10], "failed", "still pending: metric:p99", 5),
        ("no data, policy inconclusive", timing(), vec![no_data(MissingData::Inconclusive)], "inconclusive", "missingData inconclusive", 1),
        ("no data, inconclusive that waits, then times out", wait_inconclusive, vec![no_data(MissingData::Inconclusive); 10], "failed", "metric:p99", 5),
        ("every measurement erroring: inconclusive past errorLimit", timing(), errors(10), "inconclusive", "errored 5 times in a row", 5),
        (
            "errors within errorLimit hold the streak, never pass alone",
            three_in_a_row,
            vec![healthy.clone(), vec![pass("deployment"), check("targets", Error("Throttling".into())), pass("alarms")], healthy.clone(), healthy.clone()],
            "passed", "", 4,
        ),
        (
            "HTTP probe timing out fails",
            timing(),
            vec![vec![pass("targets"), check("probe:/health", Fail("GET /health timed out after 2000 ms".into()))]],
            "failed", "timed out after 2000 ms", 1,
        ),
        (
            "deadline: still pending at the timeout",
            short,
            vec![vec![pass("deployment"), check("targets", Pending("2/4 healthy".into()))]; 10],
            "failed", "still pending: targets: 2/4 healthy", 5,
        ),
        (
            "dry-run check failing never decides",
            timing(),
            vec![vec![pass("targets"), check("alarms", Fatal("web-5xx ALARM".into())).dry_run(true)]],
            "passed", "", 1,
        ),
    ];
    for (name, timing, passes, want, text, taken) in cases {
        let verdicts = run(&timing, &passes);
        let got = last(&verdicts);
        assert_eq!(got.word(), want, "{name}: {got:?}");
        assert!(
            reason(got).contains(text),
            "{name}: {got:?} should contain {text:?}"
        );
        assert_eq!(verdicts.len(), taken, "{name}: {verdicts:?}");
    }
}

#[test]
fn every_measurement_erroring_is_never_a_pass_even_when_waiting() {
    let t = Timing {
        error_limit: 1000,
        timeout_ms: 10 * M,
        ..timing()
    };
    let passes = vec![vec![check("targets", Error("InternalFailure".into()))]; 100];
    let verdicts = run(&t, &passes);
    assert!(verdicts.iter().all(|v| *v != Verdict::Passed));
    assert_eq!(last(&verdicts).word(), "failed");
}

#[test]
fn a_hook_polling_in_one_invocation_fails_before_its_deadline() {
    let passes = vec![vec![check("targets", Pending("1/2 healthy".into()))]; 10];
    let verdicts = run_until(&timing(), &passes, Some(100 * S));
    let got = last(&verdicts);
    assert_eq!(got.word(), "failed");
    assert!(
        reason(got).contains("the time this invocation has"),
        "{got:?}"
    );
    assert!(reason(got).contains("targets: 1/2 healthy"), "{got:?}");
    assert_eq!(verdicts.len(), 4); // at 0, 30, 60 and 90 s; the next would be past 100 s
}

#[test]
fn a_linear_deployment_checks_every_step_afresh() {
    // Each traffic step starts its own gate (the ECS hook keys its state by step).
    let t = Timing {
        consecutive_successes: 2,
        ..timing()
    };
    for step in [10, 20, 30] {
        let detail = format!("weight {step}%");
        let passes = vec![vec![check("targets", Pass(detail.clone()))]; 3];
        let verdicts = run(&t, &passes);
        assert_eq!(verdicts.len(), 2, "step {step}");
        assert_eq!(*last(&verdicts), Verdict::Passed);
    }
}

#[test]
fn initial_delay_holds_the_first_pass_only() {
    let t = Timing {
        initial_delay_ms: 2 * M,
        ..timing()
    };
    let mut p = Progress::start(1_000);
    assert_eq!(due_in(&t, &p, 1_000), Some(2 * M));
    assert_eq!(due_in(&t, &p, 1_000 + 2 * M), None);
    p.passes = 1;
    p.last_ms = Some(1_000 + 2 * M);
    // Then one interval after the last pass.
    assert_eq!(due_in(&t, &p, 1_000 + 2 * M + 10 * S), Some(20 * S));
    assert_eq!(due_in(&t, &p, 1_000 + 2 * M + 30 * S), None);
}

#[test]
fn progress_stays_small_in_a_token() {
    let mut p = Progress::start(1_767_000_000_000);
    for name in [
        "deployment",
        "targets",
        "alarms",
        "metric:p99",
        "probe:/health",
        "codedeploy",
    ] {
        p.checks.insert(
            name.into(),
            Counters {
                failures: 1,
                errors: 2,
            },
        );
    }
    p.bake_since_ms = Some(1_767_000_100_000);
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.len() < 300, "{json}");
    assert_eq!(serde_json::from_str::<Progress>(&json).unwrap(), p);
}

#[test]
fn durations_read_as_people_write_them() {
    let cases = [
        (250, "250ms"),
        (1500, "1.5s"),
        (30_000, "30s"),
        (90_000, "1m30s"),
        (3_600_000, "1h"),
    ];
    for (ms, want) in cases {
        assert_eq!(human_ms(ms), want);
    }
}

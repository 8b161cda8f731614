//! The benchmark: for each function binary and a hello-world floor, binary and zipped
//! size, cold start, warm latency, peak RSS, and the AWS calls and sequential round trips
//! of each sample event, with a fixed latency added to every AWS call.
//!
//! Usage: bench [--bin-dir DIR] [--latency-ms 20] [--warm 20] [--out FILE] [--arm64-dir DIR]
//!              [--env KEY=VALUE ...] [--bake-only] [--accounts-only]
//! Scenarios: every `events/<function>*.json`; the floor runs with an empty event.
//! `--env` adds a variable to the functions' environment (e.g. `AWS_TLS_ROOTS=system` to
//! see what loading the system's certificate store costs).
//! Targets checked at the end: init within 1.5x the floor's, peak RSS under 8 MB, the
//! zipped binary under 3 MB (arm64 when measured, else x86_64).
//! Then the health gate's billed time of a 30-minute bake (`mod bake`; `--bake-only` runs
//! only that), and what acting through an assumed role adds to each function's round
//! trips (`mod accounts`; `--accounts-only` runs only that). And what promote-image's
//! `verify` adds, in round trips and in the check's time (`--verify-only` runs only that).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testkit::{Function, LocalAws, seed, sequential_round_trips, workspace_root};

const FUNCTIONS: &[&str] = &[
    "render-taskdef",
    "promote-image",
    "health-gate",
    "rollback-trigger",
];
const FLOOR: &str = "hello-floor";

struct Options {
    bin_dir: PathBuf,
    latency_ms: u64,
    warm: usize,
    out: PathBuf,
    arm64_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// `--bake-only`: only the health gate's bake billing.
    bake_only: bool,
    /// `--accounts-only`: only the round trips an assumed role adds.
    accounts_only: bool,
    /// `--verify-only`: only what signature verification adds.
    verify_only: bool,
}

/// Init at most this many times the floor's.
const INIT_TARGET: f64 = 1.5;
/// Peak RSS under this.
const RSS_TARGET_KIB: u64 = 8 * 1024;
/// Zipped binary under this.
const ZIP_TARGET_BYTES: u64 = 3 * 1024 * 1024;

fn options() -> Options {
    let root = workspace_root();
    let mut o = Options {
        bin_dir: root.join("target/release"),
        latency_ms: 20,
        warm: 20,
        out: root.join("bench-results/bench.json"),
        arm64_dir: None,
        env: Vec::new(),
        bake_only: false,
        accounts_only: false,
        verify_only: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--bake-only" => {
                o.bake_only = true;
                i += 1;
                continue;
            }
            "--verify-only" => {
                o.verify_only = true;
                i += 1;
                continue;
            }
            "--accounts-only" => {
                o.accounts_only = true;
                i += 1;
                continue;
            }
            "--bin-dir" => o.bin_dir = value.into(),
            "--latency-ms" => o.latency_ms = value.parse().unwrap_or(20),
            "--warm" => o.warm = value.parse().unwrap_or(20),
            "--out" => o.out = value.into(),
            "--arm64-dir" => o.arm64_dir = Some(value.into()),
            "--env" => match value.split_once('=') {
                Some((k, v)) => o.env.push((k.to_owned(), v.to_owned())),
                None => {
                    eprintln!("--env takes KEY=VALUE, got `{value}`");
                    std::process::exit(2);
                }
            },
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    o
}

#[tokio::main]
async fn main() {
    let o = options();
    let root = workspace_root();
    let aws = LocalAws::start().await;
    if let Err(e) = seed::seed(&aws, &root.join("events")).await {
        eprintln!("error: seeding: {e}");
        std::process::exit(2);
    }
    aws.latency(o.latency_ms).await;
    if o.bake_only {
        bake::run(&aws, &o).await;
        return;
    }
    if o.accounts_only {
        accounts::run(&aws, &o).await;
        return;
    }
    if o.verify_only {
        verify_section(&aws, &o).await;
        return;
    }

    let mut rows = Vec::new();
    rows.push(measure(&aws, &o, FLOOR, "empty event", json!({})).await);
    for function in FUNCTIONS {
        if !o.bin_dir.join(function).exists() {
            eprintln!("skipping {function}: not built in {}", o.bin_dir.display());
            continue;
        }
        for (name, event) in scenarios(&root.join("events"), function) {
            rows.push(measure(&aws, &o, function, &name, event).await);
        }
    }
    // The floor makes no AWS calls, so a function's cold start is compared with it by the
    // part that being cold adds: the first invocation's time less a warm one's.
    let floor_cold = rows[0]["cold_overhead_ms"].as_f64().unwrap_or(0.0);
    let floor_init = rows[0]["init_ms"].as_f64().unwrap_or(0.0);
    for row in &mut rows {
        let cold = row["cold_overhead_ms"].as_f64().unwrap_or(0.0);
        row["cold_vs_floor"] = json!(round2(cold / floor_cold.max(0.001)));
        let init = row["init_ms"].as_f64().unwrap_or(0.0);
        row["init_vs_floor"] = json!(round2(init / floor_init.max(0.001)));
    }
    print_table(&rows, o.latency_ms);
    let registry_rows = registry_section(&aws, &o).await;
    let account_rows = accounts::run(&aws, &o).await;
    let verify_rows = verify_section(&aws, &o).await;
    let inits = init_medians(&aws, &o).await;
    let failed = print_targets(&rows, &inits);
    let report = json!({"latency_ms_per_aws_call": o.latency_ms, "warm_runs": o.warm, "rows": rows,
                        "registry": registry_rows, "accounts": account_rows, "verify": verify_rows});
    if let Some(dir) = o.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(
        &o.out,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        Ok(()) => eprintln!("wrote {}", o.out.display()),
        Err(e) => eprintln!("could not write {}: {e}", o.out.display()),
    }
    if failed > 0 {
        eprintln!("{failed} target(s) missed");
    }
    if o.bin_dir.join("health-gate").exists() {
        bake::run(&aws, &o).await;
    }
}

/// promote-image against local registries: the retag's round trips and a copy's memory.
async fn registry_section(aws: &LocalAws, o: &Options) -> Vec<Value> {
    if !o.bin_dir.join("promote-image").exists() {
        return Vec::new();
    }
    let rows = testkit::registry::bench::rows(aws, &o.bin_dir, o.latency_ms).await;
    testkit::registry::bench::print(&rows);
    rows
}

/// promote-image with `verify`: the round trips it adds, and the check's own time.
async fn verify_section(aws: &LocalAws, o: &Options) -> Value {
    // The check runs on a thread of its own, on a runtime of its own, with nothing else.
    let cpu = std::thread::spawn(|| testkit::verify_bench::cpu_rows(51))
        .join()
        .unwrap_or_default();
    let rows = match o.bin_dir.join("promote-image").exists() {
        true => testkit::verify_bench::rows(aws, &o.bin_dir).await,
        false => Vec::new(),
    };
    testkit::verify_bench::print(&rows, &cpu);
    json!({"round_trips": rows, "check": cpu,
           "targets": {"added_round_trips": testkit::verify_bench::ROUND_TRIP_TARGET,
                       "check_ms": testkit::verify_bench::CPU_TARGET_MS}})
}

/// Prints each function's targets, met or missed; returns how many were missed.
fn print_targets(rows: &[Value], inits: &[(String, f64)]) -> usize {
    let mut missed = 0;
    let floor_init = median_of(inits, FLOOR);
    println!(
        "Targets: init <= {INIT_TARGET}x the floor (median of {INIT_STARTS} starts each), peak RSS < {} MB, zip < {} MB (arm64 when measured, else x86_64).",
        RSS_TARGET_KIB / 1024,
        ZIP_TARGET_BYTES / 1024 / 1024
    );
    for function in FUNCTIONS {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["function"] == *function).collect();
        if mine.is_empty() {
            continue;
        }
        let worst = |key: &str| {
            mine.iter()
                .filter_map(|r| r[key].as_f64())
                .fold(0.0_f64, f64::max)
        };
        let init = median_of(inits, function) / floor_init.max(0.001);
        let rss = worst("peak_rss_kib") as u64;
        let (zip, arch) = match mine[0]["arm64_zip_bytes"].as_u64() {
            Some(b) => (b, "arm64"),
            None => (mine[0]["zip_bytes"].as_u64().unwrap_or(0), "x86_64"),
        };
        let checks = [
            (init <= INIT_TARGET, format!("init {init:.2}x")),
            (
                rss < RSS_TARGET_KIB,
                format!("RSS {:.1} MB", rss as f64 / 1024.0),
            ),
            (
                zip < ZIP_TARGET_BYTES,
                format!("{arch} zip {:.2} MB", zip as f64 / 1024.0 / 1024.0),
            ),
        ];
        let line: Vec<String> = checks
            .iter()
            .map(|(ok, what)| format!("{what} {}", if *ok { "ok" } else { "MISSED" }))
            .collect();
        missed += checks.iter().filter(|(ok, _)| !ok).count();
        println!("  {function:<15} {}", line.join(", "));
    }
    missed
}

/// How many cold starts each function's init is the median of: one start is too noisy
/// on a shared machine to compare with a floor of about a millisecond.
const INIT_STARTS: usize = 21;

/// The median init (process start to the first `/next`, in ms) of the floor and of each
/// built function, over [`INIT_STARTS`] processes each.
async fn init_medians(aws: &LocalAws, o: &Options) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for function in std::iter::once(&FLOOR).chain(FUNCTIONS.iter()) {
        let exe = o.bin_dir.join(function);
        if !exe.exists() {
            continue;
        }
        let mut env = aws.function_env();
        if *function != FLOOR {
            env.extend(o.env.iter().cloned());
        }
        let mut samples = Vec::with_capacity(INIT_STARTS);
        for _ in 0..INIT_STARTS {
            let f = Function::spawn(&exe, &env).await;
            for _ in 0..5000 {
                if f.init_duration().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if let Some(init) = f.init_duration() {
                samples.push(init.as_secs_f64() * 1000.0);
            }
        }
        samples.sort_by(f64::total_cmp);
        if let Some(median) = samples.get(samples.len() / 2) {
            println!(
                "  init of {function:<16} {median:.2} ms (median of {})",
                samples.len()
            );
            out.push(((*function).to_owned(), *median));
        }
    }
    out
}

fn median_of(inits: &[(String, f64)], function: &str) -> f64 {
    inits
        .iter()
        .find(|(f, _)| f == function)
        .map_or(0.0, |(_, ms)| *ms)
}

fn scenarios(events: &Path, function: &str) -> Vec<(String, Value)> {
    seed::sample_events(events, function)
        .into_iter()
        .filter_map(|p| {
            let value: Value = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            Some((p.file_stem()?.to_string_lossy().into_owned(), value))
        })
        .filter(|(name, _)| !testkit::registry::bench::SAMPLES.contains(&name.as_str()))
        .collect()
}

/// The event with a fresh job id, so every invocation is a new job.
fn fresh(event: &Value) -> (Value, Option<String>) {
    let mut e = event.clone();
    if e.get("CodePipeline.job").is_none() {
        return (e, None);
    }
    let id = testkit::job::job_id();
    e["CodePipeline.job"]["id"] = json!(id);
    (e, Some(id))
}

async fn measure(
    aws: &LocalAws,
    o: &Options,
    function: &str,
    scenario: &str,
    event: Value,
) -> Value {
    let exe = o.bin_dir.join(function);
    let size = std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0);
    let zipped = std::fs::read(&exe)
        .ok()
        .and_then(|b| shared::artifacts::build_zip(&[("bootstrap", &b)]).ok())
        .map_or(0, |z| z.len());
    let arm64_zip = o
        .arm64_dir
        .as_ref()
        .and_then(|d| std::fs::metadata(d.join(function).join("bootstrap.zip")).ok())
        .map(|m| m.len());

    let mut env = aws.function_env();
    if function != FLOOR {
        env.extend(o.env.iter().cloned());
    }

    // First run, in a process of its own: what a new job costs (a new tag, a new revision),
    // counted in AWS calls and sequential round trips.
    let (first, first_id) = fresh(&event);
    let (first_calls, result) = {
        aws.reset_calls().await;
        let mut f = Function::spawn(&exe, &env).await;
        let result = f.invoke(&first, Duration::from_secs(60)).await;
        (work_calls(aws).await, result)
    };
    let status = match &first_id {
        Some(id) => match aws.job(id).await {
            Some(testkit::JobReport::Failure { kind, message }) => {
                format!("Failed ({kind}): {message}")
            }
            Some(_) => "Succeeded".to_owned(),
            None => format!("no report ({result:?})"),
        },
        None if result.is_response() => "ok".to_owned(),
        None => format!("{result:?}"),
    };

    // Then a cold process doing the steady-state work (a re-run: everything in place), and
    // warm invocations of the same work, so that cold less warm is what being cold costs.
    aws.reset_calls().await;
    let mut f = Function::spawn(&exe, &env).await;
    let (again, _) = fresh(&event);
    f.invoke(&again, Duration::from_secs(60)).await;
    let cold = f.started().elapsed();
    let init = f.init_duration().unwrap_or_default();
    let rerun_calls = work_calls(aws).await;

    let mut warm = Vec::with_capacity(o.warm);
    for _ in 0..o.warm {
        let (e, _) = fresh(&event);
        let t = Instant::now();
        f.invoke(&e, Duration::from_secs(60)).await;
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    warm.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        warm.get(((warm.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let rss = f.peak_rss_kib().unwrap_or(0);
    json!({
        "function": function,
        "scenario": scenario,
        "status": status,
        "binary_bytes": size,
        "zip_bytes": zipped,
        "arm64_zip_bytes": arm64_zip,
        "init_ms": round2(init.as_secs_f64() * 1000.0),
        "cold_start_ms": round2(cold.as_secs_f64() * 1000.0),
        "cold_overhead_ms": round2(cold.as_secs_f64() * 1000.0 - pct(0.5)),
        "warm_p50_ms": round2(pct(0.5)),
        "warm_p95_ms": round2(pct(0.95)),
        "peak_rss_kib": rss,
        "aws_calls": first_calls.len(),
        "round_trips": sequential_round_trips(&first_calls),
        "operations": first_calls.iter().map(|c| format!("{}:{}", c.service, c.operation)).collect::<Vec<_>>(),
        "rerun_aws_calls": rerun_calls.len(),
        "rerun_round_trips": sequential_round_trips(&rerun_calls),
    })
}

/// The calls an invocation made, the final job report left out.
async fn work_calls(aws: &LocalAws) -> Vec<testkit::Call> {
    aws.calls()
        .await
        .into_iter()
        .filter(|c| !c.operation.starts_with("PutJob"))
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn print_table(rows: &[Value], latency: u64) {
    println!(
        "Benchmark, +{latency} ms per AWS call. Sizes: x86_64 release binary and its zip; arm64 zip from cargo lambda."
    );
    println!(
        "init: process start to the first /next. cold: process start to a first invocation done. \
         +cold: cold less warm p50, x: +cold over the floor's. trips: sequential AWS round trips, new job / re-run."
    );
    println!(
        "{:<15} {:<32} {:>7} {:>7} {:>8} {:>7} {:>7} {:>6} {:>5} {:>8} {:>8} {:>6} {:>6}  status",
        "function",
        "scenario",
        "bin KiB",
        "zip KiB",
        "arm64zip",
        "init ms",
        "cold ms",
        "+cold",
        "x",
        "warm p50",
        "warm p95",
        "RSS MB",
        "trips"
    );
    for r in rows {
        let arm = r["arm64_zip_bytes"]
            .as_u64()
            .map_or("-".to_owned(), |b| format!("{}", b / 1024));
        println!(
            "{:<15} {:<32} {:>7} {:>7} {:>8} {:>7.1} {:>7.1} {:>6.1} {:>5.1} {:>8.1} {:>8.1} {:>6.1} {:>3}/{:<2}  {}",
            r["function"].as_str().unwrap_or_default(),
            r["scenario"].as_str().unwrap_or_default(),
            r["binary_bytes"].as_u64().unwrap_or(0) / 1024,
            r["zip_bytes"].as_u64().unwrap_or(0) / 1024,
            arm,
            r["init_ms"].as_f64().unwrap_or(0.0),
            r["cold_start_ms"].as_f64().unwrap_or(0.0),
            r["cold_overhead_ms"].as_f64().unwrap_or(0.0),
            r["cold_vs_floor"].as_f64().unwrap_or(0.0),
            r["warm_p50_ms"].as_f64().unwrap_or(0.0),
            r["warm_p95_ms"].as_f64().unwrap_or(0.0),
            r["peak_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
            r["round_trips"].as_u64().unwrap_or(0),
            r["rerun_round_trips"].as_u64().unwrap_or(0),
            truncate(r["status"].as_str().unwrap_or_default(), 60),
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The billed Lambda time of a 30-minute bake of the health gate, through the pipeline
/// action (continuation tokens) and through the ECS native hook (`IN_PROGRESS` with
/// `callBackDelay`). The number of invocations follows from the settings (one pass per
/// `interval`), so a few real passes are measured (with no added latency) and the total is
/// computed: the cold first invocation and its init, plus the mean warm pass times the
/// passes left, plus 20 ms per AWS call (the report included).
mod bake {
    use super::{Options, fresh};
    use serde_json::{Value, json};
    use std::time::{Duration, Instant};
    use testkit::{Function, JobReport, LocalAws, workspace_root};

    const BAKE_S: u64 = 30 * 60;
    const INTERVALS_S: [u64; 2] = [30, 60];
    const PER_CALL_MS: f64 = 20.0;
    const TARGET_S: f64 = 10.0;
    /// Passes measured for real (with a 3 s bake and a 1 s interval).
    const MEASURED_CONFIG: &str = r#"{"bake": "3s", "interval": 1}"#;

    /// One invocation as measured: how long it took and the AWS calls it made.
    struct Measured {
        ms: f64,
        calls: usize,
    }

    pub async fn run(aws: &LocalAws, o: &Options) {
        aws.latency(0).await;
        let exe = o.bin_dir.join("health-gate");
        let mut env = aws.function_env();
        env.extend(o.env.iter().cloned());
        let events = workspace_root().join("events");
        let load = |name: &str| -> Value {
            let path = events.join(format!("health-gate-{name}.json"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
                .unwrap_or_default()
        };
        let entries = [
            (
                "pipeline action",
                pipeline(aws, &exe, &env, load("pipeline")).await,
            ),
            (
                "ECS hook",
                ecs_hook(aws, &exe, &env, load("ecs-hook")).await,
            ),
        ];
        aws.latency(o.latency_ms).await;
        println!(
            "\nhealth-gate: billed Lambda time of a {}-minute bake (sum of invocation durations + {PER_CALL_MS} ms per AWS call; \
             invocations = one pass per interval; runs: real passes measured with a 3 s bake, a 1 s interval and no added latency).",
            BAKE_S / 60,
        );
        println!(
            "{:<16} {:>4} {:>8} {:>7} {:>7} {:>8} {:>9} {:>9} {:>8} {:>9}  target",
            "entry",
            "runs",
            "interval",
            "invokes",
            "init ms",
            "first ms",
            "pass ms",
            "calls/ps",
            "calls",
            "billed s"
        );
        let mut missed = 0;
        for (entry, (init_ms, rest, first)) in &entries {
            let Some(first) = first else {
                println!("{entry:<16} no measurement (see the errors above)");
                missed += 1;
                continue;
            };
            let n = rest.len().max(1) as f64;
            let pass_ms = rest.iter().map(|m| m.ms).sum::<f64>() / n;
            let pass_calls = rest.iter().map(|m| m.calls).sum::<usize>() as f64 / n;
            for interval in INTERVALS_S {
                let invocations = BAKE_S / interval + 1;
                let later = (invocations - 1) as f64;
                let calls = first.calls as f64 + later * pass_calls;
                let billed_ms = init_ms + first.ms + later * pass_ms + calls * PER_CALL_MS;
                let ok = billed_ms / 1000.0 < TARGET_S;
                missed += usize::from(!ok);
                println!(
                    "{entry:<16} {:>4} {:>7}s {invocations:>7} {init_ms:>7.1} {:>8.1} {pass_ms:>9.1} {pass_calls:>9.1} {calls:>8.0} {:>9.2}  < {TARGET_S} s {}",
                    rest.len() + 1,
                    interval,
                    first.ms,
                    billed_ms / 1000.0,
                    if ok { "ok" } else { "MISSED" }
                );
            }
        }
        if missed > 0 {
            eprintln!("health-gate bake: {missed} target(s) missed");
        }
    }

    /// Invokes once, timing it, and counts the AWS calls it made.
    async fn timed(
        aws: &LocalAws,
        f: &mut Function,
        event: &Value,
    ) -> (testkit::Invocation, Measured) {
        aws.reset_calls().await;
        let t = Instant::now();
        let r = f.invoke(event, Duration::from_secs(60)).await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let calls = aws.calls().await.len();
        (r, Measured { ms, calls })
    }

    /// (init ms, the warm passes, the first pass) of a run to a verdict.
    type Run = (f64, Vec<Measured>, Option<Measured>);

    /// The pipeline sample with a short bake, through its continuation tokens.
    async fn pipeline(
        aws: &LocalAws,
        exe: &std::path::Path,
        env: &[(String, String)],
        sample: Value,
    ) -> Run {
        let job = &sample["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"];
        let mut params: Value =
            serde_json::from_str(job["UserParameters"].as_str().unwrap_or("{}"))
                .unwrap_or_default();
        merge(&mut params, MEASURED_CONFIG);
        let mut f = Function::spawn(exe, env).await;
        let (mut first, mut rest, mut token) = (None, Vec::new(), None::<String>);
        for _ in 0..10 {
            let (mut event, id) = fresh(&sample);
            let data = &mut event["CodePipeline.job"]["data"];
            data["actionConfiguration"]["configuration"]["UserParameters"] =
                json!(params.to_string());
            if let Some(t) = &token {
                data["continuationToken"] = json!(t);
            }
            let (_, m) = timed(aws, &mut f, &event).await;
            if first.is_none() {
                first = Some(m);
            } else {
                rest.push(m);
            }
            match aws.job(&id.unwrap_or_default()).await {
                Some(JobReport::Success {
                    continuation_token: Some(t),
                    ..
                }) => token = Some(t),
                Some(JobReport::Success { .. }) => break,
                other => {
                    eprintln!("health-gate bake, pipeline action: {other:?}\n{}", f.logs());
                    return (0.0, Vec::new(), None);
                }
            }
            tokio::time::sleep(Duration::from_millis(1050)).await;
        }
        let init = f.init_duration().unwrap_or_default().as_secs_f64() * 1000.0;
        (init, rest, first)
    }

    /// The ECS hook sample (its probe left out: it names a private address) with a short
    /// bake, answered `IN_PROGRESS` until it passes; the details go back as ECS sends them.
    async fn ecs_hook(
        aws: &LocalAws,
        exe: &std::path::Path,
        env: &[(String, String)],
        sample: Value,
    ) -> Run {
        let mut event = sample;
        if let Some(details) = event["hookDetails"].as_object_mut() {
            details.remove("probes");
        }
        merge(&mut event["hookDetails"], MEASURED_CONFIG);
        let mut f = Function::spawn(exe, env).await;
        let (mut first, mut rest) = (None, Vec::new());
        for _ in 0..10 {
            let (r, m) = timed(aws, &mut f, &event).await;
            if first.is_none() {
                first = Some(m);
            } else {
                rest.push(m);
            }
            let testkit::Invocation::Response(answer) = r else {
                eprintln!("health-gate bake, ECS hook: {r:?}\n{}", f.logs());
                return (0.0, Vec::new(), None);
            };
            if answer["hookStatus"] != "IN_PROGRESS" {
                if answer["hookStatus"] != "SUCCEEDED" {
                    eprintln!("health-gate bake, ECS hook: {answer}");
                }
                break;
            }
            let details = answer["hookDetails"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (k, v) in details {
                event["hookDetails"][k] = v;
            }
            let delay = answer["callBackDelay"].as_u64().unwrap_or(1);
            tokio::time::sleep(Duration::from_millis(delay * 1000 + 50)).await;
        }
        let init = f.init_duration().unwrap_or_default().as_secs_f64() * 1000.0;
        (init, rest, first)
    }

    fn merge(target: &mut Value, extra: &str) {
        let extra: Value = serde_json::from_str(extra).unwrap_or_default();
        if let (Some(t), Some(e)) = (target.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
    }
}

/// What acting in another account adds: each function's sample job (or event) run with
/// and without an `account` role, its sequential AWS round trips counted from what
/// depends on what. The role is of the functions' own account, so the data the samples
/// read is where they expect it and only the assuming differs.
mod accounts {
    use super::{Options, fresh, work_calls};
    use serde_json::{Value, json};
    use std::time::Duration;
    use testkit::{Function, LocalAws, sequential_round_trips, workspace_root};

    const ROLE_NAME: &str = "bench-workload";

    /// `(function, sample, how the sample takes the role)`.
    const CASES: &[(&str, &str, Place)] = &[
        (
            "render-taskdef",
            "render-taskdef-service",
            Place::Params("account"),
        ),
        (
            "render-taskdef",
            "render-taskdef-image-detail",
            Place::Params("account"),
        ),
        (
            "health-gate",
            "health-gate-pipeline",
            Place::Params("account"),
        ),
        (
            "promote-image",
            "promote-image-retag",
            Place::Params("target"),
        ),
        (
            "rollback-trigger",
            "rollback-trigger-eventbridge",
            Place::Setting,
        ),
    ];

    #[derive(Clone, Copy)]
    enum Place {
        /// In `UserParameters`, under this key.
        Params(&'static str),
        /// `ROLLBACK_ACCOUNTS` for the event's account.
        Setting,
    }

    pub async fn run(aws: &LocalAws, o: &Options) -> Vec<Value> {
        let account = testkit::local_aws::ACCOUNT;
        let role = aws
            .create_role(account, ROLE_NAME, &testkit::accounts::trust_tools(None))
            .await;
        let events = workspace_root().join("events");
        let mut rows = Vec::new();
        println!(
            "\nAn assumed role's cost (sequential AWS round trips of one invocation; target: +1 at most)"
        );
        println!(
            "{:<18} {:<30} {:>6} {:>6} {:>6}",
            "function", "sample", "home", "role", "added"
        );
        for (function, sample, place) in CASES {
            let exe = o.bin_dir.join(function);
            let Ok(text) = std::fs::read_to_string(events.join(format!("{sample}.json"))) else {
                continue;
            };
            if !exe.exists() {
                continue;
            }
            let event: Value = serde_json::from_str(&text).unwrap_or_default();
            let mut env = aws.function_env();
            env.extend(o.env.iter().cloned());
            // Once to settle what a first run changes (a registration, a tag, a rollback),
            // then the same job at home and through the role.
            trips(aws, &exe, &env, &event).await;
            let home = trips(aws, &exe, &env, &event).await;
            let (event, env) = with_role(event, env, *place, &role);
            let assumed = trips(aws, &exe, &env, &event).await;
            let added = assumed as i64 - home as i64;
            println!("{function:<18} {sample:<30} {home:>6} {assumed:>6} {added:>+6}");
            rows.push(
                json!({"function": function, "sample": sample, "home_round_trips": home,
                             "role_round_trips": assumed, "added": added}),
            );
        }
        rows
    }

    /// The sample with the role: in `UserParameters`, or in the setting.
    fn with_role(
        mut event: Value,
        mut env: Vec<(String, String)>,
        place: Place,
        role: &str,
    ) -> (Value, Vec<(String, String)>) {
        match place {
            Place::Params(key) => {
                let config =
                    &mut event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"];
                let mut params: Value = config["UserParameters"]
                    .as_str()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_else(|| json!({}));
                if key == "account" {
                    params["account"] = json!({"roleArn": role});
                } else {
                    params[key]["roleArn"] = json!(role);
                }
                config["UserParameters"] = json!(params.to_string());
            }
            Place::Setting => {
                let account = event["account"].as_str().unwrap_or_default().to_owned();
                env.push((
                    "ROLLBACK_ACCOUNTS".into(),
                    json!({account: {"roleArn": role}}).to_string(),
                ));
            }
        }
        (event, env)
    }

    async fn trips(
        aws: &LocalAws,
        exe: &std::path::Path,
        env: &[(String, String)],
        event: &Value,
    ) -> usize {
        let (event, _) = fresh(event);
        aws.reset_calls().await;
        let mut f = Function::spawn(exe, env).await;
        let _ = f.invoke(&event, Duration::from_secs(60)).await;
        sequential_round_trips(&work_calls(aws).await)
    }
}

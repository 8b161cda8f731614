//! The benchmark's registry section: promote-image's retag on a registry (sequential
//! round trips after authentication, new tags and a re-run) and a copy between two
//! registries (peak memory against the bytes copied).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{AuthMode, Proxy, Registry, put_user_secret, seed_image};
use crate::{Function, JobBuilder, LocalAws, sequential_round_trips};

/// The samples that name real registries (Docker Hub, GHCR): this section measures their
/// cases against local registries instead.
pub const SAMPLES: [&str; 3] = [
    "promote-image-docker-hub-retag",
    "promote-image-ecr-to-docker-hub",
    "promote-image-registry-to-ecr",
];

const SECRET: &str = "bench/registry";

/// Runs `exe` on a job with `params` in a new process: the report's status, the time
/// taken and the process's peak RSS.
async fn run(
    aws: &LocalAws,
    exe: &Path,
    params: &Value,
    env: &[(String, String)],
) -> (String, f64, u64) {
    let job = JobBuilder::new()
        .user_parameters(params.to_string())
        .stage(aws)
        .await;
    let mut f = Function::spawn(exe, env).await;
    let started = Instant::now();
    let result = f.invoke(&job.event, Duration::from_secs(300)).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = match aws.job(&job.id).await {
        Some(crate::JobReport::Failure { kind, message }) => format!("Failed ({kind}): {message}"),
        Some(crate::JobReport::Success { summary, .. }) => summary,
        None => format!("no report ({result:?})"),
    };
    (status, ms, f.peak_rss_kib().unwrap_or(0))
}

fn after_auth(proxy: &Proxy) -> Vec<crate::Call> {
    proxy
        .calls_after_auth()
        .into_iter()
        .filter(|c| c.operation != "GET /v2/")
        .collect()
}

/// The section's rows: the retag (round trips, new and re-run) and the copy (memory).
pub async fn rows(aws: &LocalAws, bin_dir: &Path, latency_ms: u64) -> Vec<Value> {
    let exe = bin_dir.join("promote-image");
    let env = aws.function_env();
    put_user_secret(&aws.sdk_config().await, SECRET).await;
    let mut rows = Vec::new();

    // Retag on a registry with token auth (Docker Hub's flow), through the counting proxy.
    let registry = Registry::start(AuthMode::Token).await;
    let image = seed_image(
        &registry.client(),
        "team/web",
        "sha-1",
        &[4096, 65536],
        1,
        false,
    )
    .await;
    let proxy = Proxy::start(registry.addr).await;
    proxy.latency(Duration::from_millis(latency_ms));
    let params = json!({
        "source": {"imageUri": format!("{}/team/web:sha-1", proxy.host()), "credentialsSecret": SECRET},
        "tags": ["staging", "prod"],
    });
    let (status, ms, rss) = run(aws, &exe, &params, &env).await;
    let first = after_auth(&proxy);
    proxy.clear();
    let (rerun_status, rerun_ms, _) = run(aws, &exe, &params, &env).await;
    let rerun = after_auth(&proxy);
    rows.push(json!({
        "scenario": "retag on a registry (token auth), 2 tags",
        "status": status,
        "rerun_status": rerun_status,
        "image_bytes": image.size,
        "ms": round1(ms),
        "rerun_ms": round1(rerun_ms),
        "peak_rss_kib": rss,
        "requests": first.len(),
        "round_trips": sequential_round_trips(&first),
        "rerun_requests": rerun.len(),
        "rerun_round_trips": sequential_round_trips(&rerun),
        "round_trip_target": "<= 3, 1 when in place",
    }));

    // A copy between two registries: 3 layers of 64 MiB, streamed in 8 MiB chunks.
    let (from, to) = tokio::join!(
        Registry::start(AuthMode::Token),
        Registry::start(AuthMode::Basic)
    );
    let big = seed_image(
        &from.client(),
        "team/big",
        "v1",
        &[64 << 20, 64 << 20, 64 << 20],
        2,
        true,
    )
    .await;
    let params = json!({
        "source": {"imageUri": format!("{}/team/big:v1", from.host()), "credentialsSecret": SECRET},
        "tags": ["v1"],
        "target": {"registry": to.host(), "repository": "mirror/big", "credentialsSecret": SECRET},
    });
    let (status, ms, rss) = run(aws, &exe, &params, &env).await;
    rows.push(json!({
        "scenario": "copy registry -> registry, 3 x 64 MiB layers",
        "status": status,
        "image_bytes": big.size,
        "ms": round1(ms),
        "peak_rss_kib": rss,
    }));
    rows
}

/// Prints the section.
pub fn print(rows: &[Value]) {
    println!("Registry section (promote-image against local distribution registries):");
    for r in rows {
        let trips = match r["round_trips"].as_u64() {
            Some(t) => format!(
                ", {} requests in {t} sequential round trips after auth (re-run: {} in {})",
                r["requests"], r["rerun_requests"], r["rerun_round_trips"]
            ),
            None => String::new(),
        };
        println!(
            "  {:<46} {:>8.1} ms, peak RSS {:.1} MB, image {:.1} MB{trips}  {}",
            r["scenario"].as_str().unwrap_or_default(),
            r["ms"].as_f64().unwrap_or(0.0),
            r["peak_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
            r["image_bytes"].as_u64().unwrap_or(0) as f64 / 1024.0 / 1024.0,
            r["status"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(90)
                .collect::<String>(),
        );
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

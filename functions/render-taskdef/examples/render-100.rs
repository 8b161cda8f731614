//! Times a render of a 100-container task definition (20 environment variables each, an
//! image from `imagedefinitions.json` and environment edits for every container), with
//! and without the "same as the latest revision?" comparison. Part of `scripts/bench`.
//!
//! cargo run --release -p render-taskdef --example render-100

use render_taskdef::images::parse_image_file;
use render_taskdef::render::{
    assignments, image_definitions, large_workload, render, reusable, taskdef_json,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const RUNS: usize = 200;

fn main() {
    let (template, defs, config) = large_workload(100);
    // The family's latest revision, as DescribeTaskDefinition returns it (one value differs).
    let mut latest: Value = serde_json::from_str(&template).expect("template JSON");
    latest["containerDefinitions"][0]["image"] = json!(format!("{ECR}/r0:v0"));
    latest["revision"] = json!(7);
    latest["taskDefinitionArn"] = json!("arn:aws:ecs:eu-west-1:123456789012:task-definition/big:7");
    let latest = json!({"taskDefinition": latest});

    let mut plain = Vec::with_capacity(RUNS);
    let mut compared = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let (doc, _) =
            render_taskdef::template::parse("taskdef.json", template.as_bytes()).expect("template");
        let file = parse_image_file("imagedefinitions.json", &defs).expect("image file");
        let a = assignments(&config, Some(("imagedefinitions.json", &file)), &doc)
            .expect("assignments");
        let rendered = render(doc, &a, &config).expect("render");
        let out = taskdef_json(&rendered.doc);
        let defs_out = image_definitions(&rendered.doc);
        assert!(out.len() > 100_000 && !defs_out.is_empty() && rendered.set.len() == 100);
        plain.push(start.elapsed());
        std::hint::black_box(reusable(&rendered.doc, Some(&latest)));
        compared.push(start.elapsed());
    }
    let p = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
    };
    let (p50, p95) = (p(&mut plain, 0.5), p(&mut plain, 0.95));
    let (c50, c95) = (p(&mut compared, 0.5), p(&mut compared, 0.95));
    println!(
        "render-taskdef, 100 containers: render {p50:.2} ms p50 / {p95:.2} ms p95; with the revision comparison {c50:.2} / {c95:.2} ms (target < 5 ms)"
    );
    let report = json!({"containers": 100, "runs": RUNS, "render_p50_ms": p50, "render_p95_ms": p95,
                        "with_comparison_p50_ms": c50, "with_comparison_p95_ms": c95});
    let _ = std::fs::create_dir_all("bench-results");
    let _ = std::fs::write("bench-results/render-100.json", report.to_string());
}

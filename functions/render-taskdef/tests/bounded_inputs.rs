//! JSON inputs cost what their limits allow and no more: the real binary, under the Lambda
//! Runtime API against the local AWS, with its peak memory read from the system.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Function, JobBuilder, JobReport, LocalAws, StagedJob};

/// Lambda's smallest sensible memory setting for this function; the limits keep it there.
const PEAK_RSS_MIB: u64 = 64;

/// Runs the job through the real binary; returns the report and the peak RSS in MiB.
async fn run(job: &StagedJob) -> (JobReport, u64) {
    let aws = LocalAws::shared();
    let mut f = Function::start(env!("CARGO_BIN_EXE_render-taskdef"), aws).await;
    let r = f.invoke(&job.event, Duration::from_secs(60)).await;
    assert!(r.is_response(), "{r:?}\n{}", f.logs());
    let peak = f.peak_rss_kib().expect("peak RSS from /proc") / 1024;
    let report = aws.job(&job.id).await;
    (
        report.unwrap_or_else(|| panic!("no report\n{}", f.logs())),
        peak,
    )
}

/// `count` one-digit numbers in a JSON array, the digits varied so that the zip holds them
/// at a modest ratio (as a real file would be) rather than refusing them as a zip bomb.
fn digits(count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * 2 + 1);
    out.push(b'[');
    let mut x: u32 = 12_345;
    for i in 0..count {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        if i > 0 {
            out.push(b',');
        }
        out.push(b'0' + ((x >> 16) % 10) as u8);
    }
    out.push(b']');
    out
}

#[tokio::test]
async fn six_million_numbers_are_refused_in_bounded_memory() {
    let aws = LocalAws::shared();
    for (count, expected) in [
        // About 12 MB: over the size limit, found after inflating 2 MiB of it.
        (
            6_000_000,
            "is 12000001 bytes, more than the 2097152 bytes a JSON input may be",
        ),
        // Within the size limit: stopped at the value count, before it is all built.
        (1_000_000, "holds more than 100000 JSON values and keys"),
    ] {
        let template = digits(count);
        let job = JobBuilder::new()
            .input("Src", &[("taskdef.json", &template)])
            .output("Rendered")
            .stage(aws)
            .await;
        drop(template);
        let (report, peak) = run(&job).await;
        let message = report.expect_failure("ConfigurationError");
        assert!(
            message.starts_with("`taskdef.json` in input artifact `Src` ")
                && message.contains(expected),
            "{count}: {message}"
        );
        eprintln!("{count} numbers: peak RSS {peak} MiB");
        assert!(peak < PEAK_RSS_MIB, "{count} numbers: peak RSS {peak} MiB");
    }
}

/// The 100-container workload of the benchmark, each container given 400 Docker labels
/// with longer values: close to both the value limit and the size limit.
fn template_at_the_limits() -> (Vec<u8>, Vec<u8>) {
    let (template, defs, _) = render_taskdef::render::large_workload(100);
    let mut template: Value = serde_json::from_str(&template).expect("template");
    for container in template["containerDefinitions"]
        .as_array_mut()
        .expect("containers")
    {
        let labels: serde_json::Map<String, Value> = (0..400)
            .map(|i| (format!("label-{i}"), json!(format!("{i:0>30}"))))
            .collect();
        container["dockerLabels"] = Value::Object(labels);
    }
    (serde_json::to_vec(&template).expect("JSON"), defs)
}

#[tokio::test]
async fn inputs_at_the_limits_render_in_bounded_memory() {
    let (template, defs) = template_at_the_limits();
    assert!(
        template.len() > 1_800_000 && template.len() < 2 << 20,
        "{}",
        template.len()
    );
    let job = JobBuilder::new()
        .input("Src", &[("taskdef.json", &template)])
        .input("Build", &[("imagedefinitions.json", &defs)])
        .output("Rendered")
        .stage(LocalAws::shared())
        .await;
    let (report, peak) = run(&job).await;
    let (summary, _) = report.expect_success();
    assert!(summary.starts_with("big rendered"), "{summary}");
    eprintln!(
        "{} bytes at the limits: peak RSS {peak} MiB",
        template.len()
    );
    assert!(peak < PEAK_RSS_MIB, "peak RSS {peak} MiB");
}

#[tokio::test]
async fn a_template_with_two_image_keys_in_a_container_is_refused() {
    let template = br#"{"family": "web", "containerDefinitions": [
        {"name": "app", "image": "web:v1", "essential": true, "image": "web:v2", "memory": 512}]}"#;
    let job = JobBuilder::new()
        .input("Src", &[("taskdef.json", template.as_slice())])
        .output("Rendered")
        .stage(LocalAws::shared())
        .await;
    let (report, _) = run(&job).await;
    let message = report.expect_failure("ConfigurationError");
    assert!(
        message.starts_with(
            "`taskdef.json` in input artifact `Src` has the key `image` twice in `containerDefinitions[0]`; keep one"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn user_parameters_with_a_key_twice_are_refused() {
    let job = JobBuilder::new()
        .input(
            "Src",
            &[("taskdef.json", br#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "<IMAGE1_NAME>", "memory": 512}]}"#.as_slice())],
        )
        .output("Rendered")
        .user_parameters(r#"{"images": {"app": "web:v1", "app": "web:v2"}}"#)
        .stage(LocalAws::shared())
        .await;
    let (report, _) = run(&job).await;
    let message = report.expect_failure("ConfigurationError");
    assert!(
        message.starts_with("UserParameters has the key `app` twice (at `images.app`); keep one"),
        "{message}"
    );
}

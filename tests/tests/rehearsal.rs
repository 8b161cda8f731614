//! The rehearsal of the example pipelines, as `scripts/rehearse` runs it: every pipeline
//! in `infra/pipelines/`, a good and a bad release each, with the real function binaries
//! (the ones cargo builds for the workspace's tests; `cargo test --workspace` or
//! `cargo build -p <function>` builds them).

use std::time::Duration;
use testkit::rehearsal::report::{Printer, Record};
use testkit::rehearsal::{self, world::FUNCTIONS};
use testkit::{LocalAws, binary, workspace_root};

fn explain(record: &Record) -> String {
    let mut out = String::new();
    for p in &record.pipelines {
        for problem in &p.problems {
            out.push_str(&format!("{}: {problem}\n", p.template));
        }
        for r in p.releases.iter().filter(|r| !r.ok) {
            out.push_str(&format!(
                "{} release {}: {:?}\n",
                p.pipeline, r.version, r.problems
            ));
            for s in &r.steps {
                out.push_str(&format!(
                    "  {} {} {}: {}\n",
                    s.stage, s.action, s.result, s.summary
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_pipeline_ends_as_expected_for_a_good_and_a_bad_release() {
    let missing: Vec<&str> = FUNCTIONS
        .into_iter()
        .filter(|f| !binary(f).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "the rehearsal runs the real binaries; build them first: cargo build -p {}",
        missing.join(" -p ")
    );
    let templates = rehearsal::default_templates(&workspace_root());
    for kind in [
        "ecs-codedeploy-bluegreen",
        "ecs-native-bluegreen",
        "ec2-codedeploy",
    ] {
        assert!(
            templates
                .iter()
                .any(|t| t.ends_with(format!("{kind}.yaml"))),
            "infra/pipelines/{kind}.yaml is missing: {templates:?}"
        );
    }
    let aws = LocalAws::start().await;
    let record = rehearsal::rehearse(&aws, &templates, Printer { quiet: true }).await;
    assert!(
        record.ok,
        "the rehearsal did not end as expected:\n{}",
        explain(&record)
    );
    assert!(
        Duration::from_millis(record.duration_ms) < Duration::from_secs(60),
        "the rehearsal took {} ms; it must stay under a minute",
        record.duration_ms
    );

    // What it rehearsed: each pipeline's good release deployed and promoted through
    // continuation tokens, each bad one stopped before the promotion.
    for p in &record.pipelines {
        assert_eq!(p.releases.len(), 2, "{}", p.pipeline);
        let (good, bad) = (&p.releases[0], &p.releases[1]);
        assert!(
            good.steps.iter().all(|s| s.result == "Succeeded"),
            "{}",
            p.pipeline
        );
        assert!(
            good.steps
                .iter()
                .any(|s| s.provider == "Lambda health-gate" && s.invocations > 1),
            "{}: the bake waited through continuation tokens",
            p.pipeline
        );
        assert!(
            bad.steps.iter().any(|s| s.result == "Failed"),
            "{}",
            p.pipeline
        );
        assert!(
            bad.steps
                .iter()
                .any(|s| s.action.starts_with("Promote") && s.result == "Skipped"),
            "{}: the bad release is not promoted",
            p.pipeline
        );
    }
    let json = serde_json::to_value(&record).expect("the record serializes");
    assert_eq!(
        json["pipelines"].as_array().map(Vec::len),
        Some(templates.len())
    );
}

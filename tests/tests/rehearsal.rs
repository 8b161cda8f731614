//! The rehearsal of the example pipelines, as `scripts/rehearse` runs it: every pipeline
//! in `infra/pipelines/`, a good and a bad release each, with the real function binaries
//! (the ones cargo builds for the workspace's tests; `cargo test --workspace` or
//! `cargo build -p <function>` builds them).

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
        "ecs-cross-account",
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

    // What it rehearsed: each pipeline's good release deployed and promoted through
    // continuation tokens, each bad one stopped before the promotion.
    for p in &record.pipelines {
        let canary = p.template.ends_with("ecs-native-bluegreen.yaml");
        assert_eq!(
            p.releases.len(),
            if canary { 3 } else { 2 },
            "{}",
            p.pipeline
        );
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
        // The bad release never reaches the last stage (the promotion, or the last prod
        // region).
        let last = good
            .steps
            .iter()
            .rev()
            .find(|s| s.stage != "(alarm)")
            .map(|s| s.stage.clone())
            .unwrap_or_default();
        let in_last: Vec<_> = bad.steps.iter().filter(|s| s.stage == last).collect();
        assert!(
            !in_last.is_empty() && in_last.iter().all(|s| s.result == "Skipped"),
            "{}: the bad release reached stage {last}",
            p.pipeline
        );
    }
    // The canary release: the gate passed the 10% step and failed the 100% one.
    let native = record
        .pipelines
        .iter()
        .find(|p| p.template.ends_with("ecs-native-bluegreen.yaml"))
        .expect("the ECS native pipeline was rehearsed");
    let deployed = native.releases[2]
        .steps
        .iter()
        .find(|s| s.provider == "ECS")
        .expect("the canary's deploy action");
    let judged = |percent: &str, word: &str| {
        deployed.details.iter().any(|d| {
            d.contains(&format!(
                "PRODUCTION_TRAFFIC_SHIFT at {percent}% of production traffic"
            )) && d.contains(word)
        })
    };
    assert!(
        judged("10", "SUCCEEDED") && judged("100", "FAILED"),
        "{:?}",
        deployed.details
    );
    // Across accounts: the prod alarm came from the prod account, and rollback-trigger
    // acted there.
    let across = record
        .pipelines
        .iter()
        .find(|p| p.template.ends_with("ecs-cross-account.yaml"))
        .expect("the cross-account pipeline was rehearsed");
    let alarm = across.releases[1]
        .steps
        .iter()
        .find(|s| s.provider.contains("rollback-trigger"))
        .expect("the prod alarm reached rollback-trigger");
    assert!(
        alarm.action.contains("account 333333333333")
            && alarm
                .details
                .iter()
                .any(|d| d.contains("in account 333333333333") && d.contains("acted")),
        "{alarm:?}"
    );
    let json = serde_json::to_value(&record).expect("the record serializes");
    assert_eq!(
        json["pipelines"].as_array().map(Vec::len),
        Some(templates.len())
    );
}

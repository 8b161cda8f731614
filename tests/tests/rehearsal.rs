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
    // The EC2 pipeline: on a Docker engine its releases ran for real; where none runs the
    // record says the emulator played them (CI sets REQUIRE_DOCKER: an engine must run).
    let ec2 = record
        .pipelines
        .iter()
        .find(|p| p.template.ends_with("ec2-codedeploy.yaml"))
        .expect("the EC2 pipeline was rehearsed");
    let engine_up = std::process::Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !record.on_engine {
        assert!(
            !engine_up && std::env::var_os("REQUIRE_DOCKER").is_none(),
            "a Docker engine runs, yet the rehearsal did not use it: {}",
            record.engine
        );
        assert!(
            record.engine.contains("NO DOCKER ENGINE"),
            "{}",
            record.engine
        );
        assert!(
            ec2.releases.iter().all(|r| r
                .outcome
                .iter()
                .any(|o| o.contains("played by the emulator"))),
            "{:?}",
            ec2.releases[0].outcome
        );
        eprintln!("\n*** {} ***\n", record.engine);
    } else {
        let (good, bad) = (&ec2.releases[0], &ec2.releases[1]);
        let pinned = |r: &testkit::rehearsal::report::ReleaseRecord| {
            r.steps
                .iter()
                .find_map(|s| s.variables.get("ImageDigest_app"))
                .and_then(|d| d.as_str())
                .map(str::to_owned)
                .expect("render-taskdef pinned the image by digest")
        };
        let (v2, v3) = (pinned(good), pinned(bad));
        assert_ne!(v2, v3);
        let digest = |d: &str| d.starts_with("sha256:") && d.len() == 71;
        // The good release: a container of its image started on every instance and runs.
        assert_eq!(good.containers.len(), 3, "{:?}", good.containers);
        for c in good.containers.iter().chain(&good.running) {
            assert!(digest(&c.digest) && digest(&c.image_id), "{c:?}");
            assert_eq!(c.digest, v2, "{c:?}");
            assert!(c.image.ends_with(&format!("@{v2}")), "{c:?}");
        }
        assert_eq!(good.running.len(), 3, "{:?}", good.running);
        assert!(good.running.iter().all(|c| c.status == "running"));
        // The bad release: its container started and failed ValidateService, CodeDeploy
        // rolled back, and the previous release's container runs again everywhere.
        assert!(
            bad.containers.iter().any(|c| c.digest == v3),
            "{:?}",
            bad.containers
        );
        let back: Vec<_> = bad.containers.iter().filter(|c| c.digest == v2).collect();
        assert_eq!(back.len(), 3, "{:?}", bad.containers);
        assert!(
            back.iter()
                .all(|c| c.deployment != good.containers[0].deployment),
            "started again by the rollback: {back:?}"
        );
        assert_eq!(bad.running.len(), 3, "{:?}", bad.running);
        assert!(
            bad.running
                .iter()
                .all(|c| c.digest == v2 && c.status == "running"),
            "{:?}",
            bad.running
        );
        let deploy = bad
            .steps
            .iter()
            .find(|s| s.provider == "CodeDeploy")
            .expect("the CodeDeploy action");
        assert!(
            deploy.result == "Failed" && deploy.details.iter().any(|d| d.contains("rolled back")),
            "{deploy:?}"
        );
        // Nothing of the rehearsal is left on the engine.
        let left = std::process::Command::new("docker")
            .args([
                "ps",
                "--all",
                "--quiet",
                "--filter",
                &format!(
                    "label={}={}",
                    testkit::rehearsal::engine::LABEL,
                    testkit::rehearsal::engine::prefix()
                ),
            ])
            .output()
            .expect("docker ps");
        assert!(
            String::from_utf8_lossy(&left.stdout).trim().is_empty(),
            "containers left: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }
    let json = serde_json::to_value(&record).expect("the record serializes");
    assert_eq!(
        json["pipelines"].as_array().map(Vec::len),
        Some(templates.len())
    );
}

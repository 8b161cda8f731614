//! Where the source comes from (UserParameters, imageDetail.json, imagedefinitions.json),
//! every bad input ending in a failure that names the problem and the fix, and the
//! sample events in `events/`.

mod common;

use common::*;
use serde_json::{Value, json};
use testkit::seed::{events_dir, read_json, sample_events};

const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

async fn ready(env: &Env, repo: &str) -> String {
    create_repo(&env.ecr, repo, false).await;
    let digest = d(&format!("{repo}/image"));
    push(
        &env.ecr,
        repo,
        &docker_manifest(repo, &[(d(&format!("{repo}/l")), 10)]),
        DOCKER_MANIFEST,
        &digest,
        Some("sha-1a2b3c"),
    )
    .await;
    digest
}

#[test]
fn source_from_image_detail_and_image_definitions() {
    let (env, _serial) = env();
    RT.block_on(async {
        let digest = ready(env, "in-web").await;
        let detail = format!(r#"{{"ImageURI": "{URI}/in-web@{digest}", "ImageDigest": "{digest}", "RepositoryName": "in-web"}}"#);
        let files: &[(&str, &[u8])] = &[("imageDetail.json", detail.as_bytes())];
        let run = run_job(env, &json!({"source": {"artifact": "BuildOutput"}, "tags": ["staging"]}), Some(("BuildOutput", files))).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("in-web@sha256:") && summary.contains("staging new"), "{summary}");
        assert_eq!(vars["ImageDigest"], digest.as_str());

        let defs = format!(r#"[{{"name": "envoy", "imageUri": "public.ecr.aws/envoy:v1"}}, {{"name": "web", "imageUri": "{URI}/in-web:sha-1a2b3c"}}]"#);
        let files: &[(&str, &[u8])] = &[("out/imagedefinitions.json", defs.as_bytes())];
        let params = json!({"source": {"artifact": "BuildOutput", "container": "web"}, "tags": ["qa"]});
        let run = run_job(env, &params, Some(("BuildOutput", files))).await;
        assert!(run.success().0.contains("in-web:sha-1a2b3c"));
        assert_eq!(digest_of(&env.ecr, "in-web", "qa").await.as_deref(), Some(digest.as_str()));
    });
}

#[test]
fn each_bad_input_fails_naming_the_problem_and_the_fix() {
    let (env, _serial) = env();
    RT.block_on(async {
        ready(env, "in-bad").await;
        let defs = format!(r#"[{{"name": "web", "imageUri": "{URI}/in-bad:sha-1a2b3c"}}, {{"name": "worker", "imageUri": "{URI}/in-bad:sha-1a2b3c"}}]"#);
        let gone = format!(r#"{{"ImageURI": "{URI}/in-bad:sha-deleted"}}"#);
        type Case<'a> = (Value, Option<(&'a str, &'a str)>, &'a str, &'a [&'a str]);
        let cases: Vec<Case> = vec![
            (json!({"tag": "x"}), None, "ConfigurationError", &["unknown key `tag`", "Accepted keys"]),
            (json!({"source": {"repository": "in-bad", "tag": "sha-1a2b3c"}}), None, "ConfigurationError", &["UserParameters.tags: is missing"]),
            (json!({"source": {"repository": "in-bad", "tag": "#{Build.TAG}"}, "tags": ["p"]}), None, "ConfigurationError", &["not resolved", "namespace"]),
            (json!({"source": {"repository": "in-bad", "tag": "nope"}, "tags": ["prod"]}), None, "ConfigurationError", &["has no image tagged `nope`", "check source.tag"]),
            (json!({"source": {"repository": "in-missing", "tag": "v1"}, "tags": ["prod"]}), None, "ConfigurationError", &["source repository `in-missing` does not exist", "check source.repository"]),
            (json!({"source": {"repository": "in-bad", "tag": "sha-1a2b3c"}, "tags": ["prod"], "target": {"repository": "in-bad-prod"}}), None, "ConfigurationError", &["target repository `in-bad-prod` does not exist", "create it first"]),
            (json!({"source": {"artifact": "Missing"}, "tags": ["prod"]}), None, "ConfigurationError", &["no input artifact named `Missing`"]),
            (json!({"source": {"artifact": "BuildOutput"}, "tags": ["prod"]}), Some(("taskdef.json", "{}")), "ConfigurationError", &["neither imageDetail.json nor imagedefinitions.json", "taskdef.json"]),
            (json!({"source": {"artifact": "BuildOutput"}, "tags": ["prod"]}), Some(("imagedefinitions.json", defs.as_str())), "ConfigurationError", &["several containers (`web`, `worker`)", "source.container"]),
            (json!({"source": {"artifact": "BuildOutput"}, "tags": ["prod"]}), Some(("imageDetail.json", r#"{"ImageURI": "nginx:1.27"}"#)), "ConfigurationError", &["not an ECR image URI"]),
            (json!({"source": {"artifact": "BuildOutput"}, "tags": ["prod"]}), Some(("imageDetail.json", gone.as_str())), "RevisionUnavailable", &["no image tagged `sha-deleted`", "imageDetail.json in input artifact `BuildOutput`", "lifecycle policy"]),
        ];
        for (params, file, kind, wanted) in cases {
            let files: Vec<(&str, &[u8])> = file.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
            let input = file.map(|_| ("BuildOutput", files.as_slice()));
            let run = run_job(env, &params, input).await;
            let message = run.failure(kind);
            for w in wanted {
                assert!(message.contains(w), "{params}: `{w}` not in: {message}");
            }
            assert!(run.ops("PutImage").is_empty(), "{params}");
        }
    });
}

/// Seeds what the samples refer to: the ECR state in events/seed/promote-image.json and
/// the artifact folders under events/artifacts/promote-image/.
async fn seed_samples(env: &Env, events: &std::path::Path) {
    testkit::seed::seed_only(&env.aws, events, "promote-image")
        .await
        .unwrap_or_else(|e| panic!("seeding: {e}"));
}

/// Samples that promote to or from a registry other than ECR.
const REGISTRY_SAMPLES: [&str; 3] = [
    "promote-image-docker-hub-retag.json",
    "promote-image-ecr-to-docker-hub.json",
    "promote-image-registry-to-ecr.json",
];

#[test]
fn sample_events_parse_and_run_against_the_seed() {
    let (env, _serial) = env();
    RT.block_on(async {
        let events = events_dir();
        seed_samples(env, &events).await;
        let samples = sample_events(&events, "promote-image");
        assert_eq!(samples.len(), 6, "{samples:?}");
        for path in samples {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut event = read_json(&path);
            let parsed: shared::job::JobEvent =
                serde_json::from_value(event.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let params: promote_image::config::Config =
                shared::params::parse_params(parsed.job.user_parameters())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            params.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            // Samples for Docker Hub and GHCR name real registries: parsed and validated
            // here, run against a local registry in tests/registry.rs.
            if REGISTRY_SAMPLES.contains(&name.as_str()) {
                continue;
            }
            let id = testkit::job::job_id();
            event["CodePipeline.job"]["id"] = json!(id);
            let run = run_event(env, &id, &event).await;
            match name.as_str() {
                "promote-image-retag.json" => {
                    assert!(run.success().0.contains("web:sha-1a2b3c"), "{name}")
                }
                "promote-image-from-artifact.json" => {
                    let (summary, vars) = run.success();
                    assert!(
                        summary.contains("prod") && summary.contains("v1.4.2"),
                        "{summary}"
                    );
                    assert!(
                        vars["ImageTags"]
                            .as_str()
                            .is_some_and(|t| t.contains("v1.4.2"))
                    );
                }
                "promote-image-scan-gate.json" => {
                    let (summary, _) = run.success();
                    assert!(summary.contains("HIGH 2/3"), "{summary}");
                }
                other => panic!("no expectation for sample {other}"),
            }
        }
    });
}

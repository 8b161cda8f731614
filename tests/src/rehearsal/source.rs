//! The source stage, played by the rehearsal: the release's source tree zipped into the
//! artifact store, with the source action's output variables.

use super::execution::{Execution, Outcome, Running};
use super::put_zip;
use super::world::World;
use serde_json::{Value, json};

/// The files of the application's repository at this release.
pub fn files(world: &World, version: &str, hook_function: &str) -> Vec<(String, Vec<u8>)> {
    let container = &world.container;
    let taskdef = super::world::task_definition(&world.family, container, "<IMAGE1_NAME>", version);
    let appspec_ecs = format!(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n          ContainerName: {container}\n          ContainerPort: 8080\nHooks:\n  - AfterAllowTestTraffic: \"{hook_function}\"\n"
    );
    let appspec_ec2 = "version: 0.0\nos: linux\nfiles:\n  - source: /app\n    destination: /opt/web\nhooks:\n  ApplicationStop:\n    - location: scripts/stop.sh\n      timeout: 60\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 60\n  ValidateService:\n    - location: scripts/validate_service.sh\n      timeout: 120\n";
    let buildspec = "version: 0.2\nenv:\n  exported-variables: [IMAGE_URI, IMAGE_TAG, IMAGE_DIGEST]\nphases:\n  build:\n    commands:\n      - docker build -t $REPOSITORY_URI:$IMAGE_TAG .\n      - docker push $REPOSITORY_URI:$IMAGE_TAG\n      - printf '{\"ImageURI\":\"%s\"}' $REPOSITORY_URI:$IMAGE_TAG > imageDetail.json\nartifacts:\n  files: [imageDetail.json, imagedefinitions.json, appspec.yml, 'scripts/*']\n";
    [
        (
            "taskdef.json",
            serde_json::to_string_pretty(&taskdef).unwrap_or_default(),
        ),
        ("appspec.yaml", appspec_ecs),
        ("appspec.yml", appspec_ec2.to_owned()),
        ("buildspec.yml", buildspec.to_owned()),
        (
            "Dockerfile",
            "FROM public.ecr.aws/docker/library/nginx:1.27\nCOPY app /usr/share/nginx/html\n"
                .to_owned(),
        ),
        ("app/index.html", format!("<h1>web {version}</h1>\n")),
        (
            "scripts/stop.sh",
            "#!/bin/sh\nsystemctl stop web || true\n".to_owned(),
        ),
        (
            "scripts/start.sh",
            "#!/bin/sh\nsystemctl start web\n".to_owned(),
        ),
        (
            "scripts/validate_service.sh",
            "#!/bin/sh\ncurl -fsS http://localhost:8080/health\n".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c.into_bytes()))
    .collect()
}

/// A commit id for the release (40 hex digits, stable per release and execution).
pub fn commit_id(version: &str, execution: &str) -> String {
    let digest = crate::seed::fake_digest(&format!("{version}/{execution}"));
    digest.trim_start_matches("sha256:")[..40].to_owned()
}

pub async fn play(ex: &Execution<'_>, run: &Running<'_>) -> Outcome {
    let mut step = run.step();
    let version = &ex.release.version;
    let commit = commit_id(version, &ex.id);
    let files = files(ex.world, version, "CodeDeployHook_health-gate");
    let mut outcome = Outcome::new(step.clone());
    for name in &run.action.outputs {
        let location = run.output_location(ex, name);
        if let Err(e) = put_zip(ex.aws, &location, &files).await {
            return Outcome::fail(step, e);
        }
        outcome.artifacts.push((name.clone(), location));
    }
    let message = format!("Release {version}");
    let variables: Value = match run.action.provider.as_str() {
        "S3" => json!({"VersionId": commit[..32].to_owned(), "ETag": commit[8..40].to_owned()}),
        "ECR" => json!({"ImageTag": "latest", "ImageURI": ex.world.image_uri("latest"),
                         "RepositoryName": ex.world.repository, "RegistryId": crate::local_aws::ACCOUNT}),
        "CodeCommit" => json!({"CommitId": commit, "CommitMessage": message, "BranchName": "main",
                                "RepositoryName": "web", "AuthorDate": "2026-11-29T10:00:00Z",
                                "CommitterDate": "2026-11-29T10:00:00Z"}),
        _ => json!({"CommitId": commit, "CommitMessage": message, "BranchName": "main",
                     "FullRepositoryName": "example/web", "AuthorDate": "2026-11-29T10:00:00Z",
                     "ConnectionArn": run.config("ConnectionArn").unwrap_or_default()}),
    };
    outcome.variables = variables.as_object().cloned().unwrap_or_default();
    step.summary = format!("{message}: {} files at {}", files.len(), &commit[..7]);
    outcome.step = step;
    outcome
}

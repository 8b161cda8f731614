//! The CodeBuild stage, played by the rehearsal as the project's buildspec says: the docker
//! build and push (a manifest pushed to the local ECR), `imageDetail.json` (by tag, or by
//! digest when the buildspec writes `ImageDigest`), the buildspec's `artifacts.files` and
//! its `exported-variables`, and a `cosign sign` with a KMS key after the push (see
//! [`super::cosign`]). A build with no output artifact (lint, tests) passes.

use super::cosign::{self, SignCommand};
use super::execution::{Execution, Outcome, Running};
use super::template::to_json;
use super::world::ECR_API;
use super::{get_zip, put_zip};
use crate::seed::DOCKER_V2;
use serde_json::{Map, Value, json};

/// What the buildspec asks for: the artifact's file patterns (`None`: everything) and
/// the exported variables.
struct Buildspec {
    files: Option<Vec<String>>,
    exported: Vec<String>,
    by_digest: bool,
    /// The `cosign sign` among its commands, if any.
    cosign: Option<SignCommand>,
}

/// The buildspec read as CodeBuild reads it; a buildspec that is not YAML fails the
/// build (CodeBuild's `YAML_FILE_ERROR`).
fn buildspec(text: &str) -> Result<Buildspec, String> {
    let spec = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
        .map(to_json)
        .map_err(|e| e.to_string())?;
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    Ok(Buildspec {
        files: spec["artifacts"].get("files").map(list),
        exported: list(&spec["env"]["exported-variables"]),
        by_digest: text.contains("ImageDigest"),
        cosign: cosign::sign_command(&spec),
    })
}

/// Whether `path` matches a buildspec file pattern (`a/b`, `dir/*`, `dir/**/*`, `**/*`).
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((prefix, _)) => path.starts_with(prefix),
    }
}

pub async fn play(ex: &Execution<'_>, run: &Running<'_>) -> Outcome {
    let mut step = run.step();
    if run.action.outputs.is_empty() {
        step.summary = "lint and tests passed".into();
        return Outcome::new(step);
    }
    let Some((source_name, source)) = run.inputs.first() else {
        return Outcome::fail(step, "a build needs the source as its input artifact");
    };
    let files = match get_zip(ex.aws, source).await {
        Ok(f) => f,
        Err(e) => return Outcome::fail(step, format!("input {source_name}: {e}")),
    };
    let project = run.config("ProjectName").unwrap_or_default();
    let text = ex.world.buildspecs.get(project).cloned().or_else(|| {
        files
            .iter()
            .find(|(p, _)| p == "buildspec.yml")
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
    });
    let spec = match buildspec(text.as_deref().unwrap_or_default()) {
        Ok(spec) => spec,
        Err(e) => {
            return Outcome::fail(
                step,
                format!(
                    "YAML_FILE_ERROR: the buildspec of project {project} is not valid YAML: {e}"
                ),
            );
        }
    };
    let signing_key = match signing_key(ex, project, &spec) {
        Ok(key) => key,
        Err(e) => return Outcome::fail(step, e),
    };
    let commit = super::source::commit_id(&ex.release.version, &ex.id);
    let tag = format!("sha-{}", &commit[..12]);
    let tagged = ex.world.image_uri(&tag);
    let digest = match &ex.world.real {
        // On the engine: the image built and pushed to the local registry.
        Some(real) => {
            let built = super::engine::build_image(
                real,
                &ex.world.repository,
                &tag,
                &ex.release.version,
                ex.release.good,
            )
            .await;
            match built {
                Ok((_, digest)) => {
                    step.details.push(format!(
                        "docker import (busybox, httpd on port {}; {} answers {}) and docker push to {}",
                        real.port,
                        super::engine::HEALTH_PATH,
                        if ex.release.good { 200 } else { 500 },
                        real.host
                    ));
                    digest
                }
                Err(e) => return Outcome::fail(step, format!("docker build/push {tagged}: {e}")),
            }
        }
        None => match pushed_to_ecr(ex, &tag).await {
            Ok(digest) => digest,
            Err(e) => return Outcome::fail(step, format!("docker push {tagged}: {e}")),
        },
    };
    if let Some(key) = &signing_key {
        match cosign::sign(ex, &digest, key).await {
            Ok(signature) => {
                step.details.push(format!(
                    "cosign sign with KMS key {}: {} (key {})",
                    signature.key_arn, signature.tag, signature.key_id
                ));
                let mut facts = ex.facts.lock().unwrap_or_else(|e| e.into_inner());
                facts.signature = Some(signature);
            }
            Err(e) => return Outcome::fail(step, format!("cosign sign {tagged}: {e}")),
        }
    }
    let repository_uri = tagged
        .rsplit_once(':')
        .map_or(tagged.as_str(), |(r, _)| r)
        .to_owned();
    let (image, detail) = if spec.by_digest {
        let by_digest = format!("{repository_uri}@{digest}");
        (
            by_digest.clone(),
            json!({"ImageURI": by_digest, "ImageDigest": digest}),
        )
    } else {
        (tagged.clone(), json!({"ImageURI": tagged}))
    };
    let mut candidates = files.clone();
    candidates.push(("imageDetail.json".into(), detail.to_string().into_bytes()));
    candidates.push((
        "imagedefinitions.json".into(),
        json!([{"name": ex.world.container, "imageUri": image}])
            .to_string()
            .into_bytes(),
    ));
    let out: Vec<(String, Vec<u8>)> = match &spec.files {
        None => candidates,
        Some(patterns) => candidates
            .into_iter()
            .filter(|(p, _)| patterns.iter().any(|pat| matches(pat, p)))
            .collect(),
    };
    let mut outcome = Outcome::new(step.clone());
    for name in &run.action.outputs {
        let location = run.output_location(ex, name);
        if let Err(e) = put_zip(ex.aws, &location, &out).await {
            return Outcome::fail(step, e);
        }
        outcome.artifacts.push((name.clone(), location));
    }
    {
        let mut facts = ex.facts.lock().unwrap_or_else(|e| e.into_inner());
        facts.image = Some(tagged.clone());
        facts.digest = Some(digest.clone());
    }
    let known = json!({"IMAGE_URI": image, "IMAGE_TAG": tag, "IMAGE_DIGEST": digest,
                       "REPOSITORY_URI": repository_uri});
    let mut variables = Map::new();
    for name in &spec.exported {
        variables.insert(name.clone(), known.get(name).cloned().unwrap_or(json!("")));
    }
    outcome.variables = variables;
    let written: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
    step.summary = format!(
        "pushed {} ({}); artifact: {}",
        tagged.rsplit('/').next().unwrap_or(&tagged),
        &digest[..19.min(digest.len())],
        written.join(", ")
    );
    outcome.step = step;
    outcome
}

/// The KMS key the buildspec's `cosign sign` signs with, its `--key` read with project
/// `project`'s environment variables; `None` when it does not sign.
fn signing_key(
    ex: &Execution<'_>,
    project: &str,
    spec: &Buildspec,
) -> Result<Option<String>, String> {
    let Some(command) = &spec.cosign else {
        return Ok(None);
    };
    if let Some(real) = &ex.world.real {
        return Err(format!(
            "cosign sign: the rehearsal signs images pushed to the local ECR; on the Docker \
             engine the image goes to the registry {}, where it does not sign (rehearse \
             without the engine to play this build)",
            real.host
        ));
    }
    let empty = Default::default();
    let environment = ex.world.build_environments.get(project).unwrap_or(&empty);
    cosign::kms_key(command, environment).map(Some)
}

/// The release's image pushed to the local ECR (its layer, config and manifest); its digest.
async fn pushed_to_ecr(ex: &Execution<'_>, tag: &str) -> Result<String, String> {
    let manifest = pushed_blobs(ex, &ex.release.version).await?;
    let pushed = ex
        .aws
        .json_call(
            &format!("{ECR_API}.PutImage"),
            &json!({"repositoryName": ex.world.repository, "imageTag": tag,
                    "imageManifest": manifest, "imageManifestMediaType": DOCKER_V2}),
        )
        .await?;
    Ok(pushed["image"]["imageId"]["imageDigest"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Pushes the layer and config of release `version` into the build's repository, as
/// `docker push` does before the manifest (an image copied to another account or
/// registry needs them); returns the manifest naming them.
async fn pushed_blobs(ex: &Execution<'_>, version: &str) -> Result<String, String> {
    let config = json!({"architecture": "amd64", "os": "linux",
                        "config": {"Env": [format!("RELEASE={version}")]}})
    .to_string();
    let layer = format!("{} release {version}\n", ex.world.repository).repeat(64);
    let config_digest = push_blob(ex, config.as_bytes()).await?;
    let layer_digest = push_blob(ex, layer.as_bytes()).await?;
    Ok(json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": layer.len(), "digest": layer_digest}],
    })
    .to_string())
}

/// Stores `content` as a blob of the build's repository; its digest.
pub(super) async fn push_blob(ex: &Execution<'_>, content: &[u8]) -> Result<String, String> {
    use base64::Engine;
    let stored = super::raw_control(
        ex.aws,
        "POST",
        "/_local/ecr/blobs",
        json!({"repositoryName": ex.world.repository,
               "content_b64": base64::engine::general_purpose::STANDARD.encode(content)}),
    )
    .await?;
    stored["digest"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the local ECR stored no blob: {stored}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildspec_patterns_and_variables() {
        let spec = buildspec(
            "version: 0.2\nenv:\n  exported-variables: [IMAGE_URI, IMAGE_TAG]\nartifacts:\n  files: [imageDetail.json, 'scripts/*']\n",
        )
        .unwrap();
        assert_eq!(spec.exported, ["IMAGE_URI", "IMAGE_TAG"]);
        let files = spec.files.unwrap();
        assert!(files.iter().any(|p| matches(p, "scripts/start.sh")));
        assert!(files.iter().any(|p| matches(p, "imageDetail.json")));
        assert!(!files.iter().any(|p| matches(p, "imagedefinitions.json")));
        assert!(!spec.by_digest);
        assert_eq!(spec.cosign, None);
        assert!(buildspec("").unwrap().files.is_none());
        let signed = buildspec(
            "phases:\n  build:\n    commands:\n      - docker push \"$IMAGE_URI\"\n      - cosign sign --yes --key \"awskms:///$KEY\" \"$IMAGE_REF\"\n",
        )
        .unwrap();
        assert_eq!(
            signed.cosign.and_then(|c| c.key).as_deref(),
            Some("awskms:///$KEY")
        );
        // A command with ": " in a plain scalar is a mapping: CodeBuild refuses the file.
        let err =
            buildspec("phases:\n  build:\n    commands:\n      - printf '{\"a\": \"%s\"}' x > f\n");
        assert!(err.is_err());
    }
}

//! The CodeBuild stage, played by the rehearsal: the buildspec's docker build and push
//! (a manifest pushed to the local ECR), `imageDetail.json` and `imagedefinitions.json`
//! written with the revision bundle's files, and the exported variables. A test action
//! (no output artifact) passes.

use super::execution::{Execution, Outcome, Running};
use super::world::ECR_API;
use super::{get_zip, put_zip};
use crate::seed::{DOCKER_V2, sample_manifest};
use serde_json::{Value, json};

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
    let commit = super::source::commit_id(&ex.release.version, &ex.id);
    let tag = commit[..7].to_owned();
    let image = ex.world.image_uri(&tag);
    let manifest = sample_manifest(&format!("{}:{}", ex.world.repository, ex.release.version));
    let pushed = ex
        .aws
        .json_call(
            &format!("{ECR_API}.PutImage"),
            &json!({"repositoryName": ex.world.repository, "imageTag": tag,
                    "imageManifest": manifest, "imageManifestMediaType": DOCKER_V2}),
        )
        .await;
    let digest = match pushed {
        Ok(v) => v["image"]["imageId"]["imageDigest"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Err(e) => return Outcome::fail(step, format!("docker push {image}: {e}")),
    };
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(p, _)| p == "appspec.yml" || p.starts_with("scripts/"))
        .collect();
    out.push((
        "imageDetail.json".into(),
        json!({"ImageURI": image}).to_string().into_bytes(),
    ));
    out.push((
        "imagedefinitions.json".into(),
        json!([{"name": "app", "imageUri": image}])
            .to_string()
            .into_bytes(),
    ));
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
        facts.image = Some(image.clone());
        facts.digest = Some(digest.clone());
    }
    let variables: Value = json!({
        "IMAGE_URI": image, "IMAGE_TAG": tag, "IMAGE_DIGEST": digest,
        "REPOSITORY_URI": image.split(':').next().unwrap_or_default(),
    });
    outcome.variables = variables.as_object().cloned().unwrap_or_default();
    step.summary = format!(
        "pushed {} ({}); wrote imageDetail.json, imagedefinitions.json",
        image.rsplit('/').next().unwrap_or(&image),
        &digest[..19.min(digest.len())]
    );
    outcome.step = step;
    outcome
}

//! The job's artifacts as both flows use them: every input read at once, the output chosen.

use crate::config::Config;
use crate::error::Error;
use crate::problem::list;
use shared::artifacts::{ArtifactError, ArtifactZip, Artifacts};

/// Every input artifact, read at once.
pub async fn read_inputs(artifacts: &Artifacts) -> Result<Vec<ArtifactZip>, Error> {
    let reads = artifacts
        .input_names()
        .into_iter()
        .map(|name| artifacts.read(name));
    Ok(futures::future::try_join_all(reads).await?)
}

/// The output artifact to write: `outputArtifact`, else the action's first.
pub fn output_name(cfg: &Config, artifacts: &Artifacts) -> Result<String, Error> {
    let names = artifacts.output_names();
    let available = || list(&names);
    match &cfg.output_artifact {
        Some(name) if names.contains(&name.as_str()) => Ok(name.clone()),
        Some(name) => Err(ArtifactError::NoSuchOutput {
            name: name.clone(),
            available: available(),
        }
        .into()),
        None => names.first().map(|n| (*n).to_owned()).ok_or_else(|| {
            ArtifactError::NoSuchOutput {
                name: "(any)".to_owned(),
                available: available(),
            }
            .into()
        }),
    }
}

//! A small action used by the foundation's end-to-end tests: it exercises the job runner,
//! artifact I/O and continuation through the real Lambda Runtime API.
//!
//! UserParameters: `{"file": "<path in the first input>", "sleepMs": 0, "panic": false,
//! "continueTimes": 0}`. It copies `file` into the first output artifact.

use serde::{Deserialize, Serialize};
use shared::artifacts::ArtifactError;
use shared::{Action, JobContext, Outcome, Success};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    file: Option<String>,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    panic: bool,
    #[serde(default)]
    continue_times: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Waited {
    times: u32,
}

struct Fixture;

impl Action for Fixture {
    type Config = Config;
    type State = Waited;
    type Error = ArtifactError;
    const NAME: &'static str = "fixture-action";

    async fn run(
        self: Arc<Self>,
        ctx: JobContext<Config, Waited>,
    ) -> Result<Outcome<Waited>, ArtifactError> {
        tracing::debug!(job = ?ctx.job, "job received");
        if ctx.config.panic {
            panic!("asked to panic");
        }
        tokio::time::sleep(std::time::Duration::from_millis(ctx.config.sleep_ms)).await;
        let times = ctx.state.map_or(0, |s| s.times);
        if times < ctx.config.continue_times {
            return Ok(Outcome::Continue {
                state: Waited { times: times + 1 },
                summary: format!("waited {} of {}", times + 1, ctx.config.continue_times),
                percent_complete: Some((100 * (times + 1) / ctx.config.continue_times) as u8),
            });
        }
        let mut success = Success::new("nothing to copy");
        if let Some(file) = &ctx.config.file {
            let input = ctx
                .artifacts
                .input_names()
                .first()
                .map(|s| s.to_string())
                .unwrap_or_default();
            let zip = ctx.artifacts.read(&input).await?;
            let bytes = zip.file(file)?;
            let output = ctx
                .artifacts
                .output_names()
                .first()
                .map(|s| s.to_string())
                .unwrap_or_default();
            ctx.artifacts
                .write(&output, &[(file.as_str(), &bytes)])
                .await?;
            success = Success::new(format!(
                "copied {file} ({} bytes) from {input} to {output}",
                bytes.len()
            ))
            .variable("Bytes", bytes.len().to_string());
        }
        Ok(Outcome::Success(success.external_id(ctx.job.id.clone())))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::run(|_| Fixture).await
}

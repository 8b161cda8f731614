//! The revision flow: a CodeDeploy EC2/on-premises revision that runs the pipeline's image,
//! pinned by digest (see [`crate::revision`]).
//!
//! Sequential AWS round trips: (1) the inputs, the workload role assumed beside them when
//! there is one; (2) the image's digest, when given by tag; (3) the output artifact.

mod digest;
pub mod plan;

use crate::artifacts;
use crate::clients::Clients;
use crate::config::Config;
use crate::error::Error;
use crate::revision::RevisionConfig;
use crate::summary;
use crate::verify;
use plan::Plan;
use shared::action::{JobContext, Success};
use shared::aws::Account;
use tracing::info;

/// Writes the job's revision; `home` are the function's clients, `account` where the
/// image's digest is looked up.
pub async fn run(
    home: &Clients,
    ctx: &JobContext<Config, ()>,
    account: &Account,
    rev: &RevisionConfig,
) -> Result<Success, Error> {
    let (cfg, artifacts) = (&ctx.config, &ctx.artifacts);
    cfg.check()?;
    let output = artifacts::output_name(cfg, artifacts)?;

    // Round trip 1: every input artifact, the workload role, `verify`'s trust material.
    let requirements = cfg.requirements();
    let (inputs, clients, gate) = futures::join!(
        artifacts::read_inputs(artifacts),
        home.for_job(account, &ctx.job.id),
        verify::load(requirements.as_ref(), &home.sdk),
    );
    let (inputs, clients, gate) = (inputs?, clients?, gate?);
    let plan = Plan::new(cfg, rev, &inputs)?;

    // Round trip 2: the image's digest, when given by tag.
    let digest = digest::digest(&clients, rev, &plan, ctx.deadline).await?;
    let image = plan::pinned(&plan.chosen.image, &plan.name, &digest);
    let name = plan.chosen.name;
    let (files, kind) = plan::files(plan.make, rev, &name, &image, clients.region.as_deref())?;

    // With `verify`: the image is checked by its digest before anything is written.
    let verified = match &gate {
        Some(gate) => vec![(
            name.clone(),
            verify::one(
                gate,
                &clients,
                &image.uri,
                image.digest.as_deref(),
                digest::login(rev),
            )
            .await?,
        )],
        None => Vec::new(),
    };

    // Round trip 3: the output artifact.
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    artifacts.write(&output, &refs).await?;

    let mut summary = summary::revision_summary(&kind, &name, &image);
    if !verified.is_empty() {
        summary = shared::text::truncate(
            &format!("{summary} {}", verify::summary(&verified)),
            shared::report::MAX_SUMMARY,
        );
    }
    info!(%summary, output = %output, files = files.len(), "revision rendered");
    let mut success = Success::new(summary);
    success.output_variables = summary::revision_variables(&name, &image);
    Ok(success)
}

//! The ECS flow: a task definition rendered from its template and the pipeline's images,
//! checked, optionally registered (idempotently), and written with `imagedefinitions.json`
//! and `appspec.yaml` for the ECS deploy actions.
//!
//! Sequential AWS round trips: (1) the inputs are read while a live template is described
//! (or a service's is looked up), after the workload role is assumed when there is one;
//! (2) digests, the family's latest revision and a service's task definition together;
//! (3) registering, only when something changed; (4) writing the output artifact. Steps
//! with nothing to do are skipped.

mod lookups;
pub mod plan;

use crate::appspec::AppSpec;
use crate::artifacts;
use crate::clients::Clients;
use crate::config::Config;
use crate::error::Error;
use crate::render::{self, Rendered};
use crate::summary::{self, Registration};
use crate::verify;
use plan::Plan;
use shared::action::{JobContext, Success};
use shared::aws::Account;
use tracing::info;

/// Renders the job's task definition; `home` are the function's clients, `account` where
/// the calls about the task definition go.
pub async fn run(
    home: &Clients,
    ctx: &JobContext<Config, ()>,
    account: &Account,
) -> Result<Success, Error> {
    let (cfg, artifacts) = (&ctx.config, &ctx.artifacts);
    cfg.check()?;
    let output = artifacts::output_name(cfg, artifacts)?;
    let source = cfg.template_source();

    // Round trip 1: every input artifact, the live template, and `verify`'s trust material.
    let requirements = cfg.requirements();
    let (inputs, workload, gate) = futures::join!(
        artifacts::read_inputs(artifacts),
        async {
            let clients = home.for_job(account, &ctx.job.id).await?;
            let source = lookups::source(&clients.ecs, &source, cfg.register).await?;
            Ok::<_, Error>((clients, source))
        },
        verify::load(requirements.as_ref(), &home.sdk),
    );
    let (inputs, (clients, source), gate) = (inputs?, workload?, gate?);
    let plan = Plan::new(cfg, &inputs, source)?;

    // Round trip 2: the service's task definition, the family's latest revision, digests.
    let (rendered, latest, digests) = futures::join!(
        lookups::rendered(&clients.ecs, cfg, plan.template, plan.image_file.as_ref()),
        lookups::latest(&clients.ecs, plan.latest),
        clients.digests(&plan.digests),
    );
    let (mut rendered, latest) = (rendered?, latest?);
    render::pin(&mut rendered, &digests?);

    // With `verify`: every image set is checked before anything is rendered or registered.
    let verified = match &gate {
        Some(gate) => verify::check(gate, &clients, &rendered.doc, &rendered.set).await?,
        None => Vec::new(),
    };

    // Everything that can still be refused is checked before registering.
    let appspec = AppSpec::plan(
        &rendered.doc,
        &cfg.appspec,
        &rendered.set,
        plan.appspec_template,
    )?;

    // Round trip 3 (only when something changed): register.
    let registration = lookups::register(&clients.ecs, &rendered.doc, &latest).await?;

    // Round trip 4: the output artifact.
    let appspec = appspec.map(|a| a.text(&cfg.appspec, registration.arn()));
    let taskdef = render::taskdef_json(&rendered.doc);
    let definitions = render::image_definitions(&rendered.doc);
    let mut files: Vec<(&str, &[u8])> = vec![
        ("taskdef.json", &taskdef),
        ("imagedefinitions.json", &definitions),
    ];
    if let Some(text) = &appspec {
        files.push(("appspec.yaml", text.as_bytes()));
    }
    artifacts.write(&output, &files).await?;

    let mut summary = summary::summary(&registration, &rendered.set);
    if !verified.is_empty() {
        summary = shared::text::truncate(
            &format!("{summary} {}", verify::summary(&verified)),
            shared::report::MAX_SUMMARY,
        );
    }
    info!(%summary, output = %output, appspec = appspec.is_some(), "rendered");
    Ok(answer(summary, &registration, &rendered))
}

/// The job's answer: the summary, the output variables, the ARN as the external id.
fn answer(summary: String, registration: &Registration, rendered: &Rendered) -> Success {
    let mut success = Success::new(summary);
    success.output_variables =
        summary::output_variables(registration, &rendered.doc, &rendered.set);
    match registration.arn() {
        Some(arn) => success.external_id(arn),
        None => success,
    }
}

//! The rehearsal: the project's example pipelines (`infra/pipelines/*.yaml`) played end to
//! end on the local AWS with the real function binaries, a good release and a bad one
//! each, and a check that each ends as it should.
//!
//! CodePipeline's side is played here (jobs, artifacts, variables, continuation tokens,
//! run orders; source and build stages), the services' side by the emulator
//! (`tests/local-aws/rehearsal.py`: CodeDeploy, ECS, the load balancer, alarms).
//!
//! Where a Docker engine runs, the EC2 pipeline deploys for real (`engine`): its image
//! is built and pushed to a local registry, and the CodeDeploy agent runs the revision's
//! hooks on local instances that run the containers; elsewhere the emulator plays them,
//! and the record says so.

pub mod accounts;
pub mod alarm;
mod build;
pub mod cosign;
mod deploy;
pub mod engine;
pub mod execution;
mod invoke;
pub mod pipeline;
pub mod releases;
pub mod report;
pub mod resources;
mod source;
pub mod stack;
pub mod template;
pub mod variables;
pub mod world;

use crate::local_aws::LocalAws;
use execution::{Execution, Facts, Location};
use releases::Release;
use report::{PipelineRecord, Printer, Record, ReleaseRecord, Step, seconds};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use template::Template;
use world::{CODEDEPLOY_API, ECS_API, Kind, World, short_arn};

/// The example pipelines: `infra/pipelines/*.yaml` (and `.yml`, `.json`), sorted.
pub fn default_templates(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("infra/pipelines"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    found.sort();
    found
}

/// Plays every template's pipeline on `aws` (reset between pipelines).
pub async fn rehearse(aws: &LocalAws, templates: &[PathBuf], printer: Printer) -> Record {
    let started = Instant::now();
    let engine = engine::Engine::start(aws).await;
    let note = match &engine {
        Ok(e) => format!(
            "Docker engine {} with a local registry at {}: the EC2 pipeline's releases run for real (image built from busybox and pushed, revision deployed by the CodeDeploy agent on local instances, containers checked by the load balancer)",
            e.version, e.real.host
        ),
        Err(why) => format!(
            "NO DOCKER ENGINE ({why}): the EC2 pipeline's image build, CodeDeploy deployment, instances and load balancer are played by the local AWS's emulator instead; no image is built and no container runs"
        ),
    };
    printer.line(&note);
    let on_engine = engine.is_ok();
    let real = engine.as_ref().ok().map(|e| &e.real);
    let mut pipelines = Vec::new();
    for path in templates {
        let _ = reset(aws).await;
        pipelines.push(rehearse_pipeline(aws, path, real, printer).await);
    }
    drop(engine);
    let ok = !pipelines.is_empty()
        && pipelines
            .iter()
            .all(|p| p.problems.is_empty() && p.releases.iter().all(|r| r.ok));
    Record {
        pipelines,
        engine: note,
        on_engine,
        ok,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

async fn reset(aws: &LocalAws) -> Result<(), String> {
    raw_control(aws, "POST", "/_local/reset", json!({"moto": true})).await?;
    control(aws, "POST", "reset", json!({})).await.map(|_| ())
}

/// The EC2 pipeline's parameters on the engine: the local registry with its login (the
/// password in a local Secrets Manager secret), the application's port, its health page.
async fn engine_parameters(
    aws: &LocalAws,
    real: &engine::Real,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let secrets = aws_sdk_secretsmanager::Client::new(&aws.sdk_config().await);
    let name = format!("{}-registry", real.prefix);
    let arn = match secrets
        .create_secret()
        .name(&name)
        .secret_string(crate::registry::PASSWORD)
        .send()
        .await
    {
        Ok(out) => out.arn().unwrap_or_default().to_owned(),
        Err(_) => secrets
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .map_err(|e| format!("the registry's secret {name}: {e:?}"))?
            .arn()
            .unwrap_or_default()
            .to_owned(),
    };
    let port = real.port.to_string();
    Ok([
        ("RegistryHost", real.host.as_str()),
        ("RegistryUsername", crate::registry::USER),
        ("RegistryPasswordSecretArn", arn.as_str()),
        ("HostPort", port.as_str()),
        ("ContainerPort", port.as_str()),
        ("HealthPath", engine::HEALTH_PATH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect())
}

/// Plays one template's pipeline: its world set up, then each release. `real`: the
/// engine, for an EC2 pipeline.
pub async fn rehearse_pipeline(
    aws: &LocalAws,
    path: &Path,
    real: Option<&engine::Real>,
    printer: Printer,
) -> PipelineRecord {
    let mut record = PipelineRecord {
        template: path.display().to_string(),
        pipeline: String::new(),
        releases: Vec::new(),
        problems: Vec::new(),
    };
    let stack = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let functions = match stack::FunctionsStack::read(
        &crate::local_aws::workspace_root().join("infra/template.yaml"),
        stack::DEFAULT_STACK,
    ) {
        Ok(s) => s,
        Err(e) => {
            record.problems.push(format!("the functions stack: {e}"));
            return record;
        }
    };
    let read_with = |overrides: &std::collections::BTreeMap<String, String>| {
        Template::read(
            path,
            &world::pseudo(&stack),
            |name, decl| {
                overrides
                    .get(name)
                    .cloned()
                    .or_else(|| world::parameter_value(name, decl))
            },
            |export| functions.import(export),
        )
        .and_then(|(t, _)| {
            let p = pipeline::read(&t)?;
            Ok((t, p))
        })
    };
    let mut read = read_with(&Default::default());
    let mut real = real;
    if let (Ok((_, p)), Some(r)) = (&read, real)
        && Kind::of(p) == Some(Kind::Ec2CodeDeploy)
    {
        match engine_parameters(aws, r).await {
            Ok(overrides) => {
                printer.line(&format!(
                    "\n{}: on the Docker engine with {}",
                    path.display(),
                    overrides
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                read = read_with(&overrides);
            }
            Err(e) => {
                printer.line(&format!(
                    "{}: not on the Docker engine ({e}); the emulator plays its deployments",
                    path.display()
                ));
                real = None;
            }
        }
    } else {
        real = None;
    }
    let (mut template, _) = match read {
        Ok(x) => x,
        Err(e) => {
            printer.line(&format!("\n{}: {e}", path.display()));
            record.problems.push(e.to_string());
            return record;
        }
    };
    // The resources created for real (KMS keys), then the pipeline read with their values.
    let created = match resources::create(aws, &mut template).await {
        Ok(lines) => lines,
        Err(e) => {
            let problem = format!("{}: creating the stack's resources: {e}", path.display());
            printer.line(&problem);
            record.problems.push(problem);
            return record;
        }
    };
    let pipeline = match pipeline::read(&template) {
        Ok(p) => p,
        Err(e) => {
            printer.line(&format!("\n{}: {e}", path.display()));
            record.problems.push(e.to_string());
            return record;
        }
    };
    record.pipeline = pipeline.name.clone();
    let Some(kind) = Kind::of(&pipeline) else {
        let problem = format!(
            "{}: pipeline {} has no CodeDeployToECS, ECS or CodeDeploy action to rehearse",
            path.display(),
            pipeline.name
        );
        printer.line(&problem);
        record.problems.push(problem);
        return record;
    };
    let mut world = match World::of(&template, &pipeline, kind, &functions) {
        Ok(w) => World {
            real: real.cloned(),
            ..w
        },
        Err(e) => {
            record.problems.push(e.to_string());
            return record;
        }
    };
    if !world.workloads.is_empty() {
        // The functions stack as deployed for these workload accounts.
        match stack::FunctionsStack::read_with(
            &crate::local_aws::workspace_root().join("infra/template.yaml"),
            stack::DEFAULT_STACK,
            &world.workloads.stack_parameters,
        ) {
            Ok(s) => world.stack = s,
            Err(e) => {
                record.problems.push(format!("the functions stack: {e}"));
                return record;
            }
        }
    }
    printer.line(&format!(
        "\n== Pipeline {} ({}): {}",
        pipeline.name,
        path.strip_prefix(crate::workspace_root())
            .unwrap_or(path)
            .display(),
        pipeline
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    ));
    match world.prepare(aws).await {
        Ok(lines) => printer.line(&format!(
            "   before the first release: {}",
            created
                .iter()
                .chain(&lines)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Err(e) => {
            let problem = format!("setting up the local AWS for {}: {e}", pipeline.name);
            printer.line(&problem);
            record.problems.push(problem);
            return record;
        }
    }
    for release in releases::of(&world) {
        record
            .releases
            .push(rehearse_release(aws, &world, &pipeline, &release, printer).await);
    }
    let _ = control(aws, "POST", "script", json!({})).await;
    record
}

async fn rehearse_release(
    aws: &LocalAws,
    world: &World,
    pipeline: &pipeline::Pipeline,
    release: &Release,
    printer: Printer,
) -> ReleaseRecord {
    let started = Instant::now();
    printer.line(&format!(
        "\n-- Release {} ({}): expected: {}",
        release.version, release.name, release.expected
    ));
    let mut problems = Vec::new();
    if let Err(e) = control(aws, "POST", "script", release.script.clone()).await {
        problems.push(format!("the local AWS refused the release's script: {e}"));
    }
    let before = snapshot(aws, world).await;
    let calls_before = aws.calls().await.len();
    let ex = Execution {
        aws,
        world,
        pipeline,
        release,
        id: crate::job::job_id(),
        printer,
        facts: Mutex::new(Facts::default()),
    };
    let stop = AtomicBool::new(false);
    let played = async {
        let steps = ex.run().await;
        settle(aws, world).await;
        stop.store(true, Ordering::SeqCst);
        steps
    };
    // The CodeDeploy agent on the instances, while the release goes on.
    let agent = match &world.real {
        Some(real) => match engine::Agent::new(aws, world, real, printer) {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(format!("the local instances: {e}"));
                None
            }
        },
        None => None,
    };
    let mut steps = match &agent {
        Some(a) => tokio::join!(played, a.serve(&stop)).0,
        None => played.await,
    };
    steps.extend(alarm::deliver_pending(&ex).await);
    let after = snapshot(aws, world).await;
    let facts = ex.facts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let (mut outcome, mut found) = judge(world, release, &steps, &facts, &before, &after);
    let calls = aws.calls().await;
    let release_calls = calls.get(calls_before..).unwrap_or_default();
    let (mut verified, mut unverified) = cosign::judge(
        aws,
        &world.verified_promotions,
        &steps,
        facts.signature.as_ref(),
        release_calls,
    )
    .await;
    outcome.append(&mut verified);
    found.append(&mut unverified);
    let disabled = execution::disabled_transitions(aws, &pipeline.name).await;
    for (stage, reason) in &disabled {
        outcome.push(format!(
            "the transition into stage {stage} is disabled: {reason}"
        ));
    }
    if let Some(stage) = &release.freezes
        && !disabled.iter().any(|(s, _)| s == stage)
    {
        found.push(format!(
            "the transition into stage {stage} was not disabled"
        ));
    }
    if !world.workloads.is_empty() {
        let shown = accounts::calls_by_account(release_calls);
        outcome.push(format!("calls by account: {}", shown.join("; ")));
    }
    problems.append(&mut found);
    let (ran, running) = match (&agent, &world.real) {
        (Some(a), Some(real)) => {
            let ran = a.ran.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let running = engine::containers(real).await;
            let (mut shown, mut found) = judge_containers(release, &facts, &ran, &running);
            outcome.append(&mut shown);
            problems.append(&mut found);
            (ran, running)
        }
        _ => {
            if world.kind == Kind::Ec2CodeDeploy {
                outcome.push(
                    "played by the emulator, not run: no container ran (no Docker engine)".into(),
                );
            }
            (Vec::new(), Vec::new())
        }
    };
    for line in &outcome {
        printer.line(&format!("   => {line}"));
    }
    let ok = problems.is_empty();
    printer.line(&format!(
        "   {} release {} {} in {}",
        if ok { "OK  " } else { "FAIL" },
        release.version,
        if ok {
            "ended as expected"
        } else {
            "did not end as expected"
        },
        seconds(started.elapsed())
    ));
    for p in &problems {
        printer.line(&format!("     - {p}"));
    }
    ReleaseRecord {
        release: release.name.to_owned(),
        version: release.version.clone(),
        expected: release.expected.clone(),
        pipeline_execution_id: ex.id.clone(),
        steps,
        outcome,
        problems,
        ok,
        containers: ran,
        running,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// The containers of an EC2 release on the engine: which ran (with their digests) and
/// what runs at the end: a good release's image on every instance; a bad release's
/// image started and then replaced by the previous one everywhere.
fn judge_containers(
    release: &Release,
    facts: &Facts,
    ran: &[engine::Container],
    running: &[engine::Container],
) -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::new();
    let mut problems = Vec::new();
    let digest = facts.digest.as_deref().unwrap_or_default();
    for c in ran {
        shown.push(format!("ran {}", c.line()));
    }
    for c in running {
        shown.push(format!("now {}", c.line()));
    }
    if ran.is_empty() {
        problems.push("no container ran on the instances".into());
    }
    if running.is_empty() {
        problems.push("no container runs on the instances".into());
    }
    for c in running {
        if c.status != "running" {
            problems.push(format!(
                "{}: container {} is {}",
                c.instance, c.name, c.status
            ));
        }
        if release.good && c.digest != digest {
            problems.push(format!(
                "{}: container {} runs {}, not the release's image {digest}",
                c.instance, c.name, c.digest
            ));
        }
        if !release.good && c.digest == digest {
            problems.push(format!(
                "{}: container {} still runs the bad release's image {digest}",
                c.instance, c.name
            ));
        }
    }
    if !release.good {
        if !ran.iter().any(|c| c.digest == digest) {
            problems.push(format!("the bad release's image {digest} never ran"));
        }
        if !ran.iter().any(|c| c.digest != digest) {
            problems.push("the previous release's container was not started again".into());
        }
    }
    (shown, problems)
}

/// What runs: the service's task definition and image, or the group's revision.
#[derive(Debug, Clone, PartialEq, Default)]
struct Snapshot {
    what: String,
    image: String,
}

/// What runs at each deploy target (one for an EC2 deployment group).
async fn snapshot(aws: &LocalAws, world: &World) -> Vec<Snapshot> {
    if world.kind == Kind::Ec2CodeDeploy {
        let group = aws
            .json_call(
                &format!("{CODEDEPLOY_API}.GetDeploymentGroup"),
                &json!({"applicationName": world.application, "deploymentGroupName": world.group}),
            )
            .await
            .unwrap_or_default();
        let id = group["deploymentGroupInfo"]["lastSuccessfulDeployment"]["deploymentId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let d = aws
            .json_call(
                &format!("{CODEDEPLOY_API}.GetDeployment"),
                &json!({"deploymentId": id}),
            )
            .await
            .unwrap_or_default();
        return vec![Snapshot {
            what: d["deploymentInfo"]["revision"]["s3Location"]["key"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            image: String::new(),
        }];
    }
    let mut out = Vec::new();
    for t in &world.targets {
        let call = |operation: &str, body: Value| {
            let name = format!("{ECS_API}.{operation}");
            async move {
                aws.json_call_at(&t.account, &t.region, &name, &body)
                    .await
                    .unwrap_or_default()
            }
        };
        let described = call(
            "DescribeServices",
            json!({"cluster": t.cluster, "services": [t.service]}),
        )
        .await;
        let arn = described["services"][0]["taskDefinition"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let td = call("DescribeTaskDefinition", json!({"taskDefinition": arn})).await;
        out.push(Snapshot {
            what: arn,
            image: td["taskDefinition"]["containerDefinitions"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    out
}

/// Waits until no CodeDeploy deployment of the group is active (a rollback started by
/// an alarm plays out), at most a few seconds.
async fn settle(aws: &LocalAws, world: &World) {
    if world.kind == Kind::EcsNative {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let listed = aws
            .json_call(
                &format!("{CODEDEPLOY_API}.ListDeployments"),
                &json!({"applicationName": world.application, "deploymentGroupName": world.group}),
            )
            .await
            .unwrap_or_default();
        let mut active = false;
        for id in listed["deployments"].as_array().into_iter().flatten() {
            let id = id.as_str().unwrap_or_default();
            let view = control(aws, "GET", &format!("codedeploy/{id}"), json!({}))
                .await
                .unwrap_or_default();
            active |= matches!(
                view["status"].as_str(),
                Some("Created" | "Queued" | "InProgress" | "Baking" | "Ready")
            );
        }
        if !active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Whether the release ended as it should: the lines shown and the problems found.
fn judge(
    world: &World,
    release: &Release,
    steps: &[Step],
    facts: &Facts,
    before: &[Snapshot],
    after: &[Snapshot],
) -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::new();
    let mut problems = Vec::new();
    let failed: Vec<&Step> = steps.iter().filter(|s| s.failed()).collect();
    let runs = |s: &Snapshot| {
        if world.kind == Kind::Ec2CodeDeploy {
            format!("revision {}", s.what)
        } else {
            format!(
                "{} ({})",
                short_arn(&s.what),
                s.image.rsplit('/').next().unwrap_or_default()
            )
        }
    };
    let built = facts.image.as_deref().unwrap_or_default();
    let tag = built.rsplit(':').next().unwrap_or_default();
    let digest = facts.digest.as_deref().unwrap_or_default();
    let runs_new = |s: &Snapshot| match world.kind {
        Kind::Ec2CodeDeploy => facts.bundle_key.as_deref() == Some(s.what.as_str()),
        _ => {
            !s.image.is_empty()
                && ((!digest.is_empty() && s.image.contains(digest))
                    || (!tag.is_empty() && s.image.ends_with(&format!(":{tag}"))))
        }
    };
    let stage_index = |stage: &str| world.stages.iter().position(|s| s == stage);
    let broken_stage = world
        .targets
        .get(release.breaks)
        .and_then(|t| stage_index(&t.stage))
        .unwrap_or(0);
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        let target = if world.kind == Kind::Ec2CodeDeploy {
            format!("deployment group {}/{}", world.application, world.group)
        } else {
            world.targets.get(i).map(|t| t.label()).unwrap_or_default()
        };
        shown.push(format!(
            "{target} runs {} (before the release: {})",
            runs(a),
            runs(b)
        ));
        // A bad release goes through the targets before the one it breaks.
        let should_run_new = release.good || i < release.breaks;
        if should_run_new && !runs_new(a) {
            problems.push(format!(
                "{target} does not run the release's build ({built})"
            ));
        }
        if !should_run_new {
            if a != b {
                problems.push(format!(
                    "{target} did not return to the previous revision: it runs {}, it ran {}",
                    runs(a),
                    runs(b)
                ));
            } else if i == release.breaks {
                shown.push(format!("{target} is back on the previous revision"));
            }
        }
    }
    if release.good {
        for s in &failed {
            problems.push(format!("{} {} failed: {}", s.stage, s.action, s.summary));
        }
        if facts.promoted == 0 {
            problems.push("the image was not promoted".into());
        } else {
            shown.push(format!(
                "image {} promoted",
                built.rsplit('/').next().unwrap_or_default()
            ));
        }
    } else {
        match failed.first() {
            None => problems.push("every action succeeded: the bad release went through".into()),
            Some(s) => {
                shown.push(format!(
                    "stopped at {} {}: {}",
                    s.stage,
                    s.action,
                    report::one_line(&s.summary, 200)
                ));
                if !release.fails_in.iter().any(|p| s.provider.contains(p)) {
                    problems.push(format!(
                        "the first failure was {} {} ({}), expected one in {}",
                        s.stage,
                        s.action,
                        s.provider,
                        release.fails_in.join(" or ")
                    ));
                }
            }
        }
        let rolled_back = steps
            .iter()
            .any(|s| s.provider.contains("rollback-trigger") && !s.failed());
        if release.alarm_rollback && !rolled_back {
            problems.push("rollback-trigger did not act on the alarm".into());
        }
        // No promotion from the broken stage on.
        let late = facts
            .promoted_in
            .iter()
            .filter(|s| stage_index(s).is_none_or(|i| i >= broken_stage))
            .count();
        if late > 0 || (facts.promoted as usize) > facts.promoted_in.len() {
            problems.push("the bad release's image was promoted".into());
        }
    }
    (shown, problems)
}

/// A call to the rehearsal's control API (`/_local/rehearsal/<path>`).
pub async fn control(
    aws: &LocalAws,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    raw_control(aws, method, &format!("/_local/rehearsal/{path}"), body).await
}

async fn raw_control(
    aws: &LocalAws,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], aws.port()));
    let (status, bytes) = crate::http::send(
        addr,
        method,
        path,
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await
    .map_err(|e| format!("local AWS {method} {path}: {e}"))?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status >= 300 {
        return Err(format!(
            "local AWS {method} {path}: HTTP {status}: {}",
            value["error"].as_str().unwrap_or_default()
        ));
    }
    Ok(value)
}

/// Writes `files` as a zip at `location`.
pub async fn put_zip(
    aws: &LocalAws,
    location: &Location,
    files: &[(String, Vec<u8>)],
) -> Result<(), String> {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let zip = shared::artifacts::build_zip(&refs).map_err(|e| e.to_string())?;
    aws.s3()
        .await
        .put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .body(zip.into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("s3://{}/{}: {e:?}", location.bucket, location.key))
}

/// The files of the zip at `location`.
pub async fn get_zip(
    aws: &LocalAws,
    location: &Location,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let object = aws
        .s3()
        .await
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map_err(|e| format!("s3://{}/{}: {e:?}", location.bucket, location.key))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .into_bytes();
    Ok(crate::job::unzip(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(kind: Kind) -> World {
        World {
            kind,
            repository: "web".into(),
            cluster: "prod".into(),
            service: "web".into(),
            application: "web".into(),
            group: "web-prod".into(),
            target_groups: Vec::new(),
            alarm: "deploy-web-5xx".into(),
            alarm_tags: Default::default(),
            instances: vec!["i-1".into(), "i-2".into()],
            artifact_bucket: "artifacts".into(),
            family: "web".into(),
            container: "app".into(),
            stack: Default::default(),
            buildspecs: Default::default(),
            build_environments: Default::default(),
            verified_promotions: Vec::new(),
            pipeline: "web".into(),
            stages: Vec::new(),
            service_hooks: Vec::new(),
            targets: vec![accounts::Target {
                stage: "Deploy".into(),
                account: crate::local_aws::ACCOUNT.into(),
                region: crate::local_aws::REGION.into(),
                cluster: "prod".into(),
                service: "web".into(),
                alarm: "deploy-web-5xx".into(),
                alarm_tags: Default::default(),
                role: None,
            }],
            workloads: Default::default(),
            identities: Default::default(),
            real: None,
            workload_repository: "web".into(),
        }
    }

    fn step(action: &str, provider: &str, result: &str) -> Step {
        let mut s = Step::new("Deploy", action, provider);
        s.result = result.into();
        s
    }

    fn runs(task: &str, image: &str) -> Snapshot {
        Snapshot {
            what: format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{task}"),
            image: image.into(),
        }
    }

    /// A release, the steps it took, what was built, what runs after, and the problem
    /// the judge must find (`None`: it ended as expected).
    type Case<'a> = (
        &'a Release,
        &'a [Step],
        &'a Facts,
        &'a Snapshot,
        Option<&'a str>,
    );

    #[test]
    fn a_release_ends_as_expected_or_says_why_not() {
        let w = world(Kind::EcsCodeDeploy);
        let releases = releases::of(&w);
        let (good, bad) = (&releases[0], &releases[1]);
        let built = Facts {
            image: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:sha-1".into()),
            digest: Some("sha256:aa".into()),
            promoted: 1,
            ..Facts::default()
        };
        let old = runs("web:1", "web:v1");
        let new = runs(
            "web:2",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:aa",
        );
        let all_ok = [step("Bake", "Lambda health-gate", "Succeeded")];
        let bake_failed = [
            step(
                "deploy-web-5xx",
                "EventBridge -> Lambda rollback-trigger",
                "Succeeded",
            ),
            step("Bake", "Lambda health-gate", "Failed"),
        ];
        let no_alarm = [step("Bake", "Lambda health-gate", "Failed")];
        let render_failed = [step("Render", "Lambda render-taskdef", "Failed")];
        let not_promoted = Facts {
            promoted: 0,
            ..built.clone()
        };
        let cases: [Case; 7] = [
            (good, &all_ok, &built, &new, None),
            (
                good,
                &all_ok,
                &built,
                &old,
                Some("does not run the release's build"),
            ),
            (good, &all_ok, &not_promoted, &new, Some("not promoted")),
            (bad, &bake_failed, &not_promoted, &old, None),
            (
                bad,
                &bake_failed,
                &not_promoted,
                &new,
                Some("did not return"),
            ),
            (
                bad,
                &no_alarm,
                &not_promoted,
                &old,
                Some("rollback-trigger did not act"),
            ),
            (
                bad,
                &render_failed,
                &not_promoted,
                &old,
                Some("expected one in health-gate"),
            ),
        ];
        for (i, (release, steps, facts, after, want)) in cases.into_iter().enumerate() {
            let (_, problems) = judge(
                &w,
                release,
                steps,
                facts,
                std::slice::from_ref(&old),
                std::slice::from_ref(after),
            );
            match want {
                None => assert!(problems.is_empty(), "case {i}: {problems:?}"),
                Some(text) => assert!(
                    problems.iter().any(|p| p.contains(text)),
                    "case {i}: {problems:?} should say {text:?}"
                ),
            }
        }
        let old = [old];
        let (_, problems) = judge(&w, bad, &all_ok, &not_promoted, &old, &old);
        assert!(
            problems.iter().any(|p| p.contains("went through")),
            "{problems:?}"
        );
    }
}

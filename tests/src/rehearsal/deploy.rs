//! The deploy actions, played through the local AWS as the real actions drive the
//! services: `CodeDeployToECS` (register the task definition, create the deployment with
//! the AppSpec, CodeDeploy invokes the hooks), `ECS` (register, update the service, ECS
//! invokes the lifecycle hooks and rolls back on a failed one) and `CodeDeploy` (an
//! in-place deployment of the revision bundle to the group's instances).

use super::accounts::assume;
use super::execution::{Execution, Outcome, Running};
use super::invoke::{codedeploy_hook, ecs_hook, start};
use super::report::Step;
use super::template::to_json;
use super::world::{ECS_API, bundle_revision, function_binary, short_arn};
use super::{control, get_zip};
use crate::local_aws::{ACCOUNT, REGION};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long a deploy action waits for its deployment (shortened).
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(150);

fn file<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> Option<&'a [u8]> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, b)| b.as_slice())
}

async fn artifact_files(
    ex: &Execution<'_>,
    run: &Running<'_>,
    name: Option<&str>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let (name, location) = match name {
        Some(n) => (n.to_owned(), run.input(n).cloned()),
        None => run
            .inputs
            .first()
            .map(|(n, l)| (n.clone(), Some(l.clone())))
            .unwrap_or_default(),
    };
    let location = location.ok_or_else(|| format!("no input artifact {name}"))?;
    get_zip(ex.aws, &location)
        .await
        .map_err(|e| format!("input artifact {name}: {e}"))
}

fn hook_step(mut step: Step, stage: &str) -> Step {
    step.stage = stage.to_owned();
    step.action = format!("  {}", step.action);
    step
}

/// `CodeDeployToECS`.
pub async fn codedeploy_ecs(ex: &Execution<'_>, run: &Running<'_>) -> Outcome {
    let step = run.step();
    Outcome::settle(step.clone(), codedeploy_ecs_inner(ex, run, step).await)
}

async fn codedeploy_ecs_inner(
    ex: &Execution<'_>,
    run: &Running<'_>,
    mut step: Step,
) -> Result<Outcome, String> {
    let taskdef_files =
        artifact_files(ex, run, run.config("TaskDefinitionTemplateArtifact")).await?;
    let appspec_files = artifact_files(ex, run, run.config("AppSpecTemplateArtifact")).await?;
    let taskdef_path = run
        .config("TaskDefinitionTemplatePath")
        .unwrap_or("taskdef.json");
    let appspec_path = run.config("AppSpecTemplatePath").unwrap_or("appspec.yaml");
    let taskdef = file(&taskdef_files, taskdef_path)
        .ok_or_else(|| format!("no {taskdef_path} in the task definition artifact"))?;
    let appspec = file(&appspec_files, appspec_path)
        .ok_or_else(|| format!("no {appspec_path} in the AppSpec artifact"))?;
    let mut taskdef = String::from_utf8_lossy(taskdef).into_owned();
    // Image1..4: `<IMAGEn_NAME>` placeholders from the image artifacts' imageDetail.json.
    for n in 1..=4 {
        let Some(artifact) = run.config(&format!("Image{n}ArtifactName")) else {
            continue;
        };
        let placeholder = run
            .config(&format!("Image{n}ContainerName"))
            .unwrap_or("IMAGE1_NAME")
            .to_owned();
        let files = artifact_files(ex, run, Some(artifact)).await?;
        let detail: Value = file(&files, "imageDetail.json")
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| format!("input artifact {artifact}: no imageDetail.json"))?;
        let uri = detail["ImageURI"].as_str().unwrap_or_default();
        taskdef = taskdef.replace(&format!("<{placeholder}>"), uri);
    }
    let mut body: Value =
        serde_json::from_str(&taskdef).map_err(|e| format!("{taskdef_path}: {e}"))?;
    // As the ECS deploy action does: what DescribeTaskDefinition adds, RegisterTaskDefinition refuses.
    for field in shared::ecs::DESCRIBE_ONLY {
        if let Some(m) = body.as_object_mut() {
            m.remove(field);
        }
    }
    let registered = ex
        .aws
        .json_call(&format!("{ECS_API}.RegisterTaskDefinition"), &body)
        .await?;
    let arn = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let appspec_text = String::from_utf8_lossy(appspec).replace("<TASK_DEFINITION>", &arn);
    let parsed: Value = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&appspec_text)
        .map(to_json)
        .map_err(|e| format!("{appspec_path}: not YAML: {e}"))?;
    let hooks: Vec<Value> = parsed["Hooks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_object())
        .flat_map(|h| h.iter().map(|(e, f)| json!({"event": e, "function": f})))
        .collect();
    let application = run.config("ApplicationName").unwrap_or_default();
    let group = run.config("DeploymentGroupName").unwrap_or_default();
    let started = control(ex.aws, "POST", "codedeploy", json!({
        "application": application, "group": group, "hooks": hooks,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec_text}},
        "description": format!("CodePipeline {} {}", ex.pipeline.name, ex.id),
    }))
    .await?;
    let id = started["deploymentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ex.facts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .deployments
        .push(id.clone());
    step.details.push(format!(
        "registered {}; deployment {id} in {application}/{group}",
        short_arn(&arn)
    ));
    let view = follow_codedeploy(ex, &run.stage.name, &id, &mut step).await?;
    finish_codedeploy(step, &id, &view, &format!("traffic on {}", short_arn(&arn)))
}

/// Follows a CodeDeploy deployment to its end, invoking its hooks as CodeDeploy does.
async fn follow_codedeploy(
    ex: &Execution<'_>,
    stage: &str,
    id: &str,
    step: &mut Step,
) -> Result<Value, String> {
    let deadline = Instant::now() + DEPLOY_TIMEOUT;
    let mut last_failed = 0;
    loop {
        let view = control(ex.aws, "GET", &format!("codedeploy/{id}"), json!({})).await?;
        if let Some(hook) = view.get("hook") {
            let hook_run = codedeploy_hook(
                ex,
                hook["function"].as_str().unwrap_or_default(),
                hook["event"].as_str().unwrap_or_default(),
                id,
                hook["executionId"].as_str().unwrap_or_default(),
            )
            .await;
            step.invocations += hook_run.invocations;
            ex.printer.step(&hook_step(hook_run.clone(), stage));
            step.details
                .push(format!("{}: {}", hook_run.action, hook_run.summary));
            control(
                ex.aws,
                "POST",
                &format!("codedeploy/{id}/hook-done"),
                json!({}),
            )
            .await?;
            continue;
        }
        let status = view["status"].as_str().unwrap_or_default();
        if !matches!(
            status,
            "Created" | "Queued" | "InProgress" | "Baking" | "Ready"
        ) {
            return Ok(view);
        }
        let failed = view["instances"].as_object().map_or(0, |m| {
            m.values().filter(|i| i["status"] == "Failed").count()
        });
        if failed > last_failed {
            last_failed = failed;
            ex.printer.progress(&format!(
                "deployment {id}: {failed} instance(s) failed, still {status}"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "deployment {id} still {status} after {}s",
                DEPLOY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn finish_codedeploy(
    mut step: Step,
    id: &str,
    view: &Value,
    success: &str,
) -> Result<Outcome, String> {
    let status = view["status"].as_str().unwrap_or_default();
    if let Some(r) = view["rollbackInfo"]["rollbackDeploymentId"].as_str() {
        step.details.push(format!("rolled back by deployment {r}"));
    }
    if status == "Succeeded" {
        step.summary = format!("deployment {id} Succeeded; {success}");
        return Ok(Outcome::new(step));
    }
    let error = &view["errorInformation"];
    Ok(Outcome::fail(
        step,
        format!(
            "deployment {id} {status}{}",
            error["code"]
                .as_str()
                .map(|c| format!(": {c}: {}", error["message"].as_str().unwrap_or_default()))
                .unwrap_or_default()
        ),
    ))
}

/// `CodeDeploy` to an EC2/on-premises deployment group: the input artifact is the
/// revision bundle.
pub async fn codedeploy_ec2(ex: &Execution<'_>, run: &Running<'_>) -> Outcome {
    let mut step = run.step();
    let Some((name, location)) = run.inputs.first() else {
        return Outcome::fail(
            step,
            "a CodeDeploy action needs the revision bundle as its input artifact",
        );
    };
    // CodeDeploy refuses a bundle without an AppSpec file at its root.
    match super::get_zip(ex.aws, location).await {
        Ok(files)
            if files
                .iter()
                .any(|(p, _)| p == "appspec.yml" || p == "appspec.yaml") => {}
        Ok(files) => {
            let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).take(10).collect();
            return Outcome::fail(
                step,
                format!(
                    "the revision {name} has no appspec.yml at its root (CodeDeploy: The AppSpec file cannot be found); it holds {}",
                    names.join(", ")
                ),
            );
        }
        Err(e) => return Outcome::fail(step, e),
    }
    let application = run.config("ApplicationName").unwrap_or_default();
    let group = run.config("DeploymentGroupName").unwrap_or_default();
    let started = control(
        ex.aws,
        "POST",
        "codedeploy",
        json!({
            "application": application, "group": group,
            "revision": bundle_revision(&location.bucket, &location.key),
            "description": format!("CodePipeline {} {}", ex.pipeline.name, ex.id),
        }),
    )
    .await;
    let id = match started {
        Ok(v) => v["deploymentId"].as_str().unwrap_or_default().to_owned(),
        Err(e) => return Outcome::fail(step, e),
    };
    {
        let mut facts = ex.facts.lock().unwrap_or_else(|e| e.into_inner());
        facts.deployments.push(id.clone());
        facts.bundle_key = Some(location.key.clone());
    }
    step.details
        .push(format!("deployment {id}: {name} to {application}/{group}"));
    let view = match follow_codedeploy(ex, &run.stage.name, &id, &mut step).await {
        Ok(v) => v,
        Err(e) => return Outcome::fail(step, e),
    };
    let count = view["instances"].as_object().map_or(0, |m| m.len());
    let done = finish_codedeploy(
        step.clone(),
        &id,
        &view,
        &format!("{count} instances on the new revision"),
    );
    Outcome::settle(step, done)
}

/// `ECS` (the standard ECS deploy action) on a service with native blue/green: the
/// service's lifecycle hooks run on the real health gate.
pub async fn ecs(ex: &Execution<'_>, run: &Running<'_>) -> Outcome {
    let step = run.step();
    Outcome::settle(step.clone(), ecs_inner(ex, run, step).await)
}

async fn ecs_inner(
    ex: &Execution<'_>,
    run: &Running<'_>,
    mut step: Step,
) -> Result<Outcome, String> {
    let cluster = run.config("ClusterName").unwrap_or("default").to_owned();
    let service = run.config("ServiceName").unwrap_or_default().to_owned();
    let file_name = run.config("FileName").unwrap_or("imagedefinitions.json");
    let target = ex.world.targets.iter().find(|t| t.stage == run.stage.name);
    let (account, region) = target.map_or((ACCOUNT, REGION), |t| (&t.account, &t.region));
    if let Some(role) = &run.action.role_arn {
        // CodePipeline assumes the action's role with the pipeline's role.
        let pipeline_role = ex
            .world
            .workloads
            .pipeline_role
            .as_deref()
            .unwrap_or_default();
        let pipeline = assume(ex.aws, None, pipeline_role, None, "codepipeline").await;
        let assumed = match pipeline {
            Ok(p) => assume(ex.aws, Some(&p), role, None, "codepipeline-ecs-deploy").await,
            Err(e) => Err(e),
        };
        match assumed {
            Ok(_) => step.details.push(format!("as {role} ({region})")),
            Err(e) => {
                return Ok(Outcome::fail(
                    step,
                    format!("CodePipeline cannot assume the action's RoleArn: {e}"),
                ));
            }
        }
    }
    let call = |operation: &str, body: Value| {
        let name = format!("{ECS_API}.{operation}");
        async move { ex.aws.json_call_at(account, region, &name, &body).await }
    };
    let files = artifact_files(ex, run, None).await?;
    let images: Value = file(&files, file_name)
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or_else(|| format!("no {file_name} in the input artifact"))?;
    let described = call(
        "DescribeServices",
        json!({"cluster": cluster, "services": [service]}),
    )
    .await?;
    let current = described["services"][0]["taskDefinition"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let td = call("DescribeTaskDefinition", json!({"taskDefinition": current})).await?;
    let mut body = td["taskDefinition"].clone();
    for field in shared::ecs::DESCRIBE_ONLY {
        if let Some(m) = body.as_object_mut() {
            m.remove(field);
        }
    }
    for c in body["containerDefinitions"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if let Some(image) = images
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["name"] == c["name"])
        {
            c["image"] = image["imageUri"].clone();
        }
    }
    let registered = call("RegisterTaskDefinition", body).await?;
    let arn = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    call(
        "UpdateService",
        json!({"cluster": cluster, "service": service, "taskDefinition": arn}),
    )
    .await?;
    // The project's hooks are the tools account's: a workload service has none here.
    let home = target.is_none_or(|t| t.is_home());
    let (mut hooks, target_groups) = if home {
        (ecs_hooks(ex), ex.world.target_groups.clone())
    } else {
        (Vec::new(), Vec::new())
    };
    let mut request = json!({"cluster": cluster, "service": service, "targetGroups": target_groups,
                             "account": account, "region": region, "alarm": target.map(|t| t.alarm.clone())});
    if !ex.release.steps.is_empty() {
        // The service deploys as a canary: the gate judges every production traffic step.
        if !hooks
            .iter()
            .any(|h| h["stage"] == "PRODUCTION_TRAFFIC_SHIFT")
        {
            let mut gate = hooks
                .first()
                .cloned()
                .unwrap_or_else(|| json!({"function": "health-gate"}));
            gate["stage"] = json!("PRODUCTION_TRAFFIC_SHIFT");
            hooks.push(gate);
        }
        request["steps"] = json!(ex.release.steps);
        let shown: Vec<String> = ex.release.steps.iter().map(|w| format!("{w}%")).collect();
        step.details.push(format!(
            "strategy CANARY: production traffic steps {}",
            shown.join(", ")
        ));
    }
    request["hooks"] = json!(hooks);
    let started = control(ex.aws, "POST", "ecs", request).await?;
    let deployment = started["serviceDeploymentArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ex.facts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .deployments
        .push(deployment.clone());
    step.details.push(format!(
        "registered {}; service deployment {}",
        short_arn(&arn),
        short_arn(&deployment)
    ));
    let mut gate = start(ex, "health-gate", &[]).await?;
    let deadline = Instant::now() + DEPLOY_TIMEOUT;
    let mut hook_started = Instant::now();
    let mut hook_invocations = 0;
    loop {
        let view = control(
            ex.aws,
            "GET",
            "ecs",
            json!({"serviceDeploymentArn": deployment}),
        )
        .await?;
        let status = view["status"].as_str().unwrap_or_default().to_owned();
        let Some(event) = view.get("hook").cloned() else {
            if status == "SUCCESSFUL" {
                step.summary = format!(
                    "service deployment {} SUCCESSFUL; traffic on {}",
                    short_arn(&deployment),
                    short_arn(&arn)
                );
                return Ok(Outcome::new(step));
            }
            if status.starts_with("ROLLBACK") || status.starts_with("STOP") {
                return Ok(Outcome::fail(
                    step,
                    format!(
                        "service deployment {} {status}: ECS rolled back to the previous revision",
                        short_arn(&deployment)
                    ),
                ));
            }
            if Instant::now() > deadline {
                return Ok(Outcome::fail(
                    step,
                    format!("service deployment still {status}"),
                ));
            }
            tokio::time::sleep(POLL).await;
            continue;
        };
        let stage = event["lifecycleStage"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let function = event["function"].as_str().unwrap_or_default();
        if function_binary(function) != Some("health-gate") {
            return Ok(Outcome::fail(
                step,
                format!("lifecycle hook {stage}: function {function:?} is not the health gate"),
            ));
        }
        let mut payload = event.clone();
        if let Some(m) = payload.as_object_mut() {
            m.remove("function");
        }
        hook_invocations += 1;
        step.invocations += 1;
        let answer = ecs_hook(&mut gate, &payload).await;
        let status_word = answer["hookStatus"]
            .as_str()
            .unwrap_or("no hookStatus")
            .to_owned();
        let summary = answer["hookDetails"]["summary"]
            .as_str()
            .or_else(|| answer["hookDetails"]["reason"].as_str())
            .or_else(|| answer["error"].as_str())
            .unwrap_or_default()
            .to_owned();
        let rollback = status == "ROLLBACK_IN_PROGRESS";
        if status_word == "IN_PROGRESS" {
            let delay = answer["callBackDelay"].as_u64().unwrap_or(30);
            ex.printer.progress(&format!(
                "{stage} hook: IN_PROGRESS, callBackDelay {delay}s: {summary}"
            ));
            // ECS calls again after callBackDelay seconds (the gate's interval, already
            // shortened), at most a second here.
            tokio::time::sleep(Duration::from_secs(delay).min(Duration::from_secs(1))).await;
        } else {
            let mut hook = Step::new(
                &run.stage.name,
                &format!("{stage} hook{}", if rollback { " (rollback)" } else { "" }),
                "ECS -> Lambda",
            );
            hook.result = if status_word == "SUCCEEDED" {
                "Succeeded"
            } else {
                "Failed"
            }
            .into();
            hook.summary = format!("health-gate answered {status_word}: {summary}");
            hook.invocations = hook_invocations;
            hook.duration_ms = hook_started.elapsed().as_millis() as u64;
            ex.printer.step(&hook_step(hook.clone(), &run.stage.name));
            step.details.push(format!(
                "{}: {} ({} invocations)",
                hook.action, hook.summary, hook_invocations
            ));
            hook_invocations = 0;
            hook_started = Instant::now();
        }
        control(
            ex.aws,
            "POST",
            "ecs/answer",
            json!({"serviceDeploymentArn": deployment, "answer": answer}),
        )
        .await?;
        if Instant::now() > deadline {
            return Ok(Outcome::fail(
                step,
                "the service deployment did not end in time".to_owned(),
            ));
        }
    }
}

/// The service's lifecycle hooks: as the template sets them (an `AWS::ECS::Service`, or
/// the deployment command in its outputs), else the gate after test traffic and at the
/// production shift; each hook's waits shortened.
fn ecs_hooks(ex: &Execution<'_>) -> Vec<Value> {
    let mut hooks: Vec<Value> = ex.world.service_hooks.clone();
    if hooks.is_empty() {
        hooks = ["POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]
            .iter()
            .map(|s| json!({"stage": s, "function": "health-gate"}))
            .collect();
    }
    for hook in &mut hooks {
        if let Some(details) = hook.get("hookDetails").filter(|d| d.is_object()) {
            let (short, _) = super::variables::shorten_gate_waits(&details.to_string());
            hook["hookDetails"] = serde_json::from_str(&short).unwrap_or_default();
        }
    }
    hooks
}

//! Lambda invocations as the AWS services make them, on the real function binaries
//! through the Lambda Runtime API: the CodePipeline invoke action (a job with artifacts
//! in S3 and artifact credentials; the answer is the job report the local CodePipeline
//! recorded; a continuation token is a new job with the token, after a shortened wait),
//! the CodeDeploy hook (the answer is the recorded `PutLifecycleEventHookExecutionStatus`),
//! and the ECS hook (the answer is the return value).

use super::execution::{Execution, Location, Outcome, Running};
use super::report::{Step, one_line};
use super::variables::{human, shorten_gate_waits};
use super::world::function_binary;
use crate::function::{Function, Invocation, binary};
use crate::job::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, job_id};
use crate::local_aws::{ACCOUNT, JobReport};
use serde_json::{Value, json};
use std::time::Duration;

/// A function's Lambda timeout in the rehearsal.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// CodePipeline's wait before it invokes again with a continuation token, shortened.
pub const CONTINUATION_DELAY: Duration = Duration::from_millis(400);
/// At most this many invocations for one action (a runaway continuation stops here).
const MAX_INVOCATIONS: u32 = 200;

/// Starts the function's binary with its environment from the functions stack (the
/// health gate's `HEALTH_GATE_CONFIG` with its waits shortened), `extra` added.
pub async fn start(
    ex: &Execution<'_>,
    function: &str,
    extra: &[(&str, &str)],
) -> Result<Function, String> {
    let path = binary(function);
    if !path.exists() {
        return Err(format!(
            "{} is not built; run: cargo build -p {function}",
            path.display()
        ));
    }
    let mut env: Vec<(String, String)> = ex
        .world
        .stack
        .environment(function)
        .into_iter()
        .map(|(k, v)| {
            let v = if k == "HEALTH_GATE_CONFIG" {
                shorten_gate_waits(&v).0
            } else {
                v
            };
            (k, v)
        })
        .collect();
    if function == "health-gate" && !env.iter().any(|(k, _)| k == "HEALTH_GATE_CONFIG") {
        env.push(("HEALTH_GATE_CONFIG".into(), hook_config(ex)));
    }
    // Across accounts the function runs as its role, as Lambda runs it.
    let identity = ex.world.identities.get(function).map(|i| i.env());
    for (k, v) in identity.iter().flatten() {
        env.push(((*k).to_owned(), v.clone()));
    }
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Ok(Function::start_with_env(&path, ex.aws, &env).await)
}

/// A revision's settings (render-taskdef's `revision`) with `ValidateService`'s timeout and
/// the health probes' interval shortened, as the gate's waits are; the changes listed.
pub fn shorten_revision_waits(params: &str) -> (String, Vec<String>) {
    use super::engine::{HEALTH_INTERVAL, VALIDATE_TIMEOUT};
    let Ok(mut value) = serde_json::from_str::<Value>(params) else {
        return (params.to_owned(), Vec::new());
    };
    let Some(revision) = value.get_mut("revision").and_then(Value::as_object_mut) else {
        return (params.to_owned(), Vec::new());
    };
    let mut notes = Vec::new();
    let validate = revision
        .entry("hooks")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(|h| h.entry("ValidateService").or_insert_with(|| json!({})));
    if let Some(Value::Object(v)) = validate {
        let was = v.get("timeout").and_then(Value::as_u64);
        if was.is_none_or(|t| t > VALIDATE_TIMEOUT) {
            v.insert("timeout".into(), json!(VALIDATE_TIMEOUT));
            notes.push(format!(
                "ValidateService timeout {} -> {VALIDATE_TIMEOUT}s",
                was.map_or("(default)".to_owned(), |t| format!("{t}s"))
            ));
        }
    }
    if let Some(Value::Object(health)) = revision.get_mut("health") {
        let was = health.get("interval").and_then(Value::as_u64);
        if was.is_none_or(|i| i > HEALTH_INTERVAL) {
            health.insert("interval".into(), json!(HEALTH_INTERVAL));
            notes.push(format!(
                "health interval {} -> {HEALTH_INTERVAL}s",
                was.map_or("(default 5s)".to_owned(), |i| format!("{i}s"))
            ));
        }
    }
    (value.to_string(), notes)
}

fn job_event(
    id: &str,
    function: &str,
    run: &Running<'_>,
    params: Option<&str>,
    token: Option<&str>,
    ex: &Execution<'_>,
) -> Value {
    let artifact = |name: &str, l: &Location| {
        json!({"name": name, "revision": null,
               "location": {"type": "S3", "s3Location": {"bucketName": l.bucket, "objectKey": l.key}}})
    };
    let mut configuration = json!({"FunctionName": function});
    if let Some(p) = params {
        configuration["UserParameters"] = Value::String(p.to_owned());
    }
    let mut data = json!({
        "actionConfiguration": {"configuration": configuration},
        "inputArtifacts": run.inputs.iter().map(|(n, l)| artifact(n, l)).collect::<Vec<_>>(),
        "outputArtifacts": run.action.outputs.iter()
            .map(|n| artifact(n, &run.output_location(ex, n))).collect::<Vec<_>>(),
        "artifactCredentials": {"accessKeyId": ACCESS_KEY_ID, "secretAccessKey": SECRET_ACCESS_KEY,
                                "sessionToken": SESSION_TOKEN},
    });
    if let Some(t) = token {
        data["continuationToken"] = Value::String(t.to_owned());
    }
    json!({"CodePipeline.job": {"id": id, "accountId": ACCOUNT, "data": data}})
}

/// The Lambda invoke action.
pub async fn play(ex: &Execution<'_>, run: &Running<'_>) -> Outcome {
    let mut step = run.step();
    let name = run.config("FunctionName").unwrap_or_default().to_owned();
    let Some(function) = function_binary(&name) else {
        return Outcome::fail(
            step,
            format!("FunctionName {name:?} is none of the project's functions"),
        );
    };
    step.provider = format!("Lambda {function}");
    let mut params = run.config("UserParameters").map(str::to_owned);
    if function == "health-gate"
        && let Some(p) = &params
    {
        let (short, notes) = shorten_gate_waits(p);
        if !notes.is_empty() {
            step.details.push(format!(
                "waits shortened for the rehearsal: {}",
                notes.join(", ")
            ));
        }
        params = Some(short);
    }
    if function == "render-taskdef"
        && ex.world.real.is_some()
        && let Some(p) = &params
    {
        let (short, notes) = shorten_revision_waits(p);
        if !notes.is_empty() {
            step.details.push(format!(
                "the revision's waits shortened for the rehearsal: {}",
                notes.join(", ")
            ));
        }
        params = Some(short);
    }
    let mut f = match start(ex, function, &[]).await {
        Ok(f) => f,
        Err(e) => return Outcome::fail(step, e),
    };
    let mut token: Option<String> = None;
    loop {
        let id = job_id();
        let event = job_event(&id, &name, run, params.as_deref(), token.as_deref(), ex);
        step.invocations += 1;
        let result = f.invoke(&event, TIMEOUT).await;
        let report = ex.aws.job(&id).await;
        match report {
            Some(JobReport::Success {
                continuation_token: Some(t),
                summary,
                percent_complete,
                ..
            }) => {
                ex.printer.progress(&format!(
                    "{} {}: {} ({}%)",
                    run.action.name,
                    function,
                    summary,
                    percent_complete.unwrap_or(0)
                ));
                if step.invocations >= MAX_INVOCATIONS {
                    return Outcome::fail(
                        step,
                        format!("still in progress after {MAX_INVOCATIONS} invocations: {summary}"),
                    );
                }
                token = Some(t);
                tokio::time::sleep(CONTINUATION_DELAY).await;
            }
            Some(JobReport::Success {
                summary,
                output_variables,
                external_execution_id,
                ..
            }) => {
                step.summary = summary;
                if let Some(id) = external_execution_id {
                    step.details.push(format!("execution id {id}"));
                }
                let variables = output_variables.as_object().cloned().unwrap_or_default();
                if step.invocations > 1 {
                    step.details.push(format!(
                        "{} invocations (continuation tokens honoured)",
                        step.invocations
                    ));
                }
                if function == "promote-image" {
                    let mut facts = ex.facts.lock().unwrap_or_else(|e| e.into_inner());
                    facts.promoted += 1;
                    facts.promoted_in.push(run.stage.name.clone());
                }
                let mut outcome = Outcome::new(step);
                outcome.variables = variables;
                outcome.artifacts = run
                    .action
                    .outputs
                    .iter()
                    .map(|n| (n.clone(), run.output_location(ex, n)))
                    .collect();
                return outcome;
            }
            Some(JobReport::Failure { kind, message }) => {
                if step.invocations > 1 {
                    step.details.push(format!(
                        "{} invocations (continuation tokens honoured)",
                        step.invocations
                    ));
                }
                return Outcome::fail(step, format!("{kind}: {message}"));
            }
            None => {
                return Outcome::fail(
                    step,
                    format!(
                        "no job result was reported (CodePipeline would wait until the action times out); the invocation ended {}; logs: {}",
                        invocation_word(&result),
                        one_line(&f.logs(), 600)
                    ),
                );
            }
        }
    }
}

pub fn invocation_word(result: &Invocation) -> String {
    match result {
        Invocation::Response(v) => format!("with {}", one_line(&v.to_string(), 300)),
        Invocation::Error(v) => format!("in an error {}", one_line(&v.to_string(), 300)),
        Invocation::TimedOut => "in a timeout".into(),
        Invocation::Crashed(s) => format!("in a crash ({s})"),
    }
}

/// The health gate's hook configuration when the functions stack sets none: the
/// pipeline's alarm, baked a minute (shortened).
pub fn hook_config(ex: &Execution<'_>) -> String {
    let config = json!({"alarms": {"names": [ex.world.alarm]}, "bake": "1m", "interval": "15s", "timeout": "12m"});
    shorten_gate_waits(&config.to_string()).0
}

/// Invokes a CodeDeploy lifecycle hook as CodeDeploy does; the answer is what the
/// function reported with `PutLifecycleEventHookExecutionStatus`.
pub async fn codedeploy_hook(
    ex: &Execution<'_>,
    function_name: &str,
    event_name: &str,
    deployment_id: &str,
    execution_id: &str,
) -> Step {
    let mut step = Step::new("", &format!("{event_name} hook"), "CodeDeploy -> Lambda");
    let Some(function) = function_binary(function_name) else {
        step.result = "Failed".into();
        step.summary =
            format!("hook function {function_name:?} is none of the project's functions");
        return step;
    };
    let started = std::time::Instant::now();
    let mut f = match start(ex, function, &[]).await {
        Ok(f) => f,
        Err(e) => {
            step.result = "Failed".into();
            step.summary = e;
            return step;
        }
    };
    let event =
        json!({"DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id});
    step.invocations = 1;
    let result = f.invoke(&event, TIMEOUT).await;
    let answer = ex.aws.hook(deployment_id, execution_id).await;
    step.duration_ms = started.elapsed().as_millis() as u64;
    let status = answer
        .as_ref()
        .and_then(|a| a["status"].as_str())
        .unwrap_or("not answered")
        .to_owned();
    step.result = if status == "Succeeded" {
        "Succeeded"
    } else {
        "Failed"
    }
    .into();
    let reason = hook_reason(&f.logs());
    step.summary = format!(
        "{function} answered {status} in {}{}",
        human(step.duration_ms),
        reason.map(|r| format!(": {r}")).unwrap_or_default()
    );
    if answer.is_none() {
        step.details
            .push(format!("the invocation ended {}", invocation_word(&result)));
    }
    step
}

/// The gate's summary of its last decision, from its log line.
fn hook_reason(logs: &str) -> Option<String> {
    logs.lines().rev().find_map(|line| {
        let at = line.find("summary=")?;
        let rest = &line[at + "summary=".len()..];
        Some(rest.trim().trim_matches('"').to_owned())
    })
}

/// Invokes an ECS lifecycle hook as ECS does; the answer is the return value.
pub async fn ecs_hook(f: &mut Function, event: &Value) -> Value {
    match f.invoke(event, TIMEOUT).await {
        Invocation::Response(v) => v,
        other => json!({"error": invocation_word(&other)}),
    }
}

//! A CodeDeploy deployment watched from outside: EC2/on-premises deployments have no
//! Lambda hooks, so the pipeline action reads the deployment and its failed instances
//! (with the failing script's diagnostics) and can stop it with rollback.

use crate::decide::{CheckReading, Reading};
use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::types::TargetFilterName;
use shared::{AwsError, aws_error};

/// What `GetDeployment` says, with the failed instances' diagnostics when read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`, `Stopped`.
    pub status: String,
    pub error: Option<String>,
    /// (succeeded, failed, in progress + pending, total) instances.
    pub succeeded: i64,
    pub failed: i64,
    pub remaining: i64,
    pub rollback_deployment_id: Option<String>,
    pub failed_instances: Vec<FailedInstance>,
}

/// An instance whose lifecycle event failed, as `BatchGetDeploymentTargets` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedInstance {
    pub id: String,
    pub event: String,
    pub error_code: Option<String>,
    pub script: Option<String>,
    pub message: Option<String>,
    pub log_tail: Option<String>,
}

impl FailedInstance {
    fn describe(&self) -> String {
        let mut s = format!("{} failed {}", self.id, self.event);
        if let Some(script) = &self.script {
            s.push_str(&format!(" ({script}"));
            if let Some(code) = &self.error_code {
                s.push_str(&format!(", {code}"));
            }
            s.push(')');
        }
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            s.push_str(&format!(": {m}"));
        }
        if let Some(tail) = self
            .log_tail
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let last = tail.lines().last().unwrap_or_default();
            s.push_str(&format!(" [log: {last}]"));
        }
        s
    }
}

/// Whether the deployment can still be stopped.
pub fn running(status: &str) -> bool {
    matches!(
        status,
        "Created" | "Queued" | "InProgress" | "Baking" | "Ready"
    )
}

pub fn judge(d: &Deployment) -> Reading {
    let total = d.succeeded + d.failed + d.remaining;
    let counts = format!("{}/{total} instances succeeded", d.succeeded);
    let failures: Vec<String> = d
        .failed_instances
        .iter()
        .map(FailedInstance::describe)
        .collect();
    match d.status.as_str() {
        "Succeeded" => Reading::Pass(format!("deployment {} Succeeded, {counts}", d.id)),
        "Failed" | "Stopped" => {
            let mut why = vec![format!("deployment {} {}", d.id, d.status)];
            if let Some(e) = &d.error {
                why.push(e.clone());
            }
            why.extend(failures);
            if let Some(r) = &d.rollback_deployment_id {
                why.push(format!("rolled back by {r}"));
            }
            Reading::Fatal(why.join("; "))
        }
        _ if d.failed > 0 => {
            let mut why = vec![format!(
                "deployment {} {}, {} instance(s) failed",
                d.id, d.status, d.failed
            )];
            why.extend(failures);
            Reading::Fail(why.join("; "))
        }
        other => Reading::Pending(format!("deployment {} {other}, {counts}", d.id)),
    }
}

/// The newest deployment of an application's deployment group (one round trip).
pub async fn newest(
    client: &Client,
    application: &str,
    group: &str,
) -> Result<Option<String>, AwsError> {
    let out = client
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
        .map_err(|e| aws_error("codedeploy:ListDeployments", e))?;
    Ok(out.deployments().first().cloned())
}

/// Reads the deployment and its failed targets concurrently, then their diagnostics:
/// two round trips.
pub async fn read(client: &Client, id: &str) -> Result<Deployment, AwsError> {
    let get = client.get_deployment().deployment_id(id).send();
    let failed = client
        .list_deployment_targets()
        .deployment_id(id)
        .target_filters(TargetFilterName::TargetStatus, vec!["Failed".into()])
        .send();
    let (got, failed) = futures::join!(get, failed);
    let got = got.map_err(|e| aws_error("codedeploy:GetDeployment", e))?;
    let info = got.deployment_info();
    let overview = info.and_then(|i| i.deployment_overview());
    let mut d = Deployment {
        id: id.to_owned(),
        status: info
            .and_then(|i| i.status())
            .map_or("", |s| s.as_str())
            .to_owned(),
        error: info.and_then(|i| i.error_information()).map(|e| {
            format!(
                "{}: {}",
                e.code().map_or("", |c| c.as_str()),
                e.message().unwrap_or_default()
            )
        }),
        succeeded: overview.map_or(0, |o| o.succeeded()),
        failed: overview.map_or(0, |o| o.failed()),
        remaining: overview.map_or(0, |o| o.pending() + o.in_progress() + o.ready()),
        rollback_deployment_id: info
            .and_then(|i| i.rollback_info())
            .and_then(|r| r.rollback_deployment_id())
            .map(str::to_owned),
        failed_instances: Vec::new(),
    };
    // The targets are diagnostics: a failure to read them does not hide the verdict.
    let ids = failed.map(|f| f.target_ids().to_vec()).unwrap_or_default();
    if !ids.is_empty() {
        let targets = client
            .batch_get_deployment_targets()
            .deployment_id(id)
            .set_target_ids(Some(ids.into_iter().take(25).collect()))
            .send()
            .await;
        if let Ok(out) = targets {
            d.failed_instances = out
                .deployment_targets()
                .iter()
                .filter_map(|t| t.instance_target())
                .map(|t| {
                    let event = t
                        .lifecycle_events()
                        .iter()
                        .find(|e| e.status().map(|s| s.as_str()) == Some("Failed"));
                    let diag = event.and_then(|e| e.diagnostics());
                    FailedInstance {
                        id: t.target_id().unwrap_or("?").to_owned(),
                        event: event
                            .and_then(|e| e.lifecycle_event_name())
                            .unwrap_or("?")
                            .to_owned(),
                        error_code: diag
                            .and_then(|d| d.error_code())
                            .map(|c| c.as_str().to_owned()),
                        script: diag.and_then(|d| d.script_name()).map(str::to_owned),
                        message: diag.and_then(|d| d.message()).map(str::to_owned),
                        log_tail: diag.and_then(|d| d.log_tail()).map(str::to_owned),
                    }
                })
                .collect();
        }
    }
    Ok(d)
}

pub async fn check(client: &Client, id: &str, dry_run: bool) -> (CheckReading, Option<Deployment>) {
    match read(client, id).await {
        Ok(d) => (
            CheckReading::new("codedeploy", judge(&d)).dry_run(dry_run),
            Some(d),
        ),
        Err(e) if e.code() == Some("DeploymentDoesNotExistException") => (
            CheckReading::new(
                "codedeploy",
                Reading::Fatal(format!("CodeDeploy has no deployment {id}")),
            )
            .dry_run(dry_run),
            None,
        ),
        Err(e) => (
            CheckReading::new("codedeploy", Reading::Error(e.to_string())).dry_run(dry_run),
            None,
        ),
    }
}

/// Stops a running deployment with rollback. A deployment that already ended is fine.
pub async fn stop(client: &Client, id: &str) -> Result<String, AwsError> {
    match client
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(true)
        .send()
        .await
    {
        Ok(out) => Ok(format!(
            "stopped deployment {id} with rollback ({})",
            out.status().map_or("", |s| s.as_str())
        )),
        Err(e) => {
            let e = aws_error("codedeploy:StopDeployment", e);
            if e.code() == Some("DeploymentAlreadyCompletedException") {
                Ok(format!("deployment {id} had already ended"))
            } else {
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_states_decide() {
        let validate = FailedInstance {
            id: "i-0abc".into(),
            event: "ValidateService".into(),
            error_code: Some("ScriptFailed".into()),
            script: Some("scripts/validate.sh".into()),
            message: Some("Script at specified location: scripts/validate.sh run as user root failed with exit code 1".into()),
            log_tail: Some("[stdout]checking\n[stderr]curl: (7) Failed to connect\n".into()),
        };
        let base = Deployment {
            id: "d-1".into(),
            succeeded: 1,
            remaining: 1,
            ..Deployment::default()
        };
        let cases = [
            (
                Deployment {
                    status: "InProgress".into(),
                    ..base.clone()
                },
                "pending",
                "1/2 instances succeeded",
            ),
            (
                Deployment {
                    status: "Succeeded".into(),
                    succeeded: 2,
                    remaining: 0,
                    ..base.clone()
                },
                "passed",
                "Succeeded, 2/2",
            ),
            (
                Deployment {
                    status: "InProgress".into(),
                    failed: 1,
                    failed_instances: vec![validate.clone()],
                    ..base.clone()
                },
                "failed",
                "i-0abc failed ValidateService (scripts/validate.sh, ScriptFailed)",
            ),
            (
                Deployment {
                    status: "Failed".into(),
                    error: Some("HEALTH_CONSTRAINTS: The overall deployment failed".into()),
                    failed_instances: vec![validate],
                    rollback_deployment_id: Some("d-2".into()),
                    ..base.clone()
                },
                "failed",
                "[log: [stderr]curl: (7) Failed to connect]",
            ),
        ];
        for (d, word, text) in cases {
            let r = judge(&d);
            assert_eq!(r.word(), word, "{r:?}");
            assert!(r.detail().contains(text), "{r:?}");
        }
        assert!(running("InProgress") && !running("Failed"));
    }
}

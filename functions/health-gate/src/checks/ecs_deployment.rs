//! The ECS deployment this release started, from the service deployments API: not "the
//! service is stable", which a circuit-breaker rollback also is. A rollback, a stop, a
//! triggered circuit breaker or alarm fails at once, quoting why.

use crate::decide::{CheckReading, Reading};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::DesiredStatus;
use shared::{AwsError, aws_error};

/// What `DescribeServiceDeployments` says about one deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    pub arn: String,
    pub cluster_arn: Option<String>,
    pub service_arn: Option<String>,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `ROLLBACK_*`, ...
    pub status: String,
    pub status_reason: Option<String>,
    pub requested: i32,
    pub running: i32,
    pub pending: i32,
    pub rollback_reason: Option<String>,
    /// `(status, failures, threshold)` of the circuit breaker.
    pub circuit_breaker: Option<(String, i32, i32)>,
    pub triggered_alarms: Vec<String>,
    /// Why the target revision's tasks stopped, when read (on failure only).
    pub stopped_reasons: Vec<String>,
}

/// `.../service-deployment/cluster/service/abc` -> `abc`.
pub fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The verdict. `in_hook`: the deployment is judged from one of its own lifecycle hooks,
/// where it is `IN_PROGRESS` by design.
pub fn judge(d: &Deployment, in_hook: bool) -> Reading {
    let id = short_id(&d.arn);
    let counts = format!("running {}/{}", d.running, d.requested);
    let mut why = Vec::new();
    if let Some(r) = d.status_reason.as_deref().filter(|r| !r.is_empty()) {
        why.push(r.to_owned());
    }
    if let Some(r) = &d.rollback_reason {
        why.push(format!("rollback: {r}"));
    }
    let breaker = d
        .circuit_breaker
        .as_ref()
        .filter(|(status, _, _)| status == "TRIGGERED");
    if let Some((_, failures, threshold)) = breaker {
        why.push(format!(
            "circuit breaker triggered ({failures} of {threshold} tasks failed)"
        ));
    }
    if !d.triggered_alarms.is_empty() {
        why.push(format!(
            "alarms triggered: {}",
            d.triggered_alarms.join(", ")
        ));
    }
    if !d.stopped_reasons.is_empty() {
        why.push(format!("tasks stopped: {}", d.stopped_reasons.join("; ")));
    }
    let failed_status =
        d.status.starts_with("ROLLBACK") || d.status.starts_with("STOP") || d.status == "FAILED";
    if failed_status || breaker.is_some() || !d.triggered_alarms.is_empty() {
        return Reading::Fatal(format!("deployment {id} {}: {}", d.status, why.join("; ")));
    }
    let ready = d.requested > 0 && d.running >= d.requested;
    match d.status.as_str() {
        "SUCCESSFUL" if ready => Reading::Pass(format!("deployment {id} SUCCESSFUL, {counts}")),
        "SUCCESSFUL" => Reading::Fail(format!("deployment {id} SUCCESSFUL but {counts}")),
        "IN_PROGRESS" if in_hook && ready => {
            Reading::Pass(format!("deployment {id} IN_PROGRESS, {counts}"))
        }
        "PENDING" | "IN_PROGRESS" => Reading::Pending(format!(
            "deployment {id} {}, {counts} ({} pending)",
            d.status, d.pending
        )),
        other => Reading::Pending(format!("deployment {id} {other}, {counts}")),
    }
}

/// The newest deployment of a service (one round trip).
pub async fn newest(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Option<String>, AwsError> {
    Ok(shared::ecs::service_deployments(client, cluster, service)
        .await?
        .first()
        .and_then(|d| d.service_deployment_arn())
        .map(str::to_owned))
}

/// Reads one deployment (one round trip); `None` when ECS does not know it.
pub async fn read(client: &Client, arn: &str) -> Result<Option<Deployment>, AwsError> {
    let found = shared::ecs::service_deployment(client, arn).await?;
    Ok(found.as_ref().map(|d| {
        let target = d.target_service_revision();
        Deployment {
            arn: d.service_deployment_arn().unwrap_or(arn).to_owned(),
            cluster_arn: d.cluster_arn().map(str::to_owned),
            service_arn: d.service_arn().map(str::to_owned),
            status: d.status().map_or("", |s| s.as_str()).to_owned(),
            status_reason: d.status_reason().map(str::to_owned),
            requested: target.map_or(0, |t| t.requested_task_count()),
            running: target.map_or(0, |t| t.running_task_count()),
            pending: target.map_or(0, |t| t.pending_task_count()),
            rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_owned),
            circuit_breaker: d.deployment_circuit_breaker().map(|c| {
                (
                    c.status().map_or("", |s| s.as_str()).to_owned(),
                    c.failure_count(),
                    c.threshold(),
                )
            }),
            triggered_alarms: d
                .alarms()
                .map(|a| a.triggered_alarm_names().to_vec())
                .unwrap_or_default(),
            stopped_reasons: Vec::new(),
        }
    }))
}

/// Why the service's tasks stopped, most frequent first (two round trips: read only when
/// the deployment failed). A failure to read them does not hide the verdict.
pub async fn stopped_reasons(client: &Client, cluster: &str, service: &str) -> Vec<String> {
    let service = service.rsplit('/').next().unwrap_or(service);
    let Ok(listed) = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
    else {
        return Vec::new();
    };
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Vec::new();
    }
    let Ok(described) = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
    else {
        return Vec::new();
    };
    count_reasons(described.tasks().iter().filter_map(|t| t.stopped_reason()))
}

/// `["a", "b", "a"]` -> `["a (2 tasks)", "b"]`, at most three.
fn count_reasons<'a>(reasons: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for r in reasons {
        match counts.iter_mut().find(|(seen, _)| *seen == r) {
            Some((_, n)) => *n += 1,
            None => counts.push((r, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
        .into_iter()
        .take(3)
        .map(|(r, n)| {
            if n > 1 {
                format!("{r} ({n} tasks)")
            } else {
                r.to_owned()
            }
        })
        .collect()
}

/// The deployment as `DescribeServices` shows it, for a service that has no service
/// deployments: a `FAILED` rollout (also one being rolled back) fails; else the primary
/// deployment's rollout and counts decide.
pub async fn from_services(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Option<Deployment>, AwsError> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| aws_error("ecs:DescribeServices", e))?;
    let Some(svc) = out.services().first() else {
        return Ok(None);
    };
    let rollout =
        |d: &aws_sdk_ecs::types::Deployment| d.rollout_state().map(|r| r.as_str().to_owned());
    let failed = svc
        .deployments()
        .iter()
        .find(|d| rollout(d).as_deref() == Some("FAILED"));
    let primary = svc
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let Some(d) = failed.or(primary) else {
        return Ok(None);
    };
    let status = match rollout(d).as_deref() {
        Some("COMPLETED") => "SUCCESSFUL",
        Some("FAILED") => "FAILED",
        Some(_) => "IN_PROGRESS",
        None if d.running_count() >= d.desired_count() => "SUCCESSFUL",
        None => "IN_PROGRESS",
    };
    let mut reason = d.rollout_state_reason().map(str::to_owned);
    if d.failed_tasks() > 0 {
        let note = format!("{} tasks failed to start", d.failed_tasks());
        reason = Some(reason.map_or(note.clone(), |r| format!("{r} ({note})")));
    }
    Ok(Some(Deployment {
        arn: d.id().unwrap_or_default().to_owned(),
        cluster_arn: svc.cluster_arn().map(str::to_owned),
        service_arn: svc.service_arn().map(str::to_owned),
        status: status.to_owned(),
        status_reason: reason,
        requested: d.desired_count(),
        running: d.running_count(),
        pending: d.pending_count(),
        ..Deployment::default()
    }))
}

/// Judges a deployment; a failed one quotes why its tasks stopped.
pub async fn judged(client: &Client, mut d: Deployment, in_hook: bool) -> Reading {
    match judge(&d, in_hook) {
        Reading::Fatal(_) if d.cluster_arn.is_some() && d.service_arn.is_some() => {
            let cluster = d.cluster_arn.clone().unwrap_or_default();
            let service = d.service_arn.clone().unwrap_or_default();
            d.stopped_reasons = stopped_reasons(client, &cluster, &service).await;
            judge(&d, in_hook)
        }
        other => other,
    }
}

/// The check over a known deployment ARN.
pub async fn check(client: &Client, arn: &str, in_hook: bool, dry_run: bool) -> CheckReading {
    let reading = match read(client, arn).await {
        Ok(Some(d)) => judged(client, d, in_hook).await,
        Ok(None) => Reading::Fatal(format!("ECS has no service deployment {arn}")),
        Err(e) => Reading::Error(e.to_string()),
    };
    CheckReading::new("deployment", reading).dry_run(dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(status: &str, running: i32) -> Deployment {
        Deployment {
            arn: "arn:aws:ecs:us-east-1:1:service-deployment/prod/web/abc".into(),
            status: status.into(),
            requested: 4,
            running,
            ..Deployment::default()
        }
    }

    #[test]
    fn deployment_states_decide() {
        let rolled_back = Deployment {
            status_reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
            rollback_reason: Some("circuit breaker".into()),
            circuit_breaker: Some(("TRIGGERED".into(), 3, 3)),
            stopped_reasons: vec!["Essential container in task exited".into()],
            ..deployment("ROLLBACK_SUCCESSFUL", 4)
        };
        let breaker_while_running = Deployment {
            circuit_breaker: Some(("TRIGGERED".into(), 3, 3)),
            ..deployment("IN_PROGRESS", 1)
        };
        let alarmed = Deployment {
            triggered_alarms: vec!["web-5xx".into()],
            ..deployment("IN_PROGRESS", 4)
        };
        let cases = [
            (
                deployment("SUCCESSFUL", 4),
                false,
                "passed",
                "deployment abc SUCCESSFUL, running 4/4",
            ),
            (deployment("SUCCESSFUL", 3), false, "failed", "running 3/4"),
            (
                deployment("IN_PROGRESS", 2),
                false,
                "pending",
                "running 2/4",
            ),
            (
                deployment("IN_PROGRESS", 4),
                false,
                "pending",
                "IN_PROGRESS",
            ),
            (
                deployment("IN_PROGRESS", 4),
                true,
                "passed",
                "IN_PROGRESS, running 4/4",
            ),
            (deployment("PENDING", 0), true, "pending", "PENDING"),
            (
                rolled_back,
                false,
                "failed",
                "circuit breaker triggered (3 of 3 tasks failed)",
            ),
            (breaker_while_running, false, "failed", "circuit breaker"),
            (alarmed, true, "failed", "alarms triggered: web-5xx"),
            (deployment("STOPPED", 0), false, "failed", "STOPPED"),
            (deployment("FAILED", 1), false, "failed", "FAILED"),
        ];
        for (d, in_hook, word, text) in cases {
            let r = judge(&d, in_hook);
            assert_eq!(r.word(), word, "{d:?}: {r:?}");
            assert!(r.detail().contains(text), "{r:?}");
        }
        let r = judge(
            &Deployment {
                ..deployment("ROLLBACK_SUCCESSFUL", 4)
            },
            false,
        );
        assert!(matches!(r, Reading::Fatal(_)));
    }
}

//! ELBv2 target health of the green target groups: all healthy, or a minimum count or
//! percentage; unhealthy targets listed with their reason codes.

use crate::config::TargetsCheck;
use crate::decide::{CheckReading, Reading};
use aws_sdk_elasticloadbalancingv2::Client;
use shared::{AwsError, aws_error};

/// One registered target as ELBv2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `10.0.0.7:80` or an instance id with its port.
    pub id: String,
    /// `initial`, `healthy`, `unhealthy`, `unhealthy.draining`, `unused`, `draining`, `unavailable`.
    pub state: String,
    /// `Elb.InitialHealthChecking`, `Target.Timeout`, ...
    pub reason: Option<String>,
}

/// A target group's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub arn: String,
    pub targets: Vec<Target>,
}

/// `arn:...:targetgroup/web-green/0123` -> `web-green`.
pub fn short_name(arn: &str) -> &str {
    arn.split("targetgroup/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(arn)
}

/// The verdict over every group: the worst group decides.
pub fn judge(check: &TargetsCheck, groups: &[Group]) -> Reading {
    let mut worst = 0; // 0 pass, 1 pending, 2 fail
    let mut parts = Vec::new();
    for group in groups {
        let (rank, text) = judge_group(check, group);
        worst = worst.max(rank);
        parts.push(text);
    }
    let detail = parts.join("; ");
    match worst {
        0 => Reading::Pass(detail),
        1 => Reading::Pending(detail),
        _ => Reading::Fail(detail),
    }
}

fn judge_group(check: &TargetsCheck, group: &Group) -> (u8, String) {
    let counted: Vec<&Target> = group
        .targets
        .iter()
        .filter(|t| !matches!(t.state.as_str(), "draining" | "unhealthy.draining"))
        .collect();
    let healthy = counted.iter().filter(|t| t.state == "healthy").count() as u32;
    let total = counted.len() as u32;
    let required = match (check.min_healthy, check.min_healthy_percent) {
        (Some(n), _) => n,
        (None, Some(p)) => ((p / 100.0) * f64::from(total)).ceil() as u32,
        (None, None) => total,
    }
    .max(1);
    let mut text = format!("{} {healthy}/{total} healthy", short_name(&group.arn));
    if required != total {
        text.push_str(&format!(" (need {required})"));
    }
    let unhealthy: Vec<String> = counted
        .iter()
        .filter(|t| t.state != "healthy")
        .map(|t| match &t.reason {
            Some(r) => format!("{} {} ({r})", t.id, t.state),
            None => format!("{} {}", t.id, t.state),
        })
        .collect();
    if !unhealthy.is_empty() {
        text.push_str(&format!("; {}", unhealthy.join(", ")));
    }
    if total == 0 {
        return (
            1,
            format!("{} has no registered targets", short_name(&group.arn)),
        );
    }
    if healthy >= required {
        return (0, text);
    }
    let failing = counted.iter().any(|t| t.state == "unhealthy");
    (if failing { 2 } else { 1 }, text)
}

/// The green target groups of a service revision: the load balancers ECS resolved for
/// it (blue/green puts the alternate target group there), else the configured ones.
pub async fn green_groups(
    client: &aws_sdk_ecs::Client,
    revision: &str,
) -> Result<Vec<String>, AwsError> {
    let out = client
        .describe_service_revisions()
        .service_revision_arns(revision)
        .send()
        .await
        .map_err(|e| aws_error("ecs:DescribeServiceRevisions", e))?;
    let Some(r) = out.service_revisions().first() else {
        return Ok(Vec::new());
    };
    let resolved: Vec<String> = r
        .resolved_configuration()
        .map(|c| {
            c.load_balancers()
                .iter()
                .filter_map(|l| l.target_group_arn())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !resolved.is_empty() {
        return Ok(resolved);
    }
    Ok(r.load_balancers()
        .iter()
        .filter_map(|l| l.target_group_arn())
        .map(str::to_owned)
        .collect())
}

/// Reads every group concurrently (one round trip) and judges them.
pub async fn check(client: &Client, check: &TargetsCheck) -> CheckReading {
    let reads = check.target_groups.iter().map(|arn| read(client, arn));
    let reading = match futures::future::try_join_all(reads).await {
        Ok(groups) => judge(check, &groups),
        Err(e) => Reading::Error(e.to_string()),
    };
    CheckReading::new("targets", reading).dry_run(check.dry_run)
}

async fn read(client: &Client, arn: &str) -> Result<Group, AwsError> {
    let out = client
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("elasticloadbalancing:DescribeTargetHealth", e))?;
    let targets = out
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let target = d.target();
            let id = target.and_then(|t| t.id()).unwrap_or("?");
            let id = match target.and_then(|t| t.port()) {
                Some(port) => format!("{id}:{port}"),
                None => id.to_owned(),
            };
            let health = d.target_health();
            Target {
                id,
                state: health
                    .and_then(|h| h.state())
                    .map_or("unknown", |s| s.as_str())
                    .to_owned(),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_owned()),
            }
        })
        .collect();
    Ok(Group {
        arn: arn.to_owned(),
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(states: &[(&str, Option<&str>)]) -> Group {
        Group {
            arn: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-green/abc".into(),
            targets: states
                .iter()
                .enumerate()
                .map(|(i, (s, r))| Target {
                    id: format!("10.0.0.{i}:80"),
                    state: (*s).into(),
                    reason: r.map(Into::into),
                })
                .collect(),
        }
    }

    #[test]
    fn target_states_decide() {
        let all = TargetsCheck::default();
        let half = TargetsCheck {
            min_healthy_percent: Some(50.0),
            ..TargetsCheck::default()
        };
        let two = TargetsCheck {
            min_healthy: Some(2),
            ..TargetsCheck::default()
        };
        let h = ("healthy", None);
        let init = ("initial", Some("Elb.InitialHealthChecking"));
        let sick = ("unhealthy", Some("Target.Timeout"));
        let drain = ("draining", Some("Target.DeregistrationInProgress"));
        let cases = [
            (&all, vec![h, h, h, h], "passed", "web-green 4/4 healthy"),
            (
                &all,
                vec![h, h, init, init],
                "pending",
                "Elb.InitialHealthChecking",
            ),
            (
                &all,
                vec![h, h, h, sick],
                "failed",
                "10.0.0.3:80 unhealthy (Target.Timeout)",
            ),
            (&all, vec![h, h, drain], "passed", "2/2 healthy"),
            (&all, vec![], "pending", "no registered targets"),
            (
                &half,
                vec![h, h, sick, sick],
                "passed",
                "2/4 healthy (need 2)",
            ),
            (
                &half,
                vec![h, sick, sick, sick],
                "failed",
                "1/4 healthy (need 2)",
            ),
            (&two, vec![h, init, init], "pending", "1/3 healthy (need 2)"),
        ];
        for (check, states, word, text) in cases {
            let r = judge(check, &[group(&states)]);
            assert_eq!(r.word(), word, "{states:?}: {r:?}");
            assert!(r.detail().contains(text), "{r:?}");
        }
    }
}

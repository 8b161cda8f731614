//! ECS pause hooks (`targetType` `PAUSE`): a deployment waits at a lifecycle stage until
//! `ContinueServiceDeployment` answers `CONTINUE` or `ROLLBACK`, or until the hook's
//! `timeoutConfiguration` acts (pause-lifecycle-hooks and API_ContinueServiceDeployment
//! in the ECS documentation). Which hooks wait, since when, and the answer.

use crate::error::{AwsError, aws_error};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookTargetType, ServiceDeployment,
};

/// A service deployment as its pause hooks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Paused {
    pub deployment_arn: String,
    /// `IN_PROGRESS`, `ROLLBACK_IN_PROGRESS`, `SUCCESSFUL`, ...
    pub status: String,
    pub stage: Option<String>,
    pub target_revision: Option<String>,
    /// The production traffic the target revision is to get at this step (linear and
    /// canary deployments pause before each step).
    pub production_weight: Option<f64>,
    pub hooks: Vec<PauseHook>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PauseHook {
    pub id: String,
    /// `AWAITING_ACTION`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`.
    pub status: String,
    /// When the hook began waiting (epoch ms), when ECS says enough to know it.
    pub since_ms: Option<u64>,
}

impl Paused {
    /// Whether `hook` can still be answered: it awaits action and the deployment is in
    /// progress (ECS refuses any other answer).
    pub fn awaiting(&self, hook: &PauseHook) -> bool {
        self.status == "IN_PROGRESS" && hook.status == "AWAITING_ACTION"
    }

    /// `POST_TEST_TRAFFIC_SHIFT`, or `PRE_PRODUCTION_TRAFFIC_SHIFT before 20% of production traffic`.
    pub fn step(&self) -> String {
        let stage = self.stage.as_deref().unwrap_or("a lifecycle stage");
        match self.production_weight {
            Some(w) if stage.contains("PRODUCTION") => {
                format!("{stage} at {w}% of production traffic")
            }
            _ => stage.to_owned(),
        }
    }
}

/// Reads the deployment (one round trip); `None` when ECS does not know it.
pub async fn read(client: &Client, arn: &str) -> Result<Option<Paused>, AwsError> {
    Ok(super::service_deployment(client, arn)
        .await?
        .map(|d| paused(&d, arn)))
}

fn paused(d: &ServiceDeployment, arn: &str) -> Paused {
    let stage = d.lifecycle_stage().map(|s| s.as_str().to_owned());
    // The pause hook's timeout at this stage, to tell when it began from `expiresAt`.
    let timeout_minutes = d
        .deployment_configuration()
        .map(|c| c.lifecycle_hooks())
        .unwrap_or_default()
        .iter()
        .filter(|h| h.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause))
        .filter(|h| {
            stage.is_none()
                || h.lifecycle_stages()
                    .iter()
                    .any(|s| Some(s.as_str()) == stage.as_deref())
        })
        .find_map(|h| {
            h.timeout_configuration()
                .and_then(|t| t.timeout_in_minutes())
        });
    let ms = |t: Option<&aws_smithy_types::DateTime>| {
        t.and_then(|t| t.to_millis().ok()).map(|m| m.max(0) as u64)
    };
    let updated = ms(d.updated_at()).or(ms(d.started_at()));
    let target = d.target_service_revision();
    Paused {
        deployment_arn: d.service_deployment_arn().unwrap_or(arn).to_owned(),
        status: d.status().map_or("", |s| s.as_str()).to_owned(),
        stage,
        target_revision: target.and_then(|t| t.arn()).map(str::to_owned),
        production_weight: target.and_then(|t| t.requested_production_traffic_weight()),
        hooks: d
            .lifecycle_hook_details()
            .iter()
            .filter(|h| h.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause))
            .map(|h| PauseHook {
                id: h.hook_id().unwrap_or_default().to_owned(),
                status: h.status().map_or("", |s| s.as_str()).to_owned(),
                since_ms: since_ms(ms(h.expires_at()), timeout_minutes, updated),
            })
            .collect(),
    }
}

/// When a pause began: its expiry less the hook's timeout, else when the deployment last
/// changed (it entered the stage).
pub fn since_ms(
    expires_ms: Option<u64>,
    timeout_minutes: Option<i32>,
    updated_ms: Option<u64>,
) -> Option<u64> {
    match (expires_ms, timeout_minutes) {
        (Some(e), Some(m)) if m > 0 => Some(e.saturating_sub(m as u64 * 60_000)),
        _ => updated_ms,
    }
}

/// How an answer went.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    /// ECS took the answer.
    Sent,
    /// The hook was answered already, or the deployment moved on: nothing was sent.
    Already(String),
}

/// Answers the pause hook `hook_id` of `arn`: `ContinueServiceDeployment` with `CONTINUE`
/// or `ROLLBACK` (`rollback`). A refusal because the hook no longer waits (another
/// invocation answered it, ECS timed it out or rolled back) is [`Answered::Already`].
pub async fn answer(
    client: &Client,
    arn: &str,
    hook_id: &str,
    rollback: bool,
) -> Result<Answered, AwsError> {
    let action = if rollback {
        DeploymentLifecycleHookAction::Rollback
    } else {
        DeploymentLifecycleHookAction::Continue
    };
    let sent = client
        .continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(hook_id)
        .action(action)
        .send()
        .await
        .map_err(|e| aws_error("ecs:ContinueServiceDeployment", e));
    match sent {
        Ok(_) => Ok(Answered::Sent),
        Err(e)
            if matches!(
                e.code(),
                Some("InvalidParameterException" | "ClientException")
            ) =>
        {
            // Refused: answered already, or the deployment moved on? Read it again.
            let now = read(client, arn).await?;
            let hook = now
                .as_ref()
                .and_then(|p| p.hooks.iter().find(|h| h.id == hook_id));
            match (now.as_ref(), hook) {
                (Some(p), Some(h)) if !p.awaiting(h) => Ok(Answered::Already(format!(
                    "the hook is {} and the deployment {}",
                    h.status, p.status
                ))),
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_began_its_timeout_before_it_expires() {
        let cases = [
            (Some(3_600_000), Some(10), Some(1), Some(3_000_000)),
            (Some(3_600_000), None, Some(1), Some(1)),
            (Some(3_600_000), Some(0), None, None),
            (None, Some(10), Some(5), Some(5)),
            (Some(60_000), Some(10), None, Some(0)),
        ];
        for (expires, timeout, updated, want) in cases {
            assert_eq!(
                since_ms(expires, timeout, updated),
                want,
                "{expires:?} {timeout:?}"
            );
        }
    }

    #[test]
    fn the_step_names_the_traffic_it_is_before() {
        let mut p = Paused {
            deployment_arn: "a".into(),
            status: "IN_PROGRESS".into(),
            stage: Some("PRE_PRODUCTION_TRAFFIC_SHIFT".into()),
            target_revision: None,
            production_weight: Some(20.0),
            hooks: vec![PauseHook {
                id: "h".into(),
                status: "AWAITING_ACTION".into(),
                since_ms: None,
            }],
        };
        assert_eq!(
            p.step(),
            "PRE_PRODUCTION_TRAFFIC_SHIFT at 20% of production traffic"
        );
        assert!(p.awaiting(&p.hooks[0]));
        p.stage = Some("POST_TEST_TRAFFIC_SHIFT".into());
        assert_eq!(p.step(), "POST_TEST_TRAFFIC_SHIFT");
        p.status = "ROLLBACK_IN_PROGRESS".into();
        assert!(!p.awaiting(&p.hooks[0]));
    }
}

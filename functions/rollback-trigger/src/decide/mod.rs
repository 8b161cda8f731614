//! The decisions, as plain functions over plain facts: whether an alarm change acts at
//! all, and per target what to do. No SDK types and no I/O here; the adapters in `act/`
//! gather the facts and carry the plan out.
//!
//! One rule makes repeats safe without a database: an alarm can only blame a deployment
//! that started before its state changed. A duplicate delivery, a concurrent invocation
//! or a flapping alarm then finds either a rollback under way, or a newer deployment (the
//! rollback itself), and does nothing. A rollback is never rolled back.

pub mod alarm;
pub mod codedeploy;
pub mod ecs;
pub mod freeze;
pub mod pipeline;

use crate::event::time::format_millis;

/// What to do for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Act(Step),
    /// Nothing to do: already done, in progress, stale, or not applicable.
    Nothing(String),
    /// Acting would not be safe or is not possible: a person must look.
    Refuse(String),
    /// Not possible yet; invoking again later can succeed.
    Later(String),
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `StopServiceDeployment` with `stopType` ROLLBACK.
    EcsStop { deployment: String },
    /// `ContinueServiceDeployment` with `ROLLBACK`: the deployment waits at pause hook
    /// `hook`, and the answer is the rollback (one call).
    EcsPauseRollback { deployment: String, hook: String },
    /// `UpdateService` back to the task definition of the last known good deployment.
    EcsRevert {
        task_definition: String,
        good_deployment: String,
        bad_deployment: String,
    },
    /// `StopDeployment` with `autoRollbackEnabled`.
    CodeDeployStop { deployment: String },
    /// `CreateDeployment` of the revision deployed before `deployment` succeeded.
    CodeDeployRedeploy { deployment: String },
    /// `RollbackStage` to `target`.
    PipelineRollback { target: String, current: String },
    /// `DisableStageTransition` (Inbound) with `reason`.
    Freeze { reason: String },
}

impl Step {
    /// What the step does, for the log, the result and the notification.
    pub fn describe(&self) -> String {
        match self {
            Self::EcsStop { deployment } => {
                format!("stopped service deployment {deployment} with ROLLBACK")
            }
            Self::EcsPauseRollback { deployment, hook } => format!(
                "answered pause hook {hook} of service deployment {deployment} with ROLLBACK"
            ),
            Self::EcsRevert {
                task_definition,
                good_deployment,
                bad_deployment,
            } => format!(
                "updated the service to {task_definition}, the task definition of the last \
                 known good deployment {good_deployment} (undoing {bad_deployment})"
            ),
            Self::CodeDeployStop { deployment } => {
                format!("stopped deployment {deployment} with automatic rollback")
            }
            Self::CodeDeployRedeploy { deployment } => {
                format!("deployed the revision that ran before deployment {deployment} succeeded")
            }
            Self::PipelineRollback { target, current } => {
                format!("rolled the stage back from execution {current} to {target}")
            }
            Self::Freeze { .. } => "disabled the stage's inbound transition".to_owned(),
        }
    }
}

/// When the trigger happened (the alarm's state change, or a request's `requestedAt`);
/// `None` for a request without one.
pub type TriggerTime = Option<i64>;

/// The message for a deployment newer than the trigger.
pub(crate) fn stale(what: &str, started_ms: i64, at: i64) -> String {
    format!(
        "{what} started at {}, after the trigger at {}: the alarm is about an earlier \
         deployment, or this rollback already ran; nothing to do",
        format_millis(started_ms),
        format_millis(at)
    )
}

/// Whether something that started at `started_ms` is newer than the trigger.
pub(crate) fn is_newer(started_ms: i64, at: TriggerTime) -> bool {
    at.is_some_and(|at| started_ms > at)
}

/// For the scenario tables: asserts that `plan` is what `want` says (`"act: <text>"`,
/// `"nothing: <text>"`, `"refuse: <text>"`, `"later: <text>"`, or a bare kind), with an
/// act described by `act`.
#[cfg(test)]
pub(crate) fn assert_plan(name: &str, plan: Plan, act: impl Fn(&Step) -> String, want: &str) {
    let got = match plan {
        Plan::Act(step) => format!("act: {}", act(&step)),
        Plan::Nothing(w) => format!("nothing: {w}"),
        Plan::Refuse(w) => format!("refuse: {w}"),
        Plan::Later(w) => format!("later: {w}"),
    };
    let (kind, says) = want.split_once(": ").unwrap_or((want, ""));
    assert!(
        got.starts_with(kind) && got.contains(says),
        "{name}: got {got}, want {want}"
    );
}

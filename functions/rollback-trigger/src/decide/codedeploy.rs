//! A CodeDeploy deployment group (ECS blue/green, EC2/on-premises), from its latest
//! attempted deployment: an active one is stopped with automatic rollback; one that
//! succeeded is reverted by deploying the revision that ran before it (the deployment's
//! `previousRevision`, which CodeDeploy records). A rollback, CodeDeploy's or this
//! function's, is never rolled back.

use super::{Plan, Step, TriggerTime, is_newer, stale};

/// Who made a deployment that is itself a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackBy {
    /// `creator: codeDeployRollback`.
    CodeDeploy,
    /// Created by this function (its description starts with [`MARK`]).
    ThisFunction,
}

/// The description this function gives the deployments it creates.
pub const MARK: &str = "rollback-trigger:";

/// The latest attempted deployment of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`, `Stopped`.
    pub status: String,
    pub created_ms: i64,
    pub rollback_by: Option<RollbackBy>,
    pub has_previous_revision: bool,
}

const ACTIVE: &[&str] = &["Created", "Queued", "InProgress", "Baking", "Ready"];

/// Decides for the group's latest attempted deployment (`None`: the group has none).
pub fn decide(latest: Option<&Deployment>, at: TriggerTime) -> Plan {
    let Some(d) = latest else {
        return Plan::Refuse("the deployment group has no deployments".to_owned());
    };
    let id = &d.id;
    if is_newer(d.created_ms, at) {
        return Plan::Nothing(stale(
            &format!("deployment {id}"),
            d.created_ms,
            at.unwrap_or(0),
        ));
    }
    if let Some(by) = d.rollback_by {
        let who = match by {
            RollbackBy::CodeDeploy => "CodeDeploy",
            RollbackBy::ThisFunction => "this function",
        };
        return Plan::Nothing(format!(
            "the latest deployment {id} ({}) is a rollback made by {who}; a rollback is not \
             rolled back",
            d.status
        ));
    }
    match d.status.as_str() {
        s if ACTIVE.contains(&s) => Plan::Act(Step::CodeDeployStop {
            deployment: id.clone(),
        }),
        "Succeeded" if d.has_previous_revision => Plan::Act(Step::CodeDeployRedeploy {
            deployment: id.clone(),
        }),
        "Succeeded" => Plan::Refuse(format!(
            "deployment {id} succeeded and CodeDeploy records no revision before it: there is \
             nothing known good to deploy"
        )),
        "Stopped" | "Failed" => Plan::Refuse(format!(
            "the latest deployment {id} already ended {} without a rollback; redeploy the last \
             good revision by hand",
            d.status
        )),
        other => Plan::Refuse(format!(
            "deployment {id} has status {other}, which this function does not know"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::assert_plan;

    fn d(status: &str, created_ms: i64, by: Option<RollbackBy>, previous: bool) -> Deployment {
        Deployment {
            id: "d-1".into(),
            status: status.into(),
            created_ms,
            rollback_by: by,
            has_previous_revision: previous,
        }
    }

    #[test]
    fn each_state() {
        use RollbackBy::*;
        let table: Vec<(&str, Option<Deployment>, TriggerTime, &str)> = vec![
            ("no deployments", None, Some(100), "refuse: no deployments"),
            (
                "in progress",
                Some(d("InProgress", 50, None, true)),
                Some(100),
                "act: stop",
            ),
            (
                "created",
                Some(d("Created", 50, None, false)),
                Some(100),
                "act: stop",
            ),
            (
                "queued",
                Some(d("Queued", 50, None, false)),
                Some(100),
                "act: stop",
            ),
            (
                "baking",
                Some(d("Baking", 50, None, true)),
                Some(100),
                "act: stop",
            ),
            (
                "ready (blue/green wait)",
                Some(d("Ready", 50, None, true)),
                Some(100),
                "act: stop",
            ),
            (
                "succeeded",
                Some(d("Succeeded", 50, None, true)),
                Some(100),
                "act: redeploy",
            ),
            (
                "succeeded, no earlier revision",
                Some(d("Succeeded", 50, None, false)),
                Some(100),
                "refuse: nothing known good",
            ),
            (
                "stale",
                Some(d("InProgress", 150, None, true)),
                Some(100),
                "nothing: after the trigger",
            ),
            (
                "manual without time",
                Some(d("Succeeded", 150, None, true)),
                None,
                "act: redeploy",
            ),
            (
                "duplicate after our redeploy",
                Some(d("InProgress", 150, Some(ThisFunction), true)),
                Some(100),
                "nothing: after the trigger",
            ),
            (
                "flap after our redeploy",
                Some(d("Succeeded", 50, Some(ThisFunction), true)),
                Some(100),
                "nothing: made by this function",
            ),
            (
                "CodeDeploy's rollback running",
                Some(d("InProgress", 50, Some(CodeDeploy), true)),
                Some(100),
                "nothing: made by CodeDeploy",
            ),
            (
                "stopped without rollback",
                Some(d("Stopped", 50, None, true)),
                Some(100),
                "refuse: ended Stopped",
            ),
            (
                "failed without rollback",
                Some(d("Failed", 50, None, true)),
                Some(100),
                "refuse: ended Failed",
            ),
            (
                "unknown status",
                Some(d("Paused", 50, None, true)),
                Some(100),
                "refuse: status Paused",
            ),
        ];
        for (name, latest, at, want) in table {
            let act = |step: &Step| match step {
                Step::CodeDeployStop { .. } => "stop".to_owned(),
                Step::CodeDeployRedeploy { .. } => "redeploy".to_owned(),
                other => format!("{other:?}"),
            };
            assert_plan(name, decide(latest.as_ref(), at), act, want);
        }
    }
}

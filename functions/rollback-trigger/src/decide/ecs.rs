//! An ECS service (deployment controller ECS), from its service deployments:
//!
//! - the newest deployment still running (PENDING, IN_PROGRESS, including blue/green
//!   bake time) is stopped with ROLLBACK;
//! - a newest deployment that completed (SUCCESSFUL) is undone by updating the service
//!   to the task definition of the last known good deployment: the newest SUCCESSFUL
//!   deployment created before it. None: refused.
//!
//! Decided in two steps: the list of deployments says which revisions matter; their task
//! definitions then tell a rollback (the service returned to the task definition it ran
//! before the previous deployment) from a release, since a rollback is never rolled back.

use super::{Plan, Step, TriggerTime, is_newer, stale};
use std::collections::BTreeMap;

/// `ServiceDeployment.status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pending,
    InProgress,
    Successful,
    Stopped,
    StopRequested,
    RollbackRequested,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
    Other(String),
}

impl Status {
    pub fn parse(text: &str) -> Self {
        match text {
            "PENDING" => Self::Pending,
            "IN_PROGRESS" => Self::InProgress,
            "SUCCESSFUL" => Self::Successful,
            "STOPPED" => Self::Stopped,
            "STOP_REQUESTED" => Self::StopRequested,
            "ROLLBACK_REQUESTED" => Self::RollbackRequested,
            "ROLLBACK_IN_PROGRESS" => Self::RollbackInProgress,
            "ROLLBACK_SUCCESSFUL" => Self::RollbackSuccessful,
            "ROLLBACK_FAILED" => Self::RollbackFailed,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One service deployment, from `ListServiceDeployments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub arn: String,
    pub status: Status,
    pub created_ms: i64,
    /// `targetServiceRevisionArn`.
    pub revision: Option<String>,
}

/// The deployments whose task definitions decide the second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    pub current: Deployment,
    /// The last known good: newest SUCCESSFUL created before `current`.
    pub good: Deployment,
    /// The newest SUCCESSFUL created before `good`.
    pub before_good: Option<Deployment>,
}

impl Candidates {
    /// The revision ARNs to describe.
    pub fn revisions(&self) -> Vec<String> {
        [
            Some(&self.current),
            Some(&self.good),
            self.before_good.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|d| d.revision.clone())
        .collect()
    }
}

/// The first step's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum First {
    Plan(Plan),
    /// Describe these deployments' revisions, then call [`second`].
    Revisions(Candidates),
}

/// Decides from the service's deployments (any order).
pub fn first(deployments: &[Deployment], at: TriggerTime) -> First {
    let mut sorted: Vec<&Deployment> = deployments.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.created_ms));
    let Some(current) = sorted.first().copied() else {
        return First::Plan(Plan::Refuse(
            "the service has no service deployments (services with the CODE_DEPLOY or \
             EXTERNAL controller have none: use a codeDeploy target)"
                .to_owned(),
        ));
    };
    if is_newer(current.created_ms, at) {
        let what = format!("the newest deployment {}", current.arn);
        return First::Plan(Plan::Nothing(stale(
            &what,
            current.created_ms,
            at.unwrap_or(0),
        )));
    }
    let arn = &current.arn;
    let plan = match &current.status {
        Status::StopRequested | Status::RollbackRequested | Status::RollbackInProgress => {
            Plan::Nothing(format!(
                "deployment {arn} is already being stopped or rolled back"
            ))
        }
        Status::RollbackSuccessful => {
            Plan::Nothing(format!("deployment {arn} was already rolled back"))
        }
        Status::RollbackFailed => Plan::Refuse(format!(
            "ECS's rollback of deployment {arn} failed; a person must look at the service"
        )),
        Status::Stopped => Plan::Nothing(format!(
            "the newest deployment {arn} was stopped: no rollout to undo"
        )),
        Status::Other(s) => Plan::Refuse(format!(
            "deployment {arn} has status {s}, which this function does not know"
        )),
        Status::Pending | Status::InProgress | Status::Successful => {
            let older_success = |than: i64| {
                sorted
                    .iter()
                    .find(|d| d.status == Status::Successful && d.created_ms < than)
                    .map(|d| (*d).clone())
            };
            match older_success(current.created_ms) {
                Some(good) => {
                    let before_good = older_success(good.created_ms);
                    return First::Revisions(Candidates {
                        current: current.clone(),
                        good,
                        before_good,
                    });
                }
                None if current.status == Status::Successful => Plan::Refuse(format!(
                    "deployment {arn} completed and no earlier deployment succeeded in the \
                     service's history (90 days): there is no known good revision to go back to"
                )),
                // Nothing older to compare with: it cannot be a rollback of ours.
                None => Plan::Act(Step::EcsStop {
                    deployment: arn.clone(),
                }),
            }
        }
    };
    First::Plan(plan)
}

/// A stop of a deployment that waits at a pause hook is the hook's answer instead: ECS
/// rolls back when a waiting pause hook is answered `ROLLBACK` (`awaiting`: the hooks
/// awaiting action, from DescribeServiceDeployments).
pub fn at_pause(plan: Plan, awaiting: &[String]) -> Plan {
    match (plan, awaiting.first()) {
        (Plan::Act(Step::EcsStop { deployment }), Some(hook)) => {
            Plan::Act(Step::EcsPauseRollback {
                deployment,
                hook: hook.clone(),
            })
        }
        (plan, _) => plan,
    }
}

/// Decides from the task definitions of the candidates' revisions (revision ARN ->
/// task definition ARN).
pub fn second(c: &Candidates, task_definitions: &BTreeMap<String, String>) -> Plan {
    let task_def = |d: &Deployment| d.revision.as_ref().and_then(|r| task_definitions.get(r));
    let (Some(current), Some(good)) = (task_def(&c.current), task_def(&c.good)) else {
        return Plan::Later(format!(
            "the task definitions of deployments {} and {} could not be read",
            c.current.arn, c.good.arn
        ));
    };
    let before = c.before_good.as_ref().and_then(task_def);
    if current != good && before == Some(current) {
        return Plan::Nothing(format!(
            "deployment {} returned the service to {current}, which ran before {}: it is a \
             rollback, and a rollback is not rolled back",
            c.current.arn, c.good.arn
        ));
    }
    if c.current.status != Status::Successful {
        return Plan::Act(Step::EcsStop {
            deployment: c.current.arn.clone(),
        });
    }
    if current == good {
        return Plan::Nothing(format!(
            "the service already runs {current}, the task definition of the last known good \
             deployment {}",
            c.good.arn
        ));
    }
    Plan::Act(Step::EcsRevert {
        task_definition: good.clone(),
        good_deployment: c.good.arn.clone(),
        bad_deployment: c.current.arn.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, status: &str, created_ms: i64) -> Deployment {
        Deployment {
            arn: name.to_owned(),
            status: Status::parse(status),
            created_ms,
            revision: Some(format!("rev-{name}")),
        }
    }

    /// Each scenario: deployments, trigger time, expected first step ("revisions" or a
    /// plan fragment).
    #[test]
    fn first_step() {
        let table: Vec<(&str, Vec<Deployment>, TriggerTime, &str)> = vec![
            (
                "no history",
                vec![],
                Some(100),
                "refuse: no service deployments",
            ),
            (
                "in progress, nothing older",
                vec![d("b", "IN_PROGRESS", 50)],
                Some(100),
                "act: EcsStop b",
            ),
            (
                "pending, nothing older",
                vec![d("b", "PENDING", 50)],
                None,
                "act: EcsStop b",
            ),
            (
                "in progress with history",
                vec![d("a", "SUCCESSFUL", 10), d("b", "IN_PROGRESS", 50)],
                Some(100),
                "revisions b a -",
            ),
            (
                "completed with history",
                vec![
                    d("z", "SUCCESSFUL", 5),
                    d("a", "SUCCESSFUL", 10),
                    d("b", "SUCCESSFUL", 50),
                ],
                Some(100),
                "revisions b a z",
            ),
            (
                "completed, only failures before",
                vec![d("a", "ROLLBACK_SUCCESSFUL", 10), d("b", "SUCCESSFUL", 50)],
                Some(100),
                "refuse: no known good",
            ),
            (
                "stale: deployment after the alarm",
                vec![d("a", "SUCCESSFUL", 10), d("b", "IN_PROGRESS", 150)],
                Some(100),
                "nothing: after the trigger",
            ),
            (
                "manual request without time acts on the newest",
                vec![d("a", "SUCCESSFUL", 10), d("b", "SUCCESSFUL", 150)],
                None,
                "revisions b a -",
            ),
            (
                "duplicate: rollback requested",
                vec![d("a", "SUCCESSFUL", 10), d("b", "ROLLBACK_REQUESTED", 50)],
                Some(100),
                "nothing: already being stopped",
            ),
            (
                "duplicate: rollback in progress",
                vec![d("b", "ROLLBACK_IN_PROGRESS", 50)],
                Some(100),
                "nothing: already being stopped",
            ),
            (
                "stop requested",
                vec![d("b", "STOP_REQUESTED", 50)],
                Some(100),
                "nothing: already being stopped",
            ),
            (
                "rolled back",
                vec![d("b", "ROLLBACK_SUCCESSFUL", 50)],
                Some(100),
                "nothing: already rolled back",
            ),
            (
                "rollback failed",
                vec![d("b", "ROLLBACK_FAILED", 50)],
                Some(100),
                "refuse: rollback of deployment b failed",
            ),
            (
                "stopped",
                vec![d("b", "STOPPED", 50)],
                Some(100),
                "nothing: was stopped",
            ),
            (
                "unknown status",
                vec![d("b", "PAUSED", 50)],
                Some(100),
                "refuse: status PAUSED",
            ),
            (
                "order does not matter",
                vec![d("b", "IN_PROGRESS", 50), d("a", "SUCCESSFUL", 10)],
                Some(100),
                "revisions b a -",
            ),
        ];
        for (name, deployments, at, want) in table {
            let got = match first(&deployments, at) {
                First::Revisions(c) => format!(
                    "revisions {} {} {}",
                    c.current.arn,
                    c.good.arn,
                    c.before_good.map_or("-".to_owned(), |d| d.arn)
                ),
                First::Plan(p) => describe(&p),
            };
            let (kind, says) = want.split_once(": ").unwrap_or((want, ""));
            assert!(
                got.starts_with(kind) && got.contains(says),
                "{name}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn a_stop_at_a_pause_hook_is_the_hooks_rollback() {
        let stop = || {
            Plan::Act(Step::EcsStop {
                deployment: "d".into(),
            })
        };
        let revert = || {
            Plan::Act(Step::EcsRevert {
                task_definition: "td:1".into(),
                good_deployment: "g".into(),
                bad_deployment: "b".into(),
            })
        };
        let hooks = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let table = [
            (stop(), hooks(&[]), "act: EcsStop d"),
            (stop(), hooks(&["h1"]), "act: EcsPauseRollback d h1"),
            (stop(), hooks(&["h1", "h2"]), "act: EcsPauseRollback d h1"),
            (revert(), hooks(&["h1"]), "act: EcsRevert"),
            (Plan::Nothing("x".into()), hooks(&["h1"]), "nothing"),
        ];
        for (plan, awaiting, want) in table {
            let got = describe(&at_pause(plan, &awaiting));
            assert!(got.starts_with(want), "got {got}, want {want}");
        }
    }

    /// Each scenario: current status, task definitions of current, good, before good.
    #[test]
    fn second_step() {
        let table: Vec<(&str, &str, [Option<&str>; 3], &str)> = vec![
            (
                "completed release: revert",
                "SUCCESSFUL",
                [Some("td:2"), Some("td:1"), Some("td:0")],
                "act: EcsRevert td:1",
            ),
            (
                "completed, nothing before good",
                "SUCCESSFUL",
                [Some("td:2"), Some("td:1"), None],
                "act: EcsRevert td:1",
            ),
            (
                "in progress release: stop",
                "IN_PROGRESS",
                [Some("td:2"), Some("td:1"), Some("td:0")],
                "act: EcsStop",
            ),
            (
                "flap after our revert completed",
                "SUCCESSFUL",
                [Some("td:1"), Some("td:2"), Some("td:1")],
                "nothing: it is a rollback",
            ),
            (
                "flap while our revert runs",
                "IN_PROGRESS",
                [Some("td:1"), Some("td:2"), Some("td:1")],
                "nothing: it is a rollback",
            ),
            (
                "redeploy of the same revision",
                "SUCCESSFUL",
                [Some("td:1"), Some("td:1"), Some("td:0")],
                "nothing: already runs td:1",
            ),
            (
                "redeploy in progress",
                "IN_PROGRESS",
                [Some("td:1"), Some("td:1"), Some("td:1")],
                "act: EcsStop",
            ),
            (
                "revision unreadable",
                "SUCCESSFUL",
                [None, Some("td:1"), None],
                "later: could not be read",
            ),
        ];
        for (name, status, tds, want) in table {
            let c = Candidates {
                current: d("cur", status, 50),
                good: d("good", "SUCCESSFUL", 20),
                before_good: Some(d("before", "SUCCESSFUL", 10)),
            };
            let map: BTreeMap<String, String> = ["rev-cur", "rev-good", "rev-before"]
                .into_iter()
                .zip(tds)
                .filter_map(|(r, td)| td.map(|td| (r.to_owned(), td.to_owned())))
                .collect();
            let got = describe(&second(&c, &map));
            let (kind, says) = want.split_once(": ").unwrap_or((want, ""));
            assert!(
                got.starts_with(kind) && got.contains(says),
                "{name}: got {got}, want {want}"
            );
        }
    }

    fn describe(p: &Plan) -> String {
        match p {
            Plan::Act(Step::EcsStop { deployment }) => format!("act: EcsStop {deployment}"),
            Plan::Act(Step::EcsPauseRollback { deployment, hook }) => {
                format!("act: EcsPauseRollback {deployment} {hook}")
            }
            Plan::Act(Step::EcsRevert {
                task_definition, ..
            }) => {
                format!("act: EcsRevert {task_definition}")
            }
            Plan::Act(other) => format!("act: {other:?}"),
            Plan::Nothing(why) => format!("nothing: {why}"),
            Plan::Refuse(why) => format!("refuse: {why}"),
            Plan::Later(why) => format!("later: {why}"),
        }
    }
}

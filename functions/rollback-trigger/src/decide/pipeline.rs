//! A CodePipeline V2 stage: `RollbackStage` to the newest execution that succeeded in the
//! stage before the current one and was not itself a rollback.

use super::{Plan, Step, TriggerTime, is_newer, stale};

/// The stage's latest execution, from `GetPipelineState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRun {
    pub execution: String,
    /// `InProgress`, `Stopping`, `Succeeded`, `Failed`, `Stopped`, `Cancelled`.
    pub status: String,
    pub rollback: bool,
}

/// A pipeline execution, from `ListPipelineExecutions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub id: String,
    pub start_ms: Option<i64>,
    pub rollback: bool,
}

/// What is known of the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `None` when the pipeline has no such stage.
    pub stage: Option<Option<StageRun>>,
    /// Recent executions, for their start times.
    pub recent: Vec<Execution>,
    /// Executions that succeeded in the stage (`succeededInStage` filter).
    pub succeeded: Vec<Execution>,
}

pub fn decide(f: &Facts, at: TriggerTime) -> Plan {
    let Some(stage) = &f.stage else {
        return Plan::Refuse(
            "the pipeline has no such stage: check the target's pipeline and stage names"
                .to_owned(),
        );
    };
    let Some(run) = stage else {
        return Plan::Refuse("the stage has never run".to_owned());
    };
    let current = &run.execution;
    let started = f
        .recent
        .iter()
        .chain(&f.succeeded)
        .find(|e| &e.id == current)
        .and_then(|e| e.start_ms);
    if let Some(started) = started.filter(|s| is_newer(*s, at)) {
        return Plan::Nothing(stale(
            &format!("execution {current}"),
            started,
            at.unwrap_or(0),
        ));
    }
    if run.rollback {
        return Plan::Nothing(format!(
            "the stage's latest execution {current} is a rollback ({}); a rollback is not \
             rolled back",
            run.status
        ));
    }
    if matches!(run.status.as_str(), "InProgress" | "Stopping") {
        return Plan::Later(format!(
            "the stage is running execution {current}; CodePipeline rolls back only a stage \
             that has finished"
        ));
    }
    let target = f.succeeded.iter().find(|e| {
        &e.id != current
            && !e.rollback
            && match (e.start_ms, started) {
                (Some(e), Some(s)) => e < s,
                _ => true,
            }
    });
    match target {
        Some(t) => Plan::Act(Step::PipelineRollback {
            target: t.id.clone(),
            current: current.clone(),
        }),
        None => Plan::Refuse(format!(
            "no execution before {current} succeeded in the stage (rollbacks do not count): \
             there is nothing to roll back to"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::assert_plan;

    fn run(id: &str, status: &str, rollback: bool) -> Option<Option<StageRun>> {
        Some(Some(StageRun {
            execution: id.into(),
            status: status.into(),
            rollback,
        }))
    }

    fn e(id: &str, start: i64, rollback: bool) -> Execution {
        Execution {
            id: id.into(),
            start_ms: Some(start),
            rollback,
        }
    }

    /// Name, stage, executions that succeeded in it, trigger time, expected plan.
    type Row = (
        &'static str,
        Option<Option<StageRun>>,
        Vec<Execution>,
        TriggerTime,
        &'static str,
    );

    #[test]
    fn each_state() {
        // Executions newest first, as CodePipeline lists them.
        let history = vec![
            e("c", 50, false),
            e("r", 30, true),
            e("b", 20, false),
            e("a", 10, false),
        ];
        let succeeded = vec![
            e("c", 50, false),
            e("r", 30, true),
            e("b", 20, false),
            e("a", 10, false),
        ];
        let table: Vec<Row> = vec![
            (
                "succeeded stage: back to the newest earlier success, skipping rollbacks",
                run("c", "Succeeded", false),
                succeeded.clone(),
                Some(100),
                "act: b",
            ),
            (
                "failed stage",
                run("c", "Failed", false),
                succeeded[1..].to_vec(),
                Some(100),
                "act: b",
            ),
            (
                "no such stage",
                None,
                vec![],
                Some(100),
                "refuse: no such stage",
            ),
            (
                "never ran",
                Some(None),
                vec![],
                Some(100),
                "refuse: never run",
            ),
            (
                "stale",
                run("c", "Succeeded", false),
                succeeded.clone(),
                Some(40),
                "nothing: after the trigger",
            ),
            (
                "duplicate: our rollback running",
                run("r2", "InProgress", true),
                succeeded.clone(),
                Some(100),
                "nothing: is a rollback",
            ),
            (
                "flap: our rollback done",
                run("r2", "Succeeded", true),
                succeeded.clone(),
                Some(100),
                "nothing: is a rollback",
            ),
            (
                "running",
                run("c", "InProgress", false),
                succeeded[1..].to_vec(),
                Some(100),
                "later: running execution c",
            ),
            (
                "stopping",
                run("c", "Stopping", false),
                succeeded[1..].to_vec(),
                Some(100),
                "later: running",
            ),
            (
                "nothing earlier",
                run("a", "Succeeded", false),
                vec![e("a", 10, false)],
                Some(100),
                "refuse: nothing to roll back to",
            ),
            (
                "only rollbacks earlier",
                run("c", "Succeeded", false),
                vec![e("c", 50, false), e("r", 30, true)],
                Some(100),
                "refuse: nothing to roll back to",
            ),
            (
                "manual without time",
                run("c", "Succeeded", false),
                succeeded.clone(),
                None,
                "act: b",
            ),
        ];
        for (name, stage, succeeded, at, want) in table {
            let facts = Facts {
                stage,
                recent: history.clone(),
                succeeded,
            };
            let act = |step: &Step| match step {
                Step::PipelineRollback { target, .. } => target.clone(),
                other => format!("{other:?}"),
            };
            assert_plan(name, decide(&facts, at), act, want);
        }
    }
}

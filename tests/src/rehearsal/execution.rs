//! One pipeline execution, played as CodePipeline plays it: stage after stage, the actions
//! of a stage by run order (the same run order at once), variables resolved in each
//! action's configuration from the earlier actions' output variables, artifacts passed
//! through the artifact store, and the execution stopped at the first failed action.

use super::pipeline::{Action, Pipeline, Stage};
use super::releases::Release;
use super::report::{Printer, Step};
use super::variables::Variables;
use super::world::World;
use super::{alarm, build, deploy, invoke, source};
use crate::local_aws::LocalAws;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// Where an artifact is in the artifact store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub key: String,
}

/// What the actions learned that the end of the release is checked against.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The image the build pushed (URI with tag) and its digest.
    pub image: Option<String>,
    pub digest: Option<String>,
    /// The cosign signature the build stored beside the image, if it signed.
    pub signature: Option<super::cosign::Signature>,
    /// The revision bundle the CodeDeploy (EC2) action deployed.
    pub bundle_key: Option<String>,
    /// Promotions that succeeded, and their stages.
    pub promoted: u32,
    pub promoted_in: Vec<String>,
    /// Deployments started (CodeDeploy ids, ECS service deployment ARNs).
    pub deployments: Vec<String>,
}

pub struct Execution<'a> {
    pub aws: &'a LocalAws,
    pub world: &'a World,
    pub pipeline: &'a Pipeline,
    pub release: &'a Release,
    pub id: String,
    pub printer: Printer,
    pub facts: Mutex<Facts>,
}

/// What one action gives back to the pipeline.
pub struct Outcome {
    pub step: Step,
    pub variables: Map<String, Value>,
    pub artifacts: Vec<(String, Location)>,
}

impl Outcome {
    pub fn new(step: Step) -> Self {
        Self {
            step,
            variables: Map::new(),
            artifacts: Vec::new(),
        }
    }

    pub fn fail(mut step: Step, summary: impl Into<String>) -> Self {
        step.result = "Failed".into();
        step.summary = summary.into();
        Self::new(step)
    }

    /// What an action came to, or `step` failed with the error that stopped it.
    pub fn settle(step: Step, result: Result<Outcome, String>) -> Self {
        result.unwrap_or_else(|e| Self::fail(step, e))
    }
}

/// An action as it runs: its resolved configuration and input artifacts.
pub struct Running<'a> {
    pub stage: &'a Stage,
    pub action: &'a Action,
    pub config: Map<String, Value>,
    pub inputs: Vec<(String, Location)>,
}

impl Running<'_> {
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }

    pub fn step(&self) -> Step {
        Step::new(&self.stage.name, &self.action.name, &self.action.provider)
    }

    pub fn input(&self, name: &str) -> Option<&Location> {
        self.inputs.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    /// Where an output artifact of this action goes in the artifact store.
    pub fn output_location(&self, ex: &Execution<'_>, name: &str) -> Location {
        Location {
            bucket: ex.world.artifact_bucket.clone(),
            key: format!(
                "{}/{}/{}/{name}.zip",
                ex.pipeline.name, ex.id, self.action.name
            ),
        }
    }
}

impl Execution<'_> {
    /// Plays the pipeline; the steps in the order they ended.
    pub async fn run(&self) -> Vec<Step> {
        let mut vars = Variables::default();
        vars.set("codepipeline", "PipelineExecutionId", &self.id);
        for (k, v) in &self.pipeline.variables {
            vars.set("variables", k, v);
        }
        let mut artifacts: BTreeMap<String, Location> = BTreeMap::new();
        let mut steps = Vec::new();
        let mut failed = false;
        for stage in &self.pipeline.stages {
            // A stage whose inbound transition is disabled (frozen) is not entered.
            if !failed
                && let Some((_, reason)) = disabled_transitions(self.aws, &self.pipeline.name)
                    .await
                    .into_iter()
                    .find(|(s, _)| *s == stage.name)
            {
                failed = true;
                let mut step = Step::new(&stage.name, "(transition)", "CodePipeline");
                step.result = "Skipped".into();
                step.summary = format!("the transition into {} is disabled: {reason}", stage.name);
                self.printer.step(&step);
                steps.push(step);
            }
            let mut orders: Vec<u32> = stage.actions.iter().map(|a| a.run_order).collect();
            orders.sort_unstable();
            orders.dedup();
            for order in orders {
                let group: Vec<&Action> = stage
                    .actions
                    .iter()
                    .filter(|a| a.run_order == order)
                    .collect();
                if failed {
                    for action in group {
                        let mut step = Step::new(&stage.name, &action.name, &action.provider);
                        step.result = "Skipped".into();
                        step.summary = "not reached: an earlier action failed".into();
                        self.printer.step(&step);
                        steps.push(step);
                    }
                    continue;
                }
                let plays = group
                    .iter()
                    .map(|action| self.play(stage, action, &vars, &artifacts));
                for outcome in futures::future::join_all(plays).await {
                    let action = stage.actions.iter().find(|a| a.name == outcome.step.action);
                    if let Some(ns) = action.and_then(|a| a.namespace.as_deref()) {
                        vars.set_all(ns, &outcome.variables);
                    }
                    artifacts.extend(outcome.artifacts);
                    failed |= outcome.step.failed();
                    self.printer.step(&outcome.step);
                    steps.push(outcome.step);
                }
                // Alarm state changes go to rollback-trigger as EventBridge delivers them.
                steps.extend(alarm::deliver_pending(self).await);
            }
        }
        steps
    }

    async fn play(
        &self,
        stage: &Stage,
        action: &Action,
        vars: &Variables,
        artifacts: &BTreeMap<String, Location>,
    ) -> Outcome {
        let started = Instant::now();
        let step = Step::new(&stage.name, &action.name, &action.provider);
        let mut config = Map::new();
        for (k, v) in &action.configuration {
            match vars.substitute(v.as_str().unwrap_or_default()) {
                Ok(s) => {
                    config.insert(k.clone(), Value::String(s));
                }
                Err(missing) => {
                    return Outcome::fail(
                        step,
                        format!(
                            "configuration {k}: no variable {} (an earlier action with that namespace must output it)",
                            missing.join(", ")
                        ),
                    );
                }
            }
        }
        let mut inputs = Vec::new();
        for name in &action.inputs {
            match artifacts.get(name) {
                Some(l) => inputs.push((name.clone(), l.clone())),
                None => {
                    return Outcome::fail(
                        step,
                        format!("input artifact {name} is the output of no earlier action"),
                    );
                }
            }
        }
        let running = Running {
            stage,
            action,
            config,
            inputs,
        };
        if action.category == "Deploy" {
            // What the new tasks or instances of this target do in this release.
            let index = self
                .world
                .targets
                .iter()
                .position(|t| t.stage == stage.name);
            let script = self.release.script_for(index);
            if let Err(e) = super::control(self.aws, "POST", "script", script).await {
                return Outcome::fail(
                    step,
                    format!("the local AWS refused the release's script: {e}"),
                );
            }
        }
        let mut outcome = match (action.category.as_str(), action.provider.as_str()) {
            ("Source", _) => source::play(self, &running).await,
            ("Build" | "Test", _) => build::play(self, &running).await,
            ("Invoke", "Lambda") => invoke::play(self, &running).await,
            ("Deploy", "CodeDeployToECS") => deploy::codedeploy_ecs(self, &running).await,
            ("Deploy", "ECS") => deploy::ecs(self, &running).await,
            ("Deploy", "CodeDeploy") => deploy::codedeploy_ec2(self, &running).await,
            ("Approval", _) => {
                let mut step = running.step();
                step.summary = "approved (the rehearsal approves manual approvals)".into();
                Outcome::new(step)
            }
            (category, provider) => Outcome::fail(
                running.step(),
                format!("the rehearsal does not play {category} actions of provider {provider}"),
            ),
        };
        outcome.step.duration_ms = started.elapsed().as_millis() as u64;
        if !outcome.variables.is_empty() {
            let shown: Vec<String> = outcome
                .variables
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            let ns = action.namespace.as_deref().unwrap_or("(no namespace)");
            outcome
                .step
                .details
                .push(format!("variables {ns}: {}", shown.join(", ")));
        }
        outcome.step.variables = outcome.variables.clone();
        outcome
    }
}

/// The stages whose inbound transition is disabled, with the reason given.
pub async fn disabled_transitions(aws: &LocalAws, pipeline: &str) -> Vec<(String, String)> {
    let state = aws
        .json_call(
            "CodePipeline_20150709.GetPipelineState",
            &serde_json::json!({"name": pipeline}),
        )
        .await
        .unwrap_or_default();
    state["stageStates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["inboundTransitionState"]["enabled"] == false)
        .map(|s| {
            (
                s["stageName"].as_str().unwrap_or_default().to_owned(),
                s["inboundTransitionState"]["disabledReason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

//! The releases rehearsed on each pipeline, with the script the local AWS plays for
//! each (what the new tasks or instances do) and what must come of it.

use super::world::{Kind, World};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Release {
    /// `good` or `bad`.
    pub name: &'static str,
    pub version: String,
    pub good: bool,
    /// The emulator's script (`/_local/rehearsal/script`).
    pub script: Value,
    /// What should happen, in a sentence.
    pub expected: String,
    /// A bad release: the providers (or functions) of which one must be the first to
    /// fail, and whether rollback-trigger must have acted on an alarm.
    pub fails_in: &'static [&'static str],
    pub alarm_rollback: bool,
    /// The deploy target (index in `World::targets`) the script plays on; the others
    /// deploy as a good release does.
    pub breaks: usize,
    /// The stage whose inbound transition rollback-trigger must have disabled.
    pub freezes: Option<String>,
    /// A canary or linear deployment's production traffic steps (percent, the last 100),
    /// each gated by the health gate's `PRODUCTION_TRAFFIC_SHIFT` hook.
    pub steps: Vec<f64>,
}

impl Release {
    /// What the local AWS plays for the deploy target `index`.
    pub fn script_for(&self, index: Option<usize>) -> Value {
        if index.unwrap_or(self.breaks) == self.breaks {
            self.script.clone()
        } else {
            json!({})
        }
    }
}

/// A good release, then a bad one, for the pipeline's kind of deployment.
pub fn of(world: &World) -> Vec<Release> {
    let good = Release {
        name: "good",
        version: "v2".into(),
        good: true,
        script: json!({}),
        expected: format!(
            "deployed: the gate passes after its bake and the image is promoted{}",
            verified(world)
        ),
        fails_in: &[],
        alarm_rollback: false,
        breaks: 0,
        freezes: None,
        steps: Vec::new(),
    };
    if let Some(bad) = across_accounts(world) {
        return vec![good, bad];
    }
    let bad = match world.kind {
        Kind::EcsCodeDeploy => Release {
            name: "bad",
            version: "v3".into(),
            good: false,
            script: json!({"alarmAfterShift": true}),
            expected: format!(
                "alarm {} fires after the traffic shift: the gate fails the bake, rollback-trigger rolls {}/{} back, the service returns to the previous revision",
                world.alarm, world.application, world.group
            ),
            fails_in: &["health-gate"],
            alarm_rollback: true,
            breaks: 0,
            freezes: None,
            steps: Vec::new(),
        },
        Kind::EcsNative => Release {
            name: "bad",
            version: "v3".into(),
            good: false,
            script: json!({"targets": "unhealthy"}),
            expected: "the new tasks fail their health checks: the gate fails the lifecycle hook, ECS rolls back to the previous revision".into(),
            fails_in: &["ECS"],
            alarm_rollback: false,
            breaks: 0,
            freezes: None,
            steps: Vec::new(),
        },
        Kind::Ec2CodeDeploy => Release {
            name: "bad",
            version: "v3".into(),
            good: false,
            script: json!({"failInstance": world.instances.get(1).cloned().unwrap_or_default(),
                           "failEvent": "ValidateService"}),
            expected: if world.real.is_some() {
                format!(
                    "the release's health page answers 500: instance {} fails ValidateService, the deployment fails and rolls back (or the gate stops it with rollback), every instance runs the previous release's container again from the image still on it",
                    world.instances.first().cloned().unwrap_or_default()
                )
            } else {
                format!(
                    "instance {} fails ValidateService: the gate stops the deployment with rollback, the group returns to the previous revision",
                    world.instances.get(1).cloned().unwrap_or_default()
                )
            },
            fails_in: &["CodeDeploy", "health-gate"],
            alarm_rollback: false,
            breaks: 0,
            freezes: None,
            steps: Vec::new(),
        },
    };
    if world.kind == Kind::EcsNative {
        return vec![good, bad, canary()];
    }
    vec![good, bad]
}

/// `; A and B verify the build's cosign signature and copy it`, for the promotions that
/// require a signature (none: nothing).
fn verified(world: &World) -> String {
    let names: Vec<&str> = world
        .verified_promotions
        .iter()
        .map(|p| p.action.as_str())
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!("; {one} verifies the build's cosign signature and copies it"),
        [first @ .., last] => format!(
            "; {} and {last} verify the build's cosign signature and copy it",
            first.join(", ")
        ),
    }
}

/// A canary deployment (10% of production traffic, then all of it) whose new tasks go
/// bad at the second step: the gate passes the first step and fails the second.
fn canary() -> Release {
    Release {
        name: "canary",
        version: "v4".into(),
        good: false,
        script: json!({"failStep": 2}),
        expected: "a canary deployment, 10% then 100% of production traffic: the gate passes the 10% step, the new tasks fail their health checks at 100%, the gate fails that step and ECS rolls back to the previous revision".into(),
        fails_in: &["ECS"],
        alarm_rollback: false,
        breaks: 0,
        freezes: None,
        steps: vec![10.0, 100.0],
    }
}

/// A pipeline that deploys to more than one account: the bad release passes the first
/// account and breaks the first deploy in the next one, whose alarm (in that account)
/// rolls the service back there and freezes the stage after it (in the tools account).
fn across_accounts(world: &World) -> Option<Release> {
    let first = world.targets.first()?;
    let (breaks, target) = world
        .targets
        .iter()
        .enumerate()
        .find(|(_, t)| t.account != first.account)?;
    let freezes = target
        .alarm_tags
        .get("rollback:freeze")
        .and_then(|f| f.split_once('/'))
        .map(|(_, stage)| stage.to_owned());
    Some(Release {
        name: "bad",
        version: "v3".into(),
        good: false,
        script: json!({"alarmAfterShift": true}),
        expected: format!(
            "passes {}; alarm {}{} fires after its deployment: rollback-trigger rolls {}/{} back there{}, the gate fails the bake",
            first.stage,
            target.alarm,
            target.place(),
            target.cluster,
            target.service,
            freezes
                .as_deref()
                .map(|s| format!(" and freezes stage {s} in the tools account"))
                .unwrap_or_default()
        ),
        fails_in: &["health-gate"],
        alarm_rollback: true,
        breaks,
        freezes,
        steps: Vec::new(),
    })
}

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
}

/// A good release, then a bad one, for the pipeline's kind of deployment.
pub fn of(world: &World) -> Vec<Release> {
    let good = Release {
        name: "good",
        version: "v2".into(),
        good: true,
        script: json!({}),
        expected: "deployed: the gate passes after its bake and the image is promoted".into(),
        fails_in: &[],
        alarm_rollback: false,
    };
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
        },
        Kind::EcsNative => Release {
            name: "bad",
            version: "v3".into(),
            good: false,
            script: json!({"targets": "unhealthy"}),
            expected: "the new tasks fail their health checks: the gate fails the lifecycle hook, ECS rolls back to the previous revision".into(),
            fails_in: &["ECS"],
            alarm_rollback: false,
        },
        Kind::Ec2CodeDeploy => Release {
            name: "bad",
            version: "v3".into(),
            good: false,
            script: json!({"failInstance": world.instances.get(1).cloned().unwrap_or_default(),
                           "failEvent": "ValidateService"}),
            expected: format!(
                "instance {} fails ValidateService: the gate stops the deployment with rollback, the group returns to the previous revision",
                world.instances.get(1).cloned().unwrap_or_default()
            ),
            fails_in: &["CodeDeploy", "health-gate"],
            alarm_rollback: false,
        },
    };
    vec![good, bad]
}

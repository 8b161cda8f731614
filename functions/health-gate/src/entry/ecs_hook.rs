//! An ECS native blue/green lifecycle hook: one pass per invocation; `IN_PROGRESS` with
//! `callBackDelay` until a verdict, the state kept in `hookDetails.gateState` (ECS merges
//! the returned details into the next event of the same hook). A rollback (the weights
//! reversed) is answered `SUCCEEDED` at once: the gate never blocks ECS's own rollback.
//!
//! Configuration: `HEALTH_GATE_CONFIG` as the base, keys in the hook's `hookDetails`
//! replacing its keys. With `ecs` configured, the deployment is the event's.

use super::{GateState, HealthGate, NAME, now_ms, pass};
use crate::checks::Vantage;
use crate::config::{self, Config, Entry};
use crate::decide::{Verdict, due_in};
use crate::error::GateError;
use serde_json::{Map, Value, json};
use shared::trigger::EcsExecutionDetails;
use shared::{EcsHook, EcsHookAnswer, EcsHookEvent, HookContext};
use std::sync::Arc;

/// The keys the gate itself writes into `hookDetails`; not configuration.
const OWN_KEYS: [&str; 5] = ["gateState", "verdict", "summary", "reason", "step"];

/// Whether ECS is rolling back: the target revision at 0 and another revision at 100 in
/// the test or production weights. Returns what is shown.
pub fn rollback(details: &EcsExecutionDetails) -> Option<String> {
    let target = details.target_service_revision_arn.as_deref()?;
    for (kind, weights) in [
        ("test", &details.test_traffic_weights),
        ("production", &details.production_traffic_weights),
    ] {
        let target_zero = weights.get(target).is_some_and(|w| *w <= 0.0);
        let other = weights
            .iter()
            .find(|(arn, w)| *arn != target && **w >= 100.0);
        if let (true, Some((other, _))) = (target_zero, other) {
            return Some(format!(
                "ECS is rolling back: {kind} traffic is back on {other}; the gate does not block a rollback"
            ));
        }
    }
    None
}

/// The stage and traffic step an invocation belongs to: each linear or canary step is
/// gated afresh.
fn step(event: &EcsHookEvent) -> String {
    let d = &event.execution_details;
    let target = d.target_service_revision_arn.as_deref().unwrap_or_default();
    let weight = d
        .production_traffic_weights
        .get(target)
        .or_else(|| d.test_traffic_weights.get(target));
    match weight {
        Some(w) => format!("{}@{w}", event.lifecycle_stage),
        None => event.lifecycle_stage.clone(),
    }
}

/// The step as the summary names it: `PRODUCTION_TRAFFIC_SHIFT at 10% of production
/// traffic` (a linear or canary step), or the stage.
fn judged(event: &EcsHookEvent) -> String {
    let d = &event.execution_details;
    let target = d.target_service_revision_arn.as_deref().unwrap_or_default();
    for (kind, weights) in [
        ("production", &d.production_traffic_weights),
        ("test", &d.test_traffic_weights),
    ] {
        if let Some(w) = weights.get(target) {
            return format!("{} at {w}% of {kind} traffic", event.lifecycle_stage);
        }
    }
    event.lifecycle_stage.clone()
}

/// Splits `hookDetails` into the gate's own state and the configuration keys.
fn split(details: Option<&Value>) -> (Option<GateState>, Map<String, Value>) {
    let mut map = match details {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let state = map
        .get("gateState")
        .and_then(|s| serde_json::from_value(s.clone()).ok());
    for key in OWN_KEYS {
        map.remove(key);
    }
    (state, map)
}

impl EcsHook for HealthGate {
    type Error = GateError;
    const NAME: &'static str = NAME;

    async fn check(
        self: Arc<Self>,
        ctx: HookContext<EcsHookEvent>,
    ) -> Result<EcsHookAnswer, GateError> {
        let event = ctx.event;
        if let Some(why) = rollback(&event.execution_details) {
            tracing::info!(reason = %why, "rollback recognised");
            return Ok(EcsHookAnswer::Succeeded {
                details: json!({"verdict": "rollback", "summary": why}),
            });
        }
        let (saved, keys) = split(event.hook_details.as_ref());
        let mut config: Config = Config::merged(config::from_env()?.as_ref(), &keys)?;
        config.check(Entry::EcsHook)?;
        if let Some(ecs) = config.ecs.as_mut()
            && ecs.deployment_arn.is_none()
        {
            ecs.deployment_arn = event.resource_arn.clone();
        }
        let step = step(&event);
        let revision = event
            .execution_details
            .target_service_revision_arn
            .as_deref();
        let now = now_ms();
        let state = saved
            .filter(|s| s.step.as_deref() == Some(step.as_str()))
            .unwrap_or_else(|| GateState {
                step: Some(step.clone()),
                ..GateState::start(now)
            });
        let timing = config.timing();
        let delay = |ms: u64| ms.div_ceil(1000).clamp(1, u64::from(u32::MAX)) as u32;
        if let Some(wait) = due_in(&timing, &state.progress, now) {
            return Ok(EcsHookAnswer::InProgress {
                callback_delay_s: delay(wait),
                details: json!({"gateState": state, "summary": "waiting for the next pass"}),
            });
        }
        let judged = judged(&event);
        let (verdict, state, _, text) = pass(
            &self.clients,
            &config,
            state,
            Vantage::Hook {
                revision,
                codedeploy: None,
            },
            None,
        )
        .await;
        let text = format!("{judged}: {text}");
        Ok(match verdict {
            Verdict::Passed => EcsHookAnswer::Succeeded {
                details: json!({"verdict": "passed", "step": judged, "summary": text}),
            },
            Verdict::Failed { .. } | Verdict::Inconclusive { .. } => EcsHookAnswer::Failed {
                details: json!({"verdict": verdict.word(), "step": judged, "summary": text}),
            },
            Verdict::Wait { after_ms, .. } => EcsHookAnswer::InProgress {
                callback_delay_s: delay(after_ms),
                details: json!({"gateState": state, "summary": text}),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const BLUE: &str = "arn:aws:ecs:us-east-1:1:service-revision/c/web/1";
    const GREEN: &str = "arn:aws:ecs:us-east-1:1:service-revision/c/web/2";

    fn details(test: &[(&str, f64)], prod: &[(&str, f64)]) -> EcsExecutionDetails {
        let map = |w: &[(&str, f64)]| {
            w.iter()
                .map(|(a, w)| ((*a).to_owned(), *w))
                .collect::<BTreeMap<_, _>>()
        };
        EcsExecutionDetails {
            target_service_revision_arn: Some(GREEN.into()),
            test_traffic_weights: map(test),
            production_traffic_weights: map(prod),
            ..EcsExecutionDetails::default()
        }
    }

    #[test]
    fn a_rollback_is_recognised_by_reversed_weights() {
        let cases = [
            (details(&[], &[]), false),
            (details(&[(GREEN, 100.0), (BLUE, 0.0)], &[]), false),
            (details(&[], &[(GREEN, 10.0), (BLUE, 90.0)]), false), // a linear step
            (details(&[(GREEN, 0.0), (BLUE, 100.0)], &[]), true),
            (details(&[], &[(GREEN, 0.0), (BLUE, 100.0)]), true),
        ];
        for (d, want) in cases {
            assert_eq!(rollback(&d).is_some(), want, "{d:?}");
        }
        let why = rollback(&details(&[], &[(GREEN, 0.0), (BLUE, 100.0)])).unwrap();
        assert!(
            why.contains("production traffic is back on") && why.contains(BLUE),
            "{why}"
        );
    }

    #[test]
    fn each_linear_step_has_its_own_state() {
        let event = |w: f64| EcsHookEvent {
            execution_id: "e".into(),
            lifecycle_stage: "PRODUCTION_TRAFFIC_SHIFT".into(),
            resource_arn: None,
            execution_details: details(&[], &[(GREEN, w), (BLUE, 100.0 - w)]),
            hook_details: None,
        };
        assert_eq!(step(&event(10.0)), "PRODUCTION_TRAFFIC_SHIFT@10");
        assert_ne!(step(&event(10.0)), step(&event(20.0)));
        assert_eq!(
            judged(&event(10.0)),
            "PRODUCTION_TRAFFIC_SHIFT at 10% of production traffic"
        );
        let mut plain = event(10.0);
        plain.execution_details = EcsExecutionDetails::default();
        assert_eq!(judged(&plain), "PRODUCTION_TRAFFIC_SHIFT");
    }

    #[test]
    fn hook_details_split_into_state_and_configuration() {
        let state = GateState {
            step: Some("POST_SCALE_UP".into()),
            ..GateState::start(5)
        };
        let d = json!({"gateState": state, "summary": "x", "alarms": {"names": ["a"]}});
        let (saved, keys) = split(Some(&d));
        assert_eq!(saved, Some(state));
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["alarms"]);
    }
}

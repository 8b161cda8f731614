//! One local AWS per test binary, the handler called directly with real SDK clients, and
//! builders for alarm events and seeded deployment histories.
#![allow(dead_code)]

use rollback_trigger::RollbackTrigger;
use rollback_trigger::config::Settings;
use rollback_trigger::error::RollbackError;
use serde_json::{Value, json};
use std::sync::MutexGuard;
use std::time::{SystemTime, UNIX_EPOCH};
use testkit::per_binary::PerBinary;
use testkit::{Call, LocalAws};

pub const ACCOUNT: &str = "123456789012";

pub use testkit::per_binary::RT;

pub struct Env {
    pub aws: LocalAws,
    pub sdk: aws_config::SdkConfig,
}

impl AsRef<LocalAws> for Env {
    fn as_ref(&self) -> &LocalAws {
        &self.aws
    }
}

static ENV: PerBinary<Env> = PerBinary::new();

/// The shared local AWS, and a guard that keeps tests from interleaving their calls.
pub fn env() -> (&'static Env, MutexGuard<'static, ()>) {
    ENV.get(|aws, sdk| async { Env { aws, sdk } })
}

impl Env {
    /// The function with `settings` (ROLLBACK_TARGETS, DRY_RUN, ...).
    pub fn function(&self, vars: &[(&str, &str)]) -> RollbackTrigger {
        let settings = Settings::from_env(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        });
        RollbackTrigger::with_settings(&self.sdk, settings).in_account(ACCOUNT)
    }

    pub async fn seed(&self, histories: Value) {
        self.aws.seed_deployments(histories).await;
    }

    /// The calls made since the last reset, without the control API.
    pub async fn calls(&self) -> Vec<Call> {
        self.aws.calls().await
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Epoch seconds `minutes` from now (negative: in the past), as the emulator takes them.
pub fn at(minutes: i64) -> f64 {
    (now_ms() + minutes * 60_000) as f64 / 1000.0
}

/// CloudWatch's timestamp form for `minutes` from now.
pub fn stamp(minutes: i64) -> String {
    let ms = now_ms() + minutes * 60_000;
    rollback_trigger::event::time::format_millis(ms)
}

pub fn alarm_arn(name: &str) -> String {
    format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}")
}

/// An EventBridge alarm state change into `state` at `minutes` from now.
pub fn eventbridge(name: &str, state: &str, minutes: i64, tags: Option<Value>) -> Value {
    let mut detail = json!({
        "alarmName": name,
        "state": {"value": state, "reason": "test", "timestamp": stamp(minutes)},
        "previousState": {"value": if state == "ALARM" { "OK" } else { "ALARM" }, "reason": "test",
                          "timestamp": stamp(minutes - 5)},
        "configuration": {"description": null, "metrics": []},
    });
    if let Some(tags) = tags {
        detail["alarmTags"] = tags;
    }
    json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
        "account": ACCOUNT, "time": stamp(minutes), "region": "us-east-1",
        "resources": [alarm_arn(name)], "detail": detail,
    })
}

/// An ECS service with deployments `(id, status, minutes from now, task definition revision)`.
pub fn ecs_service(cluster: &str, service: &str, deployments: &[(&str, &str, i64, u32)]) -> Value {
    let list: Vec<Value> = deployments
        .iter()
        .map(|(id, status, minutes, rev)| {
            json!({
            "id": id, "status": status, "createdAt": at(*minutes),
            "taskDefinition": task_definition(service, *rev)})
        })
        .collect();
    json!({"ecsServices": [{"cluster": cluster, "service": service, "deployments": list}]})
}

pub fn task_definition(family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{revision}")
}

/// A CodeDeploy group with deployments `(id, status, minutes from now, revision key)`.
pub fn codedeploy_group(
    application: &str,
    group: &str,
    deployments: &[(&str, &str, i64, &str)],
) -> Value {
    let list: Vec<Value> = deployments
        .iter()
        .map(|(id, status, minutes, key)| json!({
            "id": id, "status": status, "createTime": at(*minutes),
            "revision": {"revisionType": "S3", "s3Location": {"bucket": "revisions", "key": key, "bundleType": "zip"}}}))
        .collect();
    json!({"codedeployGroups": [{"application": application, "group": group, "deployments": list}]})
}

/// The successful calls of `operation`.
pub fn writes<'a>(calls: &'a [Call], operation: &str) -> Vec<&'a Call> {
    calls
        .iter()
        .filter(|c| c.operation == operation && c.status == 200)
        .collect()
}

/// The operations that change something.
pub const WRITES: &[&str] = &[
    "StopServiceDeployment",
    "ContinueServiceDeployment",
    "UpdateService",
    "StopDeployment",
    "CreateDeployment",
    "RollbackStage",
    "DisableStageTransition",
    "Publish",
];

pub fn any_write(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| WRITES.contains(&c.operation.as_str()))
        .map(|c| c.operation.clone())
        .collect()
}

/// The decisions of a handled event: `(outcome, action or reason)` per target.
pub fn decisions(result: &Result<Value, RollbackError>) -> Vec<(String, String)> {
    let value = match result {
        Ok(v) => v,
        Err(e) => panic!("the handler failed: {e}"),
    };
    value["decisions"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|d| {
            let text = d["action"]
                .as_str()
                .or(d["reason"].as_str())
                .unwrap_or_default();
            (
                d["outcome"].as_str().unwrap_or_default().to_owned(),
                text.to_owned(),
            )
        })
        .collect()
}

/// Asserts one decision with `outcome` whose text contains `says`.
pub fn expect_one(result: &Result<Value, RollbackError>, outcome: &str, says: &str) {
    let found = decisions(result);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, outcome, "{found:?}");
    assert!(found[0].1.contains(says), "{found:?} should say {says}");
}

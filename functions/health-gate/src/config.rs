//! What the gate checks and how long it waits: `UserParameters` for the pipeline action,
//! the hook's `hookDetails` for ECS hooks, and `HEALTH_GATE_CONFIG` (the same JSON) for
//! CodeDeploy hooks and as the base that `hookDetails` keys replace. Unknown keys are
//! refused with the accepted ones listed. Durations are seconds (`30`) or text (`"90s"`,
//! `"5m"`, `"1h"`, `"500ms"`).
//!
//! ```json
//! {"ecs": {"cluster": "prod", "service": "web"},
//!  "targets": {"targetGroups": ["arn:aws:elasticloadbalancing:...:targetgroup/web-green/1"], "minHealthyPercent": 100},
//!  "alarms": {"names": ["web-5xx"], "prefix": "web-"},
//!  "metrics": [{"id": "p99", "namespace": "AWS/ApplicationELB", "metricName": "TargetResponseTime",
//!               "dimensions": {"LoadBalancer": "app/web/1"}, "stat": "p99", "max": 0.3, "missingData": "fail"}],
//!  "probes": [{"url": "http://10.0.0.5:8080/health", "status": 200, "bodyContains": "ok", "timeout": "2s"}],
//!  "bake": "10m", "interval": "30s", "timeout": "30m"}
//! ```

use crate::decide::{MissingData, OnInconclusive, Timing};
use crate::error::GateError;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use shared::aws::Account;
use shared::problem::{Problem, Problems};
use std::collections::BTreeMap;

/// The environment variable that configures the hooks (and is the base for `hookDetails`).
pub const CONFIG_ENV: &str = "HEALTH_GATE_CONFIG";

/// The gate's configuration. Every check is optional; at least one must decide.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// The ECS deployment this release started: fails at once on a circuit-breaker
    /// rollback, `ROLLBACK_*`, `STOPPED` or `FAILED`; passes when it completed and running
    /// equals desired. Example: `{"cluster": "prod", "service": "web"}`.
    pub ecs: Option<EcsCheck>,
    /// ELBv2 target health of the green target groups.
    pub targets: Option<TargetsCheck>,
    /// CloudWatch alarms by name or prefix: any in `ALARM` fails the gate.
    pub alarms: Option<AlarmsCheck>,
    /// `GetMetricData` queries with thresholds (metric math allowed).
    #[serde(default)]
    pub metrics: Vec<MetricCheck>,
    /// HTTP probes, for example of the test listener.
    #[serde(default)]
    pub probes: Vec<ProbeCheck>,
    /// A CodeDeploy deployment watched from outside (EC2/on-premises, or ECS blue/green).
    pub code_deploy: Option<CodeDeployCheck>,
    /// The workload account and region the checks run in (pipeline action only):
    /// `{"roleArn": "arn:aws:iam::222222222222:role/...", "externalId": "...", "region": "eu-west-1"}`.
    pub account: Option<Account>,

    /// Before the first measurement. Default 0.
    pub initial_delay: Option<Duration>,
    /// Between passes. Default 30s; at least 1s.
    pub interval: Option<Duration>,
    /// How long every check must keep passing. Default 0.
    pub bake: Option<Duration>,
    /// From the gate's start to a verdict. Default 30m.
    pub timeout: Option<Duration>,
    /// Passes in a row in which every check passed. Default 1.
    pub consecutive_successes: Option<u32>,
    /// Failed readings tolerated per check. Default 0.
    pub failure_limit: Option<u32>,
    /// Measurement errors in a row (throttling, outages) tolerated per check. Default 4.
    pub error_limit: Option<u32>,
    /// What an inconclusive verdict does: `fail` (default) or `wait` (keep measuring).
    pub on_inconclusive: Option<OnInconclusive>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EcsCheck {
    /// Cluster name or ARN. From the event for ECS hooks.
    pub cluster: Option<String>,
    /// Service name or ARN. From the event for ECS hooks.
    pub service: Option<String>,
    /// A service deployment ARN, when known; else the newest deployment of the service.
    pub deployment_arn: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetsCheck {
    /// Target group ARNs. Leave it out to check the green target groups found from the
    /// deployment: the target revision's (ECS hook), or the CodeDeploy deployment's (the
    /// CodeDeploy hook, or the pipeline action with `codeDeploy`).
    #[serde(default)]
    pub target_groups: Vec<String>,
    /// Healthy targets needed per group (default: all registered, and at least one).
    pub min_healthy: Option<u32>,
    /// Healthy percentage needed per group, 0-100.
    pub min_healthy_percent: Option<f64>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlarmsCheck {
    /// Alarm names.
    #[serde(default)]
    pub names: Vec<String>,
    /// An alarm name prefix.
    pub prefix: Option<String>,
    /// `INSUFFICIENT_DATA` under the missing-data policy (default `wait`).
    #[serde(default)]
    pub missing_data: MissingData,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricCheck {
    /// The query id (`[a-z][a-zA-Z0-9_]*`), usable in other queries' expressions.
    pub id: String,
    /// A metric math expression over other queries' ids, instead of a metric.
    pub expression: Option<String>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `Average`, `Sum`, `Maximum`, `p99`, ... Default `Average`.
    pub stat: Option<String>,
    /// Seconds per datapoint. Default 60.
    pub period: Option<u32>,
    /// How far back to read. Default 5m.
    pub window: Option<Duration>,
    /// Passes when every value in the window is at most this.
    pub max: Option<f64>,
    /// Passes when every value in the window is at least this.
    pub min: Option<f64>,
    /// A helper query for expressions: read, not judged.
    #[serde(default)]
    pub hidden: bool,
    /// What no datapoints in the window mean: `fail`, `pass`, `wait` (default) or `inconclusive`.
    #[serde(default)]
    pub missing_data: MissingData,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeCheck {
    /// `http://host:port/path` or `https://...` (trusting the compiled-in roots and
    /// `AWS_CA_BUNDLE`). Credentials and query values never appear in summaries or logs.
    pub url: String,
    /// Default `GET`.
    pub method: Option<String>,
    /// The expected status. Default 200.
    pub status: Option<u16>,
    /// A text the body must contain.
    pub body_contains: Option<String>,
    /// A JSON pointer into the body (`/status`) and the value it must equal.
    pub json_pointer: Option<String>,
    pub json_equals: Option<Value>,
    /// Default 2s.
    pub timeout: Option<Duration>,
    /// The probe fails when slower than this.
    pub latency_budget: Option<Duration>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeDeployCheck {
    /// The deployment to watch; else the newest of `application` / `deploymentGroup`.
    pub deployment_id: Option<String>,
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    /// When the gate fails, `StopDeployment` with `autoRollbackEnabled`.
    #[serde(default)]
    pub stop_on_failure: bool,
    #[serde(default)]
    pub dry_run: bool,
}

/// A duration in milliseconds, written as seconds (`30`) or text (`"30s"`, `"5m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub u64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .filter(|s| *s >= 0.0 && s.is_finite())
                .map(|s| Duration((s * 1000.0).round() as u64))
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a duration"))),
            Value::String(s) => parse_duration(&s)
                .map(Duration)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "{other} is not a duration; write seconds (30) or text (\"30s\", \"5m\", \"1h\")"
            ))),
        }
    }
}

/// `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"1m30s"`, `"45"` (seconds) -> milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration; write \"30s\", \"5m\", \"1h\" or \"500ms\"");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(s) = t.parse::<u64>() {
        return Ok(s * 1000);
    }
    let (mut total, mut number) = (0u64, String::new());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1000,
            _ => return Err(bad()),
        };
        total += n * unit;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// What is wrong with one metric query, if anything.
fn metric_problem(m: &MetricCheck) -> Option<&'static str> {
    let id_ok = m.id.starts_with(|c: char| c.is_ascii_lowercase())
        && m.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !id_ok {
        Some("id must start with a lowercase letter and hold only letters, digits and _")
    } else if m.expression.is_some() == (m.namespace.is_some() || m.metric_name.is_some()) {
        Some("give either expression or namespace and metricName")
    } else if m.expression.is_none() && (m.namespace.is_none() || m.metric_name.is_none()) {
        Some("give both namespace and metricName")
    } else if !m.hidden && m.max.is_none() && m.min.is_none() {
        Some("give a threshold: max or min (or hidden: true for a helper query)")
    } else {
        None
    }
}

/// Where a configuration is used: each entry point accepts different keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Pipeline,
    CodeDeployHook,
    EcsHook,
}

impl Config {
    /// The timing, with defaults.
    pub fn timing(&self) -> Timing {
        let d = Timing::default();
        let ms = |v: Option<Duration>, default| v.map_or(default, |v| v.0);
        Timing {
            initial_delay_ms: ms(self.initial_delay, d.initial_delay_ms),
            interval_ms: ms(self.interval, d.interval_ms),
            bake_ms: ms(self.bake, d.bake_ms),
            consecutive_successes: self
                .consecutive_successes
                .unwrap_or(d.consecutive_successes),
            failure_limit: self.failure_limit.unwrap_or(d.failure_limit),
            error_limit: self.error_limit.unwrap_or(d.error_limit),
            timeout_ms: ms(self.timeout, d.timeout_ms),
            on_inconclusive: self.on_inconclusive.unwrap_or(d.on_inconclusive),
        }
    }

    /// Checks what serde cannot: at least one deciding check, sane numbers, complete
    /// metric queries, probe URLs. Every problem is reported at once, each naming the key
    /// and the fix.
    fn problems(&self) -> Problems {
        let mut problems = Problems::new();
        let deciding = [
            self.ecs.as_ref().map(|c| c.dry_run),
            self.targets.as_ref().map(|c| c.dry_run),
            self.alarms.as_ref().map(|c| c.dry_run),
            self.code_deploy.as_ref().map(|c| c.dry_run),
        ]
        .into_iter()
        .flatten()
        .chain(self.metrics.iter().filter(|m| !m.hidden).map(|m| m.dry_run))
        .chain(self.probes.iter().map(|p| p.dry_run))
        .collect::<Vec<_>>();
        if deciding.is_empty() {
            problems.push(
                "(none)",
                "no check is configured; add at least one of ecs, targets, alarms, metrics, probes, codeDeploy",
            );
        } else if deciding.iter().all(|dry| *dry) {
            problems.push(
                "dryRun",
                "every check is dryRun, so nothing would decide; set dryRun false on at least one",
            );
        }
        let t = self.timing();
        if t.interval_ms < 1000 {
            problems.push("interval", "must be at least 1s");
        }
        if t.timeout_ms <= t.initial_delay_ms {
            problems.push(
                "timeout",
                "must be longer than initialDelay, or the gate could never measure",
            );
        }
        if t.consecutive_successes == 0 {
            problems.push("consecutiveSuccesses", "must be at least 1");
        }
        if let Some(p) = self.targets.as_ref().and_then(|t| t.min_healthy_percent)
            && !(0.0..=100.0).contains(&p)
        {
            problems.push(
                "targets.minHealthyPercent",
                format!("{p} is not between 0 and 100"),
            );
        }
        if let Some(alarms) = &self.alarms
            && alarms.names.is_empty()
            && alarms.prefix.as_deref().is_none_or(str::is_empty)
        {
            problems.push("alarms", "give names or a prefix");
        }
        if let Some(ecs) = &self.ecs
            && ecs.deployment_arn.is_none()
            && (ecs.cluster.is_none() != ecs.service.is_none())
        {
            problems.push("ecs", "give both cluster and service (or a deploymentArn)");
        }
        if let Some(cd) = &self.code_deploy
            && cd.deployment_id.is_none()
            && (cd.application.is_none() || cd.deployment_group.is_none())
        {
            problems.push(
                "codeDeploy",
                "give deploymentId, or application and deploymentGroup (the newest deployment is watched)",
            );
        }
        for m in &self.metrics {
            if let Some(problem) = metric_problem(m) {
                problems.push(format!("metrics[{}]", m.id), problem);
            }
        }
        for (i, p) in self.probes.iter().enumerate() {
            if let Err(problem) = crate::checks::http_probe::parse_url(&p.url) {
                problems.push(format!("probes[{i}].url"), problem);
            }
        }
        problems
    }

    /// Every problem of this configuration for `entry`, reported at once; where the
    /// checks run (a hook runs them in its own account and region).
    pub fn check(&self, entry: Entry) -> Result<Account, GateError> {
        let mut problems = self.problems();
        match entry {
            Entry::Pipeline => problems.extend(self.outside_ecs_hook(self.code_deploy.is_some())),
            Entry::CodeDeployHook => {
                problems.extend(self.no_account());
                problems.extend(self.outside_ecs_hook(true));
            }
            Entry::EcsHook => problems.extend(self.no_account()),
        }
        if entry != Entry::Pipeline {
            return problems
                .into_result(Account::default())
                .map_err(GateError::BadConfig);
        }
        problems.extend(self.account.clone().unwrap_or_default().problems("account"));
        if !problems.is_empty() {
            return Err(GateError::BadConfig(problems));
        }
        self.place().map_err(|p| GateError::BadConfig(p.into()))
    }

    /// Where the checks run: the `account` block's region settled from the ARNs given
    /// (cluster, service, deployment, target groups), which must agree with it.
    fn place(&self) -> Result<Account, Vec<Problem>> {
        let account = self.account.clone().unwrap_or_default();
        let mut arns: Vec<(String, &str)> = Vec::new();
        if let Some(ecs) = &self.ecs {
            for (key, value) in [
                ("ecs.cluster", &ecs.cluster),
                ("ecs.service", &ecs.service),
                ("ecs.deploymentArn", &ecs.deployment_arn),
            ] {
                if let Some(v) = value {
                    arns.push((key.to_owned(), v));
                }
            }
        }
        if let Some(t) = &self.targets {
            for (i, arn) in t.target_groups.iter().enumerate() {
                arns.push((format!("targets.targetGroups[{i}]"), arn));
            }
        }
        account.settle(arns)
    }

    /// A hook runs in the workload account already (CodeDeploy and ECS invoke the
    /// function there), so it takes no `account`.
    fn no_account(&self) -> Option<Problem> {
        self.account.as_ref().map(|_| {
            Problem::new(
                "account",
                "applies to the pipeline action only: a CodeDeploy or ECS hook runs in the deployment's own account and region; remove account (deploy the function in that account)",
            )
        })
    }

    /// Outside an ECS hook (which names its deployment and target revision), the ECS check
    /// needs the service, and the target health check its target groups unless a CodeDeploy
    /// deployment is watched (`codedeploy_known`: the CodeDeploy hook, or `codeDeploy`
    /// configured), whose green target group is then found.
    fn outside_ecs_hook(&self, codedeploy_known: bool) -> Problems {
        let mut problems = Problems::new();
        if let Some(ecs) = &self.ecs
            && ecs.deployment_arn.is_none()
            && ecs.service.is_none()
        {
            problems.push(
                "ecs",
                "give cluster and service (or a deploymentArn); only an ECS hook takes the deployment from its event",
            );
        }
        if !codedeploy_known
            && self
                .targets
                .as_ref()
                .is_some_and(|t| t.target_groups.is_empty())
        {
            problems.push(
                "targets.targetGroups",
                "list at least one target group ARN, or configure codeDeploy (its deployment's green target group is found); only hooks find the green target groups themselves",
            );
        }
        problems
    }

    /// Replaces this configuration's keys with those given in `overrides` (a hook's details).
    pub fn merged(
        base: Option<&Value>,
        overrides: &Map<String, Value>,
    ) -> Result<Config, GateError> {
        let mut merged = match base {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        for (k, v) in overrides {
            merged.insert(k.clone(), v.clone());
        }
        from_value(Value::Object(merged))
    }
}

/// Parses a configuration given as JSON (hook details or the environment,
/// which CodePipeline's 1,000-character limit does not bind).
pub fn from_value(value: Value) -> Result<Config, GateError> {
    let text = value.to_string();
    let config: Config = if text.chars().count() <= shared::params::MAX_USER_PARAMETERS {
        shared::params::parse_params(Some(&text)).map_err(GateError::Params)?
    } else {
        serde_json::from_value(value)
            .map_err(|e| GateError::Params(shared::params::explain(&e.to_string())))?
    };
    Ok(config)
}

/// The base configuration from [`CONFIG_ENV`], if set.
pub fn from_env() -> Result<Option<Value>, GateError> {
    match std::env::var(CONFIG_ENV) {
        Ok(text) if !text.trim().is_empty() => {
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| GateError::BadSetting {
                    name: CONFIG_ENV,
                    problem: format!("not JSON ({e})"),
                })
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Config, String> {
        let config = from_value(v).map_err(|e| e.to_string())?;
        let problems = config.problems();
        problems
            .into_result(config)
            .map_err(|p| GateError::BadConfig(p).to_string())
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let c = from_value(json!({
            "account": {"roleArn": "arn:aws:iam::222222222222:role/gate"},
            "alarms": {},
            "ecs": {"cluster": "prod"},
            "interval": "0s",
            "metrics": [{"id": "Bad", "namespace": "AWS/ELB", "metricName": "x", "max": 1}],
            "probes": [{"url": "ftp://x"}],
        }))
        .unwrap();
        let pipeline = c.check(Entry::Pipeline).unwrap_err().to_string();
        for key in [
            "`interval`",
            "`alarms`",
            "`ecs`",
            "`metrics[Bad]`",
            "`probes[0].url`",
        ] {
            assert!(pipeline.contains(key), "{key} in {pipeline}");
        }
        assert!(pipeline.contains(": 6 problems: (1) "), "{pipeline}");
        let hook = c.check(Entry::EcsHook).unwrap_err().to_string();
        assert!(
            hook.contains("`account`: applies to the pipeline action only"),
            "{hook}"
        );
        assert!(hook.contains("`interval`"), "{hook}");
    }

    #[test]
    fn the_account_block_is_for_the_pipeline_action_and_settles_the_region() {
        let c = parse(json!({
            "account": {"roleArn": "arn:aws:iam::222222222222:role/gate"},
            "ecs": {"cluster": "arn:aws:ecs:eu-west-1:222222222222:cluster/prod", "service": "web"},
        }))
        .unwrap();
        assert_eq!(c.place().unwrap().region.as_deref(), Some("eu-west-1"));
        let hook = c.check(Entry::EcsHook).unwrap_err().to_string();
        assert!(
            hook.contains("runs in the deployment's own account"),
            "{hook}"
        );
        let unknown =
            parse(json!({"account": {"role": "x"}, "alarms": {"names": ["a"]}})).unwrap_err();
        assert!(unknown.contains("role"), "{unknown}");
    }

    #[test]
    fn a_full_configuration_parses_with_its_timing() {
        let c = parse(json!({
            "ecs": {"cluster": "prod", "service": "web"},
            "targets": {"targetGroups": ["arn:tg/green"], "minHealthyPercent": 50},
            "alarms": {"names": ["web-5xx"]},
            "metrics": [{"id": "p99", "namespace": "AWS/ApplicationELB", "metricName": "TargetResponseTime", "stat": "p99", "max": 0.3, "missingData": "fail"}],
            "probes": [{"url": "http://127.0.0.1:8080/health", "timeout": "500ms"}],
            "bake": "10m", "interval": 15, "timeout": "1h", "failureLimit": 2, "onInconclusive": "wait"
        }))
        .unwrap();
        let t = c.timing();
        assert_eq!(
            (t.bake_ms, t.interval_ms, t.timeout_ms, t.failure_limit),
            (600_000, 15_000, 3_600_000, 2)
        );
        assert_eq!(t.on_inconclusive, OnInconclusive::Wait);
        assert_eq!(c.metrics[0].missing_data, MissingData::Fail);
        assert_eq!(c.probes[0].timeout, Some(Duration(500)));
    }

    #[test]
    fn bad_input_is_named_with_the_fix() {
        let cases = [
            (json!({"alarm": {"names": ["a"]}}), "unknown key `alarm`"),
            (json!({"alarms": {"name": ["a"]}}), "unknown key `name`"),
            (json!({}), "no check is configured"),
            (
                json!({"alarms": {"names": ["a"], "dryRun": true}}),
                "every check is dryRun",
            ),
            (json!({"alarms": {}}), "give names or a prefix"),
            (
                json!({"alarms": {"names": ["a"]}, "interval": "0s"}),
                "interval",
            ),
            (
                json!({"alarms": {"names": ["a"]}, "bake": "5 minutes"}),
                "is not a duration",
            ),
            (
                json!({"alarms": {"names": ["a"]}, "onInconclusive": "pass"}),
                "unknown variant `pass`",
            ),
            (
                json!({"metrics": [{"id": "p99", "namespace": "N", "metricName": "M"}]}),
                "give a threshold",
            ),
            (
                json!({"metrics": [{"id": "P", "expression": "a+b", "max": 1}]}),
                "lowercase letter",
            ),
            (
                json!({"metrics": [{"id": "p", "max": 1, "missingData": "ignore"}]}),
                "unknown variant `ignore`",
            ),
            (
                json!({"probes": [{"url": "ftp://user:pw@example.com/h?token=s3cret"}]}),
                "not an http:// or https:// URL",
            ),
            (
                json!({"probes": [{"url": "https://user:pw@/h?token=s3cret"}]}),
                "not a valid URL",
            ),
            (
                json!({"targets": {"targetGroups": ["a"], "minHealthyPercent": 120}}),
                "120 is not between 0 and 100",
            ),
            (json!({"ecs": {"cluster": "c"}}), "both cluster and service"),
            (
                json!({"codeDeploy": {"application": "a"}}),
                "give deploymentId",
            ),
        ];
        for (input, want) in cases {
            let err = parse(input.clone()).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
            assert!(!err.contains("s3cret") && !err.contains(":pw@"), "{err}");
        }
    }

    #[test]
    fn a_long_configuration_with_an_unknown_key_names_it_with_the_accepted_ones() {
        // Over 1,000 characters: hook details and the environment are not bound by
        // CodePipeline's limit, and get the same message as short UserParameters.
        let names: Vec<String> = (0..80).map(|i| format!("web-alarm-{i}")).collect();
        let cases = [
            (
                json!({"alarms": {"names": names}, "bakeTime": "5m"}),
                "bakeTime",
                "initialDelay",
            ),
            (
                json!({"alarms": {"names": names, "prefixes": ["web-"]}}),
                "prefixes",
                "prefix",
            ),
        ];
        for (input, key, accepted) in cases {
            assert!(input.to_string().len() > 1000);
            let err = parse(input).unwrap_err();
            assert!(
                err.contains(&format!("unknown key `{key}`"))
                    && err.contains("Accepted keys:")
                    && err.contains(accepted)
                    && !err.contains("unknown field"),
                "{err}"
            );
        }
    }

    #[test]
    fn https_probes_are_accepted() {
        let c =
            parse(json!({"probes": [{"url": "https://user:pw@api.example.com:8443/ready?sig=x"}]}));
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn hook_details_replace_keys_of_the_base() {
        let base = json!({"alarms": {"names": ["a"]}, "bake": "5m"});
        let details = json!({"bake": "1m", "targets": {"targetGroups": ["tg"]}});
        let c = Config::merged(Some(&base), details.as_object().unwrap()).unwrap();
        assert_eq!(c.timing().bake_ms, 60_000);
        assert!(c.alarms.is_some() && c.targets.is_some());
    }

    #[test]
    fn durations() {
        let cases = [
            ("500ms", Ok(500)),
            ("30s", Ok(30_000)),
            ("5m", Ok(300_000)),
            ("1h", Ok(3_600_000)),
            ("1m30s", Ok(90_000)),
            ("45", Ok(45_000)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), want, "{text}");
        }
        for text in ["", "m", "5 m", "5d", "1.5m"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}

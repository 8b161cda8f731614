//! The function's settings, from its environment:
//!
//! - `ROLLBACK_TARGETS`: a JSON object from alarm names to targets (one or a list). A key
//!   ending in `*` is a prefix. An exact name wins over prefixes, and the longest prefix
//!   over shorter ones. Example:
//!   `{"web-5xx": {"ecsService": {"cluster": "prod", "service": "web"}}, "api-*": [...]}`.
//! - `DRY_RUN`: `true` to decide and report without acting, for every target.
//! - `NOTIFY_TOPIC_ARN`: an SNS topic that gets a one-glance message per handled alarm.

use crate::error::{RollbackError, SettingProblem};
use crate::target::{Target, TargetSpec};
use serde::Deserialize;
use shared::aws::Account;
use std::collections::BTreeMap;

pub const TARGETS_VAR: &str = "ROLLBACK_TARGETS";
pub const DRY_RUN_VAR: &str = "DRY_RUN";
pub const TOPIC_VAR: &str = "NOTIFY_TOPIC_ARN";
pub const ACCOUNTS_VAR: &str = "ROLLBACK_ACCOUNTS";

/// The parsed settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Exact alarm names -> targets.
    pub exact: BTreeMap<String, Vec<Target>>,
    /// Alarm name prefixes -> targets, longest prefix first.
    pub prefixes: Vec<(String, Vec<Target>)>,
    pub dry_run: bool,
    pub notify_topic: Option<String>,
    /// `ROLLBACK_ACCOUNTS`: per workload account id, the role that reaches it. An alarm
    /// from that account is read and rolled back there.
    pub accounts: BTreeMap<String, Account>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<TargetSpec>),
    Many(Vec<TargetSpec>),
}

impl Settings {
    /// Reads the settings through `get` (the environment in production).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, RollbackError> {
        let mut problems: Vec<SettingProblem> = Vec::new();
        let mut settings = Settings {
            dry_run: parse_bool(DRY_RUN_VAR, get(DRY_RUN_VAR)).unwrap_or_else(|p| {
                problems.push(p);
                false
            }),
            notify_topic: get(TOPIC_VAR).filter(|t| !t.trim().is_empty()),
            ..Settings::default()
        };
        if let Some(topic) = &settings.notify_topic
            && !topic.starts_with("arn:")
        {
            problems.push((TOPIC_VAR, format!("`{topic}` is not an SNS topic ARN")));
        }
        if let Some(text) = get(ACCOUNTS_VAR).filter(|t| !t.trim().is_empty()) {
            match accounts(&text) {
                Ok(accounts) => settings.accounts = accounts,
                Err(found) => problems.extend(found),
            }
        }
        if let Some(text) = get(TARGETS_VAR).filter(|t| !t.trim().is_empty()) {
            settings.targets(&text, &mut problems);
        }
        if !problems.is_empty() {
            return Err(RollbackError::Config(problems));
        }
        Ok(settings)
    }

    /// `ROLLBACK_TARGETS` read into `self`; every target's problem added to `problems`.
    fn targets(&mut self, text: &str, problems: &mut Vec<SettingProblem>) {
        let map: BTreeMap<String, OneOrMany> = match serde_json::from_str(text) {
            Ok(map) => map,
            Err(e) => {
                problems.push((
                    TARGETS_VAR,
                    format!("{e}. Expected a JSON object from alarm names (or prefixes ending in `*`) to targets"),
                ));
                return;
            }
        };
        for (key, value) in map {
            let specs = match value {
                OneOrMany::One(spec) => vec![*spec],
                OneOrMany::Many(specs) => specs,
            };
            let mut targets = Vec::new();
            for (i, spec) in specs.into_iter().enumerate() {
                match spec.validate() {
                    Ok(t) => targets.push(t),
                    Err(p) => problems.push((TARGETS_VAR, format!("`{key}`[{i}]: {p}"))),
                }
            }
            match key.strip_suffix('*') {
                Some(prefix) => self.prefixes.push((prefix.to_owned(), targets)),
                None => {
                    self.exact.insert(key, targets);
                }
            }
        }
        self.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    /// The configured targets of `alarm`, if any key matches it.
    pub fn targets_for(&self, alarm: &str) -> Option<&[Target]> {
        if let Some(t) = self.exact.get(alarm) {
            return Some(t);
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| alarm.starts_with(prefix.as_str()))
            .map(|(_, t)| t.as_slice())
    }
}

/// `{"222222222222": {"roleArn": "arn:aws:iam::222222222222:role/rollback", "externalId": "..."}}`:
/// each key a 12-digit account id, its role in that account.
fn accounts(text: &str) -> Result<BTreeMap<String, Account>, Vec<SettingProblem>> {
    let map: BTreeMap<String, Account> = serde_json::from_str(text).map_err(|e| {
        vec![(
            ACCOUNTS_VAR,
            format!("{e}. Expected a JSON object from account ids to {{\"roleArn\", \"externalId\", \"region\"}}"),
        )]
    })?;
    let mut problems = Vec::new();
    for (id, account) in &map {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            problems.push((ACCOUNTS_VAR, format!("`{id}` is not a 12-digit account id")));
            continue;
        }
        if let Some(p) = account.problems(id).into_iter().next() {
            problems.push((ACCOUNTS_VAR, p.to_string()));
            continue;
        }
        match account.account_id() {
            Some(a) if a == id => {}
            Some(a) => problems.push((
                ACCOUNTS_VAR,
                format!(
                    "`{id}`: its roleArn is a role of account {a}; give a role of account {id}"
                ),
            )),
            None => problems.push((
                ACCOUNTS_VAR,
                format!("`{id}`: give the roleArn that reaches it"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(map)
    } else {
        Err(problems)
    }
}

fn parse_bool(name: &'static str, value: Option<String>) -> Result<bool, SettingProblem> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err((name, format!("`{v}` is not `true` or `false`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Kind;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, RollbackError> {
        Settings::from_env(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    fn service(t: &[Target]) -> String {
        match &t[0].kind {
            Some(Kind::EcsService { service, .. }) => service.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let e = settings(&[
            (DRY_RUN_VAR, "yes"),
            (TOPIC_VAR, "alerts"),
            (
                ACCOUNTS_VAR,
                r#"{"2222": {"roleArn": "arn:aws:iam::222222222222:role/r"}}"#,
            ),
            (
                TARGETS_VAR,
                r#"{"a": {}, "b": [{"freeze": {"pipeline": "p", "stage": "s"}}, {}]}"#,
            ),
        ])
        .unwrap_err()
        .to_string();
        for part in [
            "the function's settings have 5 problems: (1) DRY_RUN: `yes` is not `true` or `false`",
            "(2) NOTIFY_TOPIC_ARN: `alerts` is not an SNS topic ARN",
            "(3) ROLLBACK_ACCOUNTS: `2222` is not a 12-digit account id",
            "ROLLBACK_TARGETS: `a`[0]",
            "ROLLBACK_TARGETS: `b`[1]",
            "Fix the Lambda environment variables; nothing was done",
        ] {
            assert!(e.contains(part), "{part}\n{e}");
        }
        let one = settings(&[(DRY_RUN_VAR, "yes")]).unwrap_err().to_string();
        assert_eq!(
            one,
            "the function's setting DRY_RUN: `yes` is not `true` or `false`. Fix the Lambda environment variable; nothing was done"
        );
    }

    #[test]
    fn exact_names_win_then_the_longest_prefix() {
        let s = settings(&[(
            TARGETS_VAR,
            r#"{"web-5xx": {"ecsService": {"service": "exact"}},
                "web-*": {"ecsService": {"service": "short"}},
                "web-5*": [{"ecsService": {"service": "long"}}, {"freeze": {"pipeline": "p", "stage": "s"}}]}"#,
        )])
        .unwrap();
        assert_eq!(service(s.targets_for("web-5xx").unwrap()), "exact");
        assert_eq!(service(s.targets_for("web-5xx-canary").unwrap()), "long");
        assert_eq!(s.targets_for("web-5xx-canary").unwrap().len(), 2);
        assert_eq!(service(s.targets_for("web-latency").unwrap()), "short");
        assert!(s.targets_for("api-5xx").is_none());
    }

    #[test]
    fn no_settings_is_valid_and_bad_ones_name_the_variable() {
        assert_eq!(settings(&[]).unwrap(), Settings::default());
        assert!(settings(&[(DRY_RUN_VAR, "TRUE")]).unwrap().dry_run);
        for (vars, says) in [
            (
                vec![(DRY_RUN_VAR, "yes")],
                "DRY_RUN: `yes` is not `true` or `false`",
            ),
            (
                vec![(TOPIC_VAR, "alerts")],
                "NOTIFY_TOPIC_ARN: `alerts` is not an SNS topic ARN",
            ),
            (vec![(TARGETS_VAR, "[]")], "ROLLBACK_TARGETS: invalid type"),
            (
                vec![(TARGETS_VAR, r#"{"a": {"ecs": {}}}"#)],
                "ROLLBACK_TARGETS",
            ),
            (
                vec![(TARGETS_VAR, r#"{"a": [{}]}"#)],
                "`a`[0]: a target needs one of",
            ),
        ] {
            let err = settings(&vars).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}

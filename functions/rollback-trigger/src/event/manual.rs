//! A person's request: `{"rollback": {"target": {...} | [{...}]}, "reason": "...",
//! "dryRun": false, "requestedAt": "2026-11-29T12:00:00Z"}`.

use super::time::parse_millis;
use crate::error::RollbackError;
use crate::target::{Target, TargetSpec};
use serde::Deserialize;
use serde_json::Value;

/// What a person asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualRequest {
    pub targets: Vec<Target>,
    pub reason: String,
    pub dry_run: bool,
    /// When the person asked; deployments that started later are left alone, so that
    /// repeating the same request is safe. Without it, the request acts on what runs now.
    pub requested_at_ms: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    rollback: RawRollback,
    reason: String,
    #[serde(default)]
    dry_run: bool,
    requested_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollback {
    target: OneOrMany,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<TargetSpec>),
    Many(Vec<TargetSpec>),
}

pub fn parse(event: &Value) -> Result<ManualRequest, RollbackError> {
    let bad = |problem: String| RollbackError::BadEvent {
        shape: "rollback request",
        problem,
    };
    let raw: Raw = serde_json::from_value(event.clone()).map_err(|e| {
        bad(format!(
            "{e}. Expected {{\"rollback\": {{\"target\": {{...}}}}, \"reason\": \"...\"}} with \
             optional \"dryRun\" and \"requestedAt\""
        ))
    })?;
    if raw.reason.trim().is_empty() {
        return Err(bad(
            "`reason` is empty: say why, it is logged and sent on".to_owned()
        ));
    }
    let specs = match raw.rollback.target {
        OneOrMany::One(spec) => vec![*spec],
        OneOrMany::Many(specs) => specs,
    };
    if specs.is_empty() {
        return Err(bad("`rollback.target` is an empty list".to_owned()));
    }
    let targets = specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            spec.validate()
                .map_err(|p| bad(format!("rollback.target[{i}]: {p}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requested_at_ms = match raw.requested_at {
        None => None,
        Some(text) => Some(
            parse_millis(&text)
                .ok_or_else(|| bad(format!("`requestedAt` is not a timestamp: `{text}`")))?,
        ),
    };
    Ok(ManualRequest {
        targets,
        reason: raw.reason,
        dry_run: raw.dry_run,
        requested_at_ms,
    })
}

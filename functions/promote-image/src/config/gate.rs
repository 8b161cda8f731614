//! `UserParameters.scanGate`: the limits per severity, the allow-list and what an image
//! without a usable scan does, validated into a [`GatePolicy`].

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::problem::Problems;

use super::at;
use crate::date::Date;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanGateConfig {
    /// Highest count allowed per severity; severities not listed are not limited.
    #[serde(default)]
    pub max: BTreeMap<String, u64>,
    #[serde(default)]
    pub allow: Vec<AllowConfig>,
    pub on_no_scan: Option<OnUnscanned>,
    pub on_in_progress: Option<OnUnscanned>,
    pub on_expired: Option<OnUnscanned>,
    pub on_unsupported: Option<OnUnscanned>,
    pub on_failed: Option<OnUnscanned>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AllowConfig {
    pub id: String,
    pub until: String,
}

/// What the gate does with an image that has no usable scan result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnscanned {
    #[default]
    Fail,
    Pass,
}

/// Severities ECR reports, basic and enhanced.
pub const SEVERITIES: [&str; 7] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNDEFINED",
    "UNTRIAGED",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatePolicy {
    pub max: BTreeMap<String, u64>,
    pub allow: Vec<Allowance>,
    pub unscanned: Unscanned,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub id: String,
    pub until: Date,
}

/// Per reason, whether an image without a usable scan passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unscanned {
    pub no_scan: OnUnscanned,
    pub in_progress: OnUnscanned,
    pub expired: OnUnscanned,
    pub unsupported: OnUnscanned,
    pub failed: OnUnscanned,
}

pub(super) fn validate_gate(g: ScanGateConfig, problems: &mut Problems) -> GatePolicy {
    let mut max = BTreeMap::new();
    let mut spelled: BTreeMap<String, String> = BTreeMap::new();
    for (severity, limit) in g.max {
        let upper = severity.to_ascii_uppercase();
        if SEVERITIES.contains(&upper.as_str()) {
            // Severities fold case: two spellings of one would leave the limit to chance.
            if let Some(first) = spelled.get(&upper) {
                problems.push(
                    at(&format!("scanGate.max.{severity}")),
                    format!("`{first}` and `{severity}` name the same severity; keep one"),
                );
            }
            spelled.insert(upper.clone(), severity.clone());
            max.insert(upper, limit);
        } else {
            problems.push(
                at(&format!("scanGate.max.{severity}")),
                format!(
                    "unknown severity `{severity}`; use {}",
                    SEVERITIES.join(", ")
                ),
            );
        }
    }
    let mut allow = Vec::new();
    for (i, entry) in g.allow.into_iter().enumerate() {
        if entry.id.trim().is_empty() {
            problems.push(at(&format!("scanGate.allow[{i}].id")), "is empty");
            continue;
        }
        match Date::parse(&entry.until) {
            Some(until) => allow.push(Allowance {
                id: entry.id,
                until,
            }),
            None => problems.push(
                at(&format!("scanGate.allow[{i}].until")),
                format!(
                    "`{}` (for `{}`) is not a date (YYYY-MM-DD)",
                    entry.until, entry.id
                ),
            ),
        }
    }
    GatePolicy {
        max,
        allow,
        unscanned: Unscanned {
            no_scan: g.on_no_scan.unwrap_or_default(),
            in_progress: g.on_in_progress.unwrap_or_default(),
            expired: g.on_expired.unwrap_or_default(),
            unsupported: g.on_unsupported.unwrap_or_default(),
            failed: g.on_failed.unwrap_or_default(),
        },
    }
}

//! `UserParameters.referrers`: whether an image's referrers (signatures, SBOMs,
//! attestations) go with it to another repository, and which types.

use serde_json::Value;
use shared::problem::Problems;

use super::at;
use crate::route::ReferrerPolicy;

const SHAPE: &str = "must be true, false, or {\"artifactTypes\": [\"application/vnd.dev.sigstore.bundle.v0.3+json\", ...]}";

/// Referrers are copied unless `false`; `{"artifactTypes": [...]}` copies those types only.
pub(super) fn validate_referrers(value: Option<Value>, problems: &mut Problems) -> ReferrerPolicy {
    match value {
        None | Some(Value::Bool(true)) => ReferrerPolicy::All,
        Some(Value::Bool(false)) => ReferrerPolicy::Off,
        Some(Value::Object(fields)) => {
            let mut types = Some(Vec::new());
            for (key, value) in fields {
                if key != "artifactTypes" {
                    problems.push(
                        at(&format!("referrers.{key}")),
                        "is not a known key; the only one is artifactTypes",
                    );
                    continue;
                }
                types = artifact_types(value, problems);
            }
            if types.as_ref().is_some_and(Vec::is_empty) {
                problems.push(
                    at("referrers.artifactTypes"),
                    "is missing or empty: list the artifact types to copy, or write \
                     \"referrers\": false to copy none",
                );
            }
            ReferrerPolicy::Only(types.unwrap_or_default())
        }
        Some(_) => {
            problems.push(at("referrers"), SHAPE);
            ReferrerPolicy::All
        }
    }
}

/// The listed types; `None` when the value is not a list (reported).
fn artifact_types(value: Value, problems: &mut Problems) -> Option<Vec<String>> {
    let Value::Array(items) = value else {
        problems.push(
            at("referrers.artifactTypes"),
            "must be a list of artifact types (media types such as application/spdx+json)",
        );
        return None;
    };
    let mut types: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(t) if is_media_type(&t) => {
                if !types.contains(&t) {
                    types.push(t);
                }
            }
            other => problems.push(
                at(&format!("referrers.artifactTypes[{i}]")),
                format!(
                    "`{other}` is not a media type (type/subtype, such as application/spdx+json)"
                ),
            ),
        }
    }
    Some(types)
}

/// `type/subtype`, with optional parameters, no blanks.
fn is_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default();
    let mut parts = essence.split('/');
    let (Some(kind), Some(sub), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !kind.is_empty()
        && !sub.is_empty()
        && value.len() <= 255
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> (ReferrerPolicy, Vec<String>) {
        let mut problems = Problems::new();
        let value = (!json.is_empty()).then(|| serde_json::from_str(json).unwrap());
        let policy = validate_referrers(value, &mut problems);
        (policy, problems.into_iter().map(|p| p.path).collect())
    }

    #[test]
    fn copies_all_by_default_none_when_false_and_the_listed_types_when_filtered() {
        assert_eq!(policy(""), (ReferrerPolicy::All, vec![]));
        assert_eq!(policy("true"), (ReferrerPolicy::All, vec![]));
        assert_eq!(policy("false"), (ReferrerPolicy::Off, vec![]));
        let (p, problems) =
            policy(r#"{"artifactTypes": ["application/spdx+json", "application/spdx+json"]}"#);
        assert_eq!(
            p,
            ReferrerPolicy::Only(vec!["application/spdx+json".into()])
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn names_each_bad_value_by_its_path() {
        assert_eq!(policy("\"yes\"").1, ["UserParameters.referrers"]);
        assert_eq!(
            policy(r#"{"artifactTypes": ["spdx", 3, "application/x"], "types": []}"#).1,
            [
                "UserParameters.referrers.artifactTypes[0]",
                "UserParameters.referrers.artifactTypes[1]",
                "UserParameters.referrers.types",
            ]
        );
        assert_eq!(policy("{}").1, ["UserParameters.referrers.artifactTypes"]);
        assert_eq!(
            policy(r#"{"artifactTypes": "application/x"}"#).1,
            ["UserParameters.referrers.artifactTypes"]
        );
    }
}

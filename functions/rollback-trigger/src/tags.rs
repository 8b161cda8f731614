//! Targets named by the alarm's own tags. Tag values cannot hold JSON, so each kind has
//! its key and its values are `a/b` pairs separated by spaces:
//!
//! | tag key | value |
//! |---|---|
//! | `rollback:ecs-service` | `cluster/service` ... |
//! | `rollback:codedeploy` | `application/deploymentGroup` ... |
//! | `rollback:pipeline-stage` | `pipeline/stage` ... |
//! | `rollback:freeze` | `pipeline/stage` ... (disable the stage's inbound transition) |
//! | `rollback:dry-run` | `true` or `false` |

use crate::target::{Kind, StageRef, Target};
use std::collections::BTreeMap;

pub const PREFIX: &str = "rollback:";
const KEYS: &str = "rollback:ecs-service, rollback:codedeploy, rollback:pipeline-stage, \
    rollback:freeze, rollback:dry-run";

/// The targets the tags name; `Ok(None)` when no tag starts with `rollback:`.
pub fn targets(tags: &BTreeMap<String, String>) -> Result<Option<Vec<Target>>, String> {
    let mut kinds = Vec::new();
    let mut freezes = Vec::new();
    let mut dry_run = false;
    let mut any = false;
    for (key, value) in tags.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
        any = true;
        match key.as_str() {
            "rollback:ecs-service" => {
                for (cluster, service) in pairs(key, value)? {
                    kinds.push(Kind::EcsService { cluster, service });
                }
            }
            "rollback:codedeploy" => {
                for (application, group) in pairs(key, value)? {
                    kinds.push(Kind::CodeDeploy { application, group });
                }
            }
            "rollback:pipeline-stage" => {
                for (pipeline, stage) in pairs(key, value)? {
                    kinds.push(Kind::PipelineStage(StageRef { pipeline, stage }));
                }
            }
            "rollback:freeze" => {
                for (pipeline, stage) in pairs(key, value)? {
                    freezes.push(StageRef { pipeline, stage });
                }
            }
            "rollback:dry-run" => {
                dry_run = match value.trim() {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(format!("tag `{key}` is `{other}`: use `true` or `false`"));
                    }
                }
            }
            other => return Err(format!("unknown tag `{other}`; the tags read are {KEYS}")),
        }
    }
    if !any {
        return Ok(None);
    }
    let targets = kinds
        .into_iter()
        .map(|kind| Target {
            kind: Some(kind),
            freeze: None,
            dry_run,
            account: None,
        })
        .chain(freezes.into_iter().map(|stage| Target {
            kind: None,
            freeze: Some(stage),
            dry_run,
            account: None,
        }))
        .collect();
    Ok(Some(targets))
}

fn pairs(key: &str, value: &str) -> Result<Vec<(String, String)>, String> {
    let found: Vec<(String, String)> = value
        .split_whitespace()
        .map(|item| match item.split_once('/') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains('/') => {
                Ok((a.to_owned(), b.to_owned()))
            }
            _ => Err(format!(
                "tag `{key}` has `{item}`: write each as `a/b`, separated by spaces"
            )),
        })
        .collect::<Result<_, _>>()?;
    if found.is_empty() {
        return Err(format!("tag `{key}` is empty"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tags_name_targets() {
        assert_eq!(targets(&tags(&[("team", "web")])), Ok(None));
        let found = targets(&tags(&[
            ("rollback:ecs-service", "prod/web prod/worker"),
            ("rollback:freeze", "web/Prod"),
            ("rollback:dry-run", "true"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|t| t.dry_run));
        assert_eq!(
            found[1].kind,
            Some(Kind::EcsService {
                cluster: "prod".into(),
                service: "worker".into()
            })
        );
        assert_eq!(found[2].freeze.as_ref().unwrap().to_string(), "web/Prod");
    }

    #[test]
    fn bad_tags_say_what_to_write() {
        for (list, says) in [
            (vec![("rollback:ecs", "a/b")], "unknown tag `rollback:ecs`"),
            (vec![("rollback:codedeploy", "app")], "write each as `a/b`"),
            (
                vec![("rollback:pipeline-stage", "a/b/c")],
                "write each as `a/b`",
            ),
            (vec![("rollback:freeze", " ")], "is empty"),
            (vec![("rollback:dry-run", "yes")], "use `true` or `false`"),
        ] {
            let err = targets(&tags(&list)).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}

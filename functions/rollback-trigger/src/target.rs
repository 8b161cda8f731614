//! What to act on: an ECS service, a CodeDeploy deployment group, a CodePipeline stage,
//! and optionally a stage transition to freeze. Written as JSON in the configuration and
//! in a person's request.

use serde::Deserialize;
use shared::aws::Account;
use std::fmt;

/// A pipeline stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRef {
    /// Example: `"web-pipeline"`.
    pub pipeline: String,
    /// Example: `"Prod"`.
    pub stage: String,
}

/// The deployment a target rolls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    EcsService { cluster: String, service: String },
    CodeDeploy { application: String, group: String },
    PipelineStage(StageRef),
}

/// One target, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What to roll back; `None` for a target that only freezes.
    pub kind: Option<Kind>,
    /// The stage whose inbound transition to disable.
    pub freeze: Option<StageRef>,
    /// Decide and report without acting.
    pub dry_run: bool,
    /// Where the service or deployment group is, when not in the alarm's account (or, for
    /// a person's request, the function's own). A freeze or pipeline stage is always in the
    /// function's own account: the pipeline's.
    pub account: Option<Account>,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcsService { cluster, service } => write!(f, "ECS service {cluster}/{service}"),
            Self::CodeDeploy { application, group } => {
                write!(f, "CodeDeploy group {application}/{group}")
            }
            Self::PipelineStage(s) => write!(f, "pipeline stage {}/{}", s.pipeline, s.stage),
        }
    }
}

impl fmt::Display for StageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pipeline, self.stage)
    }
}

/// The JSON form of a target. Exactly one of `ecsService`, `codeDeploy` and
/// `pipelineStage`, or only `freeze`. Examples:
/// `{"ecsService": {"cluster": "prod", "service": "web"}, "freeze": {"pipeline": "web", "stage": "Prod"}}`,
/// `{"codeDeploy": {"application": "web", "deploymentGroup": "prod"}, "dryRun": true}`,
/// `{"pipelineStage": {"pipeline": "web", "stage": "Prod"}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetSpec {
    /// An ECS service (deployment controller ECS): `{"cluster": "prod", "service": "web"}`;
    /// `cluster` defaults to `default`.
    pub ecs_service: Option<EcsSpec>,
    /// A CodeDeploy deployment group: `{"application": "web", "deploymentGroup": "prod"}`.
    pub code_deploy: Option<CodeDeploySpec>,
    /// A CodePipeline V2 stage to roll back with RollbackStage.
    pub pipeline_stage: Option<StageRef>,
    /// A stage whose inbound transition is disabled so that nothing more is promoted.
    pub freeze: Option<StageRef>,
    /// Decide and report without acting. Default: the function's `DRY_RUN`.
    pub dry_run: Option<bool>,
    /// The workload account and region of `ecsService` or `codeDeploy`:
    /// `{"roleArn": "arn:aws:iam::222222222222:role/rollback", "externalId": "...", "region": "eu-west-1"}`.
    pub account: Option<Account>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsSpec {
    pub cluster: Option<String>,
    pub service: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeDeploySpec {
    pub application: String,
    pub deployment_group: String,
}

impl TargetSpec {
    /// Checks the spec; the message names the bad key and how to fix it.
    pub fn validate(self) -> Result<Target, String> {
        let named = [
            self.ecs_service.is_some(),
            self.code_deploy.is_some(),
            self.pipeline_stage.is_some(),
        ];
        if named.iter().filter(|n| **n).count() > 1 {
            return Err(
                "name one of `ecsService`, `codeDeploy` and `pipelineStage` per \
                 target; list several targets instead"
                    .to_owned(),
            );
        }
        let kind = if let Some(ecs) = self.ecs_service {
            Some(Kind::EcsService {
                cluster: non_empty(
                    ecs.cluster.unwrap_or_else(|| "default".into()),
                    "ecsService.cluster",
                )?,
                service: non_empty(ecs.service, "ecsService.service")?,
            })
        } else if let Some(cd) = self.code_deploy {
            Some(Kind::CodeDeploy {
                application: non_empty(cd.application, "codeDeploy.application")?,
                group: non_empty(cd.deployment_group, "codeDeploy.deploymentGroup")?,
            })
        } else if let Some(stage) = self.pipeline_stage {
            Some(Kind::PipelineStage(stage_ref(stage, "pipelineStage")?))
        } else {
            None
        };
        let freeze = self.freeze.map(|s| stage_ref(s, "freeze")).transpose()?;
        if let Some(account) = &self.account {
            if !matches!(
                kind,
                Some(Kind::EcsService { .. } | Kind::CodeDeploy { .. })
            ) {
                return Err("`account` applies to `ecsService` and `codeDeploy` targets; a pipeline stage or freeze is in the function's own account".to_owned());
            }
            let cluster = match &kind {
                Some(Kind::EcsService { cluster, .. }) => {
                    account.arn_problem("ecsService.cluster", cluster)
                }
                _ => None,
            };
            if let Some(p) = account.problems("account").into_iter().next().or(cluster) {
                return Err(p.to_string());
            }
        }
        if kind.is_none() && freeze.is_none() {
            return Err(
                "a target needs one of `ecsService`, `codeDeploy`, `pipelineStage` \
                 or `freeze`"
                    .to_owned(),
            );
        }
        Ok(Target {
            kind,
            freeze,
            dry_run: self.dry_run.unwrap_or(false),
            account: self.account,
        })
    }
}

fn stage_ref(s: StageRef, at: &str) -> Result<StageRef, String> {
    Ok(StageRef {
        pipeline: non_empty(s.pipeline, &format!("{at}.pipeline"))?,
        stage: non_empty(s.stage, &format!("{at}.stage"))?,
    })
}

fn non_empty(value: String, at: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err(format!("`{at}` is empty"))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Result<Target, String> {
        serde_json::from_value::<TargetSpec>(v)
            .map_err(|e| e.to_string())
            .and_then(TargetSpec::validate)
    }

    #[test]
    fn targets_parse_and_refuse_with_the_key_named() {
        let ok = spec(
            json!({"ecsService": {"service": "web"}, "freeze": {"pipeline": "p", "stage": "Prod"}}),
        )
        .unwrap();
        assert_eq!(
            ok.kind,
            Some(Kind::EcsService {
                cluster: "default".into(),
                service: "web".into()
            })
        );
        assert_eq!(ok.freeze.unwrap().to_string(), "p/Prod");
        let cd = spec(
            json!({"codeDeploy": {"application": "a", "deploymentGroup": "g"}, "dryRun": true}),
        )
        .unwrap();
        assert!(cd.dry_run);
        assert!(
            spec(json!({"freeze": {"pipeline": "p", "stage": "s"}}))
                .unwrap()
                .kind
                .is_none()
        );
        for (bad, says) in [
            (json!({}), "needs one of"),
            (
                json!({"ecsService": {"service": "w"}, "codeDeploy": {"application": "a", "deploymentGroup": "g"}}),
                "name one of",
            ),
            (
                json!({"ecsServce": {"service": "w"}}),
                "unknown field `ecsServce`",
            ),
            (
                json!({"pipelineStage": {"pipeline": "p", "stage": " "}}),
                "`pipelineStage.stage` is empty",
            ),
            (
                json!({"codeDeploy": {"application": "a"}}),
                "missing field `deploymentGroup`",
            ),
        ] {
            let err = spec(bad.clone()).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}

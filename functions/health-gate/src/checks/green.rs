//! The green target group of a CodeDeploy deployment, for the target health check when
//! none is configured: the target group of the deployment's green (replacement) ECS task
//! set, else the other one of the deployment group's target group pair than the blue task
//! set's; for an EC2/on-premises deployment, the deployment group's target groups. Found
//! once (three round trips: the deployment and its targets, then the targets and the
//! deployment group, then the target groups by name) and kept in the gate's state.

use crate::decide::Reading;
use aws_sdk_codedeploy::types::TargetLabel;
use shared::{AwsError, aws_error};

/// One ECS task set of a CodeDeploy ECS deployment, as `BatchGetDeploymentTargets` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSet {
    /// `Blue` or `Green`.
    pub label: String,
    pub target_group: Option<String>,
}

/// The load balancing of a deployment group (`GetDeploymentGroup`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupBalancing {
    /// `targetGroupPairInfoList[].targetGroups[].name` (ECS blue/green).
    pub pairs: Vec<Vec<String>>,
    /// `targetGroupInfoList[].name` (EC2/on-premises).
    pub groups: Vec<String>,
}

/// What the deployment says its green target groups are, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Green {
    Found(Vec<String>),
    /// Not yet known (no green task set yet): measured again on the next pass.
    NotYet(String),
    /// The deployment has none: configure `targets.targetGroups`.
    Missing(String),
}

/// Decides the green target groups from the task sets and the group's load balancing.
pub fn choose(task_sets: &[TaskSet], balancing: &GroupBalancing) -> Green {
    let labelled = |label: &str| {
        task_sets
            .iter()
            .find(|t| t.label.eq_ignore_ascii_case(label))
    };
    if let Some(tg) = labelled("Green").and_then(|t| t.target_group.clone()) {
        return Green::Found(vec![tg]);
    }
    if let Some(blue) = labelled("Blue").and_then(|t| t.target_group.as_deref()) {
        let other: Vec<String> = balancing
            .pairs
            .iter()
            .filter(|pair| pair.iter().any(|n| n == blue))
            .flat_map(|pair| pair.iter().filter(|n| *n != blue).cloned())
            .collect();
        if !other.is_empty() {
            return Green::Found(other);
        }
    }
    if task_sets.is_empty() && balancing.pairs.is_empty() && !balancing.groups.is_empty() {
        return Green::Found(balancing.groups.clone());
    }
    if !balancing.pairs.is_empty() || !task_sets.is_empty() {
        return Green::NotYet(
            "the deployment's green task set does not name its target group yet".into(),
        );
    }
    Green::Missing(
        "the deployment names no target group (neither its ECS task sets nor its deployment group's load balancer); list them in targets.targetGroups".into(),
    )
}

/// What [`find`] found: target group ARNs, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Arns(Vec<String>),
    NotYet(String),
    Missing(String),
}

/// Reads the deployment, its targets and its group, decides with [`choose`], and
/// resolves the names to ARNs (`DescribeTargetGroups`).
pub async fn find(
    codedeploy: &aws_sdk_codedeploy::Client,
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    deployment_id: &str,
) -> Result<Found, AwsError> {
    let get = codedeploy
        .get_deployment()
        .deployment_id(deployment_id)
        .send();
    let list = codedeploy
        .list_deployment_targets()
        .deployment_id(deployment_id)
        .send();
    let (got, listed) = futures::join!(get, list);
    let got = got.map_err(|e| aws_error("codedeploy:GetDeployment", e))?;
    let ids = listed
        .map_err(|e| aws_error("codedeploy:ListDeploymentTargets", e))?
        .target_ids()
        .to_vec();
    let info = got.deployment_info();
    let (app, group) = (
        info.and_then(|i| i.application_name()).unwrap_or_default(),
        info.and_then(|i| i.deployment_group_name())
            .unwrap_or_default(),
    );
    let targets = async {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = codedeploy
            .batch_get_deployment_targets()
            .deployment_id(deployment_id)
            .set_target_ids(Some(ids.into_iter().take(25).collect()))
            .send()
            .await
            .map_err(|e| aws_error("codedeploy:BatchGetDeploymentTargets", e))?;
        Ok::<_, AwsError>(
            out.deployment_targets()
                .iter()
                .filter_map(|t| t.ecs_target())
                .flat_map(|t| t.task_sets_info())
                .map(|s| TaskSet {
                    label: s
                        .task_set_label()
                        .map_or("", TargetLabel::as_str)
                        .to_owned(),
                    target_group: s.target_group().and_then(|g| g.name()).map(str::to_owned),
                })
                .collect(),
        )
    };
    let balancing = async {
        let out = codedeploy
            .get_deployment_group()
            .application_name(app)
            .deployment_group_name(group)
            .send()
            .await
            .map_err(|e| aws_error("codedeploy:GetDeploymentGroup", e))?;
        let lb = out
            .deployment_group_info()
            .and_then(|g| g.load_balancer_info());
        let names = |list: &[aws_sdk_codedeploy::types::TargetGroupInfo]| {
            list.iter()
                .filter_map(|g| g.name())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        Ok::<_, AwsError>(GroupBalancing {
            pairs: lb
                .map(|l| {
                    l.target_group_pair_info_list()
                        .iter()
                        .map(|p| names(p.target_groups()))
                        .collect()
                })
                .unwrap_or_default(),
            groups: lb
                .map(|l| names(l.target_group_info_list()))
                .unwrap_or_default(),
        })
    };
    let (task_sets, balancing) = futures::try_join!(targets, balancing)?;
    let names = match choose(&task_sets, &balancing) {
        Green::Found(names) => names,
        Green::NotYet(why) => return Ok(Found::NotYet(why)),
        Green::Missing(why) => return Ok(Found::Missing(why)),
    };
    let out = elbv2
        .describe_target_groups()
        .set_names(Some(names.clone()))
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let e = aws_error("elasticloadbalancing:DescribeTargetGroups", e);
            if e.code() == Some("TargetGroupNotFound") {
                return Ok(Found::Missing(format!(
                    "the deployment's target group {} does not exist in ELBv2",
                    names.join(", ")
                )));
            }
            return Err(e);
        }
    };
    Ok(Found::Arns(
        out.target_groups()
            .iter()
            .filter_map(|g| g.target_group_arn())
            .map(str::to_owned)
            .collect(),
    ))
}

/// The green target group ARNs of deployment `id`, or the reading that says why not.
pub async fn groups(
    codedeploy: &aws_sdk_codedeploy::Client,
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    id: &str,
) -> Result<Vec<String>, Reading> {
    match find(codedeploy, elbv2, id).await {
        Ok(Found::Arns(arns)) if !arns.is_empty() => Ok(arns),
        Ok(Found::Arns(_)) => Err(Reading::Fatal(format!(
            "deployment {id}: ELBv2 found none of its target groups"
        ))),
        Ok(Found::NotYet(why)) => Err(Reading::Pending(format!("deployment {id}: {why}"))),
        Ok(Found::Missing(why)) => Err(Reading::Fatal(format!("deployment {id}: {why}"))),
        Err(e) if e.code() == Some("DeploymentDoesNotExistException") => {
            Err(Reading::Fatal(format!("CodeDeploy has no deployment {id}")))
        }
        Err(e) => Err(Reading::Error(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(label: &str, tg: Option<&str>) -> TaskSet {
        TaskSet {
            label: label.into(),
            target_group: tg.map(Into::into),
        }
    }

    #[test]
    fn the_green_target_group_is_found() {
        let pair = GroupBalancing {
            pairs: vec![vec!["web-blue".into(), "web-green".into()]],
            groups: Vec::new(),
        };
        let ec2 = GroupBalancing {
            pairs: Vec::new(),
            groups: vec!["web-ec2".into()],
        };
        let none = GroupBalancing::default();
        let found = |names: &[&str]| Green::Found(names.iter().map(|n| (*n).to_owned()).collect());
        let cases = [
            // The green task set names its target group: it wins.
            (
                vec![
                    set("Blue", Some("web-blue")),
                    set("Green", Some("web-green")),
                ],
                &pair,
                found(&["web-green"]),
            ),
            // Target groups swap roles between deployments: the task set decides.
            (
                vec![
                    set("Blue", Some("web-green")),
                    set("GREEN", Some("web-blue")),
                ],
                &pair,
                found(&["web-blue"]),
            ),
            // Only the blue task set names one: the other of its pair.
            (
                vec![set("Blue", Some("web-blue")), set("Green", None)],
                &pair,
                found(&["web-green"]),
            ),
            (
                vec![set("Blue", Some("web-green"))],
                &pair,
                found(&["web-blue"]),
            ),
            // EC2/on-premises: the deployment group's target groups.
            (vec![], &ec2, found(&["web-ec2"])),
        ];
        for (task_sets, balancing, want) in cases {
            assert_eq!(choose(&task_sets, balancing), want, "{task_sets:?}");
        }
        assert!(matches!(choose(&[], &pair), Green::NotYet(_)));
        assert!(matches!(
            choose(&[set("Green", None)], &none),
            Green::NotYet(_)
        ));
        let Green::Missing(why) = choose(&[], &none) else {
            panic!()
        };
        assert!(why.contains("targets.targetGroups"), "{why}");
    }
}

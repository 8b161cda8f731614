//! One pass of checks: every configured check measured once, independent ones
//! concurrently, in at most two sequential AWS round trips (finding the newest ECS or
//! CodeDeploy deployment is the first of them, on the first pass only).

pub mod alarms;
pub mod codedeploy;
pub mod ecs_deployment;
pub mod green;
pub mod http_probe;
pub mod metrics;
pub mod target_health;

use crate::config::Config;
use crate::decide::{CheckReading, Reading};
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use serde::{Deserialize, Serialize};
use shared::aws::Lazy;
use std::time::Duration;

/// The AWS clients, each built on its first use. Retries are light: a measurement that
/// errors is counted against `errorLimit` and measured again on the next pass.
#[derive(Clone)]
pub struct Clients {
    pub ecs: Lazy<aws_sdk_ecs::Client>,
    pub elbv2: Lazy<aws_sdk_elasticloadbalancingv2::Client>,
    pub cloudwatch: Lazy<aws_sdk_cloudwatch::Client>,
    pub codedeploy: Lazy<aws_sdk_codedeploy::Client>,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        let sdk = sdk
            .to_builder()
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build();
        Self {
            ecs: Lazy::new(&sdk, shared::aws::ecs),
            elbv2: Lazy::new(&sdk, shared::aws::elbv2),
            cloudwatch: Lazy::new(&sdk, shared::aws::cloudwatch),
            codedeploy: Lazy::new(&sdk, shared::aws::codedeploy),
        }
    }
}

/// The deployments a gate watches, once found; kept between passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    /// The ECS service deployment ARN.
    #[serde(rename = "sd", default, skip_serializing_if = "Option::is_none")]
    pub ecs_deployment: Option<String>,
    /// The CodeDeploy deployment id.
    #[serde(rename = "cd", default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<String>,
    /// The green target groups, when found from the target revision.
    #[serde(rename = "tg", default, skip_serializing_if = "Vec::is_empty")]
    pub target_groups: Vec<String>,
}

/// What a pass measured.
pub struct Pass {
    pub readings: Vec<CheckReading>,
    pub watched: Watched,
    /// The CodeDeploy deployment as read, to stop it when the gate fails.
    pub codedeploy: Option<codedeploy::Deployment>,
}

/// Where a pass is measured from: one of the deployment's own lifecycle hooks (with the
/// deployment's target revision, in an ECS hook; with the deployment id, in a CodeDeploy
/// hook), or outside it.
#[derive(Debug, Clone, Copy)]
pub enum Vantage<'a> {
    Outside,
    Hook {
        revision: Option<&'a str>,
        codedeploy: Option<&'a str>,
    },
}

/// Measures every configured check once.
pub async fn measure(
    clients: &Clients,
    config: &Config,
    watched: &Watched,
    vantage: Vantage<'_>,
    now_ms: u64,
) -> Pass {
    let (in_hook, revision, hook_codedeploy) = match vantage {
        Vantage::Hook {
            revision,
            codedeploy,
        } => (true, revision, codedeploy),
        Vantage::Outside => (false, None, None),
    };
    let ecs = async {
        let Some(check) = &config.ecs else {
            return (None, None);
        };
        let arn = match check
            .deployment_arn
            .clone()
            .or_else(|| watched.ecs_deployment.clone())
        {
            Some(arn) => arn,
            None => {
                let (cluster, service) = (
                    check.cluster.as_deref().unwrap_or_default(),
                    check.service.as_deref().unwrap_or_default(),
                );
                match ecs_deployment::newest(&clients.ecs, cluster, service).await {
                    Ok(Some(arn)) => arn,
                    Ok(None) => {
                        // No service deployments (the CODE_DEPLOY or EXTERNAL controller,
                        // or before their history began): the service's own deployments.
                        let r = match ecs_deployment::from_services(&clients.ecs, cluster, service)
                            .await
                        {
                            Ok(Some(d)) => ecs_deployment::judged(&clients.ecs, d, in_hook).await,
                            Ok(None) => {
                                Reading::Fatal(format!("ECS has no service {service} in {cluster}"))
                            }
                            Err(e) => Reading::Error(e.to_string()),
                        };
                        return (
                            Some(CheckReading::new("deployment", r).dry_run(check.dry_run)),
                            None,
                        );
                    }
                    Err(e) => {
                        let r = Reading::Error(e.to_string());
                        return (
                            Some(CheckReading::new("deployment", r).dry_run(check.dry_run)),
                            None,
                        );
                    }
                }
            }
        };
        let reading = ecs_deployment::check(&clients.ecs, &arn, in_hook, check.dry_run).await;
        (Some(reading), Some(arn))
    };
    let targets = async {
        let Some(t) = &config.targets else {
            return (None, Vec::new());
        };
        if !t.target_groups.is_empty() {
            return (
                Some(target_health::check(&clients.elbv2, t).await),
                Vec::new(),
            );
        }
        let failed = |r: Reading| {
            (
                Some(CheckReading::new("targets", r).dry_run(t.dry_run)),
                Vec::new(),
            )
        };
        let groups = match (&watched.target_groups, revision) {
            (known, _) if !known.is_empty() => known.clone(),
            (_, Some(revision)) => {
                match target_health::green_groups(&clients.ecs, revision).await {
                    Ok(groups) if !groups.is_empty() => groups,
                    Ok(_) => {
                        return failed(Reading::Fatal(format!(
                            "the revision {revision} has no load balancer target group"
                        )));
                    }
                    Err(e) => return failed(Reading::Error(e.to_string())),
                }
            }
            (_, None) => {
                let found = match codedeploy_id(clients, config, watched, hook_codedeploy).await {
                    Ok(id) => green::groups(&clients.codedeploy, &clients.elbv2, &id).await,
                    Err(r) => Err(r),
                };
                match found {
                    Ok(groups) => groups,
                    Err(r) => return failed(r),
                }
            }
        };
        let found = crate::config::TargetsCheck {
            target_groups: groups.clone(),
            ..t.clone()
        };
        (
            Some(target_health::check(&clients.elbv2, &found).await),
            groups,
        )
    };
    let alarms = async {
        match &config.alarms {
            Some(a) => Some(alarms::check(&clients.cloudwatch, a).await),
            None => None,
        }
    };
    let metrics = async {
        if config.metrics.is_empty() {
            Vec::new()
        } else {
            metrics::check(&clients.cloudwatch, &config.metrics, now_ms).await
        }
    };
    let probes = futures::future::join_all(config.probes.iter().map(http_probe::check));
    let codedeploy = async {
        let Some(check) = &config.code_deploy else {
            return (None, None, None);
        };
        let id = match check
            .deployment_id
            .clone()
            .or_else(|| watched.codedeploy.clone())
        {
            Some(id) => id,
            None => {
                let app = check.application.as_deref().unwrap_or_default();
                let group = check.deployment_group.as_deref().unwrap_or_default();
                match codedeploy::newest(&clients.codedeploy, app, group).await {
                    Ok(Some(id)) => id,
                    Ok(None) => {
                        let r = Reading::Fatal(format!("{app}/{group} has no deployment"));
                        return (
                            Some(CheckReading::new("codedeploy", r).dry_run(check.dry_run)),
                            None,
                            None,
                        );
                    }
                    Err(e) => {
                        let r = Reading::Error(e.to_string());
                        return (
                            Some(CheckReading::new("codedeploy", r).dry_run(check.dry_run)),
                            None,
                            None,
                        );
                    }
                }
            }
        };
        let (reading, deployment) =
            codedeploy::check(&clients.codedeploy, &id, check.dry_run).await;
        (Some(reading), Some(id), deployment)
    };
    let ((ecs, ecs_arn), (targets, groups), alarms, metrics, probes, (cd, cd_id, cd_deployment)) =
        futures::join!(ecs, targets, alarms, metrics, probes, codedeploy);
    let mut readings: Vec<CheckReading> =
        [ecs, cd, targets, alarms].into_iter().flatten().collect();
    readings.extend(metrics);
    readings.extend(probes);
    Pass {
        readings,
        watched: Watched {
            ecs_deployment: ecs_arn.or_else(|| watched.ecs_deployment.clone()),
            codedeploy: cd_id.or_else(|| watched.codedeploy.clone()),
            target_groups: if groups.is_empty() {
                watched.target_groups.clone()
            } else {
                groups
            },
        },
        codedeploy: cd_deployment,
    }
}

/// The CodeDeploy deployment whose green target group the target health check reads: the
/// hook's, the configured one, the one found on an earlier pass, or the newest of the
/// configured group (read here too, concurrently with the deployment check).
async fn codedeploy_id(
    clients: &Clients,
    config: &Config,
    watched: &Watched,
    hook: Option<&str>,
) -> Result<String, Reading> {
    let check = config.code_deploy.as_ref();
    if let Some(id) = hook
        .map(str::to_owned)
        .or_else(|| check.and_then(|c| c.deployment_id.clone()))
        .or_else(|| watched.codedeploy.clone())
    {
        return Ok(id);
    }
    let Some(check) = check else {
        return Err(Reading::Fatal(
            "no target groups: list them in targets.targetGroups (or watch a codeDeploy deployment, whose green target group is found)".into(),
        ));
    };
    let app = check.application.as_deref().unwrap_or_default();
    let group = check.deployment_group.as_deref().unwrap_or_default();
    match codedeploy::newest(&clients.codedeploy, app, group).await {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(Reading::Fatal(format!(
            "{app}/{group} has no deployment whose target group could be checked"
        ))),
        Err(e) => Err(Reading::Error(e.to_string())),
    }
}

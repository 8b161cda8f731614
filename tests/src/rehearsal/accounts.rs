//! Pipelines that deploy into other accounts and regions. Each deploy action is a
//! [`Target`]; a target in another account gets that account's side as a user deploys
//! `infra/workload-account.yaml` there (the roles the functions and the deploy actions
//! assume, with their trust policies, and the service's tagged alarm), and the functions
//! stack gets the settings that reach those accounts (`WorkloadAccountIds`,
//! `RollbackAccounts`). The functions then run as their own roles, and CodePipeline
//! assumes an action's `RoleArn` as the pipeline's role, so every trust policy is checked
//! by the local STS as AWS checks it.

use super::pipeline::Pipeline;
use super::stack::FunctionsStack;
use super::template::{Template, TemplateError};
use crate::local_aws::{ACCOUNT, LocalAws, REGION};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The external id the rehearsal gives a pipeline's `ExternalId` parameter.
pub const EXTERNAL_ID: &str = "rehearsal-external-id";

/// The load balancer the workload alarms watch (CloudWatch's dimension form).
const LOAD_BALANCER: &str = "app/web/0123456789abcdef";

/// Where one deploy action deploys: its stage, the account and region, the service, and
/// the alarm that watches it there.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub stage: String,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub service: String,
    pub alarm: String,
    pub alarm_tags: BTreeMap<String, String>,
    /// The role the deploy action runs as (its `RoleArn`).
    pub role: Option<String>,
}

impl Target {
    /// In the tools account and region.
    pub fn is_home(&self) -> bool {
        self.account == ACCOUNT && self.region == REGION
    }

    /// `service c/s`, with the account and region when not the tools account's.
    pub fn label(&self) -> String {
        format!("service {}/{}{}", self.cluster, self.service, self.place())
    }

    /// ` in account A (region)`, or nothing for the tools account and region.
    pub fn place(&self) -> String {
        if self.is_home() {
            String::new()
        } else {
            format!(" in account {} ({})", self.account, self.region)
        }
    }

    /// The ECR repository URI of `repository` in the target's account and region.
    pub fn registry(&self, repository: &str) -> String {
        format!(
            "{}.dkr.ecr.{}.amazonaws.com/{repository}",
            self.account, self.region
        )
    }
}

/// The account a role ARN belongs to.
pub fn role_account(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?
        .split(':')
        .nth(3)
        .filter(|a| a.len() == 12)
}

/// What the workload accounts hold before the first release, and what the functions
/// stack and the pipeline need to reach them.
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    /// (account, role name, trust policy) of every role the workload stacks create.
    pub roles: Vec<(String, String, Value)>,
    /// The functions stack's parameters that reach the workload accounts.
    pub stack_parameters: BTreeMap<String, String>,
    /// The pipeline's own role (the deploy roles trust it), in the tools account.
    pub pipeline_role: Option<String>,
}

impl Workloads {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }
}

/// Reads the workload side of every target outside the tools account: its alarm (name and
/// tags) into the target, its roles into the result.
pub fn read(
    template: &Template,
    pipeline: &Pipeline,
    targets: &mut [Target],
    stack: &FunctionsStack,
    family: &str,
    repository: &str,
) -> Result<Workloads, TemplateError> {
    let mut out = Workloads::default();
    if targets.iter().all(|t| t.account == ACCOUNT) {
        return Ok(out);
    }
    let path = crate::local_aws::workspace_root().join("infra/workload-account.yaml");
    let value = |words: &[&str]| {
        template.values.iter().find_map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            words.iter().all(|w| k.contains(w)).then(|| v.clone())
        })
    };
    let prefix =
        value(&["workloadroleprefix"]).unwrap_or_else(|| super::stack::DEFAULT_STACK.into());
    let external_id = value(&["externalid"]).unwrap_or_else(|| EXTERNAL_ID.into());
    let pipeline_role = template
        .resources("AWS::CodePipeline::Pipeline")?
        .first()
        .and_then(|(_, p)| p["RoleArn"].as_str().map(str::to_owned));
    let bucket = template
        .resources("AWS::CodePipeline::Pipeline")?
        .first()
        .and_then(|(_, p)| {
            p.pointer("/ArtifactStore/Location")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| crate::job::BUCKET.into());
    let export = |suffix: &str| {
        stack
            .exports
            .iter()
            .find(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let stages: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
    let snapshot = targets.to_vec();
    for target in targets.iter_mut().filter(|t| t.account != ACCOUNT) {
        let mut regions: Vec<&str> = Vec::new();
        for t in snapshot.iter().filter(|t| t.account == target.account) {
            if !regions.contains(&t.region.as_str()) {
                regions.push(&t.region);
            }
        }
        // A bad release here must not go on: the stage after this one is frozen.
        let next = stages
            .iter()
            .position(|s| *s == target.stage)
            .and_then(|i| stages.get(i + 1));
        let parameters: BTreeMap<&str, String> = [
            ("ToolsAccountId", ACCOUNT.to_owned()),
            ("ToolsRegion", REGION.to_owned()),
            (
                "RenderTaskdefFunctionRoleArn",
                export("-RenderTaskdefRoleArn"),
            ),
            ("HealthGateFunctionRoleArn", export("-HealthGateRoleArn")),
            (
                "RollbackTriggerFunctionRoleArn",
                export("-RollbackTriggerRoleArn"),
            ),
            (
                "PromoteImageFunctionRoleArn",
                export("-PromoteImageRoleArn"),
            ),
            (
                "PipelineRoleArns",
                pipeline_role.clone().unwrap_or_default(),
            ),
            ("ArtifactBucketArns", format!("arn:aws:s3:::{bucket}")),
            (
                "ArtifactKeyArns",
                format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000002"),
            ),
            ("ExternalId", external_id.clone()),
            ("NamePrefix", prefix.clone()),
            ("Regions", regions.join(",")),
            ("EcsCluster", target.cluster.clone()),
            ("EcsServicePattern", target.service.clone()),
            ("TaskDefinitionFamilyPattern", family.to_owned()),
            (
                "PassRoleArns",
                format!(
                    "arn:aws:iam::{0}:role/web-task,arn:aws:iam::{0}:role/ecsTaskExecutionRole",
                    target.account
                ),
            ),
            ("EcrRepositoryPattern", repository.to_owned()),
            ("AlarmPrefix", export("-AlarmPrefix")),
            ("ServiceName", target.service.clone()),
            ("LoadBalancerFullName", LOAD_BALANCER.to_owned()),
            (
                "FreezeStage",
                next.map(|n| format!("{}/{n}", pipeline.name))
                    .unwrap_or_default(),
            ),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let mut pseudo = super::world::pseudo("workload");
        pseudo.insert("AWS::AccountId".into(), target.account.clone());
        pseudo.insert("AWS::Region".into(), target.region.clone());
        let (workload, _) = Template::read(
            &path,
            &pseudo,
            |name, _| parameters.get(name).cloned(),
            |e| e.to_owned(),
        )?;
        if let Some((id, alarm)) = workload.resources("AWS::CloudWatch::Alarm")?.first() {
            target.alarm = alarm["AlarmName"].as_str().unwrap_or(id).to_owned();
            target.alarm_tags = super::world::tags(alarm);
        }
        for (id, role) in workload.resources("AWS::IAM::Role")? {
            let name = role["RoleName"].as_str().unwrap_or(&id).to_owned();
            if !out
                .roles
                .iter()
                .any(|(a, n, _)| *a == target.account && *n == name)
            {
                out.roles.push((
                    target.account.clone(),
                    name,
                    role["AssumeRolePolicyDocument"].clone(),
                ));
            }
        }
    }
    let mut accounts: Vec<&str> = targets
        .iter()
        .filter(|t| t.account != ACCOUNT)
        .map(|t| t.account.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let rollback: serde_json::Map<String, Value> = accounts
        .iter()
        .map(|a| {
            (
                (*a).to_owned(),
                json!({"roleArn": format!("arn:aws:iam::{a}:role/{prefix}-rollback-trigger"),
                       "externalId": external_id}),
            )
        })
        .collect();
    out.stack_parameters = [
        ("WorkloadAccountIds".to_owned(), accounts.join(",")),
        ("WorkloadRolePrefix".to_owned(), prefix),
        (
            "RollbackAccounts".to_owned(),
            Value::Object(rollback).to_string(),
        ),
    ]
    .into_iter()
    .collect();
    out.pipeline_role = pipeline_role;
    Ok(out)
}

/// Credentials of an assumed role, as Lambda hands them to a function.
#[derive(Debug, Clone)]
pub struct Identity {
    pub role: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl Identity {
    /// The environment a function runs with as this identity.
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", self.session_token.clone()),
        ]
    }
}

/// `sts:AssumeRole` of `role` with the credentials of `as_who` (the test credentials
/// when `None`); the local STS checks the role's trust policy.
pub async fn assume(
    aws: &LocalAws,
    as_who: Option<&Identity>,
    role: &str,
    external_id: Option<&str>,
    session: &str,
) -> Result<Identity, String> {
    let mut sdk = aws.sdk_config().await.to_builder();
    if let Some(who) = as_who {
        sdk = sdk.credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    &who.access_key_id,
                    &who.secret_access_key,
                    Some(who.session_token.clone()),
                    None,
                    "rehearsal",
                ),
            ),
        );
    }
    let out = aws_sdk_sts::Client::new(&sdk.build())
        .assume_role()
        .role_arn(role)
        .role_session_name(session)
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(s) => format!(
                "sts:AssumeRole {role}: {}: {}",
                s.meta().code().unwrap_or("error"),
                s.meta().message().unwrap_or_default()
            ),
            None => format!("sts:AssumeRole {role}: {e}"),
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| format!("sts:AssumeRole {role}: no credentials"))?;
    Ok(Identity {
        role: role.to_owned(),
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: c.session_token().to_owned(),
    })
}

/// Creates the roles of the workload stacks, and in the tools account the functions'
/// roles and the pipeline's role (trusting the tools account, standing in for the Lambda
/// and CodePipeline services); returns the functions' identities.
pub async fn prepare(
    aws: &LocalAws,
    workloads: &Workloads,
    stack: &FunctionsStack,
    done: &mut Vec<String>,
) -> Result<BTreeMap<String, Identity>, String> {
    let mut identities = BTreeMap::new();
    if workloads.is_empty() {
        return Ok(identities);
    }
    let service_stand_in = crate::accounts::trust_tools(None);
    for function in super::world::FUNCTIONS {
        let suffix = format!("-{}RoleArn", pascal(function));
        let Some(role) = stack
            .exports
            .iter()
            .find(|(k, _)| k.ends_with(&suffix))
            .map(|(_, v)| v)
        else {
            continue;
        };
        let name = role.rsplit('/').next().unwrap_or(role);
        aws.create_role(ACCOUNT, name, &service_stand_in).await;
        let identity = assume(aws, None, role, None, function).await?;
        identities.insert(function.to_owned(), identity);
    }
    if let Some(role) = &workloads.pipeline_role {
        aws.create_role(
            ACCOUNT,
            role.rsplit('/').next().unwrap_or(role),
            &service_stand_in,
        )
        .await;
    }
    let mut by_account: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (account, name, trust) in &workloads.roles {
        aws.create_role(account, name, trust).await;
        by_account.entry(account).or_default().push(name);
    }
    for (account, names) in by_account {
        done.push(format!("account {account}: roles {}", names.join(", ")));
    }
    done.push(format!(
        "the functions run as their roles ({})",
        identities
            .values()
            .map(|i| i.role.rsplit('/').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(identities)
}

/// `render-taskdef` -> `RenderTaskdef`.
fn pascal(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The calls of a release by account: `account: service xN, ...`, tools account first.
pub fn calls_by_account(calls: &[crate::local_aws::Call]) -> Vec<String> {
    let mut by: BTreeMap<(bool, String), BTreeMap<String, usize>> = BTreeMap::new();
    for c in calls {
        let account = if c.account.is_empty() {
            ACCOUNT
        } else {
            &c.account
        };
        *by.entry((account != ACCOUNT, account.to_owned()))
            .or_default()
            .entry(c.service.clone())
            .or_default() += 1;
    }
    by.into_iter()
        .map(|((_, account), services)| {
            let shown: Vec<String> = services.iter().map(|(s, n)| format!("{s} x{n}")).collect();
            format!("{account}: {}", shown.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_places() {
        assert_eq!(pascal("render-taskdef"), "RenderTaskdef");
        assert_eq!(pascal("health-gate"), "HealthGate");
        assert_eq!(
            role_account("arn:aws:iam::222222222222:role/x"),
            Some("222222222222")
        );
        assert_eq!(role_account("not-an-arn"), None);
        let t = Target {
            stage: "Prod".into(),
            account: "333333333333".into(),
            region: "eu-west-1".into(),
            cluster: "prod".into(),
            service: "web".into(),
            alarm: String::new(),
            alarm_tags: BTreeMap::new(),
            role: None,
        };
        assert_eq!(
            t.label(),
            "service prod/web in account 333333333333 (eu-west-1)"
        );
        assert_eq!(
            t.registry("web"),
            "333333333333.dkr.ecr.eu-west-1.amazonaws.com/web"
        );
    }
}

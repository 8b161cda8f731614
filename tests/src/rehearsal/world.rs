//! The local world a pipeline deploys into, derived from the pipeline itself (its deploy
//! action, parameters, alarm and build project) and set up in the local AWS with what
//! runs before the first release: an image, a task definition and a service, or a
//! deployment group whose instances run the previous revision.

use super::accounts::{Identity, Target, Workloads};
use super::control;
use super::pipeline::{Pipeline, strings};
use super::stack::FunctionsStack;
use super::template::{Template, TemplateError};
use crate::accounts::{PROD, STAGING};
use crate::local_aws::{ACCOUNT, LocalAws, REGION};
use crate::seed::{DOCKER_V2, sample_manifest};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const ECS_API: &str = "AmazonEC2ContainerServiceV20141113";
pub const ECR_API: &str = "AmazonEC2ContainerRegistry_V20150921";
pub const CODEDEPLOY_API: &str = "CodeDeploy_20141006";

/// The project's functions, as the rehearsal runs them.
pub const FUNCTIONS: [&str; 4] = [
    "render-taskdef",
    "promote-image",
    "health-gate",
    "rollback-trigger",
];

/// The function a `FunctionName` (name, ARN, or an export that names it) stands for.
pub fn function_binary(name: &str) -> Option<&'static str> {
    let flat = normalized(name);
    FUNCTIONS
        .into_iter()
        .find(|f| flat.contains(&normalized(f)))
}

fn normalized(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Which deployment the pipeline does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `CodeDeployToECS`: ECS blue/green through CodeDeploy.
    EcsCodeDeploy,
    /// `ECS`: the ECS deploy action (native blue/green with lifecycle hooks).
    EcsNative,
    /// `CodeDeploy`: in-place to an EC2 deployment group.
    Ec2CodeDeploy,
}

impl Kind {
    pub fn of(pipeline: &Pipeline) -> Option<Self> {
        pipeline
            .stages
            .iter()
            .flat_map(|s| &s.actions)
            .find_map(|a| match a.provider.as_str() {
                "CodeDeployToECS" => Some(Self::EcsCodeDeploy),
                "ECS" => Some(Self::EcsNative),
                "CodeDeploy" => Some(Self::Ec2CodeDeploy),
                _ => None,
            })
    }
}

/// The values the rehearsal gives a template's parameters: the parameter's default when
/// it has one, else a local value of the right shape (an ARN, an id, a name).
pub fn parameter_value(name: &str, decl: &Value) -> Option<String> {
    if decl.get("Default").is_some_and(|d| !d.is_null()) {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let kind = decl["Type"].as_str().unwrap_or_default();
    let slug: String = lower
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if lower.contains("accountid") {
        return Some(
            if lower.contains("staging") {
                STAGING
            } else if lower.contains("prod") {
                PROD
            } else {
                ACCOUNT
            }
            .to_owned(),
        );
    }
    if lower.contains("externalid") {
        return Some(super::accounts::EXTERNAL_ID.to_owned());
    }
    if lower.contains("staging") && lower.contains("clustername") {
        return Some("staging".to_owned());
    }
    let named = [
        ("repositoryname", "web"),
        ("servicename", "web"),
        ("clustername", "prod"),
        ("family", "web"),
        ("containername", "app"),
        ("deploymentgroup", "web-prod"),
        ("application", "web"),
        ("loadbalancerfullname", "app/web/0123456789abcdef"),
    ];
    if let Some((_, v)) = named.iter().find(|(k, _)| lower.contains(k)) {
        return Some((*v).to_owned());
    }
    if lower.contains("passrole") {
        return Some(format!(
            "arn:aws:iam::{ACCOUNT}:role/web-task,arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
        ));
    }
    Some(if lower.contains("targetgroup") {
        format!(
            "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{slug}/0123456789abcdef"
        )
    } else if lower.contains("listener") {
        format!(
            "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/web/0123456789abcdef/fedcba9876543210"
        )
    } else if kind.contains("Subnet") || lower.contains("subnet") {
        "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002".into()
    } else if kind.contains("SecurityGroup") || lower.contains("securitygroup") {
        "sg-0a1b2c3d4e5f60001".into()
    } else if kind.contains("VPC") || lower.contains("vpc") {
        "vpc-0a1b2c3d4e5f60001".into()
    } else if lower.contains("connection") {
        format!(
            "arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/00000000-0000-4000-8000-000000000001"
        )
    } else if lower.contains("role") {
        format!("arn:aws:iam::{ACCOUNT}:role/{slug}")
    } else if lower.contains("topic") {
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:{slug}")
    } else if lower.contains("key") && lower.contains("arn") {
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000002")
    } else {
        slug
    })
}

/// A CodeBuild project's `Environment.EnvironmentVariables` as a map (name -> value).
pub fn build_environment(project: &Value) -> BTreeMap<String, String> {
    project
        .pointer("/Environment/EnvironmentVariables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let value = match &v["Value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((v["Name"].as_str()?.to_owned(), value))
        })
        .collect()
}

/// A resource's CloudFormation `Tags` (`[{Key, Value}]`) as a map.
pub fn tags(props: &Value) -> BTreeMap<String, String> {
    props["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t["Key"].as_str()?.to_owned(),
                t["Value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The pseudo parameters.
pub fn pseudo(stack: &str) -> BTreeMap<String, String> {
    [
        ("AWS::AccountId", ACCOUNT),
        ("AWS::Region", REGION),
        ("AWS::StackName", stack),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        (
            "AWS::StackId",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/rehearsal/1",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The world of one pipeline.
#[derive(Debug, Clone)]
pub struct World {
    pub kind: Kind,
    pub repository: String,
    pub cluster: String,
    pub service: String,
    /// The CodeDeploy application and deployment group (CodeDeploy kinds).
    pub application: String,
    pub group: String,
    pub target_groups: Vec<String>,
    pub alarm: String,
    pub alarm_tags: BTreeMap<String, String>,
    pub instances: Vec<String>,
    pub artifact_bucket: String,
    /// The task definition family and the container that gets the built image.
    pub family: String,
    pub container: String,
    /// The functions stack: exports and each function's environment.
    pub stack: FunctionsStack,
    /// CodeBuild project name -> its inline buildspec.
    pub buildspecs: BTreeMap<String, String>,
    /// CodeBuild project name -> its environment variables (name -> value).
    pub build_environments: BTreeMap<String, BTreeMap<String, String>>,
    /// The promotions that require the image's signature (`verify`).
    pub verified_promotions: Vec<super::cosign::VerifiedPromotion>,
    /// The pipeline's name and stages, as the local CodePipeline knows them.
    pub pipeline: String,
    pub stages: Vec<String>,
    /// The ECS service's lifecycle hooks declared in the template, as
    /// `{stage, function, hookDetails?}`.
    pub service_hooks: Vec<Value>,
    /// Where each deploy action deploys, in pipeline order (the first is the service
    /// above for a pipeline that stays in the tools account).
    pub targets: Vec<Target>,
    /// The workload accounts' side, when a target is in another account, and the ECR
    /// repository of theirs that the services there pull from.
    pub workloads: Workloads,
    pub workload_repository: String,
    /// The functions' identities (their roles), when the pipeline crosses accounts.
    pub identities: BTreeMap<String, Identity>,
    /// An EC2 pipeline deployed on the local Docker engine (else its deployments are
    /// played by the emulator).
    pub real: Option<super::engine::Real>,
}

impl World {
    pub fn image_uri(&self, tag: &str) -> String {
        if let Some(real) = &self.real {
            return format!("{}/{}:{tag}", real.host, self.repository);
        }
        format!(
            "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}:{tag}",
            self.repository
        )
    }

    /// Derives the world from the pipeline and its template.
    pub fn of(
        template: &Template,
        pipeline: &Pipeline,
        kind: Kind,
        stack: &FunctionsStack,
    ) -> Result<Self, TemplateError> {
        let actions: Vec<_> = pipeline.stages.iter().flat_map(|s| &s.actions).collect();
        let deploy = actions.iter().find(|a| {
            matches!(
                a.provider.as_str(),
                "CodeDeployToECS" | "ECS" | "CodeDeploy"
            )
        });
        let config = |key: &str| deploy.and_then(|a| a.config(key)).map(str::to_owned);
        // The gate's and the other invoke actions' parameters, for names they mention.
        let params: Vec<Value> = actions
            .iter()
            .filter_map(|a| a.config("UserParameters"))
            .filter_map(|p| serde_json::from_str(p).ok())
            .collect();
        let from_params = |pointer: &str| {
            params.iter().find_map(|p| {
                p.pointer(pointer)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        };
        let parameter = |words: &[&str]| {
            template.values.iter().find_map(|(k, v)| {
                let k = k.to_ascii_lowercase();
                words.iter().any(|w| k.contains(w)).then(|| v.clone())
            })
        };
        let cluster = config("ClusterName")
            .or_else(|| from_params("/ecs/cluster"))
            .or_else(|| parameter(&["cluster"]))
            .unwrap_or_else(|| "default".into());
        let service = config("ServiceName")
            .or_else(|| from_params("/ecs/service"))
            .or_else(|| parameter(&["servicename", "ecsservice"]))
            .unwrap_or_else(|| "web".into());
        let mut repository = None;
        let mut buildspecs = BTreeMap::new();
        let mut build_environments = BTreeMap::new();
        for (id, project) in template.resources("AWS::CodeBuild::Project")? {
            let name = project["Name"].as_str().unwrap_or(&id).to_owned();
            if let Some(spec) = project.pointer("/Source/BuildSpec").and_then(Value::as_str) {
                buildspecs.insert(name.clone(), spec.to_owned());
            }
            build_environments.insert(name, build_environment(&project));
            let mut found = Vec::new();
            strings(&project, &mut found);
            repository = found
                .iter()
                .filter_map(|s| s.split_once(".dkr.ecr."))
                .filter_map(|(_, rest)| rest.split_once('/'))
                .map(|(_, repo)| repo.split([':', '@']).next().unwrap_or(repo).to_owned())
                .next();
        }
        let repository = repository
            .or_else(|| from_params("/source/repository"))
            .or_else(|| parameter(&["ecrrepository", "imagerepository", "repositoryname"]))
            .unwrap_or_else(|| service.clone());
        let mut everything = Vec::new();
        strings(
            &template.resolve(&template.raw["Resources"])?,
            &mut everything,
        );
        strings(&json!(template.values), &mut everything);
        let mut target_groups: Vec<String> = everything
            .iter()
            .filter(|s| {
                s.starts_with("arn:aws:elasticloadbalancing") && s.contains(":targetgroup/")
            })
            .cloned()
            .collect();
        target_groups.sort();
        target_groups.dedup();
        if target_groups.is_empty() {
            target_groups.push(format!(
                "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{service}-green/0123456789abcdef"
            ));
        }
        let alarms = template.resources("AWS::CloudWatch::Alarm")?;
        let (alarm, mut alarm_tags) = match alarms.first() {
            Some((id, props)) => (
                props["AlarmName"].as_str().unwrap_or(id).to_owned(),
                tags(props),
            ),
            None => (
                from_params("/alarms/names/0").unwrap_or_else(|| format!("{service}-5xx")),
                BTreeMap::new(),
            ),
        };
        let application = config("ApplicationName").unwrap_or_else(|| service.clone());
        let group = config("DeploymentGroupName").unwrap_or_else(|| format!("{service}-prod"));
        if !alarm_tags.keys().any(|k| k.starts_with("rollback:")) {
            // The alarm's wiring to rollback-trigger, as the project's README shows it.
            let (key, value) = match kind {
                Kind::EcsNative => ("rollback:ecs-service", format!("{cluster}/{service}")),
                _ => ("rollback:codedeploy", format!("{application}/{group}")),
            };
            alarm_tags.insert(key.into(), value);
        }
        let artifact_bucket = template.resources("AWS::CodePipeline::Pipeline")?[0]
            .1
            .pointer("/ArtifactStore/Location")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty())
            .unwrap_or(crate::job::BUCKET)
            .to_ascii_lowercase();
        let mut service_hooks = Vec::new();
        for (_, service) in template.resources("AWS::ECS::Service")? {
            for hook in service
                .pointer("/DeploymentConfiguration/LifecycleHooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for stage in hook["LifecycleStages"].as_array().into_iter().flatten() {
                    let mut h = json!({"stage": stage, "function": hook["HookTargetArn"]});
                    if let Some(details) = hook.get("HookDetails") {
                        h["hookDetails"] = details.clone();
                    }
                    service_hooks.push(h);
                }
            }
        }
        // The hooks a deployment command in the outputs sets on the service
        // (`aws ecs update-service ... --deployment-configuration '{...}'`).
        for (_, output) in template.raw["Outputs"].as_object().into_iter().flatten() {
            let text = template.resolve(&output["Value"])?;
            let Some(config) = text
                .as_str()
                .and_then(|t| t.split_once("--deployment-configuration '"))
                .and_then(|(_, rest)| rest.split_once('\''))
                .and_then(|(json, _)| serde_json::from_str::<Value>(json).ok())
            else {
                continue;
            };
            for hook in config["lifecycleHooks"].as_array().into_iter().flatten() {
                for stage in hook["lifecycleStages"].as_array().into_iter().flatten() {
                    let mut h = json!({"stage": stage, "function": hook["hookTargetArn"]});
                    if let Some(details) = hook.get("hookDetails") {
                        h["hookDetails"] = details.clone();
                    }
                    service_hooks.push(h);
                }
            }
        }
        let family = parameter(&["family"]).unwrap_or_else(|| service.clone());
        let container = parameter(&["containername"]).unwrap_or_else(|| "app".into());
        let mut targets: Vec<Target> = pipeline
            .stages
            .iter()
            .flat_map(|s| s.actions.iter().map(move |a| (s, a)))
            .filter(|(_, a)| {
                matches!(
                    a.provider.as_str(),
                    "CodeDeployToECS" | "ECS" | "CodeDeploy"
                )
            })
            .map(|(s, a)| Target {
                stage: s.name.clone(),
                account: a
                    .role_arn
                    .as_deref()
                    .and_then(super::accounts::role_account)
                    .unwrap_or(ACCOUNT)
                    .to_owned(),
                region: a.region.clone().unwrap_or_else(|| REGION.to_owned()),
                cluster: a
                    .config("ClusterName")
                    .map_or_else(|| cluster.clone(), str::to_owned),
                service: a
                    .config("ServiceName")
                    .map_or_else(|| service.clone(), str::to_owned),
                alarm: alarm.clone(),
                alarm_tags: alarm_tags.clone(),
                role: a.role_arn.clone(),
            })
            .collect();
        let workload_repository = parameter(&["workloadecr"]).unwrap_or_else(|| repository.clone());
        let workloads = super::accounts::read(
            template,
            pipeline,
            &mut targets,
            stack,
            &family,
            &workload_repository,
        )?;
        Ok(Self {
            targets,
            workloads,
            identities: BTreeMap::new(),
            real: None,
            workload_repository,
            kind,
            family,
            container,
            stack: stack.clone(),
            buildspecs,
            build_environments,
            verified_promotions: super::cosign::verified_promotions(actions.iter().copied()),
            pipeline: pipeline.name.clone(),
            stages: pipeline.stages.iter().map(|s| s.name.clone()).collect(),
            service_hooks,
            repository,
            cluster,
            service,
            application,
            group,
            target_groups,
            alarm,
            alarm_tags,
            instances: [
                "i-0a1b2c3d4e5f60001",
                "i-0a1b2c3d4e5f60002",
                "i-0a1b2c3d4e5f60003",
            ]
            .map(str::to_owned)
            .to_vec(),
            artifact_bucket,
        })
    }

    /// Sets up what runs before the first release; returns what it set up.
    pub async fn prepare(&mut self, aws: &LocalAws) -> Result<Vec<String>, String> {
        let mut done = Vec::new();
        let s3 = aws.s3().await;
        crate::job::ensure_bucket(&s3, &self.artifact_bucket).await;
        // The pipeline as CodePipeline knows it: its stages, every transition enabled.
        let stages: Vec<Value> = self
            .stages
            .iter()
            .map(|s| json!({"stageName": s, "inboundTransitionState": {"enabled": true}}))
            .collect();
        aws.set_state(json!({"pipelines": {&self.pipeline: {
            "pipelineName": self.pipeline, "pipelineVersion": 1, "stageStates": stages}}}))
            .await;
        let _ = aws
            .json_call(
                &format!("{ECR_API}.CreateRepository"),
                &json!({"repositoryName": self.repository}),
            )
            .await;
        for tag in ["v1", "prod"] {
            aws.json_call(
                &format!("{ECR_API}.PutImage"),
                &json!({"repositoryName": self.repository, "imageTag": tag,
                        "imageManifest": sample_manifest(&format!("{}:v1", self.repository)),
                        "imageManifestMediaType": DOCKER_V2}),
            )
            .await?;
        }
        done.push(format!("image {} (also :prod)", self.image_uri("v1")));
        let alarms = if self.targets.iter().any(|t| t.account == ACCOUNT) {
            json!([{"name": self.alarm, "tags": self.alarm_tags}])
        } else {
            json!([])
        };
        let health: serde_json::Map<String, Value> = self
            .target_groups
            .iter()
            .map(|tg| {
                (
                    tg.clone(),
                    json!([{"id": "10.0.1.10", "port": 8080, "state": "healthy"}]),
                )
            })
            .collect();
        if self.kind == Kind::Ec2CodeDeploy {
            let revision = bundle_revision(&self.artifact_bucket, "releases/v1.zip");
            control(
                aws,
                "POST",
                "world",
                json!({
                "codedeployGroups": [{"application": self.application, "group": self.group,
                    "platform": "Server", "instances": self.instances, "alarm": self.alarm,
                    "targetGroups": self.target_groups, "initialRevision": revision,
                    "agent": self.real.is_some()}],
                "alarms": alarms, "targetHealth": health}),
            )
            .await?;
            if let Some(real) = &self.real {
                done.push(format!(
                    "deployment group {}/{}: {} local instances on the Docker engine (127.0.1.1-{} port {}), none running a container yet: the first release is their first deployment",
                    self.application,
                    self.group,
                    self.instances.len(),
                    self.instances.len(),
                    real.port
                ));
                done.push(format!(
                    "registry {} (Basic auth, its password in Secrets Manager)",
                    real.host
                ));
                return Ok(done);
            }
            done.push(format!(
                "deployment group {}/{}: {} instances on releases/v1.zip",
                self.application,
                self.group,
                self.instances.len()
            ));
            return Ok(done);
        }
        self.identities =
            super::accounts::prepare(aws, &self.workloads, &self.stack, &mut done).await?;
        let mut world = json!({"alarms": alarms, "targetHealth": health});
        let mut first = None;
        for target in &self.targets {
            let arn = self.prepare_service(aws, target, &mut done).await?;
            first.get_or_insert(arn);
        }
        let arn = first.unwrap_or_default();
        if self.kind == Kind::EcsCodeDeploy {
            world["codedeployGroups"] = json!([{"application": self.application, "group": self.group,
                "platform": "ECS", "cluster": self.cluster, "service": self.service, "alarm": self.alarm,
                "targetGroups": self.target_groups, "initialRevision": appspec_revision(&arn, &self.container)}]);
            done.push(format!(
                "deployment group {}/{}",
                self.application, self.group
            ));
        }
        control(aws, "POST", "world", world).await?;
        for t in self.targets.iter().filter(|t| !t.is_home()) {
            control(
                aws,
                "POST",
                "world",
                json!({"account": t.account, "alarms": [{"name": t.alarm, "tags": t.alarm_tags, "region": t.region}]}),
            )
            .await?;
        }
        let mut shown: Vec<(String, String)> = Vec::new();
        for t in &self.targets {
            let alarm = (t.alarm.clone(), t.place());
            if !shown.contains(&alarm) {
                done.push(format!(
                    "alarm {}{} OK, tagged {:?}",
                    t.alarm,
                    t.place(),
                    t.alarm_tags
                ));
                shown.push(alarm);
            }
        }
        Ok(done)
    }

    /// The image URI of `tag` as the service of `target` pulls it.
    pub fn target_image(&self, target: &Target, tag: &str) -> String {
        if target.account == ACCOUNT {
            format!(
                "{ACCOUNT}.dkr.ecr.{}.amazonaws.com/{}:{tag}",
                target.region, self.repository
            )
        } else {
            format!("{}:{tag}", target.registry(&self.workload_repository))
        }
    }

    /// The service of `target` running the previous release (and, in another account,
    /// the ECR repository it pulls from); returns its task definition's ARN.
    async fn prepare_service(
        &self,
        aws: &LocalAws,
        target: &Target,
        done: &mut Vec<String>,
    ) -> Result<String, String> {
        let call = |operation: &str, body: Value| {
            let target_name = format!(
                "{}.{operation}",
                if operation.contains("Image") || operation == "CreateRepository" {
                    ECR_API
                } else {
                    ECS_API
                }
            );
            async move {
                aws.json_call_at(&target.account, &target.region, &target_name, &body)
                    .await
            }
        };
        if target.account != ACCOUNT {
            let _ = call(
                "CreateRepository",
                json!({"repositoryName": self.workload_repository}),
            )
            .await;
            call(
                "PutImage",
                json!({"repositoryName": self.workload_repository, "imageTag": "v1",
                       "imageManifest": sample_manifest(&format!("{}:v1", self.workload_repository)),
                       "imageManifestMediaType": DOCKER_V2}),
            )
            .await?;
        }
        let _ = call("CreateCluster", json!({"clusterName": target.cluster})).await;
        let registered = call(
            "RegisterTaskDefinition",
            task_definition(
                &self.family,
                &self.container,
                &self.target_image(target, "v1"),
                "v1",
            ),
        )
        .await?;
        let arn = registered["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let controller = if self.kind == Kind::EcsCodeDeploy {
            "CODE_DEPLOY"
        } else {
            "ECS"
        };
        call(
            "CreateService",
            json!({"cluster": target.cluster, "serviceName": target.service, "taskDefinition": arn,
                    "desiredCount": 2, "deploymentController": {"type": controller}}),
        )
        .await?;
        if self.kind == Kind::EcsNative {
            aws.seed_deployments(json!({"account": target.account, "ecsServices": [{
                "cluster": target.cluster, "service": target.service, "region": target.region,
                "deployments": [{"id": "initial", "status": "SUCCESSFUL", "taskDefinition": arn}]}]}))
                .await;
        }
        done.push(format!("{} on {}", target.label(), short_arn(&arn)));
        Ok(arn)
    }
}

/// A Fargate task definition of one `app` container.
pub fn task_definition(family: &str, container: &str, image: &str, release: &str) -> Value {
    json!({
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"),
        "containerDefinitions": [{
            "name": container,
            "image": image,
            "essential": true,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "RELEASE", "value": release}],
        }],
    })
}

/// An ECS deployment's revision: the AppSpec naming `task_definition`.
pub fn appspec_revision(task_definition: &str, container: &str) -> Value {
    let content = format!(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: {task_definition}\n        LoadBalancerInfo:\n          ContainerName: {container}\n          ContainerPort: 8080\n"
    );
    json!({"revisionType": "AppSpecContent", "appSpecContent": {"content": content}})
}

pub fn bundle_revision(bucket: &str, key: &str) -> Value {
    json!({"revisionType": "S3", "s3Location": {"bucket": bucket, "key": key, "bundleType": "zip"}})
}

/// `family:revision` from a task definition ARN.
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

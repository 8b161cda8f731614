//! `UserParameters`: what to render from, what to change, and what to produce.
//!
//! Every key is optional. Maps keyed by container name keep the order they are written
//! in, and a `null` value removes the entry.

use crate::problem::{Problem, Problems, list};
use crate::revision::RevisionConfig;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use shared::aws::Account;
use std::fmt;
use std::marker::PhantomData;

/// Per-container maps of key to value, `None` to remove.
pub type PerContainer = OrderedMap<OrderedMap<Option<String>>>;

/// The action's configuration.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Config {
    /// Input artifact holding the template file. Default: the first input artifact that
    /// has `templatePath`. Example: `"SourceArtifact"`.
    pub template_artifact: Option<String>,
    /// Path of the template in that artifact (exact path, or a file name found once
    /// anywhere in it). Default `taskdef.json`. Example: `"deploy/taskdef.json"`.
    pub template_path: Option<String>,
    /// Use a registered task definition as the template instead of a file: a family
    /// (latest ACTIVE revision), `family:revision`, or an ARN. Example: `"web:41"`.
    pub task_definition: Option<String>,
    /// Use the task definition that this ECS service runs now as the template. Name or ARN.
    /// Example: `"web"`.
    pub service: Option<String>,
    /// Cluster of `service`. Default `default`. Example: `"prod"`.
    pub cluster: Option<String>,
    /// Input artifact holding `imageDetail.json` or `imagedefinitions.json`. Default: the
    /// one input artifact that holds such a file, if any. Example: `"BuildArtifact"`.
    pub image_artifact: Option<String>,
    /// Path of the image file in that artifact, when it has another name. The format is
    /// detected from the content. Example: `"out/images.json"`.
    pub image_file: Option<String>,
    /// Container (or placeholder such as `IMAGE1_NAME`) that the image of an
    /// `imageDetail.json` goes to; that file names no container. Default: the container
    /// whose image is `<IMAGE1_NAME>`, else the only container. Example: `"app"`.
    pub image_container: Option<String>,
    /// Image URIs by container name or placeholder; these win over an image file.
    /// Pipeline variables work here. Example:
    /// `{"app": "#{BuildVariables.IMAGE_URI}", "IMAGE2_NAME": "public.ecr.aws/nginx/nginx:1.27"}`.
    pub images: OrderedMap<String>,
    /// Resolve each image tag that this action sets to its digest through ECR and deploy
    /// `repository@sha256:...`, so that the deployed image cannot change under the
    /// pipeline. Default `false`. Example: `true`.
    pub pin_digests: bool,
    /// Environment variables by container: set or override, `null` removes. Values are
    /// kept exactly (empty strings and `=` included). Example:
    /// `{"app": {"LOG_LEVEL": "info", "DEBUG": null, "OPTS": "a=b"}}`.
    pub environment: PerContainer,
    /// Secrets (`valueFrom` ARNs) by container: set or override, `null` removes. Example:
    /// `{"app": {"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"}}`.
    pub secrets: PerContainer,
    /// `logConfiguration.options` by container: set or override, `null` removes. The
    /// container must already have a `logConfiguration`. Example:
    /// `{"app": {"awslogs-stream-prefix": "web", "tag": ""}}`.
    pub log_options: PerContainer,
    /// `dockerLabels` by container: set or override, `null` removes. Example:
    /// `{"app": {"com.example.commit": "#{SourceVariables.CommitId}"}}`.
    pub docker_labels: PerContainer,
    /// `command` by container, as a JSON array (never split on spaces); `null` removes it.
    /// Example: `{"app": ["node", "server.js", "--name=a b"]}`.
    pub command: OrderedMap<Option<Vec<String>>>,
    /// Task role ARN to set (`""` removes it). Example:
    /// `"arn:aws:iam::123456789012:role/web-task"`.
    pub task_role_arn: Option<String>,
    /// Execution role ARN to set (`""` removes it). Example:
    /// `"arn:aws:iam::123456789012:role/ecsTaskExecutionRole"`.
    pub execution_role_arn: Option<String>,
    /// Register the rendered task definition in ECS, unless the family's latest ACTIVE
    /// revision is already the same. Default `false`. Example: `true`.
    pub register: bool,
    /// Output artifact to write. Default: the action's first output artifact. Example:
    /// `"RenderedArtifact"`.
    pub output_artifact: Option<String>,
    /// The workload account and region of the live task definition or service, the ECR
    /// digest look-ups and the registration; the files stay in the pipeline's artifact
    /// store. Example: `{"roleArn": "arn:aws:iam::222222222222:role/render",
    /// "externalId": "tools-7f3a", "region": "eu-west-1"}`.
    pub account: Option<Account>,
    /// How `appspec.yaml` is produced.
    pub appspec: AppSpecConfig,
    /// Render a CodeDeploy EC2/on-premises revision that runs the image in one Docker
    /// container, instead of a task definition. Example: `{"name": "web", "ports":
    /// [{"containerPort": 8080, "hostPort": 80}]}`.
    pub revision: Option<RevisionConfig>,
    /// The signatures every image this action sets must carry before anything is rendered
    /// or registered (`{"require": [...]}`, as promote-image reads it). Example:
    /// `{"require": [{"cosign": {"keyUri": "s3://trust/cosign.pub"}}]}`.
    pub verify: Option<serde_json::Value>,
}

/// `appspec` in `UserParameters`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct AppSpecConfig {
    /// Path of an `appspec.yaml` template in the template's artifact (or any input
    /// artifact). Default: `appspec.yaml` when there is one; otherwise one is generated.
    /// Example: `"deploy/appspec.yaml"`.
    pub template: Option<String>,
    /// Container that receives load balancer traffic, for a generated appspec. Default: the
    /// container whose image this action set and that has a port mapping, else the only
    /// container with one. Example: `"app"`.
    pub container: Option<String>,
    /// Container port for the load balancer. Default: the container's first
    /// `containerPort`. Example: `8080`.
    pub port: Option<u16>,
    /// `PlatformVersion` in a generated appspec (Fargate). Example: `"LATEST"`.
    pub platform_version: Option<String>,
    /// `placeholder` (default) keeps `<TASK_DEFINITION>` for the CodeDeploy blue/green
    /// action to fill; `registered` writes the registered ARN (needs `register`).
    /// Example: `"registered"`.
    pub task_definition: AppSpecTaskDefinition,
    /// Lifecycle hooks: hook name to Lambda function name or ARN. Example:
    /// `{"AfterAllowTestTraffic": "health-gate"}`.
    pub hooks: OrderedMap<String>,
}

/// What `TaskDefinition:` in `appspec.yaml` holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppSpecTaskDefinition {
    #[default]
    Placeholder,
    Registered,
}

/// The ECS blue/green lifecycle hooks, in the order they run.
pub const HOOKS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

/// Where the template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// A file in an input artifact.
    Artifact {
        artifact: Option<String>,
        path: String,
    },
    /// A registered task definition: family, `family:revision` or ARN.
    TaskDefinition(String),
    /// The task definition that a service runs.
    Service { cluster: String, service: String },
}

impl Config {
    /// Checks the combinations that serde cannot, all at once.
    /// Where the calls go: the `account` block checked, its region settled from the ARNs
    /// given (task definition, service, cluster, task and execution roles).
    pub fn place(&self) -> Result<Account, Problems> {
        let account = self.account.clone().unwrap_or_default();
        let mut problems = account.problems("UserParameters.account");
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let arns = [
            ("taskDefinition", &self.task_definition),
            ("service", &self.service),
            ("cluster", &self.cluster),
            ("taskRoleArn", &self.task_role_arn),
            ("executionRoleArn", &self.execution_role_arn),
        ]
        .into_iter()
        .filter_map(|(key, v)| v.as_deref().map(|v| (format!("UserParameters.{key}"), v)));
        account.settle(arns).map_err(|p| {
            problems.extend(p);
            Problems(problems)
        })
    }

    /// `verify`'s requirements, when it is set and reads (its problems are [`Self::check`]'s).
    pub fn requirements(&self) -> Option<shared::verify::Requirements> {
        let value = self.verify.as_ref()?;
        shared::verify::Requirements::parse(value, "UserParameters.verify").ok()
    }

    pub fn check(&self) -> Result<(), Problems> {
        let mut problems = Vec::new();
        if let Some(Err(p)) = self
            .verify
            .as_ref()
            .map(|v| shared::verify::Requirements::parse(v, "UserParameters.verify"))
        {
            problems.extend(p);
        }
        if let Some(rev) = &self.revision {
            problems.extend(crate::revision::check(self, rev));
        }
        let p = |key: &str| format!("UserParameters.{key}");
        let live = self.task_definition.is_some() || self.service.is_some();
        if self.task_definition.is_some() && self.service.is_some() {
            problems.push(Problem::new(
                p("service"),
                "give either `taskDefinition` or `service` as the template, not both",
            ));
        }
        if live && (self.template_artifact.is_some() || self.template_path.is_some()) {
            problems.push(Problem::new(
                p("templatePath"),
                "`templateArtifact`/`templatePath` name a template file, but `taskDefinition` or `service` is set too; keep one template source",
            ));
        }
        if self.cluster.is_some() && self.service.is_none() {
            problems.push(Problem::new(
                p("cluster"),
                "`cluster` is only used with `service`; add `service` or remove `cluster`",
            ));
        }
        for (key, value) in [
            ("taskDefinition", &self.task_definition),
            ("service", &self.service),
            ("cluster", &self.cluster),
            ("templatePath", &self.template_path),
            ("templateArtifact", &self.template_artifact),
            ("imageArtifact", &self.image_artifact),
            ("imageFile", &self.image_file),
            ("imageContainer", &self.image_container),
            ("outputArtifact", &self.output_artifact),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                problems.push(Problem::new(
                    p(key),
                    "is empty; remove the key or give a value",
                ));
            }
        }
        if self.appspec.task_definition == AppSpecTaskDefinition::Registered && !self.register {
            problems.push(Problem::new(
                p("appspec.taskDefinition"),
                "`registered` writes the registered ARN into appspec.yaml, so it needs `\"register\": true`",
            ));
        }
        for (hook, target) in &self.appspec.hooks.0 {
            if !HOOKS.contains(&hook.as_str()) {
                problems.push(Problem::new(
                    p(&format!("appspec.hooks.{hook}")),
                    format!("is not an ECS lifecycle hook; use one of {}", list(HOOKS)),
                ));
            }
            if target.trim().is_empty() {
                problems.push(Problem::new(
                    p(&format!("appspec.hooks.{hook}")),
                    "needs a Lambda function name or ARN",
                ));
            }
        }
        for (container, cmd) in &self.command.0 {
            if cmd.as_ref().is_some_and(Vec::is_empty) {
                problems.push(Problem::new(
                    p(&format!("command.{container}")),
                    "is an empty array; use null to remove the command",
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(problems))
        }
    }

    pub fn template_source(&self) -> TemplateSource {
        if let Some(td) = &self.task_definition {
            TemplateSource::TaskDefinition(td.clone())
        } else if let Some(service) = &self.service {
            TemplateSource::Service {
                cluster: self.cluster.clone().unwrap_or_else(|| "default".to_owned()),
                service: service.clone(),
            }
        } else {
            TemplateSource::Artifact {
                artifact: self.template_artifact.clone(),
                path: self
                    .template_path
                    .clone()
                    .unwrap_or_else(|| "taskdef.json".to_owned()),
            }
        }
    }
}

/// A JSON object read in the order it is written; a repeated key is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, V)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    out.push((key, value));
                }
                Ok(OrderedMap(out))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, String> {
        serde_json::from_str::<Config>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_object_is_the_default() {
        let c = parse("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            c.template_source(),
            TemplateSource::Artifact {
                artifact: None,
                path: "taskdef.json".into()
            }
        );
        assert!(c.check().is_ok());
    }

    #[test]
    fn every_key_parses() {
        let c = parse(
            r#"{
            "templateArtifact": "Src", "templatePath": "d/taskdef.json",
            "imageArtifact": "Build", "imageFile": "x.json", "imageContainer": "app",
            "images": {"app": "r/web:1", "IMAGE2_NAME": "nginx"},
            "pinDigests": true,
            "environment": {"app": {"A": "1", "B": null, "C": "", "D": "x=y=z"}},
            "secrets": {"app": {"S": "arn:aws:ssm:eu-west-1:1:parameter/s"}},
            "logOptions": {"app": {"tag": ""}},
            "dockerLabels": {"app": {"team": "x"}},
            "command": {"app": ["sh", "-c", "echo 'a b'"], "side": null},
            "taskRoleArn": "arn:aws:iam::1:role/t", "executionRoleArn": "",
            "register": true, "outputArtifact": "Out",
            "appspec": {"template": "appspec.yaml", "container": "app", "port": 8080,
                        "platformVersion": "LATEST", "taskDefinition": "registered",
                        "hooks": {"AfterAllowTestTraffic": "gate"}}
        }"#,
        )
        .unwrap();
        assert!(c.check().is_ok(), "{:?}", c.check());
        assert_eq!(c.images.keys().collect::<Vec<_>>(), ["app", "IMAGE2_NAME"]);
        let env = &c.environment.0[0].1.0;
        assert_eq!(env[1], ("B".into(), None));
        assert_eq!(env[2], ("C".into(), Some(String::new())));
        assert_eq!(env[3], ("D".into(), Some("x=y=z".into())));
        assert_eq!(c.command.0[0].1.as_ref().unwrap()[2], "echo 'a b'");
        assert_eq!(c.command.0[1].1, None);
        assert_eq!(c.appspec.port, Some(8080));
        assert_eq!(c.appspec.task_definition, AppSpecTaskDefinition::Registered);
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        assert!(
            parse(r#"{"imagez": {}}"#)
                .unwrap_err()
                .contains("unknown field `imagez`")
        );
        let e = parse(r#"{"appspec": {"hook": {}}}"#).unwrap_err();
        assert!(e.contains("unknown field `hook`"), "{e}");
        let e = parse(r#"{"appspec": {"taskDefinition": "arn"}}"#).unwrap_err();
        assert!(e.contains("unknown variant `arn`"), "{e}");
    }

    #[test]
    fn wrong_types_and_duplicates_are_refused() {
        let e = parse(r#"{"environment": {"app": {"PORT": 8080}}}"#).unwrap_err();
        assert!(e.contains("invalid type: integer"), "{e}");
        let e = parse(r#"{"command": {"app": "node server.js"}}"#).unwrap_err();
        assert!(e.contains("invalid type: string"), "{e}");
        let e = parse(r#"{"images": {"a": "x", "a": "y"}}"#).unwrap_err();
        assert!(e.contains("duplicate key `a`"), "{e}");
    }

    #[test]
    fn live_sources() {
        let c = parse(r#"{"taskDefinition": "web:3"}"#).unwrap();
        assert_eq!(
            c.template_source(),
            TemplateSource::TaskDefinition("web:3".into())
        );
        let c = parse(r#"{"service": "web"}"#).unwrap();
        assert_eq!(
            c.template_source(),
            TemplateSource::Service {
                cluster: "default".into(),
                service: "web".into()
            }
        );
        let c = parse(r#"{"service": "web", "cluster": "prod"}"#).unwrap();
        assert!(
            matches!(c.template_source(), TemplateSource::Service { cluster, .. } if cluster == "prod")
        );
    }

    #[test]
    fn conflicting_keys_are_all_reported() {
        let c = parse(
            r#"{"taskDefinition": "web", "service": "web", "templatePath": "t.json",
                "appspec": {"taskDefinition": "registered", "hooks": {"AfterTraffic": ""}},
                "command": {"app": []}, "imageFile": " "}"#,
        )
        .unwrap();
        let problems = c.check().unwrap_err().0;
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "UserParameters.service",
                "UserParameters.templatePath",
                "UserParameters.imageFile",
                "UserParameters.appspec.taskDefinition",
                "UserParameters.appspec.hooks.AfterTraffic",
                "UserParameters.appspec.hooks.AfterTraffic",
                "UserParameters.command.app",
            ]
        );
        assert!(problems[4].message.contains("`AfterAllowTraffic`"));
    }

    #[test]
    fn cluster_needs_service() {
        let c = parse(r#"{"cluster": "prod"}"#).unwrap();
        assert_eq!(c.check().unwrap_err().0[0].path, "UserParameters.cluster");
    }
}

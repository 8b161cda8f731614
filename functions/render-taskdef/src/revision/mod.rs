//! The second output kind: a CodeDeploy EC2/on-premises revision that runs one container,
//! from the same image inputs as the task definition. Either generated (`appspec.yml`, four
//! hook scripts, the plain environment file) or the user's own template with the image
//! filled in. The image is always pinned by digest.

pub mod config;
pub mod generate;
pub mod image;
pub mod secret;
pub mod shell;
pub mod template;

pub use config::RevisionConfig;

/// A revision's files: path in the revision and contents.
pub type Files = Vec<(String, Vec<u8>)>;

use crate::config::{AppSpecConfig, Config};
use crate::problem::{Problem, list};

/// The task definition keys that mean nothing to a revision, when set beside `revision`.
pub fn ecs_only_keys(cfg: &Config) -> Vec<&'static str> {
    [
        ("templateArtifact", cfg.template_artifact.is_some()),
        ("templatePath", cfg.template_path.is_some()),
        ("taskDefinition", cfg.task_definition.is_some()),
        ("service", cfg.service.is_some()),
        ("cluster", cfg.cluster.is_some()),
        ("environment", !cfg.environment.is_empty()),
        ("secrets", !cfg.secrets.is_empty()),
        ("logOptions", !cfg.log_options.is_empty()),
        ("dockerLabels", !cfg.docker_labels.is_empty()),
        ("command", !cfg.command.is_empty()),
        ("taskRoleArn", cfg.task_role_arn.is_some()),
        ("executionRoleArn", cfg.execution_role_arn.is_some()),
        ("register", cfg.register),
        ("appspec", cfg.appspec != AppSpecConfig::default()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect()
}

/// Every problem with a configuration that asks for a revision.
pub fn check(cfg: &Config, rev: &RevisionConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let ecs = ecs_only_keys(cfg);
    if !ecs.is_empty() {
        out.push(Problem::new(
            "UserParameters.revision",
            format!(
                "{} belong to the ECS task definition, which a revision does not render; remove them, or use revision.environment, revision.secrets, revision.command and the other revision keys",
                list(ecs)
            ),
        ));
    }
    out.extend(rev.check());
    out
}

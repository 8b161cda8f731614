//! The action's set-up when a registry other than ECR is on either side: the credentials
//! from Secrets Manager, a registry client per host, the two [`Side`]s, then [`oci::promote`].

use shared::registry::{Client as RegistryClient, Credentials};
use shared::{JobContext, Outcome};

use crate::config::{Config, Settings, SourceSpec};
use crate::date::Date;
use crate::ecr::Repo;
use crate::error::PromoteError;
use crate::place::{self, Place};
use crate::reference::ImageRef;
use crate::side::Side;
use crate::{PromoteImage, oci, resolve_source};

impl PromoteImage {
    /// A promotion with a registry other than ECR on either side.
    pub(crate) async fn across(
        &self,
        settings: &Settings,
        ctx: &JobContext<Config, ()>,
    ) -> Result<Outcome<()>, PromoteError> {
        let home = self.home_region()?;
        let source_credentials = self
            .credentials(
                settings.source_credentials.as_deref(),
                settings.source_username.as_deref(),
                &home,
            )
            .await?;
        let target_credentials = self
            .credentials(
                settings.target.credentials_secret.as_deref(),
                settings.target.username.as_deref(),
                &home,
            )
            .await?;
        let registry_client = |host: &str, credentials: Option<Credentials>| {
            RegistryClient::new(host, credentials).map(|c| c.with_deadline(ctx.deadline.into_std()))
        };

        // The source: a registry image, or an ECR image (named, or by an artifact).
        let ecr_source = match &settings.source {
            SourceSpec::Registry(_) => None,
            spec => Some(resolve_source(spec, &ctx.artifacts).await?.0),
        };
        let source_region = ecr_source
            .as_ref()
            .and_then(|s| s.region.clone())
            .unwrap_or_else(|| home.clone());
        let source_ecr = self
            .ecr_as(
                settings.source_role.role_arn.as_deref(),
                settings.source_role.external_id.as_deref(),
                &source_region,
            )
            .await?;
        let source_registry = match &settings.source {
            SourceSpec::Registry(image) => {
                Some(registry_client(&image.host, source_credentials.clone())?)
            }
            _ => None,
        };

        // The target: another registry, or ECR.
        let target_repository_named = settings.target.repository.clone();
        let (target_registry, target_repository, target_label): (
            Option<RegistryClient>,
            String,
            String,
        ) = match (&settings.target.registry, &settings.source) {
            (Some(Place::Registry { registry, host }), source) => {
                let name = target_repository_named
                    .clone()
                    .unwrap_or_else(|| source_repository(source, ecr_source.as_ref()));
                let repository = place::api_repository(registry, &name);
                let credentials = target_credentials.clone().or_else(|| match source {
                    SourceSpec::Registry(s) if s.host == *host => source_credentials.clone(),
                    _ => None,
                });
                (
                    Some(registry_client(host, credentials)?),
                    repository.clone(),
                    format!("{registry}/{repository}"),
                )
            }
            (None, SourceSpec::Registry(image)) => {
                let repository = match &target_repository_named {
                    Some(name) => place::api_repository(&image.registry, name),
                    None => image.repository.clone(),
                };
                let credentials = target_credentials
                    .clone()
                    .or_else(|| source_credentials.clone());
                (
                    Some(registry_client(&image.host, credentials)?),
                    repository.clone(),
                    format!("{}/{repository}", image.registry),
                )
            }
            _ => {
                let repository = target_repository_named
                    .clone()
                    .unwrap_or_else(|| source_repository(&settings.source, ecr_source.as_ref()));
                let region = match &settings.target.registry {
                    Some(Place::Ecr { region, .. }) => region.as_str(),
                    _ => settings.target.region.as_deref().unwrap_or(&home),
                };
                let label = format!("{repository} ({region})");
                (None, repository, label)
            }
        };
        let (target_registry_id, target_region) = match &settings.target.registry {
            Some(Place::Ecr { account, region }) => (Some(account.clone()), region.clone()),
            _ => (
                settings.target.registry_id.clone(),
                settings
                    .target
                    .region
                    .clone()
                    .unwrap_or_else(|| home.clone()),
            ),
        };
        let target_ecr = self
            .ecr_as(
                settings.target.role_arn.as_deref(),
                settings.target.external_id.as_deref(),
                &target_region,
            )
            .await?;

        let source_label;
        let source_side = match (&source_registry, &settings.source, &ecr_source) {
            (Some(client), SourceSpec::Registry(image), _) => {
                source_label = format!("{}/{}", image.registry, image.repository);
                Side::Registry {
                    client,
                    repository: &image.repository,
                    label: &source_label,
                }
            }
            (_, _, Some(image)) => {
                source_label = image.repository.clone();
                Side::Ecr {
                    repo: Repo {
                        client: &source_ecr,
                        registry_id: image.registry_id.as_deref(),
                        name: &image.repository,
                    },
                    downloader: &self.downloader,
                    label: &source_label,
                }
            }
            _ => unreachable!("a source is an ECR image or a registry image"),
        };
        let target_side = match &target_registry {
            Some(client) => Side::Registry {
                client,
                repository: &target_repository,
                label: &target_label,
            },
            None => Side::Ecr {
                repo: Repo {
                    client: &target_ecr,
                    registry_id: target_registry_id.as_deref(),
                    name: &target_repository,
                },
                downloader: &self.downloader,
                label: &target_label,
            },
        };
        let reference = match (&settings.source, &ecr_source) {
            (SourceSpec::Registry(image), _) => image.reference.clone(),
            (_, Some(image)) => image.reference.clone(),
            _ => unreachable!("a source is an ECR image or a registry image"),
        };
        let gate = match (&settings.gate, source_side) {
            (Some(policy), Side::Ecr { repo, .. }) => Some((policy, repo)),
            _ => None,
        };
        let request = oci::Request {
            source_label: &source_label,
            reference: &reference,
            tags: &settings.tags,
            allow_moving_tags: settings.allow_moving_tags,
            gate,
            today: Date::today(),
        };
        let success = oci::promote(source_side, target_side, &request).await?;
        Ok(Outcome::Success(success))
    }

    /// The credentials in `secret`, when one is named; read in the secret's own region
    /// when it is given as an ARN. With `username`, the secret holds the password alone.
    async fn credentials(
        &self,
        secret: Option<&str>,
        username: Option<&str>,
        home: &str,
    ) -> Result<Option<Credentials>, PromoteError> {
        let Some(secret) = secret else {
            return Ok(None);
        };
        let region = secret_region(secret).unwrap_or(home);
        let client = aws_sdk_secretsmanager::Client::new(&self.clients.in_region(region));
        Ok(Some(
            shared::registry::read_credentials(&client, secret, username).await?,
        ))
    }
}

/// The region of a Secrets Manager ARN (`arn:aws:secretsmanager:<region>:...`).
fn secret_region(secret: &str) -> Option<&str> {
    let mut parts = secret.split(':');
    (parts.next() == Some("arn")
        && parts.next().is_some()
        && parts.next() == Some("secretsmanager"))
    .then(|| parts.next())
    .flatten()
    .filter(|r| !r.is_empty())
}

/// The source's repository name, the target's default.
fn source_repository(source: &SourceSpec, ecr: Option<&ImageRef>) -> String {
    match (source, ecr) {
        (SourceSpec::Registry(image), _) => image.repository.clone(),
        (_, Some(image)) => image.repository.clone(),
        _ => String::new(),
    }
}

//! promote-image: moves a built image to the next stage by retagging its manifest in
//! ECR, byte for byte, so its digest never changes; across repositories, accounts or
//! regions it copies the missing layers first. An optional scan gate can refuse it.
//! Docker Hub and other OCI registries may be the source, the target or both
//! ([`oci`], [`side`]): the same bytes and media type, the missing blobs mounted or
//! streamed.

pub mod config;
pub mod copy;
pub mod date;
pub mod ecr;
pub mod error;
pub mod manifest;
pub mod oci;
pub mod place;
pub mod promote;
pub mod reference;
pub mod scan;
pub mod side;
pub mod source;
pub mod summary;
pub mod tags;

use std::sync::Arc;

use aws_config::SdkConfig;
use shared::artifacts::Artifacts;
use shared::aws::Clients as Factory;
use shared::{Action, JobContext, Outcome};

use crate::config::{Config, Settings, SourceSpec};
use crate::copy::Downloader;
use crate::date::Date;
use crate::ecr::Repo;
use crate::error::PromoteError;
use crate::place::Place;
use crate::promote::{Clients, Request};
use crate::reference::{ImageRef, role_account};
use crate::side::Side;
use shared::registry::{Client as RegistryClient, Credentials};

/// The session name of an assumed target role (its credentials serve every later job of
/// the same process until they near expiry).
const SESSION_NAME: &str = "promote-image";

/// The action. Clients come from the shared factory, which keeps assumed roles'
/// credentials between jobs.
pub struct PromoteImage {
    clients: Factory,
    downloader: Downloader,
}

impl PromoteImage {
    pub fn new(sdk: &SdkConfig) -> Self {
        PromoteImage {
            clients: Factory::new(sdk),
            downloader: Downloader::new(sdk),
        }
    }

    fn home_region(&self) -> Result<String, PromoteError> {
        self.clients
            .home_region()
            .map(str::to_owned)
            .ok_or_else(|| {
                PromoteError::Config(
                    "the function has no AWS region configured (AWS_REGION is not set)".to_string(),
                )
            })
    }

    /// An ECR client in `region`, with the function's own credentials.
    fn regional(&self, region: &str) -> aws_sdk_ecr::Client {
        shared::aws::ecr(&self.clients.in_region(region))
    }

    /// An ECR client in `region` acting as `role_arn`.
    async fn assumed(
        &self,
        role_arn: &str,
        region: &str,
    ) -> Result<aws_sdk_ecr::Client, PromoteError> {
        let config = self.clients.as_role(role_arn, region, SESSION_NAME).await?;
        Ok(shared::aws::ecr(&config))
    }
}

impl Action for PromoteImage {
    type Config = Config;
    type State = ();
    type Error = PromoteError;
    const NAME: &'static str = "promote-image";

    async fn run(
        self: Arc<Self>,
        mut ctx: JobContext<Config, ()>,
    ) -> Result<Outcome<()>, PromoteError> {
        let mut settings = std::mem::take(&mut ctx.config)
            .validate()
            .map_err(|p| PromoteError::Config(p.to_string()))?;
        if let Some(Place::Ecr { account, region }) = &settings.target.registry
            && !matches!(settings.source, SourceSpec::Registry(_))
        {
            settings.target.registry_id = Some(account.clone());
            settings.target.region = Some(region.clone());
        } else if settings.target.is_registry(&settings.source)
            || matches!(settings.source, SourceSpec::Registry(_))
        {
            return self.across(&settings, &ctx).await;
        }
        let (source, origin) = resolve_source(&settings.source, &ctx.artifacts).await?;
        let home = self.home_region()?;
        let source_region = source.region.clone().unwrap_or_else(|| home.clone());
        let target_region = settings
            .target
            .region
            .clone()
            .unwrap_or_else(|| source_region.clone());
        let target_registry = settings
            .target
            .registry_id
            .clone()
            .or_else(|| {
                settings
                    .target
                    .role_arn
                    .as_deref()
                    .and_then(role_account)
                    .map(str::to_owned)
            })
            .or_else(|| source.registry_id.clone());
        let target_repository = settings
            .target
            .repository
            .clone()
            .unwrap_or_else(|| source.repository.clone());

        let source_client = self.regional(&source_region);
        let target_client = match &settings.target.role_arn {
            Some(role) => self.assumed(role, &target_region).await?,
            None if target_region == source_region => source_client.clone(),
            None => self.regional(&target_region),
        };
        let clients = Clients {
            source: &source_client,
            target: &target_client,
            downloader: &self.downloader,
        };
        let request = Request {
            source: &source,
            origin: origin.as_deref(),
            source_region: &source_region,
            target_repository: &target_repository,
            target_registry_id: target_registry.as_deref(),
            target_region: &target_region,
            tags: &settings.tags,
            allow_moving_tags: settings.allow_moving_tags,
            gate: settings.gate.as_ref(),
            today: Date::today(),
        };
        let success = promote::promote(&clients, &request).await?;
        Ok(Outcome::Success(success))
    }
}

impl PromoteImage {
    /// A promotion with a registry other than ECR on either side.
    async fn across(
        &self,
        settings: &Settings,
        ctx: &JobContext<Config, ()>,
    ) -> Result<Outcome<()>, PromoteError> {
        let home = self.home_region()?;
        let source_credentials = self
            .credentials(settings.source_credentials.as_deref(), &home)
            .await?;
        let target_credentials = self
            .credentials(settings.target.credentials_secret.as_deref(), &home)
            .await?;
        let registry_client = |host: &str, credentials: Option<Credentials>| {
            RegistryClient::new(host, credentials).map(|c| c.with_deadline(ctx.deadline.into_std()))
        };

        // The source: a registry image, or an ECR image (named, or by an artifact).
        let (ecr_source, origin) = match &settings.source {
            SourceSpec::Registry(_) => (None, None),
            spec => {
                let (image, origin) = resolve_source(spec, &ctx.artifacts).await?;
                (Some(image), origin)
            }
        };
        let _ = origin;
        let source_region = ecr_source
            .as_ref()
            .and_then(|s| s.region.clone())
            .unwrap_or_else(|| home.clone());
        let source_ecr = self.regional(&source_region);
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
        let target_ecr = match &settings.target.role_arn {
            Some(role) => self.assumed(role, &target_region).await?,
            None => self.regional(&target_region),
        };

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
    /// when it is given as an ARN.
    async fn credentials(
        &self,
        secret: Option<&str>,
        home: &str,
    ) -> Result<Option<Credentials>, PromoteError> {
        let Some(secret) = secret else {
            return Ok(None);
        };
        let region = secret_region(secret).unwrap_or(home);
        let client = aws_sdk_secretsmanager::Client::new(&self.clients.in_region(region));
        Ok(Some(
            shared::registry::read_credentials(&client, secret).await?,
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

/// The source image, and where it was read from when an artifact named it.
async fn resolve_source(
    spec: &SourceSpec,
    artifacts: &Artifacts,
) -> Result<(ImageRef, Option<String>), PromoteError> {
    let (name, file, container) = match spec {
        SourceSpec::Image(image) => return Ok((image.clone(), None)),
        SourceSpec::Registry(image) => {
            return Err(PromoteError::Config(format!(
                "{image} is not in ECR; this step reads ECR images only"
            )));
        }
        SourceSpec::Artifact {
            name,
            file,
            container,
        } => (name, file.as_deref(), container.as_deref()),
    };
    let zip = artifacts.read(name).await?;
    let paths: Vec<&str> = zip.paths().collect();
    let file = source::choose_file(name, &paths, file, container).map_err(PromoteError::Config)?;
    let json = zip.json(&file)?;
    let image = if file.rsplit('/').next() == Some(source::IMAGE_DETAIL) {
        source::from_image_detail(&file, json)
    } else {
        source::from_image_definitions(&file, json, container)
    }
    .map_err(|e| PromoteError::Config(format!("input artifact `{name}`: {e}")))?;
    Ok((image, Some(format!("{file} in input artifact `{name}`"))))
}

//! promote-image: moves a built image to the next stage by retagging its manifest in
//! ECR, byte for byte, so its digest never changes; across repositories, accounts or
//! regions it copies the missing layers first. An optional scan gate can refuse it.
//! Docker Hub and other OCI registries may be the source, the target or both
//! ([`oci`], [`side`]): the same bytes and media type, the missing blobs mounted or
//! streamed.

pub mod across;
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

use crate::config::{Config, SourceSpec};
use crate::copy::Downloader;
use crate::date::Date;
use crate::error::PromoteError;
use crate::place::Place;
use crate::promote::{Clients, Request};
use crate::reference::{ImageRef, role_account};

/// The action. Clients come from the shared factory; an assumed role's credentials are
/// kept for one job only (see [`PromoteImage::for_job`]).
pub struct PromoteImage {
    clients: Factory,
    downloader: Downloader,
    /// The STS session name of roles assumed for this job: `promote-image-<job id>`.
    session: String,
}

impl PromoteImage {
    pub fn new(sdk: &SdkConfig) -> Self {
        PromoteImage {
            clients: Factory::new(sdk),
            downloader: Downloader::new(sdk),
            session: "promote-image".to_owned(),
        }
    }

    /// The action for one job: no role assumed yet, sessions named after the job.
    fn for_job(&self, job_id: &str) -> Self {
        PromoteImage {
            clients: self.clients.for_invocation(),
            downloader: self.downloader.clone(),
            session: shared::aws::session_name("promote-image", job_id),
        }
    }

    pub(crate) fn home_region(&self) -> Result<String, PromoteError> {
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
    pub(crate) fn regional(&self, region: &str) -> aws_sdk_ecr::Client {
        shared::aws::ecr(&self.clients.in_region(region))
    }

    /// An ECR client in `region` acting as `role_arn` (with `external_id`), or with the
    /// function's own credentials when there is no role.
    pub(crate) async fn ecr_as(
        &self,
        role_arn: Option<&str>,
        external_id: Option<&str>,
        region: &str,
    ) -> Result<aws_sdk_ecr::Client, PromoteError> {
        let Some(role) = role_arn else {
            return Ok(self.regional(region));
        };
        let config = self
            .clients
            .as_role(role, external_id, region, &self.session)
            .await?;
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
        let this = self.for_job(&ctx.job.id);
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
            return this.across(&settings, &ctx).await;
        }
        let (source, origin) = resolve_source(&settings.source, &ctx.artifacts).await?;
        let home = this.home_region()?;
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
                    .or(settings.source_role.role_arn.as_deref())
                    .and_then(role_account)
                    .map(str::to_owned)
            })
            .or_else(|| source.registry_id.clone());
        let target_repository = settings
            .target
            .repository
            .clone()
            .unwrap_or_else(|| source.repository.clone());

        let source_role = settings.source_role.role_arn.as_deref();
        let source_external = settings.source_role.external_id.as_deref();
        let target_role = settings.target.role_arn.as_deref();
        let target_external = settings.target.external_id.as_deref();
        // Both roles are assumed concurrently: one round trip before the first read.
        let (source_client, target_client) = futures::try_join!(
            this.ecr_as(source_role, source_external, &source_region),
            async {
                let same = target_region == source_region
                    && (target_role, target_external) == (source_role, source_external);
                if same {
                    this.ecr_as(source_role, source_external, &source_region)
                        .await
                } else {
                    this.ecr_as(target_role, target_external, &target_region)
                        .await
                }
            }
        )?;
        let clients = Clients {
            source: &source_client,
            target: &target_client,
            downloader: &this.downloader,
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

/// The source image, and where it was read from when an artifact named it.
pub(crate) async fn resolve_source(
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

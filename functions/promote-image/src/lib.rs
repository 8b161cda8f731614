//! promote-image: moves a built image to the next stage by retagging its manifest in
//! ECR, byte for byte, so its digest never changes; across repositories, accounts or
//! regions it copies the missing layers first. An optional scan gate can refuse it.

pub mod config;
pub mod copy;
pub mod date;
pub mod ecr;
pub mod error;
pub mod manifest;
pub mod promote;
pub mod reference;
pub mod scan;
pub mod source;
pub mod summary;
pub mod tags;

use std::sync::Arc;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_ecr::config::{Credentials, Region};
use shared::artifacts::Artifacts;
use shared::error::aws_error;
use shared::{Action, JobContext, Outcome};

use crate::config::{Config, SourceSpec};
use crate::copy::Downloader;
use crate::date::Date;
use crate::error::PromoteError;
use crate::promote::{Clients, Request};
use crate::reference::{ImageRef, role_account};

/// The action, with clients built once per cold start.
pub struct PromoteImage {
    sdk: SdkConfig,
    ecr: aws_sdk_ecr::Client,
    sts: aws_sdk_sts::Client,
    downloader: Downloader,
}

impl PromoteImage {
    pub fn new(sdk: &SdkConfig) -> Self {
        PromoteImage {
            sdk: sdk.clone(),
            ecr: aws_sdk_ecr::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            downloader: Downloader::new(sdk),
        }
    }

    fn home_region(&self) -> Result<String, PromoteError> {
        self.sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            PromoteError::Config(
                "the function has no AWS region configured (AWS_REGION is not set)".to_string(),
            )
        })
    }

    /// An ECR client in `region`, with the function's own credentials.
    fn regional(&self, region: &str, home: &str) -> aws_sdk_ecr::Client {
        if region == home {
            return self.ecr.clone();
        }
        let config = aws_sdk_ecr::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_ecr::Client::from_conf(config)
    }

    /// An ECR client in `region` acting as `role_arn`.
    async fn assumed(
        &self,
        role_arn: &str,
        region: &str,
        job_id: &str,
    ) -> Result<aws_sdk_ecr::Client, PromoteError> {
        let session: String = format!("promote-image-{job_id}").chars().take(64).collect();
        let out = self
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session)
            .send()
            .await
            .map_err(|e| aws_error("sts:AssumeRole", e))?;
        let Some(c) = out.credentials() else {
            return Err(PromoteError::Config(format!(
                "sts:AssumeRole for {role_arn} returned no credentials"
            )));
        };
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            SystemTime::try_from(*c.expiration()).ok(),
            "promote-image-assume-role",
        );
        let config = aws_sdk_ecr::config::Builder::from(&self.sdk)
            .credentials_provider(credentials)
            .region(Region::new(region.to_owned()))
            .build();
        Ok(aws_sdk_ecr::Client::from_conf(config))
    }
}

impl Action for PromoteImage {
    type Config = Config;
    type State = ();
    type Error = PromoteError;
    const NAME: &'static str = "promote-image";

    async fn run(
        self: Arc<Self>,
        ctx: JobContext<Config, ()>,
    ) -> Result<Outcome<()>, PromoteError> {
        let settings = ctx
            .config
            .validate()
            .map_err(|p| PromoteError::Config(p.to_string()))?;
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

        let source_client = self.regional(&source_region, &home);
        let target_client = match &settings.target.role_arn {
            Some(role) => self.assumed(role, &target_region, &ctx.job.id).await?,
            None if target_region == source_region => source_client.clone(),
            None => self.regional(&target_region, &home),
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

/// The source image, and where it was read from when an artifact named it.
async fn resolve_source(
    spec: &SourceSpec,
    artifacts: &Artifacts,
) -> Result<(ImageRef, Option<String>), PromoteError> {
    let (name, file, container) = match spec {
        SourceSpec::Image(image) => return Ok((image.clone(), None)),
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

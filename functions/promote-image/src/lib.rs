//! promote-image: moves a built image to the next stage by retagging its manifest in
//! ECR, byte for byte, so its digest never changes; across repositories, accounts or
//! regions it copies the missing layers first, and the image's referrers (signatures,
//! SBOMs, attestations) after it ([`referrers`]). An optional scan gate can refuse it.
//! Docker Hub and other OCI registries may be the source, the target or both: one
//! pipeline ([`pipeline`]) promotes between any two sides ([`store`]) of the validated
//! route ([`route`]), the same bytes and media type, the missing blobs mounted or streamed.

pub mod config;
pub mod connect;
pub mod copy_layers;
pub mod date;
pub mod ecr;
pub mod ecr_layers;
pub mod error;
pub mod manifest;
pub mod pipeline;
pub mod referrers;
pub mod registry_image;
pub mod route;
pub mod scan;
pub mod source;
pub mod store;
pub mod summary;
pub mod tags;
pub mod verify;

use std::sync::Arc;

use aws_config::SdkConfig;
use shared::aws::Clients as Factory;
use shared::{Action, JobContext, Outcome};

use crate::config::Config;
use crate::date::Date;
use crate::ecr_layers::Downloader;
use crate::error::PromoteError;
use crate::route::{Role, Source};

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
            .ok_or(PromoteError::NoRegion)
    }

    /// An ECR client in `region`, with the function's own credentials.
    pub(crate) fn regional(&self, region: &str) -> aws_sdk_ecr::Client {
        shared::aws::ecr(&self.clients.in_region(region))
    }

    /// An ECR client in `region` acting as `role` (with its external id), or with the
    /// function's own credentials when there is no role.
    pub(crate) async fn ecr_as(
        &self,
        role: &Role,
        region: &str,
    ) -> Result<aws_sdk_ecr::Client, PromoteError> {
        let Some(arn) = &role.arn else {
            return Ok(self.regional(region));
        };
        let config = self
            .clients
            .as_role(arn, role.external_id.as_deref(), region, &self.session)
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
        let route = std::mem::take(&mut ctx.config)
            .validate()
            .map_err(PromoteError::Settings)?;
        // Trust material (S3, KMS) and revocation (AWS Signer) are read with the function's
        // own credentials, once per invocation (KMS keys and revocation in their ARNs'
        // regions). The trust material loads
        // while the sides connect and the promotion reads the source; the signature check
        // awaits it, before anything is written.
        let lookups = route
            .verify
            .as_ref()
            .map(|_| shared::verify::Lookups::new(this.clients.sdk()));
        let policy = route
            .verify
            .as_ref()
            .zip(lookups.as_ref())
            .map(|(requirements, lookups)| verify::loading(requirements, lookups));
        let loaded = async {
            if let Some(policy) = &policy {
                // The result is kept for the check; an error is reported by the check.
                let _ = policy.clone().await;
            }
        };
        let promoted = async {
            let sides = this.connect(&route, &ctx).await?;
            this.promote(&route, &sides, policy.as_ref(), lookups.as_ref())
                .await
        };
        let (promoted, ()) = futures::join!(promoted, loaded);
        Ok(Outcome::Success(promoted?))
    }
}

impl PromoteImage {
    /// The one promotion pipeline over the connected sides.
    async fn promote(
        &self,
        route: &route::Route,
        sides: &connect::Sides,
        policy: Option<&verify::Loading>,
        lookups: Option<&shared::verify::Lookups>,
    ) -> Result<shared::Success, PromoteError> {
        let (source, target) = (
            sides.source.store(&self.downloader),
            sides.target.store(&self.downloader),
        );
        let gate = match (&route.source, source) {
            (
                Source::Ecr {
                    gate: Some(policy), ..
                },
                store::Store::Ecr { repo, .. },
            ) => Some((policy, repo)),
            _ => None,
        };
        let verify_gate = policy
            .zip(lookups)
            .map(|(policy, lookups)| verify::Gate { policy, lookups });
        let request = pipeline::Request {
            reference: &sides.reference,
            origin: sides.origin.as_deref(),
            tags: &route.tags,
            allow_moving_tags: route.allow_moving_tags,
            gate,
            today: Date::today(),
            referrers: &route.referrers,
            verify: verify_gate.as_ref(),
        };
        pipeline::promote(source, target, &request).await
    }
}

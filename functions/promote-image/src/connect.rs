//! From the route to the two sides the pipeline promotes between: the source image read
//! from its artifact when one names it, the defaults a target takes from the source, roles
//! assumed and registry credentials read (both sides at once), clients made.

use shared::JobContext;
use shared::artifacts::Artifacts;
use shared::aws::account::role_account;
use shared::image::{EcrImageRef, IMAGE_DETAIL, Reference};
use shared::registry::{Client as RegistryClient, Credentials};

use crate::config::Config;
use crate::ecr::Repo;
use crate::ecr_layers::Downloader;
use crate::error::PromoteError;
use crate::registry_image::{RegistryImage, api_repository};
use crate::route::{EcrImage, EcrTarget, RegistryTarget, Role, Route, Secret, Source, Target};
use crate::store::Store;
use crate::{PromoteImage, source};

/// One side, with the client that reaches it.
pub enum Side {
    Ecr {
        client: aws_sdk_ecr::Client,
        registry_id: Option<String>,
        region: String,
        repository: String,
    },
    Registry {
        /// Boxed: a registry client (its token cache and HTTP stack) is much the larger.
        client: Box<RegistryClient>,
        registry: String,
        repository: String,
    },
}

impl Side {
    pub fn store<'a>(&'a self, downloader: &'a Downloader) -> Store<'a> {
        match self {
            Side::Ecr {
                client,
                registry_id,
                region,
                repository,
            } => Store::Ecr {
                repo: Repo {
                    client,
                    registry_id: registry_id.as_deref(),
                    name: repository,
                },
                region,
                downloader,
            },
            Side::Registry {
                client,
                registry,
                repository,
            } => Store::Registry {
                client,
                registry,
                repository,
            },
        }
    }
}

/// Both sides, and the source image's reference and origin.
pub struct Sides {
    pub source: Side,
    pub target: Side,
    pub reference: Reference,
    /// Where an input artifact named the source.
    pub origin: Option<String>,
}

/// The source about to be reached: an ECR image (its artifact, if any, read) or a
/// registry image.
enum Opening<'a> {
    Ecr(EcrSource<'a>),
    Registry {
        image: &'a RegistryImage,
        credentials: Option<&'a Secret>,
    },
}

/// Where an ECR source is, once its artifact (if any) has been read.
struct EcrSource<'a> {
    image: EcrImageRef,
    region: String,
    role: &'a Role,
}

impl PromoteImage {
    pub(crate) async fn connect(
        &self,
        route: &Route,
        ctx: &JobContext<Config, ()>,
    ) -> Result<Sides, PromoteError> {
        let home = self.home_region()?;
        let (opening, origin) = match &route.source {
            Source::Ecr { image, role, .. } => {
                let (image, origin) = resolve_source(image, &ctx.artifacts).await?;
                let region = image.region.clone().unwrap_or_else(|| home.clone());
                let ecr = EcrSource {
                    image,
                    region,
                    role,
                };
                (Opening::Ecr(ecr), origin)
            }
            Source::Registry { image, credentials } => (
                Opening::Registry {
                    image,
                    credentials: credentials.as_ref(),
                },
                None,
            ),
        };
        let (source_repository, reference) = match &opening {
            Opening::Ecr(ecr) => (&ecr.image.repository, &ecr.image.reference),
            Opening::Registry { image, .. } => (&image.repository, &image.reference),
        };
        let ecr_source = match &opening {
            Opening::Ecr(ecr) => Some(ecr),
            Opening::Registry { .. } => None,
        };
        let deadline = ctx.deadline;
        let source = async {
            match &opening {
                Opening::Registry { image, credentials } => Ok(Side::Registry {
                    client: Box::new(
                        self.registry_client(&image.host, *credentials, &home, deadline)
                            .await?,
                    ),
                    registry: image.registry.clone(),
                    repository: image.repository.clone(),
                }),
                Opening::Ecr(ecr) => Ok(Side::Ecr {
                    client: self.ecr_as(ecr.role, &ecr.region).await?,
                    registry_id: ecr.image.registry_id.clone(),
                    region: ecr.region.clone(),
                    repository: ecr.image.repository.clone(),
                }),
            }
        };
        let target = async {
            match &route.target {
                Target::Registry(t) => {
                    self.registry_target(t, source_repository, &home, deadline)
                        .await
                }
                Target::Ecr(t) => {
                    let (source_region, source_role, source_registry) = match ecr_source {
                        Some(ecr) => (&ecr.region, Some(ecr.role), ecr.image.registry_id.as_ref()),
                        None => (&home, None, None),
                    };
                    let region = t.region.clone().unwrap_or_else(|| source_region.clone());
                    // The same role in the same region: the source's client serves.
                    let role = match source_role {
                        Some(role) if *role == t.role && region == *source_region => role,
                        _ => &t.role,
                    };
                    Ok(Side::Ecr {
                        client: self.ecr_as(role, &region).await?,
                        registry_id: target_registry(t, source_role, source_registry),
                        region,
                        repository: t
                            .repository
                            .clone()
                            .unwrap_or_else(|| source_repository.clone()),
                    })
                }
            }
        };
        // Both roles are assumed (and both secrets read) at once: one round trip.
        let (source, target) = futures::try_join!(source, target)?;
        Ok(Sides {
            source,
            target,
            reference: reference.clone(),
            origin,
        })
    }

    async fn registry_target(
        &self,
        t: &RegistryTarget,
        source_repository: &str,
        home: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Side, PromoteError> {
        Ok(Side::Registry {
            client: Box::new(
                self.registry_client(&t.host, t.credentials.as_ref(), home, deadline)
                    .await?,
            ),
            registry: t.registry.clone(),
            repository: t
                .repository
                .clone()
                .unwrap_or_else(|| api_repository(&t.registry, source_repository)),
        })
    }

    /// A client of the registry at `host`, with the credentials in `secret` (read in the
    /// ARN's region), or anonymous.
    async fn registry_client(
        &self,
        host: &str,
        secret: Option<&Secret>,
        home: &str,
        deadline: tokio::time::Instant,
    ) -> Result<RegistryClient, PromoteError> {
        let credentials: Option<Credentials> = match secret {
            Some(s) => Some(
                shared::registry::read_credentials_at(
                    &self.clients,
                    &s.id,
                    s.username.as_deref(),
                    home,
                )
                .await?,
            ),
            None => None,
        };
        Ok(RegistryClient::new(host, credentials)?.with_deadline(deadline))
    }
}

/// The target's account: as given, else the account of the target's role or the source's,
/// else the source's registry.
fn target_registry(
    t: &EcrTarget,
    source_role: Option<&Role>,
    source_registry: Option<&String>,
) -> Option<String> {
    t.registry_id
        .clone()
        .or_else(|| {
            t.role
                .arn
                .as_deref()
                .or(source_role.and_then(|r| r.arn.as_deref()))
                .and_then(role_account)
                .map(str::to_owned)
        })
        .or_else(|| source_registry.cloned())
}

/// The source image, and where it was read from when an artifact named it.
pub(crate) async fn resolve_source(
    image: &EcrImage,
    artifacts: &Artifacts,
) -> Result<(EcrImageRef, Option<String>), PromoteError> {
    let (name, file, container) = match image {
        EcrImage::Named(image) => return Ok((image.clone(), None)),
        EcrImage::Artifact {
            name,
            file,
            container,
        } => (name, file.as_deref(), container.as_deref()),
    };
    let zip = artifacts.read(name).await?;
    let paths: Vec<&str> = zip.paths().collect();
    let file = source::choose_file(name, &paths, file, container)?;
    let json = zip.json(&file)?;
    let image = if file.rsplit('/').next() == Some(IMAGE_DETAIL) {
        source::from_image_detail(&file, json)
    } else {
        source::from_image_definitions(&file, json, container)
    }
    .map_err(|problem| PromoteError::ImageFile {
        artifact: name.to_string(),
        problem,
    })?;
    Ok((image, Some(format!("{file} in input artifact `{name}`"))))
}

//! render-taskdef: renders an ECS task definition from a template and the pipeline's images,
//! checks it, optionally registers it (idempotently), and writes `taskdef.json`,
//! `appspec.yaml` and `imagedefinitions.json` for the ECS deploy actions. With `revision`
//! it writes a CodeDeploy EC2/on-premises revision instead (see [`revision`]).
//!
//! Sequential AWS round trips: (1) the inputs are read while a live template is described
//! (or a service's is looked up); (2) digests, the family's latest revision and a service's
//! task definition together; (3) registering, only when something changed; (4) writing the
//! output artifact. Steps with nothing to do are skipped.

pub mod appspec;
pub mod aws;
pub mod config;
pub mod edit;
pub mod error;
pub mod images;
pub mod inputs;
pub mod normalize;
pub mod problem;
pub mod render;
pub mod revision;
pub mod summary;
pub mod template;
pub mod validate;

use crate::aws::Described;
use crate::config::{AppSpecTaskDefinition, Config, TemplateSource};
use crate::error::Error;
use crate::images::{ImageFile, ImageName, ImageRef};
use crate::problem::{Problem, list};
use crate::render::{DigestQuery, Rendered};
use crate::revision::RevisionConfig;
use crate::revision::image::{Chosen, DigestSource};
use crate::revision::secret::SecretRef;
use crate::summary::Registration;
use crate::summary::RevisionKind;
use crate::template::TaskDef;
use serde_json::Value;
use shared::action::{Action, JobContext, Outcome, Success};
use shared::artifacts::{ArtifactError, ArtifactZip, Artifacts};
use shared::aws::Account;
use shared::registry::{Credentials, RegistryError};
use std::sync::Arc;
use tracing::info;

/// The action, with the clients it uses (in the workload account, for one job).
pub struct RenderTaskdef {
    /// Places clients in a workload account through its role.
    factory: shared::aws::Clients,
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    /// Reads a registry password, to look up a tag outside ECR.
    secrets: aws_sdk_secretsmanager::Client,
    /// The function's region: where a revision reads SSM parameters given by name.
    region: Option<String>,
}

impl RenderTaskdef {
    /// Clients from the shared factory (its retry policy, ECS's throttling retried).
    /// Building them is cheap: connections are made on the first call.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            factory: shared::aws::Clients::new(sdk),
            ecs: shared::aws::ecs(sdk),
            ecr: shared::aws::ecr(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            region: sdk.region().map(|r| r.as_ref().to_owned()),
        }
    }
}

impl Action for RenderTaskdef {
    type Config = Config;
    type State = ();
    type Error = Error;
    const NAME: &'static str = "render-taskdef";

    async fn run(self: Arc<Self>, ctx: JobContext<Config, ()>) -> Result<Outcome<()>, Error> {
        let cfg = &ctx.config;
        let account = cfg.place()?;
        // With a role, it is assumed while the input artifacts are read: the one round
        // trip it adds runs beside an independent one.
        let (this, inputs) = if account == Account::home() {
            (None, None)
        } else {
            cfg.check()?;
            output_artifact(cfg, &ctx.artifacts)?;
            let session = shared::aws::session_name(Self::NAME, &ctx.job.id);
            let (this, inputs) =
                futures::join!(self.at(&account, &session), read_inputs(&ctx.artifacts));
            (Some(this?), Some(inputs))
        };
        let this = this.as_ref().unwrap_or(&self);
        let done = match &cfg.revision {
            Some(rev) => {
                let deadline = ctx.deadline.into_std();
                this.render_revision(cfg, rev, &ctx.artifacts, inputs, deadline)
                    .await
            }
            None => this.render(cfg, &ctx.artifacts, inputs).await,
        };
        done.map(Outcome::Success)
    }
}

impl RenderTaskdef {
    /// The action with its clients in `account` (the role assumed now, for this job only).
    async fn at(&self, account: &Account, session: &str) -> Result<Self, Error> {
        let factory = self.factory.for_invocation();
        let sdk = factory.at(account, session).await?;
        Ok(Self {
            ecs: shared::aws::ecs(&sdk),
            ecr: shared::aws::ecr(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            region: sdk.region().map(|r| r.as_ref().to_owned()),
            factory,
        })
    }
}

/// The input artifacts: read already (beside assuming a role), or now.
async fn inputs_or_read(
    read: Option<Result<Vec<ArtifactZip>, Error>>,
    artifacts: &Artifacts,
) -> Result<Vec<ArtifactZip>, Error> {
    match read {
        Some(inputs) => inputs,
        None => read_inputs(artifacts).await,
    }
}

impl RenderTaskdef {
    /// A CodeDeploy EC2/on-premises revision. Round trips: (1) the inputs; (2) the image's
    /// digest, when given by tag; (3) the output artifact.
    async fn render_revision(
        &self,
        cfg: &Config,
        rev: &RevisionConfig,
        artifacts: &Artifacts,
        read: Option<Result<Vec<ArtifactZip>, Error>>,
        deadline: std::time::Instant,
    ) -> Result<Success, Error> {
        cfg.check()?;
        let output = output_artifact(cfg, artifacts)?;
        let inputs = inputs_or_read(read, artifacts).await?;
        let image_file = inputs::image_file(cfg, &inputs)?;
        let chosen = revision::image::choose(cfg, image_file.as_ref()).map_err(one)?;
        let name =
            revision::image::check_reference(&chosen.source, &chosen.image.uri).map_err(one)?;
        let template = rev
            .template
            .as_deref()
            .map(|t| inputs::revision_template(rev, &inputs, t))
            .transpose()?;
        let login = match template {
            Some(_) => None,
            None => Some(
                revision::generate::login(rev, &name)
                    .map_err(|why| one(Problem::new("UserParameters.revision.login", why)))?,
            ),
        };

        let digest = match revision::image::digest_source(&chosen.image, &name) {
            DigestSource::Known(d) => d,
            DigestSource::Ecr => {
                let queries = render::digest_queries(std::iter::once((
                    chosen.source.as_str(),
                    &chosen.image,
                )))?;
                let found = self.digests(&queries).await?;
                found
                    .into_iter()
                    .next()
                    .map(|(_, d)| d)
                    .ok_or_else(|| Error::Unexpected {
                        operation: "ecr:DescribeImages",
                        detail: "no digest".to_owned(),
                    })?
            }
            DigestSource::Registry => self.registry_digest(rev, &chosen, &name, deadline).await?,
        };
        let mut image = chosen.image.clone();
        image.uri = name.pinned(&digest);
        image.digest = Some(digest.clone());
        if image.tag.is_none() {
            image.tag = name.tag.clone();
        }

        let (files, kind) = match (template, &login) {
            (Some((label, files)), _) => (
                revision::template::fill(&label, files, &image.uri, &digest)?,
                RevisionKind::Template { label },
            ),
            (None, Some(login)) => {
                let deploy = revision::generate::Deploy {
                    name: &chosen.name,
                    image: &image.uri,
                    default_region: self.region.as_deref(),
                };
                (
                    revision::generate::files(rev, &deploy, login),
                    RevisionKind::Generated {
                        directory: revision::generate::directory(rev, &chosen.name),
                    },
                )
            }
            (None, None) => unreachable!("a generated revision has its login"),
        };
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        artifacts.write(&output, &refs).await?;

        let summary = summary::revision_summary(&kind, &chosen.name, &image);
        info!(%summary, output = %output, files = files.len(), "revision rendered");
        let mut success = Success::new(summary);
        success.output_variables = summary::revision_variables(&chosen.name, &image);
        Ok(success)
    }

    /// The digest of a tag outside ECR, through the registry's API: anonymously, or with
    /// the revision's login when its password is in Secrets Manager.
    async fn registry_digest(
        &self,
        rev: &RevisionConfig,
        chosen: &Chosen,
        name: &ImageName,
        deadline: std::time::Instant,
    ) -> Result<String, Error> {
        let login = rev.login.as_ref();
        let credentials = match login.map(|l| (l, SecretRef::parse(&l.password_from))) {
            Some((l, Ok(SecretRef::SecretsManager { arn, region }))) => {
                let password = aws::secret_string(&self.secrets, &arn, &region).await?;
                Some(Credentials::new(l.username.clone(), password).from_secret(arn))
            }
            _ => None,
        };
        let anonymous = credentials.is_none();
        match shared::registry::resolve_image(name, credentials, Some(deadline)).await {
            Ok(Some(resolved)) => Ok(resolved.digest),
            Ok(None) => Err(Error::RegistryImageNotFound {
                uri: chosen.image.uri.clone(),
            }),
            Err(e @ (RegistryError::CredentialsRequired { .. } | RegistryError::Denied { .. }))
                if anonymous =>
            {
                Err(one(Problem::new(
                    &chosen.source,
                    format!(
                        "the registry refused to show `{}` without credentials ({e}); give the image by digest, or set revision.login with a password in Secrets Manager so that this action can look the tag up",
                        chosen.image.uri
                    ),
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn one(p: Problem) -> Error {
    Error::from(vec![p])
}

/// What the first round trip learns about a live template.
#[derive(Default)]
struct Live {
    /// The described template (`{"taskDefinition": ...}`).
    template: Option<Value>,
    /// The family's latest ACTIVE revision, once asked: `Some(None)` when there is none.
    latest: Option<Option<Value>>,
    /// The task definition ARN a service runs.
    service_task_definition: Option<String>,
}

impl RenderTaskdef {
    async fn render(
        &self,
        cfg: &Config,
        artifacts: &Artifacts,
        read: Option<Result<Vec<ArtifactZip>, Error>>,
    ) -> Result<Success, Error> {
        cfg.check()?;
        let output = output_artifact(cfg, artifacts)?;
        let source = cfg.template_source();

        // Round trip 1: every input artifact, and the live template.
        let (inputs, live) = futures::join!(
            inputs_or_read(read, artifacts),
            self.live(&source, cfg.register)
        );
        let (inputs, mut live) = (inputs?, live?);

        let image_file = inputs::image_file(cfg, &inputs)?;
        let (template, template_artifact) = match &source {
            TemplateSource::Artifact { path, .. } => {
                let (doc, artifact, stripped) = inputs::template_file(cfg, &inputs, path)?;
                log_stripped(&stripped);
                (Some(doc), Some(artifact))
            }
            TemplateSource::TaskDefinition(id) => {
                (Some(described_template(id, live.template.as_ref())?), None)
            }
            TemplateSource::Service { .. } => (None, None),
        };
        let appspec_template = inputs::appspec_template(cfg, &inputs, template_artifact)?;
        let queries = if cfg.pin_digests {
            render::digest_queries(
                given_images(cfg, image_file.as_ref())
                    .iter()
                    .map(|(s, i)| (s.as_str(), i)),
            )?
        } else {
            Vec::new()
        };
        let image_file = image_file.as_ref().map(|(label, f)| (label.as_str(), f));
        // Render now when the template is known, so that bad input costs no more calls.
        let early = template
            .map(|doc| render_doc(cfg, image_file, doc))
            .transpose()?;

        // Round trip 2: the service's task definition, the family's latest revision, digests.
        let family = early
            .as_ref()
            .and_then(|r| r.doc.get("family"))
            .and_then(Value::as_str);
        let (service_template, latest, digests) = futures::join!(
            self.service_template(&live),
            self.latest(cfg.register, &live, family),
            self.digests(&queries),
        );
        let mut rendered = match early {
            Some(r) => r,
            None => {
                let id = live.service_task_definition.clone().unwrap_or_default();
                let doc = described_template(&id, service_template?.as_ref())?;
                render_doc(cfg, image_file, doc)?
            }
        };
        if let Some(latest) = latest? {
            live.latest = Some(latest);
        }
        render::pin(&mut rendered, &digests?);

        // Everything that can still be refused is checked before registering.
        let family = rendered
            .doc
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let appspec_plan = appspec_plan(cfg, &rendered, appspec_template.as_ref())?;

        // Round trip 3 (only when something changed): register.
        let registration = if cfg.register {
            match render::reusable(&rendered.doc, live.latest.take().flatten().as_ref()) {
                Some((arn, revision)) => Registration::Reused {
                    arn,
                    family,
                    revision,
                },
                None => {
                    let (arn, revision) =
                        aws::register_task_definition(&self.ecs, &rendered.doc).await?;
                    Registration::Registered {
                        arn,
                        family,
                        revision,
                    }
                }
            }
        } else {
            Registration::Rendered { family }
        };

        // Round trip 4: the output artifact.
        let arn = match &registration {
            Registration::Registered { arn, .. } | Registration::Reused { arn, .. } => {
                Some(arn.as_str())
            }
            Registration::Rendered { .. } => None,
        };
        let taskdef = render::taskdef_json(&rendered.doc);
        let definitions = render::image_definitions(&rendered.doc);
        let appspec = appspec_plan.map(|plan| plan.text(cfg, arn)).transpose()?;
        let mut files: Vec<(&str, &[u8])> = vec![
            ("taskdef.json", &taskdef),
            ("imagedefinitions.json", &definitions),
        ];
        if let Some(text) = &appspec {
            files.push(("appspec.yaml", text.as_bytes()));
        }
        artifacts.write(&output, &files).await?;

        let summary = summary::summary(&registration, &rendered.set);
        info!(%summary, output = %output, appspec = appspec.is_some(), "rendered");
        let mut success = Success::new(summary);
        success.output_variables =
            summary::output_variables(&registration, &rendered.doc, &rendered.set);
        if let Some(arn) = arn {
            success = success.external_id(arn);
        }
        Ok(success)
    }

    /// Round trip 1 for a live template.
    async fn live(&self, source: &TemplateSource, register: bool) -> Result<Live, Error> {
        match source {
            TemplateSource::Artifact { .. } => Ok(Live::default()),
            TemplateSource::TaskDefinition(id) => {
                let bare = render::is_bare_family(id);
                let family = render::family_of(id);
                let (template, latest) =
                    futures::join!(aws::describe_task_definition(&self.ecs, id), async {
                        match register && !bare {
                            true => aws::describe_task_definition(&self.ecs, family)
                                .await
                                .map(Some),
                            false => Ok(None),
                        }
                    });
                let template = match template? {
                    Described::Found(v) => v,
                    Described::NotFound(detail) => {
                        return Err(Error::TaskDefinitionNotFound {
                            id: id.clone(),
                            detail,
                        });
                    }
                };
                let latest = match latest? {
                    Some(d) => Some(found(d)),
                    None if bare => Some(Some(template.clone())),
                    None => None,
                };
                Ok(Live {
                    template: Some(template),
                    latest,
                    service_task_definition: None,
                })
            }
            TemplateSource::Service { cluster, service } => {
                match aws::service_task_definition(&self.ecs, cluster, service).await? {
                    Ok(arn) => Ok(Live {
                        service_task_definition: Some(arn),
                        ..Live::default()
                    }),
                    Err(reason) => Err(Error::ServiceNotFound {
                        cluster: cluster.clone(),
                        service: service.clone(),
                        reason,
                    }),
                }
            }
        }
    }

    /// The task definition a service runs (round trip 2), when the template is a service.
    async fn service_template(&self, live: &Live) -> Result<Option<Value>, Error> {
        let Some(arn) = &live.service_task_definition else {
            return Ok(None);
        };
        match aws::describe_task_definition(&self.ecs, arn).await? {
            Described::Found(v) => Ok(Some(v)),
            Described::NotFound(detail) => Err(Error::TaskDefinitionNotFound {
                id: arn.clone(),
                detail,
            }),
        }
    }

    /// The family's latest ACTIVE revision (round trip 2), when registering and not yet known.
    async fn latest(
        &self,
        register: bool,
        live: &Live,
        family: Option<&str>,
    ) -> Result<Option<Option<Value>>, Error> {
        if !register || live.latest.is_some() {
            return Ok(None);
        }
        let family = match (&live.service_task_definition, family) {
            (Some(arn), _) => render::family_of(arn),
            (None, Some(f)) => f,
            (None, None) => return Ok(None),
        };
        Ok(Some(found(
            aws::describe_task_definition(&self.ecs, family).await?,
        )))
    }

    /// Digests for the tags to pin (round trip 2).
    async fn digests(&self, queries: &[DigestQuery]) -> Result<Vec<(DigestQuery, String)>, Error> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let answers = aws::resolve_digests(&self.ecr, queries).await?;
        let mut missing = Vec::new();
        let mut out = Vec::new();
        for (q, answer) in answers {
            match answer {
                Ok(digest) => out.push((q, digest)),
                Err(detail) => missing.push((q, detail)),
            }
        }
        match missing.first() {
            None => Ok(out),
            Some((q, detail)) => Err(Error::ImageNotFound {
                uri: format!(
                    "{}.dkr.ecr.{}.amazonaws.com/{}:{}",
                    q.repository.account, q.repository.region, q.repository.name, q.tag
                ),
                detail: if missing.len() > 1 {
                    format!("{detail}; and {} more missing", missing.len() - 1)
                } else {
                    detail.clone()
                },
            }),
        }
    }
}

fn found(d: Described) -> Option<Value> {
    match d {
        Described::Found(v) => Some(v),
        Described::NotFound(_) => None,
    }
}

async fn read_inputs(artifacts: &Artifacts) -> Result<Vec<ArtifactZip>, Error> {
    let reads = artifacts
        .input_names()
        .into_iter()
        .map(|name| artifacts.read(name));
    Ok(futures::future::try_join_all(reads).await?)
}

fn output_artifact(cfg: &Config, artifacts: &Artifacts) -> Result<String, Error> {
    let names = artifacts.output_names();
    let available = || list(&names);
    match &cfg.output_artifact {
        Some(name) if names.contains(&name.as_str()) => Ok(name.clone()),
        Some(name) => Err(ArtifactError::NoSuchOutput {
            name: name.clone(),
            available: available(),
        }
        .into()),
        None => names.first().map(|n| (*n).to_owned()).ok_or_else(|| {
            ArtifactError::NoSuchOutput {
                name: "(any)".to_owned(),
                available: available(),
            }
            .into()
        }),
    }
}

/// A described task definition as a template.
fn described_template(id: &str, described: Option<&Value>) -> Result<TaskDef, Error> {
    let bytes = described.map(Value::to_string).unwrap_or_default();
    let (doc, stripped) = template::parse(&format!("task definition {id}"), bytes.as_bytes())
        .map_err(|p| Error::Unexpected {
            operation: "ecs:DescribeTaskDefinition",
            detail: p.to_string(),
        })?;
    log_stripped(&stripped);
    Ok(doc)
}

fn log_stripped(stripped: &[String]) {
    if !stripped.is_empty() {
        info!(fields = ?stripped, "describe-only fields stripped from the template");
    }
}

fn render_doc(
    cfg: &Config,
    image_file: Option<(&str, &ImageFile)>,
    doc: TaskDef,
) -> Result<Rendered, Error> {
    let assignments = render::assignments(cfg, image_file, &doc)?;
    Ok(render::render(doc, &assignments, cfg)?)
}

/// The images given (file and UserParameters), with where each was given.
fn given_images(cfg: &Config, image_file: Option<&(String, ImageFile)>) -> Vec<(String, ImageRef)> {
    let mut out = Vec::new();
    match image_file {
        Some((label, ImageFile::Detail(i))) => out.push((label.clone(), i.clone())),
        Some((label, ImageFile::Definitions(d))) => {
            // A container whose image UserParameters.images sets is not deployed from the file.
            let overridden = |name: &str| cfg.images.0.iter().any(|(key, _)| key == name);
            for (i, (name, uri)) in d.iter().enumerate() {
                if !overridden(name) {
                    out.push((format!("{label}[{i}]"), ImageRef::from_uri(uri)));
                }
            }
        }
        None => {}
    }
    for (key, uri) in &cfg.images.0 {
        out.push((
            format!("UserParameters.images.{key}"),
            ImageRef::from_uri(uri),
        ));
    }
    out
}

/// How `appspec.yaml` will be made, checked before anything is registered.
enum AppSpecPlan {
    Template { label: String, text: String },
    Generated(appspec::Target),
}

impl AppSpecPlan {
    fn text(&self, cfg: &Config, arn: Option<&str>) -> Result<String, Error> {
        let arn = match cfg.appspec.task_definition {
            AppSpecTaskDefinition::Registered => arn,
            AppSpecTaskDefinition::Placeholder => None,
        };
        match self {
            Self::Template { label, text } => {
                appspec::from_template(label, text, &cfg.appspec, arn)
                    .map_err(|p| Error::from(vec![p]))
            }
            Self::Generated(target) => Ok(appspec::generate(target, &cfg.appspec, arn)),
        }
    }
}

fn appspec_plan(
    cfg: &Config,
    rendered: &Rendered,
    template: Option<&(String, String)>,
) -> Result<Option<AppSpecPlan>, Error> {
    let plan = match template {
        Some((label, text)) => Some(AppSpecPlan::Template {
            label: label.clone(),
            text: text.clone(),
        }),
        None => appspec::choose_target(&rendered.doc, &cfg.appspec, &rendered.set)
            .map_err(|p: Problem| Error::from(vec![p]))?
            .map(AppSpecPlan::Generated),
    };
    if let Some(p) = &plan {
        p.text(cfg, Some("arn:check"))?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_overridden_by_user_parameters_are_not_looked_up() {
        let cfg: Config = serde_json::from_value(serde_json::json!({
            "images": {"app": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2"}
        }))
        .unwrap();
        let file = (
            "imagedefinitions.json".to_owned(),
            ImageFile::Definitions(vec![
                ("app".to_owned(), "docker.io/library/web:1".to_owned()),
                (
                    "side".to_owned(),
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/side:v1".to_owned(),
                ),
            ]),
        );
        let labels: Vec<String> = given_images(&cfg, Some(&file))
            .into_iter()
            .map(|(label, _)| label)
            .collect();
        assert_eq!(
            labels,
            ["imagedefinitions.json[1]", "UserParameters.images.app"]
        );
    }
}

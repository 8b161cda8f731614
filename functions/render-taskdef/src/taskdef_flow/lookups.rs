//! The ECS flow's calls to ECS, each answering with a typed value of [`super::plan`].

use super::plan::{self, Latest, Registering, Source, Template};
use crate::aws::{self, Described};
use crate::config::{Config, TemplateSource};
use crate::error::Error;
use crate::images::ImageFile;
use crate::render::{self, Rendered};
use crate::summary::Registration;
use crate::template::TaskDef;
use aws_sdk_ecs::Client;
use serde_json::Value;

/// Round trip 1: the template's source as ECS knows it. A registered task definition is
/// described (and, when registering, its family's latest revision beside it); a service's
/// task definition ARN is looked up.
pub async fn source(
    ecs: &Client,
    source: &TemplateSource,
    register: bool,
) -> Result<Source, Error> {
    match source {
        TemplateSource::Artifact { path, .. } => Ok(Source::File(path.clone())),
        TemplateSource::TaskDefinition(id) => {
            // A bare family describes to its latest ACTIVE revision: nothing more to ask.
            let bare = render::is_bare_family(id);
            let ask = match register && !bare {
                true => Latest::Ask(render::family_of(id).to_owned()),
                false => Latest::NotWanted,
            };
            let (template, latest) = futures::join!(described(ecs, id), latest(ecs, ask));
            let template = template?;
            let latest = match register && bare {
                true => Latest::Found(template.clone()),
                false => latest?,
            };
            Ok(Source::Described {
                id: id.clone(),
                template,
                latest,
            })
        }
        TemplateSource::Service { cluster, service } => {
            match aws::service_task_definition(ecs, cluster, service).await? {
                Ok(arn) => Ok(Source::Service(arn)),
                Err(reason) => Err(Error::ServiceNotFound {
                    cluster: cluster.clone(),
                    service: service.clone(),
                    reason,
                }),
            }
        }
    }
}

/// Round trip 2: the rendered template; a service's task definition is described now and
/// rendered.
pub async fn rendered(
    ecs: &Client,
    cfg: &Config,
    template: Template,
    image_file: Option<&(String, ImageFile)>,
) -> Result<Rendered, Error> {
    match template {
        Template::Rendered(rendered) => Ok(rendered),
        Template::OfService(arn) => {
            let described = described(ecs, &arn).await?;
            plan::render_doc(cfg, image_file, plan::described_template(&arn, &described)?)
        }
    }
}

/// The family's latest revision, asked when the plan says so (round trip 1 or 2).
pub async fn latest(ecs: &Client, latest: Latest) -> Result<Latest, Error> {
    let Latest::Ask(family) = latest else {
        return Ok(latest);
    };
    Ok(match aws::describe_task_definition(ecs, &family).await? {
        Described::Found(v) => Latest::Found(v),
        Described::NotFound(_) => Latest::Absent,
    })
}

/// Round trip 3, only when something changed: the rendered document registered, or the
/// latest revision reused, or nothing asked.
pub async fn register(ecs: &Client, doc: &TaskDef, latest: &Latest) -> Result<Registration, Error> {
    let family = doc
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(match plan::registering(doc, latest) {
        Registering::No => Registration::Rendered { family },
        Registering::Reuse { arn, revision } => Registration::Reused {
            arn,
            family,
            revision,
        },
        Registering::New => {
            let (arn, revision) = aws::register_task_definition(ecs, doc).await?;
            Registration::Registered {
                arn,
                family,
                revision,
            }
        }
    })
}

/// A task definition that must exist: described, or `TaskDefinitionNotFound`.
async fn described(ecs: &Client, id: &str) -> Result<Value, Error> {
    match aws::describe_task_definition(ecs, id).await? {
        Described::Found(v) => Ok(v),
        Described::NotFound(detail) => Err(Error::TaskDefinitionNotFound {
            id: id.to_owned(),
            detail,
        }),
    }
}

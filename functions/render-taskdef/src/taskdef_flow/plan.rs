//! What the ECS flow decides before its second round trip, as plain types and functions:
//! the template (rendered when it is known), the family's latest revision to compare with,
//! the tags to pin; and, once that is known, what registering does.

use crate::config::Config;
use crate::error::Error;
use crate::images::{ImageFile, ImageRef};
use crate::inputs;
use crate::render::{self, DigestQuery, Rendered};
use crate::template::{self, TaskDef};
use serde_json::Value;
use shared::artifacts::ArtifactZip;
use tracing::info;

/// The template's source, with what the first round trip learnt of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file in an input artifact, at this path.
    File(String),
    /// A registered task definition, described (`{"taskDefinition": ...}`).
    Described {
        id: String,
        template: Value,
        latest: Latest,
    },
    /// The task definition ARN a service runs.
    Service(String),
}

/// The family's latest ACTIVE revision, which registering reuses when it is the same.
#[derive(Debug, Clone, PartialEq)]
pub enum Latest {
    /// Not registering: never asked.
    NotWanted,
    /// To ask in the second round trip, of this family.
    Ask(String),
    /// The family has no ACTIVE revision.
    Absent,
    /// The revision, as described (`{"taskDefinition": ..., "tags": ...}`).
    Found(Value),
}

/// The template, as far as the first round trip knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// Known, and rendered already: bad input costs no more calls.
    Rendered(Rendered),
    /// The task definition of a service, described in the second round trip.
    OfService(String),
}

/// Everything decided before the second round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub template: Template,
    pub latest: Latest,
    /// The tags to resolve to digests (`pinDigests`).
    pub digests: Vec<DigestQuery>,
    /// The image file, if any: its label and content.
    pub image_file: Option<(String, ImageFile)>,
    /// The `appspec.yaml` template, if any: its label and text.
    pub appspec_template: Option<(String, String)>,
}

/// The template document, or the service whose task definition it is.
enum Doc {
    Known(TaskDef),
    OfService(String),
}

impl Plan {
    /// The plan from the configuration, the input artifacts and the template's source.
    /// What the inputs already show to be wrong is refused here.
    pub fn new(cfg: &Config, inputs: &[ArtifactZip], source: Source) -> Result<Self, Error> {
        let image_file = inputs::image_file(cfg, inputs)?;
        let (doc, template_artifact) = match &source {
            Source::File(path) => {
                let (doc, artifact, stripped) = inputs::template_file(cfg, inputs, path)?;
                log_stripped(&stripped);
                (Doc::Known(doc), Some(artifact))
            }
            Source::Described { id, template, .. } => {
                (Doc::Known(described_template(id, template)?), None)
            }
            Source::Service(arn) => (Doc::OfService(arn.clone()), None),
        };
        let appspec_template = inputs::appspec_template(cfg, inputs, template_artifact)?;
        let digests = match cfg.pin_digests {
            true => render::digest_queries(
                given_images(cfg, image_file.as_ref())
                    .iter()
                    .map(|(s, i)| (s.as_str(), i)),
            )?,
            false => Vec::new(),
        };
        let template = match doc {
            Doc::Known(doc) => Template::Rendered(render_doc(cfg, image_file.as_ref(), doc)?),
            Doc::OfService(arn) => Template::OfService(arn),
        };
        Ok(Self {
            latest: latest(cfg.register, source, &template),
            template,
            digests,
            image_file,
            appspec_template,
        })
    }
}

/// The latest revision registering compares with: none when not registering, the one the
/// first round trip described, else the one to ask of the template's family.
pub fn latest(register: bool, source: Source, template: &Template) -> Latest {
    let family = match (register, source, template) {
        (false, ..) => return Latest::NotWanted,
        (true, Source::Described { latest, .. }, _) => return latest,
        (true, _, Template::OfService(arn)) => Some(render::family_of(arn)),
        (true, _, Template::Rendered(r)) => r.doc.get("family").and_then(Value::as_str),
    };
    family.map_or(Latest::Absent, |f| Latest::Ask(f.to_owned()))
}

/// What registering does with the rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registering {
    /// Not asked to register.
    No,
    /// The latest ACTIVE revision is the same: reuse it.
    Reuse { arn: String, revision: i64 },
    /// Register a new revision.
    New,
}

/// Registering decided on the family's latest revision (asked by now).
pub fn registering(doc: &TaskDef, latest: &Latest) -> Registering {
    match latest {
        Latest::NotWanted => Registering::No,
        Latest::Found(latest) => match render::reusable(doc, Some(latest)) {
            Some((arn, revision)) => Registering::Reuse { arn, revision },
            None => Registering::New,
        },
        // `Ask` is answered by the second round trip; unanswered, nothing can be reused.
        Latest::Ask(_) | Latest::Absent => Registering::New,
    }
}

/// A described task definition as a template.
pub fn described_template(id: &str, described: &Value) -> Result<TaskDef, Error> {
    let bytes = described.to_string();
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

/// The template with the images and edits applied, checked.
pub fn render_doc(
    cfg: &Config,
    image_file: Option<&(String, ImageFile)>,
    doc: TaskDef,
) -> Result<Rendered, Error> {
    let image_file = image_file.map(|(label, f)| (label.as_str(), f));
    let assignments = render::assignments(cfg, image_file, &doc)?;
    Ok(render::render(doc, &assignments, cfg)?)
}

/// The images given (file and UserParameters), with where each was given.
fn given_images(cfg: &Config, image_file: Option<&(String, ImageFile)>) -> Vec<(String, ImageRef)> {
    let mut out = Vec::new();
    match image_file {
        Some((label, ImageFile::Detail(i))) => out.push((label.clone(), ImageRef::from_detail(i))),
        Some((label, ImageFile::Definitions(d))) => {
            // A container whose image UserParameters.images sets is not deployed from the file.
            let overridden = |name: &str| cfg.images.0.iter().any(|(key, _)| key == name);
            for (i, entry) in d.iter().enumerate() {
                if !overridden(&entry.name) {
                    out.push((format!("{label}[{i}]"), ImageRef::from_uri(&entry.uri)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::tests_support::definitions;
    use crate::template::tests_support::doc;
    use serde_json::json;

    #[test]
    fn images_overridden_by_user_parameters_are_not_looked_up() {
        let cfg: Config = serde_json::from_value(json!({
            "images": {"app": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2"}
        }))
        .unwrap();
        let file = (
            "imagedefinitions.json".to_owned(),
            definitions(&[
                ("app", "docker.io/library/web:1"),
                (
                    "side",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/side:v1",
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

    fn rendered(family: Option<&str>) -> Template {
        let mut v = json!({"containerDefinitions": []});
        if let Some(f) = family {
            v["family"] = json!(f);
        }
        Template::Rendered(Rendered {
            doc: doc(v),
            set: Vec::new(),
        })
    }

    #[test]
    fn latest_revision_to_compare_with() {
        let described = |latest| Source::Described {
            id: "web:3".into(),
            template: json!({}),
            latest,
        };
        let found = Latest::Found(json!({"taskDefinition": {"family": "web"}}));
        let service =
            Template::OfService("arn:aws:ecs:us-east-1:123456789012:task-definition/svc:7".into());
        let file = || Source::File("taskdef.json".into());
        let cases = [
            (false, file(), rendered(Some("web")), Latest::NotWanted),
            (
                false,
                described(found.clone()),
                rendered(Some("web")),
                Latest::NotWanted,
            ),
            (
                true,
                described(found.clone()),
                rendered(Some("web")),
                found.clone(),
            ),
            (
                true,
                described(Latest::Absent),
                rendered(Some("web")),
                Latest::Absent,
            ),
            (
                true,
                Source::Service(String::new()),
                service,
                Latest::Ask("svc".into()),
            ),
            (
                true,
                file(),
                rendered(Some("web")),
                Latest::Ask("web".into()),
            ),
            (true, file(), rendered(None), Latest::Absent),
        ];
        for (register, source, template, want) in cases {
            assert_eq!(latest(register, source, &template), want, "{template:?}");
        }
    }

    #[test]
    fn registering_reuses_only_the_same_active_revision() {
        let td =
            json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "web:1"}]});
        let mut same = td.clone();
        same["taskDefinitionArn"] = json!("arn:aws:ecs:us-east-1:1:task-definition/web:4");
        same["revision"] = json!(4);
        same["status"] = json!("ACTIVE");
        let mut other = same.clone();
        other["containerDefinitions"][0]["image"] = json!("web:2");
        let cases = [
            (Latest::NotWanted, Registering::No),
            (Latest::Absent, Registering::New),
            (
                Latest::Found(json!({"taskDefinition": same, "tags": []})),
                Registering::Reuse {
                    arn: "arn:aws:ecs:us-east-1:1:task-definition/web:4".into(),
                    revision: 4,
                },
            ),
            (
                Latest::Found(json!({"taskDefinition": other, "tags": []})),
                Registering::New,
            ),
        ];
        for (latest, want) in cases {
            assert_eq!(registering(&doc(td.clone()), &latest), want, "{latest:?}");
        }
    }
}

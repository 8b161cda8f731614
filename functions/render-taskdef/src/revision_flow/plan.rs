//! What the revision flow decides before the image's digest is looked up, and the files
//! it makes once the image is pinned: plain types and functions.

use crate::config::Config;
use crate::error::Error;
use crate::images::{ImageName, ImageRef};
use crate::inputs;
use crate::problem::Problem;
use crate::revision::image::{self, Chosen};
use crate::revision::{Files, RevisionConfig, generate, template};
use crate::summary::RevisionKind;
use shared::artifacts::ArtifactZip;

/// What the revision is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The image and the container name it runs as.
    pub chosen: Chosen,
    /// The image's reference, checked.
    pub name: ImageName,
    pub make: Make,
}

/// How the revision's files are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Make {
    /// The user's template folder (its label and files), filled with the pinned image.
    Template { label: String, files: Files },
    /// `appspec.yml` and the hook scripts, generated; the instance logs in to the
    /// image's registry so.
    Generated(generate::Login),
}

impl Plan {
    /// The plan from the configuration and the input artifacts; what they show to be
    /// wrong is refused here, before any look-up.
    pub fn new(cfg: &Config, rev: &RevisionConfig, inputs: &[ArtifactZip]) -> Result<Self, Error> {
        let image_file = inputs::image_file(cfg, inputs)?;
        let chosen = image::choose(cfg, image_file.as_ref())?;
        let name = image::check_reference(&chosen.source, &chosen.image.uri)?;
        let make = match rev.template.as_deref() {
            Some(wanted) => {
                let (label, files) = inputs::revision_template(rev, inputs, wanted)?;
                Make::Template { label, files }
            }
            None => Make::Generated(
                generate::login(rev, &name)
                    .map_err(|why| Problem::new("UserParameters.revision.login", why))?,
            ),
        };
        Ok(Self { chosen, name, make })
    }
}

/// The chosen image pinned to `digest`, keeping the tag it was given by.
pub fn pinned(image: &ImageRef, name: &ImageName, digest: &str) -> ImageRef {
    ImageRef {
        uri: name.pinned(digest),
        digest: Some(digest.to_owned()),
        tag: image.tag.clone().or_else(|| name.tag.clone()),
    }
}

/// The revision's files for the pinned `image` (its digest known), and how they were made.
/// `region` is where SSM parameters given by name are read.
pub fn files(
    make: Make,
    rev: &RevisionConfig,
    name: &str,
    image: &ImageRef,
    region: Option<&str>,
) -> Result<(Files, RevisionKind), Error> {
    Ok(match make {
        Make::Template { label, files } => {
            let digest = image.digest.as_deref().unwrap_or_default();
            let files = template::fill(&label, files, &image.uri, digest)?;
            (files, RevisionKind::Template { label })
        }
        Make::Generated(login) => {
            let deploy = generate::Deploy {
                name,
                image: &image.uri,
                default_region: region,
            };
            let directory = generate::directory(rev, name);
            (
                generate::files(rev, &deploy, &login),
                RevisionKind::Generated { directory },
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_keeps_the_tag_it_was_given_by() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let cases = [
            (
                "registry.example/web:v1",
                None,
                "registry.example/web",
                Some("v1"),
            ),
            (
                "registry.example/web",
                Some("v2"),
                "registry.example/web",
                Some("v2"),
            ),
            ("registry.example/web", None, "registry.example/web", None),
        ];
        for (uri, given_tag, repository, tag) in cases {
            let mut image = ImageRef::from_uri(uri);
            image.tag = image.tag.or(given_tag.map(str::to_owned));
            let name = ImageName::parse(uri).unwrap();
            let p = pinned(&image, &name, &d);
            assert_eq!(p.uri, format!("{repository}@{d}"), "{uri}");
            assert_eq!(p.digest.as_deref(), Some(d.as_str()));
            assert_eq!(p.tag.as_deref(), tag, "{uri}");
        }
    }
}

//! Image inputs: `imageDetail.json` (simple and ECR source forms), `imagedefinitions.json`,
//! and image URIs, read with the shared reader and parser. The file format is detected
//! from the content, not the name.

use crate::problem::Problem;
use serde_json::Value;
pub use shared::image::{EcrRepository, ImageDefinition, ImageDetail, ImageFile, ImageName};

/// An image as this action will set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub uri: String,
    /// `sha256:...`, when known (from the URI, the ECR source's file, or ECR).
    pub digest: Option<String>,
    /// The tag it was given by, for the summary.
    pub tag: Option<String>,
}

impl ImageRef {
    pub fn from_uri(uri: &str) -> Self {
        let name = ImageName::parse(uri).ok();
        Self {
            uri: uri.to_owned(),
            digest: name.as_ref().and_then(|n| n.digest.clone()),
            tag: name.and_then(|n| n.tag),
        }
    }

    /// The image an `imageDetail.json` names: its digest the URI's or `ImageDigest`, its
    /// tag the URI's or the first of `ImageTags`.
    pub fn from_detail(detail: &ImageDetail) -> Self {
        Self {
            uri: detail.uri.clone(),
            digest: detail.digest.clone(),
            tag: detail.tag(),
        }
    }
}

/// Where an image goes: a container name or a placeholder, as the user wrote it. It is
/// resolved against the template by [`crate::edit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub key: String,
    pub image: ImageRef,
    /// Where it was given, for messages: `imagedefinitions.json[0].name`, `UserParameters.images.app`.
    pub source: String,
}

const EXPECTED: &str = "expected imageDetail.json (`{\"ImageURI\": \"<uri>\"}`) or imagedefinitions.json (`[{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}]`)";

/// The image files among an artifact's paths, by file name (in any case).
pub use shared::image::image_files;

/// Parses an image file; `path` names it in messages. Every problem found is returned.
pub fn parse_image_file(path: &str, bytes: &[u8]) -> Result<ImageFile, Vec<Problem>> {
    let fail = |msg: String| vec![Problem::new(path, msg)];
    let text =
        std::str::from_utf8(bytes).map_err(|_| fail(format!("is not UTF-8 text; {EXPECTED}")))?;
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(fail(format!("is empty; {EXPECTED}")));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| fail(format!("is not valid JSON ({e}); {EXPECTED}")))?;
    from_value(path, &value)
}

/// An image file already parsed as JSON.
pub fn from_value(path: &str, value: &Value) -> Result<ImageFile, Vec<Problem>> {
    shared::image::read_image_file(path, value).map_err(|p| p.0)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// An `imageDetail.json` naming `uri` alone.
    pub fn detail(uri: &str) -> ImageFile {
        ImageFile::Detail(ImageDetail {
            uri: uri.to_owned(),
            digest: ImageName::parse(uri).ok().and_then(|n| n.digest),
            tags: Vec::new(),
        })
    }

    /// An `imagedefinitions.json` of (container, image URI) pairs.
    pub fn definitions(entries: &[(&str, &str)]) -> ImageFile {
        ImageFile::Definitions(
            entries
                .iter()
                .map(|(name, uri)| ImageDefinition {
                    name: (*name).to_owned(),
                    uri: (*uri).to_owned(),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn detail(json: &str) -> ImageRef {
        match parse_image_file("imageDetail.json", json.as_bytes()).unwrap() {
            ImageFile::Detail(i) => ImageRef::from_detail(&i),
            other => panic!("{other:?}"),
        }
    }

    fn problems(json: &str) -> Vec<Problem> {
        parse_image_file("images.json", json.as_bytes()).unwrap_err()
    }

    #[test]
    fn ecr_source_image_detail() {
        let d = "sha256:".to_owned() + &"ab".repeat(32);
        let json = format!(
            r#"{{"ImageSizeInBytes": "5000", "ImageDigest": "{d}", "Version": "1.0",
                "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019", "RegistryId": "123456789012",
                "RepositoryName": "web", "ImageURI": "{ECR}/web@{d}", "ImageTags": ["v1.4.2", "latest"]}}"#
        );
        let i = detail(&json);
        assert_eq!(i.uri, format!("{ECR}/web@{d}"));
        assert_eq!(i.digest.as_deref(), Some(d.as_str()));
        assert_eq!(i.tag.as_deref(), Some("v1.4.2"));
    }

    #[test]
    fn empty_and_non_json_files_say_what_was_expected() {
        for body in ["", "  \n", "\u{feff}"] {
            let p = problems(body);
            assert!(
                p[0].message
                    .starts_with("is empty; expected imageDetail.json"),
                "{p:?}"
            );
        }
        let p = problems("web:latest");
        assert!(p[0].message.contains("not valid JSON"), "{p:?}");
        assert!(p[0].message.contains("imagedefinitions.json"), "{p:?}");
        let p = problems("\"x\"");
        assert!(p[0].message.starts_with("holds a string;"), "{p:?}");
        let p = parse_image_file("f", &[0xff, 0xfe]).unwrap_err();
        assert!(p[0].message.contains("not UTF-8"));
    }

    #[test]
    fn image_ref_from_uri() {
        let i = ImageRef::from_uri("web@sha256:ff");
        assert_eq!((i.digest.as_deref(), i.tag), (Some("sha256:ff"), None));
    }
}

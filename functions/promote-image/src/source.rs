//! Reading the source image from an input artifact: `imageDetail.json` (ECR source
//! action, blue/green builds) or `imagedefinitions.json` (standard ECS deploy).

use serde_json::Value;
use shared::image::{self, EcrImageRef};

use crate::error::PromoteError;

pub use shared::image::{IMAGE_DEFINITIONS, IMAGE_DETAIL};

/// Which file of the artifact to read: the configured one, else `imagedefinitions.json`
/// when a container is named, else `imageDetail.json` if present, else `imagedefinitions.json`.
pub fn choose_file(
    artifact: &str,
    paths: &[&str],
    file: Option<&str>,
    container: Option<&str>,
) -> Result<String, PromoteError> {
    if let Some(file) = file {
        return Ok(file.to_string());
    }
    let has = |name: &str| paths.iter().any(|p| p.rsplit('/').next() == Some(name));
    if container.is_some() || !has(IMAGE_DETAIL) {
        if has(IMAGE_DEFINITIONS) {
            return Ok(IMAGE_DEFINITIONS.to_string());
        }
        return Err(PromoteError::NoImageFile {
            artifact: artifact.to_string(),
            contains: paths.iter().map(|p| p.to_string()).collect(),
            container: container.is_some(),
        });
    }
    Ok(IMAGE_DETAIL.to_string())
}

/// The image named by an `imageDetail.json` (parsed within the artifact's JSON limits); its
/// `ImageDigest`, when present, pins it.
pub fn from_image_detail(file: &str, json: Value) -> Result<EcrImageRef, String> {
    let detail = image::read_image_detail(file, &json).map_err(|p| p.to_string())?;
    EcrImageRef::from_detail(&detail).map_err(|e| format!("{file}: ImageURI {e}"))
}

/// The image of one container of an `imagedefinitions.json` (parsed within the artifact's
/// JSON limits): the one named, or the only one.
pub fn from_image_definitions(
    file: &str,
    json: Value,
    container: Option<&str>,
) -> Result<EcrImageRef, String> {
    let definitions = image::read_image_definitions(file, &json).map_err(|p| p.to_string())?;
    let chosen =
        image::select_definition(file, &definitions, container).map_err(|p| match container {
            Some(_) => format!("{p}. Set source.container to one of them"),
            None => format!("{p}; set source.container to the one to promote"),
        })?;
    EcrImageRef::parse(&chosen.uri).map_err(|e| format!("{file}, container `{}`: {e}", chosen.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::image::Reference;

    fn v(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:sha-1a2b3c";

    #[test]
    fn chooses_file() {
        let both = ["imageDetail.json", "out/imagedefinitions.json"];
        assert_eq!(choose_file("A", &both, None, None).unwrap(), IMAGE_DETAIL);
        assert_eq!(
            choose_file("A", &both, None, Some("web")).unwrap(),
            IMAGE_DEFINITIONS
        );
        assert_eq!(
            choose_file("A", &["imagedefinitions.json"], None, None).unwrap(),
            IMAGE_DEFINITIONS
        );
        assert_eq!(
            choose_file("A", &both, Some("x/imageDetail.json"), None).unwrap(),
            "x/imageDetail.json"
        );
        let e = choose_file("A", &["taskdef.json"], None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither") && e.contains("taskdef.json"), "{e}");
        let e = choose_file("A", &["imageDetail.json"], None, Some("web"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("source.container needs one"), "{e}");
        assert!(
            choose_file("A", &[], None, None)
                .unwrap_err()
                .to_string()
                .contains("contains: nothing")
        );
    }

    #[test]
    fn reads_image_detail_from_ecr_source_action() {
        let json = format!(
            r#"{{"ImageSizeInBytes": "1", "ImageDigest": "{D}", "Version": "1.0", "ImagePushedAt": "x",
                "RegistryId": "123456789012", "RepositoryName": "web",
                "ImageURI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{D}", "ImageTags": ["latest"]}}"#
        );
        let image = from_image_detail("imageDetail.json", v(json.as_bytes())).unwrap();
        assert_eq!(image.repository, "web");
        assert_eq!(image.reference, Reference::Digest(D.into()));
    }

    #[test]
    fn image_detail_digest_pins_a_tagged_uri() {
        let json = format!(r#"{{"ImageURI": "{URI}", "ImageDigest": "{D}"}}"#);
        assert_eq!(
            from_image_detail("f", v(json.as_bytes()))
                .unwrap()
                .reference,
            Reference::Digest(D.into())
        );
        let json = format!(r#"{{"ImageURI": "{URI}"}}"#);
        assert_eq!(
            from_image_detail("f", v(json.as_bytes()))
                .unwrap()
                .reference,
            Reference::Tag("sha-1a2b3c".into())
        );
    }

    #[test]
    fn image_detail_errors() {
        assert!(
            from_image_detail("f", v(b"[1]"))
                .unwrap_err()
                .contains("f: holds a list; expected imageDetail.json")
        );
        assert!(
            from_image_detail("f", v(b"{}"))
                .unwrap_err()
                .contains("no `ImageURI`")
        );
        assert!(
            from_image_detail("f", v(br#"{"ImageURI": "nginx"}"#))
                .unwrap_err()
                .contains("not an ECR image URI")
        );
        let bad = format!(r#"{{"ImageURI": "{URI}", "ImageDigest": "sha256:1"}}"#);
        assert!(
            from_image_detail("f", v(bad.as_bytes()))
                .unwrap_err()
                .contains("not a digest")
        );
        let other = D.replace('0', "f");
        let clash = format!(
            r#"{{"ImageURI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{D}", "ImageDigest": "{other}"}}"#
        );
        assert!(
            from_image_detail("f", v(clash.as_bytes()))
                .unwrap_err()
                .contains("inconsistent")
        );
    }

    #[test]
    fn reads_image_definitions() {
        let json = format!(
            r#"[{{"name": "web", "imageUri": "{URI}"}}, {{"name": "envoy", "imageUri": "public.ecr.aws/envoy:v1"}}]"#
        );
        let image = from_image_definitions("f", v(json.as_bytes()), Some("web")).unwrap();
        assert_eq!(image.repository, "web");
        let e = from_image_definitions("f", v(json.as_bytes()), None).unwrap_err();
        assert!(e.contains("several containers (`web`, `envoy`)"), "{e}");
        let e = from_image_definitions("f", v(json.as_bytes()), Some("api")).unwrap_err();
        assert!(
            e.contains("no container `api`") && e.contains("`envoy`"),
            "{e}"
        );
        let e = from_image_definitions("f", v(json.as_bytes()), Some("envoy")).unwrap_err();
        assert!(
            e.contains("f, container `envoy`: `public.ecr.aws/envoy:v1` is not an ECR image URI"),
            "{e}"
        );
        let single = format!(r#"[{{"name": "web", "imageUri": "{URI}"}}]"#);
        assert!(from_image_definitions("f", v(single.as_bytes()), None).is_ok());
        assert!(
            from_image_definitions("f", v(b"[]"), None)
                .unwrap_err()
                .contains("is an empty list")
        );
        assert!(
            from_image_definitions("f", v(br#"{"ImageURI": "x"}"#), None)
                .unwrap_err()
                .contains("holds an object; expected imagedefinitions.json")
        );
    }
}

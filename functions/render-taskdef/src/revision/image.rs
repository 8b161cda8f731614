//! The one image a revision deploys, chosen among the image inputs, and how its digest is
//! found.

use super::config::is_container_name;
use crate::config::Config;
use crate::images::{ImageFile, ImageName, ImageRef};
use crate::problem::{Problem, list};

/// The chosen image and the container name it is deployed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub name: String,
    /// Where the image was given: `UserParameters.images.web`, `Build/imageDetail.json`.
    pub source: String,
    pub image: ImageRef,
}

/// Picks the image: `revision.name` chooses among the named ones; a single image needs no
/// choice. `UserParameters.images` win over the image file's entry of the same name.
pub fn choose(cfg: &Config, image_file: Option<&(String, ImageFile)>) -> Result<Chosen, Problem> {
    let rev_name = cfg.revision.as_ref().and_then(|r| r.name.as_deref());
    // A template needs no container name: its own scripts name the container.
    let templated = cfg.revision.as_ref().is_some_and(|r| r.template.is_some());
    let mut given: Vec<(Option<String>, String, ImageRef)> = cfg
        .images
        .0
        .iter()
        .map(|(k, uri)| {
            (
                Some(k.clone()),
                format!("UserParameters.images.{k}"),
                ImageRef::from_uri(uri),
            )
        })
        .collect();
    match image_file {
        Some((label, ImageFile::Detail(i))) => {
            let image = ImageRef::from_detail(i);
            given.push((cfg.image_container.clone(), label.clone(), image));
        }
        Some((label, ImageFile::Definitions(d))) => {
            for (i, entry) in d.iter().enumerate() {
                if !cfg.images.0.iter().any(|(k, _)| *k == entry.name) {
                    given.push((
                        Some(entry.name.clone()),
                        format!("{label}[{i}]"),
                        ImageRef::from_uri(&entry.uri),
                    ));
                }
            }
        }
        None => {}
    }
    let names = || {
        list(
            given
                .iter()
                .map(|(n, s, _)| n.clone().unwrap_or_else(|| s.clone())),
        )
    };
    let (name, source, image) = match (rev_name, given.as_slice()) {
        (_, []) => {
            return Err(Problem::new(
                "",
                "no image to deploy: add an input artifact with imageDetail.json or imagedefinitions.json, or set UserParameters.images",
            ));
        }
        (Some(wanted), _) => {
            let by_name = given.iter().find(|(n, _, _)| n.as_deref() == Some(wanted));
            let unnamed: Vec<_> = given.iter().filter(|(n, _, _)| n.is_none()).collect();
            match (by_name, unnamed.as_slice()) {
                (Some(g), _) | (None, &[g]) => (wanted.to_owned(), g.1.clone(), g.2.clone()),
                _ => {
                    return Err(Problem::new(
                        "UserParameters.revision.name",
                        format!(
                            "no image is given for container `{wanted}`; images given: {}",
                            names()
                        ),
                    ));
                }
            }
        }
        (None, [(Some(n), s, i)]) => (n.clone(), s.clone(), i.clone()),
        (None, [(None, s, i)]) if templated => ("image".to_owned(), s.clone(), i.clone()),
        (None, [(None, s, _)]) => {
            return Err(Problem::new(
                "UserParameters.revision.name",
                format!(
                    "{s} names no container; set revision.name to the Docker container name, such as `web`"
                ),
            ));
        }
        (None, _) => {
            return Err(Problem::new(
                "UserParameters.revision.name",
                format!(
                    "a revision runs one container, and several images are given ({}); set revision.name to the one to deploy",
                    names()
                ),
            ));
        }
    };
    if !is_container_name(&name) {
        return Err(Problem::new(
            source,
            format!(
                "`{name}` is not a valid Docker container name; set revision.name (letters, digits, `_`, `.`, `-`)"
            ),
        ));
    }
    check_reference(&source, &image.uri)?;
    Ok(Chosen {
        name,
        source,
        image,
    })
}

/// An image reference safe to place in scripts and templates: Docker's characters only.
pub fn check_reference(source: &str, uri: &str) -> Result<ImageName, Problem> {
    let bad = |why: String| {
        Problem::new(
            source,
            format!("`{uri}` is not an image reference such as `registry/repository:tag` ({why})"),
        )
    };
    if uri.trim().is_empty() {
        return Err(Problem::new(
            source,
            "is empty (an unresolved pipeline variable?); give an image URI",
        ));
    }
    let name = ImageName::parse(uri).map_err(|e| bad(e.to_string()))?;
    if !uri
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@'))
    {
        return Err(bad(
            "only letters, digits and `._-:/@` may appear".to_owned()
        ));
    }
    if let Some(d) = &name.digest
        && !shared::image::is_digest(d)
    {
        return Err(bad("its digest is not `sha256:<64 hex digits>`".to_owned()));
    }
    Ok(name)
}

/// How the digest of the chosen image is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestSource {
    /// Given (in the URI or by the ECR source action's file).
    Known(String),
    /// A tag in private ECR: DescribeImages.
    Ecr,
    /// A tag in another registry: the registry's API.
    Registry,
}

pub fn digest_source(image: &ImageRef, name: &ImageName) -> DigestSource {
    match (&image.digest, name.ecr()) {
        (Some(d), _) => DigestSource::Known(d.clone()),
        (None, Some(_)) => DigestSource::Ecr,
        (None, None) => DigestSource::Registry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::tests_support::{definitions, detail};

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).expect("config")
    }

    fn defs() -> (String, ImageFile) {
        (
            "Build/imagedefinitions.json".into(),
            definitions(&[("web", "acme/web:1"), ("worker", "acme/worker:1")]),
        )
    }

    #[test]
    fn choice_table() {
        let detail = ("Build/imageDetail.json".to_owned(), detail("acme/web:2"));
        let ok = |c: &str, f: Option<&(String, ImageFile)>| {
            choose(&cfg(c), f).map(|c| (c.name, c.source, c.image.uri))
        };
        assert_eq!(
            ok(r#"{"revision": {"name": "worker"}}"#, Some(&defs())),
            Ok((
                "worker".into(),
                "Build/imagedefinitions.json[1]".into(),
                "acme/worker:1".into()
            ))
        );
        assert_eq!(
            ok(r#"{"revision": {"name": "web"}}"#, Some(&detail)),
            Ok((
                "web".into(),
                "Build/imageDetail.json".into(),
                "acme/web:2".into()
            ))
        );
        assert_eq!(
            ok(
                r#"{"imageContainer": "api", "revision": {}}"#,
                Some(&detail)
            )
            .map(|c| c.0),
            Ok("api".into())
        );
        assert_eq!(
            ok(
                r#"{"images": {"web": "acme/web:3"}, "revision": {"name": "web"}}"#,
                Some(&defs())
            )
            .map(|c| c.2),
            Ok("acme/web:3".into())
        );
        let e = ok(r#"{"revision": {}}"#, Some(&defs())).unwrap_err();
        assert!(
            e.to_string()
                .contains("several images are given (`web`, `worker`); set revision.name"),
            "{e}"
        );
        let e = ok(r#"{"revision": {}}"#, Some(&detail)).unwrap_err();
        assert!(
            e.to_string()
                .contains("Build/imageDetail.json names no container"),
            "{e}"
        );
        let e = ok(r#"{"revision": {"name": "api"}}"#, Some(&defs())).unwrap_err();
        assert!(
            e.to_string()
                .contains("no image is given for container `api`"),
            "{e}"
        );
        let e = ok(r#"{"revision": {}}"#, None).unwrap_err();
        assert!(e.to_string().starts_with("no image to deploy"), "{e}");
        let e = ok(
            r#"{"images": {"web": "acme/web:1;reboot"}, "revision": {}}"#,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("only letters, digits"), "{e}");
        let e = ok(r#"{"images": {"w": "acme/web:1"}, "revision": {}}"#, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("`w` is not a valid Docker container name"),
            "{e}"
        );
    }
}

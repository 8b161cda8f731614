//! The image files a build leaves in an artifact, read from JSON already parsed:
//! `imageDetail.json` (`{"ImageURI": ...}`, also the ECR source action's richer form) and
//! `imagedefinitions.json` (`[{"name": ..., "imageUri": ...}]`). Every problem found is
//! returned, located by the file name and a JSON path.

use serde_json::{Map, Value};

use super::name::ImageName;
use crate::problem::{Problem, Problems, list};

pub const IMAGE_DETAIL: &str = "imageDetail.json";
pub const IMAGE_DEFINITIONS: &str = "imagedefinitions.json";

const DETAIL_SHAPE: &str = "imageDetail.json (`{\"ImageURI\": \"<uri>\"}`)";
const DEFINITIONS_SHAPE: &str =
    "imagedefinitions.json (`[{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}]`)";

/// One image, as `imageDetail.json` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDetail {
    /// `ImageURI`, trimmed.
    pub uri: String,
    /// The digest pinned in the URI or given as `ImageDigest` (they agree when both are).
    pub digest: Option<String>,
    /// `ImageTags`, when the ECR source action wrote them.
    pub tags: Vec<String>,
}

impl ImageDetail {
    /// The tag it was named by: the URI's, else the first of `ImageTags`.
    pub fn tag(&self) -> Option<String> {
        ImageName::parse(&self.uri)
            .ok()
            .and_then(|n| n.tag)
            .or_else(|| self.tags.first().cloned())
    }
}

/// One entry of `imagedefinitions.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDefinition {
    pub name: String,
    pub uri: String,
}

/// An image file, its format told from its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFile {
    Detail(ImageDetail),
    Definitions(Vec<ImageDefinition>),
}

/// Whether a path's file name is one of the image files (in any case).
pub fn is_image_file(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.eq_ignore_ascii_case(IMAGE_DETAIL) || base.eq_ignore_ascii_case(IMAGE_DEFINITIONS)
}

/// The image files among an artifact's paths.
pub fn image_files<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    paths.filter(|p| is_image_file(p)).collect()
}

/// Either file, told apart by its content (an object or a list), not by its name.
pub fn read_image_file(file: &str, value: &Value) -> Result<ImageFile, Problems> {
    match value {
        Value::Object(obj) => detail(file, obj).map(ImageFile::Detail),
        Value::Array(items) => definitions(file, items).map(ImageFile::Definitions),
        other => Err(Problem::new(
            file,
            format!(
                "holds {}; expected {DETAIL_SHAPE} or {DEFINITIONS_SHAPE}",
                kind(other)
            ),
        )
        .into()),
    }
}

pub fn read_image_detail(file: &str, value: &Value) -> Result<ImageDetail, Problems> {
    match value {
        Value::Object(obj) => detail(file, obj),
        other => Err(Problem::new(
            file,
            format!("holds {}; expected {DETAIL_SHAPE}", kind(other)),
        )
        .into()),
    }
}

pub fn read_image_definitions(file: &str, value: &Value) -> Result<Vec<ImageDefinition>, Problems> {
    match value {
        Value::Array(items) => definitions(file, items),
        Value::Object(obj) if obj.contains_key("name") || obj.contains_key("imageUri") => {
            Err(single_entry(file).into())
        }
        other => Err(Problem::new(
            file,
            format!("holds {}; expected {DEFINITIONS_SHAPE}", kind(other)),
        )
        .into()),
    }
}

/// The entry for `container`, or the only entry when none is named.
pub fn select_definition<'a>(
    file: &str,
    definitions: &'a [ImageDefinition],
    container: Option<&str>,
) -> Result<&'a ImageDefinition, Problem> {
    let names = || list(definitions.iter().map(|d| &d.name));
    match container {
        Some(wanted) => definitions
            .iter()
            .find(|d| d.name == wanted)
            .ok_or_else(|| {
                Problem::new(
                    file,
                    format!("has no container `{wanted}`; it names {}", names()),
                )
            }),
        None => match definitions {
            [only] => Ok(only),
            [] => Err(Problem::new(file, "lists no containers")),
            _ => Err(Problem::new(
                file,
                format!("names several containers ({})", names()),
            )),
        },
    }
}

fn single_entry(file: &str) -> Problem {
    Problem::new(
        file,
        "holds a single imagedefinitions.json entry; imagedefinitions.json is a list: wrap it in `[ ]`",
    )
}

fn detail(file: &str, obj: &Map<String, Value>) -> Result<ImageDetail, Problems> {
    let fail = |message: String| Problems::from(Problem::new(file, message));
    let Some(uri) = obj.get("ImageURI") else {
        if obj.contains_key("name") || obj.contains_key("imageUri") {
            return Err(single_entry(file).into());
        }
        if let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case("imageuri")) {
            return Err(fail(format!(
                "has `{k}` but imageDetail.json spells it `ImageURI` (case matters)"
            )));
        }
        return Err(fail(format!(
            "is an object with keys {} and no `ImageURI`; expected {DETAIL_SHAPE} or {DEFINITIONS_SHAPE}",
            list(obj.keys())
        )));
    };
    let uri = match uri.as_str().map(str::trim) {
        Some(u) if !u.is_empty() => u,
        Some(_) => {
            return Err(fail(
                "has an empty `ImageURI`; the build wrote no image URI".to_owned(),
            ));
        }
        None => {
            return Err(fail(format!(
                "has `ImageURI` as {}; expected a string",
                kind(uri)
            )));
        }
    };
    let pinned = ImageName::parse(uri).ok().and_then(|n| n.digest);
    let given = obj.get("ImageDigest").and_then(Value::as_str);
    let digest = match (pinned, given) {
        (Some(pinned), Some(given)) if pinned != given => {
            return Err(fail(format!(
                "`ImageURI` is pinned to `{pinned}` but `ImageDigest` is `{given}`; the file is inconsistent"
            )));
        }
        (pinned, given) => pinned.or_else(|| given.map(str::to_owned)),
    };
    let tags = obj
        .get("ImageTags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(ImageDetail {
        uri: uri.to_owned(),
        digest,
        tags,
    })
}

fn definitions(file: &str, items: &[Value]) -> Result<Vec<ImageDefinition>, Problems> {
    if items.is_empty() {
        return Err(Problem::new(
            file,
            "is an empty list; imagedefinitions.json needs at least one `{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}`",
        )
        .into());
    }
    let mut problems = Problems::new();
    let mut out: Vec<ImageDefinition> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{file}[{i}]");
        let Some(obj) = item.as_object() else {
            problems.push(
                at,
                format!(
                    "is {}; expected `{{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}}`",
                    kind(item)
                ),
            );
            continue;
        };
        let name = obj.get("name").and_then(Value::as_str).map(str::trim);
        let uri = obj.get("imageUri").and_then(Value::as_str).map(str::trim);
        match (name, uri) {
            (Some(n), Some(u)) if !n.is_empty() && !u.is_empty() => {
                if out.iter().any(|d| d.name == n) {
                    problems.push(
                        format!("{at}.name"),
                        format!("container `{n}` is listed twice; list each container once"),
                    );
                } else {
                    out.push(ImageDefinition {
                        name: n.to_owned(),
                        uri: u.to_owned(),
                    });
                }
            }
            _ => {
                let hint = if obj.contains_key("ImageURI") {
                    " (`ImageURI` is the imageDetail.json spelling)"
                } else {
                    ""
                };
                problems.push(
                    at,
                    format!(
                        "has keys {}; each entry needs a non-empty `name` and `imageUri`{hint}",
                        list(obj.keys())
                    ),
                );
            }
        }
    }
    problems.into_result(out)
}

/// What a JSON value is, for messages: `a list`, `a number`.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn problems(value: Value) -> Problems {
        read_image_file("images.json", &value).unwrap_err()
    }

    #[test]
    fn reads_the_simple_image_detail() {
        let d = read_image_detail("f", &json!({"ImageURI": format!(" {ECR}/web:v1 ")})).unwrap();
        assert_eq!(
            d,
            ImageDetail {
                uri: format!("{ECR}/web:v1"),
                digest: None,
                tags: vec![]
            }
        );
        assert_eq!(d.tag().as_deref(), Some("v1"));
    }

    #[test]
    fn reads_the_ecr_source_actions_image_detail() {
        let d = digest('a');
        let value = json!({"ImageSizeInBytes": "5000", "ImageDigest": d, "Version": "1.0",
            "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019", "RegistryId": "123456789012",
            "RepositoryName": "web", "ImageURI": format!("{ECR}/web@{d}"), "ImageTags": ["v1.4.2", "latest"]});
        let detail = read_image_detail("imageDetail.json", &value).unwrap();
        assert_eq!(detail.digest.as_deref(), Some(d.as_str()));
        assert_eq!(detail.tags, ["v1.4.2", "latest"]);
        assert_eq!(detail.tag().as_deref(), Some("v1.4.2"));
    }

    #[test]
    fn image_digest_pins_a_tagged_uri_and_must_agree() {
        let (a, b) = (digest('a'), digest('b'));
        let tagged = read_image_detail(
            "f",
            &json!({"ImageURI": format!("{ECR}/web:v1"), "ImageDigest": a}),
        )
        .unwrap();
        assert_eq!(tagged.digest.as_deref(), Some(a.as_str()));
        let clash = read_image_detail(
            "f",
            &json!({"ImageURI": format!("{ECR}/web@{a}"), "ImageDigest": b}),
        )
        .unwrap_err();
        assert!(clash.to_string().contains("inconsistent"), "{clash}");
    }

    #[test]
    fn reads_definitions_of_any_length() {
        let value = json!([{"name": "app", "imageUri": format!("{ECR}/web:1")},
            {"name": "envoy", "imageUri": "envoyproxy/envoy:v1.31"}, {"name": "log", "imageUri": "fluent"}]);
        let defs = read_image_definitions("imagedefinitions.json", &value).unwrap();
        assert_eq!(defs.len(), 3);
        assert_eq!(
            defs[1],
            ImageDefinition {
                name: "envoy".into(),
                uri: "envoyproxy/envoy:v1.31".into()
            }
        );
    }

    #[test]
    fn the_content_tells_the_format() {
        let value = json!([{"name": "a", "imageUri": "x"}]);
        assert!(matches!(
            read_image_file("imageDetail.json", &value),
            Ok(ImageFile::Definitions(_))
        ));
        let value = json!({"ImageURI": "x"});
        assert!(matches!(
            read_image_file("imagedefinitions.json", &value),
            Ok(ImageFile::Detail(_))
        ));
    }

    #[test]
    fn wrong_shapes_are_explained() {
        let rows = [
            (
                json!("x"),
                "images.json: holds a string; expected imageDetail.json",
            ),
            (json!([]), "is an empty list"),
            (json!({"name": "app", "imageUri": "x"}), "wrap it in `[ ]`"),
            (json!({"imageUri": "x"}), "wrap it"),
            (json!({"ImageUri": "x"}), "spells it `ImageURI`"),
            (json!({"image": "x"}), "keys `image` and no `ImageURI`"),
            (json!({"ImageURI": ""}), "empty `ImageURI`"),
            (json!({"ImageURI": 5}), "`ImageURI` as a number"),
        ];
        for (value, says) in rows {
            let text = problems(value.clone()).to_string();
            assert!(text.contains(says), "{value}: {text}");
        }
        let e = read_image_detail("f", &json!([1])).unwrap_err().to_string();
        assert!(e.contains("holds a list; expected imageDetail.json"), "{e}");
        let e = read_image_definitions("f", &json!({"name": "a"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("wrap it"), "{e}");
        let e = read_image_definitions("f", &json!(3))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("holds a number; expected imagedefinitions.json"),
            "{e}"
        );
    }

    #[test]
    fn every_bad_definition_entry_is_reported() {
        let p = problems(json!([{"name": "a", "imageUri": "x"}, {"ImageURI": "y"}, 3,
            {"name": "", "imageUri": "z"}, {"name": "a", "imageUri": "w"}]));
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "images.json[1]",
                "images.json[2]",
                "images.json[3]",
                "images.json[4].name"
            ]
        );
        assert!(p.0[0].message.contains("imageDetail.json spelling"));
        assert!(p.0[3].message.contains("listed twice"));
    }

    #[test]
    fn selects_a_container() {
        let defs = vec![
            ImageDefinition {
                name: "web".into(),
                uri: "a".into(),
            },
            ImageDefinition {
                name: "envoy".into(),
                uri: "b".into(),
            },
        ];
        assert_eq!(
            select_definition("f", &defs, Some("envoy")).unwrap().uri,
            "b"
        );
        let rows = [
            (Some("api"), "no container `api`; it names `web`, `envoy`"),
            (None, "several containers (`web`, `envoy`)"),
        ];
        for (container, says) in rows {
            let e = select_definition("f", &defs, container)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{e}");
        }
        assert_eq!(
            select_definition("f", &defs[..1], None).unwrap().name,
            "web"
        );
        assert!(
            select_definition("f", &[], None)
                .unwrap_err()
                .to_string()
                .contains("no containers")
        );
    }

    #[test]
    fn finds_image_files_by_name() {
        let paths = [
            "taskdef.json",
            "build/imageDetail.json",
            "x/ImageDefinitions.json",
            "readme",
            "imagedetail.json.bak",
        ];
        assert_eq!(
            image_files(paths.into_iter()),
            ["build/imageDetail.json", "x/ImageDefinitions.json"]
        );
    }
}

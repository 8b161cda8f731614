//! Image inputs: `imageDetail.json` (simple and ECR source forms), `imagedefinitions.json`,
//! and image URIs. The file format is detected from the content, not the name.

use crate::problem::{Problem, list};
use serde_json::Value;

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
        let name = ImageName::parse(uri);
        Self {
            uri: uri.to_owned(),
            digest: name.as_ref().and_then(|n| n.digest.clone()),
            tag: name.and_then(|n| n.tag),
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

/// A parsed image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFile {
    /// `imageDetail.json`: one image, no container name.
    Detail(ImageRef),
    /// `imagedefinitions.json`: container name and image URI pairs.
    Definitions(Vec<(String, String)>),
}

const EXPECTED: &str = "expected imageDetail.json (`{\"ImageURI\": \"<uri>\"}`) or imagedefinitions.json (`[{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}]`)";

/// File names recognised as image files (case-insensitive).
pub const IMAGE_FILE_NAMES: [&str; 2] = ["imagedetail.json", "imagedefinitions.json"];

/// The image files among an artifact's paths, by file name.
pub fn image_files<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    paths
        .filter(|p| {
            let base = p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
            IMAGE_FILE_NAMES.contains(&base.as_str())
        })
        .collect()
}

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
    match value {
        Value::Object(obj) => parse_detail(path, &obj).map(ImageFile::Detail),
        Value::Array(items) => parse_definitions(path, &items).map(ImageFile::Definitions),
        other => Err(fail(format!("holds {}; {EXPECTED}", kind(&other)))),
    }
}

fn parse_detail(
    path: &str,
    obj: &serde_json::Map<String, Value>,
) -> Result<ImageRef, Vec<Problem>> {
    let fail = |msg: String| vec![Problem::new(path, msg)];
    let Some(uri) = obj.get("ImageURI") else {
        if obj.contains_key("name") || obj.contains_key("imageUri") {
            return Err(fail(
                "holds a single imagedefinitions.json entry; imagedefinitions.json is a list: wrap it in `[ ]`".to_owned(),
            ));
        }
        if let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case("imageuri")) {
            return Err(fail(format!(
                "has `{k}` but imageDetail.json spells it `ImageURI` (case matters)"
            )));
        }
        return Err(fail(format!(
            "is an object with keys {} and no `ImageURI`; {EXPECTED}",
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
    let mut image = ImageRef::from_uri(uri);
    if let Some(digest) = obj.get("ImageDigest").and_then(Value::as_str) {
        match &image.digest {
            Some(d) if d != digest => {
                return Err(fail(format!(
                    "`ImageURI` is pinned to `{d}` but `ImageDigest` is `{digest}`; the file is inconsistent"
                )));
            }
            _ => image.digest = Some(digest.to_owned()),
        }
    }
    if image.tag.is_none() {
        image.tag = obj
            .get("ImageTags")
            .and_then(Value::as_array)
            .and_then(|tags| tags.iter().find_map(Value::as_str))
            .map(str::to_owned);
    }
    Ok(image)
}

fn parse_definitions(path: &str, items: &[Value]) -> Result<Vec<(String, String)>, Vec<Problem>> {
    if items.is_empty() {
        return Err(vec![Problem::new(
            path,
            "is an empty list; imagedefinitions.json needs at least one `{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}`",
        )]);
    }
    let mut problems = Vec::new();
    let mut out: Vec<(String, String)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let Some(obj) = item.as_object() else {
            problems.push(Problem::new(
                at,
                format!(
                    "is {}; expected `{{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}}`",
                    kind(item)
                ),
            ));
            continue;
        };
        let name = obj.get("name").and_then(Value::as_str).map(str::trim);
        let uri = obj.get("imageUri").and_then(Value::as_str).map(str::trim);
        match (name, uri) {
            (Some(n), Some(u)) if !n.is_empty() && !u.is_empty() => {
                if out.iter().any(|(existing, _)| existing == n) {
                    problems.push(Problem::new(
                        format!("{at}.name"),
                        format!("container `{n}` is listed twice; list each container once"),
                    ));
                } else {
                    out.push((n.to_owned(), u.to_owned()));
                }
            }
            _ => {
                let hint = if obj.contains_key("ImageURI") {
                    " (`ImageURI` is the imageDetail.json spelling)"
                } else {
                    ""
                };
                problems.push(Problem::new(
                    at,
                    format!(
                        "has keys {}; each entry needs a non-empty `name` and `imageUri`{hint}",
                        list(obj.keys())
                    ),
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An image reference split into its parts: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// A private ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EcrRepository {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl ImageName {
    /// `None` when the string cannot be an image reference (empty, blanks, empty parts).
    pub fn parse(uri: &str) -> Option<Self> {
        if uri.is_empty() || uri.chars().any(char::is_whitespace) {
            return None;
        }
        let (rest, digest) = match uri.split_once('@') {
            Some((r, d)) if d.contains(':') && !d.ends_with(':') => (r, Some(d.to_owned())),
            Some(_) => return None,
            None => (uri, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_owned()), path)
            }
            _ => (None, rest),
        };
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].rfind(':') {
            Some(i) => (
                &path[..last_slash + i],
                Some(path[last_slash + i + 1..].to_owned()),
            ),
            None => (path, None),
        };
        if repository.is_empty() || tag.as_deref() == Some("") {
            return None;
        }
        Some(Self {
            registry,
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// The private ECR repository, when the registry is one.
    pub fn ecr(&self) -> Option<EcrRepository> {
        let host = self.registry.as_deref()?;
        let parts: Vec<&str> = host.split('.').collect();
        match parts.as_slice() {
            [
                account,
                "dkr",
                "ecr" | "ecr-fips",
                region,
                "amazonaws",
                "com",
                rest @ ..,
            ] if account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && (rest.is_empty() || rest == ["cn"]) =>
            {
                Some(EcrRepository {
                    account: (*account).to_owned(),
                    region: (*region).to_owned(),
                    name: self.repository.clone(),
                })
            }
            _ => None,
        }
    }

    /// `registry/repository@digest`: the tag dropped, the digest pinned.
    pub fn pinned(&self, digest: &str) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}@{digest}", self.repository),
            None => format!("{}@{digest}", self.repository),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn detail(json: &str) -> ImageRef {
        match parse_image_file("imageDetail.json", json.as_bytes()).unwrap() {
            ImageFile::Detail(i) => i,
            other => panic!("{other:?}"),
        }
    }

    fn problems(json: &str) -> Vec<Problem> {
        parse_image_file("images.json", json.as_bytes()).unwrap_err()
    }

    #[test]
    fn simple_image_detail() {
        let i = detail(&format!(r#"{{"ImageURI": "{ECR}/web:v1.4.2"}}"#));
        assert_eq!(i.uri, format!("{ECR}/web:v1.4.2"));
        assert_eq!(i.tag.as_deref(), Some("v1.4.2"));
        assert_eq!(i.digest, None);
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
    fn inconsistent_digest_is_refused() {
        let p = problems(&format!(
            r#"{{"ImageURI": "{ECR}/web@sha256:aa", "ImageDigest": "sha256:bb"}}"#
        ));
        assert!(p[0].message.contains("inconsistent"), "{p:?}");
    }

    #[test]
    fn image_definitions_any_number() {
        let json = format!(
            r#"[{{"name": "app", "imageUri": "{ECR}/web:1"}}, {{"name": "envoy", "imageUri": "envoyproxy/envoy:v1.31"}}, {{"name": "log", "imageUri": "fluent"}}]"#
        );
        match parse_image_file("imagedefinitions.json", json.as_bytes()).unwrap() {
            ImageFile::Definitions(d) => {
                assert_eq!(d.len(), 3);
                assert_eq!(d[1], ("envoy".into(), "envoyproxy/envoy:v1.31".into()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn format_is_detected_by_content_not_name() {
        let r = parse_image_file("imageDetail.json", br#"[{"name":"a","imageUri":"x"}]"#);
        assert!(matches!(r, Ok(ImageFile::Definitions(_))));
        let r = parse_image_file("imagedefinitions.json", br#"{"ImageURI":"x"}"#);
        assert!(matches!(r, Ok(ImageFile::Detail(_))));
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
    fn wrong_shapes_are_explained() {
        let p = problems("[]");
        assert!(p[0].message.contains("empty list"), "{p:?}");
        let p = problems(r#"{"name": "app", "imageUri": "x"}"#);
        assert!(p[0].message.contains("wrap it in `[ ]`"), "{p:?}");
        let p = problems(r#"{"imageUri": "x"}"#);
        assert!(p[0].message.contains("wrap it"), "{p:?}");
        let p = problems(r#"{"ImageUri": "x"}"#);
        assert!(p[0].message.contains("spells it `ImageURI`"), "{p:?}");
        let p = problems(r#"{"image": "x"}"#);
        assert!(
            p[0].message.contains("keys `image` and no `ImageURI`"),
            "{p:?}"
        );
        let p = problems(r#"{"ImageURI": ""}"#);
        assert!(p[0].message.contains("empty `ImageURI`"), "{p:?}");
        let p = problems(r#"{"ImageURI": 5}"#);
        assert!(p[0].message.contains("a number"), "{p:?}");
    }

    #[test]
    fn every_bad_definition_entry_is_reported() {
        let p = problems(
            r#"[{"name": "a", "imageUri": "x"}, {"ImageURI": "y"}, 3, {"name": "", "imageUri": "z"}, {"name": "a", "imageUri": "w"}]"#,
        );
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
        assert!(p[0].message.contains("imageDetail.json spelling"));
        assert!(p[3].message.contains("listed twice"));
    }

    #[test]
    fn finds_image_files_by_name() {
        let paths = [
            "taskdef.json",
            "build/imageDetail.json",
            "x/ImageDefinitions.json",
            "readme",
        ];
        assert_eq!(
            image_files(paths.into_iter()),
            ["build/imageDetail.json", "x/ImageDefinitions.json"]
        );
    }

    #[test]
    fn parses_image_names() {
        let n = ImageName::parse(&format!("{ECR}/team/web:v1")).unwrap();
        assert_eq!(n.registry.as_deref(), Some(ECR));
        assert_eq!(n.repository, "team/web");
        assert_eq!(n.tag.as_deref(), Some("v1"));
        assert_eq!(
            n.ecr(),
            Some(EcrRepository {
                account: "123456789012".into(),
                region: "eu-west-1".into(),
                name: "team/web".into()
            })
        );
        assert_eq!(n.pinned("sha256:ab"), format!("{ECR}/team/web@sha256:ab"));

        let n = ImageName::parse("localhost:5000/web").unwrap();
        assert_eq!(
            (n.registry.as_deref(), n.tag.as_deref()),
            (Some("localhost:5000"), None)
        );
        assert_eq!(n.ecr(), None);

        let n = ImageName::parse("nginx:1.27@sha256:abc").unwrap();
        assert_eq!(n.registry, None);
        assert_eq!(
            (n.tag.as_deref(), n.digest.as_deref()),
            (Some("1.27"), Some("sha256:abc"))
        );
        assert_eq!(n.pinned("sha256:abc"), "nginx@sha256:abc");

        let n = ImageName::parse("public.ecr.aws/nginx/nginx:1").unwrap();
        assert_eq!(n.ecr(), None);
        let n = ImageName::parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/a").unwrap();
        assert_eq!(n.ecr().unwrap().region, "cn-north-1");

        for bad in [
            "",
            "a b",
            "web:",
            "web@",
            "web@sha256:",
            ":tag",
            "reg.io/:x",
        ] {
            assert_eq!(ImageName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn image_ref_from_uri() {
        let i = ImageRef::from_uri("web@sha256:ff");
        assert_eq!((i.digest.as_deref(), i.tag), (Some("sha256:ff"), None));
    }
}

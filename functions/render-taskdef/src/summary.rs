//! The one-line summary shown in the console, and the output variables.

use crate::edit::SetImage;
use crate::images::ImageName;
use crate::template::{TaskDef, containers};
use serde_json::Value;
use shared::text::{escape_line, join_within};

/// CodePipeline's limit on `executionDetails.summary`.
pub use shared::report::MAX_SUMMARY;

/// What happened to the task definition in ECS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Not asked to register.
    Rendered { family: String },
    Registered {
        arn: String,
        family: String,
        revision: i64,
    },
    /// The latest ACTIVE revision was the same; nothing registered.
    Reused {
        arn: String,
        family: String,
        revision: i64,
    },
}

impl Registration {
    pub fn family(&self) -> &str {
        match self {
            Self::Rendered { family }
            | Self::Registered { family, .. }
            | Self::Reused { family, .. } => family,
        }
    }

    /// The registered (or reused) revision's ARN.
    pub fn arn(&self) -> Option<&str> {
        match self {
            Self::Registered { arn, .. } | Self::Reused { arn, .. } => Some(arn),
            Self::Rendered { .. } => None,
        }
    }
}

/// `web:42 registered; app -> 1234....dkr.ecr.../web@sha256:ab12cd34ef56.. (from :v1.4.2)`.
pub fn summary(reg: &Registration, set: &[SetImage]) -> String {
    let head = match reg {
        Registration::Rendered { family } => format!("{family} rendered (not registered)"),
        Registration::Registered {
            family, revision, ..
        } => format!("{family}:{revision} registered"),
        Registration::Reused {
            family, revision, ..
        } => {
            format!("{family}:{revision} unchanged, nothing registered")
        }
    };
    let mut parts = vec![head];
    if set.is_empty() {
        parts.push("no image set".to_owned());
    }
    for s in set {
        let mut line = format!("{} -> {}", s.container, short_uri(&s.image.uri));
        let pinned = s.image.uri.contains('@');
        match (&s.image.tag, &s.image.digest) {
            (Some(tag), _) if pinned => line.push_str(&format!(" (from :{tag})")),
            (_, Some(digest)) if !pinned => line.push_str(&format!(" ({})", short_digest(digest))),
            _ => {}
        }
        parts.push(line);
    }
    // Names and URIs come from the artifacts: shown with control characters escaped.
    let parts: Vec<String> = parts.iter().map(|p| escape_line(p)).collect();
    // Whole parts are dropped, and counted, to stay within the limit.
    join_within(&parts, "; ", MAX_SUMMARY, |n| format!("; and {n} more"))
}

/// An ECR host shortened to `<account>.dkr.ecr...`, a digest to its first 12 hex digits.
pub fn short_uri(uri: &str) -> String {
    let Ok(name) = ImageName::parse(uri) else {
        return uri.to_owned();
    };
    let registry = match (&name.registry, name.ecr()) {
        (_, Some(ecr)) => format!("{}.dkr.ecr.../", ecr.account),
        (Some(r), None) => format!("{r}/"),
        (None, None) => String::new(),
    };
    let mut out = format!("{registry}{}", name.repository);
    if let Some(digest) = &name.digest {
        out.push('@');
        out.push_str(&short_digest(digest));
    } else if let Some(tag) = &name.tag {
        out.push(':');
        out.push_str(tag);
    }
    out
}

/// A digest cut to its first 12 digits, the cut marked `..`.
fn short_digest(digest: &str) -> String {
    match shared::image::short_digest(digest) {
        short if short.len() < digest.len() => format!("{short}.."),
        _ => digest.to_owned(),
    }
}

/// `family`, `taskDefinitionArn`, `revision`, and for each container `image_<name>` and,
/// when known, `digest_<name>`.
pub fn output_variables(
    reg: &Registration,
    doc: &TaskDef,
    set: &[SetImage],
) -> Vec<(String, String)> {
    let mut vars = vec![("Family".to_owned(), reg.family().to_owned())];
    if let Registration::Registered { arn, revision, .. }
    | Registration::Reused { arn, revision, .. } = reg
    {
        vars.push(("TaskDefinitionArn".to_owned(), arn.clone()));
        vars.push(("Revision".to_owned(), revision.to_string()));
    }
    for (i, c) in containers(doc).iter().enumerate() {
        let (Some(name), Some(image)) = (
            c.get("name").and_then(Value::as_str),
            c.get("image").and_then(Value::as_str),
        ) else {
            continue;
        };
        vars.push((format!("ImageUri_{name}"), image.to_owned()));
        let digest = set
            .iter()
            .find(|s| s.index == i)
            .and_then(|s| s.image.digest.clone())
            .or_else(|| ImageName::parse(image).ok().and_then(|n| n.digest));
        if let Some(d) = digest {
            vars.push((format!("ImageDigest_{name}"), d));
        }
    }
    vars
}

/// How a revision was made, for its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevisionKind {
    /// `appspec.yml` and the hook scripts, generated; the install directory.
    Generated { directory: String },
    /// The user's template, filled; where it came from.
    Template { label: String },
}

/// `revision for container web generated (installs to /opt/web); web -> docker.io/acme/web@sha256:ab12cd34ef56.. (from :v1.4.2)`.
pub fn revision_summary(
    kind: &RevisionKind,
    name: &str,
    image: &crate::images::ImageRef,
) -> String {
    let head = match kind {
        RevisionKind::Generated { directory } => {
            format!("CodeDeploy revision for container {name} generated (installs to {directory})")
        }
        RevisionKind::Template { label } => {
            format!("CodeDeploy revision from template {label} filled")
        }
    };
    let mut line = format!("{name} -> {}", short_uri(&image.uri));
    if let Some(tag) = &image.tag {
        line.push_str(&format!(" (from :{tag})"));
    }
    let parts = [escape_line(&head), escape_line(&line)];
    join_within(&parts, "; ", MAX_SUMMARY, |n| format!("; and {n} more"))
}

/// `ImageUri_<name>` and `ImageDigest_<name>` of a revision.
pub fn revision_variables(name: &str, image: &crate::images::ImageRef) -> Vec<(String, String)> {
    let mut vars = vec![(format!("ImageUri_{name}"), image.uri.clone())];
    if let Some(d) = &image.digest {
        vars.push((format!("ImageDigest_{name}"), d.clone()));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::ImageRef;
    use serde_json::json;

    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn digest() -> String {
        format!("sha256:ab12cd34ef56{}", "0".repeat(52))
    }

    fn set(
        container: &str,
        index: usize,
        uri: &str,
        digest: Option<String>,
        tag: Option<&str>,
    ) -> SetImage {
        SetImage {
            index,
            container: container.into(),
            image: ImageRef {
                uri: uri.into(),
                digest,
                tag: tag.map(Into::into),
            },
            source: String::new(),
        }
    }

    #[test]
    fn registered_and_pinned() {
        let reg = Registration::Registered {
            arn: "arn".into(),
            family: "web".into(),
            revision: 42,
        };
        let s = summary(
            &reg,
            &[set(
                "app",
                0,
                &format!("{ECR}/web@{}", digest()),
                Some(digest()),
                Some("v1.4.2"),
            )],
        );
        assert_eq!(
            s,
            "web:42 registered; app -> 123456789012.dkr.ecr.../web@sha256:ab12cd34ef56.. (from :v1.4.2)"
        );
    }

    #[test]
    fn reused_rendered_and_plain_tags() {
        let reg = Registration::Reused {
            arn: "arn".into(),
            family: "web".into(),
            revision: 41,
        };
        let s = summary(
            &reg,
            &[
                set(
                    "app",
                    0,
                    &format!("{ECR}/web:v1"),
                    Some(digest()),
                    Some("v1"),
                ),
                set("envoy", 1, "envoyproxy/envoy:v1.31", None, Some("v1.31")),
            ],
        );
        assert_eq!(
            s,
            "web:41 unchanged, nothing registered; app -> 123456789012.dkr.ecr.../web:v1 (sha256:ab12cd34ef56..); envoy -> envoyproxy/envoy:v1.31"
        );
        let s = summary(
            &Registration::Rendered {
                family: "web".into(),
            },
            &[],
        );
        assert_eq!(s, "web rendered (not registered); no image set");
    }

    #[test]
    fn long_summaries_are_cut_at_a_part() {
        let many: Vec<SetImage> = (0..100)
            .map(|i| {
                set(
                    &format!("container-{i:03}"),
                    i,
                    &format!("{ECR}/repository-number-{i}:tag-{i}"),
                    None,
                    None,
                )
            })
            .collect();
        let s = summary(
            &Registration::Rendered {
                family: "web".into(),
            },
            &many,
        );
        assert!(shared::text::len(&s) <= MAX_SUMMARY, "{}", s.len());
        assert!(s.contains("; and ") && s.ends_with(" more"), "{s}");
    }

    #[test]
    fn control_characters_from_the_template_are_escaped() {
        let reg = Registration::Rendered {
            family: "web\u{1b}[2J".into(),
        };
        let s = summary(&reg, &[set("app\nFAKE", 0, "web:v1", None, None)]);
        assert_eq!(
            s,
            "web\\u{1b}[2J rendered (not registered); app\\nFAKE -> web:v1"
        );
    }

    #[test]
    fn revision_summaries_show_tag_and_digest() {
        let image = ImageRef {
            uri: format!("docker.io/acme/web@{}", digest()),
            digest: Some(digest()),
            tag: Some("v1.4.2".into()),
        };
        assert_eq!(
            revision_summary(
                &RevisionKind::Generated {
                    directory: "/opt/web".into()
                },
                "web",
                &image
            ),
            "CodeDeploy revision for container web generated (installs to /opt/web); web -> docker.io/acme/web@sha256:ab12cd34ef56.. (from :v1.4.2)"
        );
        assert_eq!(
            revision_summary(
                &RevisionKind::Template {
                    label: "Src/deploy".into()
                },
                "image",
                &image
            ),
            "CodeDeploy revision from template Src/deploy filled; image -> docker.io/acme/web@sha256:ab12cd34ef56.. (from :v1.4.2)"
        );
        assert_eq!(
            revision_variables("web", &image)[1],
            ("ImageDigest_web".to_owned(), digest())
        );
    }

    #[test]
    fn short_forms() {
        assert_eq!(short_uri("nginx"), "nginx");
        assert_eq!(
            short_uri("public.ecr.aws/nginx/nginx:1"),
            "public.ecr.aws/nginx/nginx:1"
        );
        assert_eq!(short_uri("not a uri"), "not a uri");
        assert_eq!(short_digest("sha256:abc"), "sha256:abc");
        assert_eq!(
            short_digest("sha256:ééééééééééééé"),
            "sha256:éééééééééééé.."
        );
    }

    #[test]
    fn variables_for_each_container() {
        let doc = match json!({"family": "web", "containerDefinitions": [
            {"name": "app", "image": format!("{ECR}/web@{}", digest())},
            {"name": "envoy", "image": "envoy:1"},
            {"name": "x"}
        ]}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let reg = Registration::Registered {
            arn: "arn:td/web:3".into(),
            family: "web".into(),
            revision: 3,
        };
        let vars = output_variables(
            &reg,
            &doc,
            &[set("envoy", 1, "envoy:1", Some("sha256:ee".into()), None)],
        );
        let keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Family",
                "TaskDefinitionArn",
                "Revision",
                "ImageUri_app",
                "ImageDigest_app",
                "ImageUri_envoy",
                "ImageDigest_envoy"
            ]
        );
        assert_eq!(vars[4].1, digest());
        assert_eq!(vars[6].1, "sha256:ee");
        let vars = output_variables(
            &Registration::Rendered {
                family: "web".into(),
            },
            &doc,
            &[],
        );
        assert_eq!(vars.len(), 4);
    }
}

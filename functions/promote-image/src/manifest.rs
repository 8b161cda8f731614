//! Manifest media types and the parts of a manifest promotion needs: the blobs of an
//! image manifest, the children of an index, and which children are attestations.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use shared::registry::{BodyType, body_type};

/// The four manifest types, as the registry client names them.
pub use shared::registry::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

/// Every type `BatchGetImage` is asked to return, so ECR never converts a manifest.
pub const ACCEPTED_MEDIA_TYPES: [&str; 4] = [DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    DockerManifest,
    OciManifest,
    DockerList,
    OciIndex,
}

impl MediaType {
    pub fn parse(value: &str) -> Option<MediaType> {
        match value {
            DOCKER_MANIFEST => Some(MediaType::DockerManifest),
            OCI_MANIFEST => Some(MediaType::OciManifest),
            DOCKER_LIST => Some(MediaType::DockerList),
            OCI_INDEX => Some(MediaType::OciIndex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::DockerManifest => DOCKER_MANIFEST,
            MediaType::OciManifest => OCI_MANIFEST,
            MediaType::DockerList => DOCKER_LIST,
            MediaType::OciIndex => OCI_INDEX,
        }
    }

    pub fn is_index(self) -> bool {
        matches!(self, MediaType::DockerList | MediaType::OciIndex)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaType::DockerManifest => "Docker v2 manifest",
            MediaType::OciManifest => "OCI manifest",
            MediaType::DockerList => "Docker manifest list",
            MediaType::OciIndex => "OCI image index",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub media_type: MediaType,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Config blob first, then the layers.
    Image {
        blobs: Vec<Blob>,
    },
    Index {
        children: Vec<Child>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    /// Foreign / non-distributable layers live outside the registry and are never copied.
    pub foreign: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    pub digest: String,
    pub media_type: Option<String>,
    /// `os/architecture[/variant]`, when the index says.
    pub platform: Option<String>,
    pub attestation: bool,
}

impl Child {
    /// How people know this child: its platform, or what it is.
    pub fn label(&self) -> String {
        match (&self.platform, self.attestation) {
            (_, true) => "attestation".to_string(),
            (Some(platform), false) => platform.clone(),
            (None, false) => "unknown platform".to_string(),
        }
    }
}

impl Manifest {
    pub fn children(&self) -> &[Child] {
        match &self.body {
            Body::Index { children } => children,
            Body::Image { .. } => &[],
        }
    }

    /// Blobs that live in the registry (config and layers, foreign layers left out).
    pub fn registry_blobs(&self) -> impl Iterator<Item = &Blob> {
        let blobs = match &self.body {
            Body::Image { blobs } => blobs.as_slice(),
            Body::Index { .. } => &[],
        };
        blobs.iter().filter(|b| !b.foreign)
    }

    /// "OCI image index, 2 platforms + 1 attestation", or just the media type.
    pub fn describe(&self) -> String {
        let children = self.children();
        if !self.media_type.is_index() {
            return self.media_type.to_string();
        }
        let attestations = children.iter().filter(|c| c.attestation).count();
        let platforms = children.len() - attestations;
        let mut text = format!(
            "{}, {platforms} platform{}",
            self.media_type,
            plural(platforms)
        );
        if attestations > 0 {
            text.push_str(&format!(
                " + {attestations} attestation{}",
                plural(attestations)
            ));
        }
        text
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not valid JSON: {0}")]
    Json(String),
    #[error(
        "media type `{0}` is not supported; promote-image handles Docker v2 manifests, OCI manifests, \
         Docker manifest lists and OCI image indexes (re-push the image with a current Docker or buildx)"
    )]
    Unsupported(String),
    #[error("the manifest says {declared} but has {found}")]
    Shape {
        declared: MediaType,
        found: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
    manifests: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    urls: Vec<String>,
    platform: Option<RawPlatform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    variant: Option<String>,
}

/// Parses a manifest. `reported` is the media type ECR returned; when absent the
/// manifest's own `mediaType` field, then its shape, decide ([`body_type`]).
pub fn parse(manifest: &str, reported: Option<&str>) -> Result<Manifest, ManifestError> {
    let raw: Raw =
        serde_json::from_str(manifest).map_err(|e| ManifestError::Json(e.to_string()))?;
    let unsupported = |value: &str| ManifestError::Unsupported(value.to_string());
    let media_type = match reported.filter(|s| !s.is_empty()) {
        Some(value) => MediaType::parse(value).ok_or_else(|| unsupported(value))?,
        None => match body_type(manifest.as_bytes()) {
            BodyType::Manifest(value) => {
                MediaType::parse(value).ok_or_else(|| unsupported(value))?
            }
            BodyType::Unsupported(value) => return Err(unsupported(&value)),
            // Neither declared nor shaped: read as an image manifest, which then says what
            // it lacks.
            BodyType::Unknown => MediaType::OciManifest,
        },
    };
    let body = if media_type.is_index() {
        let Some(manifests) = raw.manifests else {
            return Err(ManifestError::Shape {
                declared: media_type,
                found: "no `manifests`",
            });
        };
        Body::Index {
            children: manifests.into_iter().map(child).collect(),
        }
    } else {
        let Some(config) = raw.config else {
            return Err(ManifestError::Shape {
                declared: media_type,
                found: "no `config`",
            });
        };
        let blobs = std::iter::once(config)
            .chain(raw.layers)
            .map(blob)
            .collect();
        Body::Image { blobs }
    };
    Ok(Manifest { media_type, body })
}

fn blob(d: RawDescriptor) -> Blob {
    let media_type = d.media_type.as_deref().unwrap_or_default();
    let foreign = !d.urls.is_empty()
        || media_type.contains(".foreign.")
        || media_type.contains(".nondistributable.");
    Blob {
        digest: d.digest,
        size: d.size,
        foreign,
    }
}

fn child(d: RawDescriptor) -> Child {
    let annotated = d
        .annotations
        .get("vnd.docker.reference.type")
        .map(String::as_str)
        == Some("attestation-manifest");
    let platform = d.platform.map(|p| {
        let mut text = format!("{}/{}", p.os, p.architecture);
        if let Some(variant) = p.variant.filter(|v| !v.is_empty()) {
            text.push('/');
            text.push_str(&variant);
        }
        text
    });
    let attestation = is_attestation(annotated, platform.as_deref());
    Child {
        digest: d.digest,
        media_type: d.media_type,
        platform: platform.filter(|p| p != UNKNOWN_PLATFORM),
        attestation,
    }
}

const UNKNOWN_PLATFORM: &str = "unknown/unknown";

/// Whether an index child is an attestation rather than an image that runs. The
/// annotation and the platform decide together: a child with a runnable platform is an
/// image whatever its annotation says (so the scan gate always sees it), and only a child
/// with no runnable platform that is annotated as, or placed like, an attestation
/// (`unknown/unknown`) is one.
pub fn is_attestation(annotated: bool, platform: Option<&str>) -> bool {
    match platform {
        Some(UNKNOWN_PLATFORM) => true,
        Some(_) => false,
        None => annotated,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    pub fn docker_manifest(layers: &[u8]) -> String {
        let layers: Vec<String> = layers
            .iter()
            .map(|n| format!(r#"{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100, "digest": "{}"}}"#, digest(*n)))
            .collect();
        format!(
            r#"{{"schemaVersion": 2, "mediaType": "{DOCKER_MANIFEST}", "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 10, "digest": "{}"}}, "layers": [{}]}}"#,
            digest(200),
            layers.join(", ")
        )
    }

    pub fn oci_index(children: &[(u8, &str)]) -> String {
        let manifests: Vec<String> = children
            .iter()
            .map(|(n, platform)| {
                if *platform == "attestation" {
                    format!(
                        r#"{{"mediaType": "{OCI_MANIFEST}", "digest": "{}", "size": 566, "annotations": {{"vnd.docker.reference.digest": "{}", "vnd.docker.reference.type": "attestation-manifest"}}, "platform": {{"architecture": "unknown", "os": "unknown"}}}}"#,
                        digest(*n),
                        digest(1)
                    )
                } else {
                    let (os, arch) = platform.split_once('/').unwrap_or(("linux", platform));
                    format!(r#"{{"mediaType": "{OCI_MANIFEST}", "digest": "{}", "size": 1000, "platform": {{"architecture": "{arch}", "os": "{os}"}}}}"#, digest(*n))
                }
            })
            .collect();
        format!(
            r#"{{"schemaVersion": 2, "mediaType": "{OCI_INDEX}", "manifests": [{}]}}"#,
            manifests.join(", ")
        )
    }

    #[test]
    fn parses_docker_v2_manifest() {
        let m = parse(&docker_manifest(&[1, 2]), Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(m.media_type, MediaType::DockerManifest);
        let blobs: Vec<&str> = m.registry_blobs().map(|b| b.digest.as_str()).collect();
        assert_eq!(blobs, [digest(200), digest(1), digest(2)]);
        assert!(m.children().is_empty());
        assert_eq!(m.describe(), "Docker v2 manifest");
    }

    #[test]
    fn parses_oci_manifest_without_media_type_field() {
        let body = format!(
            r#"{{"schemaVersion": 2, "config": {{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{}", "size": 5}}, "layers": []}}"#,
            digest(3)
        );
        assert_eq!(
            parse(&body, Some(OCI_MANIFEST)).unwrap().media_type,
            MediaType::OciManifest
        );
        assert_eq!(
            parse(&body, None).unwrap().media_type,
            MediaType::OciManifest,
            "shape decides"
        );
    }

    #[test]
    fn parses_docker_manifest_list() {
        let body = format!(
            r#"{{"schemaVersion": 2, "mediaType": "{DOCKER_LIST}", "manifests": [{{"mediaType": "{DOCKER_MANIFEST}", "digest": "{}", "size": 1, "platform": {{"architecture": "arm64", "os": "linux", "variant": "v8"}}}}]}}"#,
            digest(4)
        );
        let m = parse(&body, Some(DOCKER_LIST)).unwrap();
        assert_eq!(m.media_type, MediaType::DockerList);
        assert_eq!(m.children()[0].platform.as_deref(), Some("linux/arm64/v8"));
        assert!(!m.children()[0].attestation);
        assert_eq!(m.describe(), "Docker manifest list, 1 platform");
        assert_eq!(m.registry_blobs().count(), 0);
    }

    #[test]
    fn recognises_attestations_in_oci_index() {
        let m = parse(
            &oci_index(&[(1, "linux/amd64"), (2, "linux/arm64"), (3, "attestation")]),
            None,
        )
        .unwrap();
        assert_eq!(m.media_type, MediaType::OciIndex);
        let labels: Vec<String> = m.children().iter().map(Child::label).collect();
        assert_eq!(labels, ["linux/amd64", "linux/arm64", "attestation"]);
        assert_eq!(m.describe(), "OCI image index, 2 platforms + 1 attestation");
    }

    #[test]
    fn unknown_platform_alone_marks_an_attestation() {
        let body = format!(
            r#"{{"manifests": [{{"digest": "{}", "platform": {{"os": "unknown", "architecture": "unknown"}}}}]}}"#,
            digest(9)
        );
        assert!(parse(&body, Some(OCI_INDEX)).unwrap().children()[0].attestation);
    }

    #[test]
    fn attestation_status_needs_annotation_and_platform_to_agree() {
        let rows = [
            // (annotated, platform, attestation)
            (true, Some("unknown/unknown"), true),
            (false, Some("unknown/unknown"), true),
            (true, None, true),
            (false, None, false),
            (false, Some("linux/amd64"), false),
            // A runnable platform is an image to scan, whatever the annotation claims.
            (true, Some("linux/amd64"), false),
            (true, Some("linux/arm64/v8"), false),
            (true, Some("windows/amd64"), false),
        ];
        for (annotated, platform, attestation) in rows {
            assert_eq!(
                is_attestation(annotated, platform),
                attestation,
                "{annotated} {platform:?}"
            );
        }
    }

    #[test]
    fn an_annotated_child_with_a_runnable_platform_is_an_image() {
        let body = format!(
            r#"{{"manifests": [{{"mediaType": "{OCI_MANIFEST}", "digest": "{}", "size": 1,
                "annotations": {{"vnd.docker.reference.type": "attestation-manifest"}},
                "platform": {{"os": "linux", "architecture": "amd64"}}}}]}}"#,
            digest(7)
        );
        let m = parse(&body, Some(OCI_INDEX)).unwrap();
        let child = &m.children()[0];
        assert!(!child.attestation);
        assert_eq!(child.label(), "linux/amd64");
        assert_eq!(m.describe(), "OCI image index, 1 platform");
    }

    #[test]
    fn foreign_layers_are_not_registry_blobs() {
        let body = format!(
            r#"{{"schemaVersion": 2, "config": {{"digest": "{}", "size": 1}}, "layers": [
                {{"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": "{}", "size": 9, "urls": ["https://go.microsoft.com/x"]}},
                {{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": "{}", "size": 9}},
                {{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{}", "size": 9}}]}}"#,
            digest(1),
            digest(2),
            digest(3),
            digest(4)
        );
        let m = parse(&body, Some(OCI_MANIFEST)).unwrap();
        let blobs: Vec<&str> = m.registry_blobs().map(|b| b.digest.as_str()).collect();
        assert_eq!(blobs, [digest(1), digest(4)]);
    }

    #[test]
    fn reported_media_type_wins() {
        // ECR's reported type is the truth for PutImage; the body's field is only a fallback.
        let m = parse(&docker_manifest(&[]), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.media_type, MediaType::OciManifest);
    }

    #[test]
    fn rejects_unsupported_and_malformed() {
        assert!(matches!(parse("{", None), Err(ManifestError::Json(_))));
        let v1 = r#"{"schemaVersion": 1, "name": "web", "fsLayers": []}"#;
        assert!(matches!(
            parse(v1, None),
            Err(ManifestError::Unsupported(_))
        ));
        let e = parse(
            v1,
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("v1+prettyjws"), "{e}");
        assert!(matches!(
            parse(r#"{"layers": []}"#, Some(OCI_INDEX)),
            Err(ManifestError::Shape { .. })
        ));
        assert!(matches!(
            parse(r#"{"manifests": []}"#, Some(DOCKER_MANIFEST)),
            Err(ManifestError::Shape { .. })
        ));
    }

    #[test]
    fn media_type_round_trips() {
        for value in ACCEPTED_MEDIA_TYPES {
            assert_eq!(MediaType::parse(value).map(MediaType::as_str), Some(value));
        }
        assert!(MediaType::OciIndex.is_index() && MediaType::DockerList.is_index());
        assert!(!MediaType::OciManifest.is_index() && !MediaType::DockerManifest.is_index());
    }
}

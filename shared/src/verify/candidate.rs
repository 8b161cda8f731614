//! What the caller hands the verifier: the subject, and the signature manifests found for
//! it with the layer blobs [`wanted`] names; and the signatures inside them.

use serde_json::Value;

use super::{JOSE, NOTATION_SIGNATURE, SIMPLE_SIGNING};
use super::{MAX_SIGNATURE_BLOB, MAX_SIGNATURE_MANIFEST, cosign, short};

/// The image whose signatures are checked: its manifest's digest, media type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// Where a signature manifest was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An OCI referrer of the image (`subject` = the image).
    Referrer,
    /// cosign's legacy tag (`sha256-<hex>.sig`).
    LegacyTag(String),
}

/// A layer blob the verifier needs, as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub bytes: Vec<u8>,
}

/// A signature-bearing manifest found for the subject: its exact bytes and digest, where
/// it was found, and the blobs of the layers [`wanted`] named (at most
/// [`MAX_SIGNATURE_BLOB`] each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub digest: String,
    pub manifest: Vec<u8>,
    pub found: Found,
    pub blobs: Vec<Blob>,
}

/// The signature format a manifest holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    SimpleSigning,
    SigstoreBundle,
    Notation,
}

/// A layer of a signature manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub annotations: serde_json::Map<String, Value>,
}

fn manifest_json(manifest: &[u8]) -> Option<Value> {
    let limits = crate::json::JsonLimits {
        max_bytes: MAX_SIGNATURE_MANIFEST,
        max_nodes: 20_000,
        max_depth: 16,
    };
    crate::json::parse(manifest, &limits).ok()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Which signature format `manifest` holds, if any.
pub fn classify(manifest: &[u8]) -> Option<Format> {
    classify_value(&manifest_json(manifest)?)
}

fn classify_value(m: &Value) -> Option<Format> {
    let artifact = str_at(m, &["artifactType"]).unwrap_or_default();
    let config = str_at(m, &["config", "mediaType"]).unwrap_or_default();
    let layer_types: Vec<&str> = m
        .get("layers")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(|d| str_at(d, &["mediaType"])).collect())
        .unwrap_or_default();
    if artifact == NOTATION_SIGNATURE || config == NOTATION_SIGNATURE {
        Some(Format::Notation)
    } else if is_bundle_type(artifact) || layer_types.iter().any(|t| is_bundle_type(t)) {
        Some(Format::SigstoreBundle)
    } else if layer_types.contains(&SIMPLE_SIGNING) {
        Some(Format::SimpleSigning)
    } else {
        None
    }
}

fn is_bundle_type(t: &str) -> bool {
    t.starts_with("application/vnd.dev.sigstore.bundle")
}

fn layers(m: &Value) -> Vec<Descriptor> {
    let Some(layers) = m.get("layers").and_then(Value::as_array) else {
        return Vec::new();
    };
    layers
        .iter()
        .take(64)
        .filter_map(|d| {
            Some(Descriptor {
                media_type: str_at(d, &["mediaType"])?.to_owned(),
                digest: str_at(d, &["digest"])?.to_owned(),
                size: d.get("size")?.as_u64()?,
                annotations: d
                    .get("annotations")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn signature_layers(m: &Value) -> (Option<Format>, Vec<Descriptor>) {
    let format = classify_value(m);
    let media_ok = |d: &Descriptor| match format {
        Some(Format::Notation) => d.media_type == JOSE,
        Some(Format::SigstoreBundle) => is_bundle_type(&d.media_type),
        Some(Format::SimpleSigning) => d.media_type == SIMPLE_SIGNING,
        None => false,
    };
    (format, layers(m).into_iter().filter(media_ok).collect())
}

/// The layers of `manifest` to fetch for [`check`](super::check): its signature layers of at most
/// [`MAX_SIGNATURE_BLOB`] bytes; none when it is not a signature manifest.
pub fn wanted(manifest: &[u8]) -> Vec<Descriptor> {
    let Some(m) = manifest_json(manifest) else {
        return Vec::new();
    };
    signature_layers(&m)
        .1
        .into_iter()
        .filter(|d| d.size <= MAX_SIGNATURE_BLOB)
        .collect()
}

/// One signature inside a candidate.
pub(crate) enum Unit<'a> {
    SimpleSigning {
        payload: &'a [u8],
        signature: Option<String>,
        keyless: bool,
    },
    Bundle(&'a [u8]),
    Notation(&'a [u8]),
    Broken(String),
}

fn place(c: &Candidate) -> String {
    match &c.found {
        Found::Referrer => format!("referrer {}", short(&c.digest)),
        Found::LegacyTag(tag) => format!("tag {tag}"),
    }
}

/// The signatures a candidate holds, each with where it is.
pub(crate) fn units(c: &Candidate) -> Vec<(String, Unit<'_>)> {
    let at = place(c);
    let broken = |detail: String| vec![(at.clone(), Unit::Broken(detail))];
    if c.manifest.len() as u64 > MAX_SIGNATURE_MANIFEST {
        return broken("a signature manifest over 1 MiB".into());
    }
    if crate::registry::sha256_digest(&c.manifest) != c.digest {
        return broken("a signature manifest whose bytes do not match its digest".into());
    }
    let Some(m) = manifest_json(&c.manifest) else {
        return broken("a signature manifest that is not valid JSON".into());
    };
    let (format, descriptors) = signature_layers(&m);
    if format.is_none() || descriptors.is_empty() {
        return broken("a manifest with no signature layer".into());
    }
    let mut out = Vec::new();
    for d in descriptors {
        let blob = c.blobs.iter().find(|b| b.digest == d.digest);
        let bytes = match blob {
            _ if d.size > MAX_SIGNATURE_BLOB => Err(format!(
                "a signature layer of {} bytes, more than the {MAX_SIGNATURE_BLOB} allowed",
                d.size
            )),
            None => Err(format!(
                "a signature layer {} that was not fetched",
                short(&d.digest)
            )),
            Some(b) if b.bytes.len() as u64 > MAX_SIGNATURE_BLOB => Err(format!(
                "a signature layer of more than the {MAX_SIGNATURE_BLOB} bytes allowed"
            )),
            Some(b) if crate::registry::sha256_digest(&b.bytes) != d.digest => {
                Err("a signature layer whose bytes do not match its digest".into())
            }
            Some(b) => Ok(b.bytes.as_slice()),
        };
        let unit = match (bytes, format) {
            (Err(e), _) => Unit::Broken(e),
            (Ok(bytes), Some(Format::SimpleSigning)) => Unit::SimpleSigning {
                payload: bytes,
                signature: d
                    .annotations
                    .get(cosign::SIGNATURE_ANNOTATION)
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                keyless: d.annotations.contains_key(cosign::CERTIFICATE_ANNOTATION),
            },
            (Ok(bytes), Some(Format::SigstoreBundle)) => Unit::Bundle(bytes),
            (Ok(bytes), _) => Unit::Notation(bytes),
        };
        out.push((at.clone(), unit));
    }
    out
}

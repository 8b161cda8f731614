//! Manifests: resolve a reference to its digest (`HEAD`), read the bytes (`GET`), and put
//! the same bytes with the same media type (`PUT`), so the digest never changes.

use bytes::Bytes;
use reqwest::Method;
use reqwest::StatusCode;

use super::auth::Scope;
use super::client::{Call, Client};
use super::digest::sha256_digest;
use super::error::RegistryError;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Every manifest type accepted, indexes first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest read (the distribution registry's own limit).
pub const MAX_MANIFEST: usize = 4 << 20;

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `sha256:<hex>`.
    pub digest: String,
    pub media_type: String,
}

/// A manifest as stored: its exact bytes, media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Bytes,
}

impl Client {
    /// Where `reference` (a tag or digest) in `repository` points: one `HEAD`, or a `GET`
    /// when the registry does not send `Docker-Content-Digest`. `None` when it does not
    /// exist.
    pub async fn resolve(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Resolved>, RegistryError> {
        self.resolve_in(repository, reference, Scope::pull(repository))
            .await
    }

    /// As [`Client::resolve`], asking for push access (a target about to be written: the
    /// look-up and the write then share one token).
    pub async fn resolve_for_push(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Resolved>, RegistryError> {
        self.resolve_in(repository, reference, Scope::push(repository))
            .await
    }

    async fn resolve_in(
        &self,
        repository: &str,
        reference: &str,
        scope: Scope,
    ) -> Result<Option<Resolved>, RegistryError> {
        let call = manifest_call(self, Method::HEAD, repository, reference, scope.clone());
        let response = self.send(&call).await?;
        match response.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            _ => return Err(self.unexpected(response, &call.what, repository).await),
        }
        let headers = response.headers();
        let digest = header(headers, "docker-content-digest");
        let media_type = header(headers, "content-type").filter(|t| is_manifest_type(t));
        match (digest, media_type) {
            (Some(digest), Some(media_type)) => Ok(Some(Resolved { digest, media_type })),
            _ => Ok(self
                .get_in(repository, reference, scope)
                .await?
                .map(|m| Resolved {
                    digest: m.digest,
                    media_type: m.media_type,
                })),
        }
    }

    /// The manifest `reference` names, byte for byte; `None` when it does not exist. A
    /// manifest read by digest is checked against it.
    pub async fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        self.get_in(repository, reference, Scope::pull(repository))
            .await
    }

    async fn get_in(
        &self,
        repository: &str,
        reference: &str,
        scope: Scope,
    ) -> Result<Option<Manifest>, RegistryError> {
        let call = manifest_call(self, Method::GET, repository, reference, scope);
        let mut response = self.send(&call).await?;
        match response.status() {
            StatusCode::NOT_FOUND => {
                let e = self.unexpected(response, &call.what, repository).await;
                return match e {
                    RegistryError::RepositoryMissing { .. } => Err(e),
                    _ => Ok(None),
                };
            }
            s if s.is_success() => {}
            _ => return Err(self.unexpected(response, &call.what, repository).await),
        }
        let content_type = header(response.headers(), "content-type");
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.protocol(&call.what, format!("the body broke off: {e}")))?
        {
            if body.len() + chunk.len() > MAX_MANIFEST {
                return Err(self.protocol(
                    &call.what,
                    format!("the manifest is larger than {MAX_MANIFEST} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let digest = sha256_digest(&body);
        if reference.contains(':') && reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.host().to_string(),
                what: format!("manifest {repository}@{reference}"),
                expected: reference.to_string(),
                actual: digest,
            });
        }
        let media_type = content_type
            .filter(|t| is_manifest_type(t))
            .or_else(|| media_type_of(&body))
            .ok_or_else(|| {
                self.protocol(
                    &call.what,
                    "neither its Content-Type nor its mediaType names a manifest type",
                )
            })?;
        Ok(Some(Manifest {
            digest,
            media_type,
            bytes: Bytes::from(body),
        }))
    }

    /// Puts `manifest` under `reference` (a tag, or its digest for an untagged child),
    /// with its own bytes and media type. Returns the digest the registry stored it as.
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        manifest: &Manifest,
    ) -> Result<String, RegistryError> {
        let call = Call {
            method: Method::PUT,
            url: self.url(&format!("/v2/{repository}/manifests/{reference}")),
            scope: Scope::push(repository),
            headers: vec![("content-type", manifest.media_type.clone())],
            body: Some(manifest.bytes.clone()),
            what: format!("PUT manifest {repository}:{reference}"),
        };
        let response = self.send(&call).await?;
        if !response.status().is_success() {
            return Err(self.unexpected(response, &call.what, repository).await);
        }
        let stored = header(response.headers(), "docker-content-digest")
            .unwrap_or_else(|| manifest.digest.clone());
        if stored != manifest.digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.host().to_string(),
                what: format!("the manifest put as {repository}:{reference}"),
                expected: manifest.digest.clone(),
                actual: stored,
            });
        }
        Ok(stored)
    }
}

fn manifest_call(
    client: &Client,
    method: Method,
    repository: &str,
    reference: &str,
    scope: Scope,
) -> Call {
    let separator = if reference.contains(':') { "@" } else { ":" };
    Call {
        what: format!("{method} manifest {repository}{separator}{reference}"),
        method,
        url: client.url(&format!("/v2/{repository}/manifests/{reference}")),
        scope,
        headers: vec![("accept", ACCEPT.to_string())],
        body: None,
    }
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The four manifest types this client reads.
const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Whether `media_type` is one of the four manifest types this client reads.
pub fn is_manifest_type(media_type: &str) -> bool {
    MANIFEST_TYPES.contains(&media_type)
}

/// What a manifest's body says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyType {
    /// One of the four manifest types: declared (`mediaType`), or, when it declares none
    /// as OCI allows, told from its shape (`manifests` makes an index, `layers` an image
    /// manifest).
    Manifest(&'static str),
    /// A declared type that is none of the four, or `schema version 1` for a schema 1
    /// manifest (which declares none).
    Unsupported(String),
    /// Not JSON, or neither declared nor shaped as a manifest.
    Unknown,
}

/// What `body` says it is (see [`BodyType`]).
pub fn body_type(body: &[u8]) -> BodyType {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return BodyType::Unknown;
    };
    match value.get("mediaType").and_then(|v| v.as_str()) {
        Some(t) => match MANIFEST_TYPES.into_iter().find(|known| *known == t) {
            Some(known) => BodyType::Manifest(known),
            None => BodyType::Unsupported(t.to_string()),
        },
        None if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) => {
            BodyType::Unsupported("schema version 1".to_string())
        }
        None if value.get("manifests").is_some() => BodyType::Manifest(OCI_INDEX),
        None if value.get("layers").is_some() => BodyType::Manifest(OCI_MANIFEST),
        None => BodyType::Unknown,
    }
}

/// The media type a manifest declares, or the one its shape tells, when it is one of the
/// four (see [`body_type`]).
pub fn media_type_of(body: &[u8]) -> Option<String> {
    match body_type(body) {
        BodyType::Manifest(t) => Some(t.to_string()),
        BodyType::Unsupported(_) | BodyType::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_declared_or_shaped_media_type() {
        let rows: [(&str, BodyType); 7] = [
            (
                r#"{"mediaType": "application/vnd.docker.distribution.manifest.v2+json"}"#,
                BodyType::Manifest(DOCKER_MANIFEST),
            ),
            (
                r#"{"schemaVersion": 2, "manifests": []}"#,
                BodyType::Manifest(OCI_INDEX),
            ),
            (
                r#"{"schemaVersion": 2, "config": {}, "layers": []}"#,
                BodyType::Manifest(OCI_MANIFEST),
            ),
            (
                r#"{"mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"}"#,
                BodyType::Unsupported(
                    "application/vnd.docker.distribution.manifest.v1+prettyjws".into(),
                ),
            ),
            (
                r#"{"schemaVersion": 1, "name": "web", "fsLayers": []}"#,
                BodyType::Unsupported("schema version 1".into()),
            ),
            (r#"{"schemaVersion": 2}"#, BodyType::Unknown),
            ("not json", BodyType::Unknown),
        ];
        for (body, want) in rows {
            let got = body_type(body.as_bytes());
            let guessed = match &want {
                BodyType::Manifest(t) => Some(t.to_string()),
                _ => None,
            };
            assert_eq!(got, want, "{body}");
            assert_eq!(media_type_of(body.as_bytes()), guessed, "{body}");
        }
    }
}

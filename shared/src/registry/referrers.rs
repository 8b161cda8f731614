//! A subject's referrers on a registry: the referrers API (`GET /v2/<name>/referrers/<digest>`)
//! where it is served, else the referrers tag schema (`sha256-<hex>` holding an OCI index),
//! which a client pushing a referrer keeps up to date itself. Whether the API is served is
//! remembered per client.

use bytes::Bytes;
use futures::TryStreamExt;
use reqwest::{Method, Response, StatusCode};

use super::auth::Scope;
use super::client::{Call, Client};
use super::digest::sha256_digest;
use super::error::RegistryError;
use super::manifest::{MAX_MANIFEST, Manifest, OCI_INDEX};
use crate::referrers::{
    self, Descriptor, Listing, ReferrerError, Via, parse_index, tag_schema_tag,
};

/// Pages of a referrers API answer followed at most (each holds many referrers).
const MAX_PAGES: usize = 20;

impl Client {
    /// The referrers of `subject` (a digest) in `repository`: from the referrers API, or,
    /// where the registry answers it with `404`, from the tag schema's index (none when
    /// that tag does not exist). At most [`MAX_REFERRERS`]; a tag that holds anything but
    /// an OCI index is [`ReferrerError::NotAnIndex`].
    ///
    /// [`MAX_REFERRERS`]: crate::referrers::MAX_REFERRERS
    pub async fn list_referrers(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Listing, ReferrerError> {
        if self.serves_referrers_api() != Some(false)
            && let Some(referrers) = self.referrers_api(repository, subject).await?
        {
            return Ok(Listing {
                referrers,
                via: Via::Api,
            });
        }
        let referrers = self.tag_schema_index(repository, subject).await?;
        Ok(Listing {
            referrers,
            via: Via::TagSchema,
        })
    }

    /// The referrers API's answer, every page; `None` when the registry does not serve it.
    async fn referrers_api(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Option<Vec<Descriptor>>, ReferrerError> {
        let mut url = self.url(&format!("/v2/{repository}/referrers/{subject}"));
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let call = Call {
                method: Method::GET,
                url: url.clone(),
                scope: Scope::pull(repository),
                headers: vec![("accept", OCI_INDEX.to_string())],
                body: None,
                what: format!("GET referrers of {repository}@{subject}"),
            };
            let response = self.send(&call).await?;
            match response.status() {
                // No referrers API (concurrent look-ups may all learn it at once).
                StatusCode::NOT_FOUND if self.serves_referrers_api() != Some(true) => {
                    self.remember_referrers_api(false);
                    return Ok(None);
                }
                s if s.is_success() => self.remember_referrers_api(true),
                _ => {
                    return Err(self
                        .unexpected(response, &call.what, repository)
                        .await
                        .into());
                }
            }
            let next = next_link(&response).and_then(|link| {
                reqwest::Url::parse(&call.url)
                    .ok()?
                    .join(&link)
                    .ok()
                    .map(String::from)
            });
            let media_type = content_type(&response).unwrap_or_else(|| OCI_INDEX.to_string());
            let body = self
                .read_bounded(response, MAX_MANIFEST, &call.what)
                .await?;
            let page = parse_index(&media_type, &body)
                .map_err(|why| self.protocol(&call.what, why.to_string()))?;
            found.extend(page);
            referrers::bounded(
                subject,
                found.len(),
                &format!("{}/{repository}", self.host()),
            )?;
            match next {
                Some(next) => url = next,
                None => return Ok(Some(found)),
            }
        }
        Ok(Some(found))
    }

    /// The entries of the tag schema's index of `subject` (none when the tag is absent).
    async fn tag_schema_index(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Vec<Descriptor>, ReferrerError> {
        let tag = self.schema_tag(subject)?;
        let Some(index) = self.get_manifest(repository, &tag).await? else {
            return Ok(Vec::new());
        };
        let entries = parse_index(&index.media_type, &index.bytes).map_err(|why| {
            ReferrerError::NotAnIndex {
                registry: self.host().to_string(),
                repository: repository.to_string(),
                tag: tag.clone(),
                why,
            }
        })?;
        referrers::bounded(
            subject,
            entries.len(),
            &format!("{}/{repository}", self.host()),
        )?;
        Ok(entries)
    }

    fn schema_tag(&self, subject: &str) -> Result<String, RegistryError> {
        tag_schema_tag(subject).ok_or_else(|| {
            self.protocol(
                "a referrers look-up",
                format!("`{subject}` is not a digest"),
            )
        })
    }

    /// Puts the referrer `manifest` by its digest (untagged); returns whether the answer
    /// carried `OCI-Subject`, the registry's word that it indexes referrers itself. Without
    /// it, the pusher keeps the tag schema's index ([`Client::add_to_referrers_index`]).
    pub async fn put_referrer(
        &self,
        repository: &str,
        manifest: &Manifest,
    ) -> Result<bool, RegistryError> {
        let call = Call {
            method: Method::PUT,
            url: self.url(&format!("/v2/{repository}/manifests/{}", manifest.digest)),
            scope: Scope::push(repository),
            headers: vec![("content-type", manifest.media_type.clone())],
            body: Some(manifest.bytes.clone()),
            what: format!("PUT referrer {repository}@{}", manifest.digest),
        };
        let response = self.send(&call).await?;
        if !response.status().is_success() {
            return Err(self.unexpected(response, &call.what, repository).await);
        }
        // A registry with the referrers API must answer with `OCI-Subject`.
        let indexed = response.headers().contains_key("oci-subject");
        self.remember_referrers_api(indexed);
        Ok(indexed)
    }

    /// Adds `referrers` to the tag schema's index of `subject` (created when absent): read,
    /// checked to be an OCI index, deduplicated, appended, put once. Returns how many were
    /// added (none written when every one is listed already). Two writers at the same
    /// moment may lose an entry; running again adds it.
    pub async fn add_to_referrers_index(
        &self,
        repository: &str,
        subject: &str,
        referrers: &[Descriptor],
    ) -> Result<usize, ReferrerError> {
        let mut entries = self.tag_schema_index(repository, subject).await?;
        let mut added = 0;
        for referrer in referrers {
            if let Some(merged) = referrers::merge(&entries, referrer) {
                entries = merged;
                added += 1;
            }
        }
        if added == 0 {
            return Ok(0);
        }
        referrers::bounded(
            subject,
            entries.len(),
            &format!("{}/{repository}", self.host()),
        )?;
        let bytes = referrers::index_bytes(&entries);
        let index = Manifest {
            digest: sha256_digest(&bytes),
            media_type: OCI_INDEX.to_string(),
            bytes,
        };
        self.put_manifest(repository, &self.schema_tag(subject)?, &index)
            .await?;
        Ok(added)
    }

    /// The blob `digest` of `repository` in memory, when it is at most `limit` bytes;
    /// checked against its digest.
    pub async fn read_small_blob(
        &self,
        repository: &str,
        digest: &str,
        limit: u64,
    ) -> Result<Bytes, ReferrerError> {
        let mut stream = std::pin::pin!(self.get_blob(repository, digest).await?);
        let mut body = Vec::new();
        while let Some(piece) = stream.try_next().await? {
            if (body.len() + piece.len()) as u64 > limit {
                return Err(ReferrerError::BlobTooLarge {
                    digest: digest.to_string(),
                    size: (body.len() + piece.len()) as u64,
                    limit,
                });
            }
            body.extend_from_slice(&piece);
        }
        let actual = sha256_digest(&body);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.host().to_string(),
                what: format!("blob {repository}@{digest}"),
                expected: digest.to_string(),
                actual,
            }
            .into());
        }
        Ok(Bytes::from(body))
    }

    async fn read_bounded(
        &self,
        mut response: Response,
        limit: usize,
        what: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.protocol(what, format!("the body broke off: {e}")))?
        {
            if body.len() + chunk.len() > limit {
                return Err(self.protocol(what, format!("the answer is larger than {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn content_type(response: &Response) -> Option<String> {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The `Link: <url>; rel="next"` of a paged answer.
fn next_link(response: &Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

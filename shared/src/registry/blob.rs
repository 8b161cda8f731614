//! Blobs (config and layers): existence checks, cross-repository mounts, chunked uploads
//! that hold one chunk at a time, and streaming downloads that follow the registry's
//! redirect to its storage (without the registry's `Authorization`: see [`crate::http`]).

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};

use super::auth::Scope;
use super::client::{Call, Client};
use super::digest::Hasher;
use super::error::RegistryError;

/// The chunk size of an upload when the caller has no reason to choose another.
pub const DEFAULT_CHUNK: usize = 8 << 20;

/// Re-chunks a stream of pieces of any size into chunks of one size (the last one
/// shorter): the upload loop of every chunked or multi-part upload.
///
/// ```
/// # use shared::registry::Chunker;
/// let mut chunker = Chunker::new(4);
/// let mut rest: &[u8] = b"abcdefghij";
/// let mut sent = Vec::new();
/// while let Some(full) = chunker.fill(&mut rest) {
///     sent.push(full);
/// }
/// assert_eq!(sent, [&b"abcd"[..], &b"efgh"[..]]);
/// assert_eq!(chunker.finish(), &b"ij"[..]);
/// ```
#[derive(Debug)]
pub struct Chunker {
    /// Filled up to `size` and never beyond, so it is never reallocated; a full one is
    /// handed out and a new one started.
    buffer: BytesMut,
    size: usize,
}

impl Chunker {
    /// Chunks of `size` bytes (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        Self {
            buffer: BytesMut::with_capacity(size),
            size,
        }
    }

    /// Takes bytes from the front of `rest` until a chunk is full and returns it; `None`
    /// once `rest` is used up (what is left waits for the next piece, or [`Self::finish`]).
    pub fn fill(&mut self, rest: &mut &[u8]) -> Option<Bytes> {
        while !rest.is_empty() {
            let take = rest.len().min(self.size - self.buffer.len());
            self.buffer.extend_from_slice(&rest[..take]);
            *rest = &rest[take..];
            if self.buffer.len() == self.size {
                let full = std::mem::replace(&mut self.buffer, BytesMut::new()).freeze();
                self.buffer.reserve(self.size);
                return Some(full);
            }
        }
        None
    }

    /// The last, partial chunk (empty when the bytes filled whole chunks).
    pub fn finish(self) -> Bytes {
        self.buffer.freeze()
    }
}

/// What a mount request did.
#[derive(Debug)]
pub enum Mount {
    /// The blob is now in the repository.
    Mounted,
    /// The registry did not mount it but opened an upload instead.
    Upload(Upload),
}

/// An upload session: chunks are sent in order, then the digest closes it.
#[derive(Debug)]
pub struct Upload {
    repository: String,
    location: String,
    offset: u64,
}

impl Client {
    /// Whether `repository` holds the blob `digest` (`HEAD`); asks for push access, as it
    /// checks a repository about to be written to.
    pub async fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool, RegistryError> {
        let call = blob_call(
            self,
            Method::HEAD,
            repository,
            digest,
            Scope::push(repository),
        );
        let response = self.send(&call).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(self.unexpected(response, &call.what, repository).await),
        }
    }

    /// Mounts `digest` from `from` (another repository on this registry) into
    /// `repository`, or opens an upload when the registry will not.
    pub async fn mount_blob(
        &self,
        repository: &str,
        digest: &str,
        from: &str,
    ) -> Result<Mount, RegistryError> {
        let call = Call {
            method: Method::POST,
            url: self.url(&format!(
                "/v2/{repository}/blobs/uploads/?mount={digest}&from={from}"
            )),
            scope: Scope::mount(repository, from),
            headers: vec![("content-length", "0".to_string())],
            body: Some(Bytes::new()),
            what: format!("mount blob {digest} from {from} into {repository}"),
        };
        let response = self.send(&call).await?;
        match response.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.session(repository, &call, &response)?)),
            _ => Err(self.unexpected(response, &call.what, repository).await),
        }
    }

    /// Opens an upload into `repository`.
    pub async fn start_upload(&self, repository: &str) -> Result<Upload, RegistryError> {
        let call = Call {
            method: Method::POST,
            url: self.url(&format!("/v2/{repository}/blobs/uploads/")),
            scope: Scope::push(repository),
            headers: vec![("content-length", "0".to_string())],
            body: Some(Bytes::new()),
            what: format!("start an upload into {repository}"),
        };
        let response = self.send(&call).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.unexpected(response, &call.what, repository).await);
        }
        self.session(repository, &call, &response)
    }

    fn session(
        &self,
        repository: &str,
        call: &Call,
        response: &reqwest::Response,
    ) -> Result<Upload, RegistryError> {
        let location = self.location(call, response)?;
        Ok(Upload {
            repository: repository.to_string(),
            location,
            offset: 0,
        })
    }

    /// The absolute `Location` of an upload (registries may give a path).
    fn location(&self, call: &Call, response: &reqwest::Response) -> Result<String, RegistryError> {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol(&call.what, "no Location for the upload"))?;
        let base =
            reqwest::Url::parse(&call.url).map_err(|e| self.protocol(&call.what, e.to_string()))?;
        base.join(location)
            .map(String::from)
            .map_err(|e| self.protocol(&call.what, format!("a bad upload Location: {e}")))
    }

    /// Sends the next chunk of `upload` (`PATCH`).
    pub async fn upload_chunk(
        &self,
        upload: &mut Upload,
        chunk: Bytes,
    ) -> Result<(), RegistryError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let end = upload.offset + chunk.len() as u64 - 1;
        let call = Call {
            method: Method::PATCH,
            url: upload.location.clone(),
            scope: Scope::push(&upload.repository),
            headers: vec![
                ("content-type", "application/octet-stream".to_string()),
                ("content-range", format!("{}-{end}", upload.offset)),
            ],
            body: Some(chunk),
            what: format!("upload a chunk into {}", upload.repository),
        };
        let response = self.send(&call).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self
                .unexpected(response, &call.what, &upload.repository)
                .await);
        }
        upload.location = self.location(&call, &response)?;
        upload.offset = end + 1;
        Ok(())
    }

    /// Closes `upload` as `digest` (`PUT ?digest=`), with `last` as its final bytes.
    pub async fn finish_upload(
        &self,
        upload: Upload,
        digest: &str,
        last: Bytes,
    ) -> Result<(), RegistryError> {
        let mut url = reqwest::Url::parse(&upload.location)
            .map_err(|e| self.protocol("an upload", e.to_string()))?;
        url.query_pairs_mut().append_pair("digest", digest);
        let call = Call {
            method: Method::PUT,
            url: url.into(),
            scope: Scope::push(&upload.repository),
            headers: vec![("content-type", "application/octet-stream".to_string())],
            body: Some(last),
            what: format!("finish the upload of {digest} into {}", upload.repository),
        };
        let response = self.send(&call).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self
                .unexpected(response, &call.what, &upload.repository)
                .await);
        }
        Ok(())
    }

    /// Uploads the blob `digest` from `chunks` into `repository`, `chunk_size` bytes per
    /// request, holding at most one chunk (plus the piece that arrived last) in memory.
    /// The bytes are checked against `digest` before the upload is closed.
    pub async fn upload_blob<S>(
        &self,
        repository: &str,
        digest: &str,
        upload: Option<Upload>,
        chunks: S,
        chunk_size: usize,
    ) -> Result<u64, RegistryError>
    where
        S: Stream<Item = Result<Bytes, RegistryError>>,
    {
        let mut upload = match upload {
            Some(u) => u,
            None => self.start_upload(repository).await?,
        };
        let mut chunks = std::pin::pin!(chunks);
        let mut chunker = Chunker::new(chunk_size);
        let mut hasher = Hasher::new();
        let mut total = 0u64;
        while let Some(piece) = chunks.try_next().await? {
            hasher.update(&piece);
            total += piece.len() as u64;
            let mut rest = &piece[..];
            while let Some(full) = chunker.fill(&mut rest) {
                self.upload_chunk(&mut upload, full).await?;
            }
        }
        let actual = hasher.finish();
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.host().to_string(),
                what: format!("blob {digest} read for {repository}"),
                expected: digest.to_string(),
                actual,
            });
        }
        self.finish_upload(upload, digest, chunker.finish()).await?;
        Ok(total)
    }

    /// The blob `digest` of `repository` as a stream of bytes.
    pub async fn get_blob(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, RegistryError>> + use<>, RegistryError> {
        let call = blob_call(
            self,
            Method::GET,
            repository,
            digest,
            Scope::pull(repository),
        );
        let response = self.send(&call).await?;
        if !response.status().is_success() {
            return Err(self.unexpected(response, &call.what, repository).await);
        }
        let registry = self.host().to_string();
        let what = call.what;
        Ok(response.bytes_stream().map(move |r| {
            r.map_err(|e| RegistryError::Unreachable {
                registry: registry.clone(),
                detail: format!("{what} broke off: {}", e.without_url()),
            })
        }))
    }
}

fn blob_call(
    client: &Client,
    method: Method,
    repository: &str,
    digest: &str,
    scope: Scope,
) -> Call {
    Call {
        what: format!("{method} blob {repository}@{digest}"),
        method,
        url: client.url(&format!("/v2/{repository}/blobs/{digest}")),
        scope,
        headers: Vec::new(),
        body: None,
    }
}

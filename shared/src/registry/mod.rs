//! A client for OCI distribution registries (Docker Hub, GHCR, Quay, Harbor, a
//! self-hosted registry; ECR too, though the functions reach ECR through its own API).
//!
//! # API (stable)
//!
//! - [`Credentials`]: user name and password (or access token); [`read_credentials`]
//!   reads them from a Secrets Manager secret `{"username", "password"}` by name or ARN
//!   (or the password alone, with a user name given beside it); [`read_credentials_at`]
//!   reads it in the ARN's region.
//!   Passwords, tokens and `Authorization` values are registered with the log scrubber
//!   and never appear in errors.
//! - [`Client::new`]`(api_host, credentials)`: one registry host
//!   ([`ImageName::api_host`] maps Docker Hub's names to `registry-1.docker.io`);
//!   [`Client::with_deadline`] bounds every request and rate-limit wait;
//!   [`Client::authenticate`]`(&Scope)` authenticates ahead of the first request.
//! - [`resolve_image`]`(&image, credentials, deadline)`: the manifest digest and media type an
//!   image reference points at, or `None` when it does not exist.
//! - Manifests: [`Client::resolve`] (`HEAD`), [`Client::get_manifest`] (exact bytes,
//!   media type, digest), [`Client::put_manifest`] (same bytes, same media type).
//! - Blobs: [`Client::blob_exists`], [`Client::mount_blob`], [`Client::start_upload`],
//!   [`Client::upload_chunk`], [`Client::finish_upload`], [`Client::upload_blob`],
//!   [`Client::get_blob`] (a stream), and [`copy_blob`] (mount or stream).
//! - Referrers: [`Client::list_referrers`], [`Client::put_referrer`],
//!   [`Client::add_to_referrers_index`], [`Client::read_small_blob`] (see
//!   [`crate::referrers`]).
//! - [`RegistryError`]: one variant per cause, each a CodePipeline failure type
//!   ([`crate::Failure`]) and a message that names the fix.
//!
//! # Behaviour
//!
//! Authentication follows the registry's `401` challenge: Basic, or a Bearer token from
//! the challenge's realm for the request's scope (Docker Hub's flow), cached per scope.
//! A loopback registry (`localhost`, `127.0.0.1`, `[::1]`) is spoken to over plain HTTP,
//! every other over HTTPS. `429` answers are waited out when the limit resets within 20 s
//! and before the deadline, otherwise [`RegistryError::RateLimited`] says when it resets.
//! 5xx answers and broken connections are retried twice.

mod auth;
mod blob;
mod client;
mod digest;
mod error;
mod limit;
mod manifest;
mod referrers;
mod secret;
mod transfer;

pub use auth::{Challenge, Credentials, Scope, parse_challenge};
pub use blob::{Chunker, DEFAULT_CHUNK, Mount, Upload};
pub use client::{Client, api_base};
pub use digest::{Hasher, sha256_digest};
pub use error::RegistryError;
pub use limit::{Decision as RateLimitDecision, LimitHeaders, decide as rate_limit_decision};
pub use manifest::{
    ACCEPT, BodyType, DOCKER_LIST, DOCKER_MANIFEST, MAX_MANIFEST, Manifest, OCI_INDEX,
    OCI_MANIFEST, Resolved, body_type, is_manifest_type, media_type_of,
};
pub use secret::{
    parse_credentials, read_credentials, read_credentials_at, read_credentials_where_it_is,
};
pub use transfer::{Copied, copy_blob};

use crate::image::ImageName;

/// The reference an image name gives inside its repository: its digest, else its tag,
/// else `latest`.
pub fn reference_of(image: &ImageName) -> &str {
    image
        .digest
        .as_deref()
        .or(image.tag.as_deref())
        .unwrap_or("latest")
}

/// What `image` points at in its registry (Docker Hub names mapped to its API), with
/// `credentials` or anonymously, every request and wait within `deadline`; `None` when
/// the registry has no such manifest.
pub async fn resolve_image(
    image: &ImageName,
    credentials: Option<Credentials>,
    deadline: Option<tokio::time::Instant>,
) -> Result<Option<Resolved>, RegistryError> {
    let mut client = Client::new(&image.api_host(), credentials)?;
    if let Some(deadline) = deadline {
        client = client.with_deadline(deadline);
    }
    client
        .resolve(&image.api_repository(), reference_of(image))
        .await
}

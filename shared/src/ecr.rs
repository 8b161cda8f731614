//! What every ECR caller shares: a repository as the calls address it, and where a layer
//! is downloaded from (`GetDownloadUrlForLayer`). Reading the URL is the caller's: in
//! memory ([`crate::referrers::ecr::read_small_blob`]) or streamed.

use aws_sdk_ecr::Client;

use crate::error::{AwsError, aws_error};

/// A repository as the calls address it. `registry_id: None` is the caller's registry.
#[derive(Clone, Copy, Debug)]
pub struct Repository<'a> {
    pub client: &'a Client,
    pub registry_id: Option<&'a str>,
    pub name: &'a str,
}

/// Why there is no URL to read when `GetDownloadUrlForLayer` succeeded.
pub const NO_DOWNLOAD_URL: &str = "GetDownloadUrlForLayer returned no URL";

/// `GetDownloadUrlForLayer` for the blob `digest`: its presigned URL, `None` when the
/// answer carries none (see [`NO_DOWNLOAD_URL`]).
pub async fn download_url(repo: Repository<'_>, digest: &str) -> Result<Option<String>, AwsError> {
    let out = repo
        .client
        .get_download_url_for_layer()
        .set_registry_id(repo.registry_id.map(str::to_owned))
        .repository_name(repo.name)
        .layer_digest(digest)
        .send()
        .await
        .map_err(|e| aws_error("ecr:GetDownloadUrlForLayer", e))?;
    Ok(out.download_url().map(str::to_owned))
}

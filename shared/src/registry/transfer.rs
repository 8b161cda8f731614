//! Copying one blob between repositories: a cross-repository mount on the same registry,
//! otherwise a streamed download into a chunked upload.

use super::blob::Mount;
use super::client::Client;
use super::error::RegistryError;

/// How a blob reached the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// Mounted from the source repository: no bytes moved.
    Mounted,
    /// Streamed: this many bytes.
    Uploaded(u64),
}

/// Copies the blob `digest` from `source` to `target` (each a client and a repository).
/// Memory holds one chunk of `chunk_size` bytes (plus the piece that arrived last).
pub async fn copy_blob(
    source: (&Client, &str),
    target: (&Client, &str),
    digest: &str,
    chunk_size: usize,
) -> Result<Copied, RegistryError> {
    let (from, from_repository) = source;
    let (to, to_repository) = target;
    let mut upload = None;
    if from.host() == to.host() {
        match to
            .mount_blob(to_repository, digest, from_repository)
            .await?
        {
            Mount::Mounted => return Ok(Copied::Mounted),
            Mount::Upload(session) => upload = Some(session),
        }
    }
    let stream = from.get_blob(from_repository, digest).await?;
    let bytes = to
        .upload_blob(to_repository, digest, upload, stream, chunk_size)
        .await?;
    Ok(Copied::Uploaded(bytes))
}

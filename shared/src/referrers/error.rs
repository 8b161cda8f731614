//! The referrers' errors: one variant per cause, each naming the fix.

use crate::error::{AwsError, Failure, FailureType};
use crate::error_type;
use crate::registry::RegistryError;
use crate::text::escape_control;

use super::{MAX_REFERRERS, NotAnIndex};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ReferrerError {
    /// More referrers than are read for one subject.
    #[error(
        "{place} lists {count} referrers of {subject}, more than the {MAX_REFERRERS} read for \
         one image; delete stale signatures and attestations, or read only the artifact types \
         you need"
    )]
    TooMany {
        subject: String,
        /// `127.0.0.1:5000/web`, `ECR repository web`.
        place: String,
        count: usize,
    },
    /// The `sha256-<hex>` tag holds something other than a referrers index.
    #[error(
        "{registry} holds tag `{tag}` in `{repository}`, where the referrers tag schema keeps \
         an image's referrers index, but {why}; delete or move that tag so that the index can \
         be kept there"
    )]
    NotAnIndex {
        registry: String,
        repository: String,
        tag: String,
        why: NotAnIndex,
    },
    /// A blob read into memory is larger than its bound.
    #[error("blob {digest} is {size} bytes, more than the {limit} read into memory for a referrer")]
    BlobTooLarge {
        digest: String,
        size: u64,
        limit: u64,
    },
    /// A blob's download failed.
    #[error("downloading blob {digest} failed ({}); run the action again", escape_control(.detail))]
    Download { digest: String, detail: String },
    /// `ListImageReferrers` was denied: its IAM action is `ecr:BatchGetImage`.
    #[error(
        "{detail}; ListImageReferrers is authorized by ecr:BatchGetImage: allow that on the \
         repository for the role that makes this call"
    )]
    ListDenied { detail: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl ReferrerError {
    /// A stable name per cause.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooMany { .. } => error_type::REFERRERS_TOO_MANY,
            Self::NotAnIndex { .. } => error_type::REFERRERS_NOT_AN_INDEX,
            Self::BlobTooLarge { .. } => error_type::REFERRER_BLOB_TOO_LARGE,
            Self::Download { .. } => error_type::REFERRER_DOWNLOAD_FAILED,
            Self::Registry(e) => e.kind(),
            Self::ListDenied { .. } | Self::Aws(_) => error_type::AWS,
        }
    }
}

impl Failure for ReferrerError {
    fn failure_type(&self) -> FailureType {
        match self {
            Self::TooMany { .. } | Self::NotAnIndex { .. } | Self::BlobTooLarge { .. } => {
                FailureType::JobFailed
            }
            Self::Download { .. } => FailureType::SystemUnavailable,
            Self::ListDenied { .. } => FailureType::PermissionError,
            Self::Registry(e) => e.failure_type(),
            Self::Aws(e) => e.failure_type(),
        }
    }

    fn error_type(&self) -> &'static str {
        self.kind()
    }
}

//! The stable `error_type` names (Lambda's `errorType`, the log's `error_type`), one list for
//! every function: a name means one thing wherever it appears, and alarms, log queries and
//! dashboards can match on it. A name never changes once released; add, do not rename.

macro_rules! names {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)*) => {
        $($(#[$doc])* pub const $name: &str = $text;)*
        /// Every name, for tests and documentation.
        pub const ALL: &[&str] = &[$($text),*];
    };
}

names! {
    // The runner's own answers.
    /// The handler panicked; the answer says where.
    PANIC = "Panic",
    /// The invocation's deadline came before the handler finished.
    TIMEOUT = "Timeout",
    /// The event is not one the function is invoked by.
    UNSUPPORTED_EVENT = "UnsupportedEvent",
    /// The event is of a known kind but cannot be read.
    INVALID_EVENT = "InvalidEvent",
    /// An environment setting of the function is invalid.
    BAD_SETTING = "BadSetting",

    // Common to several functions.
    /// The function's configuration (`UserParameters`, its environment's JSON) is invalid.
    CONFIG = "ConfigError",
    /// `UserParameters` is not valid JSON of the expected shape.
    BAD_PARAMETERS = "BadParameters",
    /// An AWS call failed (denied, throttled past retries, refused).
    AWS = "AwsError",
    /// A role in another account could not be assumed.
    ASSUME_ROLE = "AssumeRoleFailed",
    /// An input or output artifact could not be read or written.
    ARTIFACT = "ArtifactError",
    /// The image named is not in its repository.
    IMAGE_NOT_FOUND = "ImageNotFound",

    // Container registries (`shared::registry`).
    REGISTRY_BAD_CREDENTIALS = "RegistryBadCredentials",
    REGISTRY_CREDENTIALS_REQUIRED = "RegistryCredentialsRequired",
    REGISTRY_DENIED = "RegistryDenied",
    REGISTRY_REPOSITORY_MISSING = "RegistryRepositoryMissing",
    REGISTRY_RATE_LIMITED = "RegistryRateLimited",
    REGISTRY_UNAVAILABLE = "RegistryUnavailable",
    REGISTRY_UNREACHABLE = "RegistryUnreachable",
    REGISTRY_PROTOCOL = "RegistryProtocol",
    REGISTRY_DIGEST_MISMATCH = "RegistryDigestMismatch",
    REGISTRY_SECRET_MISSING = "RegistrySecretMissing",
    REGISTRY_SECRET_DENIED = "RegistrySecretDenied",
    REGISTRY_SECRET_FORMAT = "RegistrySecretFormat",
    REGISTRY_SECRET_UNAVAILABLE = "RegistrySecretUnavailable",
    REGISTRY_TLS = "RegistryTls",
    REGISTRY_DEADLINE = "RegistryDeadline",
    REGISTRY_IMAGE_NOT_FOUND = "RegistryImageNotFound",

    // render-taskdef.
    INVALID_TASK_DEFINITION = "InvalidTaskDefinition",
    TASK_DEFINITION_NOT_FOUND = "TaskDefinitionNotFound",
    SERVICE_NOT_FOUND = "ServiceNotFound",
    UNEXPECTED_RESPONSE = "UnexpectedResponse",
    ECS = "EcsError",

    // promote-image.
    INVALID_USER_PARAMETERS = "InvalidUserParameters",
    SOURCE_REPOSITORY_NOT_FOUND = "SourceRepositoryNotFound",
    SOURCE_IMAGE_NOT_FOUND = "SourceImageNotFound",
    REVISION_UNAVAILABLE = "RevisionUnavailable",
    TARGET_REPOSITORY_NOT_FOUND = "TargetRepositoryNotFound",
    TAG_CONFLICT = "TagConflict",
    INCOMPLETE_INDEX = "IncompleteIndex",
    UNSUPPORTED_MANIFEST = "UnsupportedManifest",
    UNSUPPORTED_CHILD_MANIFEST = "UnsupportedChildManifest",
    NESTED_INDEX = "NestedIndex",
    SCAN_GATE_NOTHING_TO_SCAN = "ScanGateNothingToScan",
    SCAN_GATE_FAILED = "ScanGateFailed",
    SOURCE_MOVED = "SourceMoved",
    TAG_MOVED = "TagMoved",
    TAGS_PARTLY_WRITTEN = "TagsPartlyWritten",
    LAYER_TRANSFER_FAILED = "LayerTransferFailed",

    // Image signatures (`shared::verify`).
    /// The image has no signature.
    SIGNATURE_MISSING = "SignatureMissing",
    /// The signatures found are over other digests.
    SIGNATURE_OTHER_DIGEST = "SignatureOtherDigest",
    /// The signatures found are by keys not trusted.
    SIGNATURE_UNTRUSTED_KEY = "SignatureUntrustedKey",
    /// The keyless signatures found are by another identity or issuer.
    SIGNATURE_UNTRUSTED_IDENTITY = "SignatureUntrustedIdentity",
    /// The Notation signatures found are by other AWS Signer profiles or roots.
    SIGNATURE_WRONG_PROFILE = "SignatureWrongProfile",
    /// The signing profile, job or certificate is revoked.
    SIGNATURE_REVOKED = "SignatureRevoked",
    /// The signature's expiry has passed.
    SIGNATURE_EXPIRED = "SignatureExpired",
    /// The signatures found cannot be read or do not verify.
    SIGNATURE_MALFORMED = "SignatureMalformed",
    /// The signatures found are of a form that is not checked.
    SIGNATURE_UNSUPPORTED = "SignatureUnsupported",
    /// Revocation could not be checked (the signature is not accepted).
    SIGNATURE_REVOCATION_UNCHECKED = "SignatureRevocationUnchecked",
    /// Trust material named by the policy is unusable.
    SIGNATURE_TRUST_MATERIAL = "SignatureTrustMaterial",
    /// A KMS key the policy names cannot be verified.
    SIGNATURE_KEY_UNSUPPORTED = "SignatureKeyUnsupported",

    // health-gate.
    GATE_FAILED = "GateFailed",
    GATE_INCONCLUSIVE = "GateInconclusive",

    // rollback-trigger.
    UNKNOWN_EVENT = "UnknownEvent",
    BAD_EVENT = "BadEvent",
    ALARM_TAGS = "AlarmTags",
    NO_ROLE_FOR_ACCOUNT = "NoRoleForAccount",
    RETRY_LATER = "RetryLater",

    // Image referrers (`shared::referrers`) and their copy by promote-image.
    /// A subject has more referrers than are read for one image.
    REFERRERS_TOO_MANY = "ReferrersTooMany",
    /// The referrers tag schema's tag holds something other than an OCI index.
    REFERRERS_NOT_AN_INDEX = "ReferrersNotAnIndex",
    /// A referrer's blob is larger than is read into memory.
    REFERRER_BLOB_TOO_LARGE = "ReferrerBlobTooLarge",
    /// A referrer's blob could not be downloaded.
    REFERRER_DOWNLOAD_FAILED = "ReferrerDownloadFailed",
    /// The target registry refused a referrer's manifest.
    REFERRER_REFUSED = "ReferrerRefused",
    /// A cosign signature tag cannot be moved in the target (immutable tags).
    REFERRER_TAG_IMMUTABLE = "ReferrerTagImmutable",
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_name_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for name in super::ALL {
            assert!(seen.insert(name), "{name} is listed twice");
        }
    }
}

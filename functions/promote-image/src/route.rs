//! The promotion as validated: where the image is read (the source side), where its tags
//! go (the target side), each an ECR repository or a repository in another registry, with
//! what that side needs and nothing that does not apply to it.

use crate::config::GatePolicy;
use crate::registry_image::RegistryImage;
use shared::image::EcrImageRef;

/// What to promote, where to, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub source: Source,
    pub target: Target,
    /// The tags to put, duplicates dropped, in the order given.
    pub tags: Vec<String>,
    /// Whether a mutable tag on another image may be moved.
    pub allow_moving_tags: bool,
    /// Which of the image's referrers go with it to another repository.
    pub referrers: ReferrerPolicy,
    /// The signatures the source must carry before anything is written.
    pub verify: Option<shared::verify::Requirements>,
}

/// Which referrers (signatures, SBOMs, attestations) are copied with the image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ReferrerPolicy {
    /// None (`"referrers": false`).
    Off,
    /// Every one (the default).
    #[default]
    All,
    /// Those whose type (the manifest's `artifactType`, else its config's media type) is
    /// listed, exactly.
    Only(Vec<String>),
}

impl ReferrerPolicy {
    /// Whether a referrer of `artifact_type` is copied.
    pub fn copies(&self, artifact_type: Option<&str>) -> bool {
        match self {
            ReferrerPolicy::Off => false,
            ReferrerPolicy::All => true,
            ReferrerPolicy::Only(types) => {
                artifact_type.is_some_and(|t| types.iter().any(|x| x == t))
            }
        }
    }
}

/// Where the image is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An ECR image, read as `role` when one is given; only an ECR source can be gated
    /// (the gate reads ECR's scan results).
    Ecr {
        image: EcrImage,
        role: Role,
        gate: Option<GatePolicy>,
    },
    /// An image in another registry, read with the credentials in a secret, or anonymously.
    Registry {
        image: RegistryImage,
        credentials: Option<Secret>,
    },
}

/// How an ECR source is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrImage {
    /// In UserParameters: repository and tag or digest, or an image URI.
    Named(EcrImageRef),
    /// By an input artifact's `imageDetail.json` or `imagedefinitions.json`.
    Artifact {
        name: String,
        file: Option<String>,
        container: Option<String>,
    },
}

/// Where the tags go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Ecr(EcrTarget),
    Registry(RegistryTarget),
}

/// An ECR target; every `None` is the source's (or the role's account).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EcrTarget {
    pub repository: Option<String>,
    pub registry_id: Option<String>,
    pub region: Option<String>,
    pub role: Role,
}

/// A target in another registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryTarget {
    /// The registry as written (`docker.io`), for the image URI and messages.
    pub registry: String,
    /// The host serving its API (`registry-1.docker.io`).
    pub host: String,
    /// `None` is the source's repository name.
    pub repository: Option<String>,
    /// The target's own secret, else the source's when both are on this registry.
    pub credentials: Option<Secret>,
}

/// A role to act as, with the external id its trust policy requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Role {
    pub arn: Option<String>,
    pub external_id: Option<String>,
}

/// A Secrets Manager secret (name or ARN) with a registry's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    /// The user, when the secret holds the password alone.
    pub username: Option<String>,
}

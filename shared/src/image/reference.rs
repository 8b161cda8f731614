//! An image named exactly: its repository and one tag or digest, checked against the
//! naming rules (a digest wins over a tag when both are written); and an image in private
//! ECR, whose account and region are its registry host's.

use std::fmt;

use super::file::ImageDetail;
use super::name::{ImageName, NameError, Registry};
use super::rules::{is_digest, is_ecr_repository_name, is_tag};

/// Tag or digest: how an image is named inside a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(String),
}

impl Reference {
    /// The tag or the digest, as a registry's API takes it in a manifest path.
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(tag) => tag,
            Reference::Digest(digest) => digest,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(tag) => write!(f, ":{tag}"),
            Reference::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

/// An image in private ECR. `None` registry or region means the caller's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcrImageRef {
    pub registry_id: Option<String>,
    pub region: Option<String>,
    pub repository: String,
    pub reference: Reference,
}

impl fmt::Display for EcrImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.repository, self.reference)
    }
}

/// Why a URI does not name one image (in private ECR, for the first two).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "`{uri}` is not an ECR image URI ({reason}); expected \
         <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or ...@sha256:<digest>"
    )]
    NotAReference { uri: String, reason: NameError },
    #[error(
        "`{uri}` is not an ECR image URI; expected \
         <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or ...@sha256:<digest>"
    )]
    NotEcr { uri: String },
    #[error("`{uri}`: `{repository}` is not a valid repository name")]
    Repository { uri: String, repository: String },
    #[error("`{uri}`: `{digest}` is not a digest (sha256:<64 hex digits>)")]
    Digest { uri: String, digest: String },
    #[error("`{uri}`: `{tag}` is not a valid tag")]
    Tag { uri: String, tag: String },
    #[error("`{uri}` names no tag or digest; add :<tag> or @sha256:<digest>")]
    Unnamed { uri: String },
}

impl ImageName {
    /// The one image this name gives: its digest when it has one (which wins over a tag),
    /// else its tag, each checked against the rules.
    pub fn reference(&self) -> Result<Reference, ReferenceError> {
        let uri = || self.to_string();
        match (&self.tag, &self.digest) {
            (_, Some(digest)) if is_digest(digest) => Ok(Reference::Digest(digest.clone())),
            (_, Some(digest)) => Err(ReferenceError::Digest {
                uri: uri(),
                digest: digest.clone(),
            }),
            (Some(tag), None) if is_tag(tag) => Ok(Reference::Tag(tag.clone())),
            (Some(tag), None) => Err(ReferenceError::Tag {
                uri: uri(),
                tag: tag.clone(),
            }),
            (None, None) => Err(ReferenceError::Unnamed { uri: uri() }),
        }
    }

    /// Checks `repository` (this name's, or the form a registry's API gives it) against
    /// ECR's naming rules, which other registries' names meet too.
    pub fn check_repository(&self, repository: &str) -> Result<(), ReferenceError> {
        if is_ecr_repository_name(repository) {
            return Ok(());
        }
        Err(ReferenceError::Repository {
            uri: self.to_string(),
            repository: repository.to_owned(),
        })
    }
}

impl EcrImageRef {
    /// Parses an image URI in private ECR, through any of its endpoints: standard, China,
    /// FIPS and dual-stack (`<account>.dkr-ecr.<region>.on.aws`). A digest wins over a tag
    /// when both are present.
    pub fn parse(uri: &str) -> Result<Self, ReferenceError> {
        let uri = uri.trim();
        let name = ImageName::parse(uri).map_err(|reason| ReferenceError::NotAReference {
            uri: uri.to_owned(),
            reason,
        })?;
        let Registry::Ecr(host) = name.registry_kind() else {
            return Err(ReferenceError::NotEcr {
                uri: uri.to_owned(),
            });
        };
        name.check_repository(&name.repository)?;
        let reference = name.reference()?;
        Ok(Self {
            registry_id: Some(host.account),
            region: Some(host.region),
            repository: name.repository,
            reference,
        })
    }

    /// The image an `imageDetail.json` names (as read by [`super::read_image_detail`]):
    /// its URI, pinned by `ImageDigest` when the file gives one.
    pub fn from_detail(detail: &ImageDetail) -> Result<Self, ReferenceError> {
        let mut image = Self::parse(&detail.uri)?;
        if let Some(digest) = &detail.digest {
            if !is_digest(digest) {
                return Err(ReferenceError::Digest {
                    uri: detail.uri.clone(),
                    digest: digest.clone(),
                });
            }
            image.reference = Reference::Digest(digest.clone());
        }
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tagged_uri() {
        let r =
            EcrImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:sha-1a2b3c")
                .unwrap();
        assert_eq!(r.registry_id.as_deref(), Some("123456789012"));
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.repository, "team/web");
        assert_eq!(r.reference, Reference::Tag("sha-1a2b3c".into()));
        assert_eq!(r.to_string(), "team/web:sha-1a2b3c");
    }

    #[test]
    fn digest_wins_over_tag() {
        for uri in [
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1@{D}"),
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{D}"),
        ] {
            assert_eq!(
                EcrImageRef::parse(&uri).unwrap().reference,
                Reference::Digest(D.into())
            );
        }
    }

    #[test]
    fn parses_china_fips_and_dualstack_hosts() {
        for host in [
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "123456789012.dkr-ecr.us-east-1.on.aws",
        ] {
            let r = EcrImageRef::parse(&format!("{host}/web:v1")).unwrap();
            assert_eq!(r.repository, "web", "{host}");
        }
    }

    #[test]
    fn rejects_non_ecr_and_malformed_uris() {
        const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let rows: [(String, &str); 9] = [
            ("nginx:latest".into(), "NotEcr"),
            ("docker.io/library/nginx:1.27".into(), "NotEcr"),
            ("public.ecr.aws/nginx/nginx:1".into(), "NotEcr"),
            (
                "12345.dkr.ecr.us-east-1.amazonaws.com/web:v1".into(),
                "NotEcr",
            ),
            (format!("{ECR}/web"), "Unnamed"),
            (format!("{ECR}/Web:v1"), "Repository"),
            (format!("{ECR}/web@sha256:abc"), "Digest"),
            (format!("{ECR}/web:bad tag"), "NotAReference"),
            (String::new(), "NotAReference"),
        ];
        for (uri, variant) in rows {
            let err = EcrImageRef::parse(&uri).unwrap_err();
            assert!(format!("{err:?}").starts_with(variant), "{uri}: {err:?}");
            assert!(err.to_string().contains('`'), "{uri}: {err}");
        }
        let err = EcrImageRef::parse(&format!("{ECR}/web:.v1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`{ECR}/web:.v1`: `.v1` is not a valid tag")
        );
    }

    #[test]
    fn the_reference_of_any_name() {
        let pinned = format!("nginx:1.27@{D}");
        // (name, the reference or the start of the error)
        let rows = [
            ("nginx:1.27", Ok(Reference::Tag("1.27".into()))),
            ("ghcr.io/org/app:v1", Ok(Reference::Tag("v1".into()))),
            (pinned.as_str(), Ok(Reference::Digest(D.into()))),
            ("nginx", Err("`nginx` names no tag or digest")),
            ("nginx:.x", Err("`nginx:.x`: `.x` is not a valid tag")),
            (
                "nginx@sha256:ab",
                Err("`nginx@sha256:ab`: `sha256:ab` is not a digest"),
            ),
        ];
        for (name, want) in rows {
            let got = ImageName::parse(name).unwrap().reference();
            match (got, want) {
                (Ok(r), Ok(w)) => assert_eq!(r, w, "{name}"),
                (Err(e), Err(w)) => assert!(e.to_string().starts_with(w), "{name}: {e}"),
                (got, want) => panic!("{name}: {got:?}, want {want:?}"),
            }
        }
        assert_eq!(Reference::Digest(D.into()).as_str(), D);
        assert_eq!(Reference::Tag("v1".into()).to_string(), ":v1");
    }

    #[test]
    fn reads_the_image_of_an_image_detail() {
        use serde_json::json;
        const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:sha-1a2b3c";
        let detail = |v| super::super::read_image_detail("imageDetail.json", &v).unwrap();
        let image =
            EcrImageRef::from_detail(&detail(json!({"ImageURI": URI, "ImageDigest": D}))).unwrap();
        assert_eq!(image.reference, Reference::Digest(D.into()));
        let image = EcrImageRef::from_detail(&detail(json!({"ImageURI": URI}))).unwrap();
        assert_eq!(image.reference, Reference::Tag("sha-1a2b3c".into()));
        let e =
            EcrImageRef::from_detail(&detail(json!({"ImageURI": URI, "ImageDigest": "sha256:1"})));
        assert!(matches!(e, Err(ReferenceError::Digest { .. })), "{e:?}");
        let e = EcrImageRef::from_detail(&detail(json!({"ImageURI": "nginx:1.27"})));
        assert!(matches!(e, Err(ReferenceError::NotEcr { .. })), "{e:?}");
    }
}

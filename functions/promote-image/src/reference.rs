//! Image references: ECR image URIs, repository names, tags and digests.

use std::fmt;

use shared::image::{
    ImageDefinition, ImageDetail, ImageName, NameError, Registry, is_ecr_repository_name,
    select_definition,
};

/// Tag or digest: how an image is named inside a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(String),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(tag) => write!(f, ":{tag}"),
            Reference::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

/// An image in ECR. `None` registry or region means the function's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub registry_id: Option<String>,
    pub region: Option<String>,
    pub repository: String,
    pub reference: Reference,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.repository, self.reference)
    }
}

/// Why a URI does not name an image in private ECR.
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

/// Parses an image URI in private ECR, through any of its endpoints: standard, China,
/// FIPS and dual-stack (`<account>.dkr-ecr.<region>.on.aws`). A digest wins over a tag
/// when both are present.
pub fn parse_image_uri(uri: &str) -> Result<ImageRef, ReferenceError> {
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
    if !is_ecr_repository_name(&name.repository) {
        return Err(ReferenceError::Repository {
            uri: uri.to_owned(),
            repository: name.repository,
        });
    }
    let reference = match (name.tag, name.digest) {
        (_, Some(digest)) if is_digest(&digest) => Reference::Digest(digest),
        (_, Some(digest)) => {
            return Err(ReferenceError::Digest {
                uri: uri.to_owned(),
                digest,
            });
        }
        (Some(tag), None) if is_tag(&tag) => Reference::Tag(tag),
        (Some(tag), None) => {
            return Err(ReferenceError::Tag {
                uri: uri.to_owned(),
                tag,
            });
        }
        (None, None) => {
            return Err(ReferenceError::Unnamed {
                uri: uri.to_owned(),
            });
        }
    };
    Ok(ImageRef {
        registry_id: Some(host.account),
        region: Some(host.region),
        repository: name.repository,
        reference,
    })
}

/// The image an `imageDetail.json` names (as read by [`shared::image::read_image_detail`]):
/// its URI, pinned by `ImageDigest` when the file gives one.
pub fn from_detail(detail: &ImageDetail) -> Result<ImageRef, ReferenceError> {
    let mut image = parse_image_uri(&detail.uri)?;
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

/// The image of one container of an `imagedefinitions.json` (as read by
/// [`shared::image::read_image_definitions`]): the one named, or the only one.
pub fn from_definitions(
    file: &str,
    definitions: &[ImageDefinition],
    container: Option<&str>,
) -> Result<ImageRef, String> {
    let chosen = select_definition(file, definitions, container).map_err(|p| match container {
        Some(_) => format!("{p}. Set source.container to one of them"),
        None => format!("{p}; set source.container to the one to promote"),
    })?;
    parse_image_uri(&chosen.uri).map_err(|e| format!("{file}, container `{}`: {e}", chosen.name))
}

/// The rules of names, shared with every action.
pub use shared::image::{
    is_account_id as is_registry_id, is_digest, is_ecr_repository_name as is_repository_name,
    is_region, is_tag, registry_host, short_digest,
};

/// The account of an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`).
pub fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn_ == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && is_registry_id(account)
        && resource
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty());
    ok.then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tagged_uri() {
        let r = parse_image_uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:sha-1a2b3c")
            .unwrap();
        assert_eq!(r.registry_id.as_deref(), Some("123456789012"));
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.repository, "team/web");
        assert_eq!(r.reference, Reference::Tag("sha-1a2b3c".into()));
    }

    #[test]
    fn digest_wins_over_tag() {
        let uri = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1@{D}");
        assert_eq!(
            parse_image_uri(&uri).unwrap().reference,
            Reference::Digest(D.into())
        );
        let uri = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{D}");
        assert_eq!(
            parse_image_uri(&uri).unwrap().reference,
            Reference::Digest(D.into())
        );
    }

    #[test]
    fn parses_china_fips_and_dualstack_hosts() {
        for host in [
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "123456789012.dkr-ecr.us-east-1.on.aws",
        ] {
            let r = parse_image_uri(&format!("{host}/web:v1")).unwrap();
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
            let err = parse_image_uri(&uri).unwrap_err();
            assert!(format!("{err:?}").starts_with(variant), "{uri}: {err:?}");
            assert!(err.to_string().contains('`'), "{uri}: {err}");
        }
        let err = parse_image_uri(&format!("{ECR}/web:.v1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`{ECR}/web:.v1`: `.v1` is not a valid tag")
        );
    }

    #[test]
    fn validates_names() {
        assert!(is_repository_name("web"));
        assert!(is_repository_name("team/web-app_v2.1"));
        for bad in [
            "w", "Web", "web/", "/web", "web--app", "-web", "web.", "a//b",
        ] {
            assert!(!is_repository_name(bad), "{bad}");
        }
        assert!(
            is_tag("v1.4.2") && is_tag("sha-1a2b3c") && is_tag("_x") && is_tag(&"a".repeat(128))
        );
        for bad in [
            "",
            ".v1",
            "-v1",
            "v 1",
            "v1:2",
            "#{Build.TAG}",
            &"a".repeat(129),
        ] {
            assert!(!is_tag(bad), "{bad}");
        }
        assert!(is_digest(D));
        assert!(!is_digest(&D.to_uppercase()) && !is_digest("sha256:abc") && !is_digest("md5:00"));
        assert!(is_region("us-east-1") && is_region("us-gov-west-1") && is_region("cn-north-1"));
        assert!(!is_region("useast1") && !is_region("US-east-1") && !is_region("us-east-x"));
    }

    #[test]
    fn reads_role_account() {
        assert_eq!(
            role_account("arn:aws:iam::222233334444:role/promote"),
            Some("222233334444")
        );
        assert_eq!(
            role_account("arn:aws-cn:iam::222233334444:role/path/promote"),
            Some("222233334444")
        );
        assert_eq!(role_account("arn:aws:iam::222233334444:user/bob"), None);
        assert_eq!(role_account("arn:aws:iam::2222:role/x"), None);
        assert_eq!(role_account("promote"), None);
    }

    #[test]
    fn builds_registry_host_and_short_digest() {
        assert_eq!(
            registry_host("123456789012", "us-east-1"),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(
            registry_host("123456789012", "cn-north-1"),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(short_digest(D), "sha256:0123456789ab");
        assert_eq!(short_digest("odd"), "odd");
    }

    #[test]
    fn reads_the_source_from_image_files() {
        use serde_json::json;
        const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:sha-1a2b3c";
        let detail = |v| shared::image::read_image_detail("imageDetail.json", &v).unwrap();
        let image = from_detail(&detail(json!({"ImageURI": URI, "ImageDigest": D}))).unwrap();
        assert_eq!(image.reference, Reference::Digest(D.into()));
        let image = from_detail(&detail(json!({"ImageURI": URI}))).unwrap();
        assert_eq!(image.reference, Reference::Tag("sha-1a2b3c".into()));
        let e = from_detail(&detail(json!({"ImageURI": URI, "ImageDigest": "sha256:1"})));
        assert!(matches!(e, Err(ReferenceError::Digest { .. })), "{e:?}");
        let e = from_detail(&detail(json!({"ImageURI": "nginx:1.27"})));
        assert!(matches!(e, Err(ReferenceError::NotEcr { .. })), "{e:?}");

        let defs = shared::image::read_image_definitions(
            "f",
            &json!([{"name": "web", "imageUri": URI}, {"name": "envoy", "imageUri": "public.ecr.aws/envoy:v1"}]),
        )
        .unwrap();
        assert_eq!(
            from_definitions("f", &defs, Some("web"))
                .unwrap()
                .repository,
            "web"
        );
        let rows = [
            (None, "several containers (`web`, `envoy`)"),
            (Some("api"), "no container `api`"),
            (
                Some("envoy"),
                "f, container `envoy`: `public.ecr.aws/envoy:v1` is not an ECR image URI",
            ),
        ];
        for (container, says) in rows {
            let e = from_definitions("f", &defs, container).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}

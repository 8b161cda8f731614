//! Image references: ECR image URIs, repository names, tags and digests.

use std::fmt;

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

/// Parses `<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest]`
/// (also `.amazonaws.com.cn`, `dkr.ecr-fips` and dual-stack `dkr-ecr.<region>.on.aws`).
/// A digest wins over a tag when both are present.
pub fn parse_image_uri(uri: &str) -> Result<ImageRef, String> {
    let uri = uri.trim();
    let not_ecr = || {
        format!(
            "`{uri}` is not an ECR image URI; expected \
             <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or ...@sha256:<digest>"
        )
    };
    let (host, path) = uri.split_once('/').ok_or_else(not_ecr)?;
    let (registry_id, region) = parse_registry_host(host).ok_or_else(not_ecr)?;
    let (name_and_tag, digest) = match path.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (path, None),
    };
    let (repository, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    if !is_repository_name(repository) {
        return Err(format!(
            "`{uri}`: `{repository}` is not a valid repository name"
        ));
    }
    let reference = match (tag, digest) {
        (_, Some(digest)) if is_digest(digest) => Reference::Digest(digest.to_string()),
        (_, Some(digest)) => {
            return Err(format!(
                "`{uri}`: `{digest}` is not a digest (sha256:<64 hex digits>)"
            ));
        }
        (Some(tag), None) if is_tag(tag) => Reference::Tag(tag.to_string()),
        (Some(tag), None) => return Err(format!("`{uri}`: `{tag}` is not a valid tag")),
        (None, None) => {
            return Err(format!(
                "`{uri}` names no tag or digest; add :<tag> or @sha256:<digest>"
            ));
        }
    };
    Ok(ImageRef {
        registry_id: Some(registry_id.to_string()),
        region: Some(region.to_string()),
        repository: repository.to_string(),
        reference,
    })
}

fn parse_registry_host(host: &str) -> Option<(&str, &str)> {
    let (account, rest) = host.split_once('.')?;
    if !is_registry_id(account) {
        return None;
    }
    let rest = rest
        .strip_prefix("dkr.ecr.")
        .or_else(|| rest.strip_prefix("dkr.ecr-fips."))
        .or_else(|| rest.strip_prefix("dkr-ecr."))
        .or_else(|| rest.strip_prefix("dkr-ecr-fips."))?;
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))
        .or_else(|| rest.strip_suffix(".on.aws"))?;
    is_region(region).then_some((account, region))
}

/// The registry host for an account and region.
pub fn registry_host(registry_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{registry_id}.dkr.ecr.{region}.{suffix}")
}

/// ECR repository names: lowercase path components joined by `/`, 2-256 characters.
pub fn is_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len()) && name.split('/').all(is_name_component)
}

fn is_name_component(part: &str) -> bool {
    // [a-z0-9]+(?:[._-][a-z0-9]+)*
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    !bytes.is_empty()
        && alnum(bytes[0])
        && alnum(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| alnum(b) || sep(b))
        && !bytes.windows(2).any(|w| sep(w[0]) && sep(w[1]))
}

/// Docker tag rules: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (1..=128).contains(&bytes.len())
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `sha256:` with 64 lowercase hex digits, or `sha512:` with 128.
pub fn is_digest(digest: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match digest.split_once(':') {
        Some(("sha256", h)) => hex(h, 64),
        Some(("sha512", h)) => hex(h, 128),
        _ => false,
    }
}

/// A 12-digit AWS account id.
pub fn is_registry_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

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

/// A digest shortened for people: `sha256:1a2b3c4d5e6f`.
pub fn short_digest(digest: &str) -> &str {
    match digest.split_once(':') {
        Some((algo, hex)) if hex.len() > 12 => &digest[..algo.len() + 1 + 12],
        _ => digest,
    }
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
        for bad in [
            "nginx:latest",
            "docker.io/library/nginx:1.27",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/Web:v1",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:abc",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:bad tag",
            "12345.dkr.ecr.us-east-1.amazonaws.com/web:v1",
            "",
        ] {
            let err = parse_image_uri(bad).unwrap_err();
            assert!(err.contains('`'), "{bad}: {err}");
        }
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
}

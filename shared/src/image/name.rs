//! Image references: `[registry/]repository[:tag][@digest]`, split as Docker splits them,
//! and the registry they name.

use std::fmt;

use super::rules::{is_account_id, is_region};

/// An image reference split into its parts, each as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// The host (and port) when the first path component is one: it holds a `.` or a
    /// `:`, or is `localhost`. `None` is Docker Hub's short form (`nginx`, `user/app`).
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, as written (its form is checked by [`super::is_digest`] where it
    /// matters).
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("it is empty")]
    Empty,
    #[error("it contains blanks")]
    Blank,
    #[error("its digest after `@` is not `algorithm:hex`")]
    Digest,
    #[error("its tag after `:` is empty")]
    EmptyTag,
    #[error("it names no repository")]
    NoRepository,
}

/// The registry an image lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registry<'a> {
    /// A private ECR registry, through any of its endpoints.
    Ecr(EcrHost),
    /// `public.ecr.aws`.
    EcrPublic,
    /// The short form, `docker.io`, `index.docker.io` or `registry-1.docker.io`.
    DockerHub,
    /// Any other host, as written.
    Other(&'a str),
}

/// The host of Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// A private ECR registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrHost {
    pub account: String,
    pub region: String,
    pub fips: bool,
    /// `<account>.dkr-ecr.<region>.on.aws` (IPv4 and IPv6).
    pub dual_stack: bool,
}

/// A private ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EcrRepository {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl ImageName {
    pub fn parse(uri: &str) -> Result<Self, NameError> {
        if uri.is_empty() {
            return Err(NameError::Empty);
        }
        if uri.chars().any(char::is_whitespace) {
            return Err(NameError::Blank);
        }
        let (rest, digest) = match uri.split_once('@') {
            Some((rest, digest)) => match digest.split_once(':') {
                Some((algorithm, hex)) if !algorithm.is_empty() && !hex.is_empty() => {
                    (rest, Some(digest.to_owned()))
                }
                _ => return Err(NameError::Digest),
            },
            None => (uri, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_owned()), path)
            }
            _ => (None, rest),
        };
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].rfind(':') {
            Some(i) => (
                &path[..last_slash + i],
                Some(path[last_slash + i + 1..].to_owned()),
            ),
            None => (path, None),
        };
        if repository.is_empty() {
            return Err(NameError::NoRepository);
        }
        if tag.as_deref() == Some("") {
            return Err(NameError::EmptyTag);
        }
        Ok(Self {
            registry,
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    pub fn registry_kind(&self) -> Registry<'_> {
        let Some(host) = self.registry.as_deref() else {
            return Registry::DockerHub;
        };
        let lower = host.to_ascii_lowercase();
        if let Some(ecr) = EcrHost::parse(&lower) {
            return Registry::Ecr(ecr);
        }
        match lower.as_str() {
            "public.ecr.aws" => Registry::EcrPublic,
            "docker.io" | "index.docker.io" | "registry-1.docker.io" => Registry::DockerHub,
            _ => Registry::Other(host),
        }
    }

    /// The private ECR repository, when the registry is one.
    pub fn ecr(&self) -> Option<EcrRepository> {
        match self.registry_kind() {
            Registry::Ecr(host) => Some(EcrRepository {
                account: host.account,
                region: host.region,
                name: self.repository.clone(),
            }),
            _ => None,
        }
    }

    /// The repository as Docker Hub names it: `nginx` is `library/nginx`. `None` for
    /// another registry.
    pub fn docker_hub_repository(&self) -> Option<String> {
        if self.registry_kind() != Registry::DockerHub {
            return None;
        }
        Some(if self.repository.contains('/') {
            self.repository.clone()
        } else {
            format!("library/{}", self.repository)
        })
    }

    /// The host that serves the registry's HTTP API (the OCI distribution API), with its
    /// port: Docker Hub (the short form, `docker.io`, `index.docker.io`) is served by
    /// `registry-1.docker.io`; any other host as written.
    pub fn api_host(&self) -> String {
        match (self.registry_kind(), &self.registry) {
            (Registry::DockerHub, _) | (_, None) => DOCKER_HUB_API_HOST.to_owned(),
            (_, Some(host)) => host.clone(),
        }
    }

    /// The repository as the registry's API names it: on Docker Hub a single-component
    /// name gets `library/` (`nginx` is `library/nginx`); elsewhere as written.
    pub fn api_repository(&self) -> String {
        self.docker_hub_repository()
            .unwrap_or_else(|| self.repository.clone())
    }

    /// `registry/repository@digest`: the tag dropped, the digest pinned, the rest as written.
    pub fn pinned(&self, digest: &str) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}@{digest}", self.repository),
            None => format!("{}@{digest}", self.repository),
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl EcrHost {
    /// `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` or the dual-stack
    /// `<account>.dkr-ecr[-fips].<region>.on.aws`; lowercase.
    pub fn parse(host: &str) -> Option<Self> {
        let (account, rest) = host.split_once('.')?;
        let (fips, dual_stack, rest) = if let Some(r) = rest.strip_prefix("dkr.ecr.") {
            (false, false, r)
        } else if let Some(r) = rest.strip_prefix("dkr.ecr-fips.") {
            (true, false, r)
        } else if let Some(r) = rest.strip_prefix("dkr-ecr.") {
            (false, true, r)
        } else if let Some(r) = rest.strip_prefix("dkr-ecr-fips.") {
            (true, true, r)
        } else {
            return None;
        };
        let region = if dual_stack {
            rest.strip_suffix(".on.aws")?
        } else {
            rest.strip_suffix(".amazonaws.com")
                .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?
        };
        (is_account_id(account) && is_region(region)).then(|| Self {
            account: account.to_owned(),
            region: region.to_owned(),
            fips,
            dual_stack,
        })
    }
}

/// The standard registry host for an account and region.
pub fn registry_host(account: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{account}.dkr.ecr.{region}.{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    /// (reference, registry, repository, tag, digest)
    type Row = (
        &'static str,
        Option<&'static str>,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn splits_every_form() {
        let rows: &[Row] = &[
            ("nginx", None, "nginx", None, None),
            ("nginx:1.27", None, "nginx", Some("1.27"), None),
            ("user/app:v1", None, "user/app", Some("v1"), None),
            ("nginx@sha256:abc", None, "nginx", None, Some("sha256:abc")),
            (
                "nginx:1.27@sha256:abc",
                None,
                "nginx",
                Some("1.27"),
                Some("sha256:abc"),
            ),
            (
                "docker.io/library/nginx:1",
                Some("docker.io"),
                "library/nginx",
                Some("1"),
                None,
            ),
            (
                "index.docker.io/user/app",
                Some("index.docker.io"),
                "user/app",
                None,
                None,
            ),
            (
                "registry-1.docker.io/library/nginx@sha256:ff",
                Some("registry-1.docker.io"),
                "library/nginx",
                None,
                Some("sha256:ff"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:v1",
                Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
                "team/web",
                Some("v1"),
                None,
            ),
            (
                "123456789012.dkr-ecr.us-east-1.on.aws/web:v1",
                Some("123456789012.dkr-ecr.us-east-1.on.aws"),
                "web",
                Some("v1"),
                None,
            ),
            (
                "public.ecr.aws/nginx/nginx:1",
                Some("public.ecr.aws"),
                "nginx/nginx",
                Some("1"),
                None,
            ),
            (
                "localhost:5000/web",
                Some("localhost:5000"),
                "web",
                None,
                None,
            ),
            ("localhost/web:x", Some("localhost"), "web", Some("x"), None),
            (
                "ghcr.io/org/app:sha-1@sha256:00",
                Some("ghcr.io"),
                "org/app",
                Some("sha-1"),
                Some("sha256:00"),
            ),
            (
                "registry:5000/a/b:c",
                Some("registry:5000"),
                "a/b",
                Some("c"),
                None,
            ),
            // A first component without `.`, `:` or `localhost` is a Docker Hub namespace.
            ("team/web:v1", None, "team/web", Some("v1"), None),
        ];
        for (reference, registry, repository, tag, digest) in rows {
            let n = ImageName::parse(reference).unwrap_or_else(|e| panic!("{reference}: {e}"));
            assert_eq!(n.registry.as_deref(), *registry, "{reference}");
            assert_eq!(n.repository, *repository, "{reference}");
            assert_eq!(n.tag.as_deref(), *tag, "{reference}");
            assert_eq!(n.digest.as_deref(), *digest, "{reference}");
            assert_eq!(n.to_string(), *reference, "round trip");
        }
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        let rows = [
            ("", NameError::Empty),
            ("a b", NameError::Blank),
            ("web\n", NameError::Blank),
            ("web:", NameError::EmptyTag),
            ("reg.io/web:", NameError::EmptyTag),
            ("web@", NameError::Digest),
            ("web@sha256:", NameError::Digest),
            ("web@:abc", NameError::Digest),
            ("web@sha256", NameError::Digest),
            (":tag", NameError::NoRepository),
            ("reg.io/:x", NameError::NoRepository),
            ("reg.io/", NameError::NoRepository),
            ("@sha256:ab", NameError::NoRepository),
        ];
        for (reference, error) in rows {
            assert_eq!(ImageName::parse(reference), Err(error), "{reference:?}");
        }
    }

    fn ecr(account: &str, region: &str, fips: bool, dual_stack: bool) -> Registry<'static> {
        Registry::Ecr(EcrHost {
            account: account.into(),
            region: region.into(),
            fips,
            dual_stack,
        })
    }

    #[test]
    fn names_the_registry() {
        let rows: Vec<(&str, Registry<'_>)> = vec![
            ("nginx", Registry::DockerHub),
            ("user/app:v1", Registry::DockerHub),
            ("docker.io/library/nginx", Registry::DockerHub),
            ("index.docker.io/library/nginx", Registry::DockerHub),
            ("registry-1.docker.io/user/app", Registry::DockerHub),
            ("Docker.IO/user/app", Registry::DockerHub),
            ("public.ecr.aws/nginx/nginx:1", Registry::EcrPublic),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web",
                ecr(ACCOUNT, "eu-west-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web",
                ecr(ACCOUNT, "cn-north-1", false, false),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/web",
                ecr(ACCOUNT, "us-gov-west-1", true, false),
            ),
            (
                "123456789012.dkr-ecr.us-east-1.on.aws/web",
                ecr(ACCOUNT, "us-east-1", false, true),
            ),
            (
                "123456789012.dkr-ecr-fips.us-east-1.on.aws/web",
                ecr(ACCOUNT, "us-east-1", true, true),
            ),
            (
                "123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM/web",
                ecr(ACCOUNT, "eu-west-1", false, false),
            ),
            (
                "12345.dkr.ecr.eu-west-1.amazonaws.com/web",
                Registry::Other("12345.dkr.ecr.eu-west-1.amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.org/web",
                Registry::Other("123456789012.dkr.ecr.eu-west-1.amazonaws.org"),
            ),
            (
                "123456789012.dkr-ecr.us-east-1.amazonaws.com/web",
                Registry::Other("123456789012.dkr-ecr.us-east-1.amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.nowhere.amazonaws.com/web",
                Registry::Other("123456789012.dkr.ecr.nowhere.amazonaws.com"),
            ),
            ("ghcr.io/org/app", Registry::Other("ghcr.io")),
            ("localhost:5000/web", Registry::Other("localhost:5000")),
        ];
        for (reference, registry) in rows {
            let n = ImageName::parse(reference).unwrap();
            assert_eq!(n.registry_kind(), registry, "{reference}");
        }
    }

    #[test]
    fn ecr_repository_from_any_private_endpoint() {
        for host in [
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "123456789012.dkr-ecr.eu-west-1.on.aws",
            "123456789012.dkr.ecr-fips.eu-west-1.amazonaws.com",
        ] {
            let n = ImageName::parse(&format!("{host}/team/web:v1")).unwrap();
            assert_eq!(
                n.ecr(),
                Some(EcrRepository {
                    account: ACCOUNT.into(),
                    region: "eu-west-1".into(),
                    name: "team/web".into()
                }),
                "{host}"
            );
        }
        assert_eq!(ImageName::parse("public.ecr.aws/a/b").unwrap().ecr(), None);
        assert_eq!(ImageName::parse("web").unwrap().ecr(), None);
    }

    #[test]
    fn docker_hub_long_names() {
        let rows = [
            ("nginx", Some("library/nginx")),
            ("user/app", Some("user/app")),
            ("docker.io/library/nginx", Some("library/nginx")),
            ("index.docker.io/nginx", Some("library/nginx")),
            ("ghcr.io/org/app", None),
        ];
        for (reference, long) in rows {
            let n = ImageName::parse(reference).unwrap();
            assert_eq!(n.docker_hub_repository().as_deref(), long, "{reference}");
        }
    }

    #[test]
    fn docker_hub_names_map_to_its_api() {
        // (reference, API host, API repository)
        let rows = [
            ("nginx", "registry-1.docker.io", "library/nginx"),
            ("nginx:1.27", "registry-1.docker.io", "library/nginx"),
            ("user/app:v1", "registry-1.docker.io", "user/app"),
            ("docker.io/nginx", "registry-1.docker.io", "library/nginx"),
            (
                "docker.io/library/nginx",
                "registry-1.docker.io",
                "library/nginx",
            ),
            (
                "index.docker.io/user/app",
                "registry-1.docker.io",
                "user/app",
            ),
            (
                "registry-1.docker.io/user/app",
                "registry-1.docker.io",
                "user/app",
            ),
            ("ghcr.io/org/app:v1", "ghcr.io", "org/app"),
            ("ghcr.io/app", "ghcr.io", "app"),
            ("localhost:5000/web", "localhost:5000", "web"),
            ("quay.io/org/team/app@sha256:00", "quay.io", "org/team/app"),
        ];
        for (reference, host, repository) in rows {
            let n = ImageName::parse(reference).unwrap();
            assert_eq!(
                (n.api_host().as_str(), n.api_repository().as_str()),
                (host, repository),
                "{reference}"
            );
        }
    }

    #[test]
    fn pins_as_written() {
        let rows = [
            ("nginx:1.27", "nginx@sha256:ab"),
            ("nginx:1.27@sha256:00", "nginx@sha256:ab"),
            (
                "123456789012.dkr-ecr.us-east-1.on.aws/team/web:v1",
                "123456789012.dkr-ecr.us-east-1.on.aws/team/web@sha256:ab",
            ),
            ("localhost:5000/web", "localhost:5000/web@sha256:ab"),
        ];
        for (reference, pinned) in rows {
            assert_eq!(
                ImageName::parse(reference).unwrap().pinned("sha256:ab"),
                pinned
            );
        }
    }

    #[test]
    fn standard_registry_hosts() {
        assert_eq!(
            registry_host(ACCOUNT, "us-east-1"),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(
            registry_host(ACCOUNT, "cn-north-1"),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
    }
}

//! Images and targets in registries other than private ECR (Docker Hub, GHCR, Quay,
//! Harbor, a self-hosted registry), named as people write them and mapped to what the
//! registry API needs (Docker Hub's `nginx` is `library/nginx` on `registry-1.docker.io`).

use std::fmt;

use shared::image::{ImageName, Reference, Registry};

/// An image in a registry other than private ECR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryImage {
    /// The registry as written (`docker.io` when the name had none).
    pub registry: String,
    /// The host serving its API (`registry-1.docker.io` for Docker Hub).
    pub host: String,
    /// The repository as the API names it (`library/nginx`).
    pub repository: String,
    pub reference: Reference,
}

impl fmt::Display for RegistryImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.registry, self.repository, self.reference)
    }
}

/// A registry named by its host: private ECR or another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Ecr { account: String, region: String },
    Registry { registry: String, host: String },
}

/// Where `host` is (`docker.io`, `ghcr.io`, `localhost:5000`, or an ECR registry host).
pub fn parse_place(host: &str) -> Result<Place, String> {
    let host = host.trim().trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{host}` is not a registry host; give one such as docker.io, ghcr.io or \
             registry.example.com:5000"
        ));
    }
    let name = ImageName::parse(&format!("{host}/x")).map_err(|e| format!("`{host}`: {e}"))?;
    if name.registry.is_none() {
        return Err(format!(
            "`{host}` is not a registry host (a host has a `.` or a port, or is localhost); \
             for Docker Hub give docker.io"
        ));
    }
    Ok(match name.registry_kind() {
        Registry::Ecr(ecr) => Place::Ecr {
            account: ecr.account,
            region: ecr.region,
        },
        _ => Place::Registry {
            registry: host.to_string(),
            host: name.api_host(),
        },
    })
}

/// The repository as `registry`'s API names it (`nginx` on Docker Hub is `library/nginx`).
pub fn api_repository(registry: &str, repository: &str) -> String {
    ImageName::parse(&format!("{registry}/{repository}"))
        .map(|n| n.api_repository())
        .unwrap_or_else(|_| repository.to_string())
}

/// Parses an image reference in a registry other than private ECR. `None` registry means
/// Docker Hub; a tag or a digest is required (a digest wins).
pub fn parse_registry_image(uri: &str) -> Result<RegistryImage, String> {
    let uri = uri.trim();
    let name =
        ImageName::parse(uri).map_err(|e| format!("`{uri}` is not an image reference ({e})"))?;
    if matches!(name.registry_kind(), Registry::Ecr(_)) {
        return Err(format!("`{uri}` is in ECR"));
    }
    let registry = name
        .registry
        .clone()
        .unwrap_or_else(|| "docker.io".to_string());
    let repository = name.api_repository();
    name.check_repository(&repository)
        .map_err(|e| e.to_string())?;
    let reference = name.reference().map_err(|e| e.to_string())?;
    Ok(RegistryImage {
        host: name.api_host(),
        registry,
        repository,
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_docker_hub_names() {
        // (reference, registry, API host, API repository)
        let rows = [
            (
                "nginx:1.27",
                "docker.io",
                "registry-1.docker.io",
                "library/nginx",
            ),
            (
                "user/app:v1",
                "docker.io",
                "registry-1.docker.io",
                "user/app",
            ),
            (
                "docker.io/nginx:1",
                "docker.io",
                "registry-1.docker.io",
                "library/nginx",
            ),
            (
                "index.docker.io/user/app:v1",
                "index.docker.io",
                "registry-1.docker.io",
                "user/app",
            ),
            ("ghcr.io/org/app:v1", "ghcr.io", "ghcr.io", "org/app"),
            (
                "127.0.0.1:5000/web:v1",
                "127.0.0.1:5000",
                "127.0.0.1:5000",
                "web",
            ),
        ];
        for (uri, registry, host, repository) in rows {
            let image = parse_registry_image(uri).unwrap();
            assert_eq!(
                (
                    image.registry.as_str(),
                    image.host.as_str(),
                    image.repository.as_str()
                ),
                (registry, host, repository),
                "{uri}"
            );
        }
        assert!(
            parse_registry_image("nginx")
                .unwrap_err()
                .contains("no tag or digest")
        );
        assert!(
            parse_registry_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1").is_err()
        );
    }

    #[test]
    fn places_by_host() {
        assert_eq!(
            parse_place("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            Ok(Place::Ecr {
                account: "123456789012".into(),
                region: "eu-west-1".into()
            })
        );
        assert_eq!(
            parse_place("docker.io"),
            Ok(Place::Registry {
                registry: "docker.io".into(),
                host: "registry-1.docker.io".into()
            })
        );
        assert!(parse_place("ghcr.io/org").is_err());
        assert_eq!(api_repository("docker.io", "nginx"), "library/nginx");
        assert_eq!(api_repository("ghcr.io", "nginx"), "nginx");
    }
}

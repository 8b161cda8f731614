//! `verify`: every image this action sets must carry the signatures required before
//! anything is rendered or registered (the same verifier as promote-image's).
//!
//! Each image is checked by digest: the URI's or the image file's, else its tag resolved
//! in ECR (as `pinDigests` does). An image outside ECR must be given by digest; its
//! registry is read with the login ECS or the instances pull it with (a container's
//! `repositoryCredentials`, a revision's `login` with its password in Secrets Manager, the
//! secret read in the workload account and its own region), else anonymously. Per image: the image manifest, its referrers and
//! cosign's `sha256-<hex>.sig` tag at once, then the signature manifests, then their blobs.
//! A revision's one image is checked the same way, by the digest it is pinned to.

use shared::image::ImageName;
use shared::referrers::ecr::{self, Repository};
use shared::registry::RegistryError;
use shared::verify::{self, Evidence, Lookups, Place, Policy, Subject};

use crate::clients::{Clients, Login};
use crate::edit::SetImage;
use crate::error::Error;
use crate::problem::{Problem, Problems};
use crate::render::DigestQuery;
use crate::template::TaskDef;

/// The policy and the clients its trust material and revocation are read with.
pub struct Gate {
    pub policy: Policy,
    pub lookups: Lookups,
}

/// Loads `verify`'s trust material with the function's own clients, when it is set.
pub async fn load(
    requirements: Option<&verify::Requirements>,
    sdk: &aws_config::SdkConfig,
) -> Result<Option<Gate>, Error> {
    let Some(requirements) = requirements else {
        return Ok(None);
    };
    let lookups = Lookups::new(sdk);
    let policy = verify::load(requirements, &lookups).await?;
    Ok(Some(Gate { policy, lookups }))
}

/// The images outside ECR given without a digest: each a problem at its source.
pub fn undigested(set: &[SetImage]) -> Vec<Problem> {
    set.iter()
        .filter(|s| {
            let name = ImageName::parse(&s.image.uri).ok();
            let digest =
                s.image.digest.is_some() || name.as_ref().is_some_and(|n| n.digest.is_some());
            !digest && name.is_some_and(|n| n.ecr().is_none())
        })
        .map(|s| {
            Problem::new(
                s.source.clone(),
                format!(
                    "`{}` is not in a private ECR registry, so its tag cannot be resolved for \
                     UserParameters.verify; give it as `...@sha256:<digest>`",
                    s.image.uri
                ),
            )
        })
        .collect()
}

/// The login of container `index` in the task definition `doc`: its
/// `repositoryCredentials.credentialsParameter`, as ECS pulls the image with it.
pub fn container_login(doc: &TaskDef, index: usize) -> Option<Login> {
    let secret = doc.get("containerDefinitions")?.get(index)?["repositoryCredentials"]
        ["credentialsParameter"]
        .as_str()
        .filter(|s| !s.is_empty())?;
    Some(Login {
        secret: secret.to_owned(),
        username: None,
    })
}

/// Checks every image in `set` of the task definition `doc`: each image's evidence, in
/// order, or the first refusal.
pub async fn check(
    gate: &Gate,
    clients: &Clients,
    doc: &TaskDef,
    set: &[SetImage],
) -> Result<Vec<(String, Vec<Evidence>)>, Error> {
    let problems = undigested(set);
    if !problems.is_empty() {
        return Err(Error::Invalid(Problems(problems)));
    }
    let checks = set.iter().map(|s| async move {
        let login = container_login(doc, s.index);
        let evidence = one(
            gate,
            clients,
            &s.image.uri,
            s.image.digest.as_deref(),
            login,
        )
        .await?;
        Ok::<_, Error>((s.container.clone(), evidence))
    });
    futures::future::try_join_all(checks).await
}

/// Checks the image `uri` (its digest given, in the URI, or its tag resolved in ECR);
/// outside ECR, read with `login` when there is one.
pub async fn one(
    gate: &Gate,
    clients: &Clients,
    uri: &str,
    digest: Option<&str>,
    login: Option<Login>,
) -> Result<Vec<Evidence>, Error> {
    let name = ImageName::parse(uri).map_err(|_| Error::RegistryImageNotFound {
        uri: uri.to_owned(),
    })?;
    let digest = digest.map(str::to_owned).or_else(|| name.digest.clone());
    match name.ecr() {
        Some(repository) => {
            let client = regional(&clients.ecr, &repository.region);
            let digest = match digest {
                Some(d) => d,
                None => resolve(clients, &name, repository.clone()).await?,
            };
            let repo = Repository {
                client: &client,
                registry_id: Some(&repository.account),
                name: &repository.name,
            };
            let place = Place::Ecr(repo);
            let (manifest, candidates) = futures::join!(
                ecr::get_manifest(repo, &digest),
                verify::candidates(place, &digest)
            );
            let manifest = manifest?.ok_or_else(|| Error::ImageNotFound {
                uri: uri.to_owned(),
                detail: format!("no manifest {digest}"),
            })?;
            checked(gate, subject(&manifest), &candidates?).await
        }
        None => {
            let digest = digest.unwrap_or_default();
            let credentials = clients.registry_credentials(login.as_ref()).await?;
            let anonymous = credentials.is_none();
            let client = shared::registry::Client::new(&name.api_host(), credentials)?;
            let repository = name.api_repository();
            let place = Place::Registry {
                client: &client,
                repository: &repository,
            };
            let (manifest, candidates) = futures::join!(
                client.get_manifest(&repository, &digest),
                verify::candidates(place, &digest)
            );
            let manifest = manifest
                .map_err(|e| login_hint(e, anonymous))?
                .ok_or_else(|| Error::RegistryImageNotFound {
                    uri: uri.to_owned(),
                })?;
            checked(gate, subject(&manifest), &candidates?).await
        }
    }
}

/// A registry that wants credentials, read anonymously: where to name them.
fn login_hint(e: RegistryError, anonymous: bool) -> RegistryError {
    match e {
        RegistryError::CredentialsRequired {
            registry,
            repository,
            action,
            ..
        } if anonymous => RegistryError::CredentialsRequired {
            registry,
            repository,
            action,
            hint: "as the container's repositoryCredentials.credentialsParameter, or a revision's \
                   login, so that UserParameters.verify can read the image's signatures"
                .to_owned(),
        },
        e => e,
    }
}

async fn checked(
    gate: &Gate,
    subject: Subject,
    candidates: &[verify::Candidate],
) -> Result<Vec<Evidence>, Error> {
    Ok(verify::check(&gate.policy, &subject, candidates, &gate.lookups).await?)
}

fn subject(manifest: &shared::registry::Manifest) -> Subject {
    Subject {
        digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        size: manifest.bytes.len() as u64,
    }
}

/// The tag's digest in ECR (`DescribeImages`), as `pinDigests` resolves it.
async fn resolve(
    clients: &Clients,
    name: &ImageName,
    repository: shared::image::EcrRepository,
) -> Result<String, Error> {
    let query = DigestQuery {
        repository,
        tag: name.tag.clone().unwrap_or_else(|| "latest".to_owned()),
    };
    let resolved = clients.digests(std::slice::from_ref(&query)).await?;
    Ok(resolved
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .unwrap_or_default())
}

/// `ecr` in `region`: itself when it calls that region already.
fn regional(ecr: &aws_sdk_ecr::Client, region: &str) -> aws_sdk_ecr::Client {
    if ecr.config().region().map(|r| r.as_ref()) == Some(region) {
        return ecr.clone();
    }
    aws_sdk_ecr::Client::from_conf(
        ecr.config()
            .to_builder()
            .region(aws_sdk_ecr::config::Region::new(region.to_owned()))
            .build(),
    )
}

/// The summary's line: each container's signatures.
pub fn summary(verified: &[(String, Vec<Evidence>)]) -> String {
    let lines: Vec<String> = verified
        .iter()
        .map(|(container, evidence)| {
            let texts: Vec<String> = evidence.iter().map(Evidence::text).collect();
            format!("{container} {}", texts.join(", "))
        })
        .collect();
    format!("Verified: {}.", lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: serde_json::Value) -> TaskDef {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_containers_login_is_its_repository_credentials() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf";
        let d = doc(json!({"containerDefinitions": [
            {"name": "plain"},
            {"name": "private", "repositoryCredentials": {"credentialsParameter": arn}},
            {"name": "empty", "repositoryCredentials": {"credentialsParameter": ""}},
        ]}));
        assert_eq!(container_login(&d, 0), None);
        assert_eq!(
            container_login(&d, 1),
            Some(Login {
                secret: arn.to_owned(),
                username: None
            })
        );
        assert_eq!(container_login(&d, 2), None);
        assert_eq!(container_login(&d, 3), None, "no such container");
        assert_eq!(container_login(&doc(json!({})), 0), None);
    }
}

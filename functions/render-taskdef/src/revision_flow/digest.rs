//! The revision image's digest: given, or looked up in ECR or in the image's registry.

use super::plan::Plan;
use crate::clients::Clients;
use crate::clients::Login;
use crate::error::Error;
use crate::images::ImageName;
use crate::problem::Problem;
use crate::render;
use crate::revision::RevisionConfig;
use crate::revision::image::{Chosen, DigestSource, digest_source};
use crate::revision::secret::SecretRef;
use shared::registry::RegistryError;
use tokio::time::Instant;

/// Round trip 2: the digest of the plan's image. Given by digest, it is used as it is; a
/// tag is resolved with ECR's DescribeImages, or through the registry's API outside ECR.
pub async fn digest(
    clients: &Clients,
    rev: &RevisionConfig,
    plan: &Plan,
    deadline: Instant,
) -> Result<String, Error> {
    let Plan { chosen, name, .. } = plan;
    match digest_source(&chosen.image, name) {
        DigestSource::Known(d) => Ok(d),
        DigestSource::Ecr => {
            let image = std::iter::once((chosen.source.as_str(), &chosen.image));
            let found = clients.digests(&render::digest_queries(image)?).await?;
            found
                .into_iter()
                .next()
                .map(|(_, d)| d)
                .ok_or_else(|| Error::Unexpected {
                    operation: "ecr:DescribeImages",
                    detail: "no digest".to_owned(),
                })
        }
        DigestSource::Registry => registry_digest(clients, rev, chosen, name, deadline).await,
    }
}

/// The revision's login when its password is in Secrets Manager (a password in SSM is
/// read by the instances only).
pub fn login(rev: &RevisionConfig) -> Option<Login> {
    let l = rev.login.as_ref()?;
    match SecretRef::parse(&l.password_from) {
        Ok(SecretRef::SecretsManager { arn, .. }) => Some(Login {
            secret: arn,
            username: Some(l.username.clone()),
        }),
        _ => None,
    }
}

/// The digest of a tag outside ECR, through the registry's API: anonymously, or with
/// the revision's login when its password is in Secrets Manager (read in the workload
/// account, in the secret's region, as the instances read it).
async fn registry_digest(
    clients: &Clients,
    rev: &RevisionConfig,
    chosen: &Chosen,
    name: &ImageName,
    deadline: Instant,
) -> Result<String, Error> {
    let credentials = clients.registry_credentials(login(rev).as_ref()).await?;
    let anonymous = credentials.is_none();
    match shared::registry::resolve_image(name, credentials, Some(deadline)).await {
        Ok(Some(resolved)) => Ok(resolved.digest),
        Ok(None) => Err(Error::RegistryImageNotFound {
            uri: chosen.image.uri.clone(),
        }),
        Err(e @ (RegistryError::CredentialsRequired { .. } | RegistryError::Denied { .. }))
            if anonymous =>
        {
            Err(Problem::new(
                &chosen.source,
                format!(
                    "the registry refused to show `{}` without credentials ({e}); give the image by digest, or set revision.login with a password in Secrets Manager so that this action can look the tag up",
                    chosen.image.uri
                ),
            )
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(json: &str) -> RevisionConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_revisions_login_counts_with_its_password_in_secrets_manager_only() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf";
        let with = |from: &str| {
            rev(&format!(
                r#"{{"name": "web", "login": {{"username": "bot", "passwordFrom": "{from}"}}}}"#
            ))
        };
        assert_eq!(
            login(&with(arn)),
            Some(Login {
                secret: arn.to_owned(),
                username: Some("bot".to_owned())
            })
        );
        assert_eq!(login(&with("/hub/password")), None, "an SSM parameter");
        assert_eq!(login(&rev(r#"{"name": "web"}"#)), None);
    }
}

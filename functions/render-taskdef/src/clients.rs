//! The AWS clients of one job, in its workload account, and the look-up both flows share.

use crate::aws;
use crate::error::Error;
use crate::render::DigestQuery;
use shared::aws::{Account, Lazy};

/// A registry login whose password is in Secrets Manager, for an image outside ECR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The secret's ARN (or name).
    pub secret: String,
    /// `None`: the secret holds `{"username", "password"}` (a container's
    /// `repositoryCredentials`); else this user, the secret holding the password alone (a
    /// revision's `login`).
    pub username: Option<String>,
}

/// The clients the action calls AWS with.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Places clients in a workload account through its role.
    factory: shared::aws::Clients,
    pub ecs: Lazy<aws_sdk_ecs::Client>,
    pub ecr: Lazy<aws_sdk_ecr::Client>,
    /// Reads a registry password, to look up a tag outside ECR.
    pub secrets: Lazy<aws_sdk_secretsmanager::Client>,
    /// Their region: where a revision reads SSM parameters given by name.
    pub region: Option<String>,
    /// The configuration they were made from (trust material is read with the function's).
    pub sdk: aws_config::SdkConfig,
}

impl Clients {
    /// Clients from the shared factory (its retry policy, ECS's throttling retried).
    /// Each is built on its first use (building one parses its endpoint rules).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_sdk(shared::aws::Clients::new(sdk), sdk)
    }

    fn from_sdk(factory: shared::aws::Clients, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            ecs: Lazy::new(sdk, shared::aws::ecs),
            ecr: Lazy::new(sdk, shared::aws::ecr),
            secrets: Lazy::new(sdk, shared::aws::secretsmanager),
            region: sdk.region().map(|r| r.as_ref().to_owned()),
            sdk: sdk.clone(),
            factory,
        }
    }

    /// The clients in `account`: these in the function's own, else the account's role's,
    /// assumed now for this job only (session `render-taskdef-<job id>`).
    pub async fn for_job(&self, account: &Account, job_id: &str) -> Result<Self, Error> {
        if *account == Account::home() {
            return Ok(self.clone());
        }
        let factory = self.factory.for_invocation();
        let session = shared::aws::session_name(crate::NAME, job_id);
        let sdk = factory.at(account, &session).await?;
        Ok(Self::from_sdk(factory, &sdk))
    }

    /// The registry credentials of `login`, read in this account and the secret's own
    /// region (as ECS and the instances read them); `None` without a login.
    pub async fn registry_credentials(
        &self,
        login: Option<&Login>,
    ) -> Result<Option<shared::registry::Credentials>, Error> {
        let Some(login) = login else {
            return Ok(None);
        };
        let credentials = shared::registry::read_credentials_where_it_is(
            &self.secrets,
            &login.secret,
            login.username.as_deref(),
        )
        .await?;
        Ok(Some(credentials))
    }

    /// The digest of each tag to pin (ECR's DescribeImages, all at once). A tag ECR does
    /// not have fails the job, naming it (and how many more are missing).
    pub async fn digests(
        &self,
        queries: &[DigestQuery],
    ) -> Result<Vec<(DigestQuery, String)>, Error> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let answers = aws::resolve_digests(&self.ecr, queries).await?;
        let mut missing = Vec::new();
        let mut out = Vec::new();
        for (q, answer) in answers {
            match answer {
                Ok(digest) => out.push((q, digest)),
                Err(detail) => missing.push((q, detail)),
            }
        }
        match missing.first() {
            None => Ok(out),
            Some((q, detail)) => Err(Error::ImageNotFound {
                uri: format!(
                    "{}.dkr.ecr.{}.amazonaws.com/{}:{}",
                    q.repository.account, q.repository.region, q.repository.name, q.tag
                ),
                detail: if missing.len() > 1 {
                    format!("{detail}; and {} more missing", missing.len() - 1)
                } else {
                    detail.clone()
                },
            }),
        }
    }
}

//! render-taskdef: renders an ECS task definition from a template and the pipeline's images,
//! checks it, optionally registers it (idempotently), and writes `taskdef.json`,
//! `appspec.yaml` and `imagedefinitions.json` for the ECS deploy actions
//! ([`taskdef_flow`]). With `revision` it writes a CodeDeploy EC2/on-premises revision
//! instead ([`revision_flow`]).

pub mod appspec;
pub mod artifacts;
pub mod aws;
pub mod clients;
pub mod config;
pub mod edit;
pub mod error;
pub mod images;
pub mod inputs;
pub mod normalize;
pub mod problem;
pub mod render;
pub mod revision;
pub mod revision_flow;
pub mod summary;
pub mod taskdef_flow;
pub mod template;
pub mod validate;
pub mod verify;

use crate::clients::Clients;
use crate::config::Config;
use crate::error::Error;
use shared::action::{Action, JobContext, Outcome};
use std::sync::Arc;

/// The action's name: its logs, and the session name of a workload role.
pub const NAME: &str = "render-taskdef";

/// The action, with the clients it uses.
pub struct RenderTaskdef {
    clients: Clients,
}

impl RenderTaskdef {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            clients: Clients::new(sdk),
        }
    }
}

impl Action for RenderTaskdef {
    type Config = Config;
    type State = ();
    type Error = Error;
    const NAME: &'static str = NAME;

    /// The flow the configuration asks for, in the account it names.
    async fn run(self: Arc<Self>, ctx: JobContext<Config, ()>) -> Result<Outcome<()>, Error> {
        let account = ctx.config.place()?;
        let success = match &ctx.config.revision {
            Some(rev) => revision_flow::run(&self.clients, &ctx, &account, rev).await?,
            None => taskdef_flow::run(&self.clients, &ctx, &account).await?,
        };
        Ok(Outcome::Success(success))
    }
}

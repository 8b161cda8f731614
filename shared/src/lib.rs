//! What every function shares: the triggers it is invoked by (CodePipeline jobs, CodeDeploy
//! and ECS lifecycle hooks, other events) and the runner that always answers each one,
//! artifact I/O, `UserParameters`, errors and logging.

pub mod action;
pub mod artifacts;
pub mod aws;
pub mod ecr;
pub mod ecs;
pub mod error;
pub mod error_type;
pub mod handler;
pub mod http;
pub mod image;
pub mod job;
pub mod json;
pub mod logging;
pub mod params;
pub mod problem;
pub mod referrers;
pub mod registry;
pub mod report;
pub mod runner;
pub mod runtime;
pub mod text;
pub mod trigger;
#[cfg(feature = "verify")]
pub mod verify;

pub use action::{Action, JobContext, Outcome, Success};
pub use error::{AwsError, Failure, FailureType, aws_error};
pub use handler::{CodeDeployHook, EcsHook, EcsHookAnswer, EventHandler, HookContext, HookVerdict};
pub use runner::Triggers;
pub use trigger::{CodeDeployHookEvent, EcsHookEvent, EcsPauseRequest, Trigger};

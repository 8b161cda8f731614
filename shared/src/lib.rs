//! The CodePipeline job contract shared by every action: the job event, the runner that
//! always reports one result, artifact I/O, `UserParameters`, errors and logging.

pub mod action;
pub mod artifacts;
pub mod aws;
pub mod ecs;
pub mod error;
pub mod job;
pub mod logging;
pub mod params;
pub mod report;
pub mod runner;
pub mod runtime;

pub use action::{Action, JobContext, Outcome, Success};
pub use error::{AwsError, Failure, FailureType, aws_error};

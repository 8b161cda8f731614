//! health-gate: says whether a deployment is healthy enough to receive (or keep)
//! production traffic, and shows why.
//!
//! Round trips: each pass measures every configured check once, in at most two
//! sequential AWS calls (independent checks run concurrently), decides with
//! [`decide::decide`], and answers its trigger:
//! - a CodePipeline job: one pass per invocation, waiting through continuation tokens;
//! - a CodeDeploy lifecycle hook: passes within the invocation, bounded by its deadline;
//! - an ECS lifecycle hook: one pass per invocation, `IN_PROGRESS` with `callBackDelay`.

pub mod checks;
pub mod config;
pub mod decide;
pub mod entry;
pub mod error;
pub mod summary;

pub use config::Config;
pub use entry::{GateState, HealthGate};
pub use error::GateError;

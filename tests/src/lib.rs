//! Test support: the local AWS (moto plus the project's emulator), job events and their
//! artifacts, the Lambda Runtime API harness that runs the real function binaries, and
//! the seed data behind the sample events.

pub mod accounts;
mod http;

pub mod console;
pub mod function;
pub mod job;
pub mod local_aws;
pub mod per_binary;
pub mod registry;
pub mod rehearsal;
pub mod seed;
pub mod signing;
pub mod verify_bench;

pub use function::{Function, Invocation, binary};
pub use job::{JobBuilder, StagedJob, unzip};
pub use local_aws::{Call, Fault, JobReport, LocalAws, sequential_round_trips, workspace_root};

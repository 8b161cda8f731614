//! The AWS side: per target kind, an adapter that gathers the facts and decides (`look`)
//! and one that carries a step out (`act`). [`settle`] runs them with the rules every
//! kind shares: a dry run never acts, and a race (the state changed between looking and
//! acting) is answered by looking again once, not by failing.

pub mod codedeploy;
pub mod ecs;
pub mod freeze;
pub mod pipeline;
pub mod tags;

use crate::decide::{Plan, Step};
use crate::report::{Decision, Outcome};
use shared::error::{AwsError, FailureType};
use std::future::Future;

/// The SDK clients, built once per cold start.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(sdk),
            codepipeline: aws_sdk_codepipeline::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

/// One target kind's adapters.
pub trait Adapter: Sync {
    /// What is acted on, e.g. `ECS service prod/web`.
    fn label(&self) -> String;
    /// Error codes that mean "the state changed meanwhile": look again.
    fn races(&self) -> &'static [&'static str];
    /// Gathers the facts and decides.
    fn look(&self) -> impl Future<Output = Result<Plan, AwsError>> + Send;
    /// Carries `step` out; returns what was done, for the report.
    fn act(&self, step: &Step) -> impl Future<Output = Result<String, AwsError>> + Send;
}

/// Error codes of a busy resource: waiting helps.
const BUSY: &[&str] = &["ConflictException", "DeploymentLimitExceededException"];

/// Looks, decides and acts for one target, looking again once after a race.
pub async fn settle<A: Adapter>(adapter: &A, dry_run: bool) -> Decision {
    let label = adapter.label();
    let mut raced: Option<AwsError> = None;
    for _ in 0..2 {
        let plan = match adapter.look().await {
            Ok(plan) => plan,
            Err(e) => return Decision::failed(label, &e),
        };
        let step = match plan {
            Plan::Act(step) => step,
            Plan::Nothing(why) => {
                let why = match &raced {
                    Some(e) => format!("{why} (found on looking again after: {e})"),
                    None => why,
                };
                return Decision::new(label, Outcome::Nothing, None, why);
            }
            Plan::Refuse(why) => return Decision::new(label, Outcome::Refused, None, why),
            Plan::Later(why) => return Decision::new(label, Outcome::RetryLater, None, why),
        };
        if dry_run {
            return Decision::new(
                label,
                Outcome::DryRun,
                Some(step.describe()),
                "dry run: decided, not acted".to_owned(),
            );
        }
        match adapter.act(&step).await {
            Ok(done) => return Decision::new(label, Outcome::Acted, Some(done), String::new()),
            Err(e) if is_race(&e, adapter.races()) && raced.is_none() => raced = Some(e),
            Err(e) if e.code().is_some_and(|c| BUSY.contains(&c)) => {
                return Decision::new(
                    label,
                    Outcome::RetryLater,
                    Some(step.describe()),
                    format!("still busy after looking again: {e}"),
                );
            }
            Err(e) => return Decision::failed(label, &e),
        }
    }
    let e = raced.map(|e| e.to_string()).unwrap_or_default();
    Decision::new(
        label,
        Outcome::RetryLater,
        None,
        format!("raced twice: {e}"),
    )
}

fn is_race(e: &AwsError, races: &[&str]) -> bool {
    e.kind() != FailureType::SystemUnavailable && e.code().is_some_and(|c| races.contains(&c))
}

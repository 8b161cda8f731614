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
use shared::aws::Lazy;
use shared::error::{AwsError, FailureType};
use std::future::Future;

/// The SDK clients, each built on its first use.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: Lazy<aws_sdk_ecs::Client>,
    pub codedeploy: Lazy<aws_sdk_codedeploy::Client>,
    pub codepipeline: Lazy<aws_sdk_codepipeline::Client>,
    pub cloudwatch: Lazy<aws_sdk_cloudwatch::Client>,
    pub sns: Lazy<aws_sdk_sns::Client>,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            ecs: Lazy::new(sdk, shared::aws::ecs),
            codedeploy: Lazy::new(sdk, shared::aws::codedeploy),
            codepipeline: Lazy::new(sdk, shared::aws::codepipeline),
            cloudwatch: Lazy::new(sdk, shared::aws::cloudwatch),
            sns: Lazy::new(sdk, shared::aws::sns),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Step;
    use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentError;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// An AWS error with `code` and HTTP `status`, classified as the adapters' are.
    fn aws(code: &str, status: u16) -> AwsError {
        let err = StopServiceDeploymentError::generic(
            ErrorMetadata::builder().code(code).message("m").build(),
        );
        let raw = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        shared::aws_error(
            "ecs:StopServiceDeployment",
            SdkError::service_error(err, raw),
        )
    }

    /// Answers looks and acts from scripts, and counts the acts.
    struct Scripted {
        looks: Mutex<VecDeque<Result<Plan, AwsError>>>,
        acts: Mutex<VecDeque<Result<String, AwsError>>>,
        acted: Mutex<usize>,
    }

    impl Adapter for Scripted {
        fn label(&self) -> String {
            "target".to_owned()
        }
        fn races(&self) -> &'static [&'static str] {
            &["ConflictException", "UnableToRollbackStageException"]
        }
        async fn look(&self) -> Result<Plan, AwsError> {
            self.looks
                .lock()
                .unwrap()
                .pop_front()
                .expect("a scripted look")
        }
        async fn act(&self, _step: &Step) -> Result<String, AwsError> {
            *self.acted.lock().unwrap() += 1;
            self.acts
                .lock()
                .unwrap()
                .pop_front()
                .expect("a scripted act")
        }
    }

    fn act() -> Result<Plan, AwsError> {
        Ok(Plan::Act(Step::EcsStop {
            deployment: "d".into(),
        }))
    }

    fn nothing() -> Result<Plan, AwsError> {
        Ok(Plan::Nothing("rolled back already".into()))
    }

    /// Each scenario: looks, acts, dry run, expected outcome, text in the decision, acts made.
    #[test]
    fn races_dry_runs_and_errors() {
        use Outcome::*;
        type Row = (
            &'static str,
            Vec<Result<Plan, AwsError>>,
            Vec<Result<String, AwsError>>,
            bool,
            Outcome,
            &'static str,
            usize,
        );
        let done = || Ok::<_, AwsError>("done".to_owned());
        let table: Vec<Row> = vec![
            ("acts", vec![act()], vec![done()], false, Acted, "done", 1),
            (
                "dry run never acts",
                vec![act()],
                vec![],
                true,
                DryRun,
                "stopped service deployment d",
                0,
            ),
            (
                "nothing to do",
                vec![nothing()],
                vec![],
                false,
                Nothing,
                "rolled back already",
                0,
            ),
            (
                "refused",
                vec![Ok(Plan::Refuse("no good".into()))],
                vec![],
                false,
                Refused,
                "no good",
                0,
            ),
            (
                "later",
                vec![Ok(Plan::Later("running".into()))],
                vec![],
                false,
                RetryLater,
                "running",
                0,
            ),
            (
                "race, then done by the other",
                vec![act(), nothing()],
                vec![Err(aws("ConflictException", 400))],
                false,
                Nothing,
                "found on looking again",
                1,
            ),
            (
                "race, then acts",
                vec![act(), act()],
                vec![Err(aws("ConflictException", 400)), done()],
                false,
                Acted,
                "done",
                2,
            ),
            (
                "busy twice: retry later",
                vec![act(), act()],
                vec![
                    Err(aws("ConflictException", 400)),
                    Err(aws("ConflictException", 400)),
                ],
                false,
                RetryLater,
                "still busy",
                2,
            ),
            (
                "refused twice: failed",
                vec![act(), act()],
                vec![
                    Err(aws("UnableToRollbackStageException", 400)),
                    Err(aws("UnableToRollbackStageException", 400)),
                ],
                false,
                Failed,
                "UnableToRollbackStageException",
                2,
            ),
            (
                "access denied: failed, no second look",
                vec![act()],
                vec![Err(aws("AccessDeniedException", 400))],
                false,
                Failed,
                "in the IAM policy",
                1,
            ),
            (
                "throttled act: retry later",
                vec![act()],
                vec![Err(aws("ThrottlingException", 400))],
                false,
                RetryLater,
                "throttling",
                1,
            ),
            (
                "throttled look: retry later",
                vec![Err(aws("ThrottlingException", 400))],
                vec![],
                false,
                RetryLater,
                "throttling",
                0,
            ),
            (
                "an outage is not a race",
                vec![act()],
                vec![Err(aws("ConflictException", 503))],
                false,
                RetryLater,
                "unavailable",
                1,
            ),
        ];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (name, looks, acts, dry_run, outcome, says, acted) in table {
            let adapter = Scripted {
                looks: Mutex::new(looks.into()),
                acts: Mutex::new(acts.into()),
                acted: Mutex::new(0),
            };
            let d = rt.block_on(settle(&adapter, dry_run));
            assert_eq!(d.outcome, outcome, "{name}: {d:?}");
            assert!(d.line().contains(says), "{name}: {}", d.line());
            assert_eq!(*adapter.acted.lock().unwrap(), acted, "{name}");
        }
    }
}

//! rollback-trigger: when a CloudWatch alarm goes into ALARM (or a person asks), rolls
//! back the deployments the alarm names, exactly once: ECS services, CodeDeploy deployment
//! groups, CodePipeline V2 stages, and optionally freezes a stage's inbound transition.
//!
//! Round trips for one target: ECS 3 (list deployments, describe revisions, stop or
//! update), CodeDeploy 3 (group, deployment, stop or create), CodePipeline 2 (state and
//! executions concurrently, roll back), freeze 2. A duplicate delivery costs at most 2 and
//! writes nothing. Targets run concurrently. Reading the alarm's tags adds one round trip
//! when neither the event nor the configuration names the targets.
//!
//! Accounts: an alarm's service or deployment group is in the alarm's account (the
//! event's `account` and `region`), reached through `ROLLBACK_ACCOUNTS`' role for it, or
//! in a target's own `account`; pipeline stages and freezes are in the function's own
//! account. Assuming a role adds one round trip per invocation; learning the function's
//! own account (`sts:GetCallerIdentity`) one per cold start.

pub mod act;
pub mod config;
pub mod decide;
pub mod error;
pub mod event;
pub mod notify;
pub mod report;
pub mod tags;
pub mod target;

use crate::act::codedeploy::CodeDeployGroup;
use crate::act::ecs::EcsService;
use crate::act::freeze::Freeze;
use crate::act::pipeline::PipelineStage;
use crate::act::{Clients, settle};
use crate::config::Settings;
use crate::decide::TriggerTime;
use crate::decide::alarm::{Verdict, judge};
use crate::error::RollbackError;
use crate::event::time::format_millis;
use crate::event::{AlarmChange, Input};
use crate::report::{Decision, Outcome};
use crate::target::{Kind, Target};
use serde_json::{Value, json};
use shared::aws::Account;
use shared::{EventHandler, HookContext};
use std::sync::Arc;

/// The function, with clients built once per cold start.
pub struct RollbackTrigger {
    /// The function's own account: pipelines, freezes, notifications.
    clients: Clients,
    /// Clients in workload accounts, through their roles.
    factory: shared::aws::Clients,
    /// The function's own account id: from the invoked function's ARN, else asked of STS
    /// once.
    own_account: tokio::sync::OnceCell<String>,
    settings: Result<Settings, Vec<crate::error::SettingProblem>>,
}

/// Where one invocation acts: the clients factory (roles assumed for this invocation
/// only), the STS session name, and where the alarm's own resources are.
struct Places {
    factory: shared::aws::Clients,
    session: String,
    alarm: Result<Account, RollbackError>,
}

/// What one trigger asks for, whatever its shape.
struct Job {
    /// For the log, the result and the message: `alarm web-5xx went to ALARM at ...`.
    trigger: String,
    at: TriggerTime,
    /// Why: the description of deployments this function creates, and the freeze reason.
    why: String,
    freeze_reason: String,
    dry_run: bool,
}

impl RollbackTrigger {
    /// Reads the settings from the environment; a bad setting is reported at every
    /// invocation (not a panic at start).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self::with_settings(sdk, Settings::from_env(|k| std::env::var(k).ok()))
    }

    pub fn with_settings(
        sdk: &aws_config::SdkConfig,
        settings: Result<Settings, RollbackError>,
    ) -> Self {
        let settings = settings.map_err(|e| match e {
            RollbackError::Config(problems) => problems,
            other => vec![("settings", other.to_string())],
        });
        Self {
            clients: Clients::new(sdk),
            factory: shared::aws::Clients::new(sdk),
            own_account: tokio::sync::OnceCell::new(),
            settings,
        }
    }

    /// The function's own account, when the caller knows it (the Lambda runner learns it
    /// from the invoked function's ARN).
    pub fn in_account(self, account: &str) -> Self {
        let _ = self.own_account.set(account.to_owned());
        self
    }

    fn settings(&self) -> Result<&Settings, RollbackError> {
        self.settings
            .as_ref()
            .map_err(|problems| RollbackError::Config(problems.clone()))
    }

    /// Handles one event; the result lists a decision per target. Fails only for a bad
    /// event or setting, or (retryable) when some target could not be settled now.
    pub async fn handle_event(&self, event: &Value) -> Result<Value, RollbackError> {
        let settings = self.settings()?;
        let factory = self.factory.for_invocation();
        let (summary, targets, from, job, places) = match event::parse(event)? {
            Input::Alarm(change) => {
                let summary = alarm_summary(&change);
                if let Verdict::Ignore(why) = judge(&change) {
                    tracing::info!(alarm = %change.name, ignored = %why, "alarm state change ignored");
                    return Ok(json!({"trigger": summary, "ignored": why, "decisions": []}));
                }
                let places = Places {
                    factory,
                    session: shared::aws::session_name("rollback-trigger", &change.name),
                    alarm: self.alarm_place(&change, settings).await,
                };
                let (targets, from) = self.targets_of(&change, settings, &places).await?;
                let trigger = format!(
                    "alarm {} went to ALARM at {}",
                    change.name,
                    format_millis(change.changed_at_ms)
                );
                let job = Job {
                    why: trigger.clone(),
                    freeze_reason: decide::freeze::alarm_reason(&change.name, change.changed_at_ms),
                    trigger,
                    at: Some(change.changed_at_ms),
                    dry_run: settings.dry_run,
                };
                (summary, targets, from, job, places)
            }
            Input::Manual(request) => {
                let summary = json!({"kind": "request", "reason": request.reason,
                    "requestedAt": request.requested_at_ms.map(format_millis)});
                let job = Job {
                    trigger: format!("rollback requested: {}", request.reason),
                    why: format!("requested: {}", request.reason),
                    freeze_reason: format!("Frozen by rollback-trigger. {}", request.reason),
                    at: request.requested_at_ms,
                    dry_run: settings.dry_run || request.dry_run,
                };
                let places = Places {
                    factory,
                    session: shared::aws::session_name("rollback-trigger", "request"),
                    alarm: Ok(Account::home()),
                };
                (summary, request.targets, "request", job, places)
            }
        };
        if targets.is_empty() {
            tracing::info!(trigger = %job.trigger, "the alarm maps to no target: nothing to do");
            return Ok(
                json!({"trigger": summary, "targetsFrom": from, "decisions": [],
                "note": "the alarm maps to no target (no configuration entry, no rollback tags)"}),
            );
        }
        // An alarm's targets without an account of their own act in the alarm's account:
        // when no role reaches it, nothing is done.
        if targets
            .iter()
            .any(|t| t.account.is_none() && in_workload(t))
            && let Err(e) = &places.alarm
        {
            return Err(e.clone());
        }
        let decisions: Vec<Decision> =
            futures::future::join_all(targets.iter().map(|t| self.run_target(t, &job, &places)))
                .await
                .into_iter()
                .flatten()
                .collect();
        for d in &decisions {
            tracing::info!(trigger = %job.trigger, target = %d.target, outcome = d.outcome.as_str(),
                action = d.action.as_deref().unwrap_or_default(), reason = %d.reason, "decision");
        }
        self.notify(settings, &job.trigger, &decisions).await;
        let pending: Vec<String> = decisions
            .iter()
            .filter(|d| d.outcome == Outcome::RetryLater)
            .map(Decision::line)
            .collect();
        if !pending.is_empty() {
            return Err(RollbackError::RetryLater { pending });
        }
        Ok(json!({"trigger": summary, "targetsFrom": from, "decisions": decisions}))
    }

    /// The alarm's targets: its tags in the event, else the configuration, else its tags
    /// read from CloudWatch.
    async fn targets_of(
        &self,
        change: &AlarmChange,
        settings: &Settings,
        places: &Places,
    ) -> Result<(Vec<Target>, &'static str), RollbackError> {
        let from_tags = |tags| {
            tags::targets(tags).map_err(|problem| RollbackError::Tags {
                alarm: change.name.clone(),
                problem,
            })
        };
        if let Some(found) = change.tags.as_ref().map(from_tags).transpose()?.flatten() {
            return Ok((found, "alarm tags (event)"));
        }
        if let Some(found) = settings.targets_for(&change.name) {
            return Ok((found.to_vec(), "configuration"));
        }
        let (None, Some(arn)) = (&change.tags, &change.arn) else {
            return Ok((Vec::new(), "none"));
        };
        // The tags are read in the alarm's own account.
        let clients = self
            .clients_at(places, places.alarm.as_ref().map_err(Clone::clone)?)
            .await?;
        let tags = act::tags::alarm_tags(&clients.cloudwatch, arn).await?;
        Ok(match from_tags(&tags)? {
            Some(found) => (found, "alarm tags"),
            None => (Vec::new(), "none"),
        })
    }

    /// Where the alarm's resources are: the function's own account, or the workload
    /// account its event names, through that account's role.
    async fn alarm_place(
        &self,
        change: &AlarmChange,
        settings: &Settings,
    ) -> Result<Account, RollbackError> {
        let region = change.region.clone();
        let Some(account) = change.account.as_deref() else {
            return Ok(Account {
                region,
                ..Account::home()
            });
        };
        if let Some(role) = settings.accounts.get(account) {
            return Ok(Account {
                region: role.region.clone().or(region),
                ..role.clone()
            });
        }
        let own = self
            .own_account
            .get_or_try_init(|| async {
                match shared::runtime::own_account() {
                    Some(own) => Ok(own.to_owned()),
                    None => self.factory.own_account().await,
                }
            })
            .await?;
        if own == account {
            return Ok(Account {
                region,
                ..Account::home()
            });
        }
        Err(RollbackError::NoRole {
            alarm: change.name.clone(),
            account: account.to_owned(),
            own: own.clone(),
        })
    }

    /// Clients in `account`: the function's own when it names no role or region.
    async fn clients_at(
        &self,
        places: &Places,
        account: &Account,
    ) -> Result<Clients, RollbackError> {
        if self.at_home(account) {
            return Ok(self.clients.clone());
        }
        let sdk = places
            .factory
            .at(account, &places.session)
            .await
            .map_err(RollbackError::Assume)?;
        Ok(Clients::new(&sdk))
    }

    /// Whether `account` is the function's own account and region.
    fn at_home(&self, account: &Account) -> bool {
        account.role_arn.is_none()
            && account
                .region
                .as_deref()
                .is_none_or(|r| Some(r) == self.factory.home_region())
    }

    /// The decisions for one target: its rollback and its freeze, concurrently.
    async fn run_target(&self, t: &Target, job: &Job, places: &Places) -> Vec<Decision> {
        let dry = job.dry_run || t.dry_run;
        let own = &self.clients;
        let workload = match (
            in_workload(t),
            t.account.as_ref().map(Ok).unwrap_or(places.alarm.as_ref()),
        ) {
            (true, Ok(account)) => {
                let at = if self.at_home(account) {
                    String::new()
                } else {
                    account_label(account)
                };
                match self.clients_at(places, account).await {
                    Ok(c) => Some((c, at)),
                    Err(e) => {
                        let label = t.kind.as_ref().map(ToString::to_string).unwrap_or_default();
                        return vec![Decision::refused_by(label + &at, &e)];
                    }
                }
            }
            _ => None,
        };
        let c = workload.as_ref().map_or(own, |(c, _)| c);
        let main = async {
            match &t.kind {
                Some(Kind::EcsService { cluster, service }) => {
                    let a = EcsService {
                        client: &c.ecs,
                        cluster,
                        service,
                        at: job.at,
                    };
                    Some(settle(&a, dry).await)
                }
                Some(Kind::CodeDeploy { application, group }) => {
                    let a =
                        CodeDeployGroup::new(&c.codedeploy, application, group, job.at, &job.why);
                    Some(settle(&a, dry).await)
                }
                Some(Kind::PipelineStage(s)) => {
                    let a = PipelineStage {
                        client: &own.codepipeline,
                        pipeline: &s.pipeline,
                        stage: &s.stage,
                        at: job.at,
                    };
                    Some(settle(&a, dry).await)
                }
                None => None,
            }
        };
        let freeze = async {
            let s = t.freeze.as_ref()?;
            let a = Freeze {
                client: &own.codepipeline,
                pipeline: &s.pipeline,
                stage: &s.stage,
                at: job.at,
                reason: &job.freeze_reason,
            };
            Some(settle(&a, dry).await)
        };
        let (main, freeze) = futures::join!(main, freeze);
        let main = main.map(|mut d| {
            if let Some((_, at)) = &workload {
                d.target.push_str(at);
            }
            d
        });
        main.into_iter().chain(freeze).collect()
    }

    async fn notify(&self, settings: &Settings, trigger: &str, decisions: &[Decision]) {
        let Some(topic) = &settings.notify_topic else {
            return;
        };
        if !notify::worth_sending(decisions) {
            return;
        }
        let (subject, body) = notify::message(trigger, decisions);
        if let Err(e) = notify::send(&self.clients.sns, topic, &subject, &body).await {
            // The rollback is done; a lost message must not undo that report.
            tracing::warn!(error = %e, "the notification was not sent");
        }
    }
}

impl EventHandler for RollbackTrigger {
    type Error = RollbackError;
    const NAME: &'static str = "rollback-trigger";

    async fn handle(self: Arc<Self>, ctx: HookContext<Value>) -> Result<Value, RollbackError> {
        self.handle_event(&ctx.event).await
    }
}

/// Whether a target's rollback acts on a workload resource (an ECS service or a CodeDeploy
/// group), not on the pipeline.
fn in_workload(t: &Target) -> bool {
    matches!(
        t.kind,
        Some(Kind::EcsService { .. } | Kind::CodeDeploy { .. })
    )
}

/// ` in account 222222222222 (eu-west-1)` for a decision's target, empty at home.
fn account_label(a: &Account) -> String {
    match (a.account_id(), &a.region) {
        (Some(id), Some(r)) => format!(" in account {id} ({r})"),
        (Some(id), None) => format!(" in account {id}"),
        (None, Some(r)) => format!(" in {r}"),
        (None, None) => String::new(),
    }
}

fn alarm_summary(c: &AlarmChange) -> Value {
    json!({
        "kind": "alarm",
        "alarm": c.name,
        "state": c.state.as_str(),
        "previousState": c.previous.as_ref().map(|(s, _)| s.as_str()),
        "changedAt": format_millis(c.changed_at_ms),
        "delivery": c.delivery.as_str(),
        "composite": c.composite,
        "account": c.account,
        "region": c.region,
    })
}

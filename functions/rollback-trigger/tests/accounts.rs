//! Alarms from workload accounts: an event forwarded from the prod account's bus is read
//! and rolled back in the prod account through `ROLLBACK_ACCOUNTS`' role, while the
//! freeze lands on the pipeline in the function's own (tools) account; an account with no
//! role, and a role that refuses, are answered clearly with nothing written.

mod common;

use common::*;
use serde_json::{Value, json};
use shared::Failure;
use testkit::accounts::{PROD, STAGING, trust};

const EXTERNAL: &str = "tools-7f3a";

/// The event a workload account's rule forwards: its own account, region and alarm ARN.
fn forwarded(account: &str, name: &str) -> Value {
    let mut event = eventbridge(name, "ALARM", -1, None);
    let arn = format!("arn:aws:cloudwatch:eu-west-1:{account}:alarm:{name}");
    event["account"] = json!(account);
    event["region"] = json!("eu-west-1");
    event["resources"] = json!([arn]);
    event
}

fn accounts(role: &str) -> String {
    json!({PROD: {"roleArn": role, "externalId": EXTERNAL}}).to_string()
}

#[test]
fn a_prod_alarm_rolls_prod_back_there_and_freezes_the_pipeline_in_the_tools_account() {
    let (env, _g) = env();
    RT.block_on(async {
        let (role, _) = env.aws.workload(PROD, "rollback-trigger", Some(EXTERNAL)).await;
        let mut service = ecs_service("prod", "xa-web", &[("a", "SUCCESSFUL", -180, 1), ("b", "IN_PROGRESS", -20, 2)]);
        service["account"] = json!(PROD);
        service["ecsServices"][0]["region"] = json!("eu-west-1");
        env.seed(service).await;
        let alarm = format!("arn:aws:cloudwatch:eu-west-1:{PROD}:alarm:xa-web-5xx");
        env.seed(json!({"account": PROD, "alarmTags": {alarm: {"rollback:ecs-service": "prod/xa-web", "rollback:freeze": "xa-pipe/Prod"}}}))
            .await;
        env.seed(json!({"pipelineStates": {"xa-pipe": {"pipelineName": "xa-pipe", "stageStates": [
            {"stageName": "Prod", "inboundTransitionState": {"enabled": true, "lastChangedAt": at(-600)}}]}}}))
            .await;
        let settings = accounts(&role);
        let f = env.function(&[("ROLLBACK_ACCOUNTS", &settings)]);
        env.aws.reset_calls().await;
        let result = f.handle_event(&forwarded(PROD, "xa-web-5xx")).await;
        let found = decisions(&result);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(o, _)| o == "acted"), "{found:?}");
        let value = result.unwrap();
        assert_eq!(value["targetsFrom"], "alarm tags");
        let targets: Vec<&str> = value["decisions"].as_array().unwrap().iter().map(|d| d["target"].as_str().unwrap()).collect();
        assert!(targets.iter().any(|t| t.contains("xa-web") && t.contains("in account 333333333333 (eu-west-1)")), "{targets:?}");

        let calls = env.calls().await;
        let where_ = |op: &str| -> Vec<String> { writes(&calls, op).iter().map(|c| c.account.clone()).collect() };
        assert_eq!(where_("ListTagsForResource"), [PROD], "the tags are read in the alarm's account");
        assert_eq!(where_("StopServiceDeployment"), [PROD], "the rollback runs in prod");
        assert_eq!(where_("DisableStageTransition"), [ACCOUNT], "the freeze runs in the tools account");
        assert_eq!(writes(&calls, "AssumeRole").len(), 1, "one role for the invocation");

        // A duplicate delivery writes nothing more.
        env.aws.reset_calls().await;
        let again = decisions(&f.handle_event(&forwarded(PROD, "xa-web-5xx")).await);
        assert!(again.iter().all(|(o, _)| o == "nothing"), "{again:?}");
        assert!(any_write(&env.calls().await).is_empty());
    });
}

#[test]
fn an_alarm_from_an_account_with_no_role_is_refused_with_nothing_written() {
    let (env, _g) = env();
    RT.block_on(async {
        let targets = json!({"xa-none-5xx": {"ecsService": {"cluster": "prod", "service": "web"},
                                             "freeze": {"pipeline": "p", "stage": "Prod"}}})
        .to_string();
        let f = env.function(&[("ROLLBACK_TARGETS", &targets)]);
        let err = f
            .handle_event(&forwarded(STAGING, "xa-none-5xx"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("account 222222222222")
                && text.contains("ROLLBACK_ACCOUNTS")
                && text.contains("Nothing was done"),
            "{text}"
        );
        assert_eq!(err.failure_type(), shared::FailureType::ConfigurationError);
        assert!(!err.retryable());
        let calls = env.calls().await;
        assert!(any_write(&calls).is_empty(), "{:?}", any_write(&calls));
        assert!(
            calls.iter().all(|c| c.operation == "GetCallerIdentity"),
            "{:?}",
            calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
        );
    });
}

#[test]
fn a_role_that_refuses_is_a_failed_decision_naming_the_role_and_its_trust_policy() {
    let (env, _g) = env();
    RT.block_on(async {
        let role = env
            .aws
            .create_role(
                PROD,
                "rollback-untrusting",
                &trust("arn:aws:iam::999999999999:root", None),
            )
            .await;
        let targets = json!({"xa-deny-5xx": {"ecsService": {"cluster": "prod", "service": "web"},
                                             "account": {"roleArn": role, "region": "eu-west-1"}}})
        .to_string();
        let f = env.function(&[("ROLLBACK_TARGETS", &targets)]);
        let result = f.handle_event(&forwarded(PROD, "xa-deny-5xx")).await;
        let found = decisions(&result);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "failed", "{found:?}");
        assert!(
            found[0].1.contains(&role)
                && found[0].1.contains("trust policy in account 333333333333"),
            "{found:?}"
        );
        assert!(any_write(&env.calls().await).is_empty());
    });
}

#[test]
fn bad_account_settings_name_the_setting() {
    let (env, _g) = env();
    RT.block_on(async {
        for (value, says) in [
            (
                json!({"2222": {"roleArn": "arn:aws:iam::222222222222:role/r"}}).to_string(),
                "not a 12-digit account id",
            ),
            (
                json!({STAGING: {"roleArn": "arn:aws:iam::333333333333:role/r"}}).to_string(),
                "a role of account 333333333333",
            ),
            (
                json!({STAGING: {"externalId": "x1"}}).to_string(),
                "externalId",
            ),
            ("[1]".to_owned(), "Expected a JSON object from account ids"),
        ] {
            let f = env.function(&[("ROLLBACK_ACCOUNTS", &value)]);
            let err = f.handle_event(&forwarded(STAGING, "a")).await.unwrap_err();
            assert!(
                err.to_string().contains("ROLLBACK_ACCOUNTS") && err.to_string().contains(says),
                "{err}"
            );
        }
    });
}

#[test]
fn the_real_binary_logs_no_assumed_credential_at_trace() {
    let (env, _g) = env();
    RT.block_on(async {
        let (role, _) = env
            .aws
            .workload(PROD, "rollback-trigger-trace", Some(EXTERNAL))
            .await;
        let mut service = ecs_service(
            "prod",
            "xt-web",
            &[("a", "SUCCESSFUL", -180, 1), ("b", "IN_PROGRESS", -20, 2)],
        );
        service["account"] = json!(PROD);
        service["ecsServices"][0]["region"] = json!("eu-west-1");
        env.seed(service).await;
        let alarm = format!("arn:aws:cloudwatch:eu-west-1:{PROD}:alarm:xt-web-5xx");
        env.seed(
            json!({"account": PROD, "alarmTags": {alarm: {"rollback:ecs-service": "prod/xt-web"}}}),
        )
        .await;
        let settings = accounts(&role);
        let mut f = testkit::Function::start_with_env(
            testkit::binary("rollback-trigger"),
            &env.aws,
            &[("RUST_LOG", "trace"), ("ROLLBACK_ACCOUNTS", &settings)],
        )
        .await;
        let answer = f
            .invoke(
                &forwarded(PROD, "xt-web-5xx"),
                std::time::Duration::from_secs(30),
            )
            .await;
        let testkit::Invocation::Response(value) = &answer else {
            panic!("{answer:?}\n{}", f.logs());
        };
        assert_eq!(value["decisions"][0]["outcome"], "acted", "{value}");
        let logs = f.logs();
        env.aws.assert_trace_logs_hold_no_credentials(&logs).await;
    });
}

//! AWS Signer's revocation check reaches the configured endpoint (the operation's `data-`
//! host prefix is dropped there) and reads what the local AWS says is revoked.
#![cfg(feature = "verify")]

use shared::aws::clients::signer;
use shared::verify::notation::{RevocationQuery, revoked};
use testkit::LocalAws;

const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/release/v1";
const JOB: &str = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/0a1b2c3d";

fn query() -> RevocationQuery {
    RevocationQuery {
        signing_time: 1_800_000_000,
        profile_version_arn: PROFILE.into(),
        job_arn: JOB.into(),
        certificate_hashes: vec!["aa11".into(), "bb22".into()],
    }
}

#[tokio::test]
async fn revocation_is_read_from_the_configured_endpoint() {
    let aws = LocalAws::start().await;
    let signer = signer(&aws.sdk_config().await);

    let nothing = revoked(&signer, &query())
        .await
        .expect("the call is answered");
    assert!(nothing.is_empty(), "{nothing:?}");

    aws.revoke_signer_entities("123456789012", &[PROFILE, "bb22"])
        .await;
    let found = revoked(&signer, &query())
        .await
        .expect("the call is answered");
    assert_eq!(found, vec![PROFILE.to_string(), "bb22".to_string()]);

    aws.clear_signer_revocations().await;
    let cleared = revoked(&signer, &query())
        .await
        .expect("the call is answered");
    assert!(cleared.is_empty(), "{cleared:?}");
}

#[tokio::test]
async fn revocation_is_asked_in_the_signing_profiles_region() {
    let aws = LocalAws::start().await;
    // The function's clients are in us-east-1; the profile is in eu-west-1.
    let signer = signer(&aws.sdk_config().await);
    let elsewhere = RevocationQuery {
        profile_version_arn: PROFILE.replace("us-east-1", "eu-west-1"),
        job_arn: JOB.replace("us-east-1", "eu-west-1"),
        ..query()
    };
    aws.reset_calls().await;
    revoked(&signer, &elsewhere)
        .await
        .expect("the call is answered");
    revoked(&signer, &query())
        .await
        .expect("the call is answered");
    let regions: Vec<String> = aws
        .calls()
        .await
        .into_iter()
        .filter(|c| c.operation == "GetRevocationStatus")
        .map(|c| c.region)
        .collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
}

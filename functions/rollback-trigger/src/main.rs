use rollback_trigger::RollbackTrigger;
use shared::Triggers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::serve(|sdk| Triggers::new().event(RollbackTrigger::new(sdk))).await
}

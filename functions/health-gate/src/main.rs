use health_gate::HealthGate;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::serve(|sdk| {
        let gate = Arc::new(HealthGate::new(sdk));
        shared::Triggers::new()
            .job_arc(gate.clone())
            .codedeploy_hook_arc(gate.clone())
            .ecs_hook_arc(gate.clone())
            .ecs_pause_arc(gate)
    })
    .await
}

use render_taskdef::RenderTaskdef;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::run(RenderTaskdef::new).await
}

use promote_image::PromoteImage;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::run(PromoteImage::new).await
}

//! Serves the local AWS on a fixed loopback port, seeded with the data behind the sample
//! events, until interrupted. For `cargo lambda watch` / `cargo lambda invoke`.
//!
//! Usage: local-aws [PORT]   (default 4566)

use testkit::{LocalAws, seed, workspace_root};

#[tokio::main]
async fn main() {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(4566);
    let aws = LocalAws::start_on(port).await;
    match seed::seed(&aws, &workspace_root().join("events")).await {
        Ok(done) => {
            for line in done {
                eprintln!("seeded {line}");
            }
        }
        Err(e) => {
            eprintln!("error: seeding the local AWS: {e}");
            std::process::exit(2);
        }
    }
    println!("Local AWS on {}. In another shell:", aws.endpoint());
    println!(
        "  export AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        aws.endpoint()
    );
    println!(
        "Recorded calls: curl {}/_local/calls   Job results: curl {}/_local/jobs",
        aws.endpoint(),
        aws.endpoint()
    );
    println!("Ctrl-C stops it.");
    let _ = tokio::signal::ctrl_c().await;
}

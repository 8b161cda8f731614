//! Runs one function on a sample event against the embedded local AWS and prints the
//! result: a pipeline job as the CodePipeline console shows it, any other trigger's answer
//! as the function returned it.
//!
//! Usage: demo [FUNCTION] [EVENT_FILE]   (default: render-taskdef on its sample job)

use serde_json::Value;
use std::time::Duration;
use testkit::{Function, LocalAws, binary, console, seed, unzip, workspace_root};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let function = args.next().unwrap_or_else(|| "render-taskdef".to_owned());
    let root = workspace_root();
    let event_path = args
        .next()
        .map(Into::into)
        .unwrap_or_else(|| default_event(&root.join("events"), &function));
    let event: Value = match std::fs::read_to_string(&event_path).map(|t| serde_json::from_str(&t))
    {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => fail(&format!("{}: not JSON: {e}", event_path.display())),
        Err(e) => fail(&format!("{}: {e}", event_path.display())),
    };
    let exe = binary(&function);
    if !exe.exists() {
        fail(&format!(
            "{} is not built; run: cargo build -p {function}",
            exe.display()
        ));
    }

    eprintln!("Starting the local AWS and seeding the sample data...");
    let aws = LocalAws::start().await;
    if let Err(e) = seed::seed(&aws, &root.join("events")).await {
        fail(&format!("seeding the local AWS: {e}"));
    }
    aws.reset_calls().await;
    // Like an in-region AWS call, so that concurrent calls show as one round trip.
    aws.latency(20).await;
    let mut f = Function::start(&exe, &aws).await;
    eprintln!("Invoking {function} with {}...\n", event_path.display());
    let result = f.invoke(&event, Duration::from_secs(60)).await;

    let trigger = shared::trigger::recognise(&event);
    if trigger != shared::Trigger::Job {
        let answer = match &result {
            testkit::Invocation::Response(v) | testkit::Invocation::Error(v) => {
                serde_json::to_string_pretty(v).unwrap_or_default()
            }
            other => format!("{other:?}"),
        };
        let calls = aws.calls().await;
        print!(
            "{}",
            console::render_answer(&function, &trigger.to_string(), &answer, &calls)
        );
        if !result.is_response() {
            eprintln!("\nFunction logs:\n{}", f.logs());
            std::process::exit(1);
        }
        return;
    }
    let job_id = event["CodePipeline.job"]["id"].as_str().unwrap_or_default();
    let report = aws.job(job_id).await;
    let calls = aws.calls().await;
    let s3 = aws.s3().await;
    let mut outputs = Vec::new();
    for artifact in event["CodePipeline.job"]["data"]["outputArtifacts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let loc = &artifact["location"]["s3Location"];
        let got = s3
            .get_object()
            .bucket(loc["bucketName"].as_str().unwrap_or_default())
            .key(loc["objectKey"].as_str().unwrap_or_default())
            .send()
            .await;
        if let Ok(object) = got
            && let Ok(bytes) = object.body.collect().await
        {
            let files = unzip(&bytes.into_bytes())
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            outputs.push((
                artifact["name"].as_str().unwrap_or_default().to_owned(),
                files,
            ));
        }
    }
    print!(
        "{}",
        console::render(&function, job_id, report.as_ref(), &outputs, &calls)
    );
    if !result.is_response() {
        eprintln!(
            "\nThe invocation ended with {result:?}. Function logs:\n{}",
            f.logs()
        );
        std::process::exit(1);
    }
}

/// `events/<function>.json`, else the first `events/<function>-*.json`.
fn default_event(events: &std::path::Path, function: &str) -> std::path::PathBuf {
    seed::sample_events(events, function)
        .into_iter()
        .next()
        .unwrap_or_else(|| events.join(format!("{function}.json")))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

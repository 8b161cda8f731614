//! The rehearsal: plays the project's example pipelines end to end on the embedded local
//! AWS with the real function binaries, a good release and a bad one each, and says
//! whether each ended as it should.
//!
//! Usage: rehearse [--json FILE] [--quiet] [TEMPLATE...]
//! (default: every template in infra/pipelines/). Exits 1 when a release did not end as
//! expected, 2 on bad usage.

use std::path::PathBuf;
use testkit::rehearsal::{self, report::Printer};
use testkit::{LocalAws, workspace_root};

const USAGE: &str = "usage: rehearse [--json FILE] [--quiet] [TEMPLATE...]";

#[tokio::main]
async fn main() {
    let mut json: Option<PathBuf> = None;
    let mut quiet = false;
    let mut templates = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => match args.next() {
                Some(path) => json = Some(path.into()),
                None => fail("--json needs a file name"),
            },
            "--quiet" => quiet = true,
            "-h" | "--help" => {
                Printer { quiet: false }.line(USAGE);
                return;
            }
            other if other.starts_with('-') => fail(&format!("unknown option {other}")),
            other => templates.push(PathBuf::from(other)),
        }
    }
    if templates.is_empty() {
        templates = rehearsal::default_templates(&workspace_root());
    }
    if templates.is_empty() {
        fail("no pipeline templates in infra/pipelines/; name one");
    }
    let printer = Printer { quiet };
    printer.line("Starting the local AWS...");
    let aws = LocalAws::start().await;
    let record = rehearsal::rehearse(&aws, &templates, printer).await;
    let releases: Vec<_> = record.pipelines.iter().flat_map(|p| &p.releases).collect();
    let good = releases.iter().filter(|r| r.ok).count();
    // The verdict is printed also with --quiet.
    let summary = Printer { quiet: false };
    summary.line(&format!(
        "\nRehearsal: {good} of {} releases ended as expected, {} pipeline(s), {}",
        releases.len(),
        record.pipelines.len(),
        rehearsal::report::seconds(std::time::Duration::from_millis(record.duration_ms))
    ));
    summary.line(&format!("  {}", record.engine));
    for p in &record.pipelines {
        for problem in &p.problems {
            summary.line(&format!("  {}: {problem}", p.template));
        }
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&record).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            fail(&format!("{}: {e}", path.display()));
        }
    }
    if !record.ok {
        std::process::exit(1);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}\n{USAGE}");
    std::process::exit(2)
}

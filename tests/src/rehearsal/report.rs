//! What the rehearsal shows: each step as a person reads it, as it happens, and the
//! machine-readable record (`--json`).

use serde::Serialize;
use std::io::Write;
use std::time::Duration;

/// How one action (or one invocation CodePipeline does not see, such as a hook or an
/// alarm's rollback) ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub stage: String,
    pub action: String,
    pub provider: String,
    /// `Succeeded`, `Failed`, or `Skipped` (not reached: an earlier action failed).
    pub result: String,
    pub summary: String,
    pub duration_ms: u64,
    /// Lines under the step: hooks invoked, waits shortened, output variables.
    pub details: Vec<String>,
    /// Lambda invocations made for this step.
    pub invocations: u32,
    /// The action's output variables.
    pub variables: serde_json::Map<String, serde_json::Value>,
}

impl Step {
    pub fn new(stage: &str, action: &str, provider: &str) -> Self {
        Self {
            stage: stage.to_owned(),
            action: action.to_owned(),
            provider: provider.to_owned(),
            result: "Succeeded".into(),
            summary: String::new(),
            duration_ms: 0,
            details: Vec::new(),
            invocations: 0,
            variables: serde_json::Map::new(),
        }
    }

    pub fn failed(&self) -> bool {
        self.result == "Failed"
    }
}

/// A release played through one pipeline, and whether it ended as it should.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    pub release: String,
    pub version: String,
    pub expected: String,
    pub pipeline_execution_id: String,
    pub steps: Vec<Step>,
    /// What runs at the end (the service's task definition, the group's revision) and
    /// the checks made of it.
    pub outcome: Vec<String>,
    pub problems: Vec<String>,
    pub ok: bool,
    /// On the Docker engine (the EC2 pipeline): the containers the release started, as
    /// `docker inspect` showed them, and those running at its end.
    pub containers: Vec<super::engine::Container>,
    pub running: Vec<super::engine::Container>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRecord {
    pub template: String,
    pub pipeline: String,
    pub releases: Vec<ReleaseRecord>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub pipelines: Vec<PipelineRecord>,
    /// What ran on the Docker engine, or why nothing did and what was played instead.
    pub engine: String,
    pub on_engine: bool,
    pub ok: bool,
    pub duration_ms: u64,
}

/// Prints as things happen (or stays quiet).
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub quiet: bool,
}

impl Printer {
    pub fn line(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    pub fn step(&self, step: &Step) {
        let mark = match step.result.as_str() {
            "Succeeded" => "ok  ",
            "Failed" => "FAIL",
            _ => "--  ",
        };
        self.line(&format!(
            "  {mark} {:<8} {:<20} {:<9} {:>6}  {}",
            step.stage,
            step.action,
            step.result,
            seconds(Duration::from_millis(step.duration_ms)),
            one_line(&step.summary, 160)
        ));
        for d in &step.details {
            self.line(&format!("       {}", one_line(d, 200)));
        }
    }

    /// A line while something waits (a gate baking, a deployment going on).
    pub fn progress(&self, text: &str) {
        self.line(&format!("       .. {}", one_line(text, 180)));
    }
}

pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `text` on one line, cut to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

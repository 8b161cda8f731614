//! Prints a job's result the way the CodePipeline console shows it.

use crate::local_aws::{Call, JobReport, sequential_round_trips};
use std::fmt::Write;

/// Prints the answer of an invocation that no CodePipeline job stands behind: a lifecycle
/// hook's verdict or an event's result, and the AWS calls it made.
pub fn render_answer(function: &str, trigger: &str, answer: &str, calls: &[Call]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Function {function}, invoked as {trigger}");
    for line in answer.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let ops: Vec<String> = calls
        .iter()
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect();
    let _ = writeln!(
        out,
        "  AWS calls: {} in {} sequential round trips (+20 ms each): {}",
        calls.len(),
        sequential_round_trips(calls),
        ops.join(", ")
    );
    out
}

pub fn render(
    action: &str,
    job_id: &str,
    report: Option<&JobReport>,
    outputs: &[(String, Vec<String>)],
    calls: &[Call],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Action {action}, job {job_id}");
    match report {
        None => {
            let _ = writeln!(
                out,
                "  Status:   no result reported (the action would hang)"
            );
        }
        Some(JobReport::Failure { kind, message }) => {
            let _ = writeln!(out, "  Status:   Failed ({kind})");
            let _ = writeln!(out, "  Message:  {message}");
        }
        Some(JobReport::Success {
            summary,
            continuation_token: Some(_),
            percent_complete,
            ..
        }) => {
            let _ = writeln!(
                out,
                "  Status:   In progress ({}%)",
                percent_complete.unwrap_or(0)
            );
            let _ = writeln!(out, "  Summary:  {summary}");
        }
        Some(JobReport::Success {
            summary,
            output_variables,
            external_execution_id,
            ..
        }) => {
            let _ = writeln!(out, "  Status:   Succeeded");
            let _ = writeln!(out, "  Summary:  {summary}");
            if let Some(id) = external_execution_id {
                let _ = writeln!(out, "  Execution ID: {id}");
            }
            if let Some(vars) = output_variables.as_object().filter(|v| !v.is_empty()) {
                let _ = writeln!(out, "  Output variables:");
                let mut vars: Vec<_> = vars.iter().collect();
                vars.sort_by(|a, b| a.0.cmp(b.0));
                for (k, v) in vars {
                    let _ = writeln!(out, "    {k} = {}", v.as_str().unwrap_or_default());
                }
            }
        }
    }
    for (name, files) in outputs {
        let _ = writeln!(out, "  Output artifact {name}: {}", files.join(", "));
    }
    let work: Vec<Call> = calls
        .iter()
        .filter(|c| !c.operation.starts_with("PutJob"))
        .cloned()
        .collect();
    let ops: Vec<String> = work
        .iter()
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect();
    let _ = writeln!(
        out,
        "  AWS calls: {} in {} sequential round trips (+20 ms each; then the report): {}",
        work.len(),
        sequential_round_trips(&work),
        ops.join(", ")
    );
    out
}

//! Runs a handler's future so that whatever it does ends in a value: its output, a panic
//! caught, or the deadline reached.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{Instrument, error, warn};

/// How a guarded run ended.
#[derive(Debug)]
pub enum Ended<T> {
    Done(T),
    /// The handler panicked; the panic's message.
    Panicked(String),
    /// The deadline came first; how long the handler had run.
    TimedOut(Duration),
}

/// Runs `work` on its own task until `deadline`. A panic becomes [`Ended::Panicked`]
/// (the release profile unwinds for this); at the deadline the task is aborted.
pub async fn guarded<F>(work: F, deadline: Instant) -> Ended<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let started = Instant::now();
    let task = tokio::spawn(work.in_current_span());
    let abort = task.abort_handle();
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(out)) => Ended::Done(out),
        Ok(Err(join)) => {
            let why = if join.is_panic() {
                panic_message(join.into_panic())
            } else {
                "the task was cancelled".to_owned()
            };
            error!(panic = %why, "handler panicked");
            Ended::Panicked(why)
        }
        Err(_) => {
            abort.abort();
            warn!("deadline reached");
            Ended::TimedOut(started.elapsed())
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_owned()
    }
}

/// The answer text for a panic.
pub fn panic_text(name: &str, why: &str) -> String {
    format!(
        "{name} stopped on an internal error ({why}). This is a bug in the function; retry, and report it if it happens again"
    )
}

/// The answer text for a deadline reached.
pub fn timeout_text(name: &str, ran: Duration, kept: Duration) -> String {
    format!(
        "{name} ran out of time after {:.1}s, {:.1}s before its Lambda timeout (kept to answer). An AWS call was slow or unreachable; retry, or raise the function's timeout",
        ran.as_secs_f64(),
        kept.as_secs_f64()
    )
}

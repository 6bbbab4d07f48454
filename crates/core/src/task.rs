//! The one way the gateway starts a background task: named, and a panic inside it is logged
//! with the name instead of vanishing with the task.
//!
//! Why one helper: `tokio::spawn` is denied by `clippy.toml` everywhere else, so every task the
//! gateway runs is accounted for — a panicking accept-loop connection, health checker or log
//! flusher says which it was.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::task::JoinHandle;

/// Spawn `future` on the current runtime as task `name`; a panic is logged and the task ends.
#[allow(clippy::disallowed_methods)]
pub fn spawn<F>(name: &'static str, future: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(()) => {}
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic".to_owned());
                tracing::error!(task = name, panic = %what, "background task panicked");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_caught_and_others_go_on() {
        let bad = spawn("test-panics", async { panic!("boom") });
        assert!(
            bad.await.is_ok(),
            "the panic is caught and logged, not propagated"
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        spawn("test-answers", async move {
            let _ = tx.send(7);
        });
        assert_eq!(rx.await.unwrap(), 7);
    }
}

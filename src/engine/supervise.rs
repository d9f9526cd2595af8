//! Supervised background tasks: a task that panics is logged and started again (after a
//! short, growing pause), so one bad event cannot stop a channel's relay until a restart. A
//! task that returns is done. Aborting the supervisor's handle stops the task too.
//! [`spawn_subscribed`] does it for the channels' relays of the pipeline's events.

use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::broadcast::Receiver;
use tokio::task::JoinHandle;

use crate::engine::pipeline::{Pipeline, PipelineEvent};

/// The pause before the first restart; it doubles up to [`MAX_PAUSE`] while the task keeps
/// failing, and starts over once it has run for a minute.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(30);
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Aborts the task it holds when dropped (when the supervisor itself is aborted).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the task `make()` builds, and builds and runs a new one each time it panics. `name`
/// names it in the log.
pub fn spawn_supervised<F, Fut>(name: &'static str, mut make: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut pause = FIRST_PAUSE;
        loop {
            let started = std::time::Instant::now();
            let mut task = AbortOnDrop(tokio::spawn(make()));
            match (&mut task.0).await {
                Ok(()) => return,
                Err(e) if e.is_cancelled() => return,
                Err(e) => {
                    if started.elapsed() >= HEALTHY_AFTER {
                        pause = FIRST_PAUSE;
                    }
                    tracing::error!(task = name, error = %e, pause_ms = pause.as_millis() as u64,
                        "background task failed; restarting it");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    })
}

/// A supervised task that reads the pipeline's events: the first run reads `first` (a
/// subscription the caller made early, so no event after it is missed), and each restart
/// subscribes afresh to `pipeline`.
pub fn spawn_subscribed<F, Fut>(
    name: &'static str,
    pipeline: Arc<Pipeline>,
    first: Receiver<PipelineEvent>,
    mut make: F,
) -> JoinHandle<()>
where
    F: FnMut(Receiver<PipelineEvent>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut first = Some(first);
    spawn_supervised(name, move || {
        make(first.take().unwrap_or_else(|| pipeline.subscribe()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_a_finished_one_is_not() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let handle = spawn_supervised("test", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("bad event {n}");
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("the supervisor returns once the task finishes")
            .expect("the supervisor itself never fails");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "two panics, then a clean run"
        );
    }

    #[tokio::test]
    async fn aborting_the_supervisor_stops_the_task() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let handle = spawn_supervised("forever", move || {
            let tx = tx.clone();
            async move {
                let _tx = tx; // dropped only when this task stops
                std::future::pending::<()>().await;
            }
        });
        tokio::task::yield_now().await;
        handle.abort();
        let closed = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
        assert_eq!(
            closed,
            Ok(None),
            "the task's sender was dropped: it stopped"
        );
    }
}

//! The outbox publisher: a background task that sends the store's outbox to JetStream in
//! order, waits for each publish acknowledgement, and only then deletes the entry (see
//! [`super::outbox`] for why that survives `kill -9`). It creates the streams if missing, and
//! after any failure (NATS down, a stream missing) waits a moment and resumes from the outbox.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Context;

use super::outbox::{stream_config, subject, OutboxStream};
use crate::store::Store;

/// Held by the publisher across each batch (read, send, acknowledgements, deletion). A forget
/// takes it once after deleting the user's outbox entries and before looking for the user's
/// messages in the streams: a batch read before the forget has then reached the stream (where
/// the forget finds it), and every later batch no longer holds the user's entries.
pub type Gate = Arc<tokio::sync::Mutex<()>>;

/// Entries read from the outbox and published before their acknowledgements are awaited.
const BATCH: usize = 256;

/// How long the idle publisher waits before looking at the outbox again without a wake-up.
const IDLE: Duration = Duration::from_secs(1);

/// The longest wait after a failure before trying again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The next wait after a failure: doubling from 50 ms, at most [`MAX_BACKOFF`].
pub fn backoff(previous: Option<Duration>) -> Duration {
    previous
        .map_or(Duration::from_millis(50), |d| d * 2)
        .min(MAX_BACKOFF)
}

/// Publishes `store`'s outbox as `node` forever; `wake` is notified after each turn that wrote
/// entries.
pub async fn run(
    js: Context,
    store: Store,
    node: String,
    wake: Arc<tokio::sync::Notify>,
    gate: Gate,
) {
    let mut failed: Option<Duration> = None;
    let mut streams_ready = false;
    loop {
        if let Some(wait) = failed {
            tokio::time::sleep(wait).await;
        }
        if !streams_ready {
            match ensure_streams(&js).await {
                Ok(()) => streams_ready = true,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: cannot create the streams yet");
                    failed = Some(backoff(failed));
                    continue;
                }
            }
        }
        let published = {
            let _batch = gate.lock().await;
            publish_some(&js, &store, &node).await
        };
        match published {
            Ok(0) => {
                failed = None;
                // Nothing waiting: sleep until a turn writes entries (or a while passes).
                let _ = tokio::time::timeout(IDLE, wake.notified()).await;
            }
            Ok(_) => failed = None,
            Err(e) => {
                tracing::warn!(error = %e, pending = store.outbox_pending(), "cluster: publishing the outbox failed; retrying");
                // A stream deleted meanwhile answers "no responders": create it again.
                streams_ready = false;
                failed = Some(backoff(failed));
            }
        }
    }
}

async fn ensure_streams(js: &Context) -> Result<(), String> {
    for kind in [OutboxStream::Evidence, OutboxStream::Tickets] {
        js.get_or_create_stream(stream_config(kind))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Publishes up to [`BATCH`] entries, deleting each once acknowledged; returns how many.
async fn publish_some(js: &Context, store: &Store, node: &str) -> Result<usize, String> {
    let reader = store.clone();
    let batch = tokio::task::spawn_blocking(move || reader.outbox_batch(BATCH))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut pending = Vec::with_capacity(batch.len());
    let mut send_error = None;
    for (key, entry) in batch {
        let publish = PublishMessage::build()
            .payload(entry.payload.into_bytes().into())
            .message_id(entry.msg_id);
        match js.send_publish(subject(entry.stream, node), publish).await {
            Ok(ack) => pending.push((key, ack)),
            Err(e) => {
                send_error = Some(e.to_string());
                break;
            }
        }
    }
    // Acknowledged entries, in order, up to the first that was not.
    let mut acked = Vec::with_capacity(pending.len());
    let mut ack_error = None;
    for (key, ack) in pending {
        match ack.await {
            Ok(_) => acked.push(key),
            Err(e) => {
                ack_error = Some(e.to_string());
                break;
            }
        }
    }
    let done = acked.len();
    if done > 0 {
        let remover = store.clone();
        tokio::task::spawn_blocking(move || remover.outbox_remove(&acked))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    match ack_error.or(send_error) {
        Some(e) if done == 0 => Err(e),
        Some(e) => {
            tracing::debug!(error = %e, published = done, "cluster: part of a batch published");
            Ok(done)
        }
        None => Ok(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_limit() {
        let ms = Duration::from_millis;
        for (previous, next) in [
            (None, ms(50)),
            (Some(ms(50)), ms(100)),
            (Some(ms(800)), ms(1600)),
            (Some(ms(1600)), ms(2000)),
            (Some(ms(2000)), ms(2000)),
        ] {
            assert_eq!(backoff(previous), next, "{previous:?}");
        }
    }
}

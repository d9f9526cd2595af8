//! The HTTP/1.1 server under the application: accepts connections itself (with hyper) so that
//! slow and silent clients are cut off and the connections served at once are bounded.
//!
//! - A client has `http.header_timeout_secs` to send a request's headers, counted from
//!   connecting and again from each response on a kept-alive connection: half-sent headers,
//!   sockets that never send a byte and idle kept-alive connections are all closed then.
//! - A request may take `http.request_timeout_secs`, reading its body included (408 after).
//! - At most `http.max_connections` connections are served; one more is answered 503 and
//!   closed at once, so the server never runs out of file descriptors or memory for them.
//! - Every request carries `ConnectInfo<SocketAddr>` (the peer), which [`ClientAddr`] reads.
//! - Shutdown stops accepting, lets requests in flight finish and closes idle connections.
//!
//! [`ClientAddr`]: crate::http::client::ClientAddr

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::catalog::settings::HttpSettings;

/// What a connection over the cap is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 53\r\n\
\r\n\
{\"error\":\"the server is busy; try again in a moment\"}";

/// Serves `router` on `listener` until `shutdown` completes, then drains: stops accepting,
/// lets requests in flight finish and closes idle connections (the caller bounds the wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: &HttpSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(http.header_timeout_secs))
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(http.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(&stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Over the cap: say so, if the socket takes it without waiting, and close.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(OVER_CAPACITY);
    tracing::debug!("connection refused: http.max_connections reached");
}

/// A failed `accept`: out of file descriptors or memory most likely; wait a little, so the
/// loop does not spin while connections close.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(OVER_CAPACITY).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 503 "));
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.parse::<usize>().ok());
        assert_eq!(length, Some(body.len()));
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}

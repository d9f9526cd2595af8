//! The HTTP/1.1 server under the application: accepts connections itself (with hyper) so that
//! slow and silent clients are cut off and the connections served at once are bounded.
//!
//! - A client has `http.header_timeout_secs` to send a request's headers, counted from
//!   connecting and again from each response on a kept-alive connection: half-sent headers,
//!   sockets that never send a byte and idle kept-alive connections are all closed then.
//! - A request may take `http.request_timeout_secs`, reading its body included (408 after),
//!   and a response write that makes no progress for as long (a client that stops reading) ends
//!   the connection.
//! - At most `http.max_connections` connections are served, and at most
//!   `http.max_connections_per_address` from one client address (trusted proxies excepted);
//!   one more is answered 503 and closed at once, so the server never runs out of file
//!   descriptors or memory for them and one client cannot hold them all.
//! - Every request carries `ConnectInfo<SocketAddr>` (the peer), which [`ClientAddr`] reads.
//! - Shutdown stops accepting, lets requests in flight finish and closes idle connections.
//!
//! [`ClientAddr`]: crate::http::client::ClientAddr

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::catalog::settings::HttpSettings;
use crate::engine::address_limit::OpenConnections;

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
    let write_stall = Duration::from_secs(http.request_timeout_secs);
    let slots = Arc::new(Semaphore::new(http.max_connections.max(1)));
    let per_address = OpenConnections::new(http.max_connections_per_address);
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
        let trusted = http.trusted_proxies.iter().any(|r| r.contains(peer.ip()));
        let held = match trusted {
            true => None,
            false => match per_address.enter(peer.ip()) {
                Some(held) => Some(held),
                None => {
                    refuse(&stream);
                    continue;
                }
            },
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
        let io = TokioIo::new(WriteDeadline::new(stream, write_stall));
        let connection = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop((slot, held));
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A stream whose writes fail (`TimedOut`) once one has made no progress for `limit`: a
/// client that stops reading its responses cannot hold a connection forever.
struct WriteDeadline {
    inner: TcpStream,
    limit: Duration,
    /// Running while a write waits for the client.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        WriteDeadline {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After an inner write: progress clears the deadline; waiting starts it (or checks it).
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Over the cap: say so, if the socket takes it without waiting, and close.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(OVER_CAPACITY);
    tracing::debug!("connection refused: http.max_connections or its share per address reached");
}

/// Files the process needs besides client connections (the store, the listener, the control
/// socket, outgoing connections to chat platforms), with room to spare.
const FILES_BESIDES_CONNECTIONS: u64 = 128;

/// A warning when `max_connections` cannot all be open under the process's open-file limit
/// (Linux: read from `/proc/self/limits`), so the cap would not be what stops a flood.
pub fn connection_cap_warning(max_connections: usize) -> Option<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    cap_warning(max_connections, soft_open_file_limit(&limits)?)
}

/// The soft "Max open files" limit in `/proc/self/limits` text (`None`: unlimited or absent).
fn soft_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn cap_warning(max_connections: usize, open_files: u64) -> Option<String> {
    let room = open_files.saturating_sub(FILES_BESIDES_CONNECTIONS);
    (max_connections as u64 > room).then(|| {
        format!(
            "http.max_connections is {max_connections} but the open-file limit is {open_files}: \
             raise it (`ulimit -n`, LimitNOFILE=) to at least {}, or lower \
             http.max_connections to {room}",
            max_connections as u64 + FILES_BESIDES_CONNECTIONS
        )
    })
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

    #[test]
    fn the_cap_must_fit_under_the_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             96369                96369                processes\n\
                      Max open files            256                  4096                 files\n";
        assert_eq!(soft_open_file_limit(limits), Some(256));
        assert_eq!(
            soft_open_file_limit("Max open files  unlimited  unlimited  files"),
            None
        );
        assert_eq!(soft_open_file_limit(""), None);
        let warning = cap_warning(512, 256).unwrap_or_default();
        assert!(
            warning.contains("at least 640") && warning.contains("to 128"),
            "{warning}"
        );
        assert_eq!(cap_warning(512, 1024), None);
        assert_eq!(cap_warning(512, 640), None);
        assert!(cap_warning(1, 100).is_some());
    }
}

//! A server on an ephemeral loopback port over a fresh store, and raw HTTP/1.1 helpers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::engine::AppState;
use personabot::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running server; stops with the test's runtime.
pub(crate) struct Server {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server with the settings `env` gives (`PERSONABOT__...` variables).
    pub(crate) async fn start(env: &[(&str, &str)]) -> Server {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let settings = Settings::load_with_env(None, Some(env)).expect("settings");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some("server-limits-key")).expect("store");
        let pipeline = Arc::new(crate::support::pipeline_on(store));
        let http = settings.http.clone();
        let state = AppState::new(pipeline, Arc::new(settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = app::app(state);
        tokio::spawn(
            async move { app::serve(listener, router, &http, std::future::pending()).await },
        );
        Server {
            addr,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET /healthz` on a new connection: its status.
    pub(crate) async fn healthz(&self) -> Option<u16> {
        let response = tokio::time::timeout(
            Duration::from_secs(30),
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .ok()?
                .get(self.url("/healthz"))
                .send(),
        )
        .await
        .ok()?
        .ok()?;
        Some(response.status().as_u16())
    }

    /// A raw connection to the server.
    pub(crate) async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect")
    }

    /// A raw connection from another loopback address (`127.0.0.2`...: all of 127/8 is this
    /// machine), so the server sees another client.
    pub(crate) async fn connect_from(&self, local: [u8; 4]) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(std::net::SocketAddr::from((local, 0)))
            .expect("bind a loopback address");
        socket.connect(self.addr).await.expect("connect")
    }
}

/// Reads until the server closes the connection (end of stream or an error), at most `bound`:
/// what was read, or `None` when the connection was still open after `bound`.
pub(crate) async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let reading = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, reading).await.ok()?;
    Some(got)
}

/// Sends `bytes` on a new connection.
pub(crate) async fn send(server: &Server, bytes: &[u8]) -> TcpStream {
    let mut stream = server.connect().await;
    stream.write_all(bytes).await.expect("write");
    stream
}

//! Shared helpers of the channels: the served app on a loopback port, settings from env pairs,
//! waiting for counts to settle, quiet logs, and JSON error answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::engine::pipeline::Pipeline;
use personabot::engine::AppState;
use personabot::store::Store;

use crate::support;
use crate::table::FLOOD_WINDOW_SECS;
use crate::verdict::Seen;

/// Polls `count` until it reaches `want`, then until it has not changed for a quiet while;
/// gives up at `timeout` (the verdict then names what is missing).
pub(crate) async fn settle(count: impl Fn() -> usize, want: usize, timeout: Duration) {
    const QUIET: Duration = Duration::from_millis(400);
    let deadline = Instant::now() + timeout;
    let mut last = count();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let now = count();
        if now != last {
            last = now;
            since = Instant::now();
        }
        if (now >= want && since.elapsed() >= QUIET) || Instant::now() > deadline {
            return;
        }
    }
}

pub(crate) fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([
            (
                "PERSONABOT__LIMITS__FLOOD_WINDOW_SECS".to_string(),
                FLOOD_WINDOW_SECS.to_string(),
            ),
            // Every case comes from one address (loopback): the per-user flood limit is what the
            // matrix checks; the per-address limit is tested in tests/server_limits.
            (
                "PERSONABOT__LIMITS__ADDRESS_REQUESTS".to_string(),
                "1000000".to_string(),
            ),
        ])
        .collect()
}

pub(crate) fn quiet_logs_and_no_proxy() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    std::env::set_var("no_proxy", "127.0.0.1,localhost");
}

/// A server (`app::app`) on a loopback port over a fresh store, as `serve` runs it.
pub(crate) struct Served {
    pub(crate) url: String,
    pub(crate) state: AppState,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Served {
    pub(crate) async fn start(settings: Settings) -> Served {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some("bad-input-key")).expect("store");
        let pipeline = Arc::new(pipeline_with(store, &settings));
        let state = AppState::new(pipeline, Arc::new(settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = app::app(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Served {
            url,
            state,
            server,
            _dir: dir,
        }
    }

    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.state.pipeline
    }

    /// Whether the server still answers `/healthz`.
    pub(crate) async fn healthy(&self, client: &reqwest::Client) -> bool {
        match client.get(format!("{}/healthz", self.url)).send().await {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A pipeline over the shipped catalog with these settings.
pub(crate) fn pipeline_with(store: Store, settings: &Settings) -> Pipeline {
    support::pipeline_with_settings(settings, store)
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Reads a 4xx answer as (status, `error`), or a problem when it is not a JSON error.
pub(crate) fn json_error(status: u16, body: &str, seen: &mut Seen) {
    match serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
    {
        Some(e) => seen.errors.push((Some(status), e)),
        None => {
            seen.errors.push((Some(status), String::new()));
            seen.problem(format!("{status} without a JSON error: {body:.100}"));
        }
    }
}

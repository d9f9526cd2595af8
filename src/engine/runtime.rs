//! The runtime every channel hands its messages to: [`AppState`] holds the pipeline, the
//! settings, the per-user flood limit, the bound on turns running at once, the metrics, the
//! status of the rules in use, and the count of channel work shutdown waits for.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::catalog::settings::Settings;
use crate::engine::address_limit::{AddressGate, AddressVerdict};
use crate::engine::flood::{FloodGate, FloodVerdict};
use crate::engine::metrics::Metrics;
use crate::engine::pipeline::{Inbound, Mode, Outcome, Pipeline, PipelineError};
use crate::store::now_ms;

/// Everything a request handler needs; cheap to clone (one reference count: every extractor
/// and middleware of a request clones it).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub pipeline: Arc<Pipeline>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// The outcome of the last catalog reload (`serve` reloads on file changes and SIGHUP).
    pub reload: Arc<ReloadState>,
    /// Channel work running in the background (see [`Handlers`]).
    pub handlers: Arc<Handlers>,
    limiter: Arc<Mutex<FloodGate>>,
    /// The key web visitor tokens are signed with, read from the store at first use.
    pub visitor_key: Arc<std::sync::OnceLock<[u8; 32]>>,
    /// Failed sign-ins per client address (see [`crate::http::auth`]).
    pub(crate) sign_in_failures: Arc<Mutex<AddressGate>>,
    /// The per-client-address limit on the endpoints anyone can call.
    addresses: Arc<Mutex<AddressGate>>,
    /// Bounds the turns running at once: more threads than cores only contend on the store.
    turns: Arc<tokio::sync::Semaphore>,
    started: Instant,
    /// Set once when the server begins to shut down: long-lived responses (the agents'
    /// `GET /v1/events` streams) end then, so the drain does not wait for them.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Cluster mode's state, once `serve` started it (`/healthz`, `/metrics`).
    pub cluster: Arc<std::sync::OnceLock<crate::cluster::Status>>,
}

/// Channel work still running after its request was answered (a webhook update handled after
/// its 200, a polled Telegram update, a Discord event): shutdown waits for it before flushing
/// the store, so a stored turn's reply is not cut off.
#[derive(Debug, Default)]
pub struct Handlers {
    running: std::sync::atomic::AtomicUsize,
}

/// One running handler; dropping it (the work finished, or its task was cancelled) counts it out.
#[derive(Debug)]
pub struct HandlerGuard(Arc<Handlers>);

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        self.0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Handlers {
    /// Counts one handler in until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> HandlerGuard {
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        HandlerGuard(self.clone())
    }

    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until no handler runs, at most `bound`; returns how many still run.
    pub async fn wait_idle(&self, bound: Duration) -> usize {
        let deadline = Instant::now() + bound;
        while self.running() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.running()
    }
}

/// What to do with a customer's message under the flood limit ([`AppState::admit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Allow,
    /// Over the limit for the first time this window: send this notice, do not process.
    Notify(String),
    /// Over the limit again: drop quietly.
    Drop,
}

/// Turns running at once (each holds its conversation's lock while its write is committed).
const CONCURRENT_TURNS: usize = 64;

/// Failed sign-ins one address may make per minute before it is refused (429).
const SIGN_IN_FAILURES: u32 = 5;

impl AppState {
    pub fn new(pipeline: Arc<Pipeline>, settings: Arc<Settings>) -> AppState {
        let limiter = FloodGate::new(
            settings.limits.flood_messages,
            Duration::from_secs(u64::from(settings.limits.flood_window_secs)),
        );
        let addresses = AddressGate::new(
            settings.limits.address_requests,
            Duration::from_secs(u64::from(settings.limits.address_window_secs)),
        );
        AppState(Arc::new(Shared {
            pipeline,
            metrics: Arc::new(Metrics::new(settings.bridges.keys())),
            settings,
            reload: Arc::default(),
            handlers: Arc::default(),
            limiter: Arc::new(Mutex::new(limiter)),
            visitor_key: Arc::default(),
            sign_in_failures: Arc::new(Mutex::new(AddressGate::with_cap(
                SIGN_IN_FAILURES,
                Duration::from_secs(60),
                10_000,
            ))),
            addresses: Arc::new(Mutex::new(addresses)),
            turns: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_TURNS)),
            started: Instant::now(),
            closing: tokio::sync::watch::channel(false).0,
            cluster: Arc::default(),
        }))
    }

    /// Counts a message from `channel`/`user` against the per-user rate limit.
    pub fn allow(&self, channel: &str, user: &str) -> bool {
        matches!(self.admit(channel, user), Admission::Allow)
    }

    /// Counts a message from `channel`/`user` against the per-user flood limit: the first message
    /// over it in a window gets the notice to send, the rest of the window is dropped.
    pub(crate) fn admit(&self, channel: &str, user: &str) -> Admission {
        let key = format!("{channel}\u{0}{user}");
        let mut gate = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        match gate.check(&key, Instant::now()) {
            FloodVerdict::Allow => Admission::Allow,
            FloodVerdict::Notify => Admission::Notify(gate.notice()),
            FloodVerdict::Drop => Admission::Drop,
        }
    }

    /// Counts a request from the client address `ip` against the per-address limit.
    pub fn admit_address(&self, ip: std::net::IpAddr) -> AddressVerdict {
        let mut gate = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        gate.check(ip, Instant::now())
    }

    /// Runs a message through the pipeline, and counts it in the metrics.
    pub async fn handle(&self, inbound: Inbound, mode: Mode) -> Result<Outcome, PipelineError> {
        let started = Instant::now();
        let channel = inbound.channel.clone();
        let _permit = self
            .turns
            .acquire()
            .await
            .map_err(|_| PipelineError::Unavailable("the server is shutting down".into()))?;
        let outcome = self.pipeline.handle_async(&inbound, mode).await?;
        if outcome.interaction.is_some() {
            let d = &outcome.decision;
            self.metrics.message(
                &channel,
                d.kind.as_str(),
                d.persona.as_ref().map(|p| p.id.as_str()),
                d.intent.as_ref().map(|i| i.id.as_str()),
                started.elapsed(),
            );
        }
        Ok(outcome)
    }

    /// How long this runtime has been up.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Runs blocking work (sled) off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Pipeline) -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        let pipeline = self.pipeline.clone();
        tokio::task::spawn_blocking(move || f(&pipeline)).await
    }
}

/// The outcome of the last reload, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadStatus {
    /// False while the files on disk are broken (the previous rules keep serving).
    pub ok: bool,
    /// Rules swapped in so far (1: those loaded at start).
    pub generation: u64,
    /// When the serving rules were loaded (ms since the epoch).
    pub loaded_ms: u64,
    /// Reloads tried (after the start), and how many failed.
    pub attempts: u64,
    pub failures: u64,
    /// The last failure's errors, as `personabot check` prints them (empty when `ok`).
    pub errors: Vec<String>,
    /// Settings sections changed on disk that only a restart applies.
    pub restart_needed: Vec<String>,
}

impl Default for ReloadStatus {
    fn default() -> Self {
        ReloadStatus {
            ok: true,
            generation: 1,
            loaded_ms: now_ms(),
            attempts: 0,
            failures: 0,
            errors: Vec::new(),
            restart_needed: Vec::new(),
        }
    }
}

/// The shared, current [`ReloadStatus`].
#[derive(Debug, Default)]
pub struct ReloadState(Mutex<ReloadStatus>);

impl ReloadState {
    pub fn get(&self) -> ReloadStatus {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut ReloadStatus)) -> ReloadStatus {
        let mut status = self.0.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut status);
        status.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn handlers_are_counted_until_their_guards_drop() {
        let handlers = Arc::new(Handlers::default());
        let (a, b) = (handlers.enter(), handlers.enter());
        assert_eq!(handlers.running(), 2);
        drop(a);
        assert_eq!(handlers.wait_idle(Duration::from_millis(20)).await, 1);
        let waiter = tokio::spawn({
            let handlers = handlers.clone();
            async move { handlers.wait_idle(Duration::from_secs(10)).await }
        });
        drop(b);
        assert_eq!(waiter.await.unwrap(), 0);
    }
}

//! `personabot serve`: runs the channels that are configured, plus the retention task, the
//! catalog reloader (file changes and SIGHUP) and the control socket the store commands use
//! beside it, until Ctrl-C or SIGTERM, then shuts down cleanly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::channels;
use personabot::engine::pipeline::Pipeline;
use personabot::engine::supervise::spawn_supervised;
use personabot::engine::AppState;
use personabot::ops::reload::{self, ReloadSource, ReloadState};
use personabot::store::now_ms;

use super::control::ControlSocket;

/// Serves until stopped; `data` is the store's folder, where the control socket goes.
pub(crate) fn run(
    pipeline: Arc<Pipeline>,
    settings: Settings,
    source: ReloadSource,
    data: PathBuf,
) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(pipeline, Arc::new(settings), source, data))
}

async fn serve(
    pipeline: Arc<Pipeline>,
    settings: Arc<Settings>,
    source: ReloadSource,
    data: PathBuf,
) -> Result<ExitCode> {
    let stop = shutdown_signal()?;
    let hangup = Hangup::install()?;
    // Watching starts before the server answers, so a change made once it is up is never missed.
    let watching = match reload::watch(&source) {
        Ok((watcher, changes)) => (Some(watcher), changes),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the catalog files; SIGHUP still reloads");
            (None, tokio::sync::mpsc::channel(1).1)
        }
    };
    let listener = tokio::net::TcpListener::bind(&settings.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.http.listen))?;
    let address = listener.local_addr().context("no local address")?;
    if let Some(warning) =
        personabot::http::server::connection_cap_warning(settings.http.max_connections)
    {
        eprintln!("personabot: warning: {warning}");
    }
    let state = AppState::new(pipeline.clone(), settings.clone());
    if settings.cluster.url().is_some() {
        let status = personabot::cluster::start(&settings.cluster, pipeline.store())
            .await
            .context("cannot start cluster mode")?;
        eprintln!(
            "personabot: cluster node {} (index {})",
            status.node().node,
            status.node().index
        );
        status.keep_for(personabot::ops::retention::Windows::of(&settings.store));
        let _ = state.cluster.set(status);
        // Other nodes' agents act on this node's tickets through it.
        personabot::http::desk_cluster::serve_desk(&state);
    }
    let app = app::app(state.clone());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_settings = settings.http.clone();
    let http = tokio::spawn(async move {
        app::serve(listener, app, &http_settings, async {
            let _ = http_stopped.await;
        })
        .await
    });
    eprintln!("personabot: web chat at http://{address}/");
    let has_accounts = pipeline
        .store()
        .accounts()
        .is_ok_and(|accounts| !accounts.is_empty());
    if has_accounts
        || settings
            .http
            .agent_token
            .as_deref()
            .is_some_and(|t| !t.is_empty())
    {
        eprintln!("personabot: agent queue at http://{address}/agent");
    } else {
        eprintln!(
            "personabot: agent queue is off: add an account (`personabot agents add NAME`) or set \
             PERSONABOT__HTTP__AGENT_TOKEN to turn it on"
        );
    }
    let retention = {
        let pipeline = pipeline.clone();
        let windows = personabot::ops::retention::Windows::of(&settings.store);
        spawn_supervised("retention", move || {
            personabot::ops::retention::run(
                pipeline.clone(),
                windows,
                personabot::ops::retention::EVERY,
                now_ms,
            )
        })
    };
    let reloader = tokio::spawn(reload_on_change(
        pipeline.clone(),
        settings.clone(),
        source,
        state.reload.clone(),
        hangup,
        watching,
    ));
    let channels = channels::start_all(state.clone()).await?;
    // Without the socket the bot still serves; the store commands then wait for it to stop.
    let control = match ControlSocket::listen(&data, pipeline.clone(), state.handlers.clone()) {
        Ok(socket) => Some(socket),
        Err(e) => {
            eprintln!(
                "personabot: no control socket ({e:#}): store commands cannot run beside this serve"
            );
            None
        }
    };
    eprintln!("personabot: serving; Ctrl-C to stop");
    stop.await;
    eprintln!("personabot: shutting down (a second Ctrl-C or SIGTERM stops at once)");
    // A second signal during the drain: stop now. Every acknowledged turn is already durable;
    // what is lost is replies still being sent.
    let again = shutdown_signal()?;
    tokio::spawn(async move {
        again.await;
        eprintln!("personabot: second signal: exiting without waiting");
        std::process::exit(130);
    });
    retention.abort();
    reloader.abort();
    if let Some(socket) = control {
        socket.stop();
    }
    // Stop taking requests and messages on every channel at once, and let those in flight
    // finish (bounded).
    let _ = stop_http.send(());
    // The agents' event streams would hold the drain open: end them now.
    state.closing.send_replace(true);
    let http_drained = async {
        match tokio::time::timeout(Duration::from_secs(10), http).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server error"),
            Ok(Err(e)) => tracing::error!(error = %e, "HTTP server task failed"),
            Err(_) => tracing::warn!("HTTP requests still running after 10 s; stopping anyway"),
        }
    };
    tokio::join!(http_drained, channels::stop_all(channels));
    // Slack and Telegram updates answered (200) before the signal may still be running.
    let still = state.handlers.wait_idle(Duration::from_secs(10)).await;
    if still > 0 {
        tracing::warn!(
            handlers = still,
            "channel handlers still running after 10 s; stopping anyway"
        );
    }
    let store = pipeline.store().clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .context("flush task failed")?
        .context("cannot flush the evidence store")?;
    Ok(ExitCode::SUCCESS)
}

/// Reloads the catalog and settings when their files change (after they settle) or on
/// SIGHUP; see [`reload`].
async fn reload_on_change(
    pipeline: Arc<Pipeline>,
    running: Arc<Settings>,
    source: ReloadSource,
    state: Arc<ReloadState>,
    mut hangup: Hangup,
    watching: (
        Option<notify::RecommendedWatcher>,
        tokio::sync::mpsc::Receiver<()>,
    ),
) {
    // The watcher stops when dropped: keep it for the life of this task.
    let (_watcher, mut changes) = watching;
    let source = Arc::new(source);
    loop {
        tokio::select! {
            Some(()) = changes.recv() => {
                // Let the editor finish: one reload for a burst of writes.
                tokio::time::sleep(reload::SETTLE).await;
                while changes.try_recv().is_ok() {}
                tracing::info!("catalog files changed: reloading");
            }
            () = hangup.recv() => tracing::info!("SIGHUP: reloading"),
        }
        let (p, r, s, st) = (
            pipeline.clone(),
            running.clone(),
            source.clone(),
            state.clone(),
        );
        let _ = tokio::task::spawn_blocking(move || reload::reload(&s, &p, &r, &st)).await;
    }
}

/// SIGHUP, which asks for a reload (never received off Unix).
struct Hangup {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangup {
    /// Installs the handler now, so a SIGHUP after startup is never missed.
    fn install() -> Result<Hangup> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
            Ok(Hangup { signal })
        }
        #[cfg(not(unix))]
        Ok(Hangup {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// Waits for Ctrl-C or SIGTERM. The handlers are installed when this is called (not when the
/// future is first polled), so call it before announcing that the server is up.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

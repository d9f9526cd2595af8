//! A real `nats-server -js` for integration tests, on a free 127.0.0.1 port with its JetStream
//! store in a temporary folder; killed when dropped. It can be stopped and started again on
//! the same port and store, as a NATS outage and recovery.
//!
//! Include it with `#[path = "support/nats.rs"] mod nats;`.

#![allow(dead_code)] // each test crate uses a different part of this module

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or stopped) `nats-server -js`.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    log: PathBuf,
    /// Extra arguments (e.g. `--user`, `--pass`).
    args: Vec<String>,
}

/// The `nats-server` binary: on PATH, else Debian's /usr/sbin/nats-server.
pub fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    let found = on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/nats-server");
        debian.is_file().then_some(debian)
    });
    found.unwrap_or_else(|| {
        panic!(
            "nats-server is not installed (not on PATH, not /usr/sbin/nats-server): \
             `apt-get install nats-server` (the cluster tests run a real one)"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl NatsServer {
    /// Starts a server with JetStream on a free port and a fresh store; waits until it
    /// accepts connections.
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// [`start`](Self::start) with extra `nats-server` arguments.
    pub fn start_with(args: &[&str]) -> NatsServer {
        let store = tempfile::tempdir().expect("a temp dir for JetStream");
        let log = store.path().join("nats-server.log");
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store,
            log,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.restart();
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store folder (kept across restarts).
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and waits for it: the port refuses connections afterwards.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and store; waits until it accepts
    /// connections.
    pub fn restart(&mut self) {
        self.stop();
        let data = self.store.path().join("jetstream");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut child = Command::new(binary())
                .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
                .arg("-sd")
                .arg(&data)
                .arg("-l")
                .arg(&self.log)
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: e.g. the port is still held a moment; try again
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    self.child = Some(child);
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "nats-server did not accept connections on {addr} within {START_TIMEOUT:?}; \
                     log:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                Instant::now() < deadline,
                "nats-server kept exiting on port {}; log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A one-thread runtime for the tests' async-nats calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Every message of `stream` on `subject` (any subject when `None`), as raw payloads.
pub fn read_stream(url: &str, stream: &str, subject: Option<&str>) -> Vec<String> {
    runtime().block_on(async {
        let Ok(client) = async_nats::connect(url).await else {
            return Vec::new();
        };
        let js = async_nats::jetstream::new(client);
        let Ok(mut stream) = js.get_stream(stream).await else {
            return Vec::new();
        };
        let Ok(info) = stream.info().await else {
            return Vec::new();
        };
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        let mut out = Vec::new();
        for seq in first.max(1)..=last {
            // A deleted message leaves a gap.
            let Ok(message) = stream.get_raw_message(seq).await else {
                continue;
            };
            if subject.is_none_or(|s| message.subject.as_str() == s) {
                out.push(String::from_utf8_lossy(&message.payload).into_owned());
            }
        }
        out
    })
}

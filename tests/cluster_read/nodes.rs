//! Helpers for cluster tests: nodes, customers' messages, the owner's commands run against the
//! cluster alone, and the streams read directly.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use crate::nats::read_stream;
use crate::serve_process::{bridge_post, request, ServeProcess};

/// Bound of every "eventually" wait.
pub const WAIT: Duration = Duration::from_secs(30);

/// A message that opens a billing ticket.
pub const REFUND: &str = "I want a refund for last month's invoice, please";

/// The agent token of [`node_with_agents`] nodes.
pub const AGENT_TOKEN: &str = "cluster-read-agent-token-0123";

/// A `serve` node `name` on `data`, in the cluster at `url`.
pub fn node(data: &Path, url: &str, name: &str) -> ServeProcess {
    node_with(data, url, name, &[])
}

/// A node whose agent API takes [`AGENT_TOKEN`].
pub fn node_with_agents(data: &Path, url: &str, name: &str) -> ServeProcess {
    node_with(
        data,
        url,
        name,
        &[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)],
    )
}

/// A node keeping evidence `days` days (`store.retention_days`).
pub fn node_with_retention(data: &Path, url: &str, name: &str, days: &str) -> ServeProcess {
    node_with(
        data,
        url,
        name,
        &[("PERSONABOT__STORE__RETENTION_DAYS", days)],
    )
}

fn node_with(data: &Path, url: &str, name: &str, extra: &[(&str, &str)]) -> ServeProcess {
    let mut env = vec![
        ("PERSONABOT__CLUSTER__NATS_URL", url),
        ("PERSONABOT__CLUSTER__NODE", name),
    ];
    env.extend_from_slice(extra);
    let serve = ServeProcess::start(data, &env);
    serve.wait_stderr(&format!("cluster node {name} (index"), WAIT);
    serve
}

/// Posts `text` from `user` in `conversation`; returns the answer (status 200 asserted).
pub fn say_as(serve: &ServeProcess, user: &str, conversation: &str, text: &str) -> Value {
    let body = json!({"user": user, "conversation": conversation, "text": text});
    let (status, answer) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
    assert_eq!(status, 200, "{answer}");
    answer
}

pub fn health(serve: &ServeProcess) -> Value {
    let (status, body) = request(serve.addr(), "GET", "/healthz", None).expect("healthz");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("healthz JSON")
}

/// Waits until `serve`'s outbox is published.
pub fn wait_outbox_empty(serve: &ServeProcess) {
    let deadline = Instant::now() + WAIT;
    loop {
        let health = health(serve);
        if health["cluster"]["outbox"] == 0 && health["cluster"]["connected"] == true {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not drain within {WAIT:?}: {health}; stderr:\n{}",
            serve.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a command printed.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// `personabot --data <missing folder> --catalog <repo> ARGS` with only `env` as settings
/// (every `PERSONABOT*` variable of the test's environment removed): a command that must not
/// need any node's files.
pub fn command(env: &[(&str, &str)], args: &[&str]) -> Run {
    let root = env!("CARGO_MANIFEST_DIR");
    let nowhere = tempfile::tempdir().expect("temp dir");
    let missing = nowhere.path().join("no-such-data-folder");
    run_with(&missing, nowhere.path(), env, &["--catalog", root], args)
}

/// `personabot --data DATA EXTRA ARGS` in `cwd` with only `env` as settings.
pub fn run_with(
    data: &Path,
    cwd: &Path,
    env: &[(&str, &str)],
    extra: &[&str],
    args: &[&str],
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_personabot"));
    cmd.arg("--data")
        .arg(data)
        .args(extra)
        .args(args)
        .current_dir(cwd);
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("RUST_LOG", "warn");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PERSONABOT") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("personabot runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `evidence export` of the whole cluster at `url`, with no data folder: one JSON value per line.
pub fn cluster_export(url: &str) -> Vec<Value> {
    let run = command(
        &[("PERSONABOT__CLUSTER__NATS_URL", url)],
        &["evidence", "export"],
    );
    assert!(run.ok, "export failed: {run:?}");
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Waits until `check` holds, for at most [`WAIT`]; `what` says what was awaited.
pub fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + WAIT;
    loop {
        match check() {
            Ok(()) => return,
            Err(last) if Instant::now() > deadline => {
                panic!("{what}: not within {WAIT:?}: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The needles found anywhere in the raw bytes of the files under `dir`.
pub fn found_in_files(dir: &Path, needles: &[String]) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let contents: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    needles
        .iter()
        .filter(|n| {
            contents
                .iter()
                .any(|c| c.windows(n.len()).any(|w| w == n.as_bytes()))
        })
        .cloned()
        .collect()
}

//! `personabot serve` as a process: without a token it runs without Discord and says so once;
//! with a token (and the API base pointing at the fake Discord) it connects; SIGTERM stops it
//! cleanly with exit code 0.

#[path = "support/fake_discord/mod.rs"]
mod fake_discord;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fake_discord::FakeDiscord;

const BIN: &str = env!("CARGO_BIN_EXE_personabot");

/// Starts `serve` and returns the child and a channel of its stderr lines.
fn serve(data: &std::path::Path, env: &[(&str, &str)]) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(["--data"])
        .arg(data)
        .args([
            "--catalog",
            env!("CARGO_MANIFEST_DIR"),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("DISCORD_TOKEN")
        .env_remove("PERSONABOT__DISCORD__TOKEN")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Lines until one contains `needle` (or the timeout).
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }
    panic!("no line containing {needle:?}; saw {seen:?}");
}

fn terminate(child: &mut Child) -> i32 {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().expect("exited, not killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().ok();
    panic!("serve did not stop within 10 s of SIGTERM");
}

#[test]
fn serve_without_a_token_says_discord_is_off_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = serve(dir.path(), &[]);
    let lines = wait_line(&rx, "serving");
    let off = lines
        .iter()
        .filter(|l| l.contains("Discord is off"))
        .count();
    assert_eq!(off, 1, "said once: {lines:?}");
    assert_eq!(terminate(&mut child), 0);
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        !rest.iter().any(|l| l.contains("Discord is off")),
        "{rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_token_connects_to_discord_and_closes_cleanly() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = fake.base_url();
    let (mut child, rx) = serve(
        dir.path(),
        &[
            ("PERSONABOT__DISCORD__TOKEN", "secret-token-xyz"),
            ("PERSONABOT__DISCORD__API_BASE", &base),
        ],
    );
    fake.wait_ready(Duration::from_secs(20)).await;
    let identify = fake.last_identify().expect("identified");
    assert_eq!(identify["token"], "Bot secret-token-xyz");
    let lines = tokio::task::spawn_blocking(move || (wait_line(&rx, "serving"), rx))
        .await
        .unwrap();
    let (lines, rx) = lines;
    assert!(
        lines.iter().any(|l| l.contains("Discord channel on")),
        "{lines:?}"
    );
    let code = tokio::task::spawn_blocking(move || terminate(&mut child))
        .await
        .unwrap();
    assert_eq!(code, 0);
    let all: Vec<String> = lines.into_iter().chain(rx.try_iter()).collect();
    assert!(
        !all.iter().any(|l| l.contains("secret-token-xyz")),
        "the token is never logged: {all:?}"
    );
}

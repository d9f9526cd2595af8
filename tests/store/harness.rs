//! Shared helpers: the real `personabot chat --json` process (spawned, acknowledged, killed)
//! and a pipeline over a store in a folder.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use personabot::catalog::settings::USER_HASH_KEY_ENV;
use personabot::engine::pipeline::{Inbound, Outcome, Pipeline};
use personabot::store::{Interaction, Store, StoreError};
use serde_json::Value;

use crate::support::pipeline_on;

pub(crate) const CHANNEL: &str = "terminal";
const ACK_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a restarted `personabot` may find the store still locked by the one just killed.
const LOCK_WAIT: Duration = Duration::from_secs(5);

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `personabot chat --json` with its stdout read line by line on a thread, so every
/// read has a timeout and a hung child fails the test instead of hanging it.
pub(crate) struct ChatProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

impl ChatProcess {
    pub(crate) fn spawn(data: &Path, conversation: &str, user: &str) -> ChatProcess {
        Self::spawn_logging(data, conversation, user, Stdio::null())
    }

    fn spawn_logging(data: &Path, conversation: &str, user: &str, stderr: Stdio) -> ChatProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_personabot"))
            .current_dir(manifest_dir())
            .arg("--catalog")
            .arg(manifest_dir())
            .arg("--data")
            .arg(data)
            .args([
                "chat",
                "--json",
                "--conversation",
                conversation,
                "--user",
                user,
            ])
            .env_remove(USER_HASH_KEY_ENV)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn personabot");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChatProcess {
            child,
            stdin: Some(stdin),
            lines: rx,
            reader: Some(reader),
        }
    }

    /// Spawns and sends the first message. A child that exits before answering because the store
    /// is still locked (by the test process, which just closed it) is started again, within
    /// [`LOCK_WAIT`]; the unanswered message was never acknowledged, so nothing is lost.
    pub(crate) fn start(
        data: &Path,
        conversation: &str,
        user: &str,
        first: &str,
    ) -> (ChatProcess, Value) {
        let log = data.with_extension("stderr.log");
        let started = Instant::now();
        loop {
            let file = std::fs::File::create(&log).expect("stderr log");
            let mut chat = Self::spawn_logging(data, conversation, user, Stdio::from(file));
            let wrote = chat
                .stdin
                .as_mut()
                .map(|s| writeln!(s, "{first}").and_then(|()| s.flush()))
                .expect("stdin open");
            match (wrote, chat.lines.recv_timeout(ACK_TIMEOUT)) {
                (Ok(()), Ok(line)) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("ack is not JSON ({e}): {line}"));
                    assert!(
                        v.get("error").is_none(),
                        "personabot reported an error: {line}"
                    );
                    return (chat, v);
                }
                (_, Err(mpsc::RecvTimeoutError::Timeout)) => {
                    panic!("no acknowledgement within {ACK_TIMEOUT:?}")
                }
                _ => {
                    let status = chat.child.wait().expect("reap personabot");
                    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
                    assert!(
                        !status.success() && stderr.contains("cannot open the evidence store"),
                        "personabot exited before answering ({status}): {stderr}"
                    );
                    assert!(
                        started.elapsed() < LOCK_WAIT,
                        "the store stayed locked: {stderr}"
                    );
                    chat.kill();
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    pub(crate) fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{text}").expect("write to personabot");
        stdin.flush().expect("flush to personabot");
    }

    /// The next acknowledgement line, parsed.
    fn ack(&mut self) -> Value {
        let line = self.lines.recv_timeout(ACK_TIMEOUT).unwrap_or_else(|e| {
            panic!("no acknowledgement from personabot within {ACK_TIMEOUT:?}: {e}")
        });
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("ack is not JSON ({e}): {line}"));
        assert!(
            v.get("error").is_none(),
            "personabot reported an error: {line}"
        );
        v
    }

    pub(crate) fn say(&mut self, text: &str) -> Value {
        self.send(text);
        self.ack()
    }

    /// SIGKILL (on Unix `Child::kill` sends SIGKILL) and reap.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("kill personabot");
        self.child.wait().expect("reap personabot");
        self.stdin.take();
        if let Some(r) = self.reader.take() {
            r.join().expect("stdout reader");
        }
    }

    /// Closes stdin and waits (bounded) for a clean exit.
    pub(crate) fn finish(mut self) {
        self.stdin.take();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > ACK_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("personabot did not exit after its stdin closed");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "personabot exited with {status}");
        if let Some(r) = self.reader.take() {
            r.join().expect("stdout reader");
        }
    }
}

/// What the binary acknowledged for one message.
#[derive(Debug)]
pub(crate) struct Acked {
    pub(crate) text: String,
    pub(crate) kind: String,
    pub(crate) ticket: Option<u64>,
    pub(crate) reply: Option<String>,
}

pub(crate) fn acked(text: &str, ack: &Value) -> Acked {
    Acked {
        text: text.to_string(),
        kind: ack["route"]["kind"]
            .as_str()
            .expect("route.kind in ack")
            .to_string(),
        ticket: ack["ticket"]["id"].as_u64(),
        reply: ack["reply"].as_str().map(str::to_string),
    }
}

pub(crate) fn open_pipeline(dir: &Path) -> Pipeline {
    pipeline_on(Store::open(dir, Some("store-test-key")).unwrap())
}

pub(crate) fn say(p: &Pipeline, conversation: &str, user: &str, text: &str) -> Outcome {
    p.handle(&Inbound {
        channel: CHANNEL.into(),
        conversation: conversation.into(),
        user: user.into(),
        text: text.into(),
    })
    .unwrap_or_else(|e| panic!("handle({text:?}): {e}"))
}

pub(crate) fn refused(r: Result<impl std::fmt::Debug, StoreError>, what: &str) -> String {
    match r {
        Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => m,
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

pub(crate) fn ids(list: &[Interaction]) -> Vec<u64> {
    list.iter().map(|i| i.id).collect()
}

//! A real `personabot serve` process for integration tests, on an ephemeral 127.0.0.1 port, and
//! a plain HTTP/1.1 client for it (one connection per request, `Connection: close`).
//!
//! Include it with `#[path = "support/serve_process.rs"] mod serve_process;`.

#![allow(dead_code)] // each test crate uses a different part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use personabot::engine::pipeline::reply_as_sent;
use serde_json::Value;

/// How long `serve` may take to print its address and "serving" line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `personabot serve`; killed (SIGKILL) when dropped if still running.
pub struct ServeProcess {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ServeProcess {
    /// Starts `personabot --data DATA --catalog <repo> serve --listen 127.0.0.1:0` with the
    /// shipped catalog and built-in settings plus `env`, and waits until it says it is serving.
    /// Panics (with its stderr) if it exits or stays silent.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> ServeProcess {
        ServeProcess::spawn(command(data, env))
    }

    /// Starts `serve` in `dir` on the catalog and settings there (`--catalog . --config
    /// personabot.toml --data data`, see [`copy_catalog`]) plus `env`, and waits until it says
    /// it is serving.
    pub fn start_in(dir: &Path, env: &[(&str, &str)]) -> ServeProcess {
        std::fs::create_dir_all(dir.join("data")).expect("create the data folder");
        let mut cmd = base_command(env);
        cmd.args(["--data", "data", "--catalog", "."])
            .args(["--config", "personabot.toml"])
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir);
        ServeProcess::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> ServeProcess {
        let mut child = cmd.spawn().expect("serve starts");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line.clone());
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut addr = None;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "serve exited with {status} before serving; stderr:\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not say it was serving within {START_TIMEOUT:?}; stderr:\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            if let Some(rest) = line.split("web chat at http://").nth(1) {
                addr = rest.trim_end_matches('/').parse().ok();
            }
            if line.contains("serving;") {
                break;
            }
        }
        let addr = addr.unwrap_or_else(|| {
            panic!(
                "serve did not print its address; stderr:\n{}",
                stderr.lock().unwrap().join("\n")
            )
        });
        ServeProcess {
            child,
            addr,
            stderr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits until a stderr line contains `needle`. Panics after `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
        {
            assert!(
                Instant::now() < deadline,
                "serve did not say {needle:?} within {timeout:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until `GET /healthz` answers 200. Panics after `timeout`.
    pub fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            match request(self.addr, "GET", "/healthz", None) {
                Ok((200, _)) => return,
                other if Instant::now() > deadline => panic!(
                    "/healthz not 200 within {timeout:?}: last {other:?}; stderr:\n{}",
                    self.stderr()
                ),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL serve");
        self.child.wait().expect("reap serve");
    }

    /// Sends `signal` (e.g. "TERM", "INT") with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// Waits up to `timeout` for it to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The chat bridge every served test process declares: tests post customers' messages as it
/// (`"channel": "test"` with their own conversation and user ids), as a bridge would.
pub const BRIDGE: &str = "test";
pub const BRIDGE_TOKEN: &str = "serve-test-bridge-token-0123";

/// The `personabot --data DATA --catalog <repo> serve --listen 127.0.0.1:0` command, with the
/// shipped catalog, built-in settings (every `PERSONABOT*` variable of the test's environment
/// removed) and `env`, its stderr piped.
pub fn command(data: &Path, env: &[(&str, &str)]) -> Command {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::create_dir_all(data).expect("create the data folder");
    let mut cmd = base_command(env);
    cmd.arg("--data")
        .arg(data)
        .args(["--catalog", root, "serve", "--listen", "127.0.0.1:0"])
        .current_dir(data);
    cmd
}

/// The binary with stderr piped, every `PERSONABOT*` variable of the test's environment removed,
/// the test bridge declared and `env` set; the caller adds the arguments.
fn base_command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_personabot"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("RUST_LOG", "warn")
        .env_remove("DISCORD_TOKEN");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PERSONABOT") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PERSONABOT__BRIDGES__TEST__TOKEN", BRIDGE_TOKEN);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Copies the shipped catalog (`personas/`, `intents/`, `replies/`) and `personabot.toml` into
/// `dir`, for [`ServeProcess::start_in`].
pub fn copy_catalog(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["personas", "intents", "replies"] {
        std::fs::create_dir_all(dir.join(folder)).expect("create a catalog folder");
        for entry in std::fs::read_dir(root.join(folder)).expect("read the shipped catalog") {
            let path = entry.expect("a catalog entry").path();
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, dir.join(folder).join(name)).expect("copy a catalog file");
        }
    }
    std::fs::copy(root.join("personabot.toml"), dir.join("personabot.toml"))
        .expect("copy the settings");
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and the complete body. `Err` when
/// the connection fails, is closed early or the response is incomplete (a body shorter than its
/// `Content-Length`, or a chunked body without its last chunk): such a response acknowledges
/// nothing.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&Value>,
) -> Result<(u16, String), String> {
    request_as(addr, method, path, json, None)
}

/// [`request`] with `Authorization: Bearer TOKEN` when `bearer` is given.
pub fn request_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&Value>,
    bearer: Option<&str>,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| format!("set timeout: {e}"))?;
    let body = json.map(Value::to_string).unwrap_or_default();
    let content = if json.is_some() {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    } else {
        String::new()
    };
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content}Connection: close\r\n\r\n"
    );
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let response = String::from_utf8(response).map_err(|e| format!("not UTF-8: {e}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete response head: {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status: {head:?}"))?;
    let head_lower = head.to_ascii_lowercase();
    let body = if head_lower.contains("transfer-encoding: chunked") {
        dechunk(body).ok_or_else(|| format!("incomplete chunked body: {body:?}"))?
    } else {
        let length = head_lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or_else(|| format!("neither chunked nor Content-Length: {head:?}"))?;
        if body.len() != length {
            return Err(format!(
                "body of {} bytes, Content-Length {length}",
                body.len()
            ));
        }
        body.to_string()
    };
    Ok((status, body))
}

/// `POST path` with a JSON body; the status and the body parsed as JSON.
pub fn post_json(addr: SocketAddr, path: &str, json: &Value) -> Result<(u16, Value), String> {
    let (status, body) = request(addr, "POST", path, Some(json))?;
    let value =
        serde_json::from_str(&body).map_err(|e| format!("body is not JSON ({e}): {body}"))?;
    Ok((status, value))
}

/// A POST as the test [`BRIDGE`]: `"channel": "test"` is added to the body when it names no
/// channel, with the bridge's bearer token.
pub fn bridge_post(addr: SocketAddr, path: &str, json: &Value) -> Result<(u16, Value), String> {
    let mut json = json.clone();
    if let Some(map) = json.as_object_mut() {
        map.entry("channel").or_insert(Value::from(BRIDGE));
    }
    let (status, body) = request_as(addr, "POST", path, Some(&json), Some(BRIDGE_TOKEN))?;
    let value =
        serde_json::from_str(&body).map_err(|e| format!("body is not JSON ({e}): {body}"))?;
    Ok((status, value))
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// A small seeded generator (xorshift64*), so random choices are reproducible from a seed.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// A chat workload over `POST /v1/messages`, and checking what it was told against the store
// ---------------------------------------------------------------------------------------------

/// The scripts a conversation follows (one per conversation, four messages each): self-help
/// answers, tickets (refund to Billing, a security questionnaire to Security, a human to
/// Support) and follow-ups that join the open ticket.
const SCRIPTS: [[&str; 4]; 3] = [
    [
        "hello there",
        "we run a shopify store, how much is the growth plan",
        "I want a refund for my last order",
        "any news on the refund for my order?",
    ],
    [
        "are you SOC 2 compliant",
        "can you send me your security questionnaire and DPA",
        "thanks for the help",
        "also, who signs the DPA?",
    ],
    [
        "the dashboard is not loading",
        "it is still not loading after a refresh",
        "I want to talk to a human",
        "thanks",
    ],
];

/// Message `n` of client `client` under `prefix`: its conversation and its text, unique across
/// the run (so a stored interaction is found by conversation and text), without personal data
/// (so the stored, redacted text equals the text sent).
pub fn scripted_message(prefix: &str, client: usize, n: usize) -> (String, String) {
    let conversation_index = n / 4;
    let script = &SCRIPTS[(client + conversation_index) % SCRIPTS.len()];
    let conversation = format!("{prefix}-t{client}-c{conversation_index}");
    let text = format!("{} (ref {prefix} t{client} m{n})", script[n % 4]);
    (conversation, text)
}

/// What a 200 from `POST /v1/messages` told the client.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub conversation: String,
    pub text: String,
    pub route_kind: String,
    pub team: Option<String>,
    pub answer: Option<String>,
    pub reply: Option<String>,
    /// The ticket id and team.
    pub ticket: Option<(u64, String)>,
}

impl Acknowledged {
    fn from_response(conversation: &str, text: &str, body: &Value) -> Result<Acknowledged, String> {
        let route_kind = body["route"]["kind"]
            .as_str()
            .ok_or_else(|| format!("a 200 without route.kind: {body}"))?
            .to_string();
        let ticket = match &body["ticket"] {
            Value::Null => None,
            t => Some((
                t["id"]
                    .as_u64()
                    .ok_or_else(|| format!("a ticket without an id: {body}"))?,
                t["team"].as_str().unwrap_or_default().to_string(),
            )),
        };
        Ok(Acknowledged {
            conversation: conversation.to_string(),
            text: text.to_string(),
            route_kind,
            team: body["route"]["team"].as_str().map(str::to_string),
            answer: body["route"]["answer"].as_str().map(str::to_string),
            reply: body["reply"].as_str().map(str::to_string),
            ticket,
        })
    }
}

/// How one client's run ended.
#[derive(Debug, Default)]
pub struct ClientRun {
    pub acknowledged: Vec<Acknowledged>,
    /// Responses other than 200, as `status: body`.
    pub refusals: Vec<String>,
    /// The failure that ended the run (connection refused or closed, incomplete response);
    /// `None` when it sent all its messages.
    pub ended_by: Option<String>,
}

/// Sends scripted messages one after another (up to `max_messages`) until a request fails at
/// the connection level or `stop` is set. Records every 200 (also counted in `acknowledged`,
/// which clients can share) and every other status.
pub fn drive_client(
    addr: SocketAddr,
    prefix: &str,
    client: usize,
    max_messages: usize,
    stop: &std::sync::atomic::AtomicBool,
    acknowledged: &std::sync::atomic::AtomicUsize,
) -> ClientRun {
    let mut run = ClientRun::default();
    for n in 0..max_messages {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let (conversation, text) = scripted_message(prefix, client, n);
        let body = serde_json::json!({
            "conversation": conversation,
            "user": format!("{prefix}-user{client}"),
            "text": text,
        });
        match bridge_post(addr, "/v1/messages", &body) {
            Ok((200, reply)) => match Acknowledged::from_response(&conversation, &text, &reply) {
                Ok(ack) => {
                    run.acknowledged.push(ack);
                    acknowledged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => run.refusals.push(e),
            },
            Ok((status, reply)) => run.refusals.push(format!("{status}: {reply}")),
            Err(e) => {
                run.ended_by = Some(e);
                break;
            }
        }
    }
    run
}

/// Acknowledged turns checked against the store.
#[derive(Debug, Default)]
pub struct StoreCheck {
    pub acknowledged: usize,
    pub found: usize,
    /// Acknowledged but not stored.
    pub lost: Vec<String>,
    /// Stored, but not as acknowledged (route, answer, reply or ticket differ, or the ticket
    /// is missing).
    pub mismatched: Vec<String>,
    /// Stored turns that are not whole: a missing ticket, or a conversation state that does not
    /// count its stored interactions.
    pub torn: Vec<String>,
    /// Interactions stored under the checked conversations.
    pub stored: usize,
}

impl StoreCheck {
    pub fn lost_count(&self) -> usize {
        self.lost.len()
    }

    pub fn is_clean(&self) -> bool {
        self.lost.is_empty() && self.mismatched.is_empty() && self.torn.is_empty()
    }

    /// The problems, for an assertion message.
    pub fn problems(&self) -> String {
        let first = |v: &[String]| v.iter().take(10).cloned().collect::<Vec<_>>().join("\n  ");
        format!(
            "lost {}:\n  {}\nmismatched {}:\n  {}\ntorn {}:\n  {}",
            self.lost.len(),
            first(&self.lost),
            self.mismatched.len(),
            first(&self.mismatched),
            self.torn.len(),
            first(&self.torn)
        )
    }
}

/// Checks every acknowledged turn against `store` (channel `http`): the interaction is stored
/// (found by conversation and text) with the acknowledged route kind, team, answer variant,
/// reply and ticket; the ticket exists with that team. Also checks that every stored turn of
/// those conversations is whole.
/// The shipped catalog the served binary answers from (`route.answer` texts resolve in it).
fn shipped_catalog() -> &'static personabot::catalog::Catalog {
    static CATALOG: std::sync::OnceLock<personabot::catalog::Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| {
        let settings = personabot::catalog::settings::Settings::built_in();
        personabot::catalog::load(Path::new(env!("CARGO_MANIFEST_DIR")), &settings.teams)
            .expect("the shipped catalog")
    })
}

pub fn check_store(store: &personabot::store::Store, acks: &[Acknowledged]) -> StoreCheck {
    use std::collections::{BTreeSet, HashMap};
    let all = store
        .interactions(&personabot::store::InteractionFilter::default())
        .expect("read the interactions");
    let conversations: BTreeSet<&str> = acks.iter().map(|a| a.conversation.as_str()).collect();
    let mut by_key: HashMap<(&str, &str), &personabot::store::Interaction> = HashMap::new();
    let mut per_conversation: HashMap<&str, u32> = HashMap::new();
    let mut check = StoreCheck {
        acknowledged: acks.len(),
        ..StoreCheck::default()
    };
    for i in all.iter().filter(|i| i.channel == BRIDGE) {
        if !conversations.contains(i.conversation.as_str()) {
            continue;
        }
        check.stored += 1;
        *per_conversation.entry(i.conversation.as_str()).or_default() += 1;
        if by_key
            .insert((i.conversation.as_str(), i.text.as_str()), i)
            .is_some()
        {
            check
                .torn
                .push(format!("stored twice: {} {:?}", i.conversation, i.text));
        }
        if let Some(t) = i.ticket {
            if store.ticket(t).expect("read a ticket").is_none() {
                check.torn.push(format!(
                    "interaction {} ({:?}) points at missing ticket #{t}",
                    i.id, i.text
                ));
            }
        }
    }
    for (conversation, stored) in &per_conversation {
        let state = store
            .conversation(BRIDGE, conversation)
            .expect("read a conversation");
        if state.turns != *stored {
            check.torn.push(format!(
                "conversation {conversation}: state counts {} turns, {stored} interactions stored",
                state.turns
            ));
        }
    }
    for a in acks {
        let Some(i) = by_key.get(&(a.conversation.as_str(), a.text.as_str())) else {
            check.lost.push(format!(
                "{} {:?} ({}, ticket {:?})",
                a.conversation, a.text, a.route_kind, a.ticket
            ));
            continue;
        };
        check.found += 1;
        let stored_ticket = i
            .ticket
            .and_then(|t| store.ticket(t).expect("read a ticket"))
            .map(|t| (t.id, t.team.clone()));
        let same = i.route.kind == a.route_kind
            && i.route.team == a.team
            && i.route.answer == a.answer
            && reply_as_sent(shipped_catalog(), i) == a.reply
            && i.ticket == a.ticket.as_ref().map(|t| t.0)
            && stored_ticket == a.ticket;
        if !same {
            check.mismatched.push(format!(
                "{} {:?}: acknowledged {}/{:?}/{:?}/ticket {:?}, stored {}/{:?}/{:?}/ticket {:?} ({:?})",
                a.conversation,
                a.text,
                a.route_kind,
                a.team,
                a.answer,
                a.ticket,
                i.route.kind,
                i.route.team,
                i.route.answer,
                i.ticket,
                stored_ticket
            ));
        }
    }
    check
}

//! The web chat and the agent queue in a real browser, against a real `personabot serve`:
//! a customer asks a question on `/`, reads the self-help answer, presses "Talk to a human" and
//! sees the banner naming the team; an agent signs in on `/agent` in a second tab, opens the
//! ticket, claims it and replies; the reply appears in the customer's chat; the persona review
//! (`/review`) of that evidence renders its charts.
//!
//! The browser is Debian's headless Chromium, driven over the DevTools protocol through a pipe
//! (`--remote-debugging-pipe`: NUL-separated JSON on file descriptors 3 and 4), so the test needs
//! no WebDriver, no WebSocket client and no extra crates. Clicks and keystrokes are real input
//! events (`Input.dispatchMouseEvent`, `Input.dispatchKeyEvent`), and every step asserts on the
//! DOM with a bounded wait.
//!
//! Without Chromium the test FAILS and says how to install it. `PERSONABOT_SKIP_BROWSER=1` skips
//! it (for developers without Chromium; CI never sets it). `PERSONABOT_CHROMIUM` names another
//! Chromium or Chrome binary. `PERSONABOT_BROWSER_SCREENSHOTS=DIR` saves a screenshot of every
//! step into DIR. On a failure, screenshots and the HTML of both pages are kept in the test's
//! temporary folder, whose path the failure message gives.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_personabot");
const TOKEN: &str = "web-test-agent-token";
const QUESTION: &str = "How much does the Growth plan cost for my startup?";
const AGENT: &str = "Dana";
/// Typed with a line break and markup, which must come out as plain text on both pages.
const AGENT_REPLY: &str =
    "Hi, Dana from Sales here. <b>Happy</b> to help!\nShall we book a call about the startup program?";
/// The longest wait for any one step.
const STEP: Duration = Duration::from_secs(15);
/// The longest wait for one DevTools command.
const CALL: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn customer_asks_hands_off_and_reads_the_agent_reply_in_chromium() {
    if std::env::var("PERSONABOT_SKIP_BROWSER").is_ok_and(|v| !v.is_empty() && v != "0") {
        // Straight to stderr: the test harness does not capture this, so it shows in `cargo test`.
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\nSKIPPED: web_chromium (PERSONABOT_SKIP_BROWSER is set). The web chat and the \
             agent queue were NOT tested in a browser.\n{bar}\n",
            bar = "*".repeat(78)
        );
        return;
    }
    let chromium = find_chromium().unwrap_or_else(|| {
        panic!(
            "Chromium not found. This test drives the web chat and the agent queue in headless \
             Chromium: install Debian's chromium (`apt-get install -y chromium`), or set \
             PERSONABOT_CHROMIUM to a Chromium/Chrome binary. To skip it on a machine without \
             Chromium, set PERSONABOT_SKIP_BROWSER=1 (CI must not)."
        )
    });

    let work = Workdir::new();
    let root = work.path().to_path_buf();
    let expected_answer = expected_reply(&root, QUESTION);

    let server = Server::start(&root);
    let base = server.url("");
    let mut b = Browser::launch(&chromium, &root);
    b.server_log = Some(server.log.clone());

    // 1. The customer asks and sees the self-help answer, with the two feedback buttons.
    let chat = b.new_page("chat");
    b.navigate(&chat, &format!("{base}/"));
    b.wait_eq(
        &chat,
        "the page title",
        "document.title",
        json!("Hearth support"),
    );
    b.wait_eq(
        &chat,
        "the page heading",
        "document.querySelector('h1').textContent.trim()",
        json!("Hearth support"),
    );
    b.type_into(&chat, "#input", QUESTION);
    b.press_enter(&chat);
    b.wait_eq(
        &chat,
        "the customer's message in the list",
        "[...document.querySelectorAll('#messages .msg.user .bubble')].map(e => e.textContent)",
        json!([QUESTION]),
    );
    b.wait_eq(
        &chat,
        "the input cleared after sending",
        "document.querySelector('#input').value",
        json!(""),
    );
    b.wait_eq(
        &chat,
        "the bot's answer",
        LAST_BOT_TEXT,
        json!(expected_answer),
    );
    if expected_answer.contains('\n') {
        b.wait_eq(
            &chat,
            "the answer's line breaks kept on screen",
            &format!("{LAST_BOT}.querySelector('.bubble').innerText.includes('\\n')"),
            json!(true),
        );
    }
    b.wait_eq(
        &chat,
        "the two feedback buttons under the answer",
        &format!(
            "[...{LAST_BOT}.querySelectorAll('button')].map(e => [e.dataset.action, e.textContent])"
        ),
        json!([["helped", "That helped"], ["human", "Talk to a human"]]),
    );
    b.step_screenshot(&chat, "1-chat-answer");

    // 2. "Talk to a human": a ticket, and the banner naming the team.
    b.click(&chat, "#messages [data-action=\"human\"]");
    let ids = b.wait_value(
        &chat,
        "random conversation and user ids in sessionStorage",
        "['conversation', 'user'].map(k => JSON.parse(sessionStorage.getItem('hearth.chat.' + k)))",
        |v| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .all(|id| id.as_str().is_some_and(|s| s.len() >= 32))
                    && a[0] != a[1]
            })
        },
    );
    let conversation = ids[0].as_str().unwrap().to_string();
    let updates = wait_for_ticket(&mut b, &server, &conversation);
    let ticket_id = updates["ticket"]["id"].as_u64().unwrap();
    let team = updates["ticket"]["team"].as_str().unwrap().to_string();
    let team_name = updates["ticket"]["team_name"].as_str().unwrap().to_string();
    b.check(
        team == "sales",
        &format!("pricing for a startup founder goes to sales, not {team:?}"),
    );
    let banner_title = format!("Our {team_name} team will answer here (ticket #{ticket_id})");
    b.wait_eq(
        &chat,
        "the handoff banner",
        "(b => b.hidden ? null : b.querySelector('.banner-title').textContent)(document.querySelector('#banner'))",
        json!(banner_title),
    );
    b.wait_value(
        &chat,
        "the handoff reply naming the ticket",
        LAST_BOT_TEXT,
        |v| {
            v.as_str()
                .is_some_and(|s| s.contains(&format!("#{ticket_id}")))
        },
    );
    b.wait_eq(
        &chat,
        "the pressed button marked, both disabled",
        "[...document.querySelectorAll('#messages [data-action]')].map(e => [e.dataset.action, e.getAttribute('aria-pressed'), e.disabled])",
        json!([["helped", "false", true], ["human", "true", true]]),
    );
    b.step_screenshot(&chat, "2-chat-banner");

    // 3. The agent signs in in a second tab, opens the ticket, claims it and replies.
    let agent = b.new_page("agent");
    b.navigate(&agent, &format!("{base}/agent"));
    b.wait_eq(
        &agent,
        "the sign-in form",
        "!!document.querySelector('form #token') && !!document.querySelector('#login')",
        json!(true),
    );
    b.step_screenshot(&agent, "3-agent-login");
    b.type_into(&agent, "#token", TOKEN);
    b.click(&agent, "#login");
    b.wait_eq(
        &agent,
        "the agent queue after signing in",
        "location.pathname + ' ' + !!document.querySelector('#tickets')",
        json!("/agent true"),
    );
    b.wait_eq(
        &agent,
        "the default agent name",
        "document.querySelector('#agent-name').value",
        json!("agent"),
    );
    b.type_into(&agent, "#agent-name", AGENT);

    let row = format!("#tickets li[data-ticket-id=\"{ticket_id}\"]");
    let row_text = b.wait_value(
        &agent,
        "the ticket in the queue",
        &format!("(r => r && r.textContent)(document.querySelector('{row}'))"),
        |v| v.as_str().is_some_and(|s| s.contains(QUESTION)),
    );
    b.check(
        row_text.as_str().unwrap().contains(&team_name),
        &format!("the queue row names the team {team_name:?}: {row_text}"),
    );
    b.click(&agent, &format!("{row} button"));
    b.wait_eq(
        &agent,
        "the ticket view",
        "document.querySelector('#t-title').textContent",
        json!(format!("Ticket #{ticket_id}")),
    );

    // What the server holds, to compare the view with.
    let full = server.get_json(&format!("/v1/tickets/{ticket_id}"), Some(TOKEN));
    let pct = |v: &Value| format!("{}%", (v["confidence"].as_f64().unwrap() * 100.0).round());
    b.wait_eq(
        &agent,
        "persona and intent with their confidence",
        "['#t-persona', '#t-persona-conf', '#t-intent', '#t-intent-conf'].map(s => document.querySelector(s).textContent)",
        json!([full["persona"]["id"], pct(&full["persona"]), full["intent"]["id"], pct(&full["intent"])]),
    );
    b.wait_eq(
        &agent,
        "the routing reason",
        "document.querySelector('#t-reason').textContent",
        full["reason"].clone(),
    );
    let terms: Vec<Value> = full["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["term"].clone())
        .collect();
    b.check(!terms.is_empty(), "the ticket has evidence");
    b.wait_eq(
        &agent,
        "the evidence terms",
        "[...document.querySelectorAll('#t-evidence .term')].map(e => e.textContent)",
        Value::Array(terms),
    );
    let transcript: Vec<Value> = full["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].clone())
        .collect();
    b.wait_eq(
        &agent,
        "the transcript",
        "[...document.querySelectorAll('#t-transcript .text')].map(e => e.textContent)",
        Value::Array(transcript),
    );
    b.step_screenshot(&agent, "4-agent-ticket");

    b.click(&agent, "#claim");
    b.wait_eq(
        &agent,
        "the ticket claimed by the agent",
        "[document.querySelector('#t-status').textContent, document.querySelector('#t-meta').textContent.includes('claimed by Dana'), document.querySelector('#claim').disabled]",
        json!(["claimed", true, true]),
    );
    b.type_into(&agent, "#reply-text", AGENT_REPLY);
    b.click(&agent, "#reply-send");
    b.wait_eq(
        &agent,
        "the reply in the transcript",
        "(l => l && [l.querySelector('.from b').textContent, l.querySelector('.text').textContent])([...document.querySelectorAll('#t-transcript .line')].pop())",
        json!([format!("{AGENT} (agent)"), AGENT_REPLY]),
    );
    b.wait_eq(
        &agent,
        "the reply box cleared",
        "document.querySelector('#reply-text').value",
        json!(""),
    );
    b.wait_eq(
        &agent,
        "the ticket claimed in the server",
        &format!("fetch('/v1/tickets/{ticket_id}').then(r => r.json()).then(t => [t.status, t.claimed_by])"),
        json!(["claimed", AGENT]),
    );
    // The agent confirms the labels (ground truth).
    let (intent, persona) = (
        full["intent"]["id"].as_str().unwrap(),
        full["persona"]["id"].as_str().unwrap(),
    );
    b.type_into(&agent, "#relabel-intent", intent);
    b.type_into(&agent, "#relabel-persona", persona);
    b.click(&agent, "#relabel-send");
    b.wait_eq(
        &agent,
        "the relabel in the ticket's history",
        "[...document.querySelectorAll('#t-relabels li')].map(e => e.textContent.split(' (')[0])",
        json!([format!("intent → {intent}, persona → {persona} by {AGENT}")]),
    );
    b.step_screenshot(&agent, "5-agent-replied");

    // 4. Back in the chat: the agent's reply, as plain text, under the agent's name and team.
    b.bring_to_front(&chat);
    b.wait_eq(
        &chat,
        "the agent's reply in the chat",
        "[...document.querySelectorAll('#messages .msg.agent')].map(m => [m.querySelector('.who .name').textContent, m.querySelector('.bubble').textContent])",
        json!([[format!("{AGENT} ({team_name})"), AGENT_REPLY]]),
    );
    b.wait_eq(
        &chat,
        "no markup from server text",
        "document.querySelectorAll('#messages b, #messages script').length",
        json!(0),
    );
    b.wait_eq(
        &chat,
        "the banner still naming the team",
        "document.querySelector('#banner .banner-title').textContent",
        json!(banner_title),
    );
    b.step_screenshot(&chat, "6-chat-agent-reply");

    // 5. The agent resolves the ticket; the chat says so and the bot takes over again.
    b.bring_to_front(&agent);
    b.click(&agent, "#resolve");
    b.wait_eq(
        &agent,
        "the ticket resolved",
        "[document.querySelector('#t-status').textContent, document.querySelector('#resolve').disabled, document.querySelector('#reply-send').disabled]",
        json!(["resolved", true, true]),
    );
    b.bring_to_front(&chat);
    b.wait_eq(
        &chat,
        "the banner saying the ticket is resolved",
        "document.querySelector('#banner .banner-title').textContent",
        json!(format!("Ticket #{ticket_id} is resolved")),
    );

    // 6. The persona review of this evidence, in the same browser: no owner token is set, so
    // the agent's sign-in opens it. Its charts must really render (boxes with a size).
    let review = b.new_page("review");
    b.navigate(&review, &format!("{base}/review"));
    b.wait_eq(
        &review,
        "the review page",
        "document.querySelector('h1') && document.querySelector('h1').textContent",
        json!("Persona review"),
    );
    b.wait_eq(
        &review,
        "charts drawn with a size",
        "['volume-chart', 'resolution-chart'].map(id => { const r = document.getElementById(id).getBoundingClientRect(); return r.width > 300 && r.height > 60; })",
        json!([true, true]),
    );
    b.wait_eq(
        &review,
        "stacked bars, and the agent's confirming label counted",
        "[document.querySelectorAll('#volume-chart rect').length > 0, document.querySelector('#relabels .note').textContent]",
        json!([true, "1 labelled message(s); 1 agreed with the bot."]),
    );
    b.wait_eq(
        &review,
        "the persona this conversation was given, in the table",
        &format!("[...document.querySelectorAll('#personas tbody tr')].some(tr => tr.textContent.includes('{persona}'))"),
        json!(true),
    );
    b.step_screenshot(&review, "7-review");

    let problems = b.page_errors();
    b.check(
        problems.is_empty(),
        &format!("JavaScript errors on the pages: {problems:#?}"),
    );
    b.close();
    let code = server.stop();
    assert_eq!(code, 0, "serve exits 0 on SIGTERM");
}

/// The last bot message of the chat (not the welcome, not the typing indicator).
const LAST_BOT: &str =
    "[...document.querySelectorAll('#messages .msg.bot:not(.typing):not(.welcome)')].pop()";
const LAST_BOT_TEXT: &str =
    "(m => m && m.querySelector('.bubble').textContent)([...document.querySelectorAll('#messages .msg.bot:not(.typing):not(.welcome)')].pop())";

/// The reply the bot gives to `text` in a fresh conversation, from `personabot chat --json`.
fn expected_reply(root: &Path, text: &str) -> String {
    let data = root.join("expected-data");
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["--catalog", env!("CARGO_MANIFEST_DIR"), "chat", "--json"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("personabot chat starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{text}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chat --json failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let turn: Value = serde_json::from_str(line.lines().next().expect("one turn")).unwrap();
    assert_eq!(
        turn["route"]["kind"], "answer",
        "the question gets a self-help answer: {turn}"
    );
    assert!(
        !turn["route"]["answer"].is_null(),
        "with an answer variant: {turn}"
    );
    turn["reply"].as_str().expect("a reply").to_string()
}

/// The conversation's ticket, as the updates endpoint shows it.
fn wait_for_ticket(b: &mut Browser, server: &Server, conversation: &str) -> Value {
    let deadline = Instant::now() + STEP;
    loop {
        let v = server.get_json(
            &format!("/v1/conversations/{conversation}/updates?after=0"),
            None,
        );
        if v["ticket"].is_object() {
            return v;
        }
        if Instant::now() >= deadline {
            b.fail(&format!("no ticket for conversation {conversation}: {v}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PERSONABOT_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The temporary folder: removed after a pass, kept after a failure
// ---------------------------------------------------------------------------------------------

struct Workdir(Option<tempfile::TempDir>);

impl Workdir {
    fn new() -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("personabot-web-")
            .tempdir()
            .expect("temp dir");
        Workdir(Some(dir))
    }

    fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if std::thread::panicking() {
                let path = dir.keep();
                let _ = writeln!(
                    std::io::stderr(),
                    "web_chromium: kept {} for debugging",
                    path.display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(root: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(root.join("data"))
            .args(["--catalog", env!("CARGO_MANIFEST_DIR"), "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)
            .env_remove("DISCORD_TOKEN")
            .env_remove("PERSONABOT__DISCORD__TOKEN")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("personabot serve starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
            while let Some(Ok(line)) = lines.next() {
                sink.lock().unwrap().push(line);
            }
        });
        let server = Server { child, port, log };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((200, body)) = http_get(self.port, "/healthz", None) {
                if body.contains("\"ok\"") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "personabot serve did not answer /healthz within 30 s; its log: {:#?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let (status, body) =
            http_get(self.port, path, token).unwrap_or_else(|| panic!("GET {path}: no answer"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> i32 {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status
                    .code()
                    .expect("serve exited by itself, not by a signal");
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1: the status and the body.
fn http_get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8(response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some((status, body))
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

// ---------------------------------------------------------------------------------------------
// Chromium over the DevTools protocol
// ---------------------------------------------------------------------------------------------

struct Page {
    name: &'static str,
    session: String,
}

struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Every page opened: (name, session), for screenshots on failure.
    pages: Vec<(&'static str, String)>,
    /// Uncaught exceptions and console errors, by page.
    errors: Vec<String>,
    dir: PathBuf,
    log_path: PathBuf,
    server_log: Option<Arc<Mutex<Vec<String>>>>,
    shots: Option<PathBuf>,
}

impl Browser {
    fn launch(chromium: &Path, root: &Path) -> Browser {
        let dir = root.join("browser");
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let log_path = dir.join("chromium.log");
        let log = File::create(&log_path).unwrap();
        let flags = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--disable-crash-reporter".into(),
            "--disable-dev-shm-usage".into(),
            // Both tabs keep their timers running at full speed while the other is in front.
            "--disable-background-timer-throttling".into(),
            "--disable-renderer-backgrounding".into(),
            "--disable-backgrounding-occluded-windows".into(),
            "--no-proxy-server".into(),
            "--password-store=basic".into(),
            "--lang=en-US".into(),
            "--window-size=1280,900".into(),
            "--remote-debugging-pipe".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        // fd 3 is where Chromium reads commands and fd 4 where it writes answers: the shell maps
        // our stdin/stdout pipes there before it becomes Chromium.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 0</dev/null 1>&2")
            .arg(chromium)
            .args(flags)
            .env("HOME", &dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
        let commands = child.stdin.take().unwrap();
        let mut answers = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = match answers.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice::<Value>(&message[..end]) {
                        if tx.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let shots = std::env::var_os("PERSONABOT_BROWSER_SCREENSHOTS")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(shots) = &shots {
            std::fs::create_dir_all(shots).expect("PERSONABOT_BROWSER_SCREENSHOTS folder");
        }
        let mut browser = Browser {
            child,
            commands,
            messages,
            next_id: 0,
            pages: Vec::new(),
            errors: Vec::new(),
            dir,
            log_path,
            server_log: None,
            shots,
        };
        if let Err(e) = browser.call(None, "Browser.getVersion", json!({})) {
            browser.fail(&format!(
                "Chromium did not answer over the DevTools pipe: {e}"
            ));
        }
        browser
    }

    /// One DevTools command; events that arrive meanwhile are looked at and dropped.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .map_err(|e| format!("{method}: cannot write to Chromium: {e}"))?;
        let deadline = Instant::now() + CALL;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.messages.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{method}: no answer within {CALL:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: Chromium has exited"))
                }
            };
            if message["id"].as_u64() == Some(id) {
                return match message.get("error") {
                    Some(error) => Err(format!("{method}: {error}")),
                    None => Ok(message["result"].clone()),
                };
            }
            self.event(&message);
        }
    }

    fn event(&mut self, message: &Value) {
        let page = self
            .pages
            .iter()
            .find(|(_, s)| message["sessionId"].as_str() == Some(s.as_str()))
            .map_or("?", |(name, _)| *name);
        let params = &message["params"];
        match message["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("?");
                self.errors.push(format!("{page}: uncaught: {text}"));
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        a["value"]
                            .as_str()
                            .map_or_else(|| a["description"].to_string(), str::to_string)
                    })
                    .collect();
                self.errors
                    .push(format!("{page}: console.error: {}", args.join(" ")));
            }
            _ => {}
        }
    }

    fn page_errors(&mut self) -> Vec<String> {
        // Pick up events still queued.
        let _ = self.call(None, "Browser.getVersion", json!({}));
        self.errors.clone()
    }

    fn new_page(&mut self, name: &'static str) -> Page {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .unwrap_or_else(|e| self.fail(&e));
        let target = target["targetId"].as_str().unwrap().to_string();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .unwrap_or_else(|e| self.fail(&e));
        let session = attached["sessionId"].as_str().unwrap().to_string();
        self.pages.push((name, session.clone()));
        let page = Page { name, session };
        for (method, params) in [
            ("Page.enable", json!({})),
            ("Runtime.enable", json!({})),
            (
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
            ),
        ] {
            self.page_call(&page, method, params);
        }
        self.bring_to_front(&page);
        page
    }

    fn page_call(&mut self, page: &Page, method: &str, params: Value) -> Value {
        let session = page.session.clone();
        self.call(Some(&session), method, params)
            .unwrap_or_else(|e| self.fail(&format!("{}: {e}", page.name)))
    }

    fn bring_to_front(&mut self, page: &Page) {
        self.page_call(page, "Page.bringToFront", json!({}));
    }

    fn navigate(&mut self, page: &Page, url: &str) {
        self.bring_to_front(page);
        let result = self.page_call(page, "Page.navigate", json!({ "url": url }));
        if let Some(error) = result["errorText"].as_str() {
            self.fail(&format!("{}: cannot open {url}: {error}", page.name));
        }
        self.wait_eq(
            page,
            &format!("{url} loaded"),
            "document.readyState",
            json!("complete"),
        );
    }

    /// Evaluates `expr` in the page (promises awaited); Err for an exception or a page between
    /// two documents.
    fn eval(&mut self, page: &Page, expr: &str) -> Result<Value, String> {
        let session = page.session.clone();
        let result = self.call(
            Some(&session),
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("?");
            return Err(text.to_string());
        }
        Ok(result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Polls `expr` until `ok` accepts its value (at most [`STEP`]).
    fn wait_value(
        &mut self,
        page: &Page,
        what: &str,
        expr: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + STEP;
        let mut last: Result<Value, String>;
        loop {
            last = self.eval(page, expr);
            if let Ok(v) = &last {
                if ok(v) {
                    return v.clone();
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen = match last {
            Ok(v) => serde_json::to_string_pretty(&v).unwrap(),
            Err(e) => format!("error: {e}"),
        };
        self.fail(&format!(
            "{}: {what}: not there within {STEP:?}.\nchecked: {expr}\nlast seen: {seen}",
            page.name
        ))
    }

    fn wait_eq(&mut self, page: &Page, what: &str, expr: &str, want: Value) -> Value {
        let seen = self.wait_value(page, what, expr, |v| *v == want);
        debug_assert_eq!(seen, want);
        seen
    }

    /// A real mouse click in the middle of the element, once it is there, visible, enabled and
    /// not covered.
    fn click(&mut self, page: &Page, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let expr = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e || e.disabled) return null; \
             e.scrollIntoView({{block: 'center', inline: 'center', behavior: 'instant'}}); \
             const r = e.getBoundingClientRect(); if (r.width < 1 || r.height < 1) return null; \
             const x = r.left + r.width / 2, y = r.top + r.height / 2; \
             const hit = document.elementFromPoint(x, y); \
             return hit && (hit === e || e.contains(hit)) ? [x, y] : null; }})()"
        );
        let at = self.wait_value(
            page,
            &format!("{selector} clickable"),
            &expr,
            Value::is_array,
        );
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        self.page_call(
            page,
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        );
        for kind in ["mousePressed", "mouseReleased"] {
            self.page_call(
                page,
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1 }),
            );
        }
    }

    /// Clicks the field, selects what it holds (as Ctrl+A would), then types `text` key by key
    /// over it (a line break is the Enter key).
    fn type_into(&mut self, page: &Page, selector: &str, text: &str) {
        self.click(page, selector);
        let sel = serde_json::to_string(selector).unwrap();
        self.wait_eq(
            page,
            &format!("{selector} focused"),
            &format!("(e => e === document.activeElement && (e.select(), true))(document.querySelector({sel}))"),
            json!(true),
        );
        for c in text.chars() {
            if c == '\n' {
                self.press_enter(page);
                continue;
            }
            let key = c.to_string();
            self.page_call(
                page,
                "Input.dispatchKeyEvent",
                json!({ "type": "keyDown", "key": key, "text": key, "unmodifiedText": key }),
            );
            self.page_call(
                page,
                "Input.dispatchKeyEvent",
                json!({ "type": "keyUp", "key": key }),
            );
        }
    }

    fn press_enter(&mut self, page: &Page) {
        let key = json!({ "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13 });
        let mut down = key.clone();
        down["type"] = json!("keyDown");
        down["text"] = json!("\r");
        down["unmodifiedText"] = json!("\r");
        self.page_call(page, "Input.dispatchKeyEvent", down);
        let mut up = key;
        up["type"] = json!("keyUp");
        self.page_call(page, "Input.dispatchKeyEvent", up);
    }

    fn screenshot(&mut self, session: &str, path: &Path) -> Result<(), String> {
        let shot = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        )?;
        let png = base64_decode(shot["data"].as_str().unwrap_or_default()).ok_or("bad base64")?;
        std::fs::write(path, png).map_err(|e| e.to_string())
    }

    /// With PERSONABOT_BROWSER_SCREENSHOTS=DIR: a screenshot of this step.
    fn step_screenshot(&mut self, page: &Page, name: &str) {
        if let Some(dir) = self.shots.clone() {
            let session = page.session.clone();
            if let Err(e) = self.screenshot(&session, &dir.join(format!("{name}.png"))) {
                self.fail(&format!("screenshot {name}: {e}"));
            }
        }
    }

    fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }

    /// Saves a screenshot and the HTML of every page, then panics with `message`.
    fn fail(&mut self, message: &str) -> ! {
        let mut saved = Vec::new();
        for (name, session) in self.pages.clone() {
            let png = self.dir.join(format!("{name}-failure.png"));
            if self.screenshot(&session, &png).is_ok() {
                saved.push(png.display().to_string());
            }
            let html = self.call(
                Some(&session),
                "Runtime.evaluate",
                json!({ "expression": "location.href + '\\n' + document.documentElement.outerHTML", "returnByValue": true }),
            );
            if let Some(html_text) = html
                .ok()
                .and_then(|v| v["result"]["value"].as_str().map(str::to_string))
            {
                let path = self.dir.join(format!("{name}-failure.html"));
                if std::fs::write(&path, html_text).is_ok() {
                    saved.push(path.display().to_string());
                }
            }
        }
        let chromium_log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        // The last lines, less the D-Bus noise of a machine without a session bus.
        let mut chromium_tail: Vec<&str> = chromium_log
            .lines()
            .filter(|l| !l.contains("dbus"))
            .rev()
            .take(15)
            .collect();
        chromium_tail.reverse();
        let server_log = self
            .server_log
            .as_ref()
            .map(|l| l.lock().unwrap().join("\n"))
            .unwrap_or_default();
        panic!(
            "{message}\n\nsaved: {saved:#?}\npage errors: {:#?}\nserver log:\n{server_log}\nchromium log (last lines):\n{}",
            self.errors,
            chromium_tail.join("\n")
        );
    }

    fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..chunk.len().saturating_sub(1)]);
    }
    Some(out)
}

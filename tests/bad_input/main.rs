//! The bad-input matrix: one table of hostile or odd inputs (empty, whitespace, emoji, 1 MB,
//! invalid UTF-8, control characters, zalgo, right-to-left override, mention injection, markdown
//! link spoofing, a 10,000-message flood, concurrent messages in one conversation) run through
//! every channel by its real path: the `personabot chat` binary (terminal), the HTTP server on a
//! loopback port, and the Slack, Telegram and Discord adapters against the local fakes in
//! tests/support. Each cell checks that the case got an accepted outcome (a clear error or a safe
//! reply), that nothing the bot sent could ping or link anything, that every acknowledged message
//! is in the store (nothing lost), and that the channel still answers a normal message afterwards.
//! `cargo test --test bad_input -- --nocapture` prints the matrix.

#[path = "../support/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../support/fake_slack.rs"]
mod fake_slack;
#[path = "../support/fake_telegram.rs"]
mod fake_telegram;
#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::channels::{discord, slack, telegram};
use personabot::engine::pipeline::Pipeline;
use personabot::engine::AppState;
use personabot::store::{Actor, InteractionFilter, Store, TicketStatus};

// ----------------------------------------------------------------------------------------------
// The table
// ----------------------------------------------------------------------------------------------

/// What one case sends.
#[derive(Clone, Debug)]
enum Input {
    /// One message with this text.
    Text(String),
    /// One message whose JSON body carries these bytes, unescaped, as the text (not UTF-8). The
    /// terminal gets them as a line on stdin. The Discord gateway cannot carry them (its frames
    /// are UTF-8 text by protocol), so the Discord fake sends the lossy decoding, as a real
    /// client's bytes would arrive after Discord's own validation.
    Bytes(Vec<u8>),
    /// `count` messages from one user in one conversation, sent as fast as the channel takes them.
    Flood { count: usize, text: &'static str },
    /// `count` messages (`text #k`) to one conversation at once.
    Concurrent { count: usize, text: &'static str },
}

/// The channels (the matrix's columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chan {
    Terminal,
    Http,
    Slack,
    Telegram,
    Discord,
    /// In an accept list: every channel without its own line.
    Any,
}

const CHANNELS: [Chan; 5] = [
    Chan::Terminal,
    Chan::Http,
    Chan::Slack,
    Chan::Telegram,
    Chan::Discord,
];

impl Chan {
    fn name(self) -> &'static str {
        match self {
            Chan::Terminal => "terminal",
            Chan::Http => "http",
            Chan::Slack => "slack",
            Chan::Telegram => "telegram",
            Chan::Discord => "discord",
            Chan::Any => "any",
        }
    }
}

/// An accepted outcome of a (case, channel), on top of the invariants every cell checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accept {
    /// Pipeline answers, every one of them stored.
    Answer,
    /// The polite "your message looks empty" (not a turn: nothing stored).
    EmptyNotice,
    /// An HTTP status with a JSON `{"error": ...}` containing this text; nothing stored.
    Refused(u16, &'static str),
    /// A clear error line (terminal) containing this text; nothing stored.
    ErrorLine(&'static str),
    /// Not answered: the platform never delivers it (Slack has no empty messages); nothing stored.
    Ignored,
    /// Per-user rate limit: at most `limits.flood_messages` answered, one polite notice (or 429
    /// with a JSON error for each refused request), the rest dropped.
    FloodLimited,
}

struct Case {
    name: &'static str,
    input: Input,
    /// Accepted outcomes: the first line for the channel, else the `Chan::Any` line.
    accept: &'static [(Chan, Accept)],
}

impl Case {
    fn accepts(&self, chan: Chan) -> Accept {
        self.accept
            .iter()
            .find(|(c, _)| *c == chan)
            .or_else(|| self.accept.iter().find(|(c, _)| *c == Chan::Any))
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("case {:?} says nothing for {chan:?}", self.name))
    }
}

/// `limits.flood_messages` (the shipped default); the window is made an hour long in every
/// harness so the counts are exact however slow the machine is.
const FLOOD_LIMIT: usize = 8;
const FLOOD_WINDOW_SECS: &str = "3600";
/// Messages in the flood case: the full 10,000 on every channel.
const FLOOD: usize = 10_000;
/// Messages sent at once in the concurrency case (at most the flood limit, so all are served).
const CONCURRENT: usize = FLOOD_LIMIT;

/// Longest wait for a fake channel's replies. Generous: after the flood, a channel first works
/// through its backlog (10,000 gateway events or queued webhook jobs) before the probe's turn,
/// which on a busy machine in a debug build can take a while.
const WAIT: Duration = Duration::from_secs(120);

/// The normal message sent after every case: the channel must still answer it.
const PROBE: &str = "I forgot my password";
const PROBE_ANSWER: &str = "reset";
const EMPTY_NOTICE: &str = "looks empty";
const FLOOD_NOTICE: &str = "faster than I can keep up";

/// Markup that must never come back to a customer from their own text.
const ECHO_MARKERS: [&str; 7] = ["@everyone", "@here", "<@", "<!", "](", "\u{202E}", "\u{0}"];

fn one_mb_text() -> String {
    let mut text = String::from("I want a refund ");
    while text.len() < 1024 * 1024 {
        text.push_str("and more words ");
    }
    text
}

fn zalgo(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            std::iter::once(c).chain((0..40u32).map(|k| char::from_u32(0x300 + k).unwrap()))
        })
        .collect()
}

fn cases() -> Vec<Case> {
    use Accept::*;
    use Chan::*;
    vec![
        Case {
            name: "empty text",
            input: Input::Text(String::new()),
            accept: &[(Slack, Ignored), (Any, EmptyNotice)],
        },
        Case {
            name: "only whitespace",
            input: Input::Text(" \t \u{3000} \u{a0}  ".into()),
            accept: &[(Slack, Ignored), (Any, EmptyNotice)],
        },
        Case {
            name: "only emoji",
            input: Input::Text("🙂🔥👍🏽🇺🇦👨‍👩‍👧".into()),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "1 MB of text",
            input: Input::Text(one_mb_text()),
            accept: &[
                // Cut to limits.max_message_chars and answered.
                (Terminal, Answer),
                // Over http.max_body_bytes (64 KiB): every webhook body too.
                (Http, Refused(413, "too large")),
                (Slack, Refused(413, "too large")),
                (Telegram, Refused(413, "too large")),
                // The gateway delivers it; cut and answered.
                (Discord, Answer),
            ],
        },
        Case {
            name: "invalid UTF-8 bytes",
            input: Input::Bytes(b"\xff\xfe\xc3( how much is the growth plan \xed\xa0\x80".to_vec()),
            accept: &[
                (Terminal, ErrorLine("not valid UTF-8")),
                (Http, Refused(400, "invalid JSON")),
                (Slack, Refused(400, "invalid JSON")),
                (Telegram, Refused(400, "invalid Telegram update")),
                (Discord, Answer),
            ],
        },
        Case {
            name: "NUL and control characters",
            input: Input::Text(
                "\u{0}\u{1}\u{7}\u{1b}[31m how much is the growth plan \u{8}\u{7f}\u{9b}2J\u{0}"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "zalgo / combining marks",
            input: Input::Text(zalgo("how much is the growth plan")),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "right-to-left override",
            input: Input::Text(
                "\u{202E}nalp htworg eht si hcum woh\u{202C} how much is the growth plan \u{202E}gpj.exe"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            // Opens a ticket, so Discord echoes the text into the team channel's ticket message.
            name: "mention injection",
            input: Input::Text(
                "@everyone @here <@&5001> <@1234> <!channel> <!here> <!everyone> \
                 <!subteam^S0TEAM|@agents> <@U0OTHER> I want a refund"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            // Opens a ticket too, so Discord echoes the links into the ticket message.
            name: "markdown link spoofing",
            input: Input::Text(
                "I want a refund: [https://hearth.example/billing](https://evil.example/phish) \
                 <https://evil.example/phish|https://hearth.example/billing>"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "10,000-message flood",
            input: Input::Flood {
                count: FLOOD,
                text: "how much is it",
            },
            // The terminal is the operator's own console (one local user): no rate limit, every
            // line is answered and stored.
            accept: &[(Terminal, Answer), (Any, FloodLimited)],
        },
        Case {
            name: "concurrent, one conversation",
            input: Input::Concurrent {
                count: CONCURRENT,
                text: "I want a refund",
            },
            accept: &[(Any, Answer)],
        },
    ]
}

// ----------------------------------------------------------------------------------------------
// What a cell saw, and its verdict
// ----------------------------------------------------------------------------------------------

/// What one (case, channel) observed.
#[derive(Debug, Default)]
struct Seen {
    /// Pipeline answers the customer got: the messages the bot acknowledged.
    answers: usize,
    empty_notices: usize,
    flood_notices: usize,
    /// Clear errors: (HTTP status or `None` for an error line, the error text).
    errors: Vec<(Option<u16>, String)>,
    /// Requests refused by the rate limit (HTTP 429).
    limited: usize,
    /// Interactions the store holds for the case's conversation(s).
    stored: usize,
    /// Broken invariants (unsafe payloads, inconsistent state, no answer to the probe...).
    problems: Vec<String>,
    /// Extra facts for the matrix (e.g. a ticket echo checked inert).
    notes: Vec<String>,
}

impl Seen {
    fn problem(&mut self, p: impl Into<String>) {
        self.problems.push(p.into());
    }

    /// Checks a reply text sent to the customer: none of their markup comes back.
    fn check_reply(&mut self, reply: &str) {
        for m in ECHO_MARKERS {
            if reply.to_lowercase().contains(m) {
                self.problem(format!("reply echoes {m:?}: {:.120}", reply));
            }
        }
    }

    /// Counts one reply text by kind.
    fn count_reply(&mut self, reply: &str) {
        self.check_reply(reply);
        if reply.contains(EMPTY_NOTICE) {
            self.empty_notices += 1;
        } else if reply.contains(FLOOD_NOTICE) {
            self.flood_notices += 1;
        } else {
            self.answers += 1;
        }
    }
}

fn accepted(accept: Accept, seen: &Seen) -> Result<String, String> {
    let answered = seen.answers;
    let errors = || {
        seen.errors
            .iter()
            .map(|(s, e)| format!("{}{e:.60}", s.map(|s| format!("{s} ")).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match accept {
        Accept::Answer if answered > 0 && seen.errors.is_empty() => {
            Ok(format!("answered {answered}, stored {}", seen.stored))
        }
        Accept::EmptyNotice if seen.empty_notices == 1 && answered == 0 => {
            Ok("polite \"looks empty\", nothing stored".into())
        }
        Accept::Refused(status, needle)
            if answered == 0
                && !seen.errors.is_empty()
                && seen
                    .errors
                    .iter()
                    .all(|(s, e)| *s == Some(status) && e.contains(needle)) =>
        {
            Ok(format!("{status} JSON error \"{needle}\", nothing stored"))
        }
        Accept::ErrorLine(needle)
            if answered == 0
                && !seen.errors.is_empty()
                && seen
                    .errors
                    .iter()
                    .all(|(s, e)| s.is_none() && e.contains(needle)) =>
        {
            Ok(format!("error line \"{needle}\", session goes on"))
        }
        Accept::Ignored if answered == 0 && seen.empty_notices == 0 && seen.errors.is_empty() => {
            Ok("ignored (never sent by the platform), nothing stored".into())
        }
        Accept::FloodLimited
            if (1..=FLOOD_LIMIT).contains(&answered)
                && (seen.flood_notices == 1 || (seen.flood_notices == 0 && seen.limited > 0)) =>
        {
            Ok(if seen.limited > 0 {
                format!(
                    "{answered} answered, {} x 429 JSON error, {} stored",
                    seen.limited, seen.stored
                )
            } else {
                format!(
                    "{answered} answered + 1 notice, rest dropped, {} stored",
                    seen.stored
                )
            })
        }
        _ => Err(format!(
            "expected {accept:?}, saw {answered} answers, {} empty notices, {} flood notices, \
             {} x 429, errors [{}]",
            seen.empty_notices,
            seen.flood_notices,
            seen.limited,
            errors()
        )),
    }
}

/// The cell's verdict: an accepted outcome, nothing lost, no broken invariant.
fn verdict(case: &Case, chan: Chan, seen: &Seen) -> Result<String, String> {
    let mut problems = seen.problems.clone();
    if seen.stored != seen.answers {
        problems.push(format!(
            "{} acknowledged but {} stored ({} lost)",
            seen.answers,
            seen.stored,
            seen.answers as i64 - seen.stored as i64
        ));
    }
    match accepted(case.accepts(chan), seen) {
        Ok(outcome) if problems.is_empty() => {
            let mut out = outcome;
            for n in &seen.notes {
                out.push_str("; ");
                out.push_str(n);
            }
            Ok(out)
        }
        Ok(outcome) => Err(format!("{outcome}; {}", problems.join("; "))),
        Err(e) => Err([e]
            .into_iter()
            .chain(problems)
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Consistency of one conversation after concurrent messages (`text #k`, k = 0..count): every
/// acknowledged message stored once, at most one open ticket, and the ticket's transcript holds
/// each customer line once, in the order of the stored interactions.
fn check_concurrent(store: &Store, channel: &str, conversation: &str, seen: &mut Seen) {
    let mut stored: Vec<_> = store
        .interactions(&InteractionFilter::default())
        .expect("read interactions")
        .into_iter()
        .filter(|i| i.channel == channel && i.conversation == conversation)
        .collect();
    stored.sort_by_key(|i| i.id);
    let mut texts: Vec<&str> = stored.iter().map(|i| i.text.as_str()).collect();
    texts.sort();
    texts.dedup();
    if texts.len() != stored.len() {
        seen.problem("a message was stored twice");
    }
    let tickets: Vec<_> = store
        .tickets(None, None)
        .expect("read tickets")
        .into_iter()
        .filter(|t| t.channel == channel && t.conversation == conversation)
        .collect();
    let open = tickets
        .iter()
        .filter(|t| t.status != TicketStatus::Resolved)
        .count();
    if open > 1 {
        seen.problem(format!("{open} open tickets in one conversation"));
    }
    if let Some(t) = tickets.first() {
        let customer: Vec<&str> = t
            .transcript
            .iter()
            .filter(|l| l.from == Actor::Customer)
            .map(|l| l.text.as_str())
            .collect();
        let by_id: Vec<&str> = stored.iter().map(|i| i.text.as_str()).collect();
        if customer != by_id {
            seen.problem(format!(
                "ticket transcript {customer:?} differs from the stored turns {by_id:?}"
            ));
        }
        if t.transcript.windows(2).any(|w| w[0].at_ms > w[1].at_ms) {
            seen.problem("ticket transcript out of order");
        }
        if stored.iter().any(|i| i.ticket != Some(t.id)) {
            seen.problem("a turn is not linked to the conversation's ticket");
        }
    }
    let state = store
        .conversation(channel, conversation)
        .expect("conversation state");
    if state.turns as usize != stored.len() {
        seen.problem(format!(
            "conversation counts {} turns, {} stored",
            state.turns,
            stored.len()
        ));
    }
    if state.open_ticket.as_ref().map(|o| o.id) != tickets.first().map(|t| t.id) {
        seen.problem("the conversation's open ticket is not its ticket");
    }
    seen.notes.push(format!(
        "{} ticket(s), transcript = stored order",
        tickets.len()
    ));
}

fn stored_in(store: &Store, channel: &str, conversation: &str) -> usize {
    store
        .interactions(&InteractionFilter::default())
        .expect("read interactions")
        .iter()
        .filter(|i| i.channel == channel && i.conversation == conversation)
        .count()
}

/// Replaces the JSON string `"@@RAW@@"` in `json` by `raw`, unescaped, in quotes.
fn with_raw_text(json: &str, raw: &[u8]) -> Vec<u8> {
    let (before, after) = json
        .split_once("@@RAW@@")
        .expect("the placeholder is in the JSON");
    [before.as_bytes(), raw, after.as_bytes()].concat()
}

/// Polls `count` until it reaches `want`, then until it has not changed for a quiet while;
/// gives up at `timeout` (the verdict then names what is missing).
async fn settle(count: impl Fn() -> usize, want: usize, timeout: Duration) {
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

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([(
            "PERSONABOT__LIMITS__FLOOD_WINDOW_SECS".to_string(),
            FLOOD_WINDOW_SECS.to_string(),
        )])
        .collect()
}

fn quiet_logs_and_no_proxy() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    std::env::set_var("no_proxy", "127.0.0.1,localhost");
}

/// A server (`app::app`) on a loopback port over a fresh store, as `serve` runs it.
struct Served {
    url: String,
    state: AppState,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start(settings: Settings) -> Served {
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

    fn pipeline(&self) -> &Arc<Pipeline> {
        &self.state.pipeline
    }

    /// Whether the server still answers `/healthz`.
    async fn healthy(&self, client: &reqwest::Client) -> bool {
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
fn pipeline_with(store: Store, settings: &Settings) -> Pipeline {
    support::pipeline_with_settings(settings, store)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Reads a 4xx answer as (status, `error`), or a problem when it is not a JSON error.
fn json_error(status: u16, body: &str, seen: &mut Seen) {
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

// ----------------------------------------------------------------------------------------------
// Terminal: the real binary, one `chat --json` process per case
// ----------------------------------------------------------------------------------------------

/// Runs `personabot --data DATA chat --json` with `stdin`; returns (exit code, stdout, stderr).
fn chat(
    data: &Path,
    conversation: &str,
    user: &str,
    stdin: Vec<u8>,
) -> (Option<i32>, String, String) {
    let args = [
        "chat",
        "--json",
        "--conversation",
        conversation,
        "--user",
        user,
    ];
    let run = support::run_in_bytes(data, data, &args, &stdin);
    (run.code, run.stdout, run.stderr)
}

/// Counts one session's JSON lines into `seen` (the last `probes` lines are the probe's).
fn read_session(stdout: &str, seen: &mut Seen) -> Vec<Value> {
    let mut lines = Vec::new();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => lines.push(v),
            Err(e) => seen.problem(format!("stdout line is not JSON ({e}): {line:.100}")),
        }
    }
    lines
}

fn count_turns(lines: &[Value], seen: &mut Seen) {
    for v in lines {
        if let Some(e) = v["error"].as_str() {
            seen.errors.push((None, e.to_string()));
        } else if let Some(reply) = v["reply"].as_str() {
            seen.count_reply(reply);
        } else {
            seen.problem(format!("a turn without a reply: {v}"));
        }
    }
}

fn terminal_case(data: &Path, n: usize, case: &Case) -> Seen {
    let mut seen = Seen::default();
    let conversation = format!("term-case-{n}");
    let user = format!("term-user-{n}");
    let line = |stdin: &mut Vec<u8>, bytes: &[u8]| {
        stdin.extend_from_slice(bytes);
        stdin.push(b'\n');
    };
    let probe_tail = |stdin: &mut Vec<u8>| {
        stdin.extend_from_slice(format!("/new\n{PROBE}\n").as_bytes());
    };
    if let Input::Concurrent { count, text } = &case.input {
        // Several sessions on one store and conversation at once: each waits for the
        // store's lock (or says clearly that it is in use); none loses an answered line.
        let sessions = 4;
        let per = count / sessions;
        let handles: Vec<_> = (0..sessions)
            .map(|s| {
                let mut stdin = Vec::new();
                for k in 0..per {
                    line(&mut stdin, format!("{text} #{}", s * per + k).as_bytes());
                }
                let (data, conversation, user) =
                    (data.to_path_buf(), conversation.clone(), user.clone());
                std::thread::spawn(move || chat(&data, &conversation, &user, stdin))
            })
            .collect();
        for h in handles {
            let (code, stdout, stderr) = h.join().expect("session thread");
            let lines = read_session(&stdout, &mut seen);
            count_turns(&lines, &mut seen);
            match code {
                Some(0) => {}
                _ if stderr.contains("in use by another process") => {
                    seen.notes.push("a session found the store busy".into())
                }
                _ => seen.problem(format!("session exited {code:?}: {stderr:.200}")),
            }
        }
        // The process-stays-up probe: a fresh session on the same store.
        let mut stdin = Vec::new();
        probe_tail(&mut stdin);
        let (_, stdout, _) = chat(data, &format!("{conversation}-probe"), &user, stdin);
        let lines = read_session(&stdout, &mut seen);
        let probe_ok = lines
            .last()
            .and_then(|v| v["reply"].as_str())
            .is_some_and(|r| r.contains(PROBE_ANSWER));
        if !probe_ok {
            seen.problem("the probe after the case got no normal answer");
        }
        let store = Store::open(data, None).expect("reopen the terminal store");
        seen.stored = stored_in(&store, "terminal", &conversation);
        check_concurrent(&store, "terminal", &conversation, &mut seen);
        return seen;
    }
    let mut stdin = Vec::new();
    let sent = match &case.input {
        Input::Text(t) => {
            line(&mut stdin, t.as_bytes());
            1
        }
        Input::Bytes(b) => {
            line(&mut stdin, b);
            1
        }
        Input::Flood { count, text } => {
            seen.notes
                .push("no rate limit on the operator's own console".into());
            for k in 0..*count {
                line(&mut stdin, format!("{text} #{k}").as_bytes());
            }
            *count
        }
        Input::Concurrent { .. } => unreachable!("handled above"),
    };
    probe_tail(&mut stdin);
    let (code, stdout, stderr) = chat(data, &conversation, &user, stdin);
    if code != Some(0) {
        seen.problem(format!("chat exited {code:?}: {stderr:.200}"));
    }
    let mut lines = read_session(&stdout, &mut seen);
    let probe = lines.pop();
    if lines.len() != sent {
        seen.problem(format!("{sent} lines sent, {} answered", lines.len()));
    }
    count_turns(&lines, &mut seen);
    if !probe
        .as_ref()
        .and_then(|v| v["reply"].as_str())
        .is_some_and(|r| r.contains(PROBE_ANSWER))
    {
        seen.problem(format!("the session did not answer the probe: {probe:?}"));
    }
    let store = Store::open(data, None).expect("reopen the terminal store");
    seen.stored = stored_in(&store, "terminal", &conversation);
    seen
}

fn terminal_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    cases
        .iter()
        .enumerate()
        .map(|(n, case)| verdict(case, Chan::Terminal, &terminal_case(dir.path(), n, case)))
        .collect()
}

// ----------------------------------------------------------------------------------------------
// HTTP: POST /v1/messages on the real server
// ----------------------------------------------------------------------------------------------

/// One `/v1/messages` request with a raw body; returns (status, body).
async fn post_raw(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("request failed: {e}")),
    }
}

fn message_body(conversation: &str, user: &str, text: &str) -> Vec<u8> {
    json!({ "conversation": conversation, "user": user, "text": text })
        .to_string()
        .into_bytes()
}

/// Counts one `/v1/messages` answer into `seen`.
fn count_http(status: u16, body: &str, seen: &mut Seen) {
    match status {
        200 => match serde_json::from_str::<Value>(body) {
            Ok(v) => match v["reply"].as_str() {
                Some(reply) => seen.count_reply(reply),
                None => seen.problem(format!("200 without a reply: {body:.100}")),
            },
            Err(e) => seen.problem(format!("200 with a body that is not JSON ({e})")),
        },
        429 => {
            seen.limited += 1;
            if !body.contains("too many messages") {
                seen.problem(format!("429 without its JSON error: {body:.100}"));
            }
        }
        400..=499 => json_error(status, body, seen),
        _ => seen.problem(format!("status {status}: {body:.200}")),
    }
}

async fn http_case(s: &Served, n: usize, case: &Case) -> Seen {
    let client = client();
    let url = format!("{}/v1/messages", s.url);
    let conversation = format!("http-case-{n}");
    let user = format!("http-user-{n}");
    let mut seen = Seen::default();
    match &case.input {
        Input::Text(t) => {
            let (status, body) =
                post_raw(&client, &url, message_body(&conversation, &user, t)).await;
            count_http(status, &body, &mut seen);
        }
        Input::Bytes(b) => {
            let json = message_body(&conversation, &user, "@@RAW@@");
            let body = with_raw_text(std::str::from_utf8(&json).unwrap(), b);
            let (status, body) = post_raw(&client, &url, body).await;
            count_http(status, &body, &mut seen);
        }
        Input::Flood { count, text } => {
            let text: &'static str = text;
            // Four clients in parallel, each sending its share one request after another.
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (client, url) = (client.clone(), url.clone());
                    let (conversation, user) = (conversation.clone(), user.clone());
                    let share: Vec<usize> = (0..*count).filter(|k| k % 4 == w).collect();
                    tokio::spawn(async move {
                        let mut answers = Vec::with_capacity(share.len());
                        for k in share {
                            let body = message_body(&conversation, &user, &format!("{text} #{k}"));
                            answers.push(post_raw(&client, &url, body).await);
                        }
                        answers
                    })
                })
                .collect();
            for w in workers {
                for (status, body) in w.await.expect("flood worker") {
                    count_http(status, &body, &mut seen);
                }
            }
        }
        Input::Concurrent { count, text } => {
            let tasks: Vec<_> = (0..*count)
                .map(|k| {
                    let (client, url) = (client.clone(), url.clone());
                    let body = message_body(&conversation, &user, &format!("{text} #{k}"));
                    tokio::spawn(async move { post_raw(&client, &url, body).await })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.expect("request task");
                count_http(status, &body, &mut seen);
            }
        }
    }
    let (status, body) = post_raw(
        &client,
        &url,
        message_body(
            &format!("http-probe-{n}"),
            &format!("http-probe-{n}"),
            PROBE,
        ),
    )
    .await;
    if status != 200 || !body.contains(PROBE_ANSWER) {
        seen.problem(format!("probe after the case: {status} {body:.100}"));
    }
    let store = s.pipeline().store();
    seen.stored = stored_in(store, "http", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "http", &conversation, &mut seen);
    }
    seen
}

async fn http_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let settings = Settings::load_with_env(None, Some(env(&[]))).expect("settings");
    let s = Served::start(settings).await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(case, Chan::Http, &http_case(&s, n, case).await));
    }
    assert!(s.healthy(&client()).await, "the HTTP server is still up");
    column
}

// ----------------------------------------------------------------------------------------------
// Slack: signed Events API requests; replies at the fake Slack Web API
// ----------------------------------------------------------------------------------------------

const SLACK_SECRET: &str = "slack-signing-secret-bad-input";
const SLACK_CHANNEL: &str = "C0SUPPORT";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An `event_callback` body for a message in thread `thread` (as Slack encodes it: mentions
/// and links in the text arrive as `<...>` tokens).
fn slack_event(event_id: &str, user: &str, text: &str, ts: &str, thread: &str) -> String {
    json!({
        "token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0APP", "type": "event_callback",
        "event_id": event_id, "event_time": unix_now(),
        "authorizations": [{ "team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": true }],
        "event": { "type": "message", "channel": SLACK_CHANNEL, "user": user, "text": text,
                   "ts": ts, "thread_ts": thread, "event_ts": ts, "channel_type": "channel" },
    })
    .to_string()
}

async fn slack_post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    let ts = unix_now().to_string();
    let signature = fake_slack::sign(SLACK_SECRET, &ts, &body);
    match client
        .post(url)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("request failed: {e}")),
    }
}

/// Checks every call the bot made to the fake Slack: nothing can mention, ping or link.
fn check_slack_calls(calls: &[fake_slack::Call], seen: &mut Seen) {
    for c in calls {
        if c.raw.contains('<') {
            seen.problem(format!("unescaped `<` sent to Slack: {:.160}", c.raw));
        }
        if c.method == "chat.postMessage"
            && (c.body["parse"] != "none" || c.body["link_names"] != false)
        {
            seen.problem(format!(
                "postMessage without parse none / link_names false: {:.160}",
                c.raw
            ));
        }
        for block in c.body["blocks"].as_array().into_iter().flatten() {
            if block["type"] == "section" && block["text"]["verbatim"] != true {
                seen.problem("a section block that Slack may turn into links or mentions");
            }
        }
    }
}

async fn slack_case(s: &Served, fake: &fake_slack::FakeSlack, n: usize, case: &Case) -> Seen {
    let client = client();
    let url = format!("{}/slack/events", s.url);
    let user = format!("U0CASE{n}");
    let thread = format!("17000{n:05}.000000");
    let conversation = slack::conversation_key(SLACK_CHANNEL, &thread);
    let mark = fake.mark();
    let mut seen = Seen::default();
    let count_ack = |status: u16, body: &str, seen: &mut Seen| match status {
        200 => {}
        400..=499 => json_error(status, body, seen),
        _ => seen.problem(format!("status {status}: {body:.200}")),
    };
    let event = |k: usize, text: &str| {
        let ts = format!("17000{n:05}.{k:06}");
        slack_event(&format!("Ev{n}x{k}"), &user, text, &ts, &thread)
    };
    let want = match &case.input {
        Input::Text(t) => {
            let (status, body) = slack_post(&client, &url, event(0, t).into_bytes()).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200 && case.accepts(Chan::Slack) != Accept::Ignored)
        }
        Input::Bytes(b) => {
            let body = with_raw_text(&event(0, "@@RAW@@"), b);
            let (status, body) = slack_post(&client, &url, body).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200)
        }
        Input::Flood { count, text } => {
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (client, url) = (client.clone(), url.clone());
                    let bodies: Vec<String> = (0..*count)
                        .filter(|k| k % 4 == w)
                        .map(|k| event(k, &format!("{text} #{k}")))
                        .collect();
                    tokio::spawn(async move {
                        let mut statuses = Vec::new();
                        for b in bodies {
                            statuses.push(slack_post(&client, &url, b.into_bytes()).await);
                        }
                        statuses
                    })
                })
                .collect();
            for w in workers {
                for (status, body) in w.await.expect("flood worker") {
                    count_ack(status, &body, &mut seen);
                }
            }
            FLOOD_LIMIT + 1
        }
        Input::Concurrent { count, text } => {
            let tasks: Vec<_> = (0..*count)
                .map(|k| {
                    let (client, url) = (client.clone(), url.clone());
                    let body = event(k, &format!("{text} #{k}"));
                    tokio::spawn(async move { slack_post(&client, &url, body.into_bytes()).await })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.expect("request task");
                count_ack(status, &body, &mut seen);
            }
            *count
        }
    };
    let in_thread = |c: &fake_slack::Call| {
        c.method == "chat.postMessage" && c.status == 200 && c.body["thread_ts"] == thread.as_str()
    };
    settle(|| fake.matching(mark, in_thread).len(), want, WAIT).await;
    // The probe: a new thread from another user.
    let probe_thread = format!("17999{n:05}.000000");
    let probe = slack_event(
        &format!("EvProbe{n}"),
        &format!("U0PROBE{n}"),
        PROBE,
        &probe_thread,
        &probe_thread,
    );
    let (status, _) = slack_post(&client, &url, probe.into_bytes()).await;
    let answered = |c: &fake_slack::Call| {
        c.method == "chat.postMessage" && c.body["thread_ts"] == probe_thread.as_str()
    };
    settle(|| fake.matching(mark, answered).len(), 1, WAIT).await;
    if status != 200
        || !fake
            .matching(mark, answered)
            .iter()
            .any(|c| c.text().contains(PROBE_ANSWER))
    {
        seen.problem("the probe after the case got no normal answer");
    }
    // Counted once the probe is answered, so late replies to the case are counted too.
    for c in fake.matching(mark, in_thread) {
        seen.count_reply(&slack_text(&c));
    }
    check_slack_calls(&fake.calls()[mark..], &mut seen);
    let store = s.pipeline().store();
    seen.stored = stored_in(store, "slack", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "slack", &conversation, &mut seen);
    }
    seen
}

/// A Slack message's text as the customer reads it (the entities decoded).
fn slack_text(c: &fake_slack::Call) -> String {
    slack::plain_text(c.text())
}

async fn slack_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let fake = fake_slack::FakeSlack::start().await;
    let base = fake.api_base();
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__SLACK__SIGNING_SECRET", SLACK_SECRET),
            ("PERSONABOT__SLACK__BOT_TOKEN", fake_slack::TOKEN),
            ("PERSONABOT__SLACK__API_BASE", &base),
        ])),
    )
    .expect("settings");
    let s = Served::start(settings).await;
    let started = slack::start(s.state.clone()).await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(
            case,
            Chan::Slack,
            &slack_case(&s, &fake, n, case).await,
        ));
    }
    assert!(s.healthy(&client()).await, "the Slack server is still up");
    if let Some(task) = started {
        task.abort();
    }
    column
}

// ----------------------------------------------------------------------------------------------
// Telegram: updates POSTed to the webhook; replies at the fake Bot API
// ----------------------------------------------------------------------------------------------

// The webhook mode is the one that receives raw bodies (invalid UTF-8, 1 MB) from outside; the
// long-polling mode reads the same `Update`s through teloxide and is covered by tests/telegram.rs.
const TG_TOKEN: &str = "123456:BAD-input-token";
const TG_SECRET: &str = "bad-input-hook-secret";

async fn tg_post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    match client
        .post(url)
        .header("content-type", "application/json")
        .header(telegram::SECRET_HEADER, TG_SECRET)
        .body(body)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("request failed: {e}")),
    }
}

/// Checks every message the bot sent to the fake Bot API: plain text, nothing parsed.
fn check_telegram_calls(calls: &[fake_telegram::Call], seen: &mut Seen) {
    for c in calls.iter().filter(|c| c.method == "sendMessage") {
        if !c.body["parse_mode"].is_null() || !c.body["entities"].is_null() {
            seen.problem(format!("sendMessage with formatting: {}", c.body));
        }
    }
}

async fn telegram_case(
    s: &Served,
    fake: &fake_telegram::FakeTelegram,
    n: usize,
    case: &Case,
) -> Seen {
    let client = client();
    let url = format!("{}/telegram/webhook", s.url);
    let chat = 70_000 + n as i64;
    let customer = fake_telegram::TgUser::new(chat as u64, "customer");
    let conversation = telegram::conversation_key(chat, None);
    let mark = fake.mark();
    let mut seen = Seen::default();
    let count_ack = |status: u16, body: &str, seen: &mut Seen| match status {
        200 => {}
        400..=499 => json_error(status, body, seen),
        _ => seen.problem(format!("status {status}: {body:.200}")),
    };
    let update = |text: &str| fake.text_update(chat, None, &customer, text).to_string();
    let want = match &case.input {
        Input::Text(t) => {
            let (status, body) = tg_post(&client, &url, update(t).into_bytes()).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200)
        }
        Input::Bytes(b) => {
            let body = with_raw_text(&update("@@RAW@@"), b);
            let (status, body) = tg_post(&client, &url, body).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200)
        }
        Input::Flood { count, text } => {
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (client, url) = (client.clone(), url.clone());
                    let bodies: Vec<String> = (0..*count)
                        .filter(|k| k % 4 == w)
                        .map(|k| update(&format!("{text} #{k}")))
                        .collect();
                    tokio::spawn(async move {
                        let mut statuses = Vec::new();
                        for b in bodies {
                            statuses.push(tg_post(&client, &url, b.into_bytes()).await);
                        }
                        statuses
                    })
                })
                .collect();
            for w in workers {
                for (status, body) in w.await.expect("flood worker") {
                    count_ack(status, &body, &mut seen);
                }
            }
            FLOOD_LIMIT + 1
        }
        Input::Concurrent { count, text } => {
            let tasks: Vec<_> = (0..*count)
                .map(|k| {
                    let (client, url) = (client.clone(), url.clone());
                    let body = update(&format!("{text} #{k}"));
                    tokio::spawn(async move { tg_post(&client, &url, body.into_bytes()).await })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.expect("request task");
                count_ack(status, &body, &mut seen);
            }
            *count
        }
    };
    let to_chat = |c: &fake_telegram::Call| c.method == "sendMessage" && c.ok() && c.chat() == chat;
    let sent = || {
        fake.calls_of(mark, "sendMessage")
            .into_iter()
            .filter(to_chat)
            .count()
    };
    settle(sent, want, WAIT).await;
    let probe_chat = 79_000 + n as i64;
    let prober = fake_telegram::TgUser::new(probe_chat as u64, "prober");
    let probe = fake
        .text_update(probe_chat, None, &prober, PROBE)
        .to_string();
    let (status, _) = tg_post(&client, &url, probe.into_bytes()).await;
    let probe_answered = || {
        fake.calls_of(mark, "sendMessage")
            .iter()
            .any(|c| c.chat() == probe_chat && c.text().contains(PROBE_ANSWER))
    };
    settle(|| usize::from(probe_answered()), 1, WAIT).await;
    if status != 200 || !probe_answered() {
        seen.problem("the probe after the case got no normal answer");
    }
    // Counted once the probe is answered, so late replies to the case are counted too.
    for c in fake
        .calls_of(mark, "sendMessage")
        .iter()
        .filter(|c| to_chat(c))
    {
        seen.count_reply(c.text());
    }
    check_telegram_calls(&fake.calls()[mark..], &mut seen);
    let store = s.pipeline().store();
    seen.stored = stored_in(store, "telegram", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "telegram", &conversation, &mut seen);
    }
    seen
}

async fn telegram_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let fake = fake_telegram::FakeTelegram::start(TG_TOKEN).await;
    let base = fake.base_url();
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__TELEGRAM__TOKEN", TG_TOKEN),
            ("PERSONABOT__TELEGRAM__API_URL", &base),
            ("PERSONABOT__TELEGRAM__WEBHOOK_SECRET", TG_SECRET),
        ])),
    )
    .expect("settings");
    let s = Served::start(settings).await;
    let started = telegram::start(s.state.clone()).await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(
            case,
            Chan::Telegram,
            &telegram_case(&s, &fake, n, case).await,
        ));
    }
    assert!(
        s.healthy(&client()).await,
        "the Telegram server is still up"
    );
    if let Some(task) = started {
        task.abort();
    }
    column
}

// ----------------------------------------------------------------------------------------------
// Discord: the bot's serenity client against the fake gateway and REST API
// ----------------------------------------------------------------------------------------------

const DISCORD_SUPPORT: u64 = 2001;
/// Flood messages sent to the Discord fake between two checks that the bot keeps up.
const DISCORD_FLOOD_BURST: usize = 250;
/// Team channels that receive tickets (sales, support, billing, security).
const DISCORD_TEAM_CHANNELS: [u64; 4] = [4001, 4002, 4003, 4004];

/// Checks every message the bot sent to the fake Discord: it pings nobody (Discord honours
/// `allowed_mentions`, so `parse: []` with no users or roles means no mention fires) and its
/// text carries no live mention or masked link either.
fn check_discord_requests(requests: &[fake_discord::Request], seen: &mut Seen) {
    for r in requests {
        let body = if r
            .body
            .get("data")
            .is_some_and(|d| d.get("content").is_some())
        {
            &r.body["data"]
        } else {
            &r.body
        };
        if body.get("content").is_none() {
            continue;
        }
        let allowed = &body["allowed_mentions"];
        let pings_nobody = allowed["parse"] == json!([])
            && allowed["users"].as_array().is_none_or(|a| a.is_empty())
            && allowed["roles"].as_array().is_none_or(|a| a.is_empty());
        if !pings_nobody {
            seen.problem(format!("{} {} may ping: {allowed}", r.method, r.api_path()));
        }
        let content = body["content"].as_str().unwrap_or_default();
        let lower = content.to_lowercase();
        for live in ["@everyone", "@here", "<@", "<#", "]("] {
            if lower.contains(live) {
                seen.problem(format!("live {live:?} in {}: {content:.160}", r.api_path()));
            }
        }
    }
}

async fn discord_case(
    pipeline: &Arc<Pipeline>,
    fake: &fake_discord::FakeDiscord,
    n: usize,
    case: &Case,
) -> Seen {
    let author = fake_discord::User::new(800_000 + n as u64, "customer");
    let conversation = discord::conversation_key(DISCORD_SUPPORT, author.id, true);
    let mark = fake.requests().len();
    let mut seen = Seen::default();
    let guild = Some(fake_discord::GUILD_ID);
    let mut ids = Vec::new();
    let want = match &case.input {
        Input::Text(t) => {
            ids.push(fake.message(DISCORD_SUPPORT, &author, t, guild).await);
            1
        }
        Input::Bytes(b) => {
            let lossy = String::from_utf8_lossy(b);
            seen.notes
                .push("sent as U+FFFD: the gateway carries only UTF-8".into());
            ids.push(fake.message(DISCORD_SUPPORT, &author, &lossy, guild).await);
            1
        }
        Input::Flood { count, text } => {
            // All 10,000, in bursts. Discord lets one user post a few messages per second; the
            // fake delivers as fast as it can, and its gateway heartbeat is 1 s (Discord's is
            // 41 s). When a heartbeat ACK waits behind a backlog longer than that, serenity
            // restarts the shard with a fresh IDENTIFY, a new session in which the undelivered
            // backlog is gone (as on Discord). So each burst is followed by a message from
            // another user, whose answer shows the bot has worked through the burst.
            let all: Vec<usize> = (0..*count).collect();
            for (burst, ks) in all.chunks(DISCORD_FLOOD_BURST).enumerate() {
                for k in ks {
                    let text = format!("{text} #{k}");
                    ids.push(fake.message(DISCORD_SUPPORT, &author, &text, guild).await);
                }
                let marker = fake_discord::User::new(880_000 + burst as u64, "marker");
                let id = fake
                    .message(DISCORD_SUPPORT, &marker, PROBE, guild)
                    .await
                    .to_string();
                let path = format!("/channels/{DISCORD_SUPPORT}/messages");
                let answered = || {
                    usize::from(fake.requests()[mark..].iter().any(|r| {
                        r.is("POST", &path)
                            && r.body["message_reference"]["message_id"].as_str()
                                == Some(id.as_str())
                    }))
                };
                settle(answered, 1, WAIT).await;
                if answered() == 0 {
                    seen.problem(format!("no answer to another user after burst {burst}"));
                    break;
                }
            }
            seen.notes.push(format!(
                "sent in bursts of {DISCORD_FLOOD_BURST}, another user answered after each"
            ));
            FLOOD_LIMIT + 1
        }
        Input::Concurrent { count, text } => {
            for k in 0..*count {
                let text = format!("{text} #{k}");
                ids.push(fake.message(DISCORD_SUPPORT, &author, &text, guild).await);
            }
            *count
        }
    };
    let ids: std::collections::HashSet<String> = ids.iter().map(u64::to_string).collect();
    let path = format!("/channels/{DISCORD_SUPPORT}/messages");
    let replies = || -> Vec<fake_discord::Request> {
        fake.requests()[mark..]
            .iter()
            .filter(|r| r.is("POST", &path) && r.status < 300)
            .filter(|r| {
                r.body["message_reference"]["message_id"]
                    .as_str()
                    .is_some_and(|id| ids.contains(id))
            })
            .cloned()
            .collect()
    };
    settle(|| replies().len(), want, WAIT).await;
    let probe_author = fake_discord::User::new(890_000 + n as u64, "prober");
    let probe = fake
        .message(DISCORD_SUPPORT, &probe_author, PROBE, guild)
        .await
        .to_string();
    let probe_answered = || {
        fake.requests()[mark..].iter().any(|r| {
            r.is("POST", &path)
                && r.body["message_reference"]["message_id"].as_str() == Some(probe.as_str())
                && r.content().contains(PROBE_ANSWER)
        })
    };
    settle(|| usize::from(probe_answered()), 1, WAIT).await;
    if !probe_answered() {
        let to_probe: Vec<String> = fake.requests()[mark..]
            .iter()
            .filter(|r| r.body["message_reference"]["message_id"].as_str() == Some(probe.as_str()))
            .map(|r| format!("{} {} {}", r.status, r.api_path(), r.content()))
            .collect();
        seen.problem(format!(
            "the probe after the case got no normal answer (gateway: {} identify, {} resume, \
             {} replayed, client closes {:?}; requests for the probe: {to_probe:?})",
            fake.identify_count(),
            fake.resume_count(),
            fake.replayed_count(),
            fake.client_closes(),
        ));
    }
    // Counted once the probe (sent after the case) is answered: the gateway delivers in order,
    // so by then every message of the case has reached the bot.
    for r in replies() {
        seen.count_reply(r.content());
    }
    let requests = fake.requests()[mark..].to_vec();
    let tickets_posted = requests
        .iter()
        .filter(|r| {
            r.method == "POST"
                && DISCORD_TEAM_CHANNELS
                    .iter()
                    .any(|c| r.api_path() == format!("/channels/{c}/messages"))
        })
        .count();
    if tickets_posted > 0 {
        seen.notes.push(format!(
            "{tickets_posted} ticket post(s) echoing the text, inert"
        ));
    }
    check_discord_requests(&requests, &mut seen);
    let store = pipeline.store();
    seen.stored = stored_in(store, "discord", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "discord", &conversation, &mut seen);
    }
    seen
}

async fn discord_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let fake = fake_discord::FakeDiscord::start().await;
    let base = fake.base_url();
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__DISCORD__TOKEN", "fake-token"),
            ("PERSONABOT__DISCORD__API_BASE", &base),
            ("PERSONABOT__DISCORD__GUILD_ID", "3001"),
            ("PERSONABOT__DISCORD__SUPPORT_CHANNELS", "2001"),
            ("PERSONABOT__TEAMS__SALES__DISCORD_CHANNEL", "4001"),
            ("PERSONABOT__TEAMS__SUPPORT__DISCORD_CHANNEL", "4002"),
            ("PERSONABOT__TEAMS__BILLING__DISCORD_CHANNEL", "4003"),
            ("PERSONABOT__TEAMS__SECURITY__DISCORD_CHANNEL", "4004"),
        ])),
    )
    .expect("settings");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Some("bad-input-key")).expect("store");
    let pipeline = Arc::new(pipeline_with(store, &settings));
    let state = personabot::engine::AppState::new(pipeline.clone(), Arc::new(settings));
    let handle = discord::start(&state).await.expect("discord starts");
    fake.wait_ready(Duration::from_secs(20)).await;
    let mut channels = vec![DISCORD_SUPPORT];
    channels.extend(DISCORD_TEAM_CHANNELS);
    fake.guild_create(&[], &channels).await;
    fake.wait_request(0, Duration::from_secs(20), |r| {
        r.method == "PUT" && r.api_path().ends_with("/commands")
    })
    .await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(
            case,
            Chan::Discord,
            &discord_case(&pipeline, &fake, n, case).await,
        ));
    }
    handle.shutdown().await;
    column
}

// ----------------------------------------------------------------------------------------------
// The matrix
// ----------------------------------------------------------------------------------------------

fn print_matrix(cases: &[Case], columns: &[Vec<Result<String, String>>]) {
    let mut out = String::from("\n| case |");
    for c in CHANNELS {
        out.push_str(&format!(" {} |", c.name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(CHANNELS.len()));
    for (n, case) in cases.iter().enumerate() {
        out.push_str(&format!("\n| {} |", case.name));
        for column in columns {
            let cell = match &column[n] {
                Ok(outcome) => outcome.clone(),
                Err(failure) => format!("**FAIL**: {failure}"),
            };
            out.push_str(&format!(
                " {} |",
                cell.replace('|', "\\|").replace('\n', " ")
            ));
        }
    }
    println!("{out}\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_matrix() {
    quiet_logs_and_no_proxy();
    let started = Instant::now();
    let table = Arc::new(cases());
    let terminal = {
        let table = table.clone();
        tokio::task::spawn_blocking(move || terminal_column(&table))
    };
    let (http, slack, telegram, discord) = tokio::join!(
        http_column(&table),
        slack_column(&table),
        telegram_column(&table),
        discord_column(&table),
    );
    let terminal = terminal.await.expect("terminal column");
    let columns = [terminal, http, slack, telegram, discord];
    print_matrix(&table, &columns);
    println!("bad-input matrix: {:.1} s", started.elapsed().as_secs_f64());
    let failures: Vec<String> = table
        .iter()
        .enumerate()
        .flat_map(|(n, case)| {
            CHANNELS
                .iter()
                .zip(&columns)
                .filter_map(move |(chan, column)| {
                    column[n]
                        .as_ref()
                        .err()
                        .map(|e| format!("{} x {}: {e}", case.name, chan.name()))
                })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "bad-input failures:\n{}",
        failures.join("\n")
    );
}

/// Regression: a stdin line that is not UTF-8 used to end `personabot chat` with "stream did
/// not contain valid UTF-8" (exit 1), dropping every later line. Now that line gets a clear
/// error and the session answers the next one.
#[test]
fn terminal_refuses_a_line_that_is_not_utf8_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = b"hi\n\xff\xfe broken\nI forgot my password\n".to_vec();
    let (code, stdout, stderr) = chat(dir.path(), "utf8", "u", stdin);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0]["reply"].is_string(), "{}", lines[0]);
    assert_eq!(
        lines[1]["error"],
        personabot::channels::terminal::NOT_UTF8,
        "{}",
        lines[1]
    );
    assert!(
        lines[2]["reply"].as_str().unwrap().contains(PROBE_ANSWER),
        "{}",
        lines[2]
    );
    let store = Store::open(dir.path(), None).expect("reopen");
    assert_eq!(store.interaction_count(), 2, "the bad line is not a turn");
}

/// Regression: over `http.max_body_bytes`, the webhooks that read the raw body (Slack events and
/// interactions, Telegram) answered axum's plain-text 413; every error is JSON now.
#[tokio::test]
async fn webhook_bodies_over_the_limit_get_a_json_413() {
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__HTTP__MAX_BODY_BYTES", "1024"),
            ("PERSONABOT__SLACK__SIGNING_SECRET", SLACK_SECRET),
            ("PERSONABOT__SLACK__BOT_TOKEN", "xoxb-unused"),
            ("PERSONABOT__TELEGRAM__TOKEN", TG_TOKEN),
            ("PERSONABOT__TELEGRAM__WEBHOOK_SECRET", TG_SECRET),
        ])),
    )
    .expect("settings");
    let s = Served::start(settings).await;
    let client = client();
    let big = vec![b'x'; 4096];
    for path in [
        "/slack/events",
        "/slack/interactions",
        "/telegram/webhook",
        "/v1/messages",
    ] {
        let (status, body) = post_raw(&client, &format!("{}{path}", s.url), big.clone()).await;
        assert_eq!(status, 413, "{path}: {body}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: the 413 is not JSON ({e}): {body}"));
        assert_eq!(v["error"], "the request body is too large", "{path}");
    }
    assert!(s.healthy(&client).await);
}

/// The payload checks themselves: each flags what the platform would turn into a ping or a
/// link, and passes what it would show as text.
#[test]
fn the_safety_checks_catch_live_mentions_and_links() {
    let at = Instant::now();
    let discord = |content: &str, allowed: Value| fake_discord::Request {
        method: "POST".into(),
        path: "/api/v10/channels/4003/messages".into(),
        body: json!({ "content": content, "allowed_mentions": allowed }),
        at,
        query: String::new(),
        files: Vec::new(),
        status: 200,
    };
    let slack = |raw: Value| fake_slack::Call {
        method: "chat.postMessage".into(),
        authorization: None,
        raw: raw.to_string(),
        body: raw,
        status: 200,
        at,
    };
    let telegram = |body: Value| fake_telegram::Call {
        method: "sendMessage".into(),
        body,
        status: 200,
        at,
    };
    let inert = json!({ "parse": [] });
    let safe_slack = json!({ "text": "&lt;!here&gt;", "parse": "none", "link_names": false });
    type Check<'a> = Box<dyn Fn(&mut Seen) + 'a>;
    let cases: Vec<(&str, Check<'_>, bool)> = vec![
        (
            "discord inert",
            Box::new(|s: &mut Seen| {
                check_discord_requests(
                    &[discord("@\u{200B}everyone [x]\u{200B}(y)", inert.clone())],
                    s,
                )
            }),
            true,
        ),
        (
            "discord @everyone",
            Box::new(|s: &mut Seen| {
                check_discord_requests(&[discord("@everyone", inert.clone())], s)
            }),
            false,
        ),
        (
            "discord masked link",
            Box::new(|s: &mut Seen| {
                check_discord_requests(&[discord("[a](https://evil)", inert.clone())], s)
            }),
            false,
        ),
        (
            "discord parse users",
            Box::new(|s: &mut Seen| {
                check_discord_requests(&[discord("hi", json!({ "parse": ["users"] }))], s)
            }),
            false,
        ),
        (
            "discord no allowed_mentions",
            Box::new(|s: &mut Seen| check_discord_requests(&[discord("hi", Value::Null)], s)),
            false,
        ),
        (
            "slack escaped",
            Box::new(|s: &mut Seen| check_slack_calls(&[slack(safe_slack.clone())], s)),
            true,
        ),
        (
            "slack <!channel>",
            Box::new(|s: &mut Seen| {
                check_slack_calls(
                    &[slack(
                        json!({ "text": "<!channel>", "parse": "none", "link_names": false }),
                    )],
                    s,
                )
            }),
            false,
        ),
        (
            "slack parse full",
            Box::new(|s: &mut Seen| {
                check_slack_calls(
                    &[slack(
                        json!({ "text": "hi", "parse": "full", "link_names": false }),
                    )],
                    s,
                )
            }),
            false,
        ),
        (
            "telegram plain",
            Box::new(|s: &mut Seen| {
                check_telegram_calls(&[telegram(json!({ "text": "[a](b)" }))], s)
            }),
            true,
        ),
        (
            "telegram markdown",
            Box::new(|s: &mut Seen| {
                check_telegram_calls(
                    &[telegram(
                        json!({ "text": "[a](b)", "parse_mode": "MarkdownV2" }),
                    )],
                    s,
                )
            }),
            false,
        ),
        (
            "reply echo",
            Box::new(|s: &mut Seen| s.check_reply("you said @here")),
            false,
        ),
        (
            "reply clean",
            Box::new(|s: &mut Seen| s.check_reply("Reset it at Settings > Security.")),
            true,
        ),
    ];
    for (name, check, safe) in cases {
        let mut seen = Seen::default();
        check(&mut seen);
        assert_eq!(
            seen.problems.is_empty(),
            safe,
            "{name}: {:?}",
            seen.problems
        );
    }
}

//! The web chat and the agent queue in a real browser, against a real `personabot serve`:
//! a customer asks a question on `/`, reads the self-help answer, presses "Talk to a human" and
//! sees the banner naming the team; an agent signs in on `/agent` in a second tab, opens the
//! ticket, claims it and replies; the reply appears in the customer's chat; the persona review
//! (`/review`) of that evidence renders its charts; a page of another site cannot frame `/agent`
//! or `/review`.
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

mod agent_day;
mod agent_desk;
mod browser;
mod continuity;
mod framing;
mod rating;
mod server;
mod widget;
mod workdir;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use browser::Browser;
use server::Server;
use workdir::Workdir;

const BIN: &str = env!("CARGO_BIN_EXE_personabot");
const TOKEN: &str = "web-test-agent-token";
const QUESTION: &str = "How much does the Growth plan cost for my startup?";
/// The account the agent token signs in as (the bootstrap account of
/// PERSONABOT__HTTP__AGENT_TOKEN).
const SIGNED_IN: &str = "agent";
/// Typed with a line break and markup, which must come out as plain text on both pages.
const AGENT_REPLY: &str =
    "Hi, Dana from Sales here. <b>Happy</b> to help!\nShall we book a call about the startup program?";
/// The longest wait for any one step.
const STEP: Duration = Duration::from_secs(30);
/// The longest wait for one DevTools command.
const CALL: Duration = Duration::from_secs(30);

/// The Chromium to drive, or `None` when PERSONABOT_SKIP_BROWSER says to skip (said loudly).
pub(crate) fn chromium_or_skip() -> Option<PathBuf> {
    if std::env::var("PERSONABOT_SKIP_BROWSER").is_ok_and(|v| !v.is_empty() && v != "0") {
        // Straight to stderr: the test harness does not capture this, so it shows in `cargo test`.
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\nSKIPPED: web_chromium (PERSONABOT_SKIP_BROWSER is set). The web chat and the \
             agent queue were NOT tested in a browser.\n{bar}\n",
            bar = "*".repeat(78)
        );
        return None;
    }
    Some(find_chromium().unwrap_or_else(|| {
        panic!(
            "Chromium not found. This test drives the web chat and the agent queue in headless \
             Chromium: install Debian's chromium (`apt-get install -y chromium`), or set \
             PERSONABOT_CHROMIUM to a Chromium/Chrome binary. To skip it on a machine without \
             Chromium, set PERSONABOT_SKIP_BROWSER=1 (CI must not)."
        )
    }))
}

#[test]
fn customer_asks_hands_off_and_reads_the_agent_reply_in_chromium() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };

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
        "the server-issued conversation and its visitor token in localStorage",
        "['conversation', 'token'].map(k => JSON.parse(localStorage.getItem('personabot.chat.' + k)))",
        |v| {
            v.as_array().is_some_and(|a| {
                a[0].as_str().is_some_and(|c| c.starts_with("web-") && c.len() == 36)
                    && a[1].as_str().is_some_and(|t| t.len() == 64)
            })
        },
    );
    let conversation = ids[0].as_str().unwrap().to_string();
    let visitor_token = ids[1].as_str().unwrap().to_string();
    let updates = wait_for_ticket(&mut b, &server, &conversation, &visitor_token);
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
        "[...document.querySelectorAll('#banners .banner')].map(b => [b.dataset.ticket, b.querySelector('.banner-title').textContent])",
        json!([[ticket_id.to_string(), banner_title.clone()]]),
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
        "the signed-in account's name",
        "document.querySelector('#agent-who').textContent",
        json!(SIGNED_IN),
    );

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
    // Every line in order; the bot's markdown is shown rendered, so lines are compared
    // without markup and spacing.
    let transcript: Vec<Value> = full["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!(squeezed(l["text"].as_str().unwrap())))
        .collect();
    b.wait_value(
        &agent,
        "the transcript",
        "[...document.querySelectorAll('#t-transcript .text')].map(e => e.textContent)",
        |v| {
            v.as_array().is_some_and(|lines| {
                let shown: Vec<Value> = lines
                    .iter()
                    .map(|l| json!(squeezed(l.as_str().unwrap_or_default())))
                    .collect();
                shown == transcript
            })
        },
    );
    // This ticket has no contact and normal priority.
    b.wait_eq(
        &agent,
        "no contact and no priority badge for a ticket without them",
        "[document.querySelector('#t-contact-link').textContent, document.querySelector('#t-priority').hidden]",
        json!(["—", true]),
    );
    b.step_screenshot(&agent, "4-agent-ticket");

    b.click(&agent, "#claim");
    b.wait_eq(
        &agent,
        "the ticket claimed by the agent",
        &format!("[document.querySelector('#t-status').textContent, document.querySelector('#t-meta').textContent.includes('claimed by {SIGNED_IN}'), document.querySelector('#claim').disabled]"),
        json!(["claimed", true, true]),
    );
    // The toast of that action sits in its own strip: it covers no control.
    b.wait_value(
        &agent,
        "the claim's toast",
        "document.querySelector('#toasts').textContent",
        |v| v.as_str().is_some_and(|s| s.contains("claimed")),
    );
    b.wait_eq(
        &agent,
        "the toast clear of every control",
        agent_desk::TOAST_CLEAR,
        json!([]),
    );
    b.step_screenshot(&agent, "4b-agent-toast");
    b.type_into(&agent, "#reply-text", AGENT_REPLY);
    b.click(&agent, "#reply-send");
    b.wait_eq(
        &agent,
        "the reply in the transcript",
        "(l => l && [l.querySelector('.from b').textContent, l.querySelector('.text').textContent])([...document.querySelectorAll('#t-transcript .line')].pop())",
        json!([format!("{SIGNED_IN} (agent)"), AGENT_REPLY]),
    );
    b.wait_eq(
        &agent,
        "the reply box cleared",
        "document.querySelector('#reply-text').value",
        json!(""),
    );
    b.wait_eq(
        &agent,
        "the ticket's history (the audit log) naming the signed-in account",
        "[...document.querySelectorAll('#t-audit li')].map(e => e.textContent.split(' (')[0])",
        json!([
            format!("claim by {SIGNED_IN}"),
            format!("reply by {SIGNED_IN}")
        ]),
    );
    b.wait_eq(
        &agent,
        "the ticket claimed in the server",
        &format!("fetch('/v1/tickets/{ticket_id}').then(r => r.json()).then(t => [t.status, t.claimed_by])"),
        json!(["claimed", SIGNED_IN]),
    );
    // The agent confirms the labels (ground truth).
    let (intent, persona) = (
        full["intent"]["id"].as_str().unwrap(),
        full["persona"]["id"].as_str().unwrap(),
    );
    b.choose(&agent, "#relabel-intent", intent);
    b.choose(&agent, "#relabel-persona", persona);
    b.click(&agent, "#relabel-send");
    b.wait_eq(
        &agent,
        "the relabel in the ticket's history",
        "[...document.querySelectorAll('#t-relabels li')].map(e => e.textContent.split(' (')[0])",
        json!([format!(
            "intent → {intent}, persona → {persona} by {SIGNED_IN}"
        )]),
    );
    b.step_screenshot(&agent, "5-agent-replied");

    // 4. Back in the chat: the agent's reply, as plain text, under the agent's name and team.
    b.bring_to_front(&chat);
    b.wait_eq(
        &chat,
        "the agent's reply in the chat",
        "[...document.querySelectorAll('#messages .msg.agent')].map(m => [m.querySelector('.who .name').textContent, m.querySelector('.bubble').textContent])",
        json!([[format!("{SIGNED_IN} ({team_name})"), AGENT_REPLY]]),
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
        "document.querySelector('#banners .banner-title').textContent",
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
        "document.querySelector('#banners .banner-title').textContent",
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

    // 8. Another site's page that frames the agent desk and the review gets nothing.
    framing::agent_and_review_cannot_be_framed(&mut b, &base);

    b.close_clean();
    let code = server.stop();
    assert_eq!(code, 0, "serve exits 0 on SIGTERM");
}

/// The last bot message of the chat (not the welcome, not the typing indicator).
const LAST_BOT: &str =
    "[...document.querySelectorAll('#messages .msg.bot:not(.typing):not(.welcome)')].pop()";
/// Its text as the bot wrote it, back from the rendered markdown: paragraphs as they are, list
/// items as `- ` lines (bold and links give their words; see [`plain`]).
const LAST_BOT_TEXT: &str =
    "(m => m && [...m.querySelector('.bubble').children].flatMap(c => c.tagName === 'UL' ? [...c.children].map(li => '- ' + li.textContent) : [c.textContent]).join('\\n'))([...document.querySelectorAll('#messages .msg.bot:not(.typing):not(.welcome)')].pop())";

/// A reply's markdown as the page shows its words: `**bold**` as `bold`, `[text](url)` as
/// `text` (every link of the shipped answers is http(s) or mailto), blank lines dropped.
fn plain(markdown: &str) -> String {
    let unbolded = markdown.replace("**", "");
    let link = unlink(&unbolded);
    link.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `[text](url)` as `text`.
fn unlink(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let parsed = after[1..].split_once("](").and_then(|(words, tail)| {
            let (_, after_url) = tail.split_once(')')?;
            (!words.contains('\n')).then_some((words, after_url))
        });
        match parsed {
            Some((words, after_url)) => {
                out.push_str(words);
                rest = after_url;
            }
            None => {
                out.push('[');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

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
    plain(turn["reply"].as_str().expect("a reply"))
}

/// The conversation's ticket, as the updates endpoint shows it.
fn wait_for_ticket(b: &mut Browser, server: &Server, conversation: &str, token: &str) -> Value {
    let deadline = Instant::now() + STEP;
    loop {
        let v = server.get_visitor_json(
            &format!("/v1/conversations/{conversation}/updates?after=0"),
            token,
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

/// [`plain`] without list markers and whitespace: what a rendered line and its source have in
/// common.
fn squeezed(text: &str) -> String {
    plain(text)
        .lines()
        .map(|l| l.trim_start().strip_prefix("- ").unwrap_or(l))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

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

mod harness;
mod on_discord;
mod on_http;
mod on_slack;
mod on_telegram;
mod on_terminal;
mod table;
mod verdict;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use personabot::catalog::settings::Settings;

use harness::{client, env, quiet_logs_and_no_proxy, Served};
use on_discord::{check_discord_requests, discord_column};
use on_http::{http_column, post_raw};
use on_slack::{check_slack_calls, slack_column, SLACK_SECRET};
use on_telegram::{check_telegram_calls, telegram_column, TG_SECRET, TG_TOKEN};
use on_terminal::terminal_column;
use table::{cases, Case, CHANNELS};
use verdict::Seen;

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
                check_discord_requests(&[discord("[a](javascript:alert(1))", inert.clone())], s)
            }),
            false,
        ),
        (
            "discord answer link",
            Box::new(|s: &mut Seen| {
                check_discord_requests(
                    &[discord(
                        "see [docs](https://hearth.example/docs)",
                        inert.clone(),
                    )],
                    s,
                )
            }),
            true,
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
            "slack answer link",
            Box::new(|s: &mut Seen| {
                check_slack_calls(
                    &[slack(
                        json!({ "text": "see <https://hearth.example/docs|docs>", "parse": "none", "link_names": false }),
                    )],
                    s,
                )
            }),
            true,
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
            "telegram answer html",
            Box::new(|s: &mut Seen| {
                check_telegram_calls(
                    &[telegram(json!({
                        "text": "<b>a</b> <a href=\"https://b.example\">c</a>", "parse_mode": "HTML",
                        "_result_text": "a c",
                        "_result_entities": [
                            { "type": "bold", "offset": 0, "length": 1 },
                            { "type": "text_link", "offset": 2, "length": 1, "url": "https://b.example" },
                        ],
                    }))],
                    s,
                )
            }),
            true,
        ),
        (
            "telegram html script link",
            Box::new(|s: &mut Seen| {
                check_telegram_calls(
                    &[telegram(json!({
                        "text": "<a href=\"javascript:x\">c</a>", "parse_mode": "HTML",
                        "_result_text": "c",
                        "_result_entities": [
                            { "type": "text_link", "offset": 0, "length": 1, "url": "javascript:x" },
                        ],
                    }))],
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

//! Store commands beside a running `serve`: they reach its store through `data/control.sock`
//! and print exactly what they print offline once it has stopped. Ticket actions taken beside
//! it go through the live bot. A socket left by a killed serve does not get in the way.

#[path = "support/serve_process.rs"]
mod serve_process;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use serve_process::{bridge_post, ServeProcess};
use support::{run_in, Run};

/// Conversations that leave answers, a clarifying question, a miss and two tickets behind.
const SCRIPT: &[(&str, &str)] = &[
    ("c1", "I run a Shopify store, how much is it?"),
    ("c2", "we are 2000 employees, our procurement team needs an enterprise quote, can I talk to a person?"),
    ("c3", "I'm the founder of a 5-person startup"),
    ("c3", "how much is it?"),
    ("c4", "asdf qwerty zxcv"),
    ("c5", "I want a refund for last month's invoice, please"),
];

/// Runs `personabot --data DATA ARGS` from `cwd`.
fn cli(cwd: &Path, data: &Path, args: &[&str]) -> Run {
    run_in(cwd, data, args, None)
}

/// The commands compared live and offline. `review` reports when it was generated, which
/// differs between two runs and is left out of the comparison (as `tickets list`'s age column
/// would be: its JSON is compared).
const COMPARED: &[&[&str]] = &[
    &["tickets", "list", "--json"],
    &["tickets", "show", "1", "--json"],
    &["review", "--json"],
    &["review"],
    &["evidence", "export"],
    &["evidence", "export", "--outcome", "ticket"],
    &["replay", "--json"],
    &["suggest", "--json", "--min-support", "1"],
];

/// A run's output with its generation times removed.
fn comparable(args: &[&str], run: &Run) -> (Option<i32>, String, String) {
    let stdout = if args == ["review"] {
        // Its first line says up to when.
        run.stdout.lines().skip(1).collect::<Vec<_>>().join("\n")
    } else if args.contains(&"--json") && args[0] != "tickets" {
        let mut v: Value = serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", run.stdout));
        for key in ["generated_ms", "until_ms"] {
            if let Some(o) = v.as_object_mut() {
                o.remove(key);
            }
        }
        v.to_string()
    } else {
        run.stdout.clone()
    };
    (run.code, stdout, run.stderr.clone())
}

#[test]
fn store_commands_beside_serve_print_what_they_print_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut serve = ServeProcess::start(&data, &[]);
    for (conversation, text) in SCRIPT {
        let body = json!({"user": format!("u-{conversation}"), "conversation": conversation, "text": text});
        let (status, reply) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
        assert_eq!(status, 200, "{reply}");
    }

    let socket = data.join("control.sock");
    let mode = std::fs::metadata(&socket)
        .expect("serve made its control socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only its user may connect");

    // Beside the running serve: every command works (the store is locked by serve).
    let cwd = support::repo_root();
    let live: Vec<Run> = COMPARED.iter().map(|args| cli(&cwd, &data, args)).collect();
    for (args, run) in COMPARED.iter().zip(&live) {
        assert_eq!(
            run.code,
            Some(0),
            "{args:?} beside serve: {}{}",
            run.stdout,
            run.stderr
        );
    }
    let tickets = live[0].json_lines();
    assert_eq!(tickets.len(), 2, "two tickets: {:?}", live[0].stdout);
    assert_eq!(
        live[4].lines().len(),
        SCRIPT.len(),
        "every interaction exported"
    );
    // An error is the same error too.
    let missing = cli(&cwd, &data, &["tickets", "show", "99"]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("ticket #99 not found"),
        "{}",
        missing.stderr
    );

    // Stopped, the same commands on the same store print the same.
    serve.signal("TERM");
    let status = serve
        .wait_exit(Duration::from_secs(30))
        .expect("serve exits");
    assert_eq!(status.code(), Some(0), "{}", serve.stderr());
    assert!(!socket.exists(), "serve removes its socket when it stops");
    for (args, live) in COMPARED.iter().zip(&live) {
        let offline = cli(&cwd, &data, args);
        assert_eq!(
            comparable(args, live),
            comparable(args, &offline),
            "`personabot {}` beside serve and offline",
            args.join(" ")
        );
    }
    let offline_missing = cli(&cwd, &data, &["tickets", "show", "99"]);
    assert_eq!(
        (missing.code, &missing.stderr),
        (offline_missing.code, &offline_missing.stderr)
    );
}

#[test]
fn ticket_actions_beside_serve_go_through_the_live_bot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let serve = ServeProcess::start(
        &data,
        &[("PERSONABOT__HTTP__AGENT_TOKEN", "agent-secret-long-enough")],
    );
    let body = json!({"user": "u1", "conversation": "c1", "text": SCRIPT[1].1});
    let (status, _) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
    assert_eq!(status, 200);

    let cwd = dir.path();
    let claim = cli(cwd, &data, &["tickets", "claim", "1", "--agent", "ann"]);
    assert_eq!(
        (claim.code, claim.stdout.as_str()),
        (Some(0), "ticket #1 claimed by ann\n"),
        "{}",
        claim.stderr
    );
    // The running bot knows at once: the customer's next message goes to the agent, not the bot.
    let body = json!({"user": "u1", "conversation": "c1", "text": "any news?"});
    let (status, reply) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
    assert_eq!(status, 200);
    assert!(reply["reply"].is_null(), "the bot stays quiet: {reply}");
    let (status, body) = serve_process::request_as(
        serve.addr(),
        "GET",
        "/v1/tickets/1",
        None,
        Some("agent-secret-long-enough"),
    )
    .expect("ticket");
    assert_eq!(status, 200, "{body}");
    let ticket: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ticket["status"], "claimed", "{ticket}");
    assert_eq!(ticket["claimed_by"], "ann", "{ticket}");

    let relabel = cli(
        cwd,
        &data,
        &[
            "tickets", "relabel", "1", "--intent", "nonsense", "--agent", "ann",
        ],
    );
    assert_eq!(relabel.code, Some(1));
    assert!(relabel.stderr.contains("unknown intent `nonsense`"));
    let resolve = cli(cwd, &data, &["tickets", "resolve", "1", "--agent", "ann"]);
    assert_eq!(
        resolve.stdout, "ticket #1 resolved by ann\n",
        "{}",
        resolve.stderr
    );

    let forget = cli(cwd, &data, &["evidence", "forget", "--user", "u1"]);
    assert_eq!(forget.code, Some(0), "{}", forget.stderr);
    assert!(
        forget
            .stdout
            .starts_with("forgot user: 2 interaction(s), 1 ticket(s), 1 conversation(s) deleted"),
        "{}",
        forget.stdout
    );
    // The compaction after forgetting swapped the store's folder; the socket came along.
    assert!(data.join("control.sock").exists());
    let export = cli(cwd, &data, &["evidence", "export"]);
    assert_eq!(
        (export.code, export.stdout.as_str()),
        (Some(0), ""),
        "{}",
        export.stderr
    );
}

#[test]
fn a_socket_left_by_a_killed_serve_does_not_get_in_the_way() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut serve = ServeProcess::start(&data, &[]);
    let body = json!({"user": "u1", "conversation": "c1", "text": SCRIPT[0].1});
    assert_eq!(
        bridge_post(serve.addr(), "/v1/messages", &body).unwrap().0,
        200
    );
    serve.kill9();
    assert!(
        data.join("control.sock").exists(),
        "SIGKILL leaves the socket"
    );
    let export = cli(dir.path(), &data, &["evidence", "export"]);
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    assert_eq!(export.lines().len(), 1);
    // And the next serve takes the socket over.
    let serve = ServeProcess::start(&data, &[]);
    let list = cli(dir.path(), &data, &["tickets", "list", "--json"]);
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    drop(serve);
}

/// `personabot agents ...` beside a running serve: the account works at once, rotating and
/// removing it end its token at once, and `audit --json` lists every action (live and offline).
#[test]
fn accounts_made_beside_serve_work_at_once_and_the_audit_log_lists_the_actions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut serve = ServeProcess::start(&data, &[]);
    let tickets = |token: &str| {
        serve_process::request_as(serve.addr(), "GET", "/v1/tickets", None, Some(token))
            .expect("tickets")
            .0
    };
    assert_eq!(
        tickets("no-account-has-this-token"),
        404,
        "off: no token, no account"
    );
    let cwd = support::repo_root();

    let add = cli(&cwd, &data, &["agents", "add", "ann", "--team", "billing"]);
    assert_eq!(add.code, Some(0), "{}", add.stderr);
    let ann = add.lines().last().expect("the token, last").to_string();
    assert!(ann.len() >= 20, "{ann}");
    assert_eq!(tickets(&ann), 200, "the new token works at once");
    let owner = cli(&cwd, &data, &["agents", "add", "olga", "--role", "owner"]);
    assert_eq!(owner.code, Some(0), "{}", owner.stderr);
    for (args, needle) in [
        (&["agents", "add", "ann"][..], "exists already"),
        (&["agents", "add", "Ann"][..], "invalid account name"),
        (
            &["agents", "add", "zed", "--team", "nope"][..],
            "unknown team `nope`",
        ),
        (
            &["agents", "add", "zed", "--role", "root"][..],
            "unknown role",
        ),
        (
            &["agents", "remove", "nobody"][..],
            "no account named `nobody`",
        ),
    ] {
        let run = cli(&cwd, &data, args);
        assert_eq!(run.code, Some(1), "{args:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    let list = cli(&cwd, &data, &["agents", "list", "--json"]);
    let accounts = list.json_lines();
    assert_eq!(accounts.len(), 2, "{}", list.stdout);
    assert_eq!(accounts[0]["name"], "ann");
    assert_eq!(accounts[0]["teams"], json!(["billing"]));
    assert!(!list.stdout.contains(&ann) && !list.stdout.contains("hash"));

    // A billing ticket, claimed as ann over HTTP.
    let body = json!({"user": "u5", "conversation": "c5", "text": SCRIPT[5].1});
    assert_eq!(
        bridge_post(serve.addr(), "/v1/messages", &body).unwrap().0,
        200
    );
    let (status, _) = serve_process::request_as(
        serve.addr(),
        "POST",
        "/v1/tickets/1/claim",
        Some(&json!({"agent": "someone-else"})),
        Some(&ann),
    )
    .unwrap();
    assert_eq!(status, 200);

    let rotate = cli(&cwd, &data, &["agents", "rotate", "ann"]);
    assert_eq!(rotate.code, Some(0), "{}", rotate.stderr);
    let rotated = rotate.lines().last().unwrap().to_string();
    assert_eq!(tickets(&ann), 401, "the old token stops at once");
    assert_eq!(tickets(&rotated), 200);
    let remove = cli(&cwd, &data, &["agents", "remove", "ann"]);
    assert_eq!(remove.code, Some(0), "{}", remove.stderr);
    assert_eq!(tickets(&rotated), 401, "removed: refused at once");

    let actions = |run: &Run| -> Vec<String> {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        run.json_lines()
            .iter()
            .map(|e| {
                let about = e["ticket"]
                    .as_u64()
                    .map(|t| format!("#{t}"))
                    .or_else(|| e["target"].as_str().map(String::from))
                    .unwrap_or_default();
                format!("{} {about}", e["action"].as_str().unwrap())
            })
            .collect()
    };
    let live = cli(&cwd, &data, &["audit", "--json", "--since", "1h"]);
    let want = [
        "account_add ann",
        "account_add olga",
        "claim #1",
        "account_rotate ann",
        // The old token, tried after the rotation: a failed sign-in.
        "sign_in_failed bearer",
        "account_remove ann",
        "sign_in_failed bearer",
    ];
    assert_eq!(actions(&live), want);
    let claim = &live.json_lines()[2];
    assert_eq!(
        (claim["who"].as_str(), claim["via"].as_str()),
        (Some("ann"), Some("http"))
    );

    serve.signal("TERM");
    let status = serve
        .wait_exit(Duration::from_secs(30))
        .expect("serve exits");
    assert_eq!(status.code(), Some(0), "{}", serve.stderr());
    let offline = cli(&cwd, &data, &["audit", "--json"]);
    assert_eq!(actions(&offline), want, "the same log offline");
    let text = cli(&cwd, &data, &["audit"]);
    assert!(
        text.stdout.contains("claim") && text.stdout.contains("ticket #1"),
        "{}",
        text.stdout
    );
}

/// An agent or owner token shorter than 20 characters: `serve` refuses to start, saying why.
#[test]
fn a_short_env_token_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    for key in [
        "PERSONABOT__HTTP__AGENT_TOKEN",
        "PERSONABOT__HTTP__OWNER_TOKEN",
    ] {
        let data = dir.path().join(key);
        let mut child = serve_process::command(&data, &[(key, "short-token-123")])
            .spawn()
            .expect("serve starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve kept running with a short {key}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_ne!(status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(key) && stderr.contains("at least 20 characters"),
            "{stderr}"
        );
    }
}

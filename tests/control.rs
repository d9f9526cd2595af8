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

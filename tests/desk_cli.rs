//! `personabot tickets reply|assign|note` beside a running `serve` (through its control socket,
//! into the live bot) and offline (assign and note on the store; a reply, which only a running
//! serve can deliver, is refused).

#[path = "support/serve_process.rs"]
mod serve_process;
mod support;

use std::path::Path;

use serde_json::{json, Value};
use serve_process::{bridge_post, ServeProcess};
use support::{run_in, Run};

const TOKEN: &str = "desk-cli-agent-token-long";

fn cli(cwd: &Path, data: &Path, args: &[&str]) -> Run {
    run_in(cwd, data, args, None)
}

fn ticket(serve: &ServeProcess, id: u64) -> Value {
    let (status, body) = serve_process::request_as(
        serve.addr(),
        "GET",
        &format!("/v1/tickets/{id}"),
        None,
        Some(TOKEN),
    )
    .expect("ticket");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[test]
fn reply_assign_and_note_beside_serve_go_through_the_live_bot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let cwd = support::repo_root();
    let serve = ServeProcess::start(&data, &[("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)]);
    for name in ["ann", "bo"] {
        let add = cli(&cwd, &data, &["agents", "add", name, "--team", "billing"]);
        assert_eq!(add.code, Some(0), "{}", add.stderr);
    }
    let body = json!({"user": "u1", "conversation": "c1",
                      "text": "I want a refund for last month's invoice, please"});
    let (status, turn) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
    assert_eq!(status, 200);
    assert_eq!(turn["ticket"]["id"], 1, "{turn}");

    let assign = cli(
        &cwd,
        &data,
        &["tickets", "assign", "1", "bo", "--agent", "ann"],
    );
    assert_eq!(
        (assign.code, assign.stdout.as_str()),
        (Some(0), "ticket #1 assigned to bo by ann\n"),
        "{}",
        assign.stderr
    );
    let nobody = cli(&cwd, &data, &["tickets", "assign", "1", "zed"]);
    assert_eq!(nobody.code, Some(1));
    assert!(
        nobody
            .stderr
            .contains("`zed` is not an agent account of team `billing`"),
        "{}",
        nobody.stderr
    );
    let note = cli(
        &cwd,
        &data,
        &["tickets", "note", "1", "VIP, be generous", "--agent", "bo"],
    );
    assert_eq!(
        note.stdout, "note added to ticket #1 by bo\n",
        "{}",
        note.stderr
    );
    let reply = cli(
        &cwd,
        &data,
        &[
            "tickets",
            "reply",
            "1",
            "Your refund is on its way.",
            "--agent",
            "bo",
        ],
    );
    assert_eq!(
        reply.stdout, "reply sent on ticket #1 by bo\n",
        "{}",
        reply.stderr
    );

    // The live bot has them all: the server's own API shows them at once.
    let t = ticket(&serve, 1);
    assert_eq!(t["assigned_to"], "bo", "{t}");
    assert_eq!(t["notes"][0]["text"], "VIP, be generous");
    assert_eq!(t["notes"][0]["by"], "bo");
    let last = t["transcript"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["text"], "Your refund is on its way.", "{last}");
    assert_eq!(
        last["from"],
        json!({"kind": "agent", "name": "bo"}),
        "{last}"
    );
    assert!(
        !t["transcript"].to_string().contains("VIP"),
        "a note is not in the transcript"
    );
    let actions: Vec<String> = t["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["who"].as_str().unwrap(),
                e["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(actions, ["ann:assign", "bo:note", "bo:reply"]);

    // Offline: a reply cannot be delivered and is refused; assign and note work on the store.
    drop(serve);
    let reply = cli(
        &cwd,
        &data,
        &["tickets", "reply", "1", "hello?", "--agent", "bo"],
    );
    assert_eq!(reply.code, Some(1));
    assert!(
        reply.stderr.contains("no `serve` is running"),
        "{}",
        reply.stderr
    );
    let assign = cli(
        &cwd,
        &data,
        &["tickets", "assign", "1", "ann", "--agent", "bo"],
    );
    assert_eq!(assign.code, Some(0), "{}", assign.stderr);
    let note = cli(
        &cwd,
        &data,
        &["tickets", "note", "1", "called them", "--agent", "ann"],
    );
    assert_eq!(note.code, Some(0), "{}", note.stderr);
    let show = cli(&cwd, &data, &["tickets", "show", "1"]);
    assert!(show.stdout.contains("assigned: ann"), "{}", show.stdout);
    assert!(show.stdout.contains("ann: called them"), "{}", show.stdout);
    assert!(!show.stdout.contains("hello?"), "{}", show.stdout);
}

//! Finding things beside a real `personabot serve`: `tickets search` reaches the running
//! server's store, `tickets show` lists the customer's history (beside it and offline), and
//! saved replies are reloaded with the catalog when `replies/` changes.

#[path = "support/serve_process.rs"]
mod serve_process;
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_process::{bridge_post, copy_catalog, request_as, ServeProcess};
use support::run_in;

const AGENT: &str = "find-serve-agent-token-long-enough";

#[test]
fn tickets_search_works_beside_a_running_serve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let serve = ServeProcess::start(&data, &[]);
    for (conversation, text) in [
        ("c1", "I want a refund for last month's invoice, please"),
        ("c2", "we are 2000 employees, our procurement team needs an enterprise quote, can I talk to a person?"),
    ] {
        let body = json!({"user": format!("u-{conversation}"), "conversation": conversation, "text": text});
        let (status, reply) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
        assert_eq!(status, 200, "{reply}");
    }
    let run = run_in(
        dir.path(),
        &data,
        &["tickets", "search", "invoice", "--json"],
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let found = run.json_lines();
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert_eq!(found[0]["team"], "billing");
    let run = run_in(
        dir.path(),
        &data,
        &["tickets", "search", "--team", "sales", "--json"],
        None,
    );
    assert_eq!(run.json_lines().len(), 1, "{}", run.stdout);
}

/// Polls `ready` for up to 30 s.
fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn titles(serve: &ServeProcess) -> Vec<String> {
    let (status, body) = request_as(
        serve.addr(),
        "GET",
        "/v1/replies?team=billing",
        None,
        Some(AGENT),
    )
    .expect("replies");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn saved_replies_reload_with_the_catalog_and_a_broken_file_keeps_the_old_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_catalog(dir.path());
    let serve = ServeProcess::start_in(dir.path(), &[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT)]);
    assert_eq!(titles(&serve)[0], "Refund sent");

    let file = dir.path().join("replies/billing.toml");
    let save = |text: &str| {
        let tmp = file.with_extension("toml.tmp~");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    save(
        "[card-expired]\ntitle = \"Card expired\"\ntext = \"Hi {customer}, your card expired.\"\n",
    );
    eventually("the new saved reply", || titles(&serve) == ["Card expired"]);

    // A broken file: the old replies keep serving and /healthz says where the mistake is.
    save("[oops]\ntext = \"Hi {custmer}\"\n");
    eventually("the reload error in /healthz", || {
        request_as(serve.addr(), "GET", "/healthz", None, None)
            .is_ok_and(|(_, body)| body.contains("billing.toml:2:12"))
    });
    assert_eq!(titles(&serve), ["Card expired"]);
}

#[test]
fn tickets_show_lists_the_customers_history_beside_serve_and_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let serve = ServeProcess::start(&data, &[]);
    for (conversation, text) in [
        ("h1", "I want a refund for last month's invoice, please"),
        ("h2", "we are 2000 employees, our procurement team needs an enterprise quote, can I talk to a person?"),
    ] {
        let body = json!({"user": "u-same", "conversation": conversation, "text": text});
        let (status, reply) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
        assert_eq!(status, 200, "{reply}");
        assert!(reply["ticket"]["id"].is_u64(), "{reply}");
    }
    let show = |json: bool| {
        let mut args = vec!["tickets", "show", "2"];
        if json {
            args.push("--json");
        }
        let run = run_in(dir.path(), &data, &args, None);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        run.stdout
    };
    // Beside the running serve (through its control socket).
    let text = show(false);
    assert!(text.contains("history (this customer before"), "{text}");
    assert!(
        text.contains("ticket #1 [open] via test intent refund"),
        "{text}"
    );
    drop(serve);
    // Offline, on the store.
    let value: Value = serde_json::from_str(&show(true)).expect("JSON");
    let history = value["history"].as_array().expect("history");
    assert_eq!(history.len(), 1, "{value}");
    assert_eq!(
        (&history[0]["kind"], &history[0]["id"]),
        (&json!("ticket"), &json!(1))
    );
    let first = show(false);
    assert!(first.contains("ticket #1 [open]"), "{first}");
}

//! `personabot evidence`: export (redacted, filtered) and forget.

use serde_json::Value;

use crate::harness::Env;

#[test]
fn evidence_export_redacts_personal_data() {
    let env = Env::new();
    // A miss, then a second miss opens a ticket whose transcript holds both messages.
    let turns = env.chat("r", "U", &["my email is jane@example.com", "flurb znork"]);
    let id = turns[1]["ticket"]["id"]
        .as_u64()
        .expect("ticket")
        .to_string();
    let run = env.ok(&["evidence", "export"]);
    assert!(run.stdout.contains("[email]"), "{run:?}");
    assert!(
        !run.stdout.contains("jane@example.com") && !run.stdout.contains("jane@"),
        "{run:?}"
    );
    let lines = run.json_lines();
    assert_eq!(lines[0]["text"], "my email is [email]");
    for store_view in [
        env.ok(&["tickets", "show", &id]).stdout,
        env.ok(&["tickets", "show", &id, "--json"]).stdout,
        env.ok(&["tickets", "list"]).stdout,
    ] {
        assert!(store_view.contains("[email]"), "{store_view}");
        assert!(!store_view.contains("jane@"), "{store_view}");
    }
}

#[test]
fn evidence_export_filters() {
    let env = Env::new();
    env.chat(
        "a",
        "U",
        &[
            "hi",
            "how much is the growth plan",
            "/helped",
            "I want a refund",
        ],
    );
    env.chat("b", "V", &["qwzx blorp"]);
    let all = env.export(&[]);
    assert_eq!(all.len(), 4, "/helped is feedback, not a message: {all:?}");

    let texts = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["text"].as_str().expect("text").to_string())
            .collect()
    };
    let tickets = env.export(&["--outcome", "ticket"]);
    assert_eq!(texts(&tickets), ["I want a refund"]);
    assert!(tickets.iter().all(|r| r["route"]["kind"] == "ticket"));
    assert_eq!(
        texts(&env.export(&["--intent", "pricing"])),
        ["how much is the growth plan"]
    );
    assert_eq!(
        texts(&env.export(&["--outcome", "helped"])),
        ["how much is the growth plan"]
    );
    assert_eq!(
        texts(&env.export(&["--outcome", "fallback"])),
        ["qwzx blorp"]
    );
    assert_eq!(texts(&env.export(&["--intent", "none"])), ["qwzx blorp"]);
    assert_eq!(env.export(&["--since", "1h"]).len(), 4);
    let bad = env.run(&["evidence", "export", "--since", "soon"], None);
    bad.expect_code(1);
    assert!(bad.stderr.contains("invalid --since `soon`"), "{bad:?}");

    // --out writes the file instead of stdout.
    let out = env.cwd().join("out.jsonl");
    let run = env.ok(&[
        "evidence",
        "export",
        "--intent",
        "refund",
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(run.stdout.is_empty(), "{run:?}");
    let file = std::fs::read_to_string(&out).expect("export file");
    assert_eq!(file.lines().count(), 1);
    assert!(file.contains("\"text\":\"I want a refund\""), "{file}");
}

#[test]
fn evidence_forget_deletes_one_users_data_only() {
    let env = Env::new();
    env.chat("u1", "U", &["hi", "I want a refund"]);
    env.chat(
        "v1",
        "V",
        &["how much is the growth plan", "I want a refund"],
    );
    let before = env.export(&[]);
    assert_eq!(before.len(), 4);
    let hash_of = |text: &str, conversation: &str| -> String {
        before
            .iter()
            .find(|r| r["text"] == text && r["conversation"] == conversation)
            .and_then(|r| r["user"].as_str())
            .expect("interaction")
            .to_string()
    };
    let (u, v) = (
        hash_of("hi", "u1"),
        hash_of("how much is the growth plan", "v1"),
    );
    assert_ne!(u, v);
    assert!(
        u.starts_with("u_") && u.len() > 10,
        "user ids are stored hashed: {u}"
    );

    let run = env.ok(&["evidence", "forget", "--user", "U"]);
    assert_eq!(
        run.stdout.trim(),
        "forgot user: 2 interaction(s), 1 ticket(s), 1 conversation(s) deleted"
    );
    let after = env.export(&[]);
    assert_eq!(after.len(), 2);
    assert!(
        after
            .iter()
            .all(|r| r["user"] == v.as_str() && r["conversation"] == "v1"),
        "{after:?}"
    );
    let tickets = env.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["conversation"], "v1");

    // The forgotten conversation starts over: no open ticket to join.
    let turns = env.chat("u1", "U", &["any news?"]);
    assert_eq!(turns[0]["ticket"], Value::Null);
}

/// `evidence export` carries the score each chosen persona and intent was decided on (it was
/// always 0.0): the intent's is the message's own score, the persona's the conversation's
/// accumulated one, so a persona said two turns ago still shows the score that chose it.
#[test]
fn evidence_export_keeps_the_scores_of_the_chosen_persona_and_intent() {
    let env = Env::new();
    let turns = env.chat(
        "s",
        "U",
        &["I'm the founder of a seed-stage startup", "how much is it?"],
    );
    assert_eq!(turns[1]["persona"]["id"], "startup-founder", "{turns:?}");
    let lines = env.export(&[]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let score = |v: &Value| v["score"].as_f64().expect("a score");
    let follows_its_score = |v: &Value| {
        let from_score = 1.0 - (-score(v)).exp();
        (v["confidence"].as_f64().unwrap() - from_score).abs() < 1e-6
    };
    let (first, second) = (&lines[0], &lines[1]);
    // The first message says who the customer is: the persona's score is that message's own.
    let persona = &first["persona"];
    assert_eq!(persona["id"], "startup-founder", "{first}");
    assert!(score(persona) > 0.0, "{first}");
    assert!(follows_its_score(persona), "{persona}");
    let own = first["persona_scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "startup-founder")
        .expect("the message scored the persona");
    assert_eq!(score(own), score(persona), "{first}");
    // The second says nothing about who: the persona comes from the first turn, with its score.
    let persona = &second["persona"];
    assert_eq!(persona["id"], "startup-founder", "{second}");
    assert!(
        second["persona_scores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != "startup-founder"),
        "the second message alone does not say founder: {second}"
    );
    assert!(score(persona) >= score(&first["persona"]), "{second}");
    assert!(follows_its_score(persona), "{persona}");
    // The intent's score is the message's own score for it.
    let intent = &second["intent"];
    assert_eq!(intent["id"], "pricing", "{second}");
    assert!(score(intent) > 0.0, "{second}");
    assert!(follows_its_score(intent), "{intent}");
    let own = second["intent_scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "pricing")
        .unwrap();
    assert_eq!(score(own), score(intent), "{second}");
}

//! `personabot chat`: persona across turns, tickets, hand-offs, odd lines and redaction.

use serde_json::{json, Value};

use crate::harness::{keys, set, Env};

#[test]
fn chat_keeps_the_persona_across_turns() {
    let env = Env::new();
    let turns = env.chat(
        "c1",
        "U",
        &[
            "I'm the founder of a 5-person startup",
            "how much is it?",
            "I want a refund",
        ],
    );
    for t in &turns {
        assert_eq!(
            keys(t),
            set(&["persona", "intent", "route", "evidence", "reply", "actions", "ticket"]),
            "{t}"
        );
        assert!(t["reply"].as_str().is_some_and(|r| !r.is_empty()), "{t}");
    }
    assert_eq!(turns[0]["persona"]["id"], "startup-founder");
    assert_eq!(turns[0]["intent"], Value::Null);
    assert_eq!(turns[0]["route"]["kind"], "fallback");
    assert_eq!(turns[0]["ticket"], Value::Null);

    // The persona comes from the earlier message; this one only says "how much".
    assert_eq!(turns[1]["persona"]["id"], "startup-founder");
    assert_eq!(turns[1]["intent"]["id"], "pricing");
    assert_eq!(
        turns[1]["route"],
        json!({"kind": "answer", "team": null, "answer": "pricing/startup-founder"})
    );
    assert_eq!(turns[1]["ticket"], Value::Null);
    assert_eq!(
        turns[0]["actions"],
        json!([]),
        "no buttons under a fallback"
    );
    assert_eq!(
        turns[1]["actions"],
        json!(["helped", "human"]),
        "buttons under an answer"
    );
    assert!(
        turns[1]["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .all(|e| e["target"] != "persona:startup-founder"),
        "this turn's evidence is this message's own: {}",
        turns[1]
    );

    let ticket = &turns[2]["ticket"];
    assert_eq!(keys(ticket), set(&["id", "team", "status"]));
    assert_eq!(ticket["team"], "billing");
    assert_eq!(ticket["status"], "open");
    let id = ticket["id"].as_u64().expect("ticket id");
    assert_eq!(turns[2]["route"]["kind"], "ticket");
    assert_eq!(turns[2]["route"]["team"], "billing");
    let reply = turns[2]["reply"].as_str().expect("reply");
    assert!(reply.contains(&format!("ticket #{id}")), "{reply}");

    // Without the earlier message, the same question gets the default answer.
    let fresh = env.chat("c2", "U", &["how much is it?"]);
    assert_eq!(fresh[0]["persona"], Value::Null);
    assert_eq!(fresh[0]["route"]["answer"], "pricing/default");

    // The conversation is stored: a later process joins the open ticket.
    let later = env.chat("c1", "U", &["any news?"]);
    assert_eq!(later[0]["route"]["kind"], "ticket");
    assert_eq!(
        later[0]["ticket"],
        json!({"id": id, "team": "billing", "status": "open"})
    );
    assert_eq!(env.tickets().len(), 1, "no second ticket");
}

#[test]
fn chat_opens_a_support_ticket_after_two_misses() {
    let env = Env::new();
    let turns = env.chat("m", "U", &["qwzx blorp", "flurb znork"]);
    assert_eq!(turns[0]["route"]["kind"], "fallback");
    assert_eq!(turns[0]["ticket"], Value::Null);
    assert_eq!(turns[1]["intent"], Value::Null);
    assert_eq!(turns[1]["route"]["kind"], "ticket");
    assert_eq!(turns[1]["route"]["team"], "support");
    assert_eq!(turns[1]["ticket"]["team"], "support");
    assert_eq!(turns[1]["ticket"]["status"], "open");
}

#[test]
fn chat_human_request_after_a_pricing_answer_goes_to_sales() {
    let env = Env::new();
    let turns = env.chat(
        "h1",
        "U",
        &[
            "how much is the growth plan",
            "I'm the head of IT at our organisation, can I speak to someone?",
        ],
    );
    assert_eq!(turns[0]["route"]["answer"], "pricing/default");
    assert_eq!(turns[1]["persona"]["id"], "enterprise-it-buyer");
    assert_eq!(turns[1]["intent"]["id"], "human-agent");
    assert_eq!(turns[1]["route"]["kind"], "ticket");
    assert_eq!(turns[1]["route"]["team"], "sales");
    assert_eq!(turns[1]["ticket"]["team"], "sales");
    // The ticket is about the question that was answered.
    let id = turns[1]["ticket"]["id"].as_u64().expect("id").to_string();
    let run = env.ok(&["tickets", "show", &id, "--json"]);
    let ticket: Value = serde_json::from_str(&run.stdout).expect("ticket JSON");
    assert_eq!(ticket["intent"]["id"], "pricing");
    assert_eq!(ticket["persona"]["id"], "enterprise-it-buyer");
    let reason = ticket["reason"].as_str().expect("reason");
    assert!(reason.contains("pricing/default"), "{reason}");

    // An enterprise buyer's pricing question is already a sales ticket; asking for a person
    // joins it.
    let turns = env.chat(
        "h2",
        "U",
        &[
            "how much is the enterprise plan for our 5000 employees procurement",
            "I want to talk to a person",
        ],
    );
    assert_eq!(turns[0]["route"]["team"], "sales");
    assert_eq!(turns[1]["route"]["team"], "sales");
    assert_eq!(turns[1]["ticket"]["id"], turns[0]["ticket"]["id"]);

    // The "Talk to a human" button after a pricing answer.
    let turns = env.chat("h3", "U", &["how much is the growth plan", "/human"]);
    assert_eq!(turns[1]["route"]["kind"], "ticket");
    assert_eq!(turns[1]["ticket"]["team"], "sales");
    assert_eq!(env.tickets().len(), 3);
}

#[test]
fn chat_survives_empty_and_very_long_lines() {
    let env = Env::new();
    let long = "lorem ipsum dolor sit amet ".repeat(4000); // 108 000 characters
    assert!(long.len() > 100_000);
    let turns = env.chat("long", "U", &["", "   ", &long, "hi"]);
    for t in &turns[..2] {
        assert_eq!(t["route"]["kind"], "fallback", "{t}");
        assert_eq!(t["ticket"], Value::Null);
        assert!(
            t["reply"].as_str().is_some_and(|r| r.contains("empty")),
            "{t}"
        );
    }
    assert!(turns[2]["reply"].is_string(), "{}", turns[2]);
    assert_eq!(turns[3]["intent"]["id"], "greeting", "the session goes on");

    // Empty messages are not stored; the long one is stored cut to limits.max_message_chars.
    let stored = env.export(&[]);
    assert_eq!(stored.len(), 2, "{stored:?}");
    let text = stored[0]["text"].as_str().expect("text");
    assert_eq!(text.chars().count(), 4000);
    assert!(long.starts_with(text));
}

#[test]
fn chat_redacts_an_email_cut_by_the_length_limit() {
    let env = Env::new();
    // 3980 characters, then an email that the 4000-character limit cuts after "@exampl".
    let text = format!("{}mail jane.doe@example.com", "word ".repeat(796));
    env.chat("cut", "U", &[&text]);
    let run = env.ok(&["evidence", "export"]);
    assert!(!run.stdout.contains("jane.doe"), "{}", run.stdout);
}

#[test]
fn chat_hands_off_to_the_team_the_customer_names() {
    let env = Env::new();
    // The miss measured in issue #13: this went to a `support` ticket.
    let turns = env.chat(
        "n1",
        "U",
        &["I don't want a bot, connect me to someone from sales"],
    );
    assert_eq!(turns[0]["intent"]["id"], "human-agent");
    assert_eq!(turns[0]["route"]["team"], "sales");
    assert_eq!(turns[0]["ticket"]["team"], "sales");
    let reply = turns[0]["reply"].as_str().expect("reply");
    assert!(reply.contains("Sales team"), "{reply}");
    let id = turns[0]["ticket"]["id"].as_u64().expect("id").to_string();
    let run = env.ok(&["tickets", "show", &id, "--json"]);
    let ticket: Value = serde_json::from_str(&run.stdout).expect("ticket JSON");
    assert_eq!(ticket["team"], "sales");
    let reason = ticket["reason"].as_str().expect("reason");
    assert!(reason.contains("asked for the sales team"), "{reason}");

    // The named team beats the conversation's topic (pricing would go to sales).
    let turns = env.chat(
        "n2",
        "U",
        &[
            "how much is the growth plan",
            "connect me to someone from billing instead",
        ],
    );
    assert_eq!(turns[1]["ticket"]["team"], "billing");

    // A team mentioned in passing is not asked for: the topic's team takes it.
    let turns = env.chat(
        "n3",
        "U",
        &["I want to talk to a human about the sales tax on my invoice"],
    );
    assert_eq!(turns[0]["ticket"]["team"], "billing");
}

#[test]
fn chat_knows_teams_by_the_aliases_in_the_settings() {
    let env = Env::new();
    std::fs::write(
        env.cwd().join("personabot.toml"),
        "[teams.billing]\naliases = [\"money people\"]\n",
    )
    .expect("settings file");
    let turns = env.chat("a1", "U", &["a human please, the money people"]);
    assert_eq!(turns[0]["ticket"]["team"], "billing");
    // Without the alias (the default settings), the same words name no team.
    std::fs::remove_file(env.cwd().join("personabot.toml")).expect("remove settings");
    let turns = env.chat("a2", "U", &["a human please, the money people"]);
    assert_eq!(turns[0]["ticket"]["team"], "support");
}

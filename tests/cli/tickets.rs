//! `personabot tickets`: claim, relabel, resolve, and one agent per ticket.

use serde_json::{json, Value};

use crate::harness::Env;

#[test]
fn ticket_lifecycle_claim_relabel_resolve() {
    let env = Env::new();
    let turns = env.chat("c1", "U", &["I want a refund"]);
    let id_num = turns[0]["ticket"]["id"].as_u64().expect("ticket id");
    let id = id_num.to_string();

    let list = env.tickets();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id_num);
    assert_eq!(list[0]["team"], "billing");
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["conversation"], "c1");
    assert_eq!(list[0]["intent"]["id"], "refund");
    assert!(env
        .ok(&["tickets", "list", "--json", "--team", "sales"])
        .stdout
        .is_empty());
    assert!(env
        .ok(&["tickets", "list", "--json", "--status", "claimed"])
        .stdout
        .is_empty());

    let show = env.ok(&["tickets", "show", &id]);
    assert!(
        show.stdout
            .starts_with(&format!("ticket #{id} [open] team billing\n")),
        "{show:?}"
    );
    assert!(
        show.stdout.contains("customer: I want a refund"),
        "{show:?}"
    );
    assert!(show.stdout.contains("\npriority: normal\n"), "{show:?}");

    // Claimed: the bot goes quiet in that conversation; the message joins the ticket.
    let claim = env.ok(&["tickets", "claim", &id, "--agent", "ann"]);
    assert_eq!(claim.stdout.trim(), format!("ticket #{id} claimed by ann"));
    let turns = env.chat("c1", "U", &["hello? anyone?"]);
    assert_eq!(turns[0]["reply"], Value::Null);
    assert_eq!(
        turns[0]["ticket"],
        json!({"id": id_num, "team": "billing", "status": "claimed", "priority": "normal"})
    );
    let show = env.ok(&["tickets", "show", &id]);
    assert!(show.stdout.contains("claimed:  ann"), "{show:?}");
    assert!(show.stdout.contains("customer: hello? anyone?"), "{show:?}");
    let claimed = env
        .ok(&["tickets", "list", "--json", "--status", "claimed"])
        .json_lines();
    assert_eq!(claimed.len(), 1);

    // Relabel: stored as ground truth on the ticket's interaction.
    env.ok(&[
        "tickets", "relabel", &id, "--intent", "billing", "--agent", "ann",
    ]);
    let exported = env.export(&[]);
    let origin = exported
        .iter()
        .find(|i| i["text"] == "I want a refund")
        .expect("the refund interaction");
    assert_eq!(origin["ticket"], id_num);
    assert_eq!(origin["label"]["intent"], "billing");
    assert_eq!(origin["label"]["by"], "ann");
    assert_eq!(
        origin["intent"]["id"], "refund",
        "the bot's own guess is kept"
    );
    let bad = env.run(
        &[
            "tickets",
            "relabel",
            &id,
            "--intent",
            "no-such-intent",
            "--agent",
            "ann",
        ],
        None,
    );
    bad.expect_code(1);
    assert!(
        bad.stderr.contains("unknown intent `no-such-intent`"),
        "{bad:?}"
    );

    // Resolved: the bot answers again.
    let resolve = env.ok(&["tickets", "resolve", &id, "--agent", "ann"]);
    assert_eq!(
        resolve.stdout.trim(),
        format!("ticket #{id} resolved by ann")
    );
    let turns = env.chat("c1", "U", &["how much is the growth plan"]);
    assert_eq!(turns[0]["route"]["kind"], "answer");
    assert_eq!(turns[0]["ticket"], Value::Null);
    assert!(turns[0]["reply"].is_string());

    // A resolved ticket cannot be claimed; an unknown one cannot be shown.
    let again = env.run(&["tickets", "claim", &id, "--agent", "bob"], None);
    assert_ne!(again.code, Some(0), "{again:?}");
    assert!(again.stderr.contains("resolved"), "{again:?}");
    let missing = env.run(&["tickets", "show", "999"], None);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("ticket #999 not found"),
        "{missing:?}"
    );
}

#[test]
fn a_ticket_claimed_by_one_agent_cannot_be_claimed_by_another() {
    let env = Env::new();
    let turns = env.chat("c", "U", &["I want a refund"]);
    let id = turns[0]["ticket"]["id"].as_u64().expect("id").to_string();
    env.ok(&["tickets", "claim", &id, "--agent", "ann"]);
    let run = env.run(&["tickets", "claim", &id, "--agent", "bob"], None);
    run.expect_code(1);
    assert!(run.stderr.contains("already claimed by ann"), "{run:?}");
    let bad = env.run(&["tickets", "list", "--status", "pending"], None);
    bad.expect_code(1);
    assert!(bad.stderr.contains("unknown status `pending`"), "{bad:?}");
}

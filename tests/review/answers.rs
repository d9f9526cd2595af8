//! The owner's view of answers: only answers that offered the buttons count as self-help (a
//! rated greeting never does), a ticket after an answer is reported apart from "not
//! helped", high-priority tickets are counted per team and persona, and A/B variants get
//! their 95% intervals and a verdict. Templates come from the real pipeline; the records
//! the other parts of #14 write (variant names, priorities, tickets after an answer without
//! a rating) are written through the store, as the pipeline writes them.

use personabot::core::conversation::ConversationState;
use personabot::store::{Feedback, Interaction, Priority, Store, Ticket, TicketChange};
use serde_json::Value;

use super::{run_in, say, support, KEY};

/// Stores a copy of `template` under a new id and conversation, as `variant`, rated
/// `helped`; returns its id.
fn store_copy(
    store: &Store,
    template: &Interaction,
    conversation: &str,
    variant: Option<&str>,
    helped: Option<bool>,
) -> u64 {
    let mut i = template.clone();
    i.id = store.next_interaction_id().unwrap();
    i.conversation = conversation.into();
    if let Some(v) = variant {
        i.route.answer = Some(v.into());
    }
    i.feedback = helped.map(|helped| Feedback {
        helped,
        at_ms: i.at_ms,
    });
    store
        .record_turn(&i, &ConversationState::default(), &TicketChange::None, None)
        .unwrap();
    i.id
}

/// Opens a ticket about `intent` that names `interaction` as what led to it.
fn store_ticket(store: &Store, from: &Interaction, intent: &str, priority: Priority) -> u64 {
    let mut ticket: Ticket = serde_json::from_value(serde_json::json!({
        "id": store.next_ticket_id().unwrap(), "team": "support", "status": "open",
        "created_ms": from.at_ms + 1, "updated_ms": from.at_ms + 1, "channel": "http",
        "conversation": from.conversation, "user": from.user, "persona": null,
        "intent": {"id": intent, "confidence": 1.0, "score": 0.0}, "evidence": [],
        "reason": "customer asked for a human", "interaction": from.id, "transcript": [],
        "claimed_by": null, "resolved_by": null, "relabels": []
    }))
    .unwrap();
    ticket.persona = from.persona.clone();
    ticket.priority = priority;
    let mut turn = from.clone();
    turn.id = store.next_interaction_id().unwrap();
    turn.route.kind = personabot::core::route::DecisionKind::Ticket;
    turn.route.answer = None;
    turn.route.actions = Vec::new();
    turn.ticket = Some(ticket.id);
    turn.text = "can someone call me".into();
    let id = ticket.id;
    store
        .record_turn(
            &turn,
            &ConversationState::default(),
            &TicketChange::Open(Box::new(ticket)),
            None,
        )
        .unwrap();
    id
}

#[test]
fn review_counts_self_help_answers_escalations_priorities_and_variants() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    {
        let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
        let store = p.store();
        let stored = |o: &personabot::engine::pipeline::Outcome| {
            store.interaction(o.interaction.unwrap()).unwrap().unwrap()
        };
        // A greeting offers no buttons; a rating sent for it anyway never counts.
        let hi = say(&p, "greet", "hi");
        assert!(hi.decision.actions().is_empty(), "{:?}", hi.decision);
        store.set_feedback(hi.interaction.unwrap(), true).unwrap();
        // A self-help answer, marked helped through the pipeline.
        let password = say(&p, "pw-helped", "forgot my password");
        assert_eq!(password.decision.actions(), ["helped", "human"]);
        p.feedback("http", "pw-helped", "user-pw-helped", true)
            .unwrap();
        let template = stored(&password);
        // One answer a ticket on its intent followed, without a rating (high priority);
        // one the customer said did not help, then a ticket (normal).
        let escalated = store_copy(store, &template, "pw-escalated", None, None);
        let escalated = store.interaction(escalated).unwrap().unwrap();
        store_ticket(store, &escalated, "account-access", Priority::High);
        let unhelpful = store_copy(store, &template, "pw-not-helped", None, Some(false));
        let unhelpful = store.interaction(unhelpful).unwrap().unwrap();
        store_ticket(store, &unhelpful, "account-access", Priority::Normal);
        // A ticket on another need after an answer is not an escalation of that answer.
        let other = store_copy(store, &template, "pw-billing", None, None);
        let other = store.interaction(other).unwrap().unwrap();
        store_ticket(store, &other, "billing", Priority::Normal);

        // A/B: pricing's default text in two variants, 20 of 30 helped against 8 of 30.
        let pricing = say(&p, "ab-template", "How much does Hearth cost?");
        assert_eq!(pricing.decision.actions(), ["helped", "human"]);
        let pricing = stored(&pricing);
        for (variant, helped) in [("pricing/default#1", 20), ("pricing/default#2", 8)] {
            for n in 0..30 {
                store_copy(
                    store,
                    &pricing,
                    &format!("{variant}-{n}"),
                    Some(variant),
                    Some(n < helped).filter(|h| *h),
                );
            }
        }
    }
    let run = run_in(work.path(), &data, &["review", "--json"], None);
    run.expect_ok();
    let review: Value = serde_json::from_str(&run.stdout).unwrap();

    // Self-help answers per intent.
    let by_intent = |id: &str| -> Value {
        review["answers_by_intent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["intent"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {}", review["answers_by_intent"]))
    };
    let access = by_intent("account-access");
    assert_eq!(access["answers"], 4, "{access}");
    assert_eq!(access["helped"], 1, "{access}");
    assert_eq!(access["not_helped"], 1, "{access}");
    assert_eq!(access["escalated_after_answer"], 1, "{access}");
    assert_eq!(access["escalation_after_answer_rate"], 0.25, "{access}");
    assert!(
        review["answers_by_intent"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["intent"] != "greeting"),
        "a greeting is no self-help answer: {}",
        review["answers_by_intent"]
    );
    let pricing = by_intent("pricing");
    assert_eq!(pricing["answers"], 61, "{pricing}");
    assert_eq!(pricing["helped"], 28, "{pricing}");

    // Per persona: the greeting is an answer, not a self-help one, and its rating is not
    // counted as help.
    let personas = review["personas"].as_array().unwrap();
    let answers: u64 = personas
        .iter()
        .map(|p| p["answers"].as_u64().unwrap())
        .sum();
    let self_help: u64 = personas
        .iter()
        .map(|p| p["self_help_answers"].as_u64().unwrap())
        .sum();
    let helped: u64 = personas.iter().map(|p| p["helped"].as_u64().unwrap()).sum();
    assert_eq!((answers, self_help, helped), (66, 65, 29), "{personas:?}");
    let escalated: u64 = personas
        .iter()
        .map(|p| p["escalated_after_answer"].as_u64().unwrap())
        .sum();
    assert_eq!(escalated, 1);
    let high: u64 = personas
        .iter()
        .map(|p| p["high_priority"].as_u64().unwrap())
        .sum();
    assert_eq!(high, 1);
    let teams = review["teams"].as_array().unwrap();
    assert_eq!(
        teams,
        &[serde_json::json!({"team": "support", "tickets": 3, "high_priority": 1})]
    );

    // The A/B answer: counts, Wilson intervals (computed independently) and the verdict.
    let experiments = review["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 1, "{experiments:?}");
    let e = &experiments[0];
    assert_eq!(e["answer"], "pricing/default");
    let variants = e["variants"].as_array().unwrap();
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-6;
    for (v, (name, shown, helped, low, high)) in variants.iter().zip([
        ("pricing/default#1", 30, 20, 0.487_800_516, 0.807_695_019),
        ("pricing/default#2", 30, 8, 0.141_826_633, 0.444_479_617),
    ]) {
        assert_eq!(v["variant"], name);
        assert_eq!(v["shown"], shown, "{v}");
        assert_eq!(v["helped"], helped, "{v}");
        assert!(close(&v["interval"]["low"], low), "{v}");
        assert!(close(&v["interval"]["high"], high), "{v}");
    }
    let better = e["better"].as_array().unwrap();
    assert_eq!(better.len(), 1, "{better:?}");
    assert_eq!(better[0]["better"], "pricing/default#1");
    assert_eq!(better[0]["worse"], "pricing/default#2");
    assert!(close(&better[0]["z"], 3.105_295_017), "{}", better[0]);
    assert!((better[0]["p_value"].as_f64().unwrap() - 0.0019009).abs() < 1e-6);

    // The same in the terminal tables and the HTML page.
    let html = work.path().join("review.html");
    let run = run_in(
        work.path(),
        &data,
        &["review", "--html", html.to_str().unwrap()],
        None,
    );
    run.expect_ok();
    for says in [
        "SELF-HELP ANSWERS PER INTENT",
        "TICKETS PER TEAM",
        "A/B ANSWERS",
        "pricing/default#1 helps more than pricing/default#2 with 95% confidence",
        "49%–81%",
    ] {
        assert!(run.stdout.contains(says), "{says}:\n{}", run.stdout);
    }
    let page = std::fs::read_to_string(&html).unwrap();
    for says in [
        "id=\"intents\"",
        "id=\"teams\"",
        "id=\"experiments\"",
        "<b><code>pricing/default#1</code></b> helps more than <code>pricing/default#2</code>",
        "14%–44%",
    ] {
        assert!(page.contains(says), "{says} in the page");
    }
}

//! The owner's view of answers: only answers that offered the buttons count as self-help (a
//! rated greeting never does), a ticket after an answer is reported apart from "not
//! helped", high-priority tickets are counted per team and persona, and A/B variants get
//! their 95% intervals and a verdict. Conversations run through the real pipeline; the A/B
//! variant names (which the catalog's A/B answers give) are stored through the store, as copies
//! of a real pipeline answer.

use std::collections::BTreeMap;

use personabot::core::conversation::ConversationState;
use personabot::store::{Feedback, Interaction, Priority, Store, TicketChange};
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

#[test]
fn review_counts_self_help_answers_escalations_priorities_and_variants() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let tickets = {
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
        // One answer a ticket on its intent followed, without a rating; one the customer
        // said did not help (which opens a ticket too); a furious customer's ticket.
        say(&p, "pw-escalated", "forgot my password");
        let escalated = say(
            &p,
            "pw-escalated",
            "it still does not work, I want to talk to a person",
        );
        let ticket = escalated.ticket.expect("a ticket");
        assert_eq!(ticket.intent.expect("its subject").id, "account-access");
        say(&p, "pw-not-helped", "forgot my password");
        let unhelpful = say(&p, "pw-not-helped", "that didn't help");
        assert!(unhelpful.ticket.is_some(), "{:?}", unhelpful.decision);
        let furious = say(
            &p,
            "charged",
            "I was charged twice this month, this is ridiculous!!!",
        );
        assert_eq!(furious.ticket.expect("a ticket").priority, Priority::High);

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
        store.tickets(None, None).unwrap()
    };
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
    assert_eq!(access["answers"], 3, "{access}");
    assert_eq!(access["helped"], 1, "{access}");
    assert_eq!(access["not_helped"], 1, "{access}");
    assert_eq!(access["escalated_after_answer"], 1, "{access}");
    assert_eq!(
        access["escalation_after_answer_rate"],
        1.0 / 3.0,
        "{access}"
    );
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
    assert_eq!((answers, self_help, helped), (65, 64, 29), "{personas:?}");
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
    // Tickets per team, counted here from the store's own list.
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for t in &tickets {
        let e = want.entry(t.team.clone()).or_default();
        e.0 += 1;
        e.1 += u64::from(t.priority == Priority::High);
    }
    assert_eq!(want.get("billing"), Some(&(1, 1)), "{want:?}");
    let got: BTreeMap<String, (u64, u64)> = review["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |k: &str| t[k].as_u64().unwrap();
            (
                t["team"].as_str().unwrap().to_string(),
                (n("tickets"), n("high_priority")),
            )
        })
        .collect();
    assert_eq!(got, want);

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

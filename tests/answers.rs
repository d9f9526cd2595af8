//! Answers over the real HTTP API (`/v1/messages`, `/v1/feedback`) on a served app with a sled
//! store in a temp dir: a focused question gets its part, an answer asked for again gets a
//! pointer and the offer of a person, each conversation keeps its A/B text, and the stored
//! interactions name the answer instead of copying its text.

mod support;

use std::collections::BTreeSet;

use personabot::engine::pipeline::reply_as_sent;
use personabot::store::InteractionFilter;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::served::{Served, BRIDGE, BRIDGE_TOKEN};

async fn post(s: &Served, path: &str, body: Value) -> Value {
    let r = s
        .client
        .post(format!("{}{path}", s.base))
        .bearer_auth(BRIDGE_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn say(s: &Served, conversation: &str, text: &str) -> Value {
    let user = format!("user-of-{conversation}");
    let body = json!({"channel": BRIDGE, "conversation": conversation, "user": user, "text": text});
    post(s, "/v1/messages", body).await
}

fn answer(turn: &Value) -> &str {
    turn["route"]["answer"].as_str().unwrap_or("-")
}

fn reply(turn: &Value) -> &str {
    turn["reply"].as_str().unwrap_or("")
}

/// A sentence only the whole pricing answer has.
const WHOLE_PRICING: &str = "Hearth has four plans";
/// The trial part of the pricing answer.
const TRIAL_PART: &str = "Yes: you can try Growth free for 14 days, no card required. When the \
     trial ends you choose a plan, or stay on Starter (free for 2 seats and 500 \
     conversations/month).";

#[tokio::test]
async fn a_free_trial_question_gets_the_trial_part_and_a_repeat_gets_a_pointer() {
    let s = Served::start(&[], "answers-key").await;

    // Without a pricing answer before it.
    let first = say(&s, "trial-alone", "Is there a free trial?").await;
    assert_eq!(answer(&first), "pricing/default/trial", "{first}");
    assert_eq!(reply(&first), TRIAL_PART);
    assert_eq!(first["actions"], json!(["helped", "human"]));

    // After the whole pricing answer: the part, not the pricing text again.
    let pricing = say(&s, "trial-after", "How much does Hearth cost?").await;
    assert_eq!(answer(&pricing), "pricing/default", "{pricing}");
    assert!(reply(&pricing).starts_with(WHOLE_PRICING), "{pricing}");
    let trial = say(&s, "trial-after", "is there a free trial?").await;
    assert_eq!(answer(&trial), "pricing/default/trial", "{trial}");
    assert_eq!(reply(&trial), TRIAL_PART);
    assert_eq!(trial["actions"], json!(["helped", "human"]));

    // The same question again: a pointer and the offer of a person, not the text.
    let again = say(&s, "trial-after", "How much does Hearth cost?").await;
    assert_eq!(answer(&again), "pricing/default", "{again}");
    assert_eq!(again["route"]["kind"], "answer");
    assert!(reply(&again).starts_with("I shared that above"), "{again}");
    assert!(!reply(&again).contains(WHOLE_PRICING), "{again}");
    assert_eq!(again["actions"], json!(["human"]), "{again}");

    // The offered person: "Talk to a human" opens a Sales ticket about pricing.
    let human = post(
        &s,
        "/v1/feedback",
        json!({"channel": BRIDGE, "conversation": "trial-after", "user": "user-of-trial-after", "feedback": "talk to a human"}),
    )
    .await;
    assert_eq!(human["ticket"]["team"], "sales", "{human}");
    assert_eq!(human["route"]["kind"], "ticket", "{human}");
}

#[tokio::test]
async fn each_conversation_keeps_its_ab_text_and_both_texts_are_shown() {
    let s = Served::start(&[], "answers-key").await;
    let mut seen = BTreeSet::new();
    for n in 0..8 {
        let conversation = format!("ab-{n}");
        let first = say(&s, &conversation, "Do you integrate with Salesforce?").await;
        let name = answer(&first).to_string();
        assert!(
            name == "integration/default#1" || name == "integration/default#2",
            "{first}"
        );
        assert_eq!(first["actions"], json!(["helped", "human"]));
        // The same conversation sees the same text on every later turn.
        for text in ["is there a Zapier integration?"] {
            let later = say(&s, &conversation, text).await;
            assert_eq!(answer(&later), name, "{conversation}: {later}");
        }
        seen.insert(name);
    }
    assert_eq!(seen.len(), 2, "8 conversations all saw {seen:?}");
}

#[tokio::test]
async fn stored_interactions_name_the_answer_instead_of_copying_it() {
    let s = Served::start(&[], "answers-key").await;
    let mut sent = Vec::new();
    for text in [
        "How much does Hearth cost?",
        "is there a free trial?",
        "You charged me twice this month!",
    ] {
        sent.push(say(&s, "stored", text).await);
    }
    // The refund ticket shows the duplicate-charge part, then the handoff.
    let refund = &sent[2];
    assert_eq!(
        answer(refund),
        "refund/default/duplicate-charge",
        "{refund}"
    );
    // "charged me twice ... !" sounds frustrated: the apology comes first, then the part.
    assert!(
        reply(refund).starts_with("I'm sorry")
            && reply(refund).contains("\n\nDuplicate charges are always refunded"),
        "{refund}"
    );
    assert!(reply(refund).contains("Billing"), "{refund}");

    let store = s.state.pipeline.store();
    let catalog = s.state.pipeline.rules().catalog.clone();
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    assert_eq!(stored.len(), 3);
    let mut export = Vec::new();
    store
        .export(&InteractionFilter::default(), &mut export)
        .unwrap();
    let export = String::from_utf8(export).unwrap();
    for (i, turn) in stored.iter().zip(&sent) {
        assert_eq!(i.route.answer.as_deref(), Some(answer(turn)));
        assert!(i.answer_at.is_some(), "{i:?}");
        // Put back from the catalog, the stored reply is the one sent.
        assert_eq!(reply_as_sent(&catalog, i).as_deref(), Some(reply(turn)));
        let text = personabot::core::route::answer_text(&catalog, answer(turn)).unwrap();
        let record = serde_json::to_string(i).unwrap();
        for sentence in text.split('\n').filter(|l| l.len() > 20) {
            assert!(
                !record.contains(sentence),
                "{sentence:?} copied in {record}"
            );
            assert!(!export.contains(sentence), "{sentence:?} in the export");
        }
    }
    // The answer alone is not stored at all; the handoff's own sentence is.
    assert_eq!(stored[0].reply, None);
    assert!(stored[2].reply.as_deref().unwrap().contains("Billing"));
    // Agents read the ticket's transcript with the whole text the customer saw.
    let ticket = store
        .ticket(refund["ticket"]["id"].as_u64().unwrap())
        .unwrap()
        .unwrap();
    let bot: Vec<&str> = ticket
        .transcript
        .iter()
        .filter(|l| l.from == personabot::store::Actor::Bot)
        .map(|l| l.text.as_str())
        .collect();
    assert!(bot.iter().any(|t| t.starts_with(WHOLE_PRICING)), "{bot:?}");
    assert!(bot.contains(&reply(refund)), "{bot:?}");
}

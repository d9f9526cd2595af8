//! "How did we do?" on Slack: after a resolve, five Block Kit buttons in the customer's thread;
//! presses come through the signed interactivity endpoint and count only from the ticket's
//! customer; an agent's internal note never reaches Slack, while the agent's reply does.

use std::time::Duration;

use serde_json::json;

use crate::bot::{press_payload, Bot, T};

const NOTE: &str = "reseller, offer the partner discount";
const REPLY: &str = "Happy to put a quote together for you.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_rates_in_the_thread_and_never_sees_a_note() {
    let bot = Bot::start().await;
    let ts = "1700000091.000100";
    bot.carol_hands_off("Ev0091", ts).await;

    // A note, then a reply: the reply is posted in carol's thread, the note nowhere.
    let since = bot.mark();
    tokio::task::block_in_place(|| bot.pipeline.note(1, "ann", NOTE, "http")).unwrap();
    tokio::task::block_in_place(|| bot.pipeline.agent_reply(1, "ann", REPLY)).unwrap();
    let relayed = bot
        .fake
        .wait_call(since, T, |c| {
            c.method == "chat.postMessage" && c.body["thread_ts"] == ts && c.raw.contains(REPLY)
        })
        .await;
    assert_eq!(relayed.status, 200);

    // Resolved: the question in the same thread, with five buttons carrying the ticket.
    tokio::task::block_in_place(|| bot.pipeline.resolve(1, "ann")).unwrap();
    let asked = bot
        .fake
        .wait_call(since, T, |c| {
            c.method == "chat.postMessage"
                && c.body["thread_ts"] == ts
                && c.text() == "How did we do?"
        })
        .await;
    assert_eq!(
        asked.button_labels(),
        [
            "1 – very poor",
            "2 – poor",
            "3 – okay",
            "4 – good",
            "5 – excellent"
        ]
    );
    let ids: Vec<(String, String)> = asked
        .buttons()
        .iter()
        .map(|b| {
            (
                b["action_id"].as_str().unwrap().to_string(),
                b["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ids[0], ("pb_rate_1".to_string(), "1".to_string()));
    assert!(
        !bot.fake.calls()[since..]
            .iter()
            .any(|c| c.raw.contains("reseller")),
        "a note reached Slack"
    );

    // Someone else in the channel: told privately, nothing stored.
    let since = bot.mark();
    let url = bot.fake.response_url("mallory");
    bot.press(&press_payload(&asked, "1 – very poor", "U0MALLORY", &url))
        .await;
    let refused = bot.response(since, "mallory").await;
    assert_eq!(
        (
            &refused.body["response_type"],
            &refused.body["replace_original"]
        ),
        (&serde_json::json!("ephemeral"), &serde_json::json!(false))
    );
    assert_eq!(refused.text(), "Only the customer can rate this.");
    assert_eq!(bot.pipeline.store().ticket(1).unwrap().unwrap().csat, None);

    // Carol's press is stored; the question shows her choice, without buttons.
    let since = bot.mark();
    let url = bot.fake.response_url("carol");
    let pressed = press_payload(&asked, "4 – good", "U0CAROL", &url);
    bot.press(&pressed).await;
    let updated = bot.response(since, "carol").await;
    assert_eq!(updated.body["replace_original"], true);
    assert!(updated.text().contains("4 – good"), "{}", updated.text());
    assert_eq!(
        updated.button_labels(),
        ["Add a comment"],
        "{}",
        updated.raw
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let csat = bot.pipeline.store().ticket(1).unwrap().unwrap().csat;
        if csat.as_ref().map(|c| c.rating) == Some(4) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no rating: {csat:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // "Add a comment" opens a form (views.open with the press's trigger_id), for carol only;
    // what she sends is stored, redacted, with her rating.
    let comment_press = |presser: &str, trigger: &str, url: &str| {
        let mut p = press_payload(&updated, "Add a comment", presser, url);
        p["trigger_id"] = json!(trigger);
        p
    };
    let since = bot.mark();
    let url = bot.fake.response_url("mallory2");
    bot.press(&comment_press("U0MALLORY", "9.9.1", &url)).await;
    let refused = bot.response(since, "mallory2").await;
    assert_eq!(refused.text(), "Only the customer can rate this.");
    let since = bot.mark();
    let url = bot.fake.response_url("carol2");
    bot.press(&comment_press("U0CAROL", "9.9.2", &url)).await;
    let opened = bot
        .fake
        .wait_call(since, T, |c| c.method == "views.open")
        .await;
    assert_eq!(opened.body["trigger_id"], "9.9.2");
    let mut view = opened.body["view"].clone();
    assert_eq!(view["callback_id"], "pb_rate_modal");
    assert_eq!(
        bot.fake.matching(since, |c| c.method == "views.open").len(),
        1,
        "only carol's press opens the form"
    );
    view["state"] = json!({"values": {"pb_comment": {"comment": {
        "type": "plain_text_input", "value": "Quick! Mail me at jane.doe@example.com"}}}});
    let submission = json!({
        "type": "view_submission",
        "user": { "id": "U0CAROL" },
        "view": view,
    });
    bot.press(&submission).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let csat = loop {
        let csat = bot
            .pipeline
            .store()
            .ticket(1)
            .unwrap()
            .unwrap()
            .csat
            .unwrap();
        if csat.comment.is_some() {
            break csat;
        }
        assert!(std::time::Instant::now() < deadline, "no comment: {csat:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(csat.rating, 4);
    let comment = csat.comment.unwrap();
    assert!(comment.starts_with("Quick!"), "{comment}");
    assert!(
        !comment.contains("jane.doe@example.com"),
        "redacted: {comment}"
    );
}

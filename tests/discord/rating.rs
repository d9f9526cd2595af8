//! "How did we do?" on Discord: after a resolve the customer is asked where they wrote, with
//! five buttons for the ticket; only the ticket's customer may rate; an agent's internal note
//! never reaches the customer's channel (it is shown in the ticket's thread), while the agent's
//! reply does.

use std::sync::Arc;

use personabot::engine::pipeline::Pipeline;

use crate::bot::{
    assert_pings_nobody, buttons, customer, open_sales_ticket, ticket_thread, Bot, SUPPORT, T,
};
use crate::fake_discord::GUILD_ID;

const NOTE: &str = "Carol is a reseller, offer the partner discount";
const REPLY: &str = "Hi Carol, the quote is attached.";

/// Runs an agent action as sync callers do (it locks the conversation), off the async threads.
async fn agent<T: Send + 'static>(
    pipeline: &Arc<Pipeline>,
    action: impl FnOnce(&Pipeline) -> T + Send + 'static,
) -> T {
    let pipeline = pipeline.clone();
    tokio::task::spawn_blocking(move || action(&pipeline))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_rates_a_resolved_ticket_and_never_sees_a_note() {
    let bot = Bot::start().await;
    let carol = customer(7101, "carol");
    open_sales_ticket(&bot, &carol).await;
    let customers_channel = format!("/channels/{SUPPORT}/messages");

    // A note, then a reply: the reply reaches carol's channel, the note never does.
    let since = bot.mark();
    agent(&bot.pipeline, |p| p.note(1, "ann", NOTE, "http"))
        .await
        .expect("a note");
    agent(&bot.pipeline, |p| p.agent_reply(1, "ann", REPLY))
        .await
        .expect("a reply");
    let relayed = bot
        .fake
        .wait_request(since, T, |r| {
            r.is("POST", &customers_channel) && r.content().contains(REPLY)
        })
        .await;
    assert_pings_nobody(&relayed.body);
    // The note, written on the desk, is shown to the agents in the ticket's thread.
    let shown = bot
        .fake
        .wait_request(since, T, |r| {
            r.method == "POST" && r.content().contains("Note by ann")
        })
        .await;
    let thread = ticket_thread(&bot, 1).await;
    assert_eq!(shown.api_path(), format!("/channels/{thread}/messages"));
    assert!(shown.content().contains(NOTE), "{}", shown.content());
    assert_pings_nobody(&shown.body);

    // The resolve: carol is asked in the channel she wrote in, with five buttons for ticket 1.
    agent(&bot.pipeline, |p| p.resolve(1, "ann"))
        .await
        .expect("resolved");
    let asked = bot
        .fake
        .wait_request(since, T, |r| {
            r.is("POST", &customers_channel) && r.content().contains("How did we do?")
        })
        .await;
    assert_pings_nobody(&asked.body);
    assert_eq!(
        buttons(&asked.body),
        [
            ("1 – very poor", "pb:rate:1:1"),
            ("2 – poor", "pb:rate:1:2"),
            ("3 – okay", "pb:rate:1:3"),
            ("4 – good", "pb:rate:1:4"),
            ("5 – excellent", "pb:rate:1:5"),
        ]
        .map(|(l, c)| (l.to_string(), c.to_string()))
    );
    let to_customer: Vec<String> = bot.fake.requests()[since..]
        .iter()
        .filter(|r| r.api_path().starts_with(&format!("/channels/{SUPPORT}/")))
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        !to_customer.iter().any(|b| b.contains("reseller")),
        "a note reached the customer's channel: {to_customer:?}"
    );

    // Someone else in the channel cannot rate carol's ticket.
    let mallory = customer(7999, "mallory");
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 1, "pb:rate:1:1", &mallory, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.body["data"]["flags"], 64, "ephemeral: {}", cb.body);
    assert_eq!(cb.content(), "Only the customer can rate this.");
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(t.csat, None, "nothing stored for another user");

    // Carol's press is stored, and the question shows her choice without buttons.
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 1, "pb:rate:1:4", &carol, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.body["type"], 7, "updated in place: {}", cb.body);
    assert_eq!(
        buttons(&cb.body["data"]),
        [("Add a comment".to_string(), "pb:rate-comment:1".to_string())]
    );
    assert!(cb.content().contains("4 – good"), "{}", cb.content());
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(t.csat.map(|c| c.rating), Some(4));

    // "Add a comment": a form for carol only; what she types is stored with her rating.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SUPPORT,
            1,
            "pb:rate-comment:1",
            &mallory,
            Some(GUILD_ID),
            None,
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.content(), "Only the customer can rate this.");
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SUPPORT,
            1,
            "pb:rate-comment:1",
            &carol,
            Some(GUILD_ID),
            None,
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.body["type"], 9, "a modal: {}", cb.body);
    assert_eq!(cb.body["data"]["custom_id"], "pb:rate-modal:1");
    assert_eq!(
        cb.body["data"]["components"][0]["components"][0]["custom_id"],
        "comment"
    );
    let since = bot.mark();
    let sent = bot
        .fake
        .modal_submit(
            SUPPORT,
            1,
            "pb:rate-modal:1",
            &[("comment", "Quick! Mail me at jane.doe@example.com")],
            &carol,
            Some(GUILD_ID),
        )
        .await;
    let cb = bot.callback(since, sent).await;
    assert_eq!(cb.body["type"], 7, "{}", cb.body);
    assert_eq!(cb.body["data"]["components"], serde_json::json!([]));
    let csat = bot
        .pipeline
        .store()
        .ticket(1)
        .unwrap()
        .unwrap()
        .csat
        .unwrap();
    assert_eq!(csat.rating, 4);
    let comment = csat.comment.unwrap_or_default();
    assert!(comment.starts_with("Quick!"), "{comment}");
    assert!(
        !comment.contains("jane.doe@example.com"),
        "redacted: {comment}"
    );
    bot.stop().await;
}

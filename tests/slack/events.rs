//! The Events API: URL verification, answers in threads, signatures, retries and ignored
//! messages.

use std::time::Duration;

use serde_json::{json, Value};

use crate::bot::{callback, in_thread, message, now, Bot, CH, EVENTS, INTERACTIONS, QUIET, SECRET};
use crate::fake_slack;
use crate::fake_slack::TOKEN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_answers_the_challenge() {
    let bot = Bot::start().await;
    assert!(bot.started.is_some(), "the channel is on with both secrets");
    let body = json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    })
    .to_string();
    let (status, text, _) = bot
        .signed(EVENTS, body.as_bytes(), "application/json", &[])
        .await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    // Unsigned, the same request is refused.
    let (status, _, _) = bot
        .post(EVENTS, body.as_bytes(), "application/json", &[])
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_answered_in_its_thread_with_the_persona_answer_and_both_buttons() {
    let bot = Bot::start().await;
    // Slack is slow to take the reply: the event is still acknowledged at once.
    bot.fake.set_delay(Duration::from_millis(2500));
    let since = bot.mark();
    let ts = "1700000001.000100";
    let body = callback(
        "Ev0001",
        message("U0ALICE", "I run a Shopify store, how much is it?", ts),
    )
    .to_string();
    let (status, text, took) = bot
        .signed(EVENTS, body.as_bytes(), "application/json", &[])
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        took < Duration::from_millis(2000),
        "Slack gets its 200 before the work is done (took {took:?})"
    );
    let reply = bot.reply_in(since, ts).await;
    assert_eq!(
        reply.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(
        reply.text().contains("Commerce add-on"),
        "the e-commerce pricing answer: {}",
        reply.text()
    );
    let kinds: Vec<&str> = reply.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["section", "actions"],
        "the buttons under the answer"
    );
    assert!(reply.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("Commerce add-on"));
    assert_eq!(reply.button_labels(), ["That helped", "Talk to a human"]);
    assert_eq!(reply.body["link_names"], false);
    assert_eq!(reply.body["parse"], "none");
    let stored = bot.interactions();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].channel, "slack");
    assert_eq!(stored[0].conversation, format!("{CH}/{ts}"));
    assert_eq!(
        stored[0].route.answer.as_deref(),
        Some("pricing/ecommerce-seller")
    );
    let delivery = bot.delivery(0).await;
    assert!(delivery.ok && delivery.attempts == 1, "{delivery:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_one_conversation() {
    let bot = Bot::start().await;
    let root = "1700000002.000100";
    let since = bot.mark();
    bot.event(
        "Ev0002",
        message("U0BEN", "I'm the founder of a 5-person startup", root),
    )
    .await;
    let first = bot.reply_in(since, root).await;
    assert!(first.buttons().is_empty(), "no buttons under a non-answer");
    // A reply in the thread: same conversation, so the persona sticks.
    let since = bot.mark();
    bot.event(
        "Ev0003",
        in_thread(
            message("U0BEN", "how much is it?", "1700000003.000100"),
            root,
        ),
    )
    .await;
    let reply = bot.reply_in(since, root).await;
    assert!(
        reply.text().contains("startup program"),
        "the startup-founder answer: {}",
        reply.text()
    );
    let stored = bot.interactions();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|i| i.conversation == format!("{CH}/{root}")));
    assert_eq!(
        stored[1].route.answer.as_deref(),
        Some("pricing/startup-founder")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_forged_and_stale_requests_are_refused() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let body = callback(
        "Ev0004",
        message("U0EVE", "how much is it?", "1700000004.000100"),
    )
    .to_string();
    let body = body.as_bytes();
    let ts = now().to_string();
    let old = (now() - 6 * 60).to_string();
    let future = (now() + 6 * 60).to_string();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no headers", vec![]),
        (
            "no signature",
            vec![("x-slack-request-timestamp", ts.clone())],
        ),
        (
            "no timestamp",
            vec![("x-slack-signature", fake_slack::sign(SECRET, &ts, body))],
        ),
        (
            "another secret",
            vec![
                (
                    "x-slack-signature",
                    fake_slack::sign("not-the-secret", &ts, body),
                ),
                ("x-slack-request-timestamp", ts.clone()),
            ],
        ),
        (
            "another body",
            vec![
                ("x-slack-signature", fake_slack::sign(SECRET, &ts, b"{}")),
                ("x-slack-request-timestamp", ts.clone()),
            ],
        ),
        (
            "garbage",
            vec![
                ("x-slack-signature", "v0=nothex".to_string()),
                ("x-slack-request-timestamp", ts.clone()),
            ],
        ),
        (
            "6 minutes old, correctly signed",
            vec![
                ("x-slack-signature", fake_slack::sign(SECRET, &old, body)),
                ("x-slack-request-timestamp", old.clone()),
            ],
        ),
        (
            "6 minutes ahead, correctly signed",
            vec![
                ("x-slack-signature", fake_slack::sign(SECRET, &future, body)),
                ("x-slack-request-timestamp", future.clone()),
            ],
        ),
    ];
    for (what, headers) in &cases {
        for path in [EVENTS, INTERACTIONS] {
            let (status, text, _) = bot.post(path, body, "application/json", headers).await;
            assert_eq!(status, 401, "{what} on {path}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert!(error["error"].is_string(), "{what}: {text}");
        }
    }
    bot.assert_silent(since).await;
    assert!(bot.interactions().is_empty(), "nothing was processed");
    // The same body, correctly signed now, goes through.
    bot.event(
        "Ev0004",
        message("U0EVE", "how much is it?", "1700000004.000100"),
    )
    .await;
    bot.reply_in(since, "1700000004.000100").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_and_a_mention_of_the_same_message_are_handled_once() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let ts = "1700000005.000100";
    let event = message("U0CARL", "<@U0BOT> how much does the growth plan cost?", ts);
    bot.event("Ev0005", event.clone()).await;
    // Slack retries (it did not see our 200 in time), with the same event id.
    let body = callback("Ev0005", event.clone()).to_string();
    for n in 1..=2 {
        let (status, text, _) = bot
            .signed(
                EVENTS,
                body.as_bytes(),
                "application/json",
                &[
                    ("x-slack-retry-num", n.to_string()),
                    ("x-slack-retry-reason", "http_timeout".to_string()),
                ],
            )
            .await;
        assert_eq!(status, 200, "{text}");
    }
    // The same message as an app_mention (another event id).
    let mut mention = event.clone();
    mention["type"] = json!("app_mention");
    bot.event("Ev0006", mention).await;
    let reply = bot.reply_in(since, ts).await;
    assert!(reply.text().contains("Growth"), "{}", reply.text());
    tokio::time::sleep(QUIET).await;
    let posts = bot.fake.matching(since, |c| c.method == "chat.postMessage");
    assert_eq!(posts.len(), 1, "one reply: {posts:#?}");
    let stored = bot.interactions();
    assert_eq!(stored.len(), 1, "processed once");
    assert_eq!(
        stored[0].text, "how much does the growth plan cost?",
        "the mention of the bot is not part of the question"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_messages_edits_and_our_own_messages_are_ignored() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let mut from_bot = message("U0OTHERBOT", "how much is it?", "1700000006.000100");
    from_bot["bot_id"] = json!("B0OTHER");
    let mut bot_message = message("U0OTHERBOT", "how much is it?", "1700000006.000200");
    bot_message["subtype"] = json!("bot_message");
    let edit = json!({
        "type": "message", "subtype": "message_changed", "channel": CH, "hidden": true,
        "ts": "1700000006.000300", "event_ts": "1700000006.000300",
        "message": { "type": "message", "user": "U0DANA", "text": "how much is it?", "ts": "1700000006.000050" },
    });
    let own = message("U0BOT", "how much is it?", "1700000006.000400");
    for (n, event) in [from_bot, bot_message, edit, own].into_iter().enumerate() {
        bot.event(&format!("Ev01{n}"), event).await;
    }
    bot.assert_silent(since).await;
    assert!(bot.interactions().is_empty());
    // A person's message in the same channel is answered.
    bot.event(
        "Ev0110",
        message("U0DANA", "how much is it?", "1700000006.000500"),
    )
    .await;
    bot.reply_in(since, "1700000006.000500").await;
    assert_eq!(bot.interactions().len(), 1);
}

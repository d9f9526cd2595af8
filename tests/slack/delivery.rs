//! What the bot sends: nothing pings, failed sends are retried and recorded, no channel
//! without both secrets, one notice for a flood.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bot::{callback, message, Bot, EVENTS, INTERACTIONS, OFF, QUIET, SECRET, T};
use crate::fake_slack::{Failure, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_bot_sends_can_ping_anyone() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let ts = "1700000009.000100";
    bot.event(
        "Ev0009",
        message(
            "U0ZED",
            "<!everyone> <!channel> I run a Shopify store, how much is it?",
            ts,
        ),
    )
    .await;
    bot.reply_in(since, ts).await;
    let refund = "1700000009.000200";
    bot.event(
        "Ev0010",
        message("U0ZED", "I want a refund <!here> <@U0ADMIN>", refund),
    )
    .await;
    let handoff = bot.reply_in(since, refund).await;
    assert!(handoff.text().contains("Billing"), "{}", handoff.text());
    let ticket = bot
        .pipeline
        .store()
        .tickets(None, None)
        .unwrap()
        .into_iter()
        .next()
        .expect("a billing ticket");
    let mark = bot.mark();
    bot.pipeline
        .agent_reply(
            ticket.id,
            "ann <!here>",
            "<!everyone> <!channel> <!here> <@U0ADMIN> <!subteam^S0TEAM> <#C0OTHER> <https://evil.example|click> & done",
        )
        .unwrap();
    let delivered = bot.reply_in(mark, refund).await;
    assert_eq!(
        delivered.text(),
        "*Billing (ann &lt;!here&gt;):* &lt;!everyone&gt; &lt;!channel&gt; &lt;!here&gt; \
         &lt;@U0ADMIN&gt; &lt;!subteam^S0TEAM&gt; &lt;#C0OTHER&gt; \
         &lt;https://evil.example|click&gt; &amp; done"
    );
    for call in bot.fake.calls()[since..].iter() {
        for token in [
            "<!everyone>",
            "<!channel>",
            "<!here>",
            "<@U0ADMIN>",
            "<!subteam",
            "<#C0OTHER>",
            "<https://",
        ] {
            assert!(
                !call.raw.contains(token),
                "{token} sent to Slack unescaped: {}",
                call.raw
            );
        }
        assert_eq!(call.body["link_names"], false, "{}", call.raw);
        assert_eq!(call.body["parse"], "none", "{}", call.raw);
        for block in call.body["blocks"].as_array().into_iter().flatten() {
            if block["type"] == "section" {
                assert_eq!(block["text"]["verbatim"], true, "{}", call.raw);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sends_are_retried_and_the_outcome_is_recorded() {
    let bot = Bot::start().await;

    // A 500 once: retried.
    bot.fake.fail_next(Failure::Status(500));
    let since = bot.mark();
    let ts = "1700000010.000100";
    bot.event("Ev0011", message("U0FAY", "how much is it?", ts))
        .await;
    bot.reply_in(since, ts).await;
    let tries: Vec<u16> = bot
        .fake
        .matching(since, |c| c.method == "chat.postMessage")
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(tries, [500, 200]);
    let delivery = bot.delivery(0).await;
    assert!(delivery.ok && delivery.attempts == 2, "{delivery:?}");

    // Rate limited: retried after Retry-After.
    bot.fake.fail_next(Failure::RateLimited(1));
    let since = bot.mark();
    let ts = "1700000010.000200";
    bot.event("Ev0012", message("U0GUS", "how much is it?", ts))
        .await;
    bot.reply_in(since, ts).await;
    let tries = bot.fake.matching(since, |c| c.method == "chat.postMessage");
    assert_eq!(
        tries.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = tries[1].at.duration_since(tries[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "waited {waited:?} for Retry-After: 1"
    );
    let delivery = bot.delivery(1).await;
    assert!(delivery.ok && delivery.attempts == 2, "{delivery:?}");

    // ok:false is a failure (not retried: it would fail again), recorded as such.
    bot.fake.fail_next(Failure::NotOk("channel_not_found"));
    let since = bot.mark();
    bot.event(
        "Ev0013",
        message("U0HAL", "how much is it?", "1700000010.000300"),
    )
    .await;
    let delivery = bot.delivery(2).await;
    assert!(!delivery.ok && delivery.attempts == 1, "{delivery:?}");
    assert!(
        delivery
            .error
            .as_deref()
            .is_some_and(|e| e.contains("channel_not_found")),
        "{delivery:?}"
    );
    assert!(
        !delivery.error.unwrap_or_default().contains(TOKEN),
        "the token is never recorded"
    );
    assert_eq!(
        bot.fake
            .matching(since, |c| c.method == "chat.postMessage")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_both_secrets_the_channel_is_off() {
    for secrets in [
        vec![],
        vec![("PERSONABOT__SLACK__SIGNING_SECRET", SECRET)],
        vec![("PERSONABOT__SLACK__BOT_TOKEN", TOKEN)],
    ] {
        let bot = Bot::start_with(&secrets).await;
        assert!(bot.started.is_none(), "start says it is off: {secrets:?}");
        let since = bot.mark();
        let event = callback(
            "Ev0014",
            message("U0IVY", "how much is it?", "1700000011.000100"),
        )
        .to_string();
        let (status, text, _) = bot
            .signed(EVENTS, event.as_bytes(), "application/json", &[])
            .await;
        assert_eq!(status, 404, "{secrets:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({ "error": OFF })
        );
        let (status, text, _) = bot
            .signed(
                INTERACTIONS,
                b"payload=%7B%7D",
                "application/x-www-form-urlencoded",
                &[],
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({ "error": OFF })
        );
        bot.assert_silent(since).await;
        assert!(bot.interactions().is_empty(), "nothing processed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_gets_one_notice_and_the_rest_is_dropped() {
    let bot = Bot::start().await;
    let since = bot.mark();
    // The built-in limit: 8 messages per user per 10 seconds.
    for n in 0..10 {
        bot.event(
            &format!("Ev02{n:02}"),
            message("U0FLOOD", "how much is it?", &format!("1700000012.{n:06}")),
        )
        .await;
    }
    let deadline = Instant::now() + T;
    while bot
        .fake
        .matching(since, |c| c.method == "chat.postMessage")
        .len()
        < 9
    {
        assert!(Instant::now() < deadline, "{:#?}", bot.fake.calls());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(QUIET).await;
    let posts = bot.fake.matching(since, |c| c.method == "chat.postMessage");
    let notices = posts
        .iter()
        .filter(|c| c.text().contains("faster than I can keep up"))
        .count();
    assert_eq!((posts.len(), notices), (9, 1), "{posts:#?}");
    assert_eq!(bot.interactions().len(), 8, "the rest was not processed");
}

//! Resilience and load: gateway resume, REST retries, and latency over 1,000 messages.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use personabot::store::InteractionFilter;

use crate::bot::{customer, Bot, BILLING_CHANNEL, QUIET, STALLED, SUPPORT, T};
use crate::fake_discord::GUILD_ID;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_close_4000_then_resume_loses_no_message() {
    let bot = Bot::start().await;
    let fred = customer(7007, "fred");
    let since = bot.mark();
    let before = bot
        .fake
        .message(SUPPORT, &fred, "I run a shopify store", Some(GUILD_ID))
        .await;
    bot.reply_to(since, SUPPORT, before).await;
    bot.fake.close_gateway(4000, T).await;
    let since = bot.mark();
    let after = bot
        .fake
        .message(SUPPORT, &fred, "how much is it?", Some(GUILD_ID))
        .await;
    let reply = bot.reply_to(since, SUPPORT, after).await;
    assert!(
        reply.content().contains("Commerce add-on"),
        "the persona survived: {}",
        reply.content()
    );
    assert!(bot.fake.resume_count() >= 1 || bot.fake.identify_count() >= 2);
    tokio::time::sleep(QUIET).await;
    let replies = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.is("POST", &format!("/channels/{SUPPORT}/messages")) && r.status < 300)
        .count();
    assert_eq!(replies, 2, "each message answered exactly once");
    assert_eq!(bot.pipeline.store().interaction_count(), 2);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_500_is_retried_and_logged() {
    let bot = Bot::start().await;
    let gina = customer(7008, "gina");
    bot.fake
        .fail_next("POST", &format!("/channels/{SUPPORT}/messages"), 500, 1);
    let since = bot.mark();
    let id = bot
        .fake
        .message(SUPPORT, &gina, "I forgot my password", Some(GUILD_ID))
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    assert!(reply.content().contains("reset"));
    let failed = bot.fake.requests()[since..]
        .iter()
        .filter(|r| r.is("POST", &format!("/channels/{SUPPORT}/messages")) && r.status == 500)
        .count();
    assert_eq!(failed, 1);
    let delivery = bot.delivery(0).await;
    assert!(delivery.ok && delivery.attempts == 2, "{delivery:?}");

    // Every attempt fails: the interaction is still logged, with the failure, and the ticket a
    // refund asks for is still opened and posted.
    bot.fake
        .fail_next("POST", &format!("/channels/{SUPPORT}/messages"), 500, 10);
    let since = bot.mark();
    bot.fake
        .message(
            SUPPORT,
            &gina,
            "I want a refund for last month",
            Some(GUILD_ID),
        )
        .await;
    bot.posted_in(since, BILLING_CHANNEL).await;
    let d = bot.delivery(1).await;
    assert!(!d.ok && d.attempts == 4 && d.error.is_some(), "{d:?}");
    // The error is logged as well: no channel id in it.
    let error = d.error.clone().unwrap_or_default();
    assert!(!error.contains(&SUPPORT.to_string()), "{error}");
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored[1].route.kind, "ticket");
    bot.stop().await;
}

/// MESSAGE_CREATE at the fake to the reply POST at the fake: 1,000 messages one after another
/// (each sent when the previous reply arrived: the latency of one message), then a burst of
/// 1,000 at once (throughput, with queueing). Prints the figures; asserts only that every
/// message is answered once and stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_from_message_to_reply_over_1000_messages() {
    let bot = Bot::start().await;
    let path = format!("/channels/{SUPPORT}/messages");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;

    let mut latencies = Vec::with_capacity(1000);
    for n in 0..1000u64 {
        let user = customer(100_000 + n, "paced");
        let since = bot.mark();
        let at = Instant::now();
        let id = bot
            .fake
            .message(
                SUPPORT,
                &user,
                "how much is the growth plan?",
                Some(GUILD_ID),
            )
            .await;
        let reply = bot.reply_to(since, SUPPORT, id).await;
        latencies.push(reply.at.duration_since(at));
    }
    latencies.sort();
    println!(
        "discord latency, one message at a time, {} messages: median {:.1} ms, p99 {:.1} ms (MESSAGE_CREATE at the fake -> reply POST at the fake)",
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 99 / 100])
    );

    let since = bot.mark();
    let started = Instant::now();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    for n in 0..1000u64 {
        let user = customer(200_000 + n, "burst");
        let at = Instant::now();
        let id = bot
            .fake
            .message(
                SUPPORT,
                &user,
                "how much is the growth plan?",
                Some(GUILD_ID),
            )
            .await;
        sent.insert(id.to_string(), at);
    }
    // Bounded by progress, not by a wall-clock budget: a busy machine answers slower, but the
    // test fails only when replies stop coming altogether.
    let mut progress = (0, Instant::now());
    let mut burst: Vec<Duration>;
    loop {
        let requests = bot.fake.requests();
        burst = requests[since..]
            .iter()
            .filter(|r| r.is("POST", &path) && r.status < 300)
            .filter_map(|r| {
                let id = r.body["message_reference"]["message_id"].as_str()?;
                Some(r.at.duration_since(*sent.get(id)?))
            })
            .collect();
        if burst.len() > progress.0 {
            progress = (burst.len(), Instant::now());
        }
        if burst.len() >= 1000 || progress.1.elapsed() > STALLED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        burst.len(),
        1000,
        "every burst message answered (identifies {}, resumes {}, replayed {}, stored {})",
        bot.fake.identify_count(),
        bot.fake.resume_count(),
        bot.fake.replayed_count(),
        bot.pipeline.store().interaction_count()
    );
    let elapsed = started.elapsed();
    burst.sort();
    println!(
        "discord burst of 1000 messages: {:.0} msgs/s; latency median {:.1} ms, p99 {:.1} ms (queueing included)",
        1000.0 / elapsed.as_secs_f64(),
        ms(burst[burst.len() / 2]),
        ms(burst[burst.len() * 99 / 100])
    );
    assert_eq!(bot.pipeline.store().interaction_count(), 2000);
    bot.stop().await;
}

//! Safety: mention injection pings nobody, oversized messages, bot authors ignored, floods.

use std::time::{Duration, Instant};

use personabot::store::InteractionFilter;

use crate::bot::{assert_pings_nobody, customer, Bot, BILLING_CHANNEL, QUIET, SUPPORT, T};
use crate::fake_discord::{User, GUILD_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_injection_pings_nobody() {
    let bot = Bot::start().await;
    let eve = customer(7006, "eve");
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &eve,
            "@everyone @here <@&5001> <@1234> [free](https://evil.example) I want a refund",
            Some(GUILD_ID),
        )
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    assert_pings_nobody(&reply.body);
    let ticket = bot.posted_in(since, BILLING_CHANNEL).await;
    assert_pings_nobody(&ticket.body);
    let content = ticket.content();
    for raw in ["@everyone", "@here", "<@&5001>", "<@1234>", "](https://"] {
        assert!(
            !content.contains(raw),
            "{raw:?} must be neutralised in {content:?}"
        );
    }
    assert!(
        content.contains("@\u{200B}everyone"),
        "the text still reads the same: {content}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_gets_a_safe_reply() {
    let bot = Bot::start().await;
    let jay = customer(7011, "jay");
    let huge = format!("I want a refund {}", "and more words ".repeat(2000));
    let since = bot.mark();
    let id = bot.fake.message(SUPPORT, &jay, &huge, Some(GUILD_ID)).await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    assert!(
        reply.content().chars().count() <= 2000,
        "within Discord's limit"
    );
    assert!(reply.content().contains("refund"), "{}", reply.content());
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(
        stored[0].text.chars().count(),
        4000,
        "cut to limits.max_message_chars"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_bots_are_ignored() {
    let bot = Bot::start().await;
    let other = User {
        id: 9001,
        name: "otherbot".into(),
        bot: true,
        roles: vec![],
    };
    let since = bot.mark();
    bot.fake
        .message(SUPPORT, &other, "how much is it?", Some(GUILD_ID))
        .await;
    bot.assert_silent(since, SUPPORT).await;
    assert_eq!(bot.pipeline.store().interaction_count(), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_gets_one_notice() {
    let bot = Bot::start_with(&[("PERSONABOT__LIMITS__FLOOD_MESSAGES", "3")]).await;
    let hank = customer(7009, "hank");
    let since = bot.mark();
    for n in 0..10 {
        bot.fake
            .message(
                SUPPORT,
                &hank,
                &format!("message {n} how much"),
                Some(GUILD_ID),
            )
            .await;
    }
    let path = format!("/channels/{SUPPORT}/messages");
    let deadline = Instant::now() + T;
    loop {
        let posted: Vec<String> = bot.fake.requests()[since..]
            .iter()
            .filter(|r| r.is("POST", &path))
            .map(|r| r.content().to_string())
            .collect();
        if posted.len() >= 4 {
            tokio::time::sleep(QUIET).await;
            let posted: Vec<String> = bot.fake.requests()[since..]
                .iter()
                .filter(|r| r.is("POST", &path))
                .map(|r| r.content().to_string())
                .collect();
            assert_eq!(posted.len(), 4, "3 answers and 1 notice: {posted:?}");
            assert_eq!(
                posted
                    .iter()
                    .filter(|p| p.contains("faster than I can keep up"))
                    .count(),
                1
            );
            break;
        }
        assert!(Instant::now() < deadline, "only {} posts", posted.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        bot.pipeline.store().interaction_count(),
        3,
        "flooded messages are not processed"
    );
    bot.stop().await;
}

/// A ticket whose conversation names channel 0 (no Discord id is 0; serenity's `ChannelId::new`
/// panics on it) once stopped the ticket-events task until a restart. Now that reply is
/// skipped, and the next agent reply to a real customer still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_to_channel_zero_does_not_stop_the_ticket_relay() {
    use personabot::engine::pipeline::{Inbound, Mode};
    let bot = Bot::start().await;
    let since = bot.mark();
    let zero = bot
        .state
        .handle(
            Inbound {
                channel: "discord".into(),
                conversation: "0".into(),
                user: "7100".into(),
                text: "I want a refund for last month".into(),
            },
            Mode::Route,
        )
        .await
        .expect("the turn is handled");
    let zero_ticket = zero.ticket.expect("a ticket").id;
    bot.posted_in(since, BILLING_CHANNEL).await; // its ticket post, before the reply
    bot.pipeline
        .agent_reply(zero_ticket, "dana", "Refund on its way")
        .expect("stored");
    // A real customer, in the support channel, hands off and gets the agent's reply.
    let hana = customer(7101, "hana");
    let since = bot.mark();
    bot.fake
        .message(
            SUPPORT,
            &hana,
            "I want a refund for my order",
            Some(GUILD_ID),
        )
        .await;
    bot.posted_in(since, BILLING_CHANNEL).await;
    let tickets = bot.pipeline.store().tickets(None, None).unwrap();
    let ticket = tickets
        .iter()
        .find(|t| t.id != zero_ticket)
        .unwrap_or_else(|| panic!("hana's ticket among {tickets:?}"));
    let since = bot.mark();
    bot.pipeline
        .agent_reply(ticket.id, "dana", "Hana, your refund is approved")
        .expect("stored");
    let path = format!("/channels/{SUPPORT}/messages");
    let delivered = bot
        .fake
        .wait_request(since, T, |r| {
            r.is("POST", &path) && r.content().contains("your refund is approved")
        })
        .await;
    assert!(delivered.status < 300);
    bot.stop().await;
}

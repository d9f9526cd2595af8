//! Answers: shards, persona-tailored replies with buttons, reloaded roles, DMs, threads and
//! slash commands.

use std::sync::Arc;

use personabot::channels::discord::{HELPED_LABEL, HUMAN_LABEL};
use personabot::engine::pipeline::Rules;
use personabot::store::{InteractionFilter, TicketStatus};

use crate::bot::{
    assert_pings_nobody, buttons, customer, open_sales_ticket, Bot, DM, SALES_CHANNEL,
    SECURITY_CHANNEL, SUPPORT, SUPPORT_TEAM_CHANNEL,
};
use crate::fake_discord::{User, GUILD_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_identifies_as_the_shards_it_is_given() {
    // `discord.shards = "1/2"`: this process runs shard 1 of 2 (docs/scaling.md).
    let mut bot = Bot::start_with(&[("PERSONABOT__DISCORD__SHARDS", "1/2")]).await;
    let identify = bot.fake.last_identify().expect("identified");
    assert_eq!(identify["shard"], serde_json::json!([1, 2]), "{identify}");
    assert_eq!(bot.fake.identify_count(), 1, "one shard in this process");
    bot.handle.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_channel_answer_is_persona_tailored_with_both_buttons() {
    let bot = Bot::start().await;
    let alice = customer(7001, "alice");
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &alice,
            "I run a Shopify store, how much is it?",
            Some(GUILD_ID),
        )
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    assert!(
        reply.content().contains("Commerce add-on"),
        "the e-commerce pricing answer: {}",
        reply.content()
    );
    let labels: Vec<String> = buttons(&reply.body).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, [HELPED_LABEL, HUMAN_LABEL]);
    assert_eq!(HELPED_LABEL, "That helped");
    assert_eq!(HUMAN_LABEL, "Talk to a human");
    assert_pings_nobody(&reply.body);
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].channel, "discord");
    assert_eq!(stored[0].conversation, format!("{SUPPORT}/7001"));
    assert_eq!(
        stored[0].route.answer.as_deref(),
        Some("pricing/ecommerce-seller")
    );
    let delivery = bot.delivery(0).await;
    assert!(delivery.ok && delivery.attempts == 1, "{delivery:?}");
    // Counted by the runtime every channel shares, like an HTTP or Slack message.
    let metrics = bot.metrics();
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "personabot_messages_total{channel=\"discord\",route=\"answer\",persona=\"ecommerce-seller\",intent=\"pricing\"} 1"
        )),
        "{metrics}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_discord_role_is_obeyed_without_a_restart() {
    let bot = Bot::start().await;
    let dave = customer(7004, "dave");
    let ticket_msg = open_sales_ticket(&bot, &dave).await;
    let claim = buttons(&ticket_msg.body)
        .into_iter()
        .find(|(l, _)| l == "Claim")
        .unwrap()
        .1;
    const NEW_SALES_ROLE: u64 = 5009;
    let agent = User::new(8009, "nia").with_roles(&[NEW_SALES_ROLE]);

    // Before the reload the role is not Sales': refused.
    let since = bot.mark();
    let click = bot
        .fake
        .click(SALES_CHANNEL, 1, &claim, &agent, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert!(
        cb.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Only members of the Sales team"),
        "{}",
        cb.body
    );

    // The rules are swapped (as a hot reload of personabot.toml does) with Sales' role changed.
    let mut catalog = (*bot.pipeline.catalog()).clone();
    catalog.teams.get_mut("sales").unwrap().discord_role = Some(NEW_SALES_ROLE);
    let rules = bot.pipeline.rules();
    bot.pipeline.reload(Rules::new(
        Arc::new(catalog),
        rules.classifier.clone(),
        &bot.state.settings,
    ));

    let since = bot.mark();
    let click = bot
        .fake
        .click(SALES_CHANNEL, 1, &claim, &agent, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert!(
        cb.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("You claimed ticket #1"),
        "{}",
        cb.body
    );
    assert_eq!(
        bot.pipeline.store().ticket(1).unwrap().unwrap().status,
        TicketStatus::Claimed
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_conversation_keeps_its_persona() {
    let bot = Bot::start().await;
    let bob = customer(7004, "bob");
    let since = bot.mark();
    let first = bot
        .fake
        .message(DM, &bob, "I'm the founder of a 5-person startup", None)
        .await;
    bot.reply_to(since, DM, first).await;
    let since = bot.mark();
    let second = bot.fake.message(DM, &bob, "how much is it?", None).await;
    let reply = bot.reply_to(since, DM, second).await;
    assert!(
        reply.content().contains("startup program"),
        "{}",
        reply.content()
    );
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(
        stored.last().unwrap().route.answer.as_deref(),
        Some("pricing/startup-founder")
    );
    assert_eq!(stored.last().unwrap().conversation, DM.to_string());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_under_a_support_channel_is_one_conversation() {
    let bot = Bot::start().await;
    // A customer opens a thread in the support channel (through the fake's REST API).
    let http = serenity::http::HttpBuilder::new("fake-token")
        .proxy(bot.fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let thread = serenity::all::ChannelId::new(SUPPORT)
        .create_thread(
            &http,
            serenity::all::CreateThread::new("my question")
                .kind(serenity::all::ChannelType::PublicThread),
        )
        .await
        .expect("thread created")
        .id
        .get();
    let ivy = customer(7010, "ivy");
    let since = bot.mark();
    let first = bot
        .fake
        .message(
            thread,
            &ivy,
            "I'm the founder of a 5-person startup",
            Some(GUILD_ID),
        )
        .await;
    bot.reply_to(since, thread, first).await;
    let since = bot.mark();
    let second = bot
        .fake
        .message(thread, &ivy, "how much is it?", Some(GUILD_ID))
        .await;
    let reply = bot.reply_to(since, thread, second).await;
    assert!(
        reply.content().contains("startup program"),
        "{}",
        reply.content()
    );
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored.last().unwrap().conversation, thread.to_string());
    // A channel that is neither a support channel nor under one is ignored.
    let since = bot.mark();
    bot.fake
        .message(SALES_CHANNEL, &ivy, "how much is it?", Some(GUILD_ID))
        .await;
    bot.assert_silent(since, SALES_CHANNEL).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_and_ticket_slash_commands() {
    let bot = Bot::start().await;
    let dana = customer(7005, "dana");
    let since = bot.mark();
    let help = bot
        .fake
        .slash(
            SUPPORT,
            "help",
            &[("question", "I forgot my password")],
            &dana,
            Some(GUILD_ID),
        )
        .await;
    let cb = bot.callback(since, help).await;
    assert_eq!(cb.body["type"], 4);
    assert_eq!(cb.body["data"]["flags"], 64, "an ephemeral answer");
    assert!(
        cb.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("reset"),
        "{}",
        cb.body
    );

    let since = bot.mark();
    let ticket = bot
        .fake
        .slash(
            SUPPORT,
            "ticket",
            &[("summary", "our SSO login is broken for the whole team")],
            &dana,
            Some(GUILD_ID),
        )
        .await;
    let cb = bot.callback(since, ticket).await;
    let text = cb.body["data"]["content"].as_str().unwrap();
    assert!(text.contains("ticket #1"), "{text}");
    let t = bot.pipeline.store().ticket(1).unwrap().expect("a ticket");
    assert!(t.reason.contains("asked for a person"), "{}", t.reason);
    let team_channel = match t.team.as_str() {
        "support" => SUPPORT_TEAM_CHANNEL,
        "security" => SECURITY_CHANNEL,
        other => panic!("unexpected team {other}"),
    };
    bot.posted_in(since, team_channel).await;
    bot.stop().await;
}

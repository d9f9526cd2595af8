//! The Discord channel end to end: the bot's own serenity client, unchanged, against the fake
//! Discord in tests/support (REST + gateway on 127.0.0.1), with the shipped catalog and sled in a
//! temporary directory.

#[path = "../support/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_discord::{FakeDiscord, Request, User, GUILD_ID};
use serde_json::Value;

use personabot::catalog::settings::Settings;
use personabot::channels::discord::{self, DiscordHandle, HELPED_LABEL, HUMAN_LABEL};
use personabot::engine::pipeline::{Pipeline, Rules};
use personabot::engine::AppState;
use personabot::store::{InteractionFilter, Store, TicketStatus};

const T: Duration = Duration::from_secs(30);
/// No new reply for this long means the bot stopped answering (a busy machine is only slower).
const STALLED: Duration = Duration::from_secs(60);
/// How long "the bot stays silent" is watched for.
const QUIET: Duration = Duration::from_millis(700);

const SUPPORT: u64 = 2001;
const SALES_CHANNEL: u64 = 4001;
const SUPPORT_TEAM_CHANNEL: u64 = 4002;
const BILLING_CHANNEL: u64 = 4003;
const SECURITY_CHANNEL: u64 = 4004;
const SALES_ROLE: u64 = 5001;
const SUPPORT_ROLE: u64 = 5002;
const DM: u64 = 6001;

struct Bot {
    fake: FakeDiscord,
    handle: Option<DiscordHandle>,
    pipeline: Arc<Pipeline>,
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn start() -> Bot {
        Self::start_with(&[]).await
    }

    async fn start_with(extra_env: &[(&str, &str)]) -> Bot {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
        std::env::set_var("no_proxy", "127.0.0.1,localhost");
        let fake = FakeDiscord::start().await;
        let base = fake.base_url();
        let mut env: HashMap<String, String> = [
            ("PERSONABOT__DISCORD__TOKEN", "fake-token"),
            ("PERSONABOT__DISCORD__API_BASE", base.as_str()),
            ("PERSONABOT__DISCORD__GUILD_ID", "3001"),
            ("PERSONABOT__DISCORD__SUPPORT_CHANNELS", "2001"),
            ("PERSONABOT__TEAMS__SALES__DISCORD_CHANNEL", "4001"),
            ("PERSONABOT__TEAMS__SALES__DISCORD_ROLE", "5001"),
            ("PERSONABOT__TEAMS__SUPPORT__DISCORD_CHANNEL", "4002"),
            ("PERSONABOT__TEAMS__SUPPORT__DISCORD_ROLE", "5002"),
            ("PERSONABOT__TEAMS__BILLING__DISCORD_CHANNEL", "4003"),
            ("PERSONABOT__TEAMS__SECURITY__DISCORD_CHANNEL", "4004"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra_env {
            env.insert(k.to_string(), v.to_string());
        }
        let settings = Settings::load_with_env(None, Some(env)).expect("settings");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some("discord-test-key")).expect("store");
        let pipeline = Arc::new(support::pipeline_with_settings(&settings, store));
        let state = AppState::new(pipeline.clone(), Arc::new(settings));
        let handle = discord::start(&state).await.expect("discord starts");
        fake.wait_ready(T).await;
        fake.guild_create(
            &[(SALES_ROLE, "sales"), (SUPPORT_ROLE, "support")],
            &[
                SUPPORT,
                SALES_CHANNEL,
                SUPPORT_TEAM_CHANNEL,
                BILLING_CHANNEL,
                SECURITY_CHANNEL,
            ],
        )
        .await;
        // Slash commands are registered once the client is ready.
        fake.wait_request(0, T, |r| {
            r.method == "PUT" && r.api_path().ends_with("/commands")
        })
        .await;
        Bot {
            fake,
            handle: Some(handle),
            pipeline,
            state,
            _dir: dir,
        }
    }

    fn mark(&self) -> usize {
        self.fake.requests().len()
    }

    /// The bot's reply to message `id` in `channel`.
    async fn reply_to(&self, since: usize, channel: u64, id: u64) -> Request {
        let path = format!("/channels/{channel}/messages");
        self.fake
            .wait_request(since, T, |r| {
                r.is("POST", &path)
                    && r.status < 300
                    && r.body["message_reference"]["message_id"].as_str() == Some(&id.to_string())
            })
            .await
    }

    /// A message posted in `channel` (e.g. a ticket in a team channel).
    async fn posted_in(&self, since: usize, channel: u64) -> Request {
        let path = format!("/channels/{channel}/messages");
        self.fake
            .wait_request(since, T, |r| r.is("POST", &path) && r.status < 300)
            .await
    }

    /// The response to interaction `id`.
    async fn callback(&self, since: usize, id: u64) -> Request {
        let prefix = format!("/interactions/{id}/");
        self.fake
            .wait_request(since, T, |r| {
                r.method == "POST" && r.api_path().starts_with(&prefix)
            })
            .await
    }

    /// Asserts that nothing is posted to `channel` for a while.
    async fn assert_silent(&self, since: usize, channel: u64) {
        tokio::time::sleep(QUIET).await;
        let path = format!("/channels/{channel}/messages");
        let posted: Vec<String> = self.fake.requests()[since..]
            .iter()
            .filter(|r| r.is("POST", &path))
            .map(|r| r.content().to_string())
            .collect();
        assert!(
            posted.is_empty(),
            "the bot should stay silent in {channel}, posted {posted:?}"
        );
    }

    /// The delivery record of the `n`th stored interaction, once the channel has written it.
    async fn delivery(&self, n: usize) -> personabot::store::Delivery {
        let deadline = Instant::now() + T;
        loop {
            let stored = self
                .pipeline
                .store()
                .interactions(&InteractionFilter::default())
                .unwrap();
            if let Some(d) = stored.get(n).and_then(|i| i.delivery.clone()) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "no delivery recorded for interaction {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What `/metrics` would show now.
    fn metrics(&self) -> String {
        self.state.metrics.render(
            &Default::default(),
            self.pipeline.store().commit_stats(),
            &self.state.reload.get(),
        )
    }

    async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }
}

fn customer(id: u64, name: &str) -> User {
    User::new(id, name)
}

fn buttons(body: &Value) -> Vec<(String, String)> {
    body["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (
                c["label"].as_str().unwrap_or_default().to_string(),
                c["custom_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_pings_nobody(body: &Value) {
    let allowed = &body["allowed_mentions"];
    assert!(allowed.is_object(), "allowed_mentions must be set: {body}");
    assert_eq!(
        allowed["parse"],
        serde_json::json!([]),
        "parse nothing: {body}"
    );
    for key in ["users", "roles"] {
        assert!(
            allowed[key].as_array().is_none_or(|a| a.is_empty()),
            "no {key} may be pinged: {body}"
        );
    }
}

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
async fn that_helped_resolves_and_talk_to_a_human_opens_a_ticket_with_a_thread() {
    let bot = Bot::start().await;
    let alice = customer(7002, "alice");
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &alice,
            "how much does the growth plan cost?",
            Some(GUILD_ID),
        )
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    let ids: Vec<String> = buttons(&reply.body).into_iter().map(|(_, c)| c).collect();

    // Someone else cannot press alice's buttons.
    let mallory = customer(7999, "mallory");
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 1, &ids[0], &mallory, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(
        cb.body["data"]["flags"], 64,
        "an ephemeral refusal: {}",
        cb.body
    );

    // "That helped" marks the answer and replaces the buttons.
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 1, &ids[0], &alice, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(
        cb.body["type"], 7,
        "updates the answer in place: {}",
        cb.body
    );
    assert_eq!(cb.body["data"]["components"], serde_json::json!([]));
    let answered = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter {
            outcome: Some("helped".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(answered.len(), 1, "the answer is marked helped");

    // A new question, then "Talk to a human": a ticket for sales with a thread.
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &alice,
            "what does the scale plan cost per seat?",
            Some(GUILD_ID),
        )
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    let human = buttons(&reply.body)
        .into_iter()
        .find(|(l, _)| l == HUMAN_LABEL)
        .unwrap()
        .1;
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 2, &human, &alice, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    let text = cb.body["data"]["content"].as_str().unwrap_or_default();
    assert!(
        text.contains("Sales team (ticket #1)"),
        "the customer is told the team: {text}"
    );
    let ticket_msg = bot.posted_in(since, SALES_CHANNEL).await;
    let content = ticket_msg.content();
    assert!(
        content.contains("**Ticket #1**") && content.contains("Intent: pricing"),
        "{content}"
    );
    assert!(
        content.contains("Evidence:") && content.contains("Transcript:"),
        "{content}"
    );
    assert_pings_nobody(&ticket_msg.body);
    let controls: Vec<String> = buttons(&ticket_msg.body)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert!(controls.contains(&"Claim".to_string()) && controls.contains(&"Resolve".to_string()));
    bot.fake
        .wait_request(since, T, |r| {
            r.method == "POST"
                && r.api_path()
                    .starts_with(&format!("/channels/{SALES_CHANNEL}/messages/"))
                && r.api_path().ends_with("/threads")
        })
        .await;
    let ticket = bot
        .pipeline
        .store()
        .ticket(1)
        .unwrap()
        .expect("ticket stored");
    assert_eq!(
        (ticket.team.as_str(), ticket.status),
        ("sales", TicketStatus::Open)
    );
    bot.stop().await;
}

/// Opens a sales ticket for `who` by asking for a person; returns (ticket message request).
async fn open_sales_ticket(bot: &Bot, who: &User) -> Request {
    let since = bot.mark();
    let id = bot
        .fake
        .message(SUPPORT, who, "we are 2000 employees, our procurement team needs an enterprise quote, can I talk to a person?", Some(GUILD_ID))
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    assert!(
        reply.content().contains("Sales team"),
        "{}",
        reply.content()
    );
    bot.posted_in(since, SALES_CHANNEL).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_needs_the_team_role_and_silences_the_bot_and_relabel_is_stored() {
    let bot = Bot::start().await;
    let carol = customer(7003, "carol");
    let ticket_msg = open_sales_ticket(&bot, &carol).await;
    let claim = buttons(&ticket_msg.body)
        .into_iter()
        .find(|(l, _)| l == "Claim")
        .unwrap()
        .1;

    // Without the sales role: refused, ephemerally.
    let outsider = User::new(8001, "outsider").with_roles(&[SUPPORT_ROLE]);
    let since = bot.mark();
    let click = bot
        .fake
        .click(SALES_CHANNEL, 1, &claim, &outsider, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.body["data"]["flags"], 64);
    assert!(cb.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Only members of the Sales team"));
    assert_eq!(
        bot.pipeline.store().ticket(1).unwrap().unwrap().status,
        TicketStatus::Open
    );

    // With it: claimed, the ticket message is updated, and the bot stays quiet with carol.
    let agent = User::new(8002, "ann").with_roles(&[SALES_ROLE]);
    let since = bot.mark();
    let click = bot
        .fake
        .click(SALES_CHANNEL, 1, &claim, &agent, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert!(cb.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("You claimed ticket #1"));
    let edit = bot
        .fake
        .wait_request(since, T, |r| {
            r.method == "PATCH"
                && r.api_path()
                    .starts_with(&format!("/channels/{SALES_CHANNEL}/messages/"))
        })
        .await;
    assert!(
        edit.content().contains("claimed by ann"),
        "{}",
        edit.content()
    );
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(
        (t.status, t.claimed_by.as_deref()),
        (TicketStatus::Claimed, Some("ann"))
    );

    let since = bot.mark();
    bot.fake
        .message(SUPPORT, &carol, "any news on the quote?", Some(GUILD_ID))
        .await;
    bot.assert_silent(since, SUPPORT).await;
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert!(
        t.transcript
            .iter()
            .any(|l| l.text.contains("any news on the quote")),
        "the customer's message joins the ticket"
    );

    // Relabel from the select menu: stored on the ticket and as ground truth.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SALES_CHANNEL,
            1,
            "pb:relabel-intent:1",
            &agent,
            Some(GUILD_ID),
            Some(vec!["billing".into()]),
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert!(
        cb.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("relabelled"),
        "{}",
        cb.body
    );
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(
        t.relabels.last().and_then(|l| l.intent.as_deref()),
        Some("billing")
    );
    let origin = bot
        .pipeline
        .store()
        .interaction(t.interaction)
        .unwrap()
        .unwrap();
    assert_eq!(
        origin.label.and_then(|l| l.intent).as_deref(),
        Some("billing")
    );

    // An agent's message in the ticket thread reaches the customer; a // note does not.
    let thread = bot
        .pipeline
        .store()
        .link("discord:ticket:1")
        .unwrap()
        .unwrap();
    let thread: u64 = thread.split('/').nth(2).unwrap().parse().unwrap();
    let since = bot.mark();
    bot.fake
        .message(
            thread,
            &agent,
            "// internal: check discount",
            Some(GUILD_ID),
        )
        .await;
    bot.fake
        .message(
            thread,
            &agent,
            "Hi Carol, your quote is on its way.",
            Some(GUILD_ID),
        )
        .await;
    let relayed = bot.posted_in(since, SUPPORT).await;
    assert!(
        relayed
            .content()
            .contains("Sales (ann):** Hi Carol, your quote is on its way."),
        "{}",
        relayed.content()
    );
    assert!(!bot.fake.requests()[since..]
        .iter()
        .any(|r| r.content().contains("internal")));

    // Resolve: the bot answers carol again.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SALES_CHANNEL,
            1,
            "pb:resolve:1",
            &agent,
            Some(GUILD_ID),
            None,
        )
        .await;
    bot.callback(since, click).await;
    assert_eq!(
        bot.pipeline.store().ticket(1).unwrap().unwrap().status,
        TicketStatus::Resolved
    );
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &carol,
            "I can't log in to my account",
            Some(GUILD_ID),
        )
        .await;
    bot.reply_to(since, SUPPORT, id).await;
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
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored[1].route.kind, "ticket");
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
    assert_eq!(burst.len(), 1000, "every burst message answered");
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

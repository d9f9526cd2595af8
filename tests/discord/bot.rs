//! The bot under test (the real serenity client against the fake Discord) and what the tests
//! share: the guild's channels and roles, waits for replies, and payload checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use personabot::catalog::settings::Settings;
use personabot::channels::discord::{self, DiscordHandle};
use personabot::engine::pipeline::Pipeline;
use personabot::engine::AppState;
use personabot::store::{InteractionFilter, Store};

use crate::fake_discord::{FakeDiscord, Request, User, GUILD_ID};
use crate::support;

pub(crate) const T: Duration = Duration::from_secs(30);
/// No new reply for this long means the bot stopped answering (a busy machine is only slower).
pub(crate) const STALLED: Duration = Duration::from_secs(60);
/// How long "the bot stays silent" is watched for.
pub(crate) const QUIET: Duration = Duration::from_millis(700);

pub(crate) const SUPPORT: u64 = 2001;
pub(crate) const SALES_CHANNEL: u64 = 4001;
pub(crate) const SUPPORT_TEAM_CHANNEL: u64 = 4002;
pub(crate) const BILLING_CHANNEL: u64 = 4003;
pub(crate) const SECURITY_CHANNEL: u64 = 4004;
pub(crate) const SALES_ROLE: u64 = 5001;
pub(crate) const SUPPORT_ROLE: u64 = 5002;
pub(crate) const DM: u64 = 6001;

pub(crate) struct Bot {
    pub(crate) fake: FakeDiscord,
    pub(crate) handle: Option<DiscordHandle>,
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) state: AppState,
    _dir: tempfile::TempDir,
}

impl Bot {
    pub(crate) async fn start() -> Bot {
        Self::start_with(&[]).await
    }

    pub(crate) async fn start_with(extra_env: &[(&str, &str)]) -> Bot {
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

    pub(crate) fn mark(&self) -> usize {
        self.fake.requests().len()
    }

    /// The bot's reply to message `id` in `channel`.
    pub(crate) async fn reply_to(&self, since: usize, channel: u64, id: u64) -> Request {
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
    pub(crate) async fn posted_in(&self, since: usize, channel: u64) -> Request {
        let path = format!("/channels/{channel}/messages");
        self.fake
            .wait_request(since, T, |r| r.is("POST", &path) && r.status < 300)
            .await
    }

    /// The response to interaction `id`.
    pub(crate) async fn callback(&self, since: usize, id: u64) -> Request {
        let prefix = format!("/interactions/{id}/");
        self.fake
            .wait_request(since, T, |r| {
                r.method == "POST" && r.api_path().starts_with(&prefix)
            })
            .await
    }

    /// Asserts that nothing is posted to `channel` for a while.
    pub(crate) async fn assert_silent(&self, since: usize, channel: u64) {
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
    pub(crate) async fn delivery(&self, n: usize) -> personabot::store::Delivery {
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
    pub(crate) fn metrics(&self) -> String {
        self.state.metrics.render(
            &Default::default(),
            self.pipeline.store().commit_stats(),
            &self.state.reload.get(),
        )
    }

    pub(crate) async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }
}

pub(crate) fn customer(id: u64, name: &str) -> User {
    User::new(id, name)
}

pub(crate) fn buttons(body: &Value) -> Vec<(String, String)> {
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

pub(crate) fn assert_pings_nobody(body: &Value) {
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

/// Opens a sales ticket for `who` by asking for a person; returns (ticket message request).
pub(crate) async fn open_sales_ticket(bot: &Bot, who: &User) -> Request {
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

/// The thread of ticket `id`, once the bot has stored its link (the thread is opened after the
/// ticket's post).
pub(crate) async fn ticket_thread(bot: &Bot, id: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let link = bot
            .pipeline
            .store()
            .link(&format!("discord:ticket:{id}"))
            .unwrap();
        let thread = link
            .as_deref()
            .and_then(|l| l.split('/').nth(2)?.parse().ok());
        match thread {
            Some(thread) => return thread,
            None if std::time::Instant::now() > deadline => panic!("no thread: {link:?}"),
            None => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

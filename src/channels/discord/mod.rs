//! The Discord channel (serenity): customers write in support channels or DMs and get answers in
//! Discord markdown with "That helped" / "Talk to a human" buttons (as the turn's actions say),
//! and clarifying questions with their options as buttons; tickets go to each team's channel
//! as a message with Claim, Resolve and Relabel controls and a thread; agents' thread messages
//! reach the customer.
//!
//! This folder is the only place that imports serenity. Deciding code lives in the pipeline.
//! This file is the adapter (the client and its start and shutdown, the gateway handler,
//! customers' messages and agents' thread messages); `interactions.rs` handles slash commands
//! and button presses, `tickets.rs` the ticket posts and threads; the pure helpers
//! (conversation keys, custom ids, mention neutralising, ticket rendering) are in `wire.rs`,
//! tested there, and the whole adapter runs against a fake Discord in `tests/discord/`.

mod interactions;
mod rating;
mod tickets;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serenity::all::{
    ChannelId, ClientBuilder, Command, Context, CreateMessage, EventHandler, GatewayIntents,
    GuildId, HttpBuilder, Interaction, Message, Ready, RoleId, ShardManager,
};
use serenity::async_trait;
use serenity::http::Http;

use super::{kit, markdown};
use crate::catalog::settings::DiscordSettings;
use crate::channels::dedupe::RecentIds;
use crate::engine::pipeline::{Inbound, Mode, Outcome, PipelineError};
use crate::engine::supervise::spawn_subscribed;
use crate::engine::{Admission, AppState};
use interactions::{on_command, on_component};
use tickets::ticket_events;
use wire::{answer_buttons, link_key_thread, no_pings, slash_commands, MAX_CONTENT};

pub use wire::{
    conversation_key, delivery_channel, failure, fit, neutralise, render_ticket, Control,
};

/// The channel name recorded with each interaction.
pub const CHANNEL: &str = "discord";

/// Message ids remembered to drop duplicates (e.g. a dispatch replayed after a resume).
const SEEN_IDS: usize = 10_000;
/// How long [`DiscordHandle::shutdown`] waits for messages and interactions in flight.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

/// The button labels: a contract with deployments and their docs.
pub use super::kit::{HELPED_LABEL, HUMAN_LABEL};

/// Errors starting the Discord channel.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("no Discord token: set PERSONABOT__DISCORD__TOKEN or DISCORD_TOKEN")]
    NoToken,
    #[error("Discord client: {0}")]
    Client(#[from] serenity::Error),
}

// ----------------------------------------------------------------------------------------------
// The adapter
// ----------------------------------------------------------------------------------------------

struct Shared {
    /// The runtime every channel hands its messages to: the pipeline (and the current rules,
    /// whose teams name each team's Discord channel and agent role), the flood limit, the
    /// metrics, the in-flight bound and the handlers shutdown waits for.
    state: AppState,
    settings: DiscordSettings,
    seen: Mutex<RecentIds<u64>>,
    /// Parent channel of guild channels seen (None: not a thread), to recognise customer
    /// threads under support channels.
    parents: Mutex<HashMap<u64, Option<u64>>>,
}

struct Handler {
    shared: Arc<Shared>,
}

/// A running Discord client; [`shutdown`](DiscordHandle::shutdown) closes the gateway cleanly.
pub struct DiscordHandle {
    shard_manager: Arc<ShardManager>,
    shared: Arc<Shared>,
    client_task: tokio::task::JoinHandle<()>,
    events_task: tokio::task::JoinHandle<()>,
}

impl DiscordHandle {
    /// Closes the gateway (no new events), lets the messages and interactions in flight be
    /// answered (bounded by [`IN_FLIGHT_WAIT`]), and stops the tasks.
    pub async fn shutdown(self) {
        self.shard_manager.shutdown_all().await;
        // A pause first: handlers of the last events may be spawned but not yet counted.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let running = self.shared.state.handlers.wait_idle(IN_FLIGHT_WAIT).await;
        if running > 0 {
            tracing::warn!(
                running,
                "Discord handlers still running at shutdown; stopping anyway"
            );
        }
        self.events_task.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client_task).await;
    }
}

/// Discord in the list of channels: on when its token is set.
pub struct DiscordChannel;

impl super::Channel for DiscordChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn start(
        &self,
        state: AppState,
    ) -> super::BoxFuture<Result<super::Running, super::StartError>> {
        Box::pin(async move {
            if state.settings.discord.token.is_none() {
                eprintln!(
                    "personabot: Discord is off: set PERSONABOT__DISCORD__TOKEN (or DISCORD_TOKEN) to connect"
                );
                return Ok(super::Running::default());
            }
            let handle = start(&state).await.map_err(|e| super::StartError {
                channel: CHANNEL,
                message: e.to_string(),
            })?;
            eprintln!("personabot: Discord channel on");
            Ok(super::Running {
                tasks: Vec::new(),
                stop: Some(Box::pin(handle.shutdown())),
            })
        })
    }
}

/// Connects to Discord and starts handling messages, interactions and ticket events; messages
/// go through `state` like every other channel's.
pub async fn start(state: &AppState) -> Result<DiscordHandle, DiscordError> {
    let settings = &state.settings.discord;
    let token = settings.token.clone().ok_or(DiscordError::NoToken)?;
    let mut http = HttpBuilder::new(&token);
    if let Some(base) = settings.api_base.as_deref().filter(|b| !b.is_empty()) {
        // serenity's rate limiter builds its own request URLs and ignores the proxy (it would
        // talk to discord.com directly), so with a base URL the limiter is off: the proxy (e.g.
        // twilight-http-proxy) does the rate limiting, and 429s are retried here.
        http = http
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    let http = http.build();
    let intents = GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT;
    let shared = Arc::new(Shared {
        state: state.clone(),
        settings: settings.clone(),
        seen: Mutex::new(RecentIds::new(SEEN_IDS)),
        parents: Mutex::new(HashMap::new()),
    });
    let events = state.pipeline.subscribe();
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(Handler {
            shared: shared.clone(),
        })
        .await?;
    let http = client.http.clone();
    let shard_manager = client.shard_manager.clone();
    // Validated with the settings: an invalid range never gets here.
    let shards = settings
        .shards
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| crate::catalog::settings::ShardRange::parse(s).ok());
    let client_task = tokio::spawn(async move {
        let started = match shards {
            // serenity's range end is inclusive (it starts `end - start + 1` shards).
            Some(r) => client.start_shard_range(r.first..r.last, r.total).await,
            None => client.start().await,
        };
        if let Err(e) = started {
            tracing::error!(error = %e, "Discord client stopped");
        }
    });
    let (relay, pipeline) = (shared.clone(), state.pipeline.clone());
    let events_task = spawn_subscribed("discord ticket events", pipeline, events, move |events| {
        ticket_events(http.clone(), relay.clone(), events)
    });
    Ok(DiscordHandle {
        shard_manager,
        shared,
        client_task,
        events_task,
    })
}

/// Sends a message, retrying as [`failure`] says. Returns the message or the last error, and
/// the attempts made.
async fn send(
    http: &Http,
    channel: ChannelId,
    message: CreateMessage,
) -> (Result<Message, String>, u32) {
    kit::with_retries("Discord send", || {
        let message = message.clone();
        async move {
            channel
                .send_message(http, message)
                .await
                .map_err(|e| (failure(&e), kit::without_long_ids(&e.to_string())))
        }
    })
    .await
}

/// Runs blocking pipeline work (sled) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(error = %e, "pipeline task failed");
            None
        }
    }
}

impl Shared {
    /// Is `user` (with `roles`) an agent of `team`? Read from the current rules, so a reloaded
    /// `discord_role` applies at once.
    fn is_agent(&self, team: &str, roles: &[RoleId]) -> bool {
        self.state
            .pipeline
            .catalog()
            .teams
            .get(team)
            .and_then(|t| t.discord_role)
            .is_some_and(|role| roles.iter().any(|r| r.get() == role))
    }

    /// Whether `channel` is a thread whose parent is a support channel (looked up once).
    async fn is_support_thread(&self, http: &Http, channel: ChannelId) -> bool {
        let known = self
            .parents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&channel.get())
            .copied();
        let parent = match known {
            Some(parent) => parent,
            None => {
                let parent = match channel.to_channel(http).await {
                    Ok(serenity::all::Channel::Guild(c)) => c.parent_id.map(|p| p.get()),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(
                            error = %kit::without_long_ids(&e.to_string()),
                            "channel lookup failed"
                        );
                        return false; // not cached: asked again next time
                    }
                };
                let mut parents = self.parents.lock().unwrap_or_else(|p| p.into_inner());
                if parents.len() > SEEN_IDS {
                    parents.clear();
                }
                parents.insert(channel.get(), parent);
                parent
            }
        };
        parent.is_some_and(|p| self.settings.support_channels.contains(&p))
    }

    fn ticket_of_thread(&self, thread: u64) -> Option<u64> {
        self.state
            .pipeline
            .store()
            .link(&link_key_thread(thread))
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord connected");
        let commands = slash_commands(&self.shared.state.pipeline.catalog());
        let result = match self.shared.settings.guild_id.and_then(wire::id::<GuildId>) {
            Some(guild) => guild.set_commands(&ctx.http, commands).await.map(|_| ()),
            None => Command::set_global_commands(&ctx.http, commands)
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "registering slash commands failed");
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        let _in_flight = self.shared.state.handlers.enter();
        if msg.author.bot || msg.webhook_id.is_some() {
            return; // other bots, webhooks and ourselves
        }
        if !self
            .shared
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first(msg.id.get())
        {
            return;
        }
        let s = &self.shared;
        if let (Some(want), Some(got)) = (s.settings.guild_id, msg.guild_id) {
            if want != got.get() {
                return;
            }
        }
        // An agent writing in a ticket thread: relay to the customer.
        if let Some(ticket) = msg.guild_id.and(s.ticket_of_thread(msg.channel_id.get())) {
            relay_agent_message(s.clone(), &msg, ticket).await;
            return;
        }
        let shared_channel = match msg.guild_id {
            None if s.settings.dms => false,
            None => return,
            Some(_) if s.settings.support_channels.contains(&msg.channel_id.get()) => true,
            // A thread under a support channel is one conversation.
            Some(_) if s.is_support_thread(&ctx.http, msg.channel_id).await => false,
            Some(_) => return,
        };
        let user = msg.author.id.get();
        match s.state.admit(CHANNEL, &user.to_string()) {
            Admission::Allow => {}
            Admission::Drop => return,
            Admission::Notify(notice) => {
                let reply = CreateMessage::new()
                    .content(notice)
                    .reference_message(&msg)
                    .allowed_mentions(no_pings());
                let _ = send(&ctx.http, msg.channel_id, reply).await;
                return;
            }
        }
        let inbound = Inbound {
            channel: CHANNEL.into(),
            conversation: conversation_key(msg.channel_id.get(), user, shared_channel),
            user: user.to_string(),
            text: msg.content.clone(),
        };
        let result = s.state.handle(inbound, Mode::Route).await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                if let PipelineError::Store(inner) = &e {
                    tracing::error!(error = %inner, "Discord message failed");
                }
                let reply = CreateMessage::new()
                    .content(e.user_message())
                    .reference_message(&msg)
                    .allowed_mentions(no_pings());
                let _ = send(&ctx.http, msg.channel_id, reply).await;
                return;
            }
        };
        deliver(
            s.clone(),
            &ctx.http,
            msg.channel_id,
            Some(&msg),
            user,
            &outcome,
        )
        .await;
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let _in_flight = self.shared.state.handlers.enter();
        match interaction {
            Interaction::Command(c) => on_command(self.shared.clone(), &ctx, &c).await,
            Interaction::Component(c) => on_component(self.shared.clone(), &ctx, &c).await,
            Interaction::Modal(m) => rating::on_modal(&self.shared, &ctx, &m).await,
            _ => {}
        }
    }
}

/// Sends the pipeline's reply in Discord markdown, with the customer's buttons (the turn's
/// actions, a clarifying question's options), and records whether it arrived.
async fn deliver(
    s: Arc<Shared>,
    http: &Http,
    channel: ChannelId,
    reply_to: Option<&Message>,
    user: u64,
    outcome: &Outcome,
) {
    let Some(text) = &outcome.reply else {
        return; // an agent owns the conversation
    };
    let mut message = CreateMessage::new()
        .content(fit(&markdown::discord(text), MAX_CONTENT))
        .allowed_mentions(no_pings());
    if let Some(m) = reply_to {
        message = message.reference_message(m);
    }
    let buttons = kit::Buttons::of(outcome);
    if !buttons.is_empty() {
        message = message.components(answer_buttons(user, &buttons));
    }
    let (result, attempts) = send(http, channel, message).await;
    if let Some(id) = outcome.interaction {
        let pipeline = s.state.pipeline.clone();
        blocking(move || pipeline.record_delivery(id, &result, attempts)).await;
    }
}

/// A message in a ticket thread: an agent's reply to the customer, or with `/note TEXT` an
/// internal note kept on the ticket (never sent to the customer); `//` chatter is neither.
async fn relay_agent_message(s: Arc<Shared>, msg: &Message, ticket: u64) {
    use crate::channels::thread_note::{thread_message, ThreadMessage};
    let (text, note) = match thread_message(&msg.content) {
        ThreadMessage::Ignore => return,
        ThreadMessage::Note(text) => (text, true),
        ThreadMessage::Reply(text) => (text, false),
    };
    let roles: Vec<RoleId> = msg
        .member
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let pipeline = s.state.pipeline.clone();
    let Some(Ok(Some(t))) = blocking(move || pipeline.store().ticket(ticket)).await else {
        return;
    };
    if !s.is_agent(&t.team, &roles) {
        return; // not a member of the team: a note, not a reply
    }
    let agent = msg.author.name.clone();
    let text = text.to_string();
    let pipeline = s.state.pipeline.clone();
    if note {
        if let Some(Err(e)) = blocking(move || pipeline.note(ticket, &agent, &text, CHANNEL)).await
        {
            tracing::error!(error = %e, ticket, "agent note failed");
        }
        return;
    }
    if let Some(Err(e)) = blocking(move || pipeline.agent_reply(ticket, &agent, &text)).await {
        tracing::error!(error = %e, ticket, "agent reply failed");
    }
}

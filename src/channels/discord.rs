//! The Discord channel (serenity): customers write in support channels or DMs and get answers with
//! "That helped" / "Talk to a human" buttons; tickets go to each team's channel as a message with
//! Claim, Resolve and Relabel controls and a thread; agents' thread messages reach the customer.
//!
//! This is the only module that imports serenity. Deciding code lives in the pipeline; the pure
//! helpers here (conversation keys, custom ids, mention neutralising, ticket rendering) are tested
//! below, and the whole adapter runs against a fake Discord in `tests/discord.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serenity::all::{
    ButtonStyle, ChannelId, ClientBuilder, Command, CommandDataOptionValue, CommandInteraction,
    CommandOptionType, ComponentInteraction, ComponentInteractionDataKind, Context,
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, CreateSelectMenu,
    CreateSelectMenuKind, CreateSelectMenuOption, CreateThread, EditMessage, EventHandler,
    GatewayIntents, GuildId, HttpBuilder, Interaction, Message, MessageId, Ready, RoleId,
    ShardManager,
};
use serenity::async_trait;
use serenity::http::{Http, HttpError};

use super::kit::{self, Failure};
use crate::catalog::settings::DiscordSettings;
use crate::catalog::Catalog;
use crate::channels::dedupe::RecentIds;
use crate::engine::pipeline::{Inbound, Mode, Outcome, PipelineError, PipelineEvent};
use crate::engine::{Admission, AppState};
use crate::store::{Ticket, TicketStatus};

/// The channel name recorded with each interaction.
pub const CHANNEL: &str = "discord";

/// Discord's message length limit, in characters.
const MAX_CONTENT: usize = 2000;
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
// Pure helpers
// ----------------------------------------------------------------------------------------------

/// The conversation a message belongs to: a DM channel or a thread is one conversation; in a
/// shared support channel, each customer has their own.
pub fn conversation_key(channel: u64, author: u64, shared_channel: bool) -> String {
    if shared_channel {
        format!("{channel}/{author}")
    } else {
        channel.to_string()
    }
}

/// The channel a conversation's replies go to.
pub fn delivery_channel(conversation: &str) -> Option<u64> {
    conversation.split('/').next()?.parse().ok()
}

/// A button or select menu the bot made, decoded from its custom id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// "That helped", for the customer `user`.
    Helped {
        user: u64,
    },
    /// "Talk to a human", for the customer `user`.
    Human {
        user: u64,
    },
    Claim {
        ticket: u64,
    },
    Resolve {
        ticket: u64,
    },
    RelabelIntent {
        ticket: u64,
    },
    RelabelPersona {
        ticket: u64,
    },
}

impl Control {
    pub fn custom_id(&self) -> String {
        match self {
            Control::Helped { user } => format!("pb:helped:{user}"),
            Control::Human { user } => format!("pb:human:{user}"),
            Control::Claim { ticket } => format!("pb:claim:{ticket}"),
            Control::Resolve { ticket } => format!("pb:resolve:{ticket}"),
            Control::RelabelIntent { ticket } => format!("pb:relabel-intent:{ticket}"),
            Control::RelabelPersona { ticket } => format!("pb:relabel-persona:{ticket}"),
        }
    }

    pub fn parse(custom_id: &str) -> Option<Control> {
        let mut parts = custom_id.split(':');
        if parts.next()? != "pb" {
            return None;
        }
        let action = parts.next()?;
        let n: u64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(match action {
            "helped" => Control::Helped { user: n },
            "human" => Control::Human { user: n },
            "claim" => Control::Claim { ticket: n },
            "resolve" => Control::Resolve { ticket: n },
            "relabel-intent" => Control::RelabelIntent { ticket: n },
            "relabel-persona" => Control::RelabelPersona { ticket: n },
            _ => return None,
        })
    }
}

/// Makes echoed text inert: `@everyone`, `@here`, user/role/channel mentions and masked links
/// no longer work (a zero-width space breaks them; the text still reads the same), and
/// bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), which could make an
/// agent read the text in a spoofed order, are dropped.
pub fn neutralise(text: &str) -> String {
    const ZWSP: char = '\u{200B}';
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let lower = rest.get(..9).map(str::to_ascii_lowercase);
        if c == '@'
            && (lower.as_deref() == Some("@everyone")
                || rest.get(..5).map(str::to_ascii_lowercase).as_deref() == Some("@here"))
        {
            out.push('@');
            out.push(ZWSP);
        } else if rest.starts_with("<@") || rest.starts_with("<#") {
            out.push('<');
            out.push(ZWSP);
        } else if rest.starts_with("](") {
            out.push(']');
            out.push(ZWSP);
        } else if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            // dropped
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Cuts text to Discord's limit, on a character boundary, marking the cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The ticket message posted in the team's channel: who, what, why, evidence and transcript.
pub fn render_ticket(catalog: &Catalog, t: &Ticket) -> String {
    let scored = |s: &Option<crate::store::ScoredId>| {
        s.as_ref().map_or("unknown".to_string(), |s| {
            format!("{} ({:.2})", s.id, s.confidence)
        })
    };
    let status = match (&t.status, &t.claimed_by, &t.resolved_by) {
        (TicketStatus::Resolved, _, Some(by)) => format!("resolved by {}", neutralise(by)),
        (TicketStatus::Claimed, Some(by), _) => format!("claimed by {}", neutralise(by)),
        (status, ..) => status.as_str().to_string(),
    };
    let mut head = format!(
        "**Ticket #{}** for {} · {status}\nPersona: {} · Intent: {}\nWhy: {}\nFrom: {} conversation `{}`",
        t.id,
        catalog.team_name(&t.team),
        scored(&t.persona),
        scored(&t.intent),
        neutralise(&t.reason),
        // Both come from the customer's side (the HTTP API takes any channel and conversation
        // id), so they are echoed text like the rest.
        neutralise(&t.channel),
        neutralise(&t.conversation)
    );
    let evidence: Vec<String> = t
        .evidence
        .iter()
        .filter(|e| !e.target.starts_with("exclude:"))
        .take(12)
        .map(|e| {
            format!(
                "\"{}\" → {} ({:+.1})",
                neutralise(&e.term),
                e.target,
                e.weight
            )
        })
        .collect();
    if !evidence.is_empty() {
        head.push_str(&format!("\nEvidence: {}", evidence.join(", ")));
    }
    for l in &t.relabels {
        head.push_str(&format!(
            "\nRelabelled by {}: intent {} · persona {}",
            neutralise(&l.by),
            l.intent.as_deref().unwrap_or("-"),
            l.persona.as_deref().unwrap_or("-")
        ));
    }
    // The most recent transcript lines that fit.
    let mut lines: Vec<String> = Vec::new();
    let mut budget = MAX_CONTENT.saturating_sub(head.chars().count() + 20);
    for line in t.transcript.iter().rev() {
        let who = match &line.from {
            crate::store::Actor::Customer => "customer".to_string(),
            crate::store::Actor::Bot => "bot".to_string(),
            crate::store::Actor::Agent(a) => format!("agent {}", neutralise(a)),
        };
        let text = fit(&neutralise(&line.text).replace('\n', " "), 300);
        let rendered = format!("> **{who}:** {text}");
        let cost = rendered.chars().count() + 1;
        if cost > budget {
            break;
        }
        budget -= cost;
        lines.push(rendered);
    }
    lines.reverse();
    let mut out = head;
    if !lines.is_empty() {
        out.push_str("\nTranscript:\n");
        out.push_str(&lines.join("\n"));
    }
    fit(&out, MAX_CONTENT)
}

/// The agent controls under a ticket message (none once resolved).
fn ticket_components(catalog: &Catalog, t: &Ticket) -> Vec<CreateActionRow> {
    if t.status == TicketStatus::Resolved {
        return Vec::new();
    }
    let buttons = vec![
        CreateButton::new(Control::Claim { ticket: t.id }.custom_id())
            .label("Claim")
            .style(ButtonStyle::Primary)
            .disabled(t.status == TicketStatus::Claimed),
        CreateButton::new(Control::Resolve { ticket: t.id }.custom_id())
            .label("Resolve")
            .style(ButtonStyle::Success),
    ];
    let intents = catalog
        .intents
        .iter()
        .take(25)
        .map(|i| CreateSelectMenuOption::new(fit(&i.name, 100), i.id.clone()))
        .collect();
    let personas = catalog
        .personas
        .iter()
        .take(25)
        .map(|p| CreateSelectMenuOption::new(fit(&p.name, 100), p.id.clone()))
        .collect();
    vec![
        CreateActionRow::Buttons(buttons),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                Control::RelabelIntent { ticket: t.id }.custom_id(),
                CreateSelectMenuKind::String { options: intents },
            )
            .placeholder("Relabel intent"),
        ),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                Control::RelabelPersona { ticket: t.id }.custom_id(),
                CreateSelectMenuKind::String { options: personas },
            )
            .placeholder("Relabel persona"),
        ),
    ]
}

/// Mentions nobody: replies and ticket messages never ping anyone.
fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

/// The customer's two buttons under a self-help answer.
fn answer_buttons(user: u64) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(Control::Helped { user }.custom_id())
            .label(HELPED_LABEL)
            .style(ButtonStyle::Success),
        CreateButton::new(Control::Human { user }.custom_id())
            .label(HUMAN_LABEL)
            .style(ButtonStyle::Secondary),
    ])]
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
    let events_task = tokio::spawn(ticket_events(http, shared.clone(), events));
    Ok(DiscordHandle {
        shard_manager,
        shared,
        client_task,
        events_task,
    })
}

/// How a failed Discord call is retried ([`kit::retry_wait`]). serenity keeps no `Retry-After`
/// of a 429 it passes on (its own rate limiter, on unless a proxy base URL is set, honours
/// them before a request is sent; behind a proxy, the proxy does), so a 429 waits the policy's
/// default.
pub fn failure(e: &serenity::Error) -> Failure {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => match r.status_code.as_u16() {
            429 => Failure::RateLimited(None),
            s if s >= 500 => Failure::Server,
            _ => Failure::Final,
        },
        serenity::Error::Http(HttpError::Request(e)) if e.is_connect() => Failure::Unreachable,
        _ => Failure::Final,
    }
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
                .map_err(|e| (failure(&e), format!("channel {channel}: {e}")))
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

fn link_key_ticket(ticket: u64) -> String {
    format!("discord:ticket:{ticket}")
}

fn link_key_thread(thread: u64) -> String {
    format!("discord:thread:{thread}")
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
                        tracing::warn!(error = %e, channel = %channel, "channel lookup failed");
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
        let result = match self.shared.settings.guild_id {
            Some(guild) => GuildId::new(guild)
                .set_commands(&ctx.http, commands)
                .await
                .map(|_| ()),
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
            _ => {}
        }
    }
}

/// Sends the pipeline's reply (with the customer's buttons under a self-help answer) and records
/// whether it arrived.
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
        .content(fit(text, MAX_CONTENT))
        .allowed_mentions(no_pings());
    if let Some(m) = reply_to {
        message = message.reference_message(m);
    }
    if outcome.decision.offers_feedback() {
        message = message.components(answer_buttons(user));
    }
    let (result, attempts) = send(http, channel, message).await;
    if let Some(id) = outcome.interaction {
        let pipeline = s.state.pipeline.clone();
        blocking(move || pipeline.record_delivery(id, &result, attempts)).await;
    }
}

/// A message in a ticket thread: an agent's reply to the customer (unless it starts with `//`,
/// an internal note).
async fn relay_agent_message(s: Arc<Shared>, msg: &Message, ticket: u64) {
    let text = msg.content.trim();
    if text.is_empty() || text.starts_with("//") {
        return;
    }
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
    if let Some(Err(e)) = blocking(move || pipeline.agent_reply(ticket, &agent, &text)).await {
        tracing::error!(error = %e, ticket, "agent reply failed");
    }
}

fn option_str(c: &CommandInteraction, name: &str) -> Option<String> {
    c.data
        .options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.clone()),
            CommandDataOptionValue::Integer(i) => Some(i.to_string()),
            _ => None,
        })
}

/// A text reply to an interaction that pings nobody.
fn text_response(text: &str, ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(fit(text, MAX_CONTENT))
            .ephemeral(ephemeral)
            .allowed_mentions(no_pings()),
    )
}

async fn respond(ctx: &Context, c: &CommandInteraction, text: &str, ephemeral: bool) {
    if let Err(e) = c
        .create_response(&ctx.http, text_response(text, ephemeral))
        .await
    {
        tracing::error!(error = %e, "Discord interaction response failed");
    }
}

async fn respond_component(ctx: &Context, c: &ComponentInteraction, text: &str, ephemeral: bool) {
    if let Err(e) = c
        .create_response(&ctx.http, text_response(text, ephemeral))
        .await
    {
        tracing::error!(error = %e, "Discord interaction response failed");
    }
}

/// The slash commands: `/help`, `/ticket` for customers; `/claim`, `/resolve`, `/relabel` for
/// agents.
fn slash_commands(catalog: &Catalog) -> Vec<CreateCommand> {
    let ticket_option = || {
        CreateCommandOption::new(CommandOptionType::Integer, "ticket", "Ticket number")
            .required(true)
    };
    let mut intent =
        CreateCommandOption::new(CommandOptionType::String, "intent", "The right intent");
    for i in catalog.intents.iter().take(25) {
        intent = intent.add_string_choice(fit(&i.name, 100), i.id.clone());
    }
    let mut persona =
        CreateCommandOption::new(CommandOptionType::String, "persona", "The right persona");
    for p in catalog.personas.iter().take(25) {
        persona = persona.add_string_choice(fit(&p.name, 100), p.id.clone());
    }
    vec![
        CreateCommand::new("help")
            .description("Ask a question; the answer is shown only to you")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "question", "Your question")
                    .required(true),
            ),
        CreateCommand::new("ticket")
            .description("Go straight to a person on our team")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "summary",
                    "What you need help with",
                )
                .required(true),
            ),
        CreateCommand::new("claim")
            .description("Agents: claim a ticket")
            .add_option(ticket_option()),
        CreateCommand::new("resolve")
            .description("Agents: resolve a ticket")
            .add_option(ticket_option()),
        CreateCommand::new("relabel")
            .description("Agents: correct a ticket's intent and/or persona")
            .add_option(ticket_option())
            .add_option(intent)
            .add_option(persona),
    ]
}

/// The conversation of an interaction's user in its channel, the same as their messages there:
/// a DM or a support thread is one conversation; elsewhere in a guild, each user has their own.
async fn interaction_conversation(
    s: &Shared,
    http: &Http,
    channel: ChannelId,
    user: u64,
    in_guild: bool,
) -> String {
    let one_conversation = !in_guild
        || (!s.settings.support_channels.contains(&channel.get())
            && s.is_support_thread(http, channel).await);
    conversation_key(channel.get(), user, !one_conversation)
}

async fn on_command(s: Arc<Shared>, ctx: &Context, c: &CommandInteraction) {
    let user = c.user.id.get();
    let roles: Vec<RoleId> = c
        .member
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let name = c.data.name.as_str();
    match name {
        "help" | "ticket" => {
            let text = option_str(
                c,
                if name == "help" {
                    "question"
                } else {
                    "summary"
                },
            )
            .unwrap_or_default();
            let inbound = Inbound {
                channel: CHANNEL.into(),
                conversation: interaction_conversation(
                    &s,
                    &ctx.http,
                    c.channel_id,
                    user,
                    c.guild_id.is_some(),
                )
                .await,
                user: user.to_string(),
                text,
            };
            let mode = if name == "help" {
                Mode::Route
            } else {
                Mode::Ticket
            };
            let reply = match s.state.handle(inbound, mode).await {
                Ok(o) => o.reply.unwrap_or_else(|| {
                    "An agent has this conversation and will reply here.".into()
                }),
                Err(e) => e.user_message(),
            };
            respond(ctx, c, &reply, true).await;
        }
        "claim" | "resolve" | "relabel" => {
            let Some(ticket) = option_str(c, "ticket").and_then(|t| t.parse::<u64>().ok()) else {
                respond(ctx, c, "Which ticket? Give its number.", true).await;
                return;
            };
            let agent = c.user.name.clone();
            let intent = option_str(c, "intent");
            let persona = option_str(c, "persona");
            let action = match name {
                "claim" => AgentAction::Claim,
                "resolve" => AgentAction::Resolve,
                _ => AgentAction::Relabel { intent, persona },
            };
            let text = agent_action(&s, ticket, &roles, &agent, action).await;
            respond(ctx, c, &text, true).await;
        }
        _ => respond(ctx, c, "I don't know that command.", true).await,
    }
}

enum AgentAction {
    Claim,
    Resolve,
    Relabel {
        intent: Option<String>,
        persona: Option<String>,
    },
}

/// Runs an agent action if the user has the ticket team's role; returns the text to show them.
async fn agent_action(
    s: &Arc<Shared>,
    ticket: u64,
    roles: &[RoleId],
    agent: &str,
    action: AgentAction,
) -> String {
    let pipeline = s.state.pipeline.clone();
    let found = blocking(move || pipeline.store().ticket(ticket)).await;
    let t = match found {
        Some(Ok(Some(t))) => t,
        Some(Ok(None)) => return format!("There is no ticket #{ticket}."),
        _ => return "Sorry, something went wrong.".into(),
    };
    if !s.is_agent(&t.team, roles) {
        let team = s.state.pipeline.catalog().team_name(&t.team).to_string();
        return format!("Only members of the {team} team's role can work on ticket #{ticket}.");
    }
    let pipeline = s.state.pipeline.clone();
    let agent = agent.to_string();
    let result = blocking(move || match action {
        AgentAction::Claim => pipeline.claim(ticket, &agent).map(|_| format!("You claimed ticket #{ticket}; the bot stays quiet in that conversation until it is resolved.")),
        AgentAction::Resolve => pipeline.resolve(ticket, &agent).map(|_| format!("Ticket #{ticket} is resolved; the bot answers that conversation again.")),
        AgentAction::Relabel { intent, persona } => pipeline
            .relabel(ticket, intent.as_deref(), persona.as_deref(), &agent)
            .map(|_| {
                format!(
                    "Ticket #{ticket} relabelled (intent {}, persona {}); stored as ground truth.",
                    intent.as_deref().unwrap_or("unchanged"),
                    persona.as_deref().unwrap_or("unchanged")
                )
            }),
    })
    .await;
    match result {
        Some(Ok(text)) => text,
        Some(Err(e)) => e.user_message(),
        None => "Sorry, something went wrong.".into(),
    }
}

async fn on_component(s: Arc<Shared>, ctx: &Context, c: &ComponentInteraction) {
    let Some(control) = Control::parse(&c.data.custom_id) else {
        return;
    };
    let presser = c.user.id.get();
    let roles: Vec<RoleId> = c
        .member
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    match control {
        Control::Helped { user } | Control::Human { user } => {
            if user != presser {
                respond_component(ctx, c, "These buttons are for the person who asked.", true)
                    .await;
                return;
            }
            let helped = matches!(control, Control::Helped { .. });
            let conversation =
                interaction_conversation(&s, &ctx.http, c.channel_id, user, c.guild_id.is_some())
                    .await;
            let pipeline = s.state.pipeline.clone();
            let result = blocking(move || {
                pipeline.feedback(CHANNEL, &conversation, &user.to_string(), helped)
            })
            .await;
            match result {
                Some(Ok(outcome)) => {
                    // Replace the buttons with the outcome, in place.
                    let mut content = c.message.content.clone();
                    if let Some(reply) = &outcome.reply {
                        content = fit(&format!("{content}\n\n{reply}"), MAX_CONTENT);
                    }
                    let update = CreateInteractionResponseMessage::new()
                        .content(content)
                        .components(Vec::new())
                        .allowed_mentions(no_pings());
                    if let Err(e) = c
                        .create_response(
                            &ctx.http,
                            CreateInteractionResponse::UpdateMessage(update),
                        )
                        .await
                    {
                        tracing::error!(error = %e, "Discord button response failed");
                    }
                }
                Some(Err(e)) => respond_component(ctx, c, &e.user_message(), true).await,
                None => respond_component(ctx, c, "Sorry, something went wrong.", true).await,
            }
        }
        Control::Claim { ticket } | Control::Resolve { ticket } => {
            let action = if matches!(control, Control::Claim { .. }) {
                AgentAction::Claim
            } else {
                AgentAction::Resolve
            };
            let text = agent_action(&s, ticket, &roles, &c.user.name, action).await;
            respond_component(ctx, c, &text, true).await;
        }
        Control::RelabelIntent { ticket } | Control::RelabelPersona { ticket } => {
            let value = match &c.data.kind {
                ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
                _ => None,
            };
            let Some(value) = value else {
                respond_component(ctx, c, "Pick a value from the menu.", true).await;
                return;
            };
            let action = if matches!(control, Control::RelabelIntent { .. }) {
                AgentAction::Relabel {
                    intent: Some(value),
                    persona: None,
                }
            } else {
                AgentAction::Relabel {
                    intent: None,
                    persona: Some(value),
                }
            };
            let text = agent_action(&s, ticket, &roles, &c.user.name, action).await;
            respond_component(ctx, c, &text, true).await;
        }
    }
}

/// Posts tickets to team channels (with a thread), keeps their messages current, relays
/// customer messages into ticket threads and agent replies to Discord customers.
async fn ticket_events(
    http: Arc<Http>,
    s: Arc<Shared>,
    mut events: tokio::sync::broadcast::Receiver<PipelineEvent>,
) {
    while let Some(event) = crate::engine::pipeline::next_event(&mut events, CHANNEL).await {
        match event {
            PipelineEvent::TicketOpened(t) => post_ticket(&http, &s, &t).await,
            PipelineEvent::TicketUpdated(t) => update_ticket(&http, &s, &t).await,
            PipelineEvent::CustomerMessage { ticket, text } => {
                if let Some((_, _, Some(thread))) = ticket_link(&s, ticket).await {
                    let m = CreateMessage::new()
                        .content(fit(
                            &format!("**customer:** {}", neutralise(&text)),
                            MAX_CONTENT,
                        ))
                        .allowed_mentions(no_pings());
                    let _ = send(&http, ChannelId::new(thread), m).await;
                }
            }
            PipelineEvent::AgentReply {
                ticket,
                agent,
                text,
            } => {
                if ticket.channel != CHANNEL {
                    continue;
                }
                if let Some(channel) = delivery_channel(&ticket.conversation) {
                    let team = s
                        .state
                        .pipeline
                        .catalog()
                        .team_name(&ticket.team)
                        .to_string();
                    let m = CreateMessage::new()
                        .content(fit(
                            &format!("**{team} ({}):** {}", neutralise(&agent), neutralise(&text)),
                            MAX_CONTENT,
                        ))
                        .allowed_mentions(no_pings());
                    let (result, _) = send(&http, ChannelId::new(channel), m).await;
                    if let Err(e) = result {
                        tracing::error!(error = %e, ticket = ticket.id, "agent reply not delivered");
                    }
                }
            }
        }
    }
}

/// (team channel, ticket message, thread) of a posted ticket.
async fn ticket_link(s: &Arc<Shared>, ticket: u64) -> Option<(u64, u64, Option<u64>)> {
    let pipeline = s.state.pipeline.clone();
    let value = blocking(move || pipeline.store().link(&link_key_ticket(ticket)))
        .await?
        .ok()??;
    let mut parts = value.split('/');
    let channel = parts.next()?.parse().ok()?;
    let message = parts.next()?.parse().ok()?;
    let thread = parts.next().and_then(|t| t.parse().ok());
    Some((channel, message, thread))
}

async fn post_ticket(http: &Http, s: &Arc<Shared>, t: &Ticket) {
    let catalog = s.state.pipeline.catalog();
    let Some(channel) = catalog
        .teams
        .get(&t.team)
        .and_then(|team| team.discord_channel)
    else {
        return; // this team does not work from Discord
    };
    let message = CreateMessage::new()
        .content(render_ticket(&catalog, t))
        .components(ticket_components(&catalog, t))
        .allowed_mentions(no_pings());
    let (posted, _) = send(http, ChannelId::new(channel), message).await;
    let posted = match posted {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, ticket = t.id, team = %t.team, "posting the ticket failed");
            return;
        }
    };
    let name = fit(
        &format!(
            "Ticket #{} · {}",
            t.id,
            t.intent.as_ref().map_or("question", |i| i.id.as_str())
        ),
        100,
    );
    let thread = match ChannelId::new(channel)
        .create_thread_from_message(http, posted.id, CreateThread::new(name))
        .await
    {
        Ok(thread) => Some(thread.id.get()),
        Err(e) => {
            tracing::error!(error = %e, ticket = t.id, "creating the ticket thread failed");
            None
        }
    };
    let link = match thread {
        Some(th) => format!("{channel}/{}/{th}", posted.id.get()),
        None => format!("{channel}/{}", posted.id.get()),
    };
    let pipeline = s.state.pipeline.clone();
    let ticket = t.id;
    blocking(move || {
        let store = pipeline.store();
        let mut result = store.set_link(&link_key_ticket(ticket), &link);
        if let (Ok(()), Some(th)) = (&result, thread) {
            result = store.set_link(&link_key_thread(th), &ticket.to_string());
        }
        if let Err(e) = result {
            tracing::error!(error = %e, ticket, "saving the ticket link failed");
        }
    })
    .await;
}

async fn update_ticket(http: &Http, s: &Arc<Shared>, t: &Ticket) {
    let Some((channel, message, _)) = ticket_link(s, t.id).await else {
        return;
    };
    let catalog = s.state.pipeline.catalog();
    let edit = EditMessage::new()
        .content(render_ticket(&catalog, t))
        .components(ticket_components(&catalog, t))
        .allowed_mentions(no_pings());
    if let Err(e) = ChannelId::new(channel)
        .edit_message(http, MessageId::new(message), edit)
        .await
    {
        tracing::error!(error = %e, ticket = t.id, "updating the ticket message failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_round_trip() {
        let controls = [
            Control::Helped { user: 7 },
            Control::Human { user: 7 },
            Control::Claim { ticket: 12 },
            Control::Resolve { ticket: 12 },
            Control::RelabelIntent { ticket: 12 },
            Control::RelabelPersona { ticket: 12 },
        ];
        for c in controls {
            assert_eq!(Control::parse(&c.custom_id()), Some(c.clone()), "{c:?}");
            assert!(
                c.custom_id().len() <= 100,
                "Discord limits custom ids to 100 characters"
            );
        }
        for bad in [
            "",
            "pb",
            "pb:claim",
            "pb:claim:x",
            "pb:nope:1",
            "xx:claim:1",
            "pb:claim:1:2",
        ] {
            assert_eq!(Control::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn neutralise_table() {
        let cases = [
            ("hi @everyone", "hi @\u{200B}everyone"),
            ("@HERE now", "@\u{200B}HERE now"),
            (
                "ping <@123> and <@!456> and <@&789>",
                "ping <\u{200B}@123> and <\u{200B}@!456> and <\u{200B}@&789>",
            ),
            ("see <#42>", "see <\u{200B}#42>"),
            (
                "[click](https://evil.example)",
                "[click]\u{200B}(https://evil.example)",
            ),
            ("email a@b.com", "email a@b.com"),
            ("naïve @ café", "naïve @ café"),
            ("invoice_\u{202E}fdp.exe", "invoice_fdp.exe"),
            ("\u{2067}isolated\u{2069} text", "isolated text"),
        ];
        for (input, expected) in cases {
            assert_eq!(neutralise(input), expected, "{input:?}");
        }
    }

    #[test]
    fn a_ticket_cannot_mention_or_link_through_its_channel_or_conversation() {
        // Found by tests/properties.rs: a ticket opened over the HTTP API carries the caller's
        // `channel` and `conversation`, and both were shown raw on the team's ticket message.
        let ticket = Ticket {
            id: 1,
            team: "support".into(),
            status: TicketStatus::Open,
            created_ms: 0,
            updated_ms: 0,
            channel: "@everyone".into(),
            conversation: "c` <@&1> [x](https://evil.example) `".into(),
            user: "u".into(),
            persona: None,
            intent: None,
            evidence: Vec::new(),
            reason: "asked for a human".into(),
            interaction: 1,
            transcript: Vec::new(),
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
        };
        let text = render_ticket(&Catalog::default(), &ticket);
        assert!(
            text.contains("From: @\u{200B}everyone conversation `c` <\u{200B}@&1> [x]\u{200B}("),
            "{text}"
        );
        for active in ["@everyone", "<@", "]("] {
            assert!(!text.contains(active), "{active:?} in {text}");
        }
    }

    #[test]
    fn conversation_keys() {
        assert_eq!(conversation_key(10, 20, true), "10/20");
        assert_eq!(conversation_key(10, 20, false), "10");
        assert_eq!(delivery_channel("10/20"), Some(10));
        assert_eq!(delivery_channel("10"), Some(10));
        assert_eq!(delivery_channel("term-1"), None);
    }

    #[test]
    fn fit_cuts_on_characters() {
        assert_eq!(fit("héllo", 10), "héllo");
        assert_eq!(fit("héllo wörld", 5), "héll…");
        assert_eq!(
            fit(&"x".repeat(3000), MAX_CONTENT).chars().count(),
            MAX_CONTENT
        );
    }
}

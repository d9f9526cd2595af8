//! The Telegram channel (teloxide): customers write to the bot in a private chat, a group or a
//! forum topic and get the persona-tailored answer, with "That helped" / "Talk to a human"
//! buttons under self-help answers; agents' replies to Telegram tickets are delivered back to the
//! chat.
//!
//! Updates come by long polling (`getUpdates`) unless `telegram.webhook_secret` is set; then they
//! come to `POST /telegram/webhook`, which checks the `X-Telegram-Bot-Api-Secret-Token` header.
//! The operator registers the webhook once with `setWebhook` (the bot never changes it itself).
//!
//! This is the only module that imports teloxide; every Bot API call goes through its `Bot`. The
//! deciding parts (conversation keys, button data, which updates to handle, the secret check,
//! text cutting, what to retry) are pure functions tested below; the adapter runs against a fake
//! Bot API in `tests/telegram.rs`.

use crate::channels::dedupe::RecentIds;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, GetUpdatesSetters,
    SendMessageSetters,
};
use teloxide::requests::Requester;
use teloxide::types::{
    AllowedUpdate, CallbackQueryId, ChatId, InlineKeyboardButton, InlineKeyboardMarkup,
    MaybeInaccessibleMessage, Message, MessageId, ReplyParameters, ThreadId, Update, UpdateKind,
};
use teloxide::{ApiError as BotApiError, Bot, RequestError};
use tokio::task::JoinHandle;

use super::kit::{self, AgentReply, Failure, Ordered};
use crate::catalog::settings::TelegramSettings;
use crate::engine::pipeline::{Inbound, Mode, Outcome, PipelineError, PipelineEvent};
use crate::engine::{Admission, AppState};
use crate::http::ApiError;

/// The channel name recorded with each interaction.
pub const CHANNEL: &str = "telegram";

/// The button labels: a contract with deployments and their docs.
pub use super::kit::{HELPED_LABEL, HUMAN_LABEL};

/// The header Telegram puts the webhook's `secret_token` in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The webhook path.
pub const WEBHOOK_PATH: &str = "/telegram/webhook";

/// What the routes answer (404) when no token is set.
pub const OFF: &str = "the Telegram channel is off: set PERSONABOT__TELEGRAM__TOKEN";

/// Telegram's message length limit (in UTF-16 code units, which is how Telegram counts).
pub const MAX_TEXT: usize = 4096;
/// Longest text of a callback query answer (the small notification).
const MAX_NOTICE: usize = 200;

/// Long-polling timeout of `getUpdates`, in seconds.
const POLL_TIMEOUT_SECS: u32 = 25;
/// The HTTP client's timeout: longer than a long poll.
const HTTP_TIMEOUT: Duration = Duration::from_secs(POLL_TIMEOUT_SECS as u64 + 15);
/// Longest pause between failed `getUpdates` calls.
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(30);
/// Update ids remembered to drop duplicates (a webhook call Telegram retries).
const SEEN_UPDATES: usize = 10_000;

const BAD_TOKEN: &str = "Telegram refused the bot token: check PERSONABOT__TELEGRAM__TOKEN (and telegram.api_url, if set)";
const REFUSAL: &str = "These buttons are for the person who asked.";
const EXPIRED: &str = "This button has expired. Just type your question.";
const WELCOME: &str = "Hi! What can I help you with today? Ask in your own words; I'll answer here or pass you to the right person on our team.";

// ----------------------------------------------------------------------------------------------
// Pure helpers
// ----------------------------------------------------------------------------------------------

/// How updates arrive, from the settings; `None`: the channel is off (no token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Polling,
    Webhook,
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Polling without a webhook secret, the webhook with one, off without a token.
pub fn source(settings: &TelegramSettings) -> Option<Source> {
    set(&settings.token)?;
    Some(match set(&settings.webhook_secret) {
        Some(_) => Source::Webhook,
        None => Source::Polling,
    })
}

/// The conversation a message belongs to: the chat, or for a forum topic the chat and topic.
/// (In a group that is not a forum, `message_thread_id` marks reply chains, not topics.)
pub fn conversation_key(chat: i64, topic: Option<i32>) -> String {
    match topic {
        Some(t) => format!("{chat}/{t}"),
        None => chat.to_string(),
    }
}

/// The chat and topic a conversation's messages go to.
pub fn parse_conversation(key: &str) -> Option<(i64, Option<i32>)> {
    let mut parts = key.split('/');
    let chat = parts.next()?.parse().ok()?;
    let topic = match parts.next() {
        Some(t) => Some(t.parse().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((chat, topic))
}

/// A button under a self-help answer, for the customer `user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Helped { user: u64 },
    Human { user: u64 },
}

impl Button {
    /// The callback data (at most 64 bytes, Telegram's limit).
    pub fn data(&self) -> String {
        match self {
            Button::Helped { user } => format!("pb:helped:{user}"),
            Button::Human { user } => format!("pb:human:{user}"),
        }
    }

    pub fn parse(data: &str) -> Option<Button> {
        let mut parts = data.split(':');
        if parts.next()? != "pb" {
            return None;
        }
        let action = parts.next()?;
        let user: u64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        match action {
            "helped" => Some(Button::Helped { user }),
            "human" => Some(Button::Human { user }),
            _ => None,
        }
    }

    pub fn user(&self) -> u64 {
        match self {
            Button::Helped { user } | Button::Human { user } => *user,
        }
    }

    pub fn helped(&self) -> bool {
        matches!(self, Button::Helped { .. })
    }
}

/// The two buttons under a self-help answer.
pub fn answer_keyboard(user: u64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback(HELPED_LABEL, Button::Helped { user }.data()),
        InlineKeyboardButton::callback(HUMAN_LABEL, Button::Human { user }.data()),
    ]])
}

/// Whether the webhook call presented the secret (compared in constant time).
pub fn secret_matches(expected: &str, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    if a.is_empty() || a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Cuts text to `max` UTF-16 code units (Telegram's way of counting), on a character
/// boundary, marking the cut with an ellipsis.
pub fn fit(text: &str, max: usize) -> String {
    if text.encode_utf16().count() <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(1); // the ellipsis is one unit
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// `/start` (also `/start@BotName` and with a deep-link payload): the first thing every
/// Telegram user sends a bot.
pub fn is_start(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or("");
    first == "/start" || first.starts_with("/start@")
}

/// A customer's text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    pub chat: i64,
    /// The forum topic, if the message is in one.
    pub topic: Option<i32>,
    pub message: i32,
    pub user: u64,
    pub text: String,
    pub conversation: String,
}

/// A press on one of the bot's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Press {
    pub query: String,
    pub from: u64,
    pub data: Option<String>,
    /// (chat, topic, message) of the message carrying the button; `None` when Telegram did not
    /// include it (inline mode).
    pub on: Option<(i64, Option<i32>, i32)>,
}

impl Press {
    pub fn conversation(&self) -> Option<String> {
        self.on
            .map(|(chat, topic, _)| conversation_key(chat, topic))
    }
}

/// What to do with an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Text(TextMessage),
    Start(TextMessage),
    Press(Press),
    /// Not for the bot; the reason is for the debug log.
    Skip(&'static str),
}

fn topic_of(m: &Message) -> Option<i32> {
    m.thread_id.filter(|_| m.is_topic_message).map(|t| t.0 .0)
}

/// Decides what an update is: a customer's text, `/start`, a button press, or nothing to
/// handle (bots, messages on behalf of a chat, non-text messages, edits, channel posts...).
pub fn work_of(update: &Update) -> Work {
    match &update.kind {
        UpdateKind::Message(m) => {
            let Some(from) = &m.from else {
                return Work::Skip("message without a sender");
            };
            if from.is_bot {
                return Work::Skip("message from a bot");
            }
            if m.sender_chat.is_some() {
                return Work::Skip("message sent on behalf of a chat");
            }
            let Some(text) = m.text() else {
                return Work::Skip("not a text message");
            };
            let topic = topic_of(m);
            let t = TextMessage {
                chat: m.chat.id.0,
                topic,
                message: m.id.0,
                user: from.id.0,
                text: text.to_string(),
                conversation: conversation_key(m.chat.id.0, topic),
            };
            if is_start(text) {
                Work::Start(t)
            } else {
                Work::Text(t)
            }
        }
        UpdateKind::CallbackQuery(q) => {
            let on = q.message.as_ref().map(|m| match m {
                MaybeInaccessibleMessage::Regular(m) => (m.chat.id.0, topic_of(m), m.id.0),
                MaybeInaccessibleMessage::Inaccessible(m) => (m.chat.id.0, None, m.message_id.0),
            });
            Work::Press(Press {
                query: q.id.0.clone(),
                from: q.from.id.0,
                data: q.data.clone(),
                on,
            })
        }
        UpdateKind::EditedMessage(_) => Work::Skip("an edited message"),
        _ => Work::Skip("an update kind the bot does not handle"),
    }
}

/// Reads a webhook body, one Bot API `Update` as JSON: what `POST /telegram/webhook` accepts
/// after the secret check (then [`work_of`] decides what it is). Pure; the fuzz target
/// `telegram_update` runs both.
pub fn parse_update(body: &[u8]) -> Result<Update, serde_json::Error> {
    serde_json::from_slice(body)
}

/// The `getUpdates` offset after seeing update `id`.
pub fn next_offset(current: Option<i32>, id: u32) -> Option<i32> {
    let next = i32::try_from(u64::from(id) + 1).unwrap_or(i32::MAX);
    Some(current.map_or(next, |c| c.max(next)))
}

/// Pause before the next `getUpdates` after `errors` failures in a row: 1 s doubling, at most
/// 30 s.
pub fn poll_backoff(errors: u32) -> Duration {
    let secs = 1u64 << errors.saturating_sub(1).min(5);
    Duration::from_secs(secs).min(MAX_POLL_BACKOFF)
}

/// How a failed call is retried ([`kit::retry_wait`]). Flood control (429) waits what Telegram
/// asks; server errors (5xx) and a proxy's non-JSON error page back off; a connection that was
/// never made is retried. Anything else (bad request, blocked by the user, a timeout after
/// which the message may have arrived) is final.
pub fn failure(err: &RequestError) -> Failure {
    match err {
        RequestError::RetryAfter(s) => Failure::RateLimited(Some(s.duration())),
        RequestError::Api(BotApiError::Unknown(description)) => failure_of_description(description),
        RequestError::InvalidJson { raw, .. } if !raw.trim_start().starts_with('{') => {
            Failure::Server
        }
        RequestError::Network(e) if e.is_connect() => Failure::Unreachable,
        _ => Failure::Final,
    }
}

/// The failure of an error Telegram described only in words (teloxide keeps no status).
pub fn failure_of_description(description: &str) -> Failure {
    let lower = description.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("too many requests") {
        let secs = rest
            .rsplit(' ')
            .next()
            .and_then(|n| n.trim().parse::<u64>().ok());
        return Failure::RateLimited(secs.map(Duration::from_secs));
    }
    let server_error = [
        "internal server error",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
    ]
    .iter()
    .any(|s| lower.contains(s));
    match server_error {
        true => Failure::Server,
        false => Failure::Final,
    }
}

/// Why `getUpdates` keeps failing, when the operator has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollTrouble {
    /// A webhook is registered for the bot: Telegram refuses to poll.
    WebhookActive,
    /// Another process polls the same bot.
    OtherPoller,
    /// The token was refused (or `api_url` is not a Bot API).
    BadToken,
    /// Anything else (network, server errors): retried with backoff.
    Other,
}

/// Classifies a `getUpdates` failure. Telegram's texts carry more than teloxide matches
/// exactly (e.g. "Conflict: can't use getUpdates method while webhook is active; use
/// deleteWebhook to delete the webhook first"), so the words are checked too.
pub fn poll_trouble(err: &RequestError) -> PollTrouble {
    match err {
        RequestError::Api(BotApiError::CantGetUpdates) => PollTrouble::WebhookActive,
        RequestError::Api(BotApiError::TerminatedByOtherGetUpdates) => PollTrouble::OtherPoller,
        RequestError::Api(BotApiError::InvalidToken) => PollTrouble::BadToken,
        RequestError::Api(BotApiError::Unknown(text)) => {
            let lower = text.to_ascii_lowercase();
            if lower.contains("webhook is active") {
                PollTrouble::WebhookActive
            } else if lower.contains("terminated by other getupdates") {
                PollTrouble::OtherPoller
            } else if lower.starts_with("unauthorized") {
                PollTrouble::BadToken
            } else {
                PollTrouble::Other
            }
        }
        _ => PollTrouble::Other,
    }
}

/// Whether Telegram accepts `secret` as a webhook `secret_token`: 1-256 characters of
/// `A-Z`, `a-z`, `0-9`, `_` and `-`.
pub fn valid_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Removes the bot token from a text (the Bot API URL contains it).
pub fn without_token(text: &str, token: &str) -> String {
    let token = token.trim();
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "<token>")
    }
}

/// An error as logged and stored: never a URL, never the token.
fn describe(err: &RequestError, token: &str) -> String {
    let text = match err {
        RequestError::Network(e) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            let mut text = format!("network error: {kind}");
            let mut source = std::error::Error::source(e.as_ref());
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
        RequestError::InvalidJson { raw, .. } => format!(
            "the Bot API answered something that is not its JSON: {}",
            fit(raw, 200)
        ),
        other => other.to_string(),
    };
    without_token(&text, token)
}

// ----------------------------------------------------------------------------------------------
// The adapter
// ----------------------------------------------------------------------------------------------

/// The bot and the channel's bookkeeping, one per running source (the poller, or the webhook
/// route of one server).
struct Telegram {
    bot: Bot,
    /// Kept only to scrub it from error texts.
    token: String,
    seen: Mutex<RecentIds<u32>>,
    /// The last task of each conversation: work on one conversation runs in arrival order,
    /// different conversations run in parallel.
    chains: Arc<Ordered>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Telegram {
    fn new(settings: &TelegramSettings) -> Result<Telegram, String> {
        let token = set(&settings.token)
            .ok_or_else(|| OFF.to_string())?
            .to_string();
        let client = teloxide::net::default_reqwest_settings()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut bot = Bot::with_client(token.clone(), client);
        if let Some(url) = set(&settings.api_url) {
            let parsed = reqwest::Url::parse(url.trim_end_matches('/'))
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
                .ok_or_else(|| format!("`telegram.api_url` is not an http(s) URL: {url}"))?;
            bot = bot.set_api_url(parsed);
        }
        Ok(Telegram {
            bot,
            token,
            seen: Mutex::new(RecentIds::new(SEEN_UPDATES)),
            chains: Arc::default(),
        })
    }

    fn describe(&self, err: &RequestError) -> String {
        describe(err, &self.token)
    }

    /// True the first time update `id` is seen.
    fn first(&self, id: u32) -> bool {
        lock(&self.seen).first(id)
    }

    /// Runs `work` after everything queued before it for conversation `key`.
    fn in_order(&self, key: String, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.chains.in_order(key, work);
    }

    /// Sends a plain-text message (no parse mode: nothing in it is interpreted), cut to
    /// Telegram's limit, retrying flood control and server errors. Returns the sent message or
    /// the last error, and the attempts made.
    async fn send(
        &self,
        chat: i64,
        topic: Option<i32>,
        reply_to: Option<i32>,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> (Result<Message, String>, u32) {
        let text = fit(text, MAX_TEXT);
        kit::with_retries("Telegram sendMessage", || {
            let mut request = self.bot.send_message(ChatId(chat), text.clone());
            if let Some(t) = topic {
                request = request.message_thread_id(ThreadId(MessageId(t)));
            }
            if let Some(m) = reply_to {
                request = request.reply_parameters(
                    ReplyParameters::new(MessageId(m)).allow_sending_without_reply(),
                );
            }
            if let Some(k) = &keyboard {
                request = request.reply_markup(k.clone());
            }
            async move {
                request
                    .await
                    .map_err(|e| (failure(&e), format!("chat {chat}: {}", self.describe(&e))))
            }
        })
        .await
    }

    /// Answers a button press (stops the client's spinner), with an optional notice.
    async fn answer(&self, query: &str, text: Option<&str>) {
        let mut request = self
            .bot
            .answer_callback_query(CallbackQueryId(query.to_string()));
        if let Some(t) = text {
            request = request.text(fit(t, MAX_NOTICE));
        }
        if let Err(e) = request.await {
            tracing::warn!(error = %self.describe(&e), "Telegram answerCallbackQuery failed");
        }
    }

    /// Removes the buttons from a message.
    async fn remove_keyboard(&self, chat: i64, message: i32) {
        let result = self
            .bot
            .edit_message_reply_markup(ChatId(chat), MessageId(message))
            .reply_markup(InlineKeyboardMarkup::default())
            .await;
        match result {
            Ok(_) | Err(RequestError::Api(BotApiError::MessageNotModified)) => {}
            Err(e) => {
                tracing::warn!(error = %self.describe(&e), "Telegram editMessageReplyMarkup failed")
            }
        }
    }
}

/// Queues an update's work on its conversation.
fn dispatch(tg: &Arc<Telegram>, state: &AppState, update: Update) {
    if !tg.first(update.id.0) {
        tracing::debug!(update = update.id.0, "duplicate Telegram update dropped");
        return;
    }
    let work = work_of(&update);
    let key = match &work {
        Work::Text(m) | Work::Start(m) => m.conversation.clone(),
        Work::Press(p) => p.conversation().unwrap_or_default(),
        Work::Skip(why) => {
            tracing::debug!(update = update.id.0, why, "Telegram update skipped");
            return;
        }
    };
    let (tg2, state) = (tg.clone(), state.clone());
    // Counted from now: a shutdown waits for the update queued behind others too.
    let running = state.handlers.enter();
    tg.in_order(key, async move {
        let _running = running;
        match work {
            Work::Text(m) => on_text(&tg2, &state, m).await,
            Work::Start(m) => on_start(&tg2, &state, m).await,
            Work::Press(p) => on_press(&tg2, &state, p).await,
            Work::Skip(_) => {}
        }
    });
}

/// Counts a message against the flood limit; over it, the user gets one notice per window.
async fn allowed(tg: &Telegram, state: &AppState, m: &TextMessage) -> bool {
    let notice = match state.admit(CHANNEL, &m.user.to_string()) {
        Admission::Allow => return true,
        Admission::Notify(notice) => notice,
        Admission::Drop => return false,
    };
    let _ = tg
        .send(m.chat, m.topic, Some(m.message), &notice, None)
        .await;
    false
}

async fn on_start(tg: &Telegram, state: &AppState, m: TextMessage) {
    if allowed(tg, state, &m).await {
        let _ = tg
            .send(m.chat, m.topic, Some(m.message), WELCOME, None)
            .await;
    }
}

async fn on_text(tg: &Telegram, state: &AppState, m: TextMessage) {
    if !allowed(tg, state, &m).await {
        return;
    }
    let inbound = Inbound {
        channel: CHANNEL.into(),
        conversation: m.conversation.clone(),
        user: m.user.to_string(),
        text: m.text.clone(),
    };
    match state.handle(inbound, Mode::Route).await {
        Ok(outcome) => deliver(tg, state, &m, &outcome).await,
        Err(e) => {
            if let PipelineError::Store(inner) = &e {
                tracing::error!(error = %inner, "Telegram message failed");
            }
            let _ = tg
                .send(m.chat, m.topic, Some(m.message), &e.user_message(), None)
                .await;
        }
    }
}

/// Sends the pipeline's reply (with the customer's buttons under a self-help answer) and records
/// whether it arrived.
async fn deliver(tg: &Telegram, state: &AppState, m: &TextMessage, outcome: &Outcome) {
    let Some(text) = &outcome.reply else {
        return; // an agent owns the conversation
    };
    let keyboard = outcome
        .decision
        .offers_feedback()
        .then(|| answer_keyboard(m.user));
    let (result, attempts) = tg
        .send(m.chat, m.topic, Some(m.message), text, keyboard)
        .await;
    if let Err(e) = &result {
        tracing::error!(error = %e, attempts, "Telegram reply not delivered");
    }
    if let Some(id) = outcome.interaction {
        let _ = state
            .blocking(move |p| p.record_delivery(id, &result, attempts))
            .await;
    }
}

async fn on_press(tg: &Telegram, state: &AppState, p: Press) {
    let Some(button) = p.data.as_deref().and_then(Button::parse) else {
        tg.answer(&p.query, None).await; // not ours: just stop the spinner
        return;
    };
    if button.user() != p.from {
        tg.answer(&p.query, Some(REFUSAL)).await;
        return;
    }
    let (Some((chat, topic, message)), Some(conversation)) = (p.on, p.conversation()) else {
        tg.answer(&p.query, Some(EXPIRED)).await;
        return;
    };
    let (user, helped) = (button.user().to_string(), button.helped());
    let result = state
        .blocking(move |pl| pl.feedback(CHANNEL, &conversation, &user, helped))
        .await;
    match result {
        Ok(Ok(outcome)) => {
            tg.answer(&p.query, None).await;
            tg.remove_keyboard(chat, message).await;
            if let Some(reply) = &outcome.reply {
                let (sent, attempts) = tg.send(chat, topic, Some(message), reply, None).await;
                if let Err(e) = sent {
                    tracing::error!(error = %e, attempts, "Telegram feedback reply not delivered");
                }
            }
        }
        Ok(Err(PipelineError::Refused(why))) => {
            // e.g. pressed twice: the buttons are stale.
            tg.answer(&p.query, Some(&why)).await;
            tg.remove_keyboard(chat, message).await;
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Telegram feedback failed");
            tg.answer(&p.query, Some(&e.user_message())).await;
        }
        Err(_) => {
            tg.answer(&p.query, Some("Sorry, something went wrong."))
                .await
        }
    }
}

/// Delivers an agent's reply to a Telegram ticket as "Team (agent): text".
async fn deliver_agent_reply(tg: Arc<Telegram>, reply: AgentReply) {
    let Some((chat, topic)) = parse_conversation(&reply.ticket.conversation) else {
        tracing::warn!(
            ticket = reply.ticket.id,
            "Telegram ticket without a chat id"
        );
        return;
    };
    let body = format!("{} ({}): {}", reply.team, reply.agent, reply.text);
    let (sent, attempts) = tg.send(chat, topic, None, &body, None).await;
    if let Err(e) = sent {
        tracing::error!(error = %e, attempts, ticket = reply.ticket.id, "agent reply not delivered");
    }
}

/// Long polling: `getUpdates` with a 25 s timeout, acknowledging each batch through the next
/// call's offset, backing off (at most 30 s) on errors. Runs until its task is aborted.
async fn poll(tg: Arc<Telegram>, state: AppState) {
    let mut offset: Option<i32> = None;
    let mut errors: u32 = 0;
    loop {
        let mut request = tg
            .bot
            .get_updates()
            .timeout(POLL_TIMEOUT_SECS)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        if let Some(o) = offset {
            request = request.offset(o);
        }
        match request.await {
            Ok(updates) => {
                errors = 0;
                for update in updates {
                    offset = next_offset(offset, update.id.0);
                    dispatch(&tg, &state, update);
                }
            }
            Err(e) => {
                errors = errors.saturating_add(1);
                let wait = match &e {
                    RequestError::RetryAfter(s) => s.duration().min(MAX_POLL_BACKOFF * 4),
                    _ => poll_backoff(errors),
                };
                let error = tg.describe(&e);
                match poll_trouble(&e) {
                    PollTrouble::WebhookActive => tracing::error!(
                        error,
                        "Telegram refuses getUpdates because a webhook is registered for this \
                         bot: set PERSONABOT__TELEGRAM__WEBHOOK_SECRET to use the webhook, or \
                         remove it with the Bot API method deleteWebhook"
                    ),
                    PollTrouble::OtherPoller => tracing::error!(
                        error,
                        "another process is polling this Telegram bot; run only one"
                    ),
                    PollTrouble::BadToken => tracing::error!("{BAD_TOKEN}"),
                    PollTrouble::Other => {
                        tracing::warn!(error, attempt = errors, "Telegram getUpdates failed")
                    }
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Logs which bot the token belongs to (or that it was refused); in webhook mode, also whether
/// a webhook is registered (read-only: the bot never sets or deletes it).
async fn introduce(tg: &Telegram, source: Source) {
    match tg.bot.get_me().await {
        Ok(me) => tracing::info!(
            bot = me.username.as_deref().unwrap_or(""),
            mode = ?source,
            "Telegram channel on"
        ),
        Err(e) if poll_trouble(&e) == PollTrouble::BadToken => tracing::error!("{BAD_TOKEN}"),
        Err(e) => tracing::warn!(error = %tg.describe(&e), "Telegram getMe failed"),
    }
    if source != Source::Webhook {
        return;
    }
    match tg.bot.get_webhook_info().await {
        Ok(info) if info.url.is_none() => tracing::warn!(
            "no Telegram webhook is registered for this bot: register https://<your host>{WEBHOOK_PATH} \
             with setWebhook and secret_token (see README, Connect to Telegram)"
        ),
        Ok(info) => {
            if let Some(last) = info.last_error_message {
                tracing::warn!(error = %without_token(&last, &tg.token), "Telegram reports a webhook delivery error");
            }
        }
        Err(e) => tracing::warn!(error = %tg.describe(&e), "Telegram getWebhookInfo failed"),
    }
}

async fn run(
    tg: Arc<Telegram>,
    state: AppState,
    source: Source,
    events: tokio::sync::broadcast::Receiver<PipelineEvent>,
) {
    let relay = tg.clone();
    let replies = kit::relay_agent_replies(
        state.clone(),
        CHANNEL,
        tg.chains.clone(),
        events,
        move |reply| deliver_agent_reply(relay.clone(), reply),
    );
    match source {
        Source::Polling => {
            tokio::join!(introduce(&tg, source), replies, poll(tg.clone(), state));
        }
        Source::Webhook => {
            tokio::join!(introduce(&tg, source), replies);
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Routes and start
// ----------------------------------------------------------------------------------------------

type Cell = Arc<OnceLock<Result<Arc<Telegram>, String>>>;

fn json_error(status: StatusCode, message: &str) -> Response {
    ApiError::new(status, message).into_response()
}

/// `POST /telegram/webhook`: checks the secret header, answers 200 at once and handles the
/// update in the background (a repeated update id is dropped).
async fn webhook(cell: Cell, state: AppState, headers: HeaderMap, body: Bytes) -> Response {
    let settings = &state.settings.telegram;
    let Some(source) = source(settings) else {
        return json_error(StatusCode::NOT_FOUND, OFF);
    };
    let (Source::Webhook, Some(secret)) = (source, set(&settings.webhook_secret)) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "the Telegram webhook is off: set PERSONABOT__TELEGRAM__WEBHOOK_SECRET (without it, \
             updates come by long polling)",
        );
    };
    let presented = headers.get(SECRET_HEADER).and_then(|v| v.to_str().ok());
    if !secret_matches(secret, presented) {
        state.metrics.refused(WEBHOOK_PATH, 401);
        return json_error(
            StatusCode::UNAUTHORIZED,
            "a valid X-Telegram-Bot-Api-Secret-Token header is required",
        );
    }
    let update = match parse_update(&body) {
        Ok(u) => u,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("invalid Telegram update: {e}"),
            )
        }
    };
    let tg = match cell.get_or_init(|| Telegram::new(settings).map(Arc::new)) {
        Ok(tg) => tg.clone(),
        Err(e) => return ApiError::internal(format!("Telegram channel: {e}")).into_response(),
    };
    dispatch(&tg, &state, update);
    StatusCode::OK.into_response()
}

/// HTTP routes of this channel: the webhook.
pub fn routes() -> Router<AppState> {
    let cell: Cell = Arc::new(OnceLock::new());
    Router::new().route(
        WEBHOOK_PATH,
        post(
            move |State(state): State<AppState>, headers: HeaderMap, body: Bytes| {
                let cell = cell.clone();
                async move { webhook(cell, state, headers, body).await }
            },
        ),
    )
}

/// Starts the channel when its token is set: long polling (without a webhook secret) and the
/// delivery of agent replies. Says once why it stays off otherwise.
/// Telegram in the list of channels.
pub struct TelegramChannel;

impl super::Channel for TelegramChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn start(
        &self,
        state: AppState,
    ) -> super::BoxFuture<Result<super::Running, super::StartError>> {
        Box::pin(async move {
            Ok(super::Running {
                tasks: start(state).await.into_iter().collect(),
                stop: None,
            })
        })
    }
}

pub async fn start(state: AppState) -> Option<JoinHandle<()>> {
    let settings = &state.settings.telegram;
    let Some(source) = source(settings) else {
        eprintln!("personabot: Telegram is off: set PERSONABOT__TELEGRAM__TOKEN to turn it on");
        return None;
    };
    let tg = match Telegram::new(settings) {
        Ok(tg) => Arc::new(tg),
        Err(e) => {
            tracing::error!("Telegram is off: {e}");
            return None;
        }
    };
    if source == Source::Webhook {
        if !set(&settings.webhook_secret).is_some_and(valid_secret) {
            tracing::warn!(
                "PERSONABOT__TELEGRAM__WEBHOOK_SECRET should be 1-256 characters of A-Z, a-z, 0-9, _ and -: \
                 Telegram's setWebhook refuses other secret_token values"
            );
        }
        tracing::info!(
            "Telegram updates come by webhook at {WEBHOOK_PATH}; register it once with setWebhook (url and secret_token)"
        );
    }
    // Subscribed before returning, so no agent reply after `start` is missed.
    let events = state.pipeline.subscribe();
    Some(tokio::spawn(run(tg, state, source, events)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: serde_json::Value) -> Update {
        // From text, as the webhook and teloxide read it (teloxide's `UpdateKind` does not
        // deserialize from a `serde_json::Value`).
        serde_json::from_str(&json.to_string()).expect("a valid update")
    }

    fn user(id: u64, is_bot: bool) -> serde_json::Value {
        serde_json::json!({ "id": id, "is_bot": is_bot, "first_name": "Ann" })
    }

    fn private(id: i64) -> serde_json::Value {
        serde_json::json!({ "id": id, "type": "private", "first_name": "Ann" })
    }

    fn forum(id: i64) -> serde_json::Value {
        serde_json::json!({ "id": id, "type": "supergroup", "title": "Help", "is_forum": true })
    }

    fn text_update(
        chat: serde_json::Value,
        from: serde_json::Value,
        text: &str,
    ) -> serde_json::Value {
        serde_json::json!({
            "update_id": 1,
            "message": { "message_id": 10, "date": 1700000000, "chat": chat, "from": from, "text": text }
        })
    }

    fn settings(token: Option<&str>, secret: Option<&str>) -> TelegramSettings {
        TelegramSettings {
            token: token.map(String::from),
            api_url: None,
            webhook_secret: secret.map(String::from),
        }
    }

    #[test]
    fn source_table() {
        let cases = [
            (None, None, None),
            (Some(""), Some("s"), None),
            (Some("t"), None, Some(Source::Polling)),
            (Some("t"), Some(" "), Some(Source::Polling)),
            (Some("t"), Some("s"), Some(Source::Webhook)),
        ];
        for (token, secret, want) in cases {
            assert_eq!(
                source(&settings(token, secret)),
                want,
                "{token:?} {secret:?}"
            );
        }
    }

    #[test]
    fn conversation_keys_table() {
        let cases = [
            (42, None, "42"),
            (-1001234, None, "-1001234"),
            (-1001234, Some(7), "-1001234/7"),
        ];
        for (chat, topic, key) in cases {
            assert_eq!(conversation_key(chat, topic), key);
            assert_eq!(parse_conversation(key), Some((chat, topic)), "{key}");
        }
        for bad in ["", "abc", "1/x", "1/2/3", "term-1", "1/"] {
            assert_eq!(parse_conversation(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn button_data_table() {
        for b in [Button::Helped { user: 7 }, Button::Human { user: u64::MAX }] {
            assert_eq!(Button::parse(&b.data()), Some(b), "{b:?}");
            assert!(
                b.data().len() <= 64,
                "Telegram limits callback data to 64 bytes"
            );
        }
        let cases = [
            ("pb:helped:7", Some(Button::Helped { user: 7 })),
            ("pb:human:7", Some(Button::Human { user: 7 })),
            ("pb:claim:7", None),
            ("pb:helped:x", None),
            ("pb:helped:-1", None),
            ("pb:helped", None),
            ("pb:helped:7:8", None),
            ("xx:helped:7", None),
            ("", None),
        ];
        for (data, want) in cases {
            assert_eq!(Button::parse(data), want, "{data:?}");
        }
        let k = answer_keyboard(7);
        let labels: Vec<&str> = k.inline_keyboard[0]
            .iter()
            .map(|b| b.text.as_str())
            .collect();
        assert_eq!(labels, [HELPED_LABEL, HUMAN_LABEL]);
    }

    #[test]
    fn secret_table() {
        let cases = [
            ("s3cret", Some("s3cret"), true),
            ("s3cret", Some("s3creT"), false),
            ("s3cret", Some("s3cret "), false),
            ("s3cret", Some(""), false),
            ("s3cret", None, false),
            ("", Some(""), false),
        ];
        for (expected, presented, want) in cases {
            assert_eq!(
                secret_matches(expected, presented),
                want,
                "{expected:?} {presented:?}"
            );
        }
    }

    #[test]
    fn fit_table() {
        let cases: &[(&str, usize, &str)] = &[
            ("hello", 10, "hello"),
            ("hello", 5, "hello"),
            ("hello!", 5, "hell…"),
            ("héllo wörld", 5, "héll…"),
            // An emoji is two UTF-16 units: it is not split.
            ("ab😀cd", 4, "ab…"),
            ("ab😀cd", 5, "ab😀…"),
        ];
        for (text, max, want) in cases {
            assert_eq!(fit(text, *max), *want, "{text:?} {max}");
        }
        let long = "x".repeat(5000);
        assert_eq!(fit(&long, MAX_TEXT).encode_utf16().count(), MAX_TEXT);
        let emoji = "😀".repeat(3000);
        assert!(fit(&emoji, MAX_TEXT).encode_utf16().count() <= MAX_TEXT);
    }

    #[test]
    fn start_command_table() {
        let cases = [
            ("/start", true),
            ("/start@hearth_bot", true),
            ("/start campaign-1", true),
            ("  /start", true),
            ("/starting", false),
            ("start", false),
            ("how do I /start", false),
        ];
        for (text, want) in cases {
            assert_eq!(is_start(text), want, "{text:?}");
        }
    }

    #[test]
    fn which_updates_to_handle() {
        let dm = TextMessage {
            chat: 42,
            topic: None,
            message: 10,
            user: 7,
            text: "how much is it?".into(),
            conversation: "42".into(),
        };
        let in_topic = serde_json::json!({
            "update_id": 2,
            "message": { "message_id": 11, "message_thread_id": 5, "is_topic_message": true,
                         "date": 1700000000, "chat": forum(-100), "from": user(7, false), "text": "hi" }
        });
        let reply_chain = serde_json::json!({
            "update_id": 3,
            "message": { "message_id": 12, "message_thread_id": 5,
                         "date": 1700000000, "chat": forum(-100), "from": user(7, false), "text": "hi" }
        });
        let photo = serde_json::json!({
            "update_id": 4,
            "message": { "message_id": 13, "date": 1700000000, "chat": private(42), "from": user(7, false),
                         "photo": [{ "file_id": "f", "file_unique_id": "u", "width": 1, "height": 1 }] }
        });
        let on_behalf = serde_json::json!({
            "update_id": 5,
            "message": { "message_id": 14, "date": 1700000000, "chat": forum(-100), "from": user(1087968824, false),
                         "sender_chat": { "id": -100, "type": "supergroup", "title": "Help" }, "text": "hi" }
        });
        let edited = serde_json::json!({
            "update_id": 6,
            "edited_message": { "message_id": 10, "date": 1700000000, "edit_date": 1700000001,
                                "chat": private(42), "from": user(7, false), "text": "edited" }
        });
        let press = serde_json::json!({
            "update_id": 7,
            "callback_query": { "id": "q1", "from": user(7, false), "chat_instance": "ci", "data": "pb:helped:7",
                "message": { "message_id": 20, "message_thread_id": 5, "is_topic_message": true,
                             "date": 1700000000, "chat": forum(-100), "from": user(99, true), "text": "answer" } }
        });
        let inline_press = serde_json::json!({
            "update_id": 8,
            "callback_query": { "id": "q2", "from": user(7, false), "chat_instance": "ci",
                                "inline_message_id": "im", "data": "pb:human:7" }
        });
        let cases: Vec<(serde_json::Value, Work)> = vec![
            (
                text_update(private(42), user(7, false), "how much is it?"),
                Work::Text(dm.clone()),
            ),
            (
                text_update(private(42), user(7, false), "/start"),
                Work::Start(TextMessage {
                    text: "/start".into(),
                    ..dm.clone()
                }),
            ),
            (
                text_update(private(42), user(8, true), "beep"),
                Work::Skip("message from a bot"),
            ),
            (
                in_topic,
                Work::Text(TextMessage {
                    chat: -100,
                    topic: Some(5),
                    message: 11,
                    user: 7,
                    text: "hi".into(),
                    conversation: "-100/5".into(),
                }),
            ),
            (
                reply_chain,
                Work::Text(TextMessage {
                    chat: -100,
                    topic: None,
                    message: 12,
                    user: 7,
                    text: "hi".into(),
                    conversation: "-100".into(),
                }),
            ),
            (photo, Work::Skip("not a text message")),
            (on_behalf, Work::Skip("message sent on behalf of a chat")),
            (edited, Work::Skip("an edited message")),
            (
                press,
                Work::Press(Press {
                    query: "q1".into(),
                    from: 7,
                    data: Some("pb:helped:7".into()),
                    on: Some((-100, Some(5), 20)),
                }),
            ),
            (
                inline_press,
                Work::Press(Press {
                    query: "q2".into(),
                    from: 7,
                    data: Some("pb:human:7".into()),
                    on: None,
                }),
            ),
        ];
        for (n, (json, want)) in cases.into_iter().enumerate() {
            assert_eq!(work_of(&update(json)), want, "case {n}");
        }
    }

    #[test]
    fn offsets_and_backoff() {
        assert_eq!(next_offset(None, 5), Some(6));
        assert_eq!(next_offset(Some(10), 5), Some(10));
        assert_eq!(next_offset(Some(6), 9), Some(10));
        assert_eq!(next_offset(None, u32::MAX), Some(i32::MAX));
        let waits: Vec<u64> = (1..=8).map(|n| poll_backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn failures_table() {
        use teloxide::types::Seconds;
        let secs = |n| Failure::RateLimited(Some(Duration::from_secs(n)));
        let cases: Vec<(RequestError, Failure)> = vec![
            (RequestError::RetryAfter(Seconds::from_seconds(3)), secs(3)),
            (
                RequestError::RetryAfter(Seconds::from_seconds(3600)),
                secs(3600),
            ),
            (
                RequestError::Api(BotApiError::Unknown("Internal Server Error".into())),
                Failure::Server,
            ),
            (
                RequestError::Api(BotApiError::Unknown("Bad Gateway".into())),
                Failure::Server,
            ),
            (
                RequestError::Api(BotApiError::Unknown(
                    "Too Many Requests: retry after 7".into(),
                )),
                secs(7),
            ),
            (
                RequestError::Api(BotApiError::Unknown("Too Many Requests".into())),
                Failure::RateLimited(None),
            ),
            (
                RequestError::Api(BotApiError::Unknown("Bad Request: can't parse".into())),
                Failure::Final,
            ),
            (RequestError::Api(BotApiError::BotBlocked), Failure::Final),
            (RequestError::Api(BotApiError::ChatNotFound), Failure::Final),
            (
                RequestError::InvalidJson {
                    source: Arc::new(serde_json::from_str::<u8>("<").unwrap_err()),
                    raw: "<html>502 Bad Gateway</html>".into(),
                },
                Failure::Server,
            ),
            (
                RequestError::InvalidJson {
                    source: Arc::new(serde_json::from_str::<u8>("<").unwrap_err()),
                    raw: "{\"ok\":true,\"result\":{}}".into(),
                },
                Failure::Final,
            ),
        ];
        for (n, (err, want)) in cases.iter().enumerate() {
            assert_eq!(failure(err), *want, "case {n}: {err}");
        }
        // An hour of flood control is more than the policy waits: the send fails.
        assert_eq!(kit::retry_wait(failure(&cases[1].0), 1), None);
    }

    #[test]
    fn poll_trouble_table() {
        let unknown = |t: &str| RequestError::Api(BotApiError::Unknown(t.into()));
        let cases = [
            (
                unknown("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"),
                PollTrouble::WebhookActive,
            ),
            (RequestError::Api(BotApiError::CantGetUpdates), PollTrouble::WebhookActive),
            (
                RequestError::Api(BotApiError::TerminatedByOtherGetUpdates),
                PollTrouble::OtherPoller,
            ),
            (
                unknown("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running, please"),
                PollTrouble::OtherPoller,
            ),
            (RequestError::Api(BotApiError::InvalidToken), PollTrouble::BadToken),
            (unknown("Unauthorized: invalid token"), PollTrouble::BadToken),
            (unknown("Internal Server Error"), PollTrouble::Other),
            (
                RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(1)),
                PollTrouble::Other,
            ),
        ];
        for (err, want) in cases {
            assert_eq!(poll_trouble(&err), want, "{err}");
        }
    }

    #[test]
    fn webhook_secret_format_table() {
        let long = "a".repeat(257);
        let cases = [
            ("hook-s3cret_X", true),
            ("a", true),
            ("", false),
            ("with space", false),
            ("sl/ash", false),
            ("ünï", false),
            (long.as_str(), false),
        ];
        for (secret, want) in cases {
            assert_eq!(valid_secret(secret), want, "{secret:?}");
        }
    }

    #[test]
    fn errors_never_show_the_token() {
        let token = "123456:AAF7-secret";
        let text = format!(
            "error sending request for url (https://api.telegram.org/bot{token}/sendMessage)"
        );
        let clean = without_token(&text, token);
        assert!(!clean.contains("AAF7-secret"), "{clean}");
        assert!(clean.contains("bot<token>/sendMessage"));
        assert_eq!(without_token("no token here", ""), "no token here");
        let err = RequestError::Api(BotApiError::Unknown(format!("echo {token}")));
        assert!(!describe(&err, token).contains(token));
    }
}

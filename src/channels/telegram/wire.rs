//! Telegram's wire format, all pure: how updates arrive (from the settings), conversation keys,
//! button data, which updates to handle, the webhook secret check, text cutting, `getUpdates`
//! offsets and backoff, what to retry and why polling fails. Tested in `wire/tests.rs`.

use std::time::Duration;

use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage, Message, Update,
    UpdateKind,
};
use teloxide::{ApiError as BotApiError, RequestError};

use crate::catalog::settings::TelegramSettings;
use crate::channels::kit::{Action, Buttons, Failure};
use crate::core::model::is_valid_id;

/// Telegram's message length limit (in UTF-16 code units, which is how Telegram counts).
pub const MAX_TEXT: usize = 4096;
/// Longest pause between failed `getUpdates` calls.
pub(super) const MAX_POLL_BACKOFF: Duration = Duration::from_secs(30);

/// How updates arrive, from the settings; `None`: the channel is off (no token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Polling,
    Webhook,
}

pub(super) fn set(value: &Option<String>) -> Option<&str> {
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

/// Telegram's limit on a button's callback data, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;

/// A button under a reply, for the customer `user`: feedback under a self-help answer, or an
/// option (an intent id) of a clarifying question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    Helped {
        user: u64,
    },
    Human {
        user: u64,
    },
    Choose {
        user: u64,
        intent: String,
    },
    /// "How did we do?": 1 to 5, for whoever had the resolved ticket (checked when pressed).
    Rate {
        rating: u8,
    },
}

impl Button {
    /// The callback data (Telegram allows [`MAX_CALLBACK_DATA`] bytes).
    pub fn data(&self) -> String {
        match self {
            Button::Helped { user } => format!("pb:helped:{user}"),
            Button::Human { user } => format!("pb:human:{user}"),
            Button::Choose { user, intent } => format!("pb:choose:{user}:{intent}"),
            Button::Rate { rating } => format!("pb:rate:0:{rating}"),
        }
    }

    pub fn parse(data: &str) -> Option<Button> {
        let mut parts = data.split(':');
        if parts.next()? != "pb" {
            return None;
        }
        let action = parts.next()?;
        let user: u64 = parts.next()?.parse().ok()?;
        let extra = parts.next();
        if parts.next().is_some() {
            return None;
        }
        match (action, extra) {
            ("helped", None) => Some(Button::Helped { user }),
            ("human", None) => Some(Button::Human { user }),
            ("rate", Some(n)) if user == 0 => n
                .parse()
                .ok()
                .filter(|r| (1..=5).contains(r))
                .map(|rating| Button::Rate { rating }),
            ("choose", Some(intent)) if is_valid_id(intent) => Some(Button::Choose {
                user,
                intent: intent.to_string(),
            }),
            _ => None,
        }
    }

    pub fn user(&self) -> u64 {
        match self {
            Button::Helped { user } | Button::Human { user } | Button::Choose { user, .. } => *user,
            Button::Rate { .. } => 0,
        }
    }

    pub fn helped(&self) -> bool {
        matches!(self, Button::Helped { .. })
    }
}

/// The buttons under a reply to `user`: the feedback buttons the turn offers (its `actions`),
/// in one row, and a clarifying question's options, one per row (an option whose callback
/// data would be too long is left to typing). `None` when there are none.
pub fn answer_keyboard(user: u64, buttons: &Buttons) -> Option<InlineKeyboardMarkup> {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    let feedback: Vec<InlineKeyboardButton> = buttons
        .actions
        .iter()
        .map(|a| {
            let button = match a {
                Action::Helped => Button::Helped { user },
                Action::Human => Button::Human { user },
            };
            InlineKeyboardButton::callback(a.label(), button.data())
        })
        .collect();
    if !feedback.is_empty() {
        rows.push(feedback);
    }
    for c in &buttons.choices {
        let data = Button::Choose {
            user,
            intent: c.id.clone(),
        }
        .data();
        if data.len() <= MAX_CALLBACK_DATA {
            rows.push(vec![InlineKeyboardButton::callback(c.name.clone(), data)]);
        }
    }
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// The "How did we do?" buttons: 1 to 5 in one row.
pub fn rating_keyboard() -> InlineKeyboardMarkup {
    let row = (1..=5u8)
        .map(|rating| {
            InlineKeyboardButton::callback(rating.to_string(), Button::Rate { rating }.data())
        })
        .collect::<Vec<_>>();
    InlineKeyboardMarkup::new(vec![row])
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
///
/// [`kit::retry_wait`]: crate::channels::kit::retry_wait
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
pub(super) fn describe(err: &RequestError, token: &str) -> String {
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
        // Neither the answer (it may name chats and users) nor the new chat id is logged.
        RequestError::InvalidJson { raw, .. } => format!(
            "the Bot API answered something that is not its JSON ({} bytes)",
            raw.len()
        ),
        RequestError::MigrateToChatId(_) => "the group was migrated to a supergroup".into(),
        other => other.to_string(),
    };
    without_token(&text, token)
}

#[cfg(test)]
mod tests;

//! The Telegram Bot API client: [`Telegram`], one teloxide `Bot` with the channel's bookkeeping
//! (updates seen, per-conversation order), and its calls (send, answer a press, remove buttons).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::payloads::{
    AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, SendMessageSetters,
};
use teloxide::requests::Requester;
use teloxide::types::{
    CallbackQueryId, ChatId, InlineKeyboardMarkup, Message, MessageId, ParseMode, ReplyParameters,
    ThreadId,
};
use teloxide::{ApiError as BotApiError, Bot, RequestError};

use super::wire::{describe, failure, fit, set, MAX_TEXT};
use super::OFF;
use crate::catalog::settings::TelegramSettings;
use crate::channels::dedupe::RecentIds;
use crate::channels::kit::{self, Ordered};
use crate::channels::markdown;

/// What a message says: plain text (an agent's reply, a notice), or a bot answer in the
/// markdown subset, sent as HTML.
#[derive(Debug, Clone, Copy)]
pub(super) enum Body<'a> {
    Plain(&'a str),
    Answer(&'a str),
}

/// Longest text of a callback query answer (the small notification).
const MAX_NOTICE: usize = 200;

/// Long-polling timeout of `getUpdates`, in seconds.
pub(super) const POLL_TIMEOUT_SECS: u32 = 25;
/// The HTTP client's timeout: longer than a long poll.
const HTTP_TIMEOUT: Duration = Duration::from_secs(POLL_TIMEOUT_SECS as u64 + 15);
/// Update ids remembered to drop duplicates (a webhook call Telegram retries).
const SEEN_UPDATES: usize = 10_000;

/// The bot and the channel's bookkeeping, one per running source (the poller, or the webhook
/// route of one server).
pub(super) struct Telegram {
    pub(super) bot: Bot,
    /// Kept only to scrub it from error texts.
    pub(super) token: String,
    seen: Mutex<RecentIds<u32>>,
    /// The last task of each conversation: work on one conversation runs in arrival order,
    /// different conversations run in parallel.
    pub(super) chains: Arc<Ordered>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Telegram {
    pub(super) fn new(settings: &TelegramSettings) -> Result<Telegram, String> {
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

    pub(super) fn describe(&self, err: &RequestError) -> String {
        describe(err, &self.token)
    }

    /// True the first time update `id` is seen.
    pub(super) fn first(&self, id: u32) -> bool {
        lock(&self.seen).first(id)
    }

    /// Runs `work` after everything queued before it for conversation `key`.
    pub(super) fn in_order(
        &self,
        key: String,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.chains.in_order(key, work);
    }

    /// Sends a message, cut to Telegram's limit, retrying flood control and server errors:
    /// plain text with no parse mode (nothing in it is interpreted), or a bot answer in HTML
    /// ([`Body::Answer`]; should Telegram ever refuse its HTML, the answer goes again as plain
    /// text). Returns the sent message or the last error, and the attempts made.
    pub(super) async fn send(
        &self,
        chat: i64,
        topic: Option<i32>,
        reply_to: Option<i32>,
        body: Body<'_>,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> (Result<Message, String>, u32) {
        let to = (chat, topic, reply_to);
        let markdown = match body {
            Body::Plain(text) => {
                return self
                    .send_text(to, fit(text, MAX_TEXT), false, keyboard)
                    .await
            }
            Body::Answer(markdown) => markdown,
        };
        // Cut before rendering, so no tag is cut; the markup only shortens what shows.
        let cut = fit(markdown, MAX_TEXT);
        let html = markdown::telegram_html(&cut);
        let (result, attempts) = self.send_text(to, html, true, keyboard.clone()).await;
        match &result {
            Err(e) if e.contains("can't parse entities") => {
                tracing::warn!(error = %e, "Telegram refused an answer's HTML; sending it as plain text");
                let plain = fit(&markdown::plain(&cut), MAX_TEXT);
                let (result, more) = self.send_text(to, plain, false, keyboard).await;
                (result, attempts + more)
            }
            _ => (result, attempts),
        }
    }

    /// One `sendMessage` to (chat, topic, reply_to), with its retries.
    async fn send_text(
        &self,
        (chat, topic, reply_to): (i64, Option<i32>, Option<i32>),
        text: String,
        html: bool,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> (Result<Message, String>, u32) {
        kit::with_retries("Telegram sendMessage", || {
            let mut request = self.bot.send_message(ChatId(chat), text.clone());
            if html {
                request = request.parse_mode(ParseMode::Html);
            }
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
            async move { request.await.map_err(|e| (failure(&e), self.describe(&e))) }
        })
        .await
    }

    /// Answers a button press (stops the client's spinner), with an optional notice.
    pub(super) async fn answer(&self, query: &str, text: Option<&str>) {
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
    pub(super) async fn remove_keyboard(&self, chat: i64, message: i32) {
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

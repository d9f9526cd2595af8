//! The Telegram channel (teloxide): customers write to the bot in a private chat, a group or a
//! forum topic and get the persona-tailored answer (in Telegram's HTML parse mode: the answers'
//! links and bold, everything else escaped), with "That helped" / "Talk to a human" buttons
//! under self-help answers (as the turn's actions say) and a clarifying question's options as
//! buttons (a press sends the option as the customer's next message); agents' replies to
//! Telegram tickets are delivered back to the chat as plain text.
//!
//! Updates come by long polling (`getUpdates`) unless `telegram.webhook_secret` is set; then they
//! come to `POST /telegram/webhook`, which checks the `X-Telegram-Bot-Api-Secret-Token` header.
//! The operator registers the webhook once with `setWebhook` (the bot never changes it itself).
//!
//! This folder is the only place that imports teloxide; every Bot API call goes through its
//! `Bot`, in `api.rs`. This file is the adapter (webhook, polling loop, handlers, `start`); the
//! deciding parts (conversation keys, button data, which updates to handle, the secret check,
//! text cutting, what to retry) are pure functions in `wire.rs`, tested there; the adapter runs
//! against a fake Bot API in `tests/telegram.rs`.

mod api;
mod wire;

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::requests::Requester;
use teloxide::types::{AllowedUpdate, Update};
use teloxide::RequestError;
use tokio::task::JoinHandle;

use super::kit::{self, AgentReply, Buttons};
use crate::engine::pipeline::{Inbound, Mode, Outcome, PipelineError, PipelineEvent};
use crate::engine::supervise::spawn_subscribed;
use crate::engine::{Admission, AppState};
use crate::http::ApiError;
use api::{Body, Telegram, POLL_TIMEOUT_SECS};
use wire::{set, MAX_POLL_BACKOFF};

pub use wire::{
    answer_keyboard, conversation_key, failure, failure_of_description, fit, is_start, next_offset,
    parse_conversation, parse_update, poll_backoff, poll_trouble, secret_matches, source,
    valid_secret, without_token, work_of, Button, PollTrouble, Press, Source, TextMessage, Work,
    MAX_CALLBACK_DATA, MAX_TEXT,
};

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

const BAD_TOKEN: &str = "Telegram refused the bot token: check PERSONABOT__TELEGRAM__TOKEN (and telegram.api_url, if set)";
use crate::core::wording::WELCOME;
use crate::core::wording::{EXPIRED_BUTTON as EXPIRED, NOT_YOUR_BUTTONS as REFUSAL};

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
        .send(m.chat, m.topic, Some(m.message), Body::Plain(&notice), None)
        .await;
    false
}

async fn on_start(tg: &Telegram, state: &AppState, m: TextMessage) {
    if allowed(tg, state, &m).await {
        let _ = tg
            .send(m.chat, m.topic, Some(m.message), Body::Plain(WELCOME), None)
            .await;
    }
}

async fn on_text(tg: &Telegram, state: &AppState, m: TextMessage) {
    if allowed(tg, state, &m).await {
        on_text_allowed(tg, state, m).await;
    }
}

/// A customer's message, within the flood limit.
async fn on_text_allowed(tg: &Telegram, state: &AppState, m: TextMessage) {
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
                .send(
                    m.chat,
                    m.topic,
                    Some(m.message),
                    Body::Plain(&e.user_message()),
                    None,
                )
                .await;
        }
    }
}

/// Sends the pipeline's reply in HTML, with the customer's buttons (the turn's actions, a
/// clarifying question's options), and records whether it arrived.
async fn deliver(tg: &Telegram, state: &AppState, m: &TextMessage, outcome: &Outcome) {
    let Some(text) = &outcome.reply else {
        return; // an agent owns the conversation
    };
    let keyboard = answer_keyboard(m.user, &Buttons::of(outcome));
    let (result, attempts) = tg
        .send(
            m.chat,
            m.topic,
            Some(m.message),
            Body::Answer(text),
            keyboard,
        )
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
    if let Button::Rate { rating } = button {
        return on_rating(tg, state, p, rating).await;
    }
    if button.user() != p.from {
        tg.answer(&p.query, Some(REFUSAL)).await;
        return;
    }
    let (Some((chat, topic, message)), Some(conversation)) = (p.on, p.conversation()) else {
        tg.answer(&p.query, Some(EXPIRED)).await;
        return;
    };
    if let Button::Choose { user, intent } = &button {
        let m = TextMessage {
            chat,
            topic,
            message,
            user: *user,
            text: String::new(),
            conversation,
        };
        return on_choice(tg, state, &p.query, m, intent).await;
    }
    let (user, helped) = (button.user().to_string(), button.helped());
    let result = state
        .blocking(move |pl| pl.feedback(CHANNEL, &conversation, &user, helped))
        .await;
    match result {
        Ok(Ok(outcome)) => {
            tg.answer(&p.query, None).await;
            tg.remove_keyboard(chat, message).await;
            if let Some(reply) = &outcome.reply {
                let (sent, attempts) = tg
                    .send(chat, topic, Some(message), Body::Answer(reply), None)
                    .await;
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
            tg.answer(&p.query, Some(crate::core::wording::SOMETHING_WRONG))
                .await
        }
    }
}

/// A press on an option of a clarifying question (`m` is the question, without text): the
/// option's name goes into the pipeline as the customer's next message in the conversation
/// (the options' buttons go), and the reply is delivered like any other.
async fn on_choice(tg: &Telegram, state: &AppState, query: &str, mut m: TextMessage, intent: &str) {
    let Some(name) = state
        .pipeline
        .catalog()
        .intent(intent)
        .map(|i| i.name.clone())
    else {
        tg.answer(query, Some(EXPIRED)).await;
        return;
    };
    tg.answer(query, None).await;
    if !allowed(tg, state, &m).await {
        return;
    }
    tg.remove_keyboard(m.chat, m.message).await;
    m.text = name;
    on_text_allowed(tg, state, m).await;
}

/// A press of a "How did we do?" button: rates the presser's latest resolved ticket in the
/// chat (another member of the chat has none there to rate, and is told so).
async fn on_rating(tg: &Telegram, state: &AppState, p: Press, rating: u8) {
    let (Some((chat, _, message)), Some(conversation)) = (p.on, p.conversation()) else {
        tg.answer(&p.query, Some(EXPIRED)).await;
        return;
    };
    let user = p.from.to_string();
    let rated = state
        .blocking(move |pl| {
            crate::engine::csat::rate(pl, CHANNEL, &conversation, &user, rating, None)
        })
        .await;
    match rated {
        Ok(Ok(_)) => {
            tg.answer(&p.query, Some(crate::engine::csat::THANKS)).await;
            tg.remove_keyboard(chat, message).await;
        }
        Ok(Err(e)) => tg.answer(&p.query, Some(&e.user_message())).await,
        Err(_) => tg.answer(&p.query, None).await,
    }
}

/// Asks the customer of each Telegram ticket just resolved "How did we do?", with 1-5 buttons.
async fn ask_for_ratings(
    tg: Arc<Telegram>,
    mut events: tokio::sync::broadcast::Receiver<PipelineEvent>,
) {
    while let Some(event) = crate::engine::pipeline::next_event(&mut events, CHANNEL).await {
        let Some(ticket) = crate::engine::csat::asks_for_rating(&event) else {
            continue;
        };
        if ticket.channel != CHANNEL {
            continue;
        }
        let Some((chat, topic)) = parse_conversation(&ticket.conversation) else {
            continue;
        };
        let keyboard = Some(wire::rating_keyboard());
        let question = Body::Plain(crate::engine::csat::QUESTION);
        let (sent, attempts) = tg.send(chat, topic, None, question, keyboard).await;
        if let Err(e) = sent {
            tracing::error!(error = %e, attempts, ticket = ticket.id, "rating question not delivered");
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
    let body = crate::core::wording::agent_says(&reply.team, &reply.agent, &reply.text);
    let (sent, attempts) = tg.send(chat, topic, None, Body::Plain(&body), None).await;
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
    let ratings = ask_for_ratings(tg.clone(), events.resubscribe());
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
            tokio::join!(
                introduce(&tg, source),
                replies,
                ratings,
                poll(tg.clone(), state)
            );
        }
        Source::Webhook => {
            tokio::join!(introduce(&tg, source), replies, ratings);
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
        Box::pin(async move { Ok(super::Running::tasks(start(state).await)) })
    }
}

/// Starts the channel when its token is set: long polling (without a webhook secret) and the
/// delivery of agent replies. Says once why it stays off otherwise.
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
    let pipeline = state.pipeline.clone();
    Some(spawn_subscribed(
        "telegram",
        pipeline,
        events,
        move |events| run(tg.clone(), state.clone(), source, events),
    ))
}

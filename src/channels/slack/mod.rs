//! The Slack channel (Events API + interactivity + Web API): customers write in channels the
//! app is in, in its DMs, or mention it; each Slack thread is one conversation and the bot
//! answers in the thread, in mrkdwn, with "That helped" / "Talk to a human" buttons under
//! self-help answers (as the turn's actions say) and a clarifying question's options as
//! buttons (a press sends the option as the asker's next message). Agents' replies to Slack
//! tickets are posted back into the customer's thread.
//!
//! - `POST /slack/events`: Events API requests (`url_verification`, `event_callback`).
//! - `POST /slack/interactions`: interactivity requests (`payload=<json>`, `block_actions`).
//!
//! Both verify Slack's v0 request signature over the raw body with the signing secret and
//! refuse requests whose timestamp is more than five minutes away from now. The work is spawned
//! so Slack gets its 200 at once; events Slack retries (same `event_id`) are handled once.
//! Replies go out with `chat.postMessage` (`{api_base}/chat.postMessage`, bearer bot token),
//! retrying 429 (after its `Retry-After`) and 5xx; `{"ok":false}` is a failure. Everything the
//! bot echoes is escaped (`&`, `<`, `>`), so nothing it posts can mention or ping anyone; only
//! the bot's own answers carry `<url|text>` links (http, https and mailto).
//!
//! This file is the adapter (routes, handlers, `start`); the deciding parts (signature check,
//! conversation keys, which events to handle, Slack text to plain text, escaping, blocks, button
//! values, form decoding, retry rules) are pure functions in `wire.rs`, tested there; the Web API
//! client is in `api.rs`. The adapter runs against a fake Slack Web API in `tests/slack/`.

mod api;
mod rating;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::kit::{self, AgentReply, Buttons, Ordered};
use super::markdown;
use crate::channels::dedupe::RecentIds;
use crate::engine::pipeline::{Inbound, Mode, Outcome, PipelineError};
use crate::engine::supervise::spawn_subscribed;
use crate::engine::{Admission, AppState};
use crate::http::ApiError;
use api::{call, Api, Target};

pub use api::{api_base, secrets, DEFAULT_API_BASE};
pub use wire::{
    agent_reply_text, blocks, bot_user_of, button_value, choice_actions, chosen_text,
    classify_event, controls, conversation_key, escape, failure, feedback_actions, fit, form_value,
    parse_button_value, parse_conversation, parse_press, plain_text, post_message_body,
    pressed_text, section, signature, verify_signature, EventVerdict, Press, SignatureError,
    SlackMessage, ACTION_CHOOSE, ACTION_HELPED, ACTION_HUMAN, MAX_SECTION, MAX_SKEW_SECS,
};

/// The channel name recorded with each interaction.
pub const CHANNEL: &str = "slack";

/// The button labels: a contract with deployments and their docs.
pub use super::kit::{HELPED_LABEL, HUMAN_LABEL};

/// The routes.
pub const EVENTS_PATH: &str = "/slack/events";
pub const INTERACTIONS_PATH: &str = "/slack/interactions";

/// What the routes answer (404) when a secret is missing.
pub const OFF: &str =
    "the Slack channel is off: set PERSONABOT__SLACK__SIGNING_SECRET and PERSONABOT__SLACK__BOT_TOKEN";

use crate::core::wording::{EXPIRED_BUTTON, NOT_YOUR_BUTTONS as REFUSAL, SOMETHING_WRONG};

// ----------------------------------------------------------------------------------------------
// The adapter
// ----------------------------------------------------------------------------------------------

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The routes' bookkeeping, one per router (server).
#[derive(Default)]
struct Shared {
    seen: Mutex<RecentIds<String>>,
    chains: Ordered,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The configured Web API, after checking the request's signature; else the error response.
fn check_request(
    state: &AppState,
    endpoint: &'static str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Api, ApiError> {
    let settings = &state.settings.slack;
    let (Some((secret, _)), Some(api)) = (secrets(settings), Api::from_settings(settings)) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, OFF));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verdict = verify_signature(
        secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        unix_now(),
    );
    if let Err(e) = verdict {
        state.metrics.refused(endpoint, 401);
        tracing::warn!(endpoint, reason = ?e, "Slack request refused");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, e.message()));
    }
    Ok(api)
}

async fn events(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let api = check_request(&state, EVENTS_PATH, &headers, &body)?;
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    match request["type"].as_str() {
        Some("url_verification") => {
            let challenge = request["challenge"].as_str().unwrap_or_default();
            return Ok(Json(json!({ "challenge": challenge })).into_response());
        }
        Some("event_callback") => {}
        other => {
            tracing::debug!(kind = ?other, "Slack request ignored");
            return Ok(StatusCode::OK.into_response());
        }
    }
    let retry = headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    if let Some(id) = request["event_id"].as_str() {
        if !lock(&shared.seen).first(format!("event:{id}")) {
            tracing::debug!(event = id, retry = ?retry, "repeated Slack event dropped");
            return Ok(StatusCode::OK.into_response());
        }
    }
    let message = match classify_event(&request["event"], bot_user_of(&request)) {
        EventVerdict::Handle(m) => m,
        EventVerdict::Ignore(why) => {
            tracing::debug!(why, "Slack event ignored");
            return Ok(StatusCode::OK.into_response());
        }
    };
    // A message that mentions the bot comes twice (message and app_mention, two event ids).
    if !lock(&shared.seen).first(format!("message:{}/{}", message.channel, message.ts)) {
        tracing::debug!("Slack message already handled");
        return Ok(StatusCode::OK.into_response());
    }
    let key = message.conversation();
    let running = state.handlers.enter();
    shared.chains.in_order(key, async move {
        let _running = running;
        on_message(&state, &api, message).await;
    });
    Ok(StatusCode::OK.into_response())
}

/// Counts a message against the flood limit; over it, the user gets one notice per window.
async fn allowed(state: &AppState, api: &Api, m: &SlackMessage) -> bool {
    let notice = match state.admit(CHANNEL, &m.user) {
        Admission::Allow => return true,
        Admission::Notify(notice) => Some(notice),
        Admission::Drop => None,
    };
    state.metrics.refused(EVENTS_PATH, 429);
    if let Some(notice) = notice {
        let _ = api
            .post(&m.channel, &m.thread_ts, &escape(&notice), &[])
            .await;
    }
    false
}

/// Whether `m` is an agent's `/note TEXT` (from one of `slack.agents`): then it is stored as an
/// internal note on the thread's open ticket, and neither routed nor answered.
async fn agent_note(state: &AppState, m: &SlackMessage) -> bool {
    use crate::channels::thread_note::{thread_message, ThreadMessage};
    if !state.settings.slack.agents.contains(&m.user) {
        return false;
    }
    let ThreadMessage::Note(text) = thread_message(&m.text) else {
        return false;
    };
    let (pipeline, conversation) = (state.pipeline.clone(), m.conversation());
    let (agent, text) = (m.user.clone(), text.to_string());
    let noted = tokio::task::spawn_blocking(move || -> Result<Option<u64>, PipelineError> {
        let store = pipeline.store();
        let (channel, conversation) = store.stored_ids(CHANNEL, &conversation);
        let open = store.conversation(&channel, &conversation)?;
        let Some(id) = open.open_tickets().next().map(|o| o.id) else {
            return Ok(None);
        };
        pipeline.note(id, &agent, &text, CHANNEL)?;
        Ok(Some(id))
    })
    .await;
    match noted {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => tracing::info!("a Slack /note in a thread without an open ticket"),
        Ok(Err(e)) => tracing::error!(error = %e, "a Slack note failed"),
        Err(e) => tracing::error!(error = %e, "a Slack note failed"),
    }
    true
}

async fn on_message(state: &AppState, api: &Api, m: SlackMessage) {
    if agent_note(state, &m).await {
        return;
    }
    if !allowed(state, api, &m).await {
        return;
    }
    let inbound = Inbound {
        channel: CHANNEL.into(),
        conversation: m.conversation(),
        user: m.user.clone(),
        text: m.text.clone(),
    };
    let outcome = match state.handle(inbound, Mode::Route).await {
        Ok(o) => o,
        Err(e) => {
            if let PipelineError::Store(inner) = &e {
                tracing::error!(error = %inner, "Slack message failed");
            }
            let _ = api
                .post(&m.channel, &m.thread_ts, &escape(&e.user_message()), &[])
                .await;
            return;
        }
    };
    deliver(state, api, &m.channel, &m.thread_ts, &m.user, &outcome).await;
}

/// Posts the pipeline's reply to `user` in the thread, in mrkdwn, with the customer's buttons
/// (the turn's actions, a clarifying question's options), and records whether it arrived.
async fn deliver(
    state: &AppState,
    api: &Api,
    channel: &str,
    thread_ts: &str,
    user: &str,
    outcome: &Outcome,
) {
    let Some(reply) = &outcome.reply else {
        return; // an agent owns the conversation
    };
    let conversation = conversation_key(channel, thread_ts);
    let controls = controls(user, &conversation, &Buttons::of(outcome));
    let (result, attempts) = api
        .post(channel, thread_ts, &markdown::slack(reply), &controls)
        .await;
    if let Err(e) = &result {
        tracing::error!(error = %e, attempts, "Slack reply not delivered");
    }
    if let Some(id) = outcome.interaction {
        let _ = state
            .blocking(move |p| p.record_delivery(id, &result, attempts))
            .await;
    }
}

async fn interactions(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let api = check_request(&state, INTERACTIONS_PATH, &headers, &body)?;
    let payload = form_value(&body, "payload")
        .ok_or_else(|| ApiError::bad_request("expected a form with a `payload` field"))?;
    let payload: Value = serde_json::from_str(&payload)
        .map_err(|e| ApiError::bad_request(format!("invalid payload JSON: {e}")))?;
    let press = parse_press(&payload);
    let rated = match press {
        Some(_) => None,
        None => wire::parse_rating_press(&payload),
    };
    let commented = wire::parse_comment_submission(&payload);
    if press.is_none() && rated.is_none() && commented.is_none() {
        tracing::debug!(kind = ?payload["type"].as_str(), "Slack interaction ignored");
        return Ok(StatusCode::OK.into_response());
    }
    // The same signed request sent again (a replay, within the signature's five minutes) is
    // handled once. Slack gives each real press its own body (trigger_id, action_ts).
    if !lock(&shared.seen).first(format!("interaction:{}", digest(&body))) {
        tracing::debug!("repeated Slack interaction dropped");
        return Ok(StatusCode::OK.into_response());
    }
    let running = state.handlers.enter();
    if let Some((ticket, action, press)) = rated {
        shared
            .chains
            .in_order(format!("rating:{ticket}"), async move {
                let _running = running;
                rating::on_press(&state, &api, ticket, action, press).await;
            });
        return Ok(StatusCode::OK.into_response());
    }
    if let Some((ticket, user, text)) = commented {
        // An empty 200 closes the form; the comment is stored after.
        shared
            .chains
            .in_order(format!("rating:{ticket}"), async move {
                let _running = running;
                rating::on_comment(&state, ticket, &user, text).await;
            });
        return Ok(StatusCode::OK.into_response());
    }
    let Some(press) = press else {
        return Ok(StatusCode::OK.into_response());
    };
    let key = press.conversation.clone();
    shared.chains.in_order(key, async move {
        let _running = running;
        on_press(&state, &api, press).await;
    });
    Ok(StatusCode::OK.into_response())
}

/// SHA-256 of a request body, hex.
fn digest(body: &[u8]) -> String {
    use sha2::Digest;
    crate::core::hex::encode(&sha2::Sha256::digest(body))
}

/// Shows `text` to the presser only.
async fn ephemeral(api: &Api, p: &Press, text: &str) {
    let (result, _) = match (&p.response_url, &p.channel) {
        (Some(url), _) => {
            let body = json!({
                "response_type": "ephemeral",
                "replace_original": false,
                "text": escape(text),
            });
            call(Target::ResponseUrl(url), &body).await
        }
        (None, Some(channel)) => {
            let thread = parse_conversation(&p.conversation).map(|(_, t)| t);
            let body = json!({
                "channel": channel,
                "user": p.presser,
                "text": escape(text),
                "thread_ts": thread,
                "parse": "none",
                "link_names": false,
            });
            api.call("chat.postEphemeral", &body).await
        }
        (None, None) => return,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "Slack ephemeral message not delivered");
    }
}

/// Replaces the answer with `mrkdwn` and no buttons.
async fn replace_answer(api: &Api, p: &Press, mrkdwn: &str) {
    replace_answer_with(api, p, mrkdwn, &[]).await
}

/// Replaces the answer with `mrkdwn` and `controls` (actions blocks).
async fn replace_answer_with(api: &Api, p: &Press, mrkdwn: &str, controls: &[Value]) {
    let (result, _) = match (&p.response_url, &p.channel, &p.message_ts) {
        (Some(url), ..) => {
            let body = json!({
                "replace_original": true,
                "text": fit(mrkdwn, MAX_SECTION),
                "blocks": blocks(mrkdwn, controls),
            });
            call(Target::ResponseUrl(url), &body).await
        }
        (None, Some(channel), Some(ts)) => {
            let body = json!({
                "channel": channel,
                "ts": ts,
                "text": fit(mrkdwn, MAX_SECTION),
                "blocks": blocks(mrkdwn, controls),
                "parse": "none",
                "link_names": false,
            });
            api.call("chat.update", &body).await
        }
        _ => return,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "updating the Slack answer failed");
    }
}

async fn on_press(state: &AppState, api: &Api, p: Press) {
    if p.presser != p.asker {
        ephemeral(api, &p, REFUSAL).await;
        return;
    }
    if let Some(intent) = &p.choice {
        return on_choice(state, api, &p, intent).await;
    }
    let (conversation, user, helped) = (p.conversation.clone(), p.asker.clone(), p.helped);
    let result = state
        .blocking(move |pl| pl.feedback(CHANNEL, &conversation, &user, helped))
        .await;
    match result {
        Ok(Ok(outcome)) => {
            let text = pressed_text(&p.original, p.helped, outcome.reply.as_deref());
            replace_answer(api, &p, &text).await;
            if !p.helped {
                if let (Some(reply), Some((channel, thread))) =
                    (&outcome.reply, parse_conversation(&p.conversation))
                {
                    let mrkdwn = markdown::slack(reply);
                    let (sent, attempts) = api.post(channel, thread, &mrkdwn, &[]).await;
                    if let Err(e) = sent {
                        tracing::error!(error = %e, attempts, "Slack handoff reply not delivered");
                    }
                }
            }
        }
        Ok(Err(PipelineError::Refused(why))) => {
            // e.g. pressed twice: the buttons are stale.
            ephemeral(api, &p, &why).await;
            replace_answer(api, &p, &p.original).await;
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Slack feedback failed");
            ephemeral(api, &p, &e.user_message()).await;
        }
        Err(_) => ephemeral(api, &p, SOMETHING_WRONG).await,
    }
}

/// A press on an option of a clarifying question: the option's name goes into the pipeline as
/// the asker's next message in the thread (the options' buttons go), and the reply is posted
/// like any other.
async fn on_choice(state: &AppState, api: &Api, p: &Press, intent: &str) {
    let Some((channel, thread)) = parse_conversation(&p.conversation) else {
        return;
    };
    let Some(name) = state
        .pipeline
        .catalog()
        .intent(intent)
        .map(|i| i.name.clone())
    else {
        ephemeral(api, p, EXPIRED_BUTTON).await;
        return;
    };
    let message = SlackMessage {
        channel: channel.to_string(),
        user: p.asker.clone(),
        text: name.clone(),
        ts: thread.to_string(),
        thread_ts: thread.to_string(),
    };
    if !allowed(state, api, &message).await {
        return;
    }
    replace_answer(api, p, &chosen_text(&p.original, &name)).await;
    let inbound = Inbound {
        channel: CHANNEL.into(),
        conversation: p.conversation.clone(),
        user: p.asker.clone(),
        text: name,
    };
    match state.handle(inbound, Mode::Route).await {
        Ok(outcome) => deliver(state, api, channel, thread, &p.asker, &outcome).await,
        Err(e) => {
            if let PipelineError::Store(inner) = &e {
                tracing::error!(error = %inner, "Slack option failed");
            }
            let _ = api
                .post(channel, thread, &escape(&e.user_message()), &[])
                .await;
        }
    }
}

/// Delivers an agent's reply into the customer's thread.
async fn deliver_agent_reply(api: Api, reply: AgentReply) {
    let Some((channel, thread)) = parse_conversation(&reply.ticket.conversation) else {
        tracing::warn!(
            ticket = reply.ticket.id,
            "Slack ticket without a channel and thread"
        );
        return;
    };
    let mrkdwn = agent_reply_text(&reply.team, &reply.agent, &reply.text);
    let (sent, attempts) = api.post(channel, thread, &mrkdwn, &[]).await;
    if let Err(e) = sent {
        tracing::error!(error = %e, attempts, ticket = reply.ticket.id, "agent reply not delivered");
    }
}

/// HTTP routes of this channel (webhooks).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(EVENTS_PATH, post(events))
        .route(INTERACTIONS_PATH, post(interactions))
        .layer(Extension(Arc::new(Shared::default())))
}

/// Slack in the list of channels.
pub struct SlackChannel;

impl super::Channel for SlackChannel {
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

/// Starts background work (delivery of agent replies) when the channel's secrets are set; says
/// once why it stays off otherwise.
pub async fn start(state: AppState) -> Option<JoinHandle<()>> {
    let Some(api) = Api::from_settings(&state.settings.slack) else {
        eprintln!(
            "personabot: Slack is off: set PERSONABOT__SLACK__SIGNING_SECRET and PERSONABOT__SLACK__BOT_TOKEN to turn it on"
        );
        return None;
    };
    // Subscribed before returning, so no agent reply after `start` is missed.
    let events = state.pipeline.subscribe();
    eprintln!("personabot: Slack channel on: events at {EVENTS_PATH}, interactivity at {INTERACTIONS_PATH}");
    let pipeline = state.pipeline.clone();
    Some(spawn_subscribed(
        "slack agent replies",
        pipeline,
        events,
        move |events| {
            let api = api.clone();
            let ratings = rating::ask_for_ratings(api.clone(), events.resubscribe());
            let replies = kit::relay_agent_replies(
                state.clone(),
                CHANNEL,
                Arc::default(),
                events,
                move |reply| deliver_agent_reply(api.clone(), reply),
            );
            async move {
                tokio::join!(replies, ratings);
            }
        },
    ))
}

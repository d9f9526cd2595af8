//! The Slack channel (Events API + interactivity + Web API): customers write in channels the
//! app is in, in its DMs, or mention it; each Slack thread is one conversation and the bot
//! answers in the thread, with "That helped" / "Talk to a human" buttons under self-help
//! answers. Agents' replies to Slack tickets are posted back into the customer's thread.
//!
//! - `POST /slack/events`: Events API requests (`url_verification`, `event_callback`).
//! - `POST /slack/interactions`: interactivity requests (`payload=<json>`, `block_actions`).
//!
//! Both verify Slack's v0 request signature over the raw body with the signing secret and
//! refuse requests whose timestamp is more than five minutes away from now. The work is spawned
//! so Slack gets its 200 at once; events Slack retries (same `event_id`) are handled once.
//! Replies go out with `chat.postMessage` (`{api_base}/chat.postMessage`, bearer bot token),
//! retrying 429 (after its `Retry-After`) and 5xx; `{"ok":false}` is a failure. Everything the
//! bot echoes is escaped (`&`, `<`, `>`), so nothing it posts can mention or ping anyone.
//!
//! The deciding parts (signature check, conversation keys, which events to handle, Slack text to
//! plain text, escaping, blocks, button values, form decoding, retry rules) are pure functions
//! tested below; the adapter runs against a fake Slack Web API in `tests/slack.rs`.

use crate::channels::dedupe::RecentIds;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::task::JoinHandle;

use super::kit::{self, AgentReply, Failure, Ordered};
use crate::catalog::settings::SlackSettings;
use crate::engine::pipeline::{Inbound, Mode, Outcome, PipelineError};
use crate::engine::{Admission, AppState};
use crate::http::ApiError;

/// The channel name recorded with each interaction.
pub const CHANNEL: &str = "slack";

/// The button labels: a contract with deployments and their docs.
pub use super::kit::{HELPED_LABEL, HUMAN_LABEL};

/// The buttons' `action_id`s.
pub const ACTION_HELPED: &str = "pb_helped";
pub const ACTION_HUMAN: &str = "pb_human";

/// The routes.
pub const EVENTS_PATH: &str = "/slack/events";
pub const INTERACTIONS_PATH: &str = "/slack/interactions";

/// The Web API when `slack.api_base` is not set.
pub const DEFAULT_API_BASE: &str = "https://slack.com/api";

/// What the routes answer (404) when a secret is missing.
pub const OFF: &str =
    "the Slack channel is off: set PERSONABOT__SLACK__SIGNING_SECRET and PERSONABOT__SLACK__BOT_TOKEN";

/// Requests whose timestamp is further than this from now (either way) are refused.
pub const MAX_SKEW_SECS: u64 = 5 * 60;

/// Longest text of a section block (Slack's limit).
pub const MAX_SECTION: usize = 3000;

/// Timeout of one Web API call.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

const REFUSAL: &str = "These buttons are for the person who asked.";
const ASKED_FOR_HUMAN: &str = "_You asked to talk to a human._";
const SOMETHING_WRONG: &str = "Sorry, something went wrong. Please try again in a moment.";

// ----------------------------------------------------------------------------------------------
// Pure helpers
// ----------------------------------------------------------------------------------------------

/// The signing secret and bot token, when both are set (else the channel is off).
pub fn secrets(settings: &SlackSettings) -> Option<(&str, &str)> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    Some((set(&settings.signing_secret)?, set(&settings.bot_token)?))
}

/// The Web API base URL, without a trailing slash.
pub fn api_base(settings: &SlackSettings) -> String {
    settings
        .api_base
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(DEFAULT_API_BASE)
        .trim_end_matches('/')
        .to_string()
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `X-Slack-Request-Timestamp` or `X-Slack-Signature` header.
    Missing,
    /// The timestamp is not a number.
    BadTimestamp,
    /// The timestamp is more than five minutes from now (a replay, or a wrong clock).
    Stale,
    /// The signature is not `v0=` and 64 hex digits.
    Malformed,
    /// The signature does not match the body.
    Mismatch,
}

impl SignatureError {
    pub fn message(self) -> &'static str {
        match self {
            SignatureError::Missing => {
                "missing X-Slack-Request-Timestamp or X-Slack-Signature header"
            }
            SignatureError::BadTimestamp => "X-Slack-Request-Timestamp is not a number",
            SignatureError::Stale => {
                "X-Slack-Request-Timestamp is more than 5 minutes from now; refused as a possible replay"
            }
            SignatureError::Malformed | SignatureError::Mismatch => {
                "the X-Slack-Signature does not match the request"
            }
        }
    }
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// The `X-Slack-Signature` of `body` sent at `timestamp`: `v0=` and the hex HMAC-SHA256 of
/// `v0:{timestamp}:{body}` keyed with the signing secret.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(67);
    out.push_str("v0=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Checks a request's signature headers against its raw body, at `now` (Unix seconds). The
/// comparison is constant-time.
pub fn verify_signature(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now.abs_diff(at) > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = signature
        .strip_prefix("v0=")
        .and_then(decode_hex)
        .filter(|d| d.len() == 32)
        .ok_or(SignatureError::Malformed)?;
    mac(secret, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The conversation of a Slack message: its channel and thread (the thread's first message, or
/// the message itself when it starts one).
pub fn conversation_key(channel: &str, thread_ts: &str) -> String {
    format!("{channel}/{thread_ts}")
}

/// `true` for a Slack timestamp: digits, a dot, digits (`1700000000.000100`).
fn is_ts(ts: &str) -> bool {
    let Some((secs, micros)) = ts.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(secs) && digits(micros)
}

/// The channel and thread a conversation's messages go to.
pub fn parse_conversation(key: &str) -> Option<(&str, &str)> {
    let (channel, thread_ts) = key.split_once('/')?;
    let channel_ok = !channel.is_empty() && channel.bytes().all(|b| b.is_ascii_alphanumeric());
    (channel_ok && is_ts(thread_ts)).then_some((channel, thread_ts))
}

/// Escapes Slack's control characters (`&`, `<`, `>`), so echoed text cannot mention, ping or
/// link anything: `<!everyone>` shows as text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts already-escaped mrkdwn to `max` characters, on a character boundary and never inside
/// an `&...;` entity, marking the cut with an ellipsis.
pub fn fit(mrkdwn: &str, max: usize) -> String {
    if mrkdwn.chars().count() <= max {
        return mrkdwn.to_string();
    }
    let mut out: String = mrkdwn.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = out.rfind('&') {
        if !out[amp..].contains(';') {
            out.truncate(amp);
        }
    }
    out.push('…');
    out
}

/// Slack's encoded message text as the customer wrote it: `<@U1|ann>` becomes `@ann`,
/// `<#C1|general>` `#general`, `<!here>` `@here`, `<https://x|label>` `label`, `<https://x>`
/// the URL, and `&lt;` `&gt;` `&amp;` their characters.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let token = &after[..close];
        let (target, label) = match token.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (token, None),
        };
        let shown = match (target.chars().next(), label) {
            (Some('@'), Some(l)) => format!("@{}", l.trim_start_matches('@')),
            (Some('#'), Some(l)) => format!("#{}", l.trim_start_matches('#')),
            (Some('@' | '#'), None) => target.to_string(),
            (Some('!'), Some(l)) => l.to_string(),
            (Some('!'), None) => {
                let word = target[1..].split('^').next().unwrap_or_default();
                format!("@{word}")
            }
            (_, Some(l)) => l.to_string(),
            (_, None) => target.to_string(),
        };
        out.push_str(&shown);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Drops a leading mention (`<@UBOT>` addressing the bot) from encoded text.
fn strip_leading_mention<'a>(text: &'a str, bot_user: Option<&str>, any: bool) -> &'a str {
    let trimmed = text.trim_start();
    let Some(inner) = trimmed.strip_prefix("<@") else {
        return text;
    };
    let Some(close) = inner.find('>') else {
        return text;
    };
    let id = inner[..close].split('|').next().unwrap_or_default();
    if any || bot_user == Some(id) {
        inner[close + 1..].trim_start()
    } else {
        text
    }
}

/// A customer's message to handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMessage {
    pub channel: String,
    pub user: String,
    /// The text as the customer wrote it (see [`plain_text`]).
    pub text: String,
    pub ts: String,
    /// The thread the message is in (its own `ts` when it starts one): replies go there.
    pub thread_ts: String,
}

impl SlackMessage {
    pub fn conversation(&self) -> String {
        conversation_key(&self.channel, &self.thread_ts)
    }
}

/// What to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventVerdict {
    Handle(SlackMessage),
    /// Not for the bot; the reason is for the debug log.
    Ignore(&'static str),
}

/// Message subtypes that are still a person writing (a file with a comment, a thread reply
/// also sent to the channel).
const PERSON_SUBTYPES: [&str; 2] = ["file_share", "thread_broadcast"];

/// Decides whether an Events API `event` is a customer's message: `message` and `app_mention`
/// from people; not bots (`bot_id`, `bot_message`), not the bot itself, not edits, deletions,
/// joins or other subtypes, not empty messages.
pub fn classify_event(event: &Value, bot_user: Option<&str>) -> EventVerdict {
    let kind = event["type"].as_str().unwrap_or_default();
    if kind != "message" && kind != "app_mention" {
        return EventVerdict::Ignore("not a message event");
    }
    let subtype = event["subtype"].as_str();
    if !event["bot_id"].is_null()
        || subtype == Some("bot_message")
        || !event["bot_profile"].is_null()
    {
        return EventVerdict::Ignore("a bot's message");
    }
    if subtype.is_some_and(|s| !PERSON_SUBTYPES.contains(&s)) || event["hidden"] == true {
        return EventVerdict::Ignore("an edit, deletion or other message subtype");
    }
    let field = |name: &str| {
        event[name]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let Some(user) = field("user") else {
        return EventVerdict::Ignore("a message without a user");
    };
    if bot_user == Some(user) {
        return EventVerdict::Ignore("the bot's own message");
    }
    let (Some(channel), Some(ts)) = (field("channel"), field("ts")) else {
        return EventVerdict::Ignore("a message without a channel or ts");
    };
    let raw = event["text"].as_str().unwrap_or_default();
    let text = plain_text(strip_leading_mention(raw, bot_user, kind == "app_mention"));
    if text.trim().is_empty() {
        return EventVerdict::Ignore("a message without text");
    }
    EventVerdict::Handle(SlackMessage {
        channel: channel.to_string(),
        user: user.to_string(),
        text,
        ts: ts.to_string(),
        thread_ts: field("thread_ts").unwrap_or(ts).to_string(),
    })
}

/// The bot's own user id, from an `event_callback`'s `authorizations`.
pub fn bot_user_of(callback: &Value) -> Option<&str> {
    callback["authorizations"]
        .as_array()?
        .iter()
        .find(|a| a["is_bot"] == true)
        .and_then(|a| a["user_id"].as_str())
}

/// The value carried by the buttons under an answer: who asked, and in which conversation.
pub fn button_value(user: &str, conversation: &str) -> String {
    format!("{user}|{conversation}")
}

/// (user, conversation) from a button value.
pub fn parse_button_value(value: &str) -> Option<(&str, &str)> {
    let (user, conversation) = value.split_once('|')?;
    (!user.is_empty() && parse_conversation(conversation).is_some()).then_some((user, conversation))
}

/// A section block of (already escaped) mrkdwn; `verbatim` keeps Slack from turning anything in
/// it into links or mentions.
pub fn section(mrkdwn: &str) -> Value {
    json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": fit(mrkdwn, MAX_SECTION), "verbatim": true },
    })
}

/// The customer's two buttons under a self-help answer.
pub fn feedback_actions(value: &str) -> Value {
    let button = |action: &str, label: &str| {
        json!({
            "type": "button",
            "action_id": action,
            "text": { "type": "plain_text", "text": label, "emoji": false },
            "value": value,
        })
    };
    let mut helped = button(ACTION_HELPED, HELPED_LABEL);
    helped["style"] = json!("primary");
    json!({
        "type": "actions",
        "block_id": "pb_feedback",
        "elements": [helped, button(ACTION_HUMAN, HUMAN_LABEL)],
    })
}

/// The blocks of a message: the text, and the buttons when `feedback` (their value) is given.
pub fn blocks(mrkdwn: &str, feedback: Option<&str>) -> Vec<Value> {
    let mut blocks = vec![section(mrkdwn)];
    if let Some(value) = feedback {
        blocks.push(feedback_actions(value));
    }
    blocks
}

/// The `chat.postMessage` body of a reply in a thread. Nothing in it links or pings: the text
/// is escaped mrkdwn, `parse` is `none` and `link_names` is off.
pub fn post_message_body(
    channel: &str,
    thread_ts: &str,
    mrkdwn: &str,
    feedback: Option<&str>,
) -> Value {
    json!({
        "channel": channel,
        "thread_ts": thread_ts,
        "text": fit(mrkdwn, MAX_SECTION),
        "blocks": blocks(mrkdwn, feedback),
        "link_names": false,
        "parse": "none",
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// Whether a reply gets the two buttons: only a self-help answer (as on Discord).
pub fn wants_buttons(outcome: &Outcome) -> bool {
    outcome.decision.offers_feedback()
}

/// An agent's reply as the customer sees it: "*Team (agent):* text", escaped.
pub fn agent_reply_text(team: &str, agent: &str, text: &str) -> String {
    format!("*{} ({}):* {}", escape(team), escape(agent), escape(text))
}

/// The answer's text after a button press: the buttons go, the outcome is appended.
pub fn pressed_text(original: &str, helped: bool, reply: Option<&str>) -> String {
    let outcome = match (helped, reply) {
        (true, Some(r)) => escape(r),
        (true, None) => format!("_{HELPED_LABEL}_"),
        (false, _) => ASKED_FOR_HUMAN.to_string(),
    };
    let room = MAX_SECTION.saturating_sub(outcome.chars().count() + 2);
    if original.trim().is_empty() {
        outcome
    } else {
        format!("{}\n\n{outcome}", fit(original, room))
    }
}

/// A press on one of the answer's buttons, from a `block_actions` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Press {
    pub helped: bool,
    /// The customer the buttons are for.
    pub asker: String,
    pub conversation: String,
    /// Who pressed.
    pub presser: String,
    pub response_url: Option<String>,
    /// Channel and ts of the message with the buttons (for `chat.update` without a
    /// `response_url`).
    pub channel: Option<String>,
    pub message_ts: Option<String>,
    /// The answer's text as posted (escaped mrkdwn).
    pub original: String,
}

/// Reads a `block_actions` payload: `None` unless it is a press on one of our buttons.
pub fn parse_press(payload: &Value) -> Option<Press> {
    if payload["type"] != "block_actions" {
        return None;
    }
    let action = payload["actions"]
        .as_array()?
        .iter()
        .find(|a| matches!(a["action_id"].as_str(), Some(ACTION_HELPED | ACTION_HUMAN)))?;
    let helped = action["action_id"] == ACTION_HELPED;
    let (asker, conversation) = parse_button_value(action["value"].as_str()?)?;
    let presser = payload["user"]["id"].as_str().filter(|u| !u.is_empty())?;
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
    let message = &payload["message"];
    let original = message["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "section"))
        .and_then(|b| text(&b["text"]["text"]))
        .or_else(|| text(&message["text"]))
        .unwrap_or_default();
    Some(Press {
        helped,
        asker: asker.to_string(),
        conversation: conversation.to_string(),
        presser: presser.to_string(),
        response_url: text(&payload["response_url"]),
        channel: text(&payload["container"]["channel_id"])
            .or_else(|| text(&payload["channel"]["id"])),
        message_ts: text(&payload["container"]["message_ts"]).or_else(|| text(&message["ts"])),
        original,
    })
}

/// The value of `key` in an `application/x-www-form-urlencoded` body.
pub fn form_value(body: &[u8], key: &str) -> Option<String> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let mut parts = pair.splitn(2, |b| *b == b'=');
        let name = percent_decode(parts.next()?)?;
        (name == key).then(|| percent_decode(parts.next().unwrap_or_default()))?
    })
}

fn percent_decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(decode_hex(std::str::from_utf8(hex).ok()?)?[0]);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// How a failed Web API call is retried ([`kit::retry_wait`]): a 429 with its `Retry-After`
/// (seconds), a 5xx, or a connection never made (`None`); anything else is final.
pub fn failure(status: Option<u16>, retry_after: Option<&str>) -> Failure {
    match status {
        Some(429) => Failure::RateLimited(
            retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        ),
        Some(s) if s >= 500 => Failure::Server,
        None => Failure::Unreachable,
        Some(_) => Failure::Final,
    }
}

// ----------------------------------------------------------------------------------------------
// The Web API client
// ----------------------------------------------------------------------------------------------

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// Where a call goes: a Web API method (with the bot token) or a `response_url`.
enum Target<'a> {
    Method {
        base: &'a str,
        token: &'a str,
        method: &'a str,
    },
    ResponseUrl(&'a str),
}

/// Posts JSON, retrying as [`failure`] and [`kit::retry_wait`] say. Returns Slack's answer or
/// the last error (never a URL or the token), and the attempts made.
async fn call(target: Target<'_>, body: &Value) -> (Result<Value, String>, u32) {
    let (url, what) = match &target {
        Target::Method { base, method, .. } => (format!("{base}/{method}"), (*method).to_string()),
        Target::ResponseUrl(url) => (url.to_string(), "response_url".to_string()),
    };
    kit::with_retries("Slack call", || {
        let mut request = client().post(&url).json(body);
        if let Target::Method { token, .. } = &target {
            request = request.bearer_auth(token);
        }
        let what = what.clone();
        async move {
            let response = match request.send().await {
                Ok(response) => response,
                // A timeout is final: the message may have arrived, so it is not sent twice.
                Err(e) => {
                    let failure = if e.is_connect() {
                        Failure::Unreachable
                    } else {
                        Failure::Final
                    };
                    return Err((failure, format!("{what}: {}", e.without_url())));
                }
            };
            let status = response.status();
            if !status.is_success() {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                return Err((
                    failure(Some(status.as_u16()), retry_after.as_deref()),
                    format!("{what}: HTTP {}", status.as_u16()),
                ));
            }
            let text = response.text().await.unwrap_or_default();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if v["ok"] == false => {
                    let error = v["error"].as_str().unwrap_or("unknown error");
                    Err((
                        Failure::Final,
                        format!("{what}: Slack answered ok=false: {error}"),
                    ))
                }
                Ok(v) => Ok(v),
                // A response_url answers plain `ok`.
                Err(_) => Ok(Value::Null),
            }
        }
    })
    .await
}

/// The Web API, as configured.
#[derive(Clone)]
struct Api {
    base: String,
    token: String,
}

impl Api {
    fn from_settings(settings: &SlackSettings) -> Option<Api> {
        let (_, token) = secrets(settings)?;
        Some(Api {
            base: api_base(settings),
            token: token.to_string(),
        })
    }

    async fn call(&self, method: &str, body: &Value) -> (Result<Value, String>, u32) {
        let target = Target::Method {
            base: &self.base,
            token: &self.token,
            method,
        };
        call(target, body).await
    }

    /// Posts (escaped) mrkdwn in a thread.
    async fn post(
        &self,
        channel: &str,
        thread_ts: &str,
        mrkdwn: &str,
        feedback: Option<&str>,
    ) -> (Result<Value, String>, u32) {
        let body = post_message_body(channel, thread_ts, mrkdwn, feedback);
        self.call("chat.postMessage", &body).await
    }
}

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

impl Shared {}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The configured Web API, after checking the request's signature; else the error response.
fn check_request(
    state: &AppState,
    endpoint: &str,
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
            .post(&m.channel, &m.thread_ts, &escape(&notice), None)
            .await;
    }
    false
}

async fn on_message(state: &AppState, api: &Api, m: SlackMessage) {
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
                .post(&m.channel, &m.thread_ts, &escape(&e.user_message()), None)
                .await;
            return;
        }
    };
    let Some(reply) = &outcome.reply else {
        return; // an agent owns the conversation
    };
    let value = wants_buttons(&outcome).then(|| button_value(&m.user, &m.conversation()));
    let (result, attempts) = api
        .post(&m.channel, &m.thread_ts, &escape(reply), value.as_deref())
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
    let Some(press) = parse_press(&payload) else {
        tracing::debug!(kind = ?payload["type"].as_str(), "Slack interaction ignored");
        return Ok(StatusCode::OK.into_response());
    };
    let key = press.conversation.clone();
    let running = state.handlers.enter();
    shared.chains.in_order(key, async move {
        let _running = running;
        on_press(&state, &api, press).await;
    });
    Ok(StatusCode::OK.into_response())
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
    let (result, _) = match (&p.response_url, &p.channel, &p.message_ts) {
        (Some(url), ..) => {
            let body = json!({
                "replace_original": true,
                "text": fit(mrkdwn, MAX_SECTION),
                "blocks": blocks(mrkdwn, None),
            });
            call(Target::ResponseUrl(url), &body).await
        }
        (None, Some(channel), Some(ts)) => {
            let body = json!({
                "channel": channel,
                "ts": ts,
                "text": fit(mrkdwn, MAX_SECTION),
                "blocks": blocks(mrkdwn, None),
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
                    let (sent, attempts) = api.post(channel, thread, &escape(reply), None).await;
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
    let (sent, attempts) = api.post(channel, thread, &mrkdwn, None).await;
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

/// Starts background work (delivery of agent replies, polling) when the channel's secrets are
/// set; says once why it stays off otherwise.
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
        Box::pin(async move {
            Ok(super::Running {
                tasks: start(state).await.into_iter().collect(),
                stop: None,
            })
        })
    }
}

pub async fn start(state: AppState) -> Option<JoinHandle<()>> {
    let Some(api) = Api::from_settings(&state.settings.slack) else {
        eprintln!(
            "personabot: Slack is off: set PERSONABOT__SLACK__SIGNING_SECRET and PERSONABOT__SLACK__BOT_TOKEN to turn it on"
        );
        return None;
    };
    let events = state.pipeline.subscribe();
    eprintln!("personabot: Slack channel on: events at {EVENTS_PATH}, interactivity at {INTERACTIONS_PATH}");
    Some(tokio::spawn(kit::relay_agent_replies(
        state,
        CHANNEL,
        Arc::default(),
        events,
        move |reply| deliver_agent_reply(api.clone(), reply),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's worked example (docs: "Verifying requests from Slack").
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: &str = "1531420618";
    const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn signature_matches_slacks_example() {
        assert_eq!(signature(DOC_SECRET, DOC_TS, DOC_BODY.as_bytes()), DOC_SIG);
    }

    #[test]
    fn signature_table() {
        let now: i64 = 1_531_420_618;
        let body = DOC_BODY.as_bytes();
        let upper = DOC_SIG.to_ascii_uppercase().replacen("V0=", "v0=", 1);
        let other_secret = signature("another-secret", DOC_TS, body);
        /// (timestamp header, signature header, body, now, verdict)
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            &'a [u8],
            i64,
            Result<(), SignatureError>,
        );
        let cases: Vec<Case> = vec![
            (Some(DOC_TS), Some(DOC_SIG), body, now, Ok(())),
            (Some(DOC_TS), Some(&upper), body, now, Ok(())),
            (Some(DOC_TS), Some(DOC_SIG), body, now + 300, Ok(())),
            (Some(DOC_TS), Some(DOC_SIG), body, now - 300, Ok(())),
            (
                Some(DOC_TS),
                Some(DOC_SIG),
                body,
                now + 301,
                Err(SignatureError::Stale),
            ),
            (
                Some(DOC_TS),
                Some(DOC_SIG),
                body,
                now + 360,
                Err(SignatureError::Stale),
            ),
            (
                Some(DOC_TS),
                Some(DOC_SIG),
                body,
                now - 360,
                Err(SignatureError::Stale),
            ),
            (
                Some(DOC_TS),
                Some(DOC_SIG),
                b"token=tampered",
                now,
                Err(SignatureError::Mismatch),
            ),
            (
                Some(DOC_TS),
                Some(&other_secret),
                body,
                now,
                Err(SignatureError::Mismatch),
            ),
            (
                Some("1531420619"),
                Some(DOC_SIG),
                body,
                now,
                Err(SignatureError::Mismatch),
            ),
            (None, Some(DOC_SIG), body, now, Err(SignatureError::Missing)),
            (Some(DOC_TS), None, body, now, Err(SignatureError::Missing)),
            (None, None, body, now, Err(SignatureError::Missing)),
            (
                Some("soon"),
                Some(DOC_SIG),
                body,
                now,
                Err(SignatureError::BadTimestamp),
            ),
            (
                Some(" 1531420618"),
                Some(DOC_SIG),
                body,
                now,
                Err(SignatureError::BadTimestamp),
            ),
            (
                Some(DOC_TS),
                Some(&DOC_SIG[3..]),
                body,
                now,
                Err(SignatureError::Malformed),
            ),
            (
                Some(DOC_TS),
                Some("v1=abcd"),
                body,
                now,
                Err(SignatureError::Malformed),
            ),
            (
                Some(DOC_TS),
                Some("v0=zz"),
                body,
                now,
                Err(SignatureError::Malformed),
            ),
            (
                Some(DOC_TS),
                Some(&DOC_SIG[..66]),
                body,
                now,
                Err(SignatureError::Malformed),
            ),
            (
                Some(DOC_TS),
                Some(""),
                body,
                now,
                Err(SignatureError::Malformed),
            ),
            (
                Some("-9223372036854775808"),
                Some(DOC_SIG),
                body,
                now,
                Err(SignatureError::Stale),
            ),
        ];
        for (n, (ts, sig, body, now, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                verify_signature(DOC_SECRET, ts, sig, body, now),
                want,
                "case {n}"
            );
        }
    }

    #[test]
    fn conversation_keys_table() {
        let cases = [
            ("C123", "1700000000.000100", "C123/1700000000.000100"),
            ("D0ABC", "1.2", "D0ABC/1.2"),
        ];
        for (channel, ts, key) in cases {
            assert_eq!(conversation_key(channel, ts), key);
            assert_eq!(parse_conversation(key), Some((channel, ts)), "{key}");
        }
        for bad in [
            "",
            "C123",
            "C123/",
            "/1700000000.000100",
            "C123/1700000000",
            "C123/abc.def",
            "C123/1.2/3",
            "C 1/1.2",
            "42",
        ] {
            assert_eq!(parse_conversation(bad), None, "{bad:?}");
        }
    }

    fn message(text: &str) -> Value {
        json!({ "type": "message", "channel": "C1", "user": "U1", "text": text,
                "ts": "1700000000.000100", "channel_type": "channel" })
    }

    fn handled(text: &str, thread_ts: &str) -> EventVerdict {
        EventVerdict::Handle(SlackMessage {
            channel: "C1".into(),
            user: "U1".into(),
            text: text.into(),
            ts: "1700000000.000100".into(),
            thread_ts: thread_ts.into(),
        })
    }

    #[test]
    fn which_events_to_handle() {
        let root = "1700000000.000100";
        let with = |mut v: Value, key: &str, value: Value| {
            v[key] = value;
            v
        };
        let cases: Vec<(Value, EventVerdict)> = vec![
            (message("how much is it?"), handled("how much is it?", root)),
            (
                with(
                    message("and for 5 seats?"),
                    "thread_ts",
                    json!("1699999999.000001"),
                ),
                handled("and for 5 seats?", "1699999999.000001"),
            ),
            (
                with(message("<@UBOT> how much?"), "type", json!("app_mention")),
                handled("how much?", root),
            ),
            (message("<@UBOT> how much?"), handled("how much?", root)),
            (
                message("ask <@U2|bob> about it"),
                handled("ask @bob about it", root),
            ),
            (
                with(message("see the file"), "subtype", json!("file_share")),
                handled("see the file", root),
            ),
            (
                with(
                    message("also in channel"),
                    "subtype",
                    json!("thread_broadcast"),
                ),
                handled("also in channel", root),
            ),
            (
                with(message("beep"), "bot_id", json!("B1")),
                EventVerdict::Ignore("a bot's message"),
            ),
            (
                with(message("beep"), "subtype", json!("bot_message")),
                EventVerdict::Ignore("a bot's message"),
            ),
            (
                with(message("edited"), "subtype", json!("message_changed")),
                EventVerdict::Ignore("an edit, deletion or other message subtype"),
            ),
            (
                with(message(""), "subtype", json!("message_deleted")),
                EventVerdict::Ignore("an edit, deletion or other message subtype"),
            ),
            (
                with(message("joined"), "subtype", json!("channel_join")),
                EventVerdict::Ignore("an edit, deletion or other message subtype"),
            ),
            (
                with(message("hi"), "user", json!("UBOT")),
                EventVerdict::Ignore("the bot's own message"),
            ),
            (
                with(message("hi"), "user", Value::Null),
                EventVerdict::Ignore("a message without a user"),
            ),
            (
                with(message("hi"), "channel", Value::Null),
                EventVerdict::Ignore("a message without a channel or ts"),
            ),
            (
                message("   "),
                EventVerdict::Ignore("a message without text"),
            ),
            (
                message("<@UBOT>"),
                EventVerdict::Ignore("a message without text"),
            ),
            (
                json!({ "type": "reaction_added", "user": "U1" }),
                EventVerdict::Ignore("not a message event"),
            ),
            (json!(null), EventVerdict::Ignore("not a message event")),
        ];
        for (n, (event, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                classify_event(&event, Some("UBOT")),
                want,
                "case {n}: {event}"
            );
        }
        // Another user's mention at the start stays (only app_mention drops any leading one).
        assert_eq!(
            classify_event(&message("<@U2> how much?"), Some("UBOT")),
            handled("@U2 how much?", root)
        );
        let callback = json!({ "authorizations": [{ "user_id": "UBOT", "is_bot": true }] });
        assert_eq!(bot_user_of(&callback), Some("UBOT"));
        assert_eq!(bot_user_of(&json!({})), None);
    }

    #[test]
    fn plain_text_table() {
        let cases = [
            ("plain", "plain"),
            ("hi <@U1>", "hi @U1"),
            ("hi <@U1|ann>", "hi @ann"),
            ("in <#C1|general>", "in #general"),
            (
                "<!here> and <!channel> and <!everyone>",
                "@here and @channel and @everyone",
            ),
            ("<!subteam^S1|@team> help", "@team help"),
            ("<!date^1392734382^{date}|Feb 18>", "Feb 18"),
            (
                "see <https://x.example/a?b=1&amp;c=2>",
                "see https://x.example/a?b=1&c=2",
            ),
            ("see <https://x.example|the docs>", "see the docs"),
            ("mail <mailto:a@b.com|a@b.com>", "mail a@b.com"),
            ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
            ("&amp;lt;", "&lt;"),
            ("unclosed <here", "unclosed <here"),
            ("naïve café", "naïve café"),
        ];
        for (input, want) in cases {
            assert_eq!(plain_text(input), want, "{input:?}");
        }
    }

    #[test]
    fn escape_table() {
        let cases = [
            ("plain text", "plain text"),
            ("<!everyone> now", "&lt;!everyone&gt; now"),
            ("<!channel> <!here>", "&lt;!channel&gt; &lt;!here&gt;"),
            (
                "hi <@U123> and <!subteam^S1>",
                "hi &lt;@U123&gt; and &lt;!subteam^S1&gt;",
            ),
            (
                "<https://evil.example|click>",
                "&lt;https://evil.example|click&gt;",
            ),
            ("Q&A", "Q&amp;A"),
            ("&lt;", "&amp;lt;"),
            ("naïve @ café", "naïve @ café"),
        ];
        for (input, want) in cases {
            let escaped = escape(input);
            assert_eq!(escaped, want, "{input:?}");
            assert!(!escaped.contains('<') && !escaped.contains('>'));
            assert_eq!(plain_text(&escaped), input, "round trip of {input:?}");
        }
    }

    #[test]
    fn fit_table() {
        let cases: &[(&str, usize, &str)] = &[
            ("hello", 10, "hello"),
            ("hello", 5, "hello"),
            ("hello!", 5, "hell…"),
            ("héllo wörld", 5, "héll…"),
            // Never half an entity.
            ("ab &amp; cd", 6, "ab …"),
            ("ab &amp; cd", 9, "ab &amp;…"),
        ];
        for (text, max, want) in cases {
            assert_eq!(fit(text, *max), *want, "{text:?} {max}");
        }
        assert_eq!(
            fit(&"x".repeat(5000), MAX_SECTION).chars().count(),
            MAX_SECTION
        );
    }

    #[test]
    fn blocks_table() {
        let value = button_value("U1", "C1/1700000000.000100");
        assert_eq!(
            parse_button_value(&value),
            Some(("U1", "C1/1700000000.000100"))
        );
        for bad in ["", "U1", "|C1/1.2", "U1|C1", "U1|C1/x"] {
            assert_eq!(parse_button_value(bad), None, "{bad:?}");
        }
        let cases: Vec<(Option<&str>, Vec<&str>)> = vec![
            (None, vec!["section"]),
            (Some(value.as_str()), vec!["section", "actions"]),
        ];
        for (feedback, kinds) in cases {
            let body = post_message_body("C1", "1700000000.000100", "a &lt;b&gt;", feedback);
            let got: Vec<&str> = body["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["type"].as_str().unwrap())
                .collect();
            assert_eq!(got, kinds);
            assert_eq!(body["channel"], "C1");
            assert_eq!(body["thread_ts"], "1700000000.000100");
            assert_eq!(body["text"], "a &lt;b&gt;");
            assert_eq!(body["link_names"], false);
            assert_eq!(body["parse"], "none");
            assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
            assert_eq!(body["blocks"][0]["text"]["verbatim"], true);
        }
        let actions = feedback_actions(&value);
        let buttons: Vec<(&str, &str, &str)> = actions["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["text"]["text"].as_str().unwrap(),
                    b["action_id"].as_str().unwrap(),
                    b["value"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            buttons,
            [
                ("That helped", ACTION_HELPED, value.as_str()),
                ("Talk to a human", ACTION_HUMAN, value.as_str())
            ]
        );
        assert_eq!(
            agent_reply_text("Sales", "ann <@U1>", "hi <!everyone> & bye"),
            "*Sales (ann &lt;@U1&gt;):* hi &lt;!everyone&gt; &amp; bye"
        );
    }

    #[test]
    fn pressed_text_table() {
        let cases = [
            ("Answer", true, Some("Great!"), "Answer\n\nGreat!"),
            ("Answer", true, None, "Answer\n\n_That helped_"),
            (
                "Answer",
                false,
                Some("passed to Sales"),
                "Answer\n\n_You asked to talk to a human._",
            ),
            ("", true, Some("a <b>"), "a &lt;b&gt;"),
        ];
        for (original, helped, reply, want) in cases {
            assert_eq!(
                pressed_text(original, helped, reply),
                want,
                "{original:?} {helped}"
            );
        }
        let long = "y".repeat(MAX_SECTION);
        assert!(pressed_text(&long, true, Some("ok")).chars().count() <= MAX_SECTION);
    }

    #[test]
    fn presses_table() {
        let value = button_value("U1", "C1/1700000000.000100");
        let payload = |action: &str, presser: &str| {
            json!({
                "type": "block_actions",
                "user": { "id": presser },
                "container": { "type": "message", "channel_id": "C1", "message_ts": "1700000001.000200" },
                "channel": { "id": "C1" },
                "message": { "ts": "1700000001.000200", "text": "fallback",
                             "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "The answer" } }] },
                "response_url": "https://hooks.slack.com/actions/T1/1/x",
                "actions": [{ "action_id": action, "value": value, "type": "button" }],
            })
        };
        let press = parse_press(&payload(ACTION_HELPED, "U1")).unwrap();
        assert_eq!(
            press,
            Press {
                helped: true,
                asker: "U1".into(),
                conversation: "C1/1700000000.000100".into(),
                presser: "U1".into(),
                response_url: Some("https://hooks.slack.com/actions/T1/1/x".into()),
                channel: Some("C1".into()),
                message_ts: Some("1700000001.000200".into()),
                original: "The answer".into(),
            }
        );
        let human = parse_press(&payload(ACTION_HUMAN, "U2")).unwrap();
        assert!(!human.helped);
        assert_eq!((human.asker.as_str(), human.presser.as_str()), ("U1", "U2"));
        assert_eq!(parse_press(&payload("someone_elses_button", "U1")), None);
        let mut view = payload(ACTION_HELPED, "U1");
        view["type"] = json!("view_submission");
        assert_eq!(parse_press(&view), None);
        let mut bad_value = payload(ACTION_HELPED, "U1");
        bad_value["actions"][0]["value"] = json!("nonsense");
        assert_eq!(parse_press(&bad_value), None);
        let mut no_blocks = payload(ACTION_HELPED, "U1");
        no_blocks["message"]["blocks"] = json!([]);
        assert_eq!(parse_press(&no_blocks).unwrap().original, "fallback");
    }

    #[test]
    fn form_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("payload=%7B%22a%22%3A1%7D", "payload", Some("{\"a\":1}")),
            ("x=1&payload=a+b%2Bc", "payload", Some("a b+c")),
            ("payload=", "payload", Some("")),
            ("payloads=1", "payload", None),
            ("x=1", "payload", None),
            ("payload=%zz", "payload", None),
            ("payload=%E2%9C%93", "payload", Some("✓")),
            ("", "payload", None),
        ];
        for (body, key, want) in cases {
            assert_eq!(
                form_value(body.as_bytes(), key).as_deref(),
                *want,
                "{body:?}"
            );
        }
    }

    #[test]
    fn failures_table() {
        let s = Duration::from_secs;
        let cases = [
            (Some(429), Some("3"), Failure::RateLimited(Some(s(3)))),
            (Some(429), None, Failure::RateLimited(None)),
            (Some(429), Some("soon"), Failure::RateLimited(None)),
            (Some(429), Some("3600"), Failure::RateLimited(Some(s(3600)))),
            (Some(500), None, Failure::Server),
            (Some(503), None, Failure::Server),
            (None, None, Failure::Unreachable),
            (Some(400), None, Failure::Final),
            (Some(404), None, Failure::Final),
        ];
        for (status, after, want) in cases {
            assert_eq!(failure(status, after), want, "{status:?} {after:?}");
        }
        // An hour's Retry-After is more than the policy waits: the send fails.
        assert_eq!(kit::retry_wait(failure(Some(429), Some("3600")), 1), None);
    }

    #[test]
    fn secrets_table() {
        let settings = |secret: Option<&str>, token: Option<&str>| SlackSettings {
            signing_secret: secret.map(String::from),
            bot_token: token.map(String::from),
            api_base: None,
        };
        let cases = [
            (None, None, false),
            (Some("s"), None, false),
            (None, Some("t"), false),
            (Some(""), Some("t"), false),
            (Some("s"), Some(" "), false),
            (Some("s"), Some("t"), true),
        ];
        for (secret, token, on) in cases {
            assert_eq!(
                secrets(&settings(secret, token)).is_some(),
                on,
                "{secret:?} {token:?}"
            );
        }
        assert_eq!(api_base(&settings(None, None)), DEFAULT_API_BASE);
        let mut s = settings(None, None);
        s.api_base = Some("http://127.0.0.1:9/api/".into());
        assert_eq!(api_base(&s), "http://127.0.0.1:9/api");
    }
}

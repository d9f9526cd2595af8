//! Slack's wire format, all pure: request signatures, conversation keys, which events to
//! handle, Slack text to plain text, escaping, blocks and button values, button presses, form
//! decoding, and how a failed Web API call is retried. Tested in `wire/tests.rs`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::channels::kit::{Action, Buttons, Choice, Failure, HELPED_LABEL};
use crate::core::hex;
use crate::core::model::is_valid_id;

/// The buttons' `action_id`s; a clarifying question's options are `pb_choose_1`, `pb_choose_2`...
pub const ACTION_HELPED: &str = "pb_helped";
pub const ACTION_HUMAN: &str = "pb_human";
pub const ACTION_CHOOSE: &str = "pb_choose_";

/// Slack's limits: elements in an actions block, characters in a button's text.
const MAX_ELEMENTS: usize = 25;
const MAX_BUTTON_TEXT: usize = 75;

/// Requests whose timestamp is further than this from now (either way) are refused.
pub const MAX_SKEW_SECS: u64 = 5 * 60;

/// Longest text of a section block (Slack's limit).
pub const MAX_SECTION: usize = 3000;

const ASKED_FOR_HUMAN: &str = "_You asked to talk to a human._";

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
    format!("v0={}", hex::encode(&digest))
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
        .and_then(hex::decode)
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
    crate::channels::markdown::slack_escape(text)
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

fn button(action: &str, label: &str, value: &str) -> Value {
    json!({
        "type": "button",
        "action_id": action,
        "text": { "type": "plain_text", "text": fit(label, MAX_BUTTON_TEXT), "emoji": false },
        "value": value,
    })
}

/// The customer's feedback buttons under a self-help answer, as the turn's `actions` list them;
/// `value` is [`button_value`].
pub fn feedback_actions(value: &str, actions: &[Action]) -> Value {
    let elements: Vec<Value> = actions
        .iter()
        .map(|a| match a {
            Action::Helped => {
                let mut helped = button(ACTION_HELPED, a.label(), value);
                helped["style"] = json!("primary");
                helped
            }
            Action::Human => button(ACTION_HUMAN, a.label(), value),
        })
        .collect();
    json!({ "type": "actions", "block_id": "pb_feedback", "elements": elements })
}

/// A clarifying question's options as buttons; each carries [`button_value`] and the option's
/// intent id (`U1|C1/1.2|pricing`).
pub fn choice_actions(value: &str, choices: &[Choice]) -> Value {
    let elements: Vec<Value> = choices
        .iter()
        .take(MAX_ELEMENTS)
        .enumerate()
        .map(|(n, c)| {
            button(
                &format!("{ACTION_CHOOSE}{}", n + 1),
                &c.name,
                &format!("{value}|{}", c.id),
            )
        })
        .collect();
    json!({ "type": "actions", "block_id": "pb_choices", "elements": elements })
}

/// The actions blocks under a reply to `user` in `conversation`: its feedback buttons and its
/// options, each only when there are some.
pub fn controls(user: &str, conversation: &str, buttons: &Buttons) -> Vec<Value> {
    let value = button_value(user, conversation);
    let mut blocks = Vec::new();
    if !buttons.actions.is_empty() {
        blocks.push(feedback_actions(&value, &buttons.actions));
    }
    if !buttons.choices.is_empty() {
        blocks.push(choice_actions(&value, &buttons.choices));
    }
    blocks
}

/// The blocks of a message: the text, then the `controls` (actions blocks).
pub fn blocks(mrkdwn: &str, controls: &[Value]) -> Vec<Value> {
    let mut blocks = vec![section(mrkdwn)];
    blocks.extend(controls.iter().cloned());
    blocks
}

/// The `chat.postMessage` body of a reply in a thread. Nothing in it pings, and nothing links
/// but the `<url|text>` links of a bot answer ([`markdown::slack`]): the text is escaped
/// mrkdwn, `parse` is `none` and `link_names` is off.
///
/// [`markdown::slack`]: crate::channels::markdown::slack
pub fn post_message_body(
    channel: &str,
    thread_ts: &str,
    mrkdwn: &str,
    controls: &[Value],
) -> Value {
    json!({
        "channel": channel,
        "thread_ts": thread_ts,
        "text": fit(mrkdwn, MAX_SECTION),
        "blocks": blocks(mrkdwn, controls),
        "link_names": false,
        "parse": "none",
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// An agent's reply as the customer sees it: "*Team (agent):* text", escaped.
pub fn agent_reply_text(team: &str, agent: &str, text: &str) -> String {
    format!("*{} ({}):* {}", escape(team), escape(agent), escape(text))
}

/// The answer's text after a button press: the buttons go, the outcome (a bot reply, in
/// mrkdwn) is appended.
pub fn pressed_text(original: &str, helped: bool, reply: Option<&str>) -> String {
    let outcome = match (helped, reply) {
        (true, Some(r)) => crate::channels::markdown::slack(r),
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

/// The text of a clarifying question after an option was pressed: the buttons go, the choice
/// is appended.
pub fn chosen_text(original: &str, name: &str) -> String {
    let outcome = format!("_→ {}_", escape(name));
    let room = MAX_SECTION.saturating_sub(outcome.chars().count() + 2);
    format!("{}\n\n{outcome}", fit(original, room))
}

/// A press on one of the reply's buttons, from a `block_actions` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Press {
    /// "That helped" (else "Talk to a human"); ignored for an option.
    pub helped: bool,
    /// The intent id of a clarifying question's option.
    pub choice: Option<String>,
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
    let action = payload["actions"].as_array()?.iter().find(|a| {
        a["action_id"].as_str().is_some_and(|id| {
            matches!(id, ACTION_HELPED | ACTION_HUMAN) || id.starts_with(ACTION_CHOOSE)
        })
    })?;
    let helped = action["action_id"] == ACTION_HELPED;
    let mut value = action["value"].as_str()?;
    let mut choice = None;
    if action["action_id"].as_str()?.starts_with(ACTION_CHOOSE) {
        let (rest, intent) = value.rsplit_once('|')?;
        if !is_valid_id(intent) {
            return None;
        }
        (value, choice) = (rest, Some(intent.to_string()));
    }
    let (asker, conversation) = parse_button_value(value)?;
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
        choice,
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

/// The action id prefix of the "How did we do?" buttons: `pb_rate_1` … `pb_rate_5`.
pub const ACTION_RATE: &str = "pb_rate_";

/// The five "How did we do?" buttons for a resolved ticket; each carries the ticket's id.
pub fn rating_actions(ticket: u64) -> Value {
    let elements: Vec<Value> = (1..=5u8)
        .zip(crate::engine::csat::LABELS)
        .map(|(n, label)| button(&format!("{ACTION_RATE}{n}"), label, &ticket.to_string()))
        .collect();
    json!({ "type": "actions", "block_id": "pb_rating", "elements": elements })
}

/// The action id of "Add a comment" under a rating.
pub const ACTION_RATE_COMMENT: &str = "pb_rate_comment";

/// The callback id of the comment form (a modal view); its `private_metadata` is the ticket.
pub const VIEW_RATE_COMMENT: &str = "pb_rate_modal";

/// The comment form's input block and action ids.
const COMMENT_BLOCK: &str = "pb_comment";
const COMMENT_INPUT: &str = "comment";

/// "Add a comment" under a rating of `ticket`.
pub fn comment_actions(ticket: u64) -> Value {
    let add = button(ACTION_RATE_COMMENT, "Add a comment", &ticket.to_string());
    json!({ "type": "actions", "block_id": "pb_rating_comment", "elements": [add] })
}

/// The comment form (a modal view) for the rating of `ticket`: one optional paragraph.
pub fn comment_view(ticket: u64) -> Value {
    json!({
        "type": "modal",
        "callback_id": VIEW_RATE_COMMENT,
        "private_metadata": ticket.to_string(),
        "title": { "type": "plain_text", "text": "How did we do?" },
        "submit": { "type": "plain_text", "text": "Send" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [{
            "type": "input",
            "block_id": COMMENT_BLOCK,
            "optional": true,
            "label": { "type": "plain_text", "text": "Your comment" },
            "element": {
                "type": "plain_text_input",
                "action_id": COMMENT_INPUT,
                "multiline": true,
                "max_length": crate::engine::csat::MAX_COMMENT_CHARS,
            },
        }],
    })
}

/// The comment form sent (`view_submission`): the ticket, who sent it and what they typed.
pub fn parse_comment_submission(payload: &Value) -> Option<(u64, String, Option<String>)> {
    let view = &payload["view"];
    if payload["type"] != "view_submission" || view["callback_id"] != VIEW_RATE_COMMENT {
        return None;
    }
    let ticket = view["private_metadata"].as_str()?.parse::<u64>().ok()?;
    let user = payload["user"]["id"].as_str().filter(|u| !u.is_empty())?;
    let text = view["state"]["values"][COMMENT_BLOCK][COMMENT_INPUT]["value"]
        .as_str()
        .map(String::from);
    Some((ticket, user.to_string(), text))
}

/// What a press under "How did we do?" asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingAction {
    /// A rating, 1 to 5.
    Rate(u8),
    /// "Add a comment": the form opens with the press's `trigger_id`.
    Comment { trigger_id: String },
}

/// A press on a "How did we do?" button: the ticket, what it asks for, and the press (its
/// `asker` and `conversation` are left empty: the ticket says whose it is).
pub fn parse_rating_press(payload: &Value) -> Option<(u64, RatingAction, Press)> {
    if payload["type"] != "block_actions" {
        return None;
    }
    let (rating, action) = payload["actions"].as_array()?.iter().find_map(|a| {
        let id = a["action_id"].as_str()?;
        if id == ACTION_RATE_COMMENT {
            let trigger_id = payload["trigger_id"].as_str().filter(|t| !t.is_empty())?;
            let trigger_id = trigger_id.to_string();
            return Some((RatingAction::Comment { trigger_id }, a));
        }
        let rating = id.strip_prefix(ACTION_RATE)?;
        let rating = rating.parse::<u8>().ok().filter(|r| (1..=5).contains(r))?;
        Some((RatingAction::Rate(rating), a))
    })?;
    let ticket = action["value"].as_str()?.parse::<u64>().ok()?;
    let presser = payload["user"]["id"].as_str().filter(|u| !u.is_empty())?;
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
    let message = &payload["message"];
    let press = Press {
        helped: false,
        choice: None,
        asker: String::new(),
        conversation: String::new(),
        presser: presser.to_string(),
        response_url: text(&payload["response_url"]),
        channel: text(&payload["container"]["channel_id"])
            .or_else(|| text(&payload["channel"]["id"])),
        message_ts: text(&payload["container"]["message_ts"]).or_else(|| text(&message["ts"])),
        original: text(&message["text"]).unwrap_or_default(),
    };
    Some((ticket, rating, press))
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
                out.push(hex::decode(std::str::from_utf8(hex).ok()?)?[0]);
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
///
/// [`kit::retry_wait`]: crate::channels::kit::retry_wait
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

#[cfg(test)]
mod tests;

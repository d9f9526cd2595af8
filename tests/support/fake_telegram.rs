//! A fake Telegram Bot API on 127.0.0.1 for the bot's real teloxide client.
//!
//! It answers `POST` (JSON, as teloxide sends) and `GET` (query string, as curl users do)
//! `/bot{token}/{method}` with the Bot API's own shapes (`{"ok":true,"result":...}`, errors as
//! `{"ok":false,"error_code":..,"description":..}`): `getMe`, `getUpdates` (long polling: the
//! call waits until an update is queued or its `timeout` passes; updates below `offset` are
//! confirmed and forgotten), `sendMessage`, `answerCallbackQuery`, `editMessageReplyMarkup`,
//! `deleteWebhook`, `getWebhookInfo`. Every call is recorded; tests queue updates (customer
//! messages, button presses) and failures (any status and body, for the next call of a method).

#![allow(dead_code)] // each test uses a different part

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The bot's own user id and username.
pub const BOT_ID: u64 = 999_000;
pub const BOT_USERNAME: &str = "hearth_test_bot";

/// Longest long poll the fake holds (Telegram allows 50 s; tests never need that long).
const MAX_POLL: Duration = Duration::from_secs(25);

/// One recorded API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The parameters (the JSON body, or the query string as strings).
    pub body: Value,
    /// The status the fake answered with (0 while a long poll waits).
    pub status: u16,
    /// When the call arrived.
    pub at: Instant,
}

impl Call {
    /// The text as the customer sees it (for an HTML message, after Telegram parsed it).
    pub fn text(&self) -> &str {
        self.body["_result_text"]
            .as_str()
            .or_else(|| self.body["text"].as_str())
            .unwrap_or_default()
    }

    /// The text as the bot sent it (HTML, with `parse_mode: HTML`).
    pub fn raw_text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    /// The formatting Telegram made of an HTML message: (type, the text it covers, url).
    pub fn entities(&self) -> Vec<(String, String, Option<String>)> {
        let units: Vec<u16> = self.text().encode_utf16().collect();
        self.body["_result_entities"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let at = e["offset"].as_u64().unwrap_or(0) as usize;
                let len = e["length"].as_u64().unwrap_or(0) as usize;
                let covered = units.get(at..at + len).unwrap_or_default();
                (
                    e["type"].as_str().unwrap_or_default().to_string(),
                    String::from_utf16_lossy(covered),
                    e["url"].as_str().map(String::from),
                )
            })
            .collect()
    }

    pub fn chat(&self) -> i64 {
        as_i64(&self.body["chat_id"]).unwrap_or_default()
    }

    /// The message this one replies to.
    pub fn reply_to(&self) -> Option<i64> {
        as_i64(&self.body["reply_parameters"]["message_id"])
    }

    pub fn thread(&self) -> Option<i64> {
        as_i64(&self.body["message_thread_id"])
    }

    /// The inline keyboard's (label, callback data) pairs, row by row.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.body["reply_markup"]["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .map(|b| {
                (
                    b["text"].as_str().unwrap_or_default().to_string(),
                    b["callback_data"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub fn ok(&self) -> bool {
        self.status == 200
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A Telegram user (a customer, or another bot).
#[derive(Debug, Clone)]
pub struct TgUser {
    pub id: u64,
    pub name: String,
    pub is_bot: bool,
}

impl TgUser {
    pub fn new(id: u64, name: &str) -> TgUser {
        TgUser {
            id,
            name: name.into(),
            is_bot: false,
        }
    }

    pub fn bot(id: u64, name: &str) -> TgUser {
        TgUser {
            id,
            name: name.into(),
            is_bot: true,
        }
    }

    pub fn json(&self) -> Value {
        json!({ "id": self.id, "is_bot": self.is_bot, "first_name": self.name })
    }
}

fn bot_user() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": "Hearth", "username": BOT_USERNAME })
}

/// A private chat for positive ids, a forum supergroup for negative ones (as Telegram numbers
/// them).
pub fn chat_json(chat: i64) -> Value {
    if chat > 0 {
        json!({ "id": chat, "type": "private", "first_name": "Customer" })
    } else {
        json!({ "id": chat, "type": "supergroup", "title": "Hearth community", "is_forum": true })
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Failure {
    method: String,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct World {
    calls: Vec<Call>,
    /// Queued updates not yet confirmed by an offset.
    updates: Vec<(u32, Value)>,
    next_update: u32,
    next_message: i32,
    /// Messages in chats, by (chat, message id): what the bot sent, as Telegram keeps them.
    messages: HashMap<(i64, i64), Value>,
    failures: Vec<Failure>,
}

struct Inner {
    token: String,
    world: Mutex<World>,
    /// Bumped on every change (a call recorded, an update queued).
    version: tokio::sync::watch::Sender<u64>,
}

impl Inner {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

/// The running fake.
pub struct FakeTelegram {
    addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// Starts the fake for the bot with `token`.
    pub async fn start(token: &str) -> FakeTelegram {
        let inner = Arc::new(Inner {
            token: token.to_string(),
            world: Mutex::new(World {
                next_update: 100,
                next_message: 1000,
                ..World::default()
            }),
            version: tokio::sync::watch::channel(0).0,
        });
        let app = Router::new()
            .route("/{bot}/{method}", any(api))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Telegram");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram {
            addr,
            inner,
            server,
        }
    }

    /// What `telegram.api_url` points at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.world().calls.clone()
    }

    /// Calls of `method` from index `since` on.
    pub fn calls_of(&self, since: usize, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .skip(since)
            .filter(|c| c.method == method)
            .collect()
    }

    pub fn mark(&self) -> usize {
        self.inner.world().calls.len()
    }

    /// Waits for an answered call from index `since` on that matches.
    pub async fn wait_call(
        &self,
        since: usize,
        timeout: Duration,
        what: &str,
        matches: impl Fn(&Call) -> bool,
    ) -> Call {
        self.wait(since, timeout, what, |c| c.status != 0 && matches(c))
            .await
    }

    /// Waits for a call from index `since` on that matches, answered or not (e.g. a long poll
    /// that is waiting).
    pub async fn wait_arrival(
        &self,
        since: usize,
        timeout: Duration,
        what: &str,
        matches: impl Fn(&Call) -> bool,
    ) -> Call {
        self.wait(since, timeout, what, matches).await
    }

    async fn wait(
        &self,
        since: usize,
        timeout: Duration,
        what: &str,
        matches: impl Fn(&Call) -> bool,
    ) -> Call {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.inner.version.subscribe();
        loop {
            if let Some(c) = self.calls().into_iter().skip(since).find(|c| matches(c)) {
                return c;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                let seen: Vec<String> = self
                    .calls()
                    .iter()
                    .skip(since)
                    .filter(|c| c.method != "getUpdates")
                    .map(|c| format!("{} {} {}", c.status, c.method, c.body))
                    .collect();
                panic!(
                    "no call matching {what} within {timeout:?}; calls since {since}: {seen:#?}"
                );
            }
        }
    }

    /// The next call of `method` answers `status` with `body` instead of the real result.
    pub fn fail_next(&self, method: &str, status: u16, body: Value) {
        self.inner.world().failures.push(Failure {
            method: method.into(),
            status,
            body,
        });
    }

    /// The next call of `method` answers a 500 as Telegram does.
    pub fn fail_next_500(&self, method: &str) {
        self.fail_next(
            method,
            500,
            json!({ "ok": false, "error_code": 500, "description": "Internal Server Error" }),
        );
    }

    /// The next call of `method` is refused by flood control for `secs` seconds.
    pub fn fail_next_429(&self, method: &str, secs: u64) {
        self.fail_next(
            method,
            429,
            json!({ "ok": false, "error_code": 429,
                    "description": format!("Too Many Requests: retry after {secs}"),
                    "parameters": { "retry_after": secs } }),
        );
    }

    fn next_ids(&self) -> (u32, i32) {
        let mut w = self.inner.world();
        w.next_update += 1;
        w.next_message += 1;
        (w.next_update, w.next_message)
    }

    /// A new text message update (not queued), with fresh update and message ids.
    pub fn text_update(&self, chat: i64, topic: Option<i64>, from: &TgUser, text: &str) -> Value {
        let (update, message) = self.next_ids();
        let mut m = json!({
            "message_id": message,
            "from": from.json(),
            "chat": chat_json(chat),
            "date": now_secs(),
            "text": text,
        });
        if let Some(t) = topic {
            m["message_thread_id"] = json!(t);
            m["is_topic_message"] = json!(true);
        }
        json!({ "update_id": update, "message": m })
    }

    /// A new photo message update (not queued): no text.
    pub fn photo_update(&self, chat: i64, from: &TgUser) -> Value {
        let (update, message) = self.next_ids();
        json!({ "update_id": update, "message": {
            "message_id": message, "from": from.json(), "chat": chat_json(chat), "date": now_secs(),
            "photo": [{ "file_id": "photo-1", "file_unique_id": "u1", "width": 90, "height": 90 }],
            "caption": "how much is it?"
        } })
    }

    /// A button press update (not queued) on the message the bot sent as `sent` (its
    /// sendMessage call).
    pub fn press_update(&self, from: &TgUser, sent: &Call, data: &str) -> Value {
        let (update, _) = self.next_ids();
        let message = self
            .sent_message(sent)
            .expect("the pressed message was sent by the bot");
        json!({ "update_id": update, "callback_query": {
            "id": format!("cbq-{update}"),
            "from": from.json(),
            "message": message,
            "chat_instance": "ci-1",
            "data": data,
        } })
    }

    /// The message a successful sendMessage call created, as Telegram keeps it now (after any
    /// edits).
    pub fn sent_message(&self, sent: &Call) -> Option<Value> {
        let id = sent.body["_result_message_id"].as_i64()?;
        self.inner.world().messages.get(&(sent.chat(), id)).cloned()
    }

    /// Queues an update for getUpdates.
    pub fn push(&self, update: Value) -> u32 {
        let id = update["update_id"].as_u64().expect("update_id") as u32;
        self.inner.world().updates.push((id, update));
        self.inner.bump();
        id
    }

    /// Queues a customer's text message; returns (update id, message id).
    pub fn say(&self, chat: i64, from: &TgUser, text: &str) -> (u32, i64) {
        let update = self.text_update(chat, None, from, text);
        let message = update["message"]["message_id"].as_i64().unwrap();
        (self.push(update), message)
    }

    /// Queues a customer's text message in a forum topic; returns (update id, message id).
    pub fn say_in_topic(&self, chat: i64, topic: i64, from: &TgUser, text: &str) -> (u32, i64) {
        let update = self.text_update(chat, Some(topic), from, text);
        let message = update["message"]["message_id"].as_i64().unwrap();
        (self.push(update), message)
    }

    /// Queues a press of the button with `data` on the bot's message `sent`; returns the
    /// callback query id.
    pub fn press(&self, from: &TgUser, sent: &Call, data: &str) -> String {
        let update = self.press_update(from, sent, data);
        let id = update["callback_query"]["id"].as_str().unwrap().to_string();
        self.push(update);
        id
    }

    /// Updates still queued (not confirmed by an offset).
    pub fn pending(&self) -> Vec<u32> {
        self.inner
            .world()
            .updates
            .iter()
            .map(|(id, _)| *id)
            .collect()
    }
}

fn ok(result: Value) -> Response {
    Json(json!({ "ok": true, "result": result })).into_response()
}

fn error(status: u16, description: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(json!({ "ok": false, "error_code": status, "description": description })),
    )
        .into_response()
}

fn bad_request(description: &str) -> Response {
    error(400, &format!("Bad Request: {description}"))
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path((bot, method)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut params = if json_body && !body.is_empty() {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => v,
            Err(_) => return bad_request("can't parse JSON"),
        }
    } else {
        json!(query)
    };
    // Bot API method names are case-insensitive (teloxide sends "SendMessage"); calls are
    // recorded under the documented spelling.
    let method = canonical(&method);
    // Recorded on arrival (a long poll is visible while it waits); the status when answered.
    let index = {
        let mut w = inner.world();
        w.calls.push(Call {
            method: method.clone(),
            body: params.clone(),
            status: 0,
            at: Instant::now(),
        });
        w.calls.len() - 1
    };
    inner.bump();
    let (status, response) = if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        (401, error(401, "Unauthorized"))
    } else {
        let injected = {
            let mut w = inner.world();
            w.failures
                .iter()
                .position(|f| f.method == method)
                .map(|i| w.failures.remove(i))
        };
        match injected {
            Some(f) => (
                f.status,
                (
                    StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    Json(f.body),
                )
                    .into_response(),
            ),
            None => handle(&inner, &method, &mut params).await,
        }
    };
    {
        let mut w = inner.world();
        let call = &mut w.calls[index];
        call.body = params;
        call.status = status;
    }
    inner.bump();
    response
}

/// The documented spelling of a method name.
fn canonical(method: &str) -> String {
    const KNOWN: &[&str] = &[
        "getMe",
        "getUpdates",
        "sendMessage",
        "answerCallbackQuery",
        "editMessageReplyMarkup",
        "deleteWebhook",
        "getWebhookInfo",
        "setWebhook",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(method))
        .map_or_else(|| method.to_string(), |k| k.to_string())
}

/// Runs one method; returns the status and the response. May add bookkeeping fields starting
/// with `_result` to `params` (e.g. the id of the message a sendMessage created).
async fn handle(inner: &Arc<Inner>, method: &str, params: &mut Value) -> (u16, Response) {
    match method {
        "getMe" => (
            200,
            ok({
                let mut me = bot_user();
                me["can_join_groups"] = json!(true);
                me["can_read_all_group_messages"] = json!(false);
                me["supports_inline_queries"] = json!(false);
                me["can_connect_to_business"] = json!(false);
                me["has_main_web_app"] = json!(false);
                me
            }),
        ),
        "getUpdates" => (200, ok(get_updates(inner, params).await)),
        "sendMessage" => {
            let Some(chat) = as_i64(&params["chat_id"]) else {
                return (400, bad_request("chat_id is empty"));
            };
            let text = params["text"].as_str().unwrap_or_default().to_string();
            if text.is_empty() {
                return (400, bad_request("message text is empty"));
            }
            let (text, entities) = match params["parse_mode"].as_str() {
                None => (text, Vec::new()),
                Some("HTML") => match parse_html(&text) {
                    Ok(parsed) => parsed,
                    Err(e) => return (400, bad_request(&format!("can't parse entities: {e}"))),
                },
                Some(other) => {
                    return (400, bad_request(&format!("unsupported parse_mode {other}")))
                }
            };
            if text.encode_utf16().count() > 4096 {
                return (400, bad_request("message is too long"));
            }
            let mut w = inner.world();
            w.next_message += 1;
            let id = w.next_message;
            let mut m = json!({
                "message_id": id,
                "from": bot_user(),
                "chat": chat_json(chat),
                "date": now_secs(),
                "text": text,
            });
            if !entities.is_empty() {
                m["entities"] = json!(entities);
            }
            params["_result_text"] = json!(text);
            params["_result_entities"] = json!(entities);
            if let Some(t) = as_i64(&params["message_thread_id"]) {
                m["message_thread_id"] = json!(t);
                m["is_topic_message"] = json!(true);
            }
            let keyboard = &params["reply_markup"]["inline_keyboard"];
            if keyboard.as_array().is_some_and(|k| !k.is_empty()) {
                m["reply_markup"] = json!({ "inline_keyboard": keyboard });
            }
            w.messages.insert((chat, i64::from(id)), m.clone());
            params["_result_message_id"] = json!(id);
            (200, ok(m))
        }
        "answerCallbackQuery" => {
            if params["callback_query_id"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                return (
                    400,
                    bad_request(
                        "query is too old and response timeout expired or query ID is invalid",
                    ),
                );
            }
            (200, ok(json!(true)))
        }
        "editMessageReplyMarkup" => {
            let (Some(chat), Some(id)) =
                (as_i64(&params["chat_id"]), as_i64(&params["message_id"]))
            else {
                return (400, bad_request("message identifier is not specified"));
            };
            let mut w = inner.world();
            let Some(m) = w.messages.get_mut(&(chat, id)) else {
                return (400, bad_request("message to edit not found"));
            };
            let keyboard = &params["reply_markup"]["inline_keyboard"];
            let new = keyboard.as_array().filter(|k| !k.is_empty()).cloned();
            let old = m["reply_markup"]["inline_keyboard"].as_array().cloned();
            if new == old {
                return (
                    400,
                    bad_request("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"),
                );
            }
            match new {
                Some(k) => m["reply_markup"] = json!({ "inline_keyboard": k }),
                None => {
                    if let Some(o) = m.as_object_mut() {
                        o.remove("reply_markup");
                    }
                }
            }
            m["edit_date"] = json!(now_secs());
            (200, ok(m.clone()))
        }
        "deleteWebhook" => (200, ok(json!(true))),
        "getWebhookInfo" => (
            200,
            ok(json!({ "url": "", "has_custom_certificate": false, "pending_update_count": 0 })),
        ),
        _ => (404, error(404, "Not Found")),
    }
}

/// Long polling: confirms updates below `offset`, then answers the queued ones, waiting up to
/// `timeout` seconds for one to arrive.
async fn get_updates(inner: &Arc<Inner>, params: &Value) -> Value {
    let offset = as_i64(&params["offset"]);
    let limit = as_i64(&params["limit"]).unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(as_i64(&params["timeout"]).unwrap_or(0).max(0) as u64);
    let deadline = tokio::time::Instant::now() + timeout.min(MAX_POLL);
    let mut changes = inner.version.subscribe();
    loop {
        {
            let mut w = inner.world();
            if let Some(o) = offset {
                w.updates.retain(|(id, _)| i64::from(*id) >= o);
            }
            let ready: Vec<Value> = w
                .updates
                .iter()
                .filter(|(id, _)| offset.is_none_or(|o| i64::from(*id) >= o))
                .take(limit)
                .map(|(_, u)| u.clone())
                .collect();
            if !ready.is_empty() {
                return json!(ready);
            }
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return json!([]);
        }
    }
}

/// Telegram's HTML parse mode, as far as bots use it: `<b>`/`<strong>`, `<i>`/`<em>` and
/// `<a href="...">`, the entities `&lt;` `&gt;` `&amp;` `&quot;` and numeric ones. Anything else
/// (another tag, an unclosed or unbalanced tag, a bare `&`) is refused as Telegram refuses it.
/// Returns the text shown and its entities (offsets in UTF-16 units).
fn parse_html(html: &str) -> Result<(String, Vec<Value>), String> {
    let mut text = String::new();
    let mut units = 0usize;
    let mut open: Vec<(String, usize, Option<String>)> = Vec::new();
    let mut entities = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed start tag")?;
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    let (kind, at, url) = open.pop().ok_or("unexpected end tag")?;
                    let want = match name {
                        "b" | "strong" => "bold",
                        "i" | "em" => "italic",
                        "a" => "text_link",
                        _ => return Err(format!("unsupported end tag {name:?}")),
                    };
                    if kind != want {
                        return Err(format!("end tag {name:?} does not match"));
                    }
                    let mut e = json!({ "type": kind, "offset": at, "length": units - at });
                    if let Some(url) = url {
                        e["url"] = json!(url);
                    }
                    entities.push(e);
                } else if tag == "b" || tag == "strong" {
                    open.push(("bold".into(), units, None));
                } else if tag == "i" || tag == "em" {
                    open.push(("italic".into(), units, None));
                } else if let Some(href) = tag
                    .strip_prefix("a href=\"")
                    .and_then(|t| t.strip_suffix('"'))
                {
                    let (url, _) = parse_html(href)?;
                    open.push(("text_link".into(), units, Some(url)));
                } else {
                    return Err(format!("unsupported start tag {tag:?}"));
                }
            }
            '&' => {
                let end = rest.find(';').ok_or("a bare &")?;
                let name = &rest[1..end];
                let decoded = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    _ => name
                        .strip_prefix('#')
                        .and_then(|n| n.parse::<u32>().ok())
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("unsupported entity {name:?}"))?,
                };
                text.push(decoded);
                units += decoded.len_utf16();
                rest = &rest[end + 1..];
            }
            c => {
                text.push(c);
                units += c.len_utf16();
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some((kind, ..)) = open.first() {
        return Err(format!("unclosed {kind}"));
    }
    Ok((text, entities))
}

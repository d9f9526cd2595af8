//! A fake Discord (REST API + gateway websocket) on 127.0.0.1 for integration tests.
//!
//! The bot's real serenity client talks to it unchanged: point `HttpBuilder::proxy` at
//! [`FakeDiscord::base_url`] and disable serenity's rate limiter (with the rate limiter on,
//! serenity ignores the proxy and goes to the real discord.com). See
//! `/work/shared/notes/discord-offline-testing.md` for what serenity needs and why.
//!
//! Include it with `#[path = "support/fake_discord/mod.rs"] mod fake_discord;`.
//!
//! Behaviour worth knowing when writing tests:
//! - After IDENTIFY the fake sends READY (the guild listed as unavailable) and then a GUILD_CREATE
//!   for [`GUILD_ID`] with the roles and channels last given to [`FakeDiscord::guild_create`]
//!   (by default no extra role and the one text channel [`CHANNEL_ID`]).
//! - Like real Discord, messages the bot posts (channel messages, non-ephemeral interaction
//!   responses and followups) come back to it as MESSAGE_CREATE dispatches with the bot as
//!   author: the bot must ignore its own messages. Turn it off with
//!   [`FakeDiscord::set_echo_bot_messages`].
//! - Like real Discord, the IDENTIFY intents are honoured for MESSAGE_CREATE: without
//!   GUILD_MESSAGES / DIRECT_MESSAGES the message is not delivered (a line on stderr says so),
//!   and without MESSAGE_CONTENT a guild message that does not mention the bot arrives with empty
//!   content, embeds, attachments and components.
//! - A thread started from a message gets the message's id (as on Discord); starting a second
//!   thread from the same message answers 400 (code 160004), and threads in DM channels 400.
//! - Messages created over REST carry no `guild_id` (as on Discord); the gateway echoes do.
//! - Dispatches made while no client is connected are kept: a RESUME replays every dispatch with
//!   a sequence number above the one in the RESUME payload, then RESUMED; a fresh IDENTIFY gets
//!   whatever was never written to any socket.
//! - Serenity re-identifies (instead of resuming) only after waiting about 5 s since its last
//!   shard start (its shard queuer's boot spacing): close codes that force a re-identify are slow.

#![allow(dead_code)] // each test crate uses a different part of this module

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub const BOT_ID: u64 = 1001;
pub const APP_ID: u64 = 1001;
pub const GUILD_ID: u64 = 3001;
/// The text channel of the default GUILD_CREATE.
pub const CHANNEL_ID: u64 = 2001;
pub const BOT_NAME: &str = "personabot";
/// The heartbeat interval announced in HELLO, in milliseconds.
pub const HEARTBEAT_INTERVAL_MS: u64 = 1000;

/// Gateway intent bits the fake honours.
const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;

/// Permissions of `@everyone`: view, send, embed, attach, history, reactions, application
/// commands, create public/private threads, send in threads.
const EVERYONE_PERMISSIONS: u64 = (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 31)
    | (1 << 35)
    | (1 << 36)
    | (1 << 38);
/// `app_permissions` of interactions: the above plus manage messages and manage threads.
const APP_PERMISSIONS: u64 = EVERYONE_PERMISSIONS | (1 << 13) | (1 << 34);

/// A Discord user as the tests describe it. `roles` are the user's roles in [`GUILD_ID`].
#[derive(Clone, Debug)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub bot: bool,
    pub roles: Vec<u64>,
}

impl User {
    pub fn new(id: u64, name: &str) -> User {
        User {
            id,
            name: name.to_string(),
            bot: false,
            roles: Vec::new(),
        }
    }

    pub fn with_roles(mut self, roles: &[u64]) -> User {
        self.roles = roles.to_vec();
        self
    }
}

/// A REST request the fake received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Full path without the query, e.g. `/api/v10/channels/2001/messages`.
    pub path: String,
    /// The JSON body, the parsed `payload_json` part of a multipart body, or `Null`.
    pub body: Value,
    pub at: Instant,
    /// The raw query string ("" if none).
    pub query: String,
    /// The file parts of a multipart body.
    pub files: Vec<Upload>,
    /// The status the fake answered with.
    pub status: u16,
}

impl Request {
    /// The path without the `/api/v10` prefix, e.g. `/channels/2001/messages`.
    pub fn api_path(&self) -> &str {
        self.path.strip_prefix("/api/v10").unwrap_or(&self.path)
    }

    /// `method` and the path without `/api/v10` match exactly.
    pub fn is(&self, method: &str, api_path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.api_path() == api_path
    }

    /// The `content` of the body (also under `data` for interaction callbacks), or "".
    pub fn content(&self) -> &str {
        self.body
            .get("content")
            .or_else(|| self.body.get("data").and_then(|d| d.get("content")))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A file part of a multipart request.
#[derive(Clone, Debug)]
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

pub struct FakeDiscord {
    inner: Arc<Inner>,
    server: JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
        // Dropping the connection's sender ends the socket task.
        self.inner.lock().conn = None;
    }
}

impl FakeDiscord {
    /// Binds 127.0.0.1:0, serves REST under /api/v10 and the gateway websocket at /ws.
    pub async fn start() -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake discord: bind");
        let port = listener
            .local_addr()
            .expect("fake discord: local addr")
            .port();
        let inner = Arc::new(Inner::new(port));
        let app = Router::new()
            .route("/ws", get(ws_upgrade))
            .fallback(rest)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake discord: server stopped: {e}");
            }
        });
        FakeDiscord { inner, server }
    }

    /// e.g. "http://127.0.0.1:PORT": what the bot passes to `HttpBuilder::proxy`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.inner.port)
    }

    /// The gateway URL the fake hands out ("ws://127.0.0.1:PORT/ws").
    pub fn gateway_url(&self) -> String {
        self.inner.ws_url()
    }

    /// Waits until a client has IDENTIFYed (or RESUMEd) and got READY and GUILD_CREATE (or
    /// RESUMED) on the current connection. Panics on timeout.
    pub async fn wait_ready(&self, timeout: Duration) {
        self.inner
            .wait_until(timeout, "a client to IDENTIFY and get READY", |st| {
                st.conn.as_ref().is_some_and(|c| c.live).then_some(())
            })
            .await
    }

    /// Sets the guild's extra roles (besides `@everyone`, id [`GUILD_ID`]) and text channels,
    /// remembered for later IDENTIFYs, and dispatches GUILD_CREATE.
    pub async fn guild_create(&self, roles: &[(u64, &str)], channels: &[u64]) {
        let mut st = self.inner.lock();
        st.guild_roles = roles
            .iter()
            .map(|(id, name)| (*id, name.to_string()))
            .collect();
        st.guild_channels = channels.to_vec();
        let guild = guild_json(&st);
        dispatch_locked(&mut st, "GUILD_CREATE", guild);
        drop(st);
        self.inner.bump();
    }

    /// Dispatches MESSAGE_CREATE from `author`. `guild`: `Some(GUILD_ID)` for a guild message
    /// (with a `member` carrying `author.roles`), `None` for a DM. Returns the message id.
    pub async fn message(
        &self,
        channel_id: u64,
        author: &User,
        content: &str,
        guild: Option<u64>,
    ) -> u64 {
        self.inner.user_message(channel_id, author, content, guild)
    }

    /// Dispatches INTERACTION_CREATE type 3 for a click on `message_id` in `channel_id`: a button
    /// (component_type 2), or with `values` a string select (component_type 3). If the bot posted
    /// `message_id`, the interaction carries that message as the fake stored it. Returns the
    /// interaction id; its token is [`interaction_token`]`(id)`.
    pub async fn click(
        &self,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        user: &User,
        guild: Option<u64>,
        values: Option<Vec<String>>,
    ) -> u64 {
        let mut st = self.inner.lock();
        let id = self.inner.new_id();
        let payload = click_json(
            &mut st, id, channel_id, message_id, custom_id, user, guild, values,
        );
        dispatch_locked(&mut st, "INTERACTION_CREATE", payload);
        drop(st);
        self.inner.bump();
        id
    }

    /// Dispatches INTERACTION_CREATE type 2 (chat input command `name`) with string options.
    /// Returns the interaction id; its token is [`interaction_token`]`(id)`.
    pub async fn slash(
        &self,
        channel_id: u64,
        name: &str,
        options: &[(&str, &str)],
        user: &User,
        guild: Option<u64>,
    ) -> u64 {
        let mut st = self.inner.lock();
        let id = self.inner.new_id();
        let payload = slash_json(
            &self.inner,
            &mut st,
            id,
            channel_id,
            name,
            options,
            user,
            guild,
        );
        dispatch_locked(&mut st, "INTERACTION_CREATE", payload);
        drop(st);
        self.inner.bump();
        id
    }

    /// Dispatches any event (`t`, `d`) as is.
    pub async fn dispatch_raw(&self, t: &str, d: Value) {
        let mut st = self.inner.lock();
        dispatch_locked(&mut st, t, d);
        drop(st);
        self.inner.bump();
    }

    /// Every REST request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().requests.clone()
    }

    /// Waits for the first request at index >= `since_index` of [`Self::requests`] matching
    /// `pred`; panics with the requests seen on timeout.
    pub async fn wait_request(
        &self,
        since_index: usize,
        timeout: Duration,
        pred: impl Fn(&Request) -> bool,
    ) -> Request {
        self.inner
            .wait_until(timeout, "a matching REST request", |st| {
                st.requests
                    .iter()
                    .skip(since_index)
                    .find(|r| pred(r))
                    .cloned()
            })
            .await
    }

    /// The next `count` requests whose method matches and whose path (with or without the
    /// `/api/v10` prefix) starts with `path_prefix` are answered with `status` instead.
    /// 429 answers `{"message":"You are being rate limited.","retry_after":0.05,"global":false,
    /// "code":0}` with `Retry-After: 1` and `X-RateLimit-*` headers (as Discord does); other
    /// statuses answer `{"message":"fake failure","code":0}`.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, count: usize) {
        self.fail_next_with(method, path_prefix, status, count, None);
    }

    /// [`Self::fail_next`] with a custom JSON body.
    pub fn fail_next_with(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        count: usize,
        body: Option<Value>,
    ) {
        self.inner.lock().failures.push(Failure {
            method: method.to_string(),
            prefix: path_prefix.to_string(),
            status,
            remaining: count,
            body,
        });
    }

    /// Closes the gateway socket with `code` (e.g. 4000). Serenity reconnects and RESUMEs; the
    /// fake replays the dispatches the client had not seen, then sends RESUMED. Returns when the
    /// client is live again (resumed, or re-identified for codes that end the session); panics on
    /// timeout or if no client is connected.
    pub async fn close_gateway(&self, code: u16, timeout: Duration) {
        let before = {
            let mut st = self.inner.lock();
            let conn = st
                .conn
                .take()
                .expect("fake discord: close_gateway with no client connected");
            let _ = conn.tx.send(Outgoing::Close(code));
            st.established
        };
        self.inner.bump();
        self.inner
            .wait_until(timeout, "the client to resume after close_gateway", |st| {
                (st.established > before && st.conn.as_ref().is_some_and(|c| c.live)).then_some(())
            })
            .await
    }

    /// Number of IDENTIFY (op 2) received.
    pub fn identify_count(&self) -> usize {
        self.inner.lock().identify_count
    }

    /// Number of RESUME (op 6) received.
    pub fn resume_count(&self) -> usize {
        self.inner.lock().resume_count
    }

    /// Number of dispatches re-sent after RESUMEs (those with a sequence number above the
    /// RESUME's).
    pub fn replayed_count(&self) -> usize {
        self.inner.lock().replayed_count
    }

    /// Number of heartbeats (op 1) received (each answered with op 11).
    pub fn heartbeat_count(&self) -> usize {
        self.inner.lock().heartbeat_count
    }

    /// Waits until at least `count` heartbeats have been received (serenity sends its first one
    /// a full interval, [`HEARTBEAT_INTERVAL_MS`], after HELLO).
    pub async fn wait_heartbeats(&self, count: usize, timeout: Duration) {
        self.inner
            .wait_until(timeout, "heartbeats", |st| {
                (st.heartbeat_count >= count).then_some(())
            })
            .await
    }

    /// The `d` of the last IDENTIFY (token, intents, properties...).
    pub fn last_identify(&self) -> Option<Value> {
        self.inner.lock().last_identify.clone()
    }

    /// Close codes of the Close frames clients sent on the gateway, in order (`None`: a Close
    /// frame without a code). A clean logoff is 1000 (or 1001).
    pub fn client_closes(&self) -> Vec<Option<u16>> {
        self.inner.lock().client_closes.clone()
    }

    /// Whether messages the bot posts come back as MESSAGE_CREATE (default: true, as on Discord).
    pub fn set_echo_bot_messages(&self, echo: bool) {
        self.inner.lock().echo_bot_messages = echo;
    }

    /// A message as the fake stored it (created or edited by the bot over REST).
    pub fn stored_message(&self, id: u64) -> Option<Value> {
        self.inner.lock().messages.get(&id).cloned()
    }
}

/// The token of the interaction with this id.
pub fn interaction_token(interaction_id: u64) -> String {
    format!("fake-interaction-token-{interaction_id}")
}

/// Every kind of payload the fake can send, built by the same code as the live fake, for a unit
/// test that deserialises each with serenity's own types. Names start with `gateway:` (a whole
/// gateway frame: `{"op":..,"s":..,"t":..,"d":..}`) or `rest:` (a REST response body).
pub fn sample_payloads() -> Vec<(&'static str, Value)> {
    let inner = Inner::new(1);
    let alice = User::new(1002, "alice").with_roles(&[4001]);
    let bob = User::new(1003, "bob");
    let dm_channel = 2901;
    let mut out = Vec::new();

    let mut st = inner.lock();
    st.conn = None;
    st.session = Some(Session {
        id: "fake-session-1".into(),
        seq: 0,
        log: Vec::new(),
    });
    st.guild_roles = vec![(4001, "staff".into()), (4002, "customer".into())];
    st.guild_channels = vec![CHANNEL_ID, 2002];
    let ready = ready_json(&inner, "fake-session-1");
    dispatch_locked(&mut st, "READY", ready);
    out.push(("gateway:READY", last_frame(&st)));
    let guild = guild_json(&st);
    dispatch_locked(&mut st, "GUILD_CREATE", guild);
    out.push(("gateway:GUILD_CREATE", last_frame(&st)));
    drop(st);

    inner.user_message(
        CHANNEL_ID,
        &alice,
        &format!("<@{BOT_ID}> hi <@&4001> <@1003>"),
        Some(GUILD_ID),
    );
    out.push(("gateway:MESSAGE_CREATE guild", last_frame(&inner.lock())));
    inner.user_message(dm_channel, &bob, "hello in DM", None);
    out.push(("gateway:MESSAGE_CREATE dm", last_frame(&inner.lock())));

    // The bot posts a message with a button and a string select (as serenity serialises
    // CreateButton / CreateSelectMenu), which is echoed back over the gateway.
    let components = json!([
        {"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"},
            {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com"}
        ]},
        {"type": 1, "components": [
            {"type": 3, "custom_id": "pick", "placeholder": "choose",
             "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b", "default": true}],
             "min_values": 1, "max_values": 1}
        ]}
    ]);
    let body = json!({
        "content": "pong", "tts": false, "components": components,
        "embeds": [{"title": "t", "description": "d", "color": 3447003,
                    "fields": [{"name": "n", "value": "v", "inline": false}]}],
        "message_reference": {"message_id": "5", "fail_if_not_exists": false},
        "allowed_mentions": {"parse": []}
    });
    let mut st = inner.lock();
    let reply = route(
        &inner,
        &mut st,
        "POST",
        &format!("/api/v10/channels/{CHANNEL_ID}/messages"),
        &body,
        &[],
    );
    let bot_msg_id = id_of(&reply.body);
    out.push(("rest:message", reply.body.clone().expect("message body")));
    out.push(("gateway:MESSAGE_CREATE bot echo", last_frame(&st)));
    let upload = Upload {
        field: "files[0]".into(),
        filename: "a.txt".into(),
        bytes: b"hello".to_vec(),
    };
    let reply = route(
        &inner,
        &mut st,
        "POST",
        &format!("/api/v10/channels/{dm_channel}/messages"),
        &json!({"content": "file", "attachments": [{"id": 0, "filename": "a.txt"}]}),
        &[upload],
    );
    out.push(("rest:message with attachment", reply.body.expect("message")));

    let id = inner.new_id();
    let click = click_json(
        &mut st,
        id,
        CHANNEL_ID,
        bot_msg_id,
        "yes",
        &alice,
        Some(GUILD_ID),
        None,
    );
    dispatch_locked(&mut st, "INTERACTION_CREATE", click);
    out.push(("gateway:INTERACTION_CREATE button guild", last_frame(&st)));
    let id = inner.new_id();
    let click = click_json(&mut st, id, dm_channel, 77, "yes", &bob, None, None);
    dispatch_locked(&mut st, "INTERACTION_CREATE", click);
    out.push(("gateway:INTERACTION_CREATE button dm", last_frame(&st)));
    let id = inner.new_id();
    let values = Some(vec!["a".to_string()]);
    let click = click_json(
        &mut st,
        id,
        CHANNEL_ID,
        bot_msg_id,
        "pick",
        &alice,
        Some(GUILD_ID),
        values,
    );
    dispatch_locked(&mut st, "INTERACTION_CREATE", click);
    out.push(("gateway:INTERACTION_CREATE select guild", last_frame(&st)));
    let id = inner.new_id();
    let values = Some(vec!["b".to_string(), "c".to_string()]);
    let click = click_json(&mut st, id, dm_channel, 78, "pick", &bob, None, values);
    dispatch_locked(&mut st, "INTERACTION_CREATE", click);
    out.push(("gateway:INTERACTION_CREATE select dm", last_frame(&st)));
    let edit = json!({"content": "edited", "components": []});
    let reply = route(
        &inner,
        &mut st,
        "PATCH",
        &format!("/api/v10/channels/{CHANNEL_ID}/messages/{bot_msg_id}"),
        &edit,
        &[],
    );
    out.push(("rest:message edited", reply.body.expect("edited message")));
    let options = [("question", "how do I reset my password?")];
    let id = inner.new_id();
    let slash = slash_json(
        &inner,
        &mut st,
        id,
        CHANNEL_ID,
        "help",
        &options,
        &alice,
        Some(GUILD_ID),
    );
    dispatch_locked(&mut st, "INTERACTION_CREATE", slash);
    out.push(("gateway:INTERACTION_CREATE slash guild", last_frame(&st)));
    let id = inner.new_id();
    let slash = slash_json(&inner, &mut st, id, dm_channel, "help", &[], &bob, None);
    dispatch_locked(&mut st, "INTERACTION_CREATE", slash);
    out.push(("gateway:INTERACTION_CREATE slash dm", last_frame(&st)));
    let slash_id = id;
    dispatch_locked(&mut st, "RESUMED", json!({}));
    out.push(("gateway:RESUMED", last_frame(&st)));

    out.push((
        "gateway:HELLO",
        serde_json::from_str(&hello_frame()).expect("hello"),
    ));
    out.push(("gateway:HEARTBEAT_ACK", json!({"op": 11})));
    out.push(("gateway:INVALID_SESSION", json!({"op": 9, "d": false})));

    let mut rest = |name: &'static str, method: &str, path: String, body: Value| {
        let reply = route(&inner, &mut st, method, &path, &body, &[]);
        out.push((name, reply.body.unwrap_or(Value::Null)));
    };
    rest(
        "rest:thread from message",
        "POST",
        format!("/api/v10/channels/{CHANNEL_ID}/messages/{bot_msg_id}/threads"),
        json!({"name": "ticket", "auto_archive_duration": 1440}),
    );
    rest(
        "rest:thread",
        "POST",
        format!("/api/v10/channels/{CHANNEL_ID}/threads"),
        json!({"name": "private ticket", "type": 12, "invitable": false}),
    );
    rest(
        "rest:text channel",
        "GET",
        format!("/api/v10/channels/{CHANNEL_ID}"),
        Value::Null,
    );
    rest(
        "rest:dm channel",
        "POST",
        "/api/v10/users/@me/channels".into(),
        json!({"recipient_id": "1003"}),
    );
    rest(
        "rest:current user",
        "GET",
        "/api/v10/users/@me".into(),
        Value::Null,
    );
    rest(
        "rest:gateway",
        "GET",
        "/api/v10/gateway".into(),
        Value::Null,
    );
    rest(
        "rest:gateway bot",
        "GET",
        "/api/v10/gateway/bot".into(),
        Value::Null,
    );
    let commands = json!([
        {"name": "help", "description": "Ask a question",
         "options": [{"type": 3, "name": "question", "description": "what", "required": true}]},
        {"name": "ping", "description": "Ping", "type": 1}
    ]);
    rest(
        "rest:global commands",
        "PUT",
        format!("/api/v10/applications/{APP_ID}/commands"),
        commands.clone(),
    );
    rest(
        "rest:guild commands",
        "PUT",
        format!("/api/v10/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
        commands,
    );
    let token = interaction_token(slash_id);
    rest(
        "rest:followup message",
        "POST",
        format!("/api/v10/webhooks/{APP_ID}/{token}"),
        json!({"content": "followup", "flags": 64}),
    );
    rest(
        "rest:original response",
        "PATCH",
        format!("/api/v10/webhooks/{APP_ID}/{token}/messages/@original"),
        json!({"content": "edited original"}),
    );
    rest(
        "rest:member",
        "GET",
        format!("/api/v10/guilds/{GUILD_ID}/members/1002"),
        Value::Null,
    );
    rest(
        "rest:roles",
        "GET",
        format!("/api/v10/guilds/{GUILD_ID}/roles"),
        Value::Null,
    );
    rest(
        "rest:not found",
        "GET",
        "/api/v10/nothing/here".into(),
        Value::Null,
    );
    out
}

/// The last dispatch frame logged in the session, as JSON.
fn last_frame(st: &St) -> Value {
    let entry = st
        .session
        .as_ref()
        .and_then(|s| s.log.last())
        .expect("a logged dispatch");
    serde_json::from_str(&entry.frame).expect("frame is JSON")
}

// ---------------------------------------------------------------------------------------------
// State

enum Outgoing {
    Text(String),
    Close(u16),
}

struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// READY or RESUMED has been sent on this connection: dispatches go out live.
    live: bool,
}

struct Session {
    id: String,
    seq: u64,
    log: Vec<LogEntry>,
}

struct LogEntry {
    seq: u64,
    t: String,
    d: Value,
    frame: String,
    /// Written to some socket (not necessarily read by the client).
    delivered: bool,
}

struct Failure {
    method: String,
    prefix: String,
    status: u16,
    remaining: usize,
    body: Option<Value>,
}

#[derive(Clone)]
struct InteractionInfo {
    channel_id: u64,
    guild: Option<u64>,
    message_id: Option<u64>,
    original: Option<Value>,
}

struct St {
    requests: Vec<Request>,
    failures: Vec<Failure>,
    conn: Option<Conn>,
    next_conn_id: u64,
    session: Option<Session>,
    session_counter: u64,
    /// Dispatches made before any session existed.
    pending: Vec<(String, Value)>,
    identify_count: usize,
    resume_count: usize,
    heartbeat_count: usize,
    /// Dispatches re-sent because a RESUME asked for them.
    replayed_count: usize,
    /// Number of READY / RESUMED sent.
    established: usize,
    last_identify: Option<Value>,
    intents: Option<u64>,
    guild_roles: Vec<(u64, String)>,
    guild_channels: Vec<u64>,
    users: HashMap<u64, User>,
    /// DM channel id -> recipient.
    dm_channels: HashMap<u64, u64>,
    threads: HashMap<u64, Value>,
    messages: HashMap<u64, Value>,
    interactions: HashMap<String, InteractionInfo>,
    /// Guild (None = global) -> registered commands.
    commands: HashMap<Option<u64>, Vec<Value>>,
    echo_bot_messages: bool,
    /// Close codes of the Close frames clients sent (`None`: a Close frame without a code).
    client_closes: Vec<Option<u16>>,
}

struct Inner {
    port: u16,
    next_id: AtomicU64,
    state: Mutex<St>,
    changed: watch::Sender<u64>,
}

impl Inner {
    fn new(port: u16) -> Inner {
        Inner {
            port,
            next_id: AtomicU64::new(100_001),
            state: Mutex::new(St {
                requests: Vec::new(),
                failures: Vec::new(),
                conn: None,
                next_conn_id: 1,
                session: None,
                session_counter: 0,
                pending: Vec::new(),
                identify_count: 0,
                resume_count: 0,
                heartbeat_count: 0,
                replayed_count: 0,
                established: 0,
                last_identify: None,
                intents: None,
                guild_roles: Vec::new(),
                guild_channels: vec![CHANNEL_ID],
                users: HashMap::new(),
                dm_channels: HashMap::new(),
                threads: HashMap::new(),
                messages: HashMap::new(),
                interactions: HashMap::new(),
                commands: HashMap::new(),
                echo_bot_messages: true,
                client_closes: Vec::new(),
            }),
            changed: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, St> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&St) -> Option<T>,
    ) -> T {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(found) = check(&self.lock()) {
                return found;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                let st = self.lock();
                if let Some(found) = check(&st) {
                    return found;
                }
                panic!(
                    "fake discord: timed out after {timeout:?} waiting for {what}\n{}",
                    describe(&st)
                );
            }
        }
    }

    fn user_message(
        &self,
        channel_id: u64,
        author: &User,
        content: &str,
        guild: Option<u64>,
    ) -> u64 {
        let id = self.new_id();
        let mut st = self.lock();
        st.users.insert(author.id, author.clone());
        if guild.is_none() {
            st.dm_channels.insert(channel_id, author.id);
        }
        let mut msg = message_json(&st, id, channel_id, &user_json(author), content);
        if let Some(g) = guild {
            msg["guild_id"] = json!(g.to_string());
            msg["member"] = partial_member_json(&author.roles);
        }
        dispatch_message_create(&mut st, msg, author.id);
        drop(st);
        self.bump();
        id
    }
}

fn describe(st: &St) -> String {
    let mut s = format!(
        "identify_count={} resume_count={} heartbeats={} connected={} live={}\nrequests ({}):\n",
        st.identify_count,
        st.resume_count,
        st.heartbeat_count,
        st.conn.is_some(),
        st.conn.as_ref().is_some_and(|c| c.live),
        st.requests.len()
    );
    for (i, r) in st.requests.iter().enumerate() {
        let mut body = r.body.to_string();
        if body.len() > 300 {
            let mut cut = 300;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push_str("...");
        }
        s.push_str(&format!(
            "  [{i}] {} {} -> {} {body}\n",
            r.method, r.path, r.status
        ));
    }
    s
}

/// Sends (or keeps) a dispatch. Must be called with the state locked; the caller bumps.
fn dispatch_locked(st: &mut St, t: &str, d: Value) {
    let St {
        session,
        conn,
        pending,
        ..
    } = st;
    let Some(session) = session.as_mut() else {
        pending.push((t.to_string(), d));
        return;
    };
    session.seq += 1;
    let frame = json!({"op": 0, "s": session.seq, "t": t, "d": d}).to_string();
    let delivered = match conn {
        Some(c) if c.live => c.tx.send(Outgoing::Text(frame.clone())).is_ok(),
        _ => false,
    };
    session.log.push(LogEntry {
        seq: session.seq,
        t: t.to_string(),
        d,
        frame,
        delivered,
    });
}

/// MESSAGE_CREATE with the intent rules of Discord applied (see the module docs).
fn dispatch_message_create(st: &mut St, mut msg: Value, author_id: u64) {
    let in_guild = msg.get("guild_id").is_some();
    if let Some(intents) = st.intents {
        let (needed, name) = if in_guild {
            (INTENT_GUILD_MESSAGES, "GUILD_MESSAGES")
        } else {
            (INTENT_DIRECT_MESSAGES, "DIRECT_MESSAGES")
        };
        if intents & needed == 0 {
            eprintln!(
                "fake discord: MESSAGE_CREATE {} not delivered: the client did not ask for the {name} intent",
                msg["id"]
            );
            return;
        }
        let mentions_bot = msg["mentions"]
            .as_array()
            .is_some_and(|m| m.iter().any(|u| u["id"] == json!(BOT_ID.to_string())));
        if in_guild && intents & INTENT_MESSAGE_CONTENT == 0 && !mentions_bot && author_id != BOT_ID
        {
            msg["content"] = json!("");
            msg["embeds"] = json!([]);
            msg["attachments"] = json!([]);
            msg["components"] = json!([]);
        }
    }
    dispatch_locked(st, "MESSAGE_CREATE", msg);
}

// ---------------------------------------------------------------------------------------------
// Payload builders

fn now() -> String {
    serenity::model::Timestamp::now()
        .to_rfc3339()
        .unwrap_or_else(|| "2024-01-01T00:00:00.000Z".into())
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.to_string(), "username": user.name, "global_name": null,
        "discriminator": "0", "avatar": null, "bot": user.bot, "public_flags": 0
    })
}

fn bot_user() -> User {
    User {
        id: BOT_ID,
        name: BOT_NAME.to_string(),
        bot: true,
        roles: Vec::new(),
    }
}

fn known_user(st: &St, id: u64) -> User {
    if id == BOT_ID {
        return bot_user();
    }
    st.users
        .get(&id)
        .cloned()
        .unwrap_or_else(|| User::new(id, &format!("user{id}")))
}

fn partial_member_json(roles: &[u64]) -> Value {
    json!({
        "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
        "nick": null, "avatar": null, "communication_disabled_until": null
    })
}

/// A full member. Extra roles carry no permissions: members have `@everyone`'s.
fn member_json(user: &User) -> Value {
    let mut m = partial_member_json(&user.roles);
    m["user"] = user_json(user);
    m["permissions"] = json!(EVERYONE_PERMISSIONS.to_string());
    m
}

fn role_json(id: u64, name: &str, position: usize, permissions: u64) -> Value {
    json!({
        "id": id.to_string(), "name": name, "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false, "icon": null, "unicode_emoji": null, "position": position,
        "permissions": permissions.to_string(), "managed": false, "mentionable": false, "flags": 0
    })
}

fn roles_json(st: &St) -> Vec<Value> {
    let mut roles = vec![role_json(GUILD_ID, "@everyone", 0, EVERYONE_PERMISSIONS)];
    for (i, (id, name)) in st.guild_roles.iter().enumerate() {
        roles.push(role_json(*id, name, i + 1, 0));
    }
    roles
}

fn text_channel_json(id: u64, position: usize) -> Value {
    json!({
        "id": id.to_string(), "type": 0, "guild_id": GUILD_ID.to_string(),
        "name": format!("channel-{id}"), "position": position, "permission_overwrites": [],
        "nsfw": false, "topic": null, "last_message_id": null, "rate_limit_per_user": 0,
        "parent_id": null, "flags": 0
    })
}

fn dm_channel_json(st: &St, id: u64, recipient: u64) -> Value {
    json!({
        "id": id.to_string(), "type": 1, "last_message_id": null, "flags": 0,
        "recipients": [user_json(&known_user(st, recipient))]
    })
}

fn channel_json(st: &St, id: u64) -> Value {
    if let Some(recipient) = st.dm_channels.get(&id) {
        return dm_channel_json(st, id, *recipient);
    }
    if let Some(thread) = st.threads.get(&id) {
        return thread.clone();
    }
    let position = st.guild_channels.iter().position(|c| *c == id).unwrap_or(0);
    text_channel_json(id, position)
}

/// The guild a channel belongs to: None for DM channels.
fn channel_guild(st: &St, channel_id: u64) -> Option<u64> {
    (!st.dm_channels.contains_key(&channel_id)).then_some(GUILD_ID)
}

fn ready_json(inner: &Inner, session_id: &str) -> Value {
    json!({
        "v": 10,
        "user": {
            "id": BOT_ID.to_string(), "username": BOT_NAME, "global_name": null,
            "discriminator": "0", "avatar": null, "bot": true, "verified": true,
            "mfa_enabled": false, "email": null, "flags": 0
        },
        "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": inner.ws_url(),
        "shard": [0, 1],
        "application": {"id": APP_ID.to_string(), "flags": 0},
        "private_channels": [],
        "presences": [],
        "relationships": [],
        "_trace": ["fake-discord"]
    })
}

fn guild_json(st: &St) -> Value {
    let channels: Vec<Value> = st
        .guild_channels
        .iter()
        .enumerate()
        .map(|(i, id)| text_channel_json(*id, i))
        .collect();
    let bot = bot_user();
    let mut guild = json!({
        "id": GUILD_ID.to_string(),
        "name": "Fake Guild",
        "icon": null, "icon_hash": null, "splash": null, "discovery_splash": null,
        "owner_id": "1999",
        "afk_channel_id": null, "afk_timeout": 300,
        "widget_enabled": false, "widget_channel_id": null,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": roles_json(st),
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "max_presences": null,
        "max_members": 500000,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "nsfw": false,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
        "incidents_data": null
    });
    // Split in two: one json! this size exceeds the default macro recursion limit.
    let extra = json!({
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "large": false,
        "unavailable": false,
        "member_count": 2,
        "voice_states": [],
        "members": [{
            "user": user_json(&bot), "roles": [], "nick": null, "avatar": null,
            "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
            "deaf": false, "mute": false, "flags": 0, "pending": false,
            "communication_disabled_until": null
        }],
        "channels": channels,
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "lazy": true
    });
    if let (Some(g), Value::Object(extra)) = (guild.as_object_mut(), extra) {
        g.extend(extra);
    }
    guild
}

/// Parses `<@id>`, `<@!id>` and `<@&id>` mentions.
fn parse_mentions(content: &str) -> (Vec<u64>, Vec<u64>) {
    let (mut users, mut roles) = (Vec::new(), Vec::new());
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, digits_from) = match rest.as_bytes().first() {
            Some(b'&') => (true, 1),
            Some(b'!') => (false, 1),
            _ => (false, 0),
        };
        let tail = &rest[digits_from..];
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        if end > 0 && tail[end..].starts_with('>') {
            if let Ok(id) = tail[..end].parse::<u64>() {
                let list = if is_role { &mut roles } else { &mut users };
                if !list.contains(&id) {
                    list.push(id);
                }
            }
        }
    }
    (users, roles)
}

fn message_json(st: &St, id: u64, channel_id: u64, author: &Value, content: &str) -> Value {
    let (user_ids, role_ids) = parse_mentions(content);
    let mentions: Vec<Value> = user_ids
        .iter()
        .map(|u| user_json(&known_user(st, *u)))
        .collect();
    json!({
        "id": id.to_string(), "channel_id": channel_id.to_string(), "author": author,
        "content": content, "timestamp": now(), "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": mentions,
        "mention_roles": role_ids.iter().map(u64::to_string).collect::<Vec<_>>(),
        "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": 0,
        "components": []
    })
}

/// A message authored by the bot (or its application) from a create/edit body.
fn bot_message_from_body(
    st: &St,
    id: u64,
    channel_id: u64,
    body: &Value,
    files: &[Upload],
) -> Value {
    let content = body.get("content").and_then(Value::as_str).unwrap_or("");
    let mut msg = message_json(st, id, channel_id, &user_json(&bot_user()), content);
    apply_body(&mut msg, body, files, channel_id);
    msg
}

/// Copies the fields of a create/edit message body onto a stored message.
fn apply_body(msg: &mut Value, body: &Value, files: &[Upload], channel_id: u64) {
    if let Some(content) = body.get("content").and_then(Value::as_str) {
        msg["content"] = json!(content);
    }
    for key in ["components", "embeds"] {
        if let Some(v) = body.get(key).filter(|v| v.is_array()) {
            msg[key] = v.clone();
        }
    }
    if let Some(flags) = body.get("flags").and_then(Value::as_u64) {
        msg["flags"] = json!(flags);
    }
    if let Some(tts) = body.get("tts").and_then(Value::as_bool) {
        msg["tts"] = json!(tts);
    }
    if let Some(reference) = body.get("message_reference").filter(|v| v.is_object()) {
        let mut reference = reference.clone();
        if reference.get("channel_id").is_none() {
            reference["channel_id"] = json!(channel_id.to_string());
        }
        msg["message_reference"] = reference;
        msg["type"] = json!(19);
    }
    if !files.is_empty() {
        let attachments: Vec<Value> = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let url = format!(
                    "https://cdn.example.invalid/attachments/{channel_id}/{i}/{}",
                    f.filename
                );
                json!({
                    "id": (900_000 + i).to_string(), "filename": f.filename, "size": f.bytes.len(),
                    "url": url, "proxy_url": url, "content_type": null
                })
            })
            .collect();
        msg["attachments"] = json!(attachments);
    }
}

fn partial_channel_json(st: &St, channel_id: u64, guild: Option<u64>) -> Value {
    if let Some(thread) = st.threads.get(&channel_id) {
        let mut c = json!({
            "id": channel_id.to_string(), "type": thread["type"], "name": thread["name"],
            "parent_id": thread["parent_id"], "thread_metadata": thread["thread_metadata"],
            "guild_id": thread["guild_id"]
        });
        c["permissions"] = json!(APP_PERMISSIONS.to_string());
        return c;
    }
    match guild {
        Some(g) => json!({
            "id": channel_id.to_string(), "type": 0, "name": format!("channel-{channel_id}"),
            "guild_id": g.to_string(), "permissions": APP_PERMISSIONS.to_string()
        }),
        None => json!({"id": channel_id.to_string(), "type": 1, "flags": 0}),
    }
}

fn interaction_base(
    st: &mut St,
    id: u64,
    kind: u8,
    channel_id: u64,
    user: &User,
    guild: Option<u64>,
) -> Value {
    st.users.insert(user.id, user.clone());
    if guild.is_none() {
        st.dm_channels.entry(channel_id).or_insert(user.id);
    }
    let mut v = json!({
        "id": id.to_string(), "application_id": APP_ID.to_string(), "type": kind,
        "token": interaction_token(id), "version": 1,
        "channel_id": channel_id.to_string(),
        "channel": partial_channel_json(st, channel_id, guild),
        "app_permissions": APP_PERMISSIONS.to_string(),
        "locale": "en-US", "entitlements": [], "attachment_size_limit": 8_388_608
    });
    match guild {
        Some(g) => {
            v["guild_id"] = json!(g.to_string());
            v["guild_locale"] = json!("en-US");
            v["member"] = member_json(user);
            v["context"] = json!(0);
            v["authorizing_integration_owners"] = json!({"0": g.to_string()});
        }
        None => {
            v["user"] = user_json(user);
            v["context"] = json!(1);
            v["authorizing_integration_owners"] = json!({"0": "0"});
        }
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn click_json(
    st: &mut St,
    id: u64,
    channel_id: u64,
    message_id: u64,
    custom_id: &str,
    user: &User,
    guild: Option<u64>,
    values: Option<Vec<String>>,
) -> Value {
    let mut v = interaction_base(st, id, 3, channel_id, user, guild);
    let message = match st.messages.get(&message_id) {
        Some(m) => m.clone(),
        None => {
            // A bot message the fake never saw: give it the clicked component.
            let mut m = message_json(st, message_id, channel_id, &user_json(&bot_user()), "");
            m["components"] = match &values {
                None => json!([{"type": 1, "components": [
                    {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}
                ]}]),
                Some(vals) => json!([{"type": 1, "components": [{
                    "type": 3, "custom_id": custom_id,
                    "options": vals.iter().map(|s| json!({"label": s, "value": s})).collect::<Vec<_>>()
                }]}]),
            };
            m
        }
    };
    v["message"] = message;
    v["data"] = match values {
        None => json!({"custom_id": custom_id, "component_type": 2}),
        Some(vals) => json!({"custom_id": custom_id, "component_type": 3, "values": vals}),
    };
    st.interactions.insert(
        interaction_token(id),
        InteractionInfo {
            channel_id,
            guild,
            message_id: Some(message_id),
            original: None,
        },
    );
    v
}

#[allow(clippy::too_many_arguments)]
fn slash_json(
    inner: &Inner,
    st: &mut St,
    id: u64,
    channel_id: u64,
    name: &str,
    options: &[(&str, &str)],
    user: &User,
    guild: Option<u64>,
) -> Value {
    let mut v = interaction_base(st, id, 2, channel_id, user, guild);
    let command_id = st
        .commands
        .values()
        .flatten()
        .find(|c| c["name"] == json!(name))
        .and_then(|c| c["id"].as_str().and_then(|s| s.parse::<u64>().ok()))
        .unwrap_or_else(|| inner.new_id());
    let opts: Vec<Value> = options
        .iter()
        .map(|(n, val)| json!({"name": n, "type": 3, "value": val}))
        .collect();
    v["data"] = json!({"id": command_id.to_string(), "name": name, "type": 1, "options": opts});
    st.interactions.insert(
        interaction_token(id),
        InteractionInfo {
            channel_id,
            guild,
            message_id: None,
            original: None,
        },
    );
    v
}

fn thread_json(id: u64, parent_id: u64, body: &Value, kind: u64) -> Value {
    let name = body.get("name").and_then(Value::as_str).unwrap_or("thread");
    let duration = body
        .get("auto_archive_duration")
        .and_then(Value::as_u64)
        .unwrap_or(1440);
    let now = now();
    json!({
        "id": id.to_string(), "type": kind, "guild_id": GUILD_ID.to_string(),
        "parent_id": parent_id.to_string(), "owner_id": BOT_ID.to_string(), "name": name,
        "last_message_id": null, "rate_limit_per_user": body.get("rate_limit_per_user").and_then(Value::as_u64).unwrap_or(0),
        "message_count": 0, "member_count": 1, "total_message_sent": 0, "flags": 0,
        "thread_metadata": {
            "archived": false, "auto_archive_duration": duration, "archive_timestamp": now,
            "locked": false, "create_timestamp": now,
            "invitable": body.get("invitable").and_then(Value::as_bool).unwrap_or(true)
        }
    })
}

fn hello_frame() -> String {
    json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        .to_string()
}

fn id_of(v: &Option<Value>) -> u64 {
    v.as_ref()
        .and_then(|v| v["id"].as_str())
        .and_then(|s| s.parse().ok())
        .expect("a JSON object with a string id")
}

// ---------------------------------------------------------------------------------------------
// Gateway

async fn ws_upgrade(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 << 20)
        .on_upgrade(move |socket| run_socket(inner, socket))
}

async fn run_socket(inner: Arc<Inner>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn_id = {
        let mut st = inner.lock();
        let id = st.next_conn_id;
        st.next_conn_id += 1;
        let _ = tx.send(Outgoing::Text(hello_frame()));
        st.conn = Some(Conn {
            id,
            tx: tx.clone(),
            live: false,
        });
        id
    };
    inner.bump();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outgoing::Text(text)) => {
                    if socket.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close(code)) => {
                    let frame = CloseFrame { code, reason: "fake discord closed the gateway".into() };
                    let _ = socket.send(WsMessage::Close(Some(frame))).await;
                    // Let the client read the close frame; it reconnects on a new socket.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
                    .await;
                    break;
                }
                None => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(WsMessage::Text(text))) => on_client_op(&inner, conn_id, &tx, text.as_str()),
                Some(Ok(WsMessage::Close(frame))) => {
                    inner.lock().client_closes.push(frame.map(|f| f.code));
                    inner.bump();
                }
                // Keep reading after a Close so the automatic close reply is flushed.
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    let mut st = inner.lock();
    if st.conn.as_ref().is_some_and(|c| c.id == conn_id) {
        st.conn = None;
    }
    drop(st);
    inner.bump();
}

fn on_client_op(inner: &Inner, conn_id: u64, tx: &mpsc::UnboundedSender<Outgoing>, text: &str) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        eprintln!("fake discord: client sent non-JSON text: {text}");
        return;
    };
    let d = v.get("d").cloned().unwrap_or(Value::Null);
    let mut st = inner.lock();
    let current = st.conn.as_ref().is_some_and(|c| c.id == conn_id);
    match v.get("op").and_then(Value::as_u64) {
        Some(1) => {
            st.heartbeat_count += 1;
            let _ = tx.send(Outgoing::Text(json!({"op": 11}).to_string()));
        }
        Some(2) => {
            st.identify_count += 1;
            st.intents = d.get("intents").and_then(Value::as_u64);
            st.last_identify = Some(d);
            if !current {
                return;
            }
            let mut carried: Vec<(String, Value)> = st
                .session
                .take()
                .map(|s| {
                    s.log
                        .into_iter()
                        .filter(|e| !e.delivered)
                        .map(|e| (e.t, e.d))
                        .collect()
                })
                .unwrap_or_default();
            carried.append(&mut st.pending);
            st.session_counter += 1;
            let session_id = format!("fake-session-{}", st.session_counter);
            st.session = Some(Session {
                id: session_id.clone(),
                seq: 0,
                log: Vec::new(),
            });
            if let Some(c) = st.conn.as_mut() {
                c.live = true;
            }
            dispatch_locked(&mut st, "READY", ready_json(inner, &session_id));
            let guild = guild_json(&st);
            dispatch_locked(&mut st, "GUILD_CREATE", guild);
            for (t, d) in carried {
                dispatch_locked(&mut st, &t, d);
            }
            st.established += 1;
        }
        Some(6) => {
            st.resume_count += 1;
            if !current {
                return;
            }
            let client_seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let wanted = d.get("session_id").and_then(Value::as_str).unwrap_or("");
            let Some(session) = st.session.as_mut().filter(|s| s.id == wanted) else {
                let _ = tx.send(Outgoing::Text(json!({"op": 9, "d": false}).to_string()));
                return;
            };
            let mut replayed = 0;
            for entry in session.log.iter_mut().filter(|e| e.seq > client_seq) {
                let _ = tx.send(Outgoing::Text(entry.frame.clone()));
                entry.delivered = true;
                replayed += 1;
            }
            st.replayed_count += replayed;
            if let Some(c) = st.conn.as_mut() {
                c.live = true;
            }
            dispatch_locked(&mut st, "RESUMED", json!({}));
            st.established += 1;
        }
        // Presence updates, member requests...: nothing to do.
        _ => {}
    }
    drop(st);
    inner.bump();
}

// ---------------------------------------------------------------------------------------------
// REST

struct Reply {
    status: u16,
    /// None: no content.
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: 200,
        body: Some(body),
        headers: Vec::new(),
    }
}

fn no_content() -> Reply {
    Reply {
        status: 204,
        body: None,
        headers: Vec::new(),
    }
}

fn error(status: u16, code: u64, message: &str) -> Reply {
    Reply {
        status,
        body: Some(json!({"message": message, "code": code})),
        headers: Vec::new(),
    }
}

fn not_found(what: &str) -> Reply {
    error(404, 0, &format!("404: Not Found ({what}, fake discord)"))
}

async fn rest(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (json_body, files) = if content_type.starts_with("multipart/form-data") {
        parse_multipart(&content_type, &body)
    } else {
        (
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            Vec::new(),
        )
    };
    let reply = {
        let mut st = inner.lock();
        let reply = match take_failure(&mut st, method.as_str(), &path) {
            Some(reply) => reply,
            None => route(&inner, &mut st, method.as_str(), &path, &json_body, &files),
        };
        st.requests.push(Request {
            method: method.to_string(),
            path,
            body: json_body,
            at,
            query,
            files,
            status: reply.status,
        });
        reply
    };
    inner.bump();
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn take_failure(st: &mut St, method: &str, path: &str) -> Option<Reply> {
    let api_path = path.strip_prefix("/api/v10").unwrap_or(path);
    let failure = st.failures.iter_mut().find(|f| {
        f.remaining > 0
            && f.method.eq_ignore_ascii_case(method)
            && (path.starts_with(&f.prefix) || api_path.starts_with(&f.prefix))
    })?;
    failure.remaining -= 1;
    let (status, custom) = (failure.status, failure.body.clone());
    st.failures.retain(|f| f.remaining > 0);
    if status == 429 {
        let body = custom.unwrap_or_else(|| {
            json!({"message": "You are being rate limited.", "retry_after": 0.05, "global": false, "code": 0})
        });
        return Some(Reply {
            status,
            body: Some(body),
            headers: vec![
                ("retry-after", "1".into()),
                ("x-ratelimit-limit", "5".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset-after", "0.050".into()),
                ("x-ratelimit-bucket", "fake-bucket".into()),
                ("x-ratelimit-scope", "user".into()),
            ],
        });
    }
    let body = custom.unwrap_or_else(|| json!({"message": "fake failure", "code": 0}));
    Some(Reply {
        status,
        body: Some(body),
        headers: Vec::new(),
    })
}

fn num(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// Answers one REST call. `st` is locked; dispatches caused by the call (echoes of the bot's
/// messages) go out through `dispatch_locked`.
fn route(
    inner: &Inner,
    st: &mut St,
    method: &str,
    path: &str,
    body: &Value,
    files: &[Upload],
) -> Reply {
    let Some(rest) = path.strip_prefix("/api/v10/") else {
        return not_found("not under /api/v10");
    };
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("GET", ["gateway"]) => ok(json!({"url": inner.ws_url()})),
        ("GET", ["gateway", "bot"]) => ok(json!({
            "url": inner.ws_url(), "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        })),
        ("GET", ["users", "@me"]) => {
            let mut me = user_json(&bot_user());
            me["verified"] = json!(true);
            me["mfa_enabled"] = json!(false);
            me["flags"] = json!(0);
            ok(me)
        }
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = match &body["recipient_id"] {
                Value::String(s) => num(s),
                v => v.as_u64(),
            };
            let Some(recipient) = recipient else {
                return error(400, 50035, "Invalid Form Body (recipient_id)");
            };
            let existing = st
                .dm_channels
                .iter()
                .find(|(_, r)| **r == recipient)
                .map(|(c, _)| *c);
            let channel = existing.unwrap_or_else(|| inner.new_id());
            st.dm_channels.insert(channel, recipient);
            ok(dm_channel_json(st, channel, recipient))
        }
        ("GET", ["channels", c]) => match num(c) {
            Some(c) => ok(channel_json(st, c)),
            None => not_found("channel"),
        },
        ("POST", ["channels", c, "messages"]) => {
            let Some(c) = num(c) else {
                return not_found("channel");
            };
            let id = inner.new_id();
            let msg = bot_message_from_body(st, id, c, body, files);
            st.messages.insert(id, msg.clone());
            echo_bot_message(st, &msg, c);
            ok(msg)
        }
        ("GET", ["channels", _, "messages", m]) => match num(m).and_then(|m| st.messages.get(&m)) {
            Some(msg) => ok(msg.clone()),
            None => error(404, 10008, "Unknown Message"),
        },
        ("PATCH", ["channels", c, "messages", m]) => {
            let (Some(c), Some(m)) = (num(c), num(m)) else {
                return not_found("message");
            };
            let mut msg = st
                .messages
                .get(&m)
                .cloned()
                .unwrap_or_else(|| bot_message_from_body(st, m, c, &Value::Null, &[]));
            apply_body(&mut msg, body, files, c);
            msg["edited_timestamp"] = json!(now());
            st.messages.insert(m, msg.clone());
            ok(msg)
        }
        ("DELETE", ["channels", _, "messages", m]) => {
            if let Some(m) = num(m) {
                st.messages.remove(&m);
            }
            no_content()
        }
        ("POST", ["channels", _, "typing"]) => no_content(),
        ("PUT" | "DELETE", ["channels", _, "messages", _, "reactions", ..]) => no_content(),
        ("PUT" | "DELETE", ["channels", _, "thread-members", ..]) => no_content(),
        ("POST", ["channels", c, "messages", m, "threads"]) => {
            let (Some(c), Some(m)) = (num(c), num(m)) else {
                return not_found("message");
            };
            if st.dm_channels.contains_key(&c) {
                return error(400, 50003, "Cannot execute action on a DM channel");
            }
            if st.threads.contains_key(&m) {
                return error(
                    400,
                    160004,
                    "A thread has already been created for this message",
                );
            }
            let thread = thread_json(m, c, body, 11);
            st.threads.insert(m, thread.clone());
            ok(thread)
        }
        ("POST", ["channels", c, "threads"]) => {
            let Some(c) = num(c) else {
                return not_found("channel");
            };
            if st.dm_channels.contains_key(&c) {
                return error(400, 50003, "Cannot execute action on a DM channel");
            }
            let kind = body.get("type").and_then(Value::as_u64).unwrap_or(11);
            let id = inner.new_id();
            let thread = thread_json(id, c, body, kind);
            st.threads.insert(id, thread.clone());
            ok(thread)
        }
        ("POST", ["interactions", _, token, "callback"]) => {
            let Some(info) = st.interactions.get(*token).cloned() else {
                return error(404, 10062, "Unknown interaction");
            };
            let kind = body.get("type").and_then(Value::as_u64).unwrap_or(0);
            let data = body.get("data").cloned().unwrap_or(Value::Null);
            match kind {
                // Channel message with source: the original response.
                4 => {
                    let id = inner.new_id();
                    let mut msg = bot_message_from_body(st, id, info.channel_id, &data, files);
                    msg["webhook_id"] = json!(APP_ID.to_string());
                    msg["application_id"] = json!(APP_ID.to_string());
                    if let Some(i) = st.interactions.get_mut(*token) {
                        i.original = Some(msg.clone());
                    }
                    st.messages.insert(id, msg.clone());
                    if data.get("flags").and_then(Value::as_u64).unwrap_or(0) & 64 == 0 {
                        echo_bot_message(st, &msg, info.channel_id);
                    }
                }
                // Update the message the component is on.
                7 => {
                    if let Some(mid) = info.message_id {
                        if let Some(msg) = st.messages.get_mut(&mid) {
                            apply_body(msg, &data, files, info.channel_id);
                            msg["edited_timestamp"] = json!(now());
                        }
                    }
                }
                _ => {}
            }
            no_content()
        }
        ("GET" | "PATCH" | "DELETE", ["webhooks", _, token, "messages", m]) => {
            let Some(info) = st.interactions.get(*token).cloned() else {
                return error(404, 10015, "Unknown Webhook");
            };
            let stored = if *m == "@original" {
                info.original.clone()
            } else {
                num(m).and_then(|m| st.messages.get(&m).cloned())
            };
            match method {
                "DELETE" => no_content(),
                "GET" => match stored {
                    Some(msg) => ok(msg),
                    None => error(404, 10008, "Unknown Message"),
                },
                _ => {
                    let mut msg = stored.unwrap_or_else(|| {
                        let id = num(m).unwrap_or_else(|| inner.new_id());
                        let mut msg =
                            bot_message_from_body(st, id, info.channel_id, &Value::Null, &[]);
                        msg["webhook_id"] = json!(APP_ID.to_string());
                        msg["application_id"] = json!(APP_ID.to_string());
                        msg
                    });
                    apply_body(&mut msg, body, files, info.channel_id);
                    msg["edited_timestamp"] = json!(now());
                    let id = id_of(&Some(msg.clone()));
                    st.messages.insert(id, msg.clone());
                    if *m == "@original" {
                        if let Some(i) = st.interactions.get_mut(*token) {
                            i.original = Some(msg.clone());
                        }
                    }
                    ok(msg)
                }
            }
        }
        ("POST", ["webhooks", _, token]) => {
            let Some(info) = st.interactions.get(*token).cloned() else {
                return error(404, 10015, "Unknown Webhook");
            };
            let id = inner.new_id();
            let mut msg = bot_message_from_body(st, id, info.channel_id, body, files);
            msg["webhook_id"] = json!(APP_ID.to_string());
            msg["application_id"] = json!(APP_ID.to_string());
            st.messages.insert(id, msg.clone());
            if body.get("flags").and_then(Value::as_u64).unwrap_or(0) & 64 == 0 {
                echo_bot_message(st, &msg, info.channel_id);
            }
            ok(msg)
        }
        ("PUT", ["applications", _, "commands"]) => ok(put_commands(inner, st, None, body)),
        ("PUT", ["applications", _, "guilds", g, "commands"]) => {
            let g = num(g);
            ok(put_commands(inner, st, g, body))
        }
        ("GET", ["applications", _, "commands"]) => {
            ok(json!(st.commands.get(&None).cloned().unwrap_or_default()))
        }
        ("GET", ["applications", _, "guilds", g, "commands"]) => {
            ok(json!(st.commands.get(&num(g)).cloned().unwrap_or_default()))
        }
        ("POST", ["applications", _, "commands"]) => {
            let command = echo_command(inner, None, body);
            let list = st.commands.entry(None).or_default();
            list.retain(|c| c["name"] != command["name"]);
            list.push(command.clone());
            ok(command)
        }
        ("GET", ["guilds", _, "members", u]) => match num(u).and_then(|u| st.users.get(&u)) {
            Some(user) => {
                let mut m = member_json(user);
                m["guild_id"] = json!(GUILD_ID.to_string());
                ok(m)
            }
            None => error(404, 10007, "Unknown Member"),
        },
        ("GET", ["guilds", _, "roles"]) => ok(json!(roles_json(st))),
        ("GET", ["guilds", _, "channels"]) => {
            let channels: Vec<Value> = st
                .guild_channels
                .iter()
                .enumerate()
                .map(|(i, c)| text_channel_json(*c, i))
                .collect();
            ok(json!(channels))
        }
        _ => not_found("no such route in the fake"),
    }
}

fn echo_bot_message(st: &mut St, msg: &Value, channel_id: u64) {
    if !st.echo_bot_messages {
        return;
    }
    let mut echo = msg.clone();
    if let Some(g) = channel_guild(st, channel_id) {
        echo["guild_id"] = json!(g.to_string());
        echo["member"] = partial_member_json(&[]);
    }
    dispatch_message_create(st, echo, BOT_ID);
}

fn echo_command(inner: &Inner, guild: Option<u64>, command: &Value) -> Value {
    let mut c = command.clone();
    if !c.is_object() {
        return c;
    }
    c["id"] = json!(inner.new_id().to_string());
    c["application_id"] = json!(APP_ID.to_string());
    c["version"] = json!(inner.new_id().to_string());
    if c.get("type").is_none_or(Value::is_null) {
        c["type"] = json!(1);
    }
    if c.get("description").is_none_or(Value::is_null) {
        c["description"] = json!("");
    }
    if let Some(g) = guild {
        c["guild_id"] = json!(g.to_string());
    }
    c
}

fn put_commands(inner: &Inner, st: &mut St, guild: Option<u64>, body: &Value) -> Value {
    let commands: Vec<Value> = body
        .as_array()
        .map(|a| a.iter().map(|c| echo_command(inner, guild, c)).collect())
        .unwrap_or_default();
    st.commands.insert(guild, commands.clone());
    json!(commands)
}

// ---------------------------------------------------------------------------------------------
// Multipart

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn disposition_param(head: &str, key: &str) -> Option<String> {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?
        .split(';')
        .find_map(|p| {
            p.trim()
                .strip_prefix(&format!("{key}="))
                .map(|v| v.trim_matches('"').to_string())
        })
}

/// Returns the parsed `payload_json` part (or Null) and the file parts.
fn parse_multipart(content_type: &str, body: &[u8]) -> (Value, Vec<Upload>) {
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
    else {
        return (Value::Null, Vec::new());
    };
    let delimiter = format!("--{boundary}").into_bytes();
    let mut payload = Value::Null;
    let mut files = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, &delimiter) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let end = find(rest, &delimiter).unwrap_or(rest.len());
        let part = &rest[..end];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let data = &part[split + 4..];
        let name = disposition_param(&head, "name").unwrap_or_default();
        match disposition_param(&head, "filename") {
            Some(filename) => files.push(Upload {
                field: name,
                filename,
                bytes: data.to_vec(),
            }),
            None if name == "payload_json" => {
                payload = serde_json::from_slice(data).unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    (payload, files)
}

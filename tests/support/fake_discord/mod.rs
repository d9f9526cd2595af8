//! A fake Discord (REST API + gateway websocket) on 127.0.0.1 for integration tests.
//!
//! The bot's real serenity client talks to it unchanged: point `HttpBuilder::proxy` at
//! [`FakeDiscord::base_url`] and disable serenity's rate limiter (with the rate limiter on,
//! serenity ignores the proxy and goes to the real discord.com). See
//! `/work/shared/notes/discord-offline-testing.md` for what serenity needs and why.
//!
//! Include it with `#[path = "support/fake_discord/mod.rs"] mod fake_discord;` (from a test
//! crate that is a folder: `#[path = "../support/fake_discord/mod.rs"]`). Its parts: `state`
//! (what the fake remembers), `payloads` (the JSON it sends), `gateway` (the websocket), `rest`
//! (the REST API) and `samples` (one of every payload, for tests).
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

mod gateway;
mod payloads;
mod rest;
mod samples;
mod state;

#[allow(unused_imports)] // only tests/fake_discord_smoke uses it
pub use samples::sample_payloads;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::task::JoinHandle;

use gateway::ws_upgrade;
use payloads::{click_json, guild_json, modal_json, slash_json};
use rest::rest;
use state::{dispatch_locked, Failure, Inner, Outgoing};

pub const BOT_ID: u64 = 1001;
pub const APP_ID: u64 = 1001;
pub const GUILD_ID: u64 = 3001;
/// The text channel of the default GUILD_CREATE.
pub const CHANNEL_ID: u64 = 2001;
pub const BOT_NAME: &str = "personabot";
/// The heartbeat interval announced in HELLO, in milliseconds: Discord's own. A client that
/// misses an acknowledgement within one interval reconnects and loses the events in between,
/// so a short interval makes a busy machine look like a dead connection.
pub const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

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
        Self::start_with_heartbeat(HEARTBEAT_INTERVAL_MS).await
    }

    /// [`start`](Self::start) announcing `heartbeat_ms` in HELLO (a test of heartbeats uses a
    /// short one).
    pub async fn start_with_heartbeat(heartbeat_ms: u64) -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake discord: bind");
        let port = listener
            .local_addr()
            .expect("fake discord: local addr")
            .port();
        let inner = Arc::new(Inner::new(port, heartbeat_ms));
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

    /// Dispatches INTERACTION_CREATE type 5: the form `custom_id` (which the bot opened with
    /// an interaction response of type 9 on a button of `message_id`) sent with `fields`
    /// (text input custom id, value). Returns the interaction id.
    #[allow(dead_code)] // Not every test binary that includes the fake submits forms.
    pub async fn modal_submit(
        &self,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
        user: &User,
        guild: Option<u64>,
    ) -> u64 {
        let mut st = self.inner.lock();
        let id = self.inner.new_id();
        let payload = modal_json(
            &mut st, id, channel_id, message_id, custom_id, fields, user, guild,
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
    /// a full interval after HELLO: start the fake with a short one to see them).
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

//! What the fake Discord remembers (connection, session log, requests, guild, messages) and
//! how it dispatches gateway events from that state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::payloads::{message_json, partial_member_json, user_json};
use super::{
    Request, User, BOT_ID, CHANNEL_ID, INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
};

pub(super) enum Outgoing {
    Text(String),
    Close(u16),
}

pub(super) struct Conn {
    pub(super) id: u64,
    pub(super) tx: mpsc::UnboundedSender<Outgoing>,
    /// READY or RESUMED has been sent on this connection: dispatches go out live.
    pub(super) live: bool,
}

pub(super) struct Session {
    pub(super) id: String,
    pub(super) seq: u64,
    pub(super) log: Vec<LogEntry>,
}

pub(super) struct LogEntry {
    pub(super) seq: u64,
    pub(super) t: String,
    pub(super) d: Value,
    pub(super) frame: String,
    /// Written to some socket (not necessarily read by the client).
    pub(super) delivered: bool,
}

pub(super) struct Failure {
    pub(super) method: String,
    pub(super) prefix: String,
    pub(super) status: u16,
    pub(super) remaining: usize,
    pub(super) body: Option<Value>,
}

#[derive(Clone)]
pub(super) struct InteractionInfo {
    pub(super) channel_id: u64,
    pub(super) guild: Option<u64>,
    pub(super) message_id: Option<u64>,
    pub(super) original: Option<Value>,
}

pub(super) struct St {
    pub(super) requests: Vec<Request>,
    pub(super) failures: Vec<Failure>,
    pub(super) conn: Option<Conn>,
    pub(super) next_conn_id: u64,
    pub(super) session: Option<Session>,
    pub(super) session_counter: u64,
    /// Dispatches made before any session existed.
    pub(super) pending: Vec<(String, Value)>,
    pub(super) identify_count: usize,
    pub(super) resume_count: usize,
    pub(super) heartbeat_count: usize,
    /// Dispatches re-sent because a RESUME asked for them.
    pub(super) replayed_count: usize,
    /// Number of READY / RESUMED sent.
    pub(super) established: usize,
    pub(super) last_identify: Option<Value>,
    pub(super) intents: Option<u64>,
    pub(super) guild_roles: Vec<(u64, String)>,
    pub(super) guild_channels: Vec<u64>,
    pub(super) users: HashMap<u64, User>,
    /// DM channel id -> recipient.
    pub(super) dm_channels: HashMap<u64, u64>,
    pub(super) threads: HashMap<u64, Value>,
    pub(super) messages: HashMap<u64, Value>,
    pub(super) interactions: HashMap<String, InteractionInfo>,
    /// Guild (None = global) -> registered commands.
    pub(super) commands: HashMap<Option<u64>, Vec<Value>>,
    pub(super) echo_bot_messages: bool,
    /// Close codes of the Close frames clients sent (`None`: a Close frame without a code).
    pub(super) client_closes: Vec<Option<u16>>,
}

pub(super) struct Inner {
    pub(super) port: u16,
    pub(super) heartbeat_ms: u64,
    next_id: AtomicU64,
    state: Mutex<St>,
    changed: watch::Sender<u64>,
}

impl Inner {
    pub(super) fn new(port: u16, heartbeat_ms: u64) -> Inner {
        Inner {
            port,
            heartbeat_ms,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, St> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    pub(super) fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub(super) async fn wait_until<T>(
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

    pub(super) fn user_message(
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
pub(super) fn dispatch_locked(st: &mut St, t: &str, d: Value) {
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
pub(super) fn dispatch_message_create(st: &mut St, mut msg: Value, author_id: u64) {
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

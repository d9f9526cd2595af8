//! The fake Discord's REST API under /api/v10: routing, injected failures, and multipart bodies.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::payloads::{
    apply_body, bot_message_from_body, bot_user, channel_guild, channel_json, dm_channel_json,
    id_of, member_json, now, partial_member_json, roles_json, text_channel_json, thread_json,
    user_json,
};
use super::state::{dispatch_message_create, Inner, St};
use super::{Request, Upload, APP_ID, BOT_ID, GUILD_ID};

pub(super) struct Reply {
    status: u16,
    /// None: no content.
    pub(super) body: Option<Value>,
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

pub(super) async fn rest(
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
pub(super) fn route(
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
                // A modal: the user sees the form; a test sends it with `modal_submit`.
                9 => {}
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

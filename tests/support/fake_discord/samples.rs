//! One of every payload the fake Discord sends, built by the live code, for a test that checks
//! each against serenity's own types.

use serde_json::{json, Value};

use super::payloads::{click_json, guild_json, hello_frame, id_of, ready_json, slash_json};
use super::rest::route;
use super::state::{dispatch_locked, Inner, Session, St};
use super::{
    interaction_token, Upload, User, APP_ID, BOT_ID, CHANNEL_ID, GUILD_ID, HEARTBEAT_INTERVAL_MS,
};

/// Every kind of payload the fake can send, built by the same code as the live fake, for a unit
/// test that deserialises each with serenity's own types. Names start with `gateway:` (a whole
/// gateway frame: `{"op":..,"s":..,"t":..,"d":..}`) or `rest:` (a REST response body).
pub fn sample_payloads() -> Vec<(&'static str, Value)> {
    let inner = Inner::new(1, HEARTBEAT_INTERVAL_MS);
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
        serde_json::from_str(&hello_frame(HEARTBEAT_INTERVAL_MS)).expect("hello"),
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

//! Builders of the JSON the fake Discord sends: users, members, roles, channels, READY,
//! GUILD_CREATE, messages, interactions and threads.

use serde_json::{json, Value};

use super::state::{Inner, InteractionInfo, St};
use super::{
    interaction_token, Upload, User, APP_ID, APP_PERMISSIONS, BOT_ID, BOT_NAME,
    EVERYONE_PERMISSIONS, GUILD_ID,
};

pub(super) fn now() -> String {
    serenity::model::Timestamp::now()
        .to_rfc3339()
        .unwrap_or_else(|| "2024-01-01T00:00:00.000Z".into())
}

pub(super) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.to_string(), "username": user.name, "global_name": null,
        "discriminator": "0", "avatar": null, "bot": user.bot, "public_flags": 0
    })
}

pub(super) fn bot_user() -> User {
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

pub(super) fn partial_member_json(roles: &[u64]) -> Value {
    json!({
        "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
        "nick": null, "avatar": null, "communication_disabled_until": null
    })
}

/// A full member. Extra roles carry no permissions: members have `@everyone`'s.
pub(super) fn member_json(user: &User) -> Value {
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

pub(super) fn roles_json(st: &St) -> Vec<Value> {
    let mut roles = vec![role_json(GUILD_ID, "@everyone", 0, EVERYONE_PERMISSIONS)];
    for (i, (id, name)) in st.guild_roles.iter().enumerate() {
        roles.push(role_json(*id, name, i + 1, 0));
    }
    roles
}

pub(super) fn text_channel_json(id: u64, position: usize) -> Value {
    json!({
        "id": id.to_string(), "type": 0, "guild_id": GUILD_ID.to_string(),
        "name": format!("channel-{id}"), "position": position, "permission_overwrites": [],
        "nsfw": false, "topic": null, "last_message_id": null, "rate_limit_per_user": 0,
        "parent_id": null, "flags": 0
    })
}

pub(super) fn dm_channel_json(st: &St, id: u64, recipient: u64) -> Value {
    json!({
        "id": id.to_string(), "type": 1, "last_message_id": null, "flags": 0,
        "recipients": [user_json(&known_user(st, recipient))]
    })
}

pub(super) fn channel_json(st: &St, id: u64) -> Value {
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
pub(super) fn channel_guild(st: &St, channel_id: u64) -> Option<u64> {
    (!st.dm_channels.contains_key(&channel_id)).then_some(GUILD_ID)
}

pub(super) fn ready_json(inner: &Inner, session_id: &str) -> Value {
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

pub(super) fn guild_json(st: &St) -> Value {
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

pub(super) fn message_json(
    st: &St,
    id: u64,
    channel_id: u64,
    author: &Value,
    content: &str,
) -> Value {
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
pub(super) fn bot_message_from_body(
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
pub(super) fn apply_body(msg: &mut Value, body: &Value, files: &[Upload], channel_id: u64) {
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
pub(super) fn click_json(
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

/// INTERACTION_CREATE type 5 (modal submit) for the form `custom_id`, opened from a button on
/// `message_id`, with text inputs `fields` (custom id, value).
#[allow(clippy::too_many_arguments)]
pub(super) fn modal_json(
    st: &mut St,
    id: u64,
    channel_id: u64,
    message_id: u64,
    custom_id: &str,
    fields: &[(&str, &str)],
    user: &User,
    guild: Option<u64>,
) -> Value {
    let mut v = interaction_base(st, id, 5, channel_id, user, guild);
    if let Some(m) = st.messages.get(&message_id) {
        v["message"] = m.clone();
    }
    let rows: Vec<Value> = fields
        .iter()
        .map(|(field, value)| {
            json!({"type": 1, "components": [{"type": 4, "custom_id": field, "value": value}]})
        })
        .collect();
    v["data"] = json!({"custom_id": custom_id, "components": rows});
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
pub(super) fn slash_json(
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

pub(super) fn thread_json(id: u64, parent_id: u64, body: &Value, kind: u64) -> Value {
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

pub(super) fn hello_frame(heartbeat_ms: u64) -> String {
    json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": heartbeat_ms}}).to_string()
}

pub(super) fn id_of(v: &Option<Value>) -> u64 {
    v.as_ref()
        .and_then(|v| v["id"].as_str())
        .and_then(|s| s.parse().ok())
        .expect("a JSON object with a string id")
}

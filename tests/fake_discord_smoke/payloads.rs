//! Every payload the fake can send deserialises with serenity's types.

use serde_json::Value;
use serenity::all::{
    Channel, ChannelType, Command, CommandInteraction, ComponentInteraction,
    ComponentInteractionDataKind, CurrentUser, Event, GatewayEvent, GuildChannel, Interaction,
    Member, Message, PrivateChannel, Role,
};

use crate::fake_discord;
use crate::fake_discord::{APP_ID, BOT_ID, CHANNEL_ID, GUILD_ID};

/// Deserialises `d` of a dispatch with the event's own type, to get the real error when the
/// GatewayEvent turned into Event::Unknown (serenity swallows the error there).
pub(crate) fn explain_unknown(t: &str, d: &Value) -> String {
    use serenity::model::event::*;
    let err = match t {
        "READY" => serde_json::from_value::<ReadyEvent>(d.clone()).err(),
        "GUILD_CREATE" => serde_json::from_value::<GuildCreateEvent>(d.clone()).err(),
        "MESSAGE_CREATE" => serde_json::from_value::<MessageCreateEvent>(d.clone()).err(),
        "INTERACTION_CREATE" => serde_json::from_value::<InteractionCreateEvent>(d.clone()).err(),
        "RESUMED" => serde_json::from_value::<ResumedEvent>(d.clone()).err(),
        _ => None,
    };
    format!("{err:?}")
}

fn gateway_event(name: &str, v: &Value) -> GatewayEvent {
    let ev: GatewayEvent = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{name}: not a GatewayEvent: {e}\n{v:#}"));
    if let GatewayEvent::Dispatch(_, Event::Unknown(u)) = &ev {
        panic!(
            "{name}: serenity turned it into Event::Unknown: {}\n{v:#}",
            explain_unknown(&u.kind, &u.value)
        );
    }
    ev
}

fn dispatch(name: &str, v: &Value) -> Event {
    match gateway_event(name, v) {
        GatewayEvent::Dispatch(_, ev) => ev,
        other => panic!("{name}: expected a dispatch, got {other:?}"),
    }
}

fn component(name: &str, v: &Value) -> ComponentInteraction {
    match dispatch(name, v) {
        Event::InteractionCreate(e) => match e.interaction {
            Interaction::Component(c) => c,
            other => panic!("{name}: not a component interaction: {other:?}"),
        },
        other => panic!("{name}: not INTERACTION_CREATE: {other:?}"),
    }
}

fn command(name: &str, v: &Value) -> CommandInteraction {
    match dispatch(name, v) {
        Event::InteractionCreate(e) => match e.interaction {
            Interaction::Command(c) => c,
            other => panic!("{name}: not a command interaction: {other:?}"),
        },
        other => panic!("{name}: not INTERACTION_CREATE: {other:?}"),
    }
}

fn message_event(name: &str, v: &Value) -> Message {
    match dispatch(name, v) {
        Event::MessageCreate(e) => e.message,
        other => panic!("{name}: not MESSAGE_CREATE: {other:?}"),
    }
}

fn from<T: serde::de::DeserializeOwned>(name: &str, v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| {
        panic!(
            "{name}: does not fit {}: {e}\n{v:#}",
            std::any::type_name::<T>()
        )
    })
}

#[test]
fn every_payload_the_fake_sends_fits_serenity() {
    let samples = fake_discord::sample_payloads();
    let get = |name: &str| -> &Value {
        &samples
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no sample {name}"))
            .1
    };
    let mut checked = 0;
    for (name, v) in &samples {
        match *name {
            "gateway:HELLO" => {
                assert!(
                    matches!(
                        gateway_event(name, v),
                        GatewayEvent::Hello(i) if i == fake_discord::HEARTBEAT_INTERVAL_MS
                    ),
                    "{name}"
                );
            }
            "gateway:HEARTBEAT_ACK" => {
                assert!(
                    matches!(gateway_event(name, v), GatewayEvent::HeartbeatAck),
                    "{name}"
                );
            }
            "gateway:INVALID_SESSION" => {
                assert!(matches!(
                    gateway_event(name, v),
                    GatewayEvent::InvalidateSession(false)
                ));
            }
            "gateway:READY" => match dispatch(name, v) {
                Event::Ready(r) => {
                    assert_eq!(r.ready.user.id.get(), BOT_ID);
                    assert_eq!(r.ready.application.id.get(), APP_ID);
                    assert_eq!(r.ready.guilds.len(), 1);
                    assert_eq!(r.ready.session_id, "fake-session-1");
                }
                other => panic!("{name}: {other:?}"),
            },
            "gateway:GUILD_CREATE" => match dispatch(name, v) {
                Event::GuildCreate(g) => {
                    let g = g.guild;
                    assert_eq!(g.id.get(), GUILD_ID);
                    let everyone = g.roles.get(&GUILD_ID.into()).expect("@everyone role");
                    assert_eq!(everyone.name, "@everyone");
                    assert!(everyone.permissions.send_messages());
                    assert_eq!(
                        g.roles.get(&4001.into()).map(|r| r.name.as_str()),
                        Some("staff")
                    );
                    assert_eq!(g.roles.len(), 3);
                    assert_eq!(g.channels.len(), 2);
                    assert_eq!(g.channels[&CHANNEL_ID.into()].kind, ChannelType::Text);
                    assert!(g.members.contains_key(&BOT_ID.into()));
                }
                other => panic!("{name}: {other:?}"),
            },
            "gateway:MESSAGE_CREATE guild" => {
                let m = message_event(name, v);
                assert_eq!(m.guild_id.map(|g| g.get()), Some(GUILD_ID));
                assert_eq!(m.author.name, "alice");
                assert!(!m.author.bot);
                let member = m.member.expect("member");
                assert_eq!(
                    member.roles.iter().map(|r| r.get()).collect::<Vec<_>>(),
                    [4001]
                );
                assert!(
                    m.mentions.iter().any(|u| u.id.get() == BOT_ID && u.bot),
                    "bot mentioned"
                );
                assert!(m.mentions.iter().any(|u| u.id.get() == 1003));
                assert_eq!(
                    m.mention_roles.iter().map(|r| r.get()).collect::<Vec<_>>(),
                    [4001]
                );
            }
            "gateway:MESSAGE_CREATE dm" => {
                let m = message_event(name, v);
                assert!(m.guild_id.is_none() && m.member.is_none());
                assert_eq!(m.content, "hello in DM");
            }
            "gateway:MESSAGE_CREATE bot echo" => {
                let m = message_event(name, v);
                assert_eq!(m.author.id.get(), BOT_ID);
                assert!(m.author.bot);
                assert_eq!(m.guild_id.map(|g| g.get()), Some(GUILD_ID));
                assert_eq!(m.components.len(), 2);
            }
            "gateway:INTERACTION_CREATE button guild" => {
                let c = component(name, v);
                assert!(matches!(c.data.kind, ComponentInteractionDataKind::Button));
                assert_eq!(c.data.custom_id, "yes");
                assert_eq!(c.guild_id.map(|g| g.get()), Some(GUILD_ID));
                let member = c.member.as_ref().expect("member");
                assert_eq!(member.user.id.get(), 1002);
                assert_eq!(c.user.id.get(), 1002, "serenity fills user from member");
                assert_eq!(c.message.author.id.get(), BOT_ID);
                assert_eq!(
                    c.message.content, "pong",
                    "the stored bot message is the clicked one"
                );
                assert_eq!(c.message.components.len(), 2);
                assert!(c.token.starts_with("fake-interaction-token-"));
            }
            "gateway:INTERACTION_CREATE button dm" => {
                let c = component(name, v);
                assert!(c.guild_id.is_none() && c.member.is_none());
                assert_eq!(c.user.id.get(), 1003);
                assert_eq!(c.message.id.get(), 77);
            }
            "gateway:INTERACTION_CREATE select guild" | "gateway:INTERACTION_CREATE select dm" => {
                let c = component(name, v);
                match &c.data.kind {
                    ComponentInteractionDataKind::StringSelect { values } => {
                        assert!(!values.is_empty());
                    }
                    other => panic!("{name}: {other:?}"),
                }
                assert_eq!(c.data.custom_id, "pick");
            }
            "gateway:INTERACTION_CREATE slash guild" => {
                let c = command(name, v);
                assert_eq!(c.data.name, "help");
                assert_eq!(c.data.options.len(), 1);
                assert_eq!(c.data.options[0].name, "question");
                assert_eq!(
                    c.data.options[0].value.as_str(),
                    Some("how do I reset my password?")
                );
                assert_eq!(c.guild_id.map(|g| g.get()), Some(GUILD_ID));
                assert_eq!(c.user.id.get(), 1002);
            }
            "gateway:INTERACTION_CREATE slash dm" => {
                let c = command(name, v);
                assert!(c.guild_id.is_none());
                assert_eq!(c.user.id.get(), 1003);
            }
            "gateway:RESUMED" => {
                assert!(matches!(dispatch(name, v), Event::Resumed(_)), "{name}");
            }
            "rest:message" => {
                let m: Message = from(name, v);
                assert_eq!(m.content, "pong");
                assert_eq!(m.author.id.get(), BOT_ID);
                assert_eq!(m.components.len(), 2);
                assert_eq!(m.embeds.len(), 1);
                assert!(m.message_reference.is_some());
                assert!(
                    m.guild_id.is_none(),
                    "REST messages carry no guild_id, as on Discord"
                );
            }
            "rest:message edited" => {
                let m: Message = from(name, v);
                assert_eq!(m.content, "edited");
                assert!(m.components.is_empty() && m.edited_timestamp.is_some());
                assert_eq!(m.embeds.len(), 1, "fields not in the edit are kept");
            }
            "rest:message with attachment" => {
                let m: Message = from(name, v);
                assert_eq!(m.attachments.len(), 1);
                assert_eq!(m.attachments[0].size, 5);
            }
            "rest:followup message" | "rest:original response" => {
                let m: Message = from(name, v);
                assert_eq!(m.author.id.get(), BOT_ID);
                assert_eq!(m.webhook_id.map(|w| w.get()), Some(APP_ID));
            }
            "rest:thread from message" | "rest:thread" => {
                let t: GuildChannel = from(name, v);
                assert!(matches!(
                    t.kind,
                    ChannelType::PublicThread | ChannelType::PrivateThread
                ));
                assert_eq!(t.parent_id.map(|p| p.get()), Some(CHANNEL_ID));
                assert_eq!(t.guild_id.get(), GUILD_ID);
                assert!(t.thread_metadata.is_some());
                assert!(matches!(from::<Channel>(name, v), Channel::Guild(_)));
            }
            "rest:text channel" => {
                assert!(
                    matches!(from::<Channel>(name, v), Channel::Guild(c) if c.kind == ChannelType::Text)
                );
            }
            "rest:dm channel" => {
                let c: PrivateChannel = from(name, v);
                assert_eq!(c.recipient.id.get(), 1003);
                assert!(matches!(from::<Channel>(name, v), Channel::Private(_)));
            }
            "rest:current user" => {
                let u: CurrentUser = from(name, v);
                assert_eq!(u.id.get(), BOT_ID);
            }
            "rest:gateway" | "rest:gateway bot" => {
                assert!(v["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("ws://127.0.0.1:")));
                if *name == "rest:gateway bot" {
                    from::<serenity::model::gateway::BotGateway>(name, v);
                }
            }
            "rest:global commands" | "rest:guild commands" => {
                let commands: Vec<Command> = from(name, v);
                assert_eq!(commands.len(), 2);
                assert_eq!(commands[0].application_id.get(), APP_ID);
                assert_eq!(commands[0].options.len(), 1);
                if *name == "rest:guild commands" {
                    assert_eq!(commands[0].guild_id.map(|g| g.get()), Some(GUILD_ID));
                }
            }
            "rest:member" => {
                let m: Member = from(name, v);
                assert_eq!(m.user.id.get(), 1002);
            }
            "rest:roles" => {
                let roles: Vec<Role> = from(name, v);
                assert_eq!(roles.len(), 3);
            }
            "rest:not found" => {
                assert_eq!(v["code"], 0);
                assert!(v["message"].as_str().is_some_and(|m| m.starts_with("404")));
            }
            other => panic!("sample {other} is not checked by this test"),
        }
        checked += 1;
    }
    assert_eq!(checked, samples.len());
    assert!(get("gateway:READY").is_object());
}

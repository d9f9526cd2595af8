//! Checks the fake Discord itself: every payload it sends fits serenity's model, and a real
//! serenity client holds a conversation with it (messages, threads, buttons, selects, slash
//! commands, gateway resume with replay, REST failures).

#[path = "../support/fake_discord/mod.rs"]
mod fake_discord;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_discord::{FakeDiscord, Request, User, APP_ID, BOT_ID, CHANNEL_ID, GUILD_ID};
use serde_json::Value;
use serenity::all::{
    ButtonStyle, Channel, ChannelType, ClientBuilder, Command, CommandInteraction,
    CommandOptionType, ComponentInteraction, ComponentInteractionDataKind, Context,
    CreateActionRow, CreateButton, CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, CreateThread, CurrentUser,
    Event, EventHandler, GatewayEvent, GatewayIntents, GuildChannel, GuildId, HttpBuilder,
    Interaction, Member, Message, Permissions, PrivateChannel, RawEventHandler, Role, ShardManager,
};

const T: Duration = Duration::from_secs(10);

/// In case the machine has proxy variables: reqwest reads them when a client is built.
fn no_proxy() {
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    std::env::set_var("no_proxy", "127.0.0.1,localhost");
}

// ---------------------------------------------------------------------------------------------
// 1. Every payload the fake can send deserialises with serenity's types.

/// Deserialises `d` of a dispatch with the event's own type, to get the real error when the
/// GatewayEvent turned into Event::Unknown (serenity swallows the error there).
fn explain_unknown(t: &str, d: &Value) -> String {
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
                    matches!(gateway_event(name, v), GatewayEvent::Hello(1000)),
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

/// The bodies serenity's own builders produce survive the fake's echo (the components the
/// bot sends come back in the clicked message).
#[tokio::test]
async fn serenity_builders_round_trip_through_the_fake() {
    no_proxy();
    let fake = FakeDiscord::start().await;
    let http = HttpBuilder::new("fake-token")
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .application_id(APP_ID.into())
        .build();
    let rows = vec![
        CreateActionRow::Buttons(vec![
            CreateButton::new("ok")
                .label("OK")
                .style(ButtonStyle::Success),
            CreateButton::new_link("https://example.com").label("Docs"),
        ]),
        CreateActionRow::SelectMenu(CreateSelectMenu::new(
            "pick",
            CreateSelectMenuKind::String {
                options: vec![
                    CreateSelectMenuOption::new("A", "a"),
                    CreateSelectMenuOption::new("B", "b").description("bee"),
                ],
            },
        )),
    ];
    let sent = serenity::all::ChannelId::new(CHANNEL_ID)
        .send_message(
            &http,
            CreateMessage::new().content("choose").components(rows),
        )
        .await
        .expect("send_message through the fake");
    assert_eq!(sent.content, "choose");
    assert_eq!(sent.components.len(), 2);
    let thread = sent
        .channel_id
        .create_thread_from_message(&http, sent.id, CreateThread::new("ticket"))
        .await
        .expect("thread");
    assert_eq!(
        thread.id.get(),
        sent.id.get(),
        "a thread from a message has the message's id"
    );
    assert_eq!(thread.kind, ChannelType::PublicThread);
    let again = sent
        .channel_id
        .create_thread_from_message(&http, sent.id, CreateThread::new("x"))
        .await;
    assert!(
        again.is_err(),
        "second thread on the same message is refused"
    );
    let private = serenity::all::ChannelId::new(CHANNEL_ID)
        .create_thread(
            &http,
            CreateThread::new("private").kind(ChannelType::PrivateThread),
        )
        .await
        .expect("private thread");
    assert_eq!(private.kind, ChannelType::PrivateThread);
    let dm = serenity::all::UserId::new(1002)
        .create_dm_channel(&http)
        .await
        .expect("dm");
    assert_eq!(dm.recipient.id.get(), 1002);
    let got = http.get_channel(dm.id).await.expect("get dm channel");
    assert!(matches!(got, Channel::Private(_)));
    // The clicked message carries what serenity sent.
    let samples_ok = fake.stored_message(sent.id.get()).expect("stored");
    let m: Message = serde_json::from_value(samples_ok).expect("stored message fits Message");
    assert_eq!(m.components.len(), 2);
    // Command registration echoes what serenity's builders send.
    let commands = vec![
        CreateCommand::new("help").description("Ask").add_option(
            CreateCommandOption::new(CommandOptionType::String, "question", "Your question")
                .required(true),
        ),
        CreateCommand::new("relabel")
            .description("Fix a ticket")
            .default_member_permissions(Permissions::MANAGE_MESSAGES)
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "ticket", "Ticket number")
                    .min_int_value(1)
                    .required(true),
            )
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "intent", "Intent")
                    .add_string_choice("Billing", "billing")
                    .add_string_choice("Bug", "bug"),
            ),
    ];
    let global = Command::set_global_commands(&http, commands.clone())
        .await
        .expect("global");
    assert_eq!(global.len(), 2);
    assert_eq!(global[1].options[1].choices.len(), 2);
    let guild = GuildId::new(GUILD_ID)
        .set_commands(&http, commands)
        .await
        .expect("guild");
    assert_eq!(guild[0].guild_id.map(|g| g.get()), Some(GUILD_ID));
    assert!(fake.requests().iter().any(|r| r.is(
        "PUT",
        &format!("/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    )));
    // A failing route surfaces as an error with Discord's JSON error fields.
    fake.fail_next("POST", "/channels/", 429, 1);
    let err = serenity::all::ChannelId::new(CHANNEL_ID)
        .say(&http, "x")
        .await
        .expect_err("429");
    let text = format!("{err:?}");
    assert!(
        text.contains("429") && text.contains("rate limited"),
        "{text}"
    );
    let reqs = fake.requests();
    assert_eq!(reqs.last().map(|r| r.status), Some(429));
    assert!(
        reqs.iter().all(|r| r.status != 404),
        "unexpected 404s: {reqs:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A real serenity client against the fake.

#[derive(Default)]
struct Seen {
    errors: Mutex<Vec<String>>,
    unknown: Mutex<Vec<String>>,
}

struct Handler(Arc<Seen>);

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn message(&self, ctx: Context, msg: Message) {
        if msg.author.bot {
            return;
        }
        let reply = match msg
            .channel_id
            .say(&ctx.http, format!("pong: {}", msg.content))
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                self.0.errors.lock().unwrap().push(format!("say: {e:?}"));
                return;
            }
        };
        if msg.guild_id.is_some() {
            let thread = CreateThread::new(format!("ticket {}", msg.id));
            if let Err(e) = reply
                .channel_id
                .create_thread_from_message(&ctx.http, reply.id, thread)
                .await
            {
                self.0.errors.lock().unwrap().push(format!("thread: {e:?}"));
            }
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let result = match interaction {
            Interaction::Component(c) => {
                let text = match &c.data.kind {
                    ComponentInteractionDataKind::StringSelect { values } => {
                        format!("picked {}", values.join(","))
                    }
                    _ => format!("clicked {}", c.data.custom_id),
                };
                let msg = CreateInteractionResponseMessage::new()
                    .content(text)
                    .ephemeral(true);
                c.create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                    .await
            }
            Interaction::Command(c) => {
                let msg = CreateInteractionResponseMessage::new()
                    .content(format!("slash {}", c.data.name));
                match c
                    .create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                    .await
                {
                    Ok(()) => c
                        .create_followup(
                            &ctx.http,
                            CreateInteractionResponseFollowup::new().content("followup"),
                        )
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.0
                .errors
                .lock()
                .unwrap()
                .push(format!("interaction: {e:?}"));
        }
    }
}

struct Raw(Arc<Seen>);

#[serenity::async_trait]
impl RawEventHandler for Raw {
    async fn raw_event(&self, _ctx: Context, ev: Event) {
        if let Event::Unknown(u) = ev {
            let why = explain_unknown(&u.kind, &u.value);
            self.0
                .unknown
                .lock()
                .unwrap()
                .push(format!("{}: {why}", u.kind));
        }
    }
}

fn reply_to(content: &str) -> impl Fn(&Request) -> bool + '_ {
    move |r| {
        r.method == "POST"
            && r.api_path() == format!("/channels/{CHANNEL_ID}/messages")
            && r.content() == content
    }
}

fn count(fake: &FakeDiscord, pred: impl Fn(&Request) -> bool) -> usize {
    fake.requests().iter().filter(|r| pred(r)).count()
}

async fn start_client(
    fake: &FakeDiscord,
    seen: &Arc<Seen>,
    intents: GatewayIntents,
) -> (
    Arc<ShardManager>,
    tokio::task::JoinHandle<Result<(), serenity::Error>>,
) {
    let http = HttpBuilder::new("fake-token")
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(Handler(Arc::clone(seen)))
        .raw_event_handler(Raw(Arc::clone(seen)))
        .await
        .expect("client");
    let shards = client.shard_manager.clone();
    (shards, tokio::spawn(async move { client.start().await }))
}

async fn stop_client(
    shards: Arc<ShardManager>,
    running: tokio::task::JoinHandle<Result<(), serenity::Error>>,
) {
    shards.shutdown_all().await;
    let finished = tokio::time::timeout(T, running)
        .await
        .expect("client stops after shutdown_all");
    finished
        .expect("client task")
        .expect("client.start() result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serenity_client_converses_with_the_fake() {
    no_proxy();

    let fake = FakeDiscord::start().await;
    let seen = Arc::new(Seen::default());
    let intents = GatewayIntents::non_privileged() | GatewayIntents::MESSAGE_CONTENT;
    let (shards, running) = start_client(&fake, &seen, intents).await;

    fake.wait_ready(T).await;
    assert_eq!(fake.identify_count(), 1);
    let identify = fake.last_identify().expect("identify payload");
    assert_eq!(
        identify["token"], "Bot fake-token",
        "serenity prefixes the token with `Bot `"
    );
    assert_eq!(identify["intents"].as_u64(), Some(intents.bits()));
    let alice = User::new(1002, "alice").with_roles(&[4001]);
    fake.guild_create(&[(4001, "staff")], &[CHANNEL_ID]).await;

    // A guild message is answered, and a thread is started from the answer.
    let start = fake.requests().len();
    fake.message(CHANNEL_ID, &alice, "hi", Some(GUILD_ID)).await;
    let reply = fake.wait_request(start, T, reply_to("pong: hi")).await;
    assert_eq!(reply.status, 200);
    let thread = fake
        .wait_request(start, T, |r| {
            r.method == "POST" && r.api_path().ends_with("/threads")
        })
        .await;
    assert_eq!(thread.status, 200, "{thread:?}");
    assert!(thread.body["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("ticket ")));

    // A button click gets an ephemeral interaction response.
    let start = fake.requests().len();
    let click = fake
        .click(
            CHANNEL_ID,
            4242,
            "close-ticket",
            &alice,
            Some(GUILD_ID),
            None,
        )
        .await;
    let callback = fake
        .wait_request(start, T, |r| {
            r.api_path().starts_with(&format!("/interactions/{click}/"))
        })
        .await;
    assert_eq!(callback.method, "POST");
    assert_eq!(callback.status, 204);
    assert_eq!(callback.body["type"], 4);
    assert_eq!(callback.body["data"]["flags"], 64);
    assert_eq!(callback.content(), "clicked close-ticket");

    // A string select in a DM.
    let bob = User::new(1003, "bob");
    let start = fake.requests().len();
    let values = Some(vec!["a".to_string(), "b".to_string()]);
    let select = fake.click(2901, 4343, "pick", &bob, None, values).await;
    let callback = fake
        .wait_request(start, T, |r| {
            r.api_path()
                .starts_with(&format!("/interactions/{select}/"))
        })
        .await;
    assert_eq!(callback.content(), "picked a,b");

    // A slash command: response, then a followup through the webhook route (which needs the
    // application id serenity learnt from READY).
    let start = fake.requests().len();
    let slash = fake
        .slash(
            CHANNEL_ID,
            "help",
            &[("question", "why?")],
            &alice,
            Some(GUILD_ID),
        )
        .await;
    let callback = fake
        .wait_request(start, T, |r| {
            r.api_path().starts_with(&format!("/interactions/{slash}/"))
        })
        .await;
    assert_eq!(callback.content(), "slash help");
    let token = fake_discord::interaction_token(slash);
    let followup = fake
        .wait_request(start, T, |r| {
            r.is("POST", &format!("/webhooks/{APP_ID}/{token}"))
        })
        .await;
    assert_eq!(followup.status, 200);
    assert_eq!(followup.content(), "followup");

    // A DM is answered too (no thread in DMs).
    let start = fake.requests().len();
    fake.message(2901, &bob, "dm hello", None).await;
    let dm_reply = fake
        .wait_request(start, T, |r| r.is("POST", "/channels/2901/messages"))
        .await;
    assert_eq!(dm_reply.content(), "pong: dm hello");

    // Gateway close 4000: serenity resumes; a message sent just before the close and one sent
    // while the client is away are each answered exactly once.
    let start = fake.requests().len();
    fake.message(CHANNEL_ID, &alice, "before close", Some(GUILD_ID))
        .await;
    let ((), _) = tokio::join!(fake.close_gateway(4000, T), async {
        fake.message(CHANNEL_ID, &alice, "while away", Some(GUILD_ID))
            .await
    });
    assert_eq!(fake.resume_count(), 1);
    assert_eq!(fake.identify_count(), 1, "resumed, not re-identified");
    assert!(
        fake.replayed_count() >= 1,
        "the message sent while away came by replay"
    );
    fake.wait_request(start, T, reply_to("pong: before close"))
        .await;
    fake.wait_request(start, T, reply_to("pong: while away"))
        .await;
    // Both threads too, so that nothing is in flight when the failure is armed below.
    let threads_after = |fake: &FakeDiscord| {
        fake.requests()
            .iter()
            .skip(start)
            .filter(|r| r.api_path().ends_with("/threads"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + T;
    while threads_after(&fake) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(threads_after(&fake), 2);
    // A message right after the resume.
    fake.message(CHANNEL_ID, &alice, "after resume", Some(GUILD_ID))
        .await;
    fake.wait_request(start, T, reply_to("pong: after resume"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for text in [
        "pong: before close",
        "pong: while away",
        "pong: after resume",
        "pong: hi",
    ] {
        assert_eq!(
            count(&fake, reply_to(text)),
            1,
            "{text} answered exactly once"
        );
    }

    // REST failure: the next POST to a channel answers 500; the bot's `say` fails (serenity
    // does not retry with the rate limiter off), and the following message is answered.
    let deadline = tokio::time::Instant::now() + T;
    while threads_after(&fake) < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = fake.requests().len();
    fake.fail_next("POST", "/channels/", 500, 1);
    fake.message(CHANNEL_ID, &alice, "fail me", Some(GUILD_ID))
        .await;
    let failed = fake.wait_request(start, T, reply_to("pong: fail me")).await;
    assert_eq!(failed.status, 500);
    fake.message(CHANNEL_ID, &alice, "after failure", Some(GUILD_ID))
        .await;
    let ok = fake
        .wait_request(start, T, reply_to("pong: after failure"))
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.at > failed.at);

    // Heartbeats were answered (otherwise serenity would have reconnected on its own).
    fake.wait_heartbeats(1, T).await;
    assert_eq!(fake.resume_count(), 1);
    assert_eq!(fake.identify_count(), 1);

    stop_client(shards, running).await;

    let unknown = seen.unknown.lock().unwrap().clone();
    assert!(
        unknown.is_empty(),
        "dispatches serenity could not deserialise: {unknown:#?}"
    );
    let errors = seen.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "only the injected 500 fails: {errors:#?}");
    assert!(
        errors[0].starts_with("say:") && errors[0].contains("500"),
        "{errors:?}"
    );
    let not_found: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.status == 404)
        .collect();
    assert!(
        not_found.is_empty(),
        "routes the fake does not know: {not_found:#?}"
    );
}

/// Close code 4009 (session timed out) ends the session: serenity re-identifies (after the ~5 s
/// its shard queuer keeps between shard starts) instead of resuming, and a message dispatched
/// while it was away is delivered after the new READY, answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_session_is_reidentified_and_keeps_undelivered_dispatches() {
    no_proxy();
    let fake = FakeDiscord::start().await;
    let seen = Arc::new(Seen::default());
    let intents = GatewayIntents::non_privileged() | GatewayIntents::MESSAGE_CONTENT;
    let (shards, running) = start_client(&fake, &seen, intents).await;
    fake.wait_ready(T).await;
    let alice = User::new(1002, "alice");
    let start = fake.requests().len();
    let began = std::time::Instant::now();
    let ((), _) = tokio::join!(fake.close_gateway(4009, T), async {
        fake.message(CHANNEL_ID, &alice, "while away", Some(GUILD_ID))
            .await
    });
    let took = began.elapsed();
    assert_eq!(fake.identify_count(), 2, "re-identified");
    assert_eq!(fake.resume_count(), 0);
    fake.wait_request(start, T, reply_to("pong: while away"))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&fake, reply_to("pong: while away")), 1);
    stop_client(shards, running).await;
    assert!(seen.unknown.lock().unwrap().is_empty());
    eprintln!("re-identify after close 4009 took {took:?}");
}

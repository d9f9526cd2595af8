//! A real serenity client against the fake: a conversation, and a closed session re-identified.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serenity::all::{
    ClientBuilder, ComponentInteractionDataKind, Context, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateThread, Event,
    EventHandler, GatewayIntents, HttpBuilder, Interaction, Message, RawEventHandler, ShardManager,
};

use crate::fake_discord::{FakeDiscord, Request, User, APP_ID, CHANNEL_ID, GUILD_ID};
use crate::payloads::explain_unknown;
use crate::{fake_discord, no_proxy, T};

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

    let fake = FakeDiscord::start_with_heartbeat(1000).await;
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

    // Heartbeats (every second here) were answered: otherwise serenity would have
    // reconnected on its own.
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

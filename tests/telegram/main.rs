//! The Telegram channel end to end: the real HTTP server (`app::app`) and the channel's own
//! teloxide client against a fake Bot API (tests/support/fake_telegram.rs) on 127.0.0.1, with
//! the shipped catalog and sled in a temporary directory. Both ways of getting updates are
//! covered: long polling (the fake answers getUpdates) and the webhook (updates POSTed to
//! /telegram/webhook with the secret header).

#[path = "../support/fake_telegram.rs"]
mod fake_telegram;
#[path = "../support/mod.rs"]
mod support;

mod answers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_telegram::{Call, FakeTelegram, TgUser};
use serde_json::{json, Value};

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::channels::telegram::{self, HELPED_LABEL, HUMAN_LABEL, MAX_TEXT, OFF};
use personabot::engine::pipeline::Pipeline;
use personabot::engine::AppState;
use personabot::store::{Delivery, InteractionFilter, Store, TicketStatus};

const TOKEN: &str = "123456:TEST-token-abc";
const SECRET: &str = "hook-s3cret";
const T: Duration = Duration::from_secs(10);
/// Server errors make teloxide pause 10 s before it reports them; retries take longer.
const SLOW: Duration = Duration::from_secs(40);
/// How long "nothing is sent" is watched for.
const QUIET: Duration = Duration::from_millis(800);

const DM: i64 = 5001;
const GROUP: i64 = -100_777;

struct Bot {
    fake: FakeTelegram,
    /// The personabot server's base URL.
    url: String,
    pipeline: Arc<Pipeline>,
    task: Option<tokio::task::JoinHandle<()>>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.server.abort();
    }
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Bot {
    /// Polling mode.
    async fn polling() -> Bot {
        Self::start(&[]).await
    }

    /// Webhook mode.
    async fn webhook() -> Bot {
        Self::start(&[("PERSONABOT__TELEGRAM__WEBHOOK_SECRET", SECRET)]).await
    }

    async fn start(extra: &[(&str, &str)]) -> Bot {
        let fake = FakeTelegram::start(TOKEN).await;
        let base = fake.base_url();
        let mut vars = env(&[
            ("PERSONABOT__TELEGRAM__TOKEN", TOKEN),
            ("PERSONABOT__TELEGRAM__API_URL", base.as_str()),
        ]);
        vars.extend(env(extra));
        Self::start_with(fake, vars).await
    }

    async fn start_with(fake: FakeTelegram, vars: HashMap<String, String>) -> Bot {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
        std::env::set_var("no_proxy", "127.0.0.1,localhost");
        let settings = Settings::load_with_env(None, Some(vars)).expect("settings");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some("telegram-test-key")).expect("store");
        let s = support::shipped();
        let pipeline = Arc::new(Pipeline::new(
            s.catalog.clone(),
            s.classifier.clone(),
            &settings,
            store,
        ));
        let state = AppState::new(pipeline.clone(), Arc::new(settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = app::app(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let task = telegram::start(state.clone()).await;
        Bot {
            fake,
            url,
            pipeline,
            task,
            server,
            _dir: dir,
        }
    }

    fn mark(&self) -> usize {
        self.fake.mark()
    }

    /// The bot's reply to message `id` in `chat`.
    async fn reply_to(&self, since: usize, chat: i64, id: i64) -> Call {
        self.fake
            .wait_call(since, T, &format!("a reply to message {id}"), |c| {
                c.method == "sendMessage" && c.ok() && c.chat() == chat && c.reply_to() == Some(id)
            })
            .await
    }

    /// A message sent to `chat` (any).
    async fn sent_to(&self, since: usize, chat: i64, timeout: Duration) -> Call {
        self.fake
            .wait_call(since, timeout, &format!("a message to {chat}"), |c| {
                c.method == "sendMessage" && c.ok() && c.chat() == chat
            })
            .await
    }

    async fn call(&self, since: usize, method: &str) -> Call {
        self.fake
            .wait_call(since, T, method, |c| c.method == method)
            .await
    }

    /// Asserts nothing is sent to `chat` for a while.
    async fn assert_silent(&self, since: usize, chat: i64) {
        tokio::time::sleep(QUIET).await;
        let sent: Vec<String> = self
            .fake
            .calls_of(since, "sendMessage")
            .iter()
            .filter(|c| c.chat() == chat)
            .map(|c| c.text().to_string())
            .collect();
        assert!(
            sent.is_empty(),
            "the bot should stay silent in {chat}, sent {sent:?}"
        );
    }

    /// The delivery record of the `n`th stored interaction, once written.
    async fn delivery(&self, n: usize, timeout: Duration) -> Delivery {
        let deadline = Instant::now() + timeout;
        loop {
            let stored = self
                .pipeline
                .store()
                .interactions(&InteractionFilter::default())
                .unwrap();
            if let Some(d) = stored.get(n).and_then(|i| i.delivery.clone()) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "no delivery recorded for interaction {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs an update to the webhook with the given secret header.
    async fn post_update(&self, update: &Value, secret: Option<&str>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/telegram/webhook", self.url))
            .header("content-type", "application/json")
            .body(update.to_string());
        if let Some(s) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let response = request.send().await.expect("webhook call");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn customer(id: u64) -> TgUser {
    TgUser::new(id, "Ann")
}

fn labels(call: &Call) -> Vec<String> {
    call.buttons().into_iter().map(|(label, _)| label).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polling_answers_with_the_persona_and_two_buttons() {
    let bot = Bot::polling().await;
    let ann = customer(7001);
    let since = bot.mark();
    // Both in one batch: they are handled in order, in one conversation.
    let (_, first) = bot
        .fake
        .say(DM, &ann, "I'm the founder of a 5-person startup");
    let (last_update, second) = bot.fake.say(DM, &ann, "how much is it?");

    let intro = bot.reply_to(since, DM, first).await;
    assert!(
        intro.text().starts_with("Thanks, that helps me point you"),
        "{}",
        intro.text()
    );
    assert!(intro.buttons().is_empty(), "no buttons under a non-answer");

    let answer = bot.reply_to(since, DM, second).await;
    assert!(
        answer.text().contains("startup program"),
        "{}",
        answer.text()
    );
    assert_eq!(labels(&answer), [HELPED_LABEL, HUMAN_LABEL]);
    assert_eq!(
        answer.buttons(),
        [
            ("That helped".to_string(), "pb:helped:7001".to_string()),
            ("Talk to a human".to_string(), "pb:human:7001".to_string()),
        ]
    );
    assert_eq!(
        answer.body["parse_mode"], "HTML",
        "an answer is sent in HTML, its markup escaped"
    );
    let replies: Vec<i64> = bot
        .fake
        .calls_of(since, "sendMessage")
        .iter()
        .filter_map(Call::reply_to)
        .collect();
    assert_eq!(replies, [first, second], "replies are sent in order");

    // Stored with the channel, the chat as the conversation, and the delivery.
    let d = bot.delivery(1, T).await;
    assert_eq!((d.ok, d.attempts, d.error.as_deref()), (true, 1, None));
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|i| i.channel == "telegram" && i.conversation == "5001"));
    assert_eq!(
        stored[1].route.answer.as_deref(),
        Some("pricing/startup-founder")
    );
    assert_eq!(
        stored[1].persona.as_ref().map(|p| p.id.as_str()),
        Some("startup-founder")
    );

    // Long polling: 25 s timeout, and the next call confirms what was handled.
    let next = bot
        .fake
        .wait_arrival(since, T, "getUpdates confirming the batch", |c| {
            c.method == "getUpdates"
                && c.body["offset"].as_i64() == Some(i64::from(last_update) + 1)
        })
        .await;
    assert_eq!(next.body["timeout"].as_i64(), Some(25));
    assert!(bot.fake.pending().is_empty(), "every update was confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buttons_record_feedback_open_a_ticket_and_agent_replies_come_back() {
    let bot = Bot::polling().await;
    let ann = customer(7002);
    let eve = customer(7999);
    let since = bot.mark();
    bot.fake
        .say(DM, &ann, "I'm the founder of a 5-person startup");
    let (_, q) = bot.fake.say(DM, &ann, "how much is it?");
    let answer = bot.reply_to(since, DM, q).await;

    // Someone else's press is refused, and changes nothing.
    let since = bot.mark();
    let query = bot.fake.press(&eve, &answer, "pb:helped:7002");
    let refused = bot.call(since, "answerCallbackQuery").await;
    assert_eq!(refused.body["callback_query_id"], json!(query));
    assert_eq!(
        refused.text(),
        "These buttons are for the person who asked."
    );
    tokio::time::sleep(QUIET).await;
    assert!(bot
        .fake
        .calls_of(since, "editMessageReplyMarkup")
        .is_empty());
    assert!(bot.fake.calls_of(since, "sendMessage").is_empty());

    // "That helped": stored, the keyboard goes, the customer is thanked.
    let since = bot.mark();
    let query = bot.fake.press(&ann, &answer, "pb:helped:7002");
    let answered = bot.call(since, "answerCallbackQuery").await;
    assert_eq!(answered.body["callback_query_id"], json!(query));
    let edit = bot.call(since, "editMessageReplyMarkup").await;
    assert_eq!(edit.chat(), DM);
    assert_eq!(
        edit.body["message_id"].as_i64(),
        answer.body["_result_message_id"].as_i64()
    );
    assert_eq!(edit.body["reply_markup"], json!({ "inline_keyboard": [] }));
    let message = bot.fake.sent_message(&answer).unwrap();
    assert!(
        message.get("reply_markup").is_none(),
        "the keyboard is gone: {message}"
    );
    let thanks = bot.sent_to(since, DM, T).await;
    assert!(
        thanks.text().starts_with("Great, glad that helped"),
        "{}",
        thanks.text()
    );
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored[1].feedback.as_ref().map(|f| f.helped), Some(true));

    // Another answer, then "Talk to a human": a sales ticket and the handoff text.
    let since = bot.mark();
    // Not the pricing answer again (that would be a pointer to it): its trial part.
    let (_, q) = bot.fake.say(DM, &ann, "is there a free trial?");
    let answer = bot.reply_to(since, DM, q).await;
    assert_eq!(labels(&answer), [HELPED_LABEL, HUMAN_LABEL]);
    let since = bot.mark();
    bot.fake.press(&ann, &answer, "pb:human:7002");
    bot.call(since, "answerCallbackQuery").await;
    bot.call(since, "editMessageReplyMarkup").await;
    let handoff = bot.sent_to(since, DM, T).await;
    assert!(
        handoff.text().contains("our Sales team (ticket #1)"),
        "{}",
        handoff.text()
    );
    let ticket = bot.pipeline.store().ticket(1).unwrap().expect("ticket 1");
    assert_eq!(
        (
            ticket.team.as_str(),
            ticket.status,
            ticket.channel.as_str(),
            ticket.conversation.as_str()
        ),
        ("sales", TicketStatus::Open, "telegram", "5001")
    );
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored[2].feedback.as_ref().map(|f| f.helped), Some(false));

    // An agent's reply reaches the chat as "Team (agent): text"; an internal note does not.
    let since = bot.mark();
    // (`note` locks the conversation as sync code does.)
    tokio::task::block_in_place(|| {
        bot.pipeline.note(
            1,
            "dana",
            "internal: reseller, offer the partner discount",
            "http",
        )
    })
    .unwrap();
    bot.pipeline
        .agent_reply(1, "dana", "Happy to put a quote together for you.")
        .unwrap();
    let relayed = bot.sent_to(since, DM, T).await;
    assert_eq!(
        relayed.text(),
        "Sales (dana): Happy to put a quote together for you."
    );
    assert!(
        !bot.fake.calls()[since..]
            .iter()
            .any(|c| c.body.to_string().contains("reseller")),
        "a note never reaches Telegram"
    );
    assert_eq!(relayed.reply_to(), None);

    // Resolved: the customer is asked "How did we do?" with 1-5 buttons.
    let since = bot.mark();
    let pipeline = bot.pipeline.clone();
    tokio::task::spawn_blocking(move || pipeline.resolve(1, "dana"))
        .await
        .unwrap()
        .unwrap();
    let question = bot.sent_to(since, DM, T).await;
    assert_eq!(question.text(), "How did we do?");
    assert_eq!(labels(&question), ["1", "2", "3", "4", "5"]);
    // Someone without a resolved ticket there has nothing to rate.
    let since = bot.mark();
    bot.fake.press(&eve, &question, "pb:rate:0:1");
    let refused = bot.call(since, "answerCallbackQuery").await;
    assert!(
        refused.text().contains("no resolved ticket"),
        "{}",
        refused.text()
    );
    let ticket = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(ticket.csat, None);
    let since = bot.mark();
    bot.fake.press(&ann, &question, "pb:rate:0:4");
    let thanked = bot.call(since, "answerCallbackQuery").await;
    assert_eq!(thanked.text(), "Thank you for your rating!");
    bot.call(since, "editMessageReplyMarkup").await;
    let ticket = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(ticket.csat.map(|c| c.rating), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bots_and_non_text_messages_are_ignored_and_start_is_welcomed() {
    let bot = Bot::polling().await;
    let since = bot.mark();
    bot.fake
        .say(DM + 1, &TgUser::bot(8001, "OtherBot"), "how much is it?");
    let photo = bot.fake.photo_update(DM + 2, &customer(7003));
    bot.fake.push(photo);
    let (_, start) = bot.fake.say(DM + 3, &customer(7004), "/start");
    let welcome = bot.reply_to(since, DM + 3, start).await;
    assert!(
        welcome.text().starts_with("Hi! What can I help you with"),
        "{}",
        welcome.text()
    );
    bot.assert_silent(since, DM + 1).await;
    bot.assert_silent(since, DM + 2).await;
    assert_eq!(
        bot.pipeline.store().interaction_count(),
        0,
        "nothing was routed or stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forum_topic_is_its_own_conversation() {
    let bot = Bot::polling().await;
    let ann = customer(7005);
    let since = bot.mark();
    let (_, q) = bot
        .fake
        .say_in_topic(GROUP, 3, &ann, "I want to talk to a human please");
    let handoff = bot.reply_to(since, GROUP, q).await;
    assert_eq!(handoff.thread(), Some(3), "the reply stays in the topic");
    assert!(handoff.text().contains("(ticket #1)"), "{}", handoff.text());
    let ticket = bot.pipeline.store().ticket(1).unwrap().expect("ticket");
    assert_eq!(ticket.conversation, "-100777/3");

    let since = bot.mark();
    bot.pipeline
        .agent_reply(1, "sam", "Hi Ann, I'm here.")
        .unwrap();
    let relayed = bot.sent_to(since, GROUP, T).await;
    assert_eq!(relayed.thread(), Some(3));
    assert!(
        relayed.text().ends_with("(sam): Hi Ann, I'm here."),
        "{}",
        relayed.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_sends_are_retried_and_recorded() {
    let bot = Bot::polling().await;
    // Flood control once (retry_after 1 s is honoured), then a server error once.
    bot.fake.fail_next_429("sendMessage", 1);
    bot.fake.fail_next_500("sendMessage");
    let since = bot.mark();
    let (_, q) = bot.fake.say(DM, &customer(7006), "how much is it?");
    let reply = bot
        .fake
        .wait_call(since, SLOW, "the reply after two failures", |c| {
            c.method == "sendMessage" && c.ok() && c.reply_to() == Some(q)
        })
        .await;
    assert!(reply.text().contains("Growth"), "{}", reply.text());
    let tries: Vec<(u16, Instant)> = bot
        .fake
        .calls_of(since, "sendMessage")
        .iter()
        .map(|c| (c.status, c.at))
        .collect();
    assert_eq!(
        tries.iter().map(|t| t.0).collect::<Vec<_>>(),
        [429, 500, 200],
        "one try per answer"
    );
    assert!(
        tries[1].1.duration_since(tries[0].1) >= Duration::from_millis(950),
        "retry_after was honoured"
    );
    let d = bot.delivery(0, SLOW).await;
    assert_eq!((d.ok, d.attempts), (true, 3));

    // A request Telegram refuses for good is not repeated; the failure is stored, token-free.
    bot.fake.fail_next(
        "sendMessage",
        400,
        json!({ "ok": false, "error_code": 400, "description": "Bad Request: chat not found" }),
    );
    let since = bot.mark();
    bot.fake.say(DM + 10, &customer(7007), "how much is it?");
    let d = bot.delivery(1, T).await;
    assert_eq!((d.ok, d.attempts), (false, 1));
    let error = d.error.unwrap_or_default();
    assert!(error.contains("chat not found"), "{error}");
    assert!(
        !error.contains(TOKEN) && !error.contains("TEST-token"),
        "{error}"
    );
    // The error is logged as well: no chat id in it.
    assert!(!error.contains(&(DM + 10).to_string()), "{error}");
    assert_eq!(bot.fake.calls_of(since, "sendMessage").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polling_backs_off_after_errors_and_carries_on() {
    let fake = FakeTelegram::start(TOKEN).await;
    fake.fail_next(
        "getUpdates",
        409,
        json!({ "ok": false, "error_code": 409,
                "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" }),
    );
    let base = fake.base_url();
    let bot = Bot::start_with(
        fake,
        env(&[
            ("PERSONABOT__TELEGRAM__TOKEN", TOKEN),
            ("PERSONABOT__TELEGRAM__API_URL", base.as_str()),
        ]),
    )
    .await;
    let (_, q) = bot.fake.say(DM, &customer(7008), "how much is it?");
    bot.reply_to(0, DM, q).await;
    let polls: Vec<(u16, Instant)> = bot
        .fake
        .calls_of(0, "getUpdates")
        .iter()
        .map(|c| (c.status, c.at))
        .collect();
    assert_eq!(polls[0].0, 409);
    assert!(
        polls[1].1.duration_since(polls[0].1) >= Duration::from_millis(900),
        "a pause after an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_gets_one_notice() {
    let bot = Bot::start(&[
        ("PERSONABOT__LIMITS__FLOOD_MESSAGES", "2"),
        ("PERSONABOT__LIMITS__FLOOD_WINDOW_SECS", "60"),
    ])
    .await;
    let ann = customer(7009);
    let since = bot.mark();
    for n in 0..5 {
        bot.fake.say(DM, &ann, &format!("how much is it? ({n})"));
    }
    bot.fake
        .wait_call(since, T, "the flood notice", |c| {
            c.method == "sendMessage" && c.text().contains("faster than I can keep up")
        })
        .await;
    tokio::time::sleep(QUIET).await;
    let sent = bot.fake.calls_of(since, "sendMessage");
    assert_eq!(sent.len(), 3, "two answers and one notice: {sent:#?}");
    assert_eq!(bot.pipeline.store().interaction_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_replies_are_cut_to_telegrams_limit() {
    let bot = Bot::start(&[("PERSONABOT__LIMITS__MAX_MESSAGE_CHARS", "10000")]).await;
    let since = bot.mark();
    let (_, q) = bot.fake.say(DM, &customer(7010), "talk to a human");
    bot.reply_to(since, DM, q).await;
    let since = bot.mark();
    bot.pipeline
        .agent_reply(1, "dana", &"word ".repeat(1200))
        .unwrap();
    let relayed = bot.sent_to(since, DM, T).await;
    assert_eq!(relayed.text().encode_utf16().count(), MAX_TEXT);
    assert!(relayed.text().ends_with('…'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_checks_the_secret_and_handles_each_update_once() {
    let bot = Bot::webhook().await;
    assert!(
        bot.task.is_some(),
        "agent replies are delivered in webhook mode too"
    );
    let ann = customer(7011);
    let update = bot.fake.text_update(DM, None, &ann, "how much is it?");
    let id = update["message"]["message_id"].as_i64().unwrap();

    // Without the secret, or with a wrong one: 401, nothing handled.
    for secret in [None, Some("wrong"), Some("HOOK-S3CRET"), Some("hook-s3cre")] {
        let (status, body) = bot.post_update(&update, secret).await;
        assert_eq!(status, 401, "{secret:?}");
        assert!(body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("X-Telegram-Bot-Api-Secret-Token"));
    }
    bot.assert_silent(0, DM).await;

    // With it: 200 at once; the reply follows. The same update again is dropped.
    let since = bot.mark();
    let (status, _) = bot.post_update(&update, Some(SECRET)).await;
    assert_eq!(status, 200);
    let reply = bot.reply_to(since, DM, id).await;
    assert_eq!(labels(&reply), [HELPED_LABEL, HUMAN_LABEL]);
    let (status, _) = bot.post_update(&update, Some(SECRET)).await;
    assert_eq!(
        status, 200,
        "a repeat is acknowledged, so Telegram stops resending it"
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        bot.fake.calls_of(since, "sendMessage").len(),
        1,
        "handled once"
    );
    assert_eq!(bot.pipeline.store().interaction_count(), 1);

    // A button press comes the same way.
    let since = bot.mark();
    let press = bot.fake.press_update(&ann, &reply, "pb:human:7011");
    let (status, _) = bot.post_update(&press, Some(SECRET)).await;
    assert_eq!(status, 200);
    let handoff = bot.sent_to(since, DM, T).await;
    assert!(handoff.text().contains("(ticket #1)"), "{}", handoff.text());

    // Malformed JSON with the right secret: 400.
    let (status, body) = bot.post_update(&json!("not an update"), Some(SECRET)).await;
    assert_eq!(status, 400, "{body}");

    // The webhook mode never polls, and never changes the webhook.
    assert!(bot.fake.calls_of(0, "getUpdates").is_empty());
    assert!(bot.fake.calls_of(0, "setWebhook").is_empty());
    assert!(bot.fake.calls_of(0, "deleteWebhook").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_webhook_route_is_off_while_polling() {
    let bot = Bot::polling().await;
    let update = bot.fake.text_update(DM, None, &customer(7012), "hi");
    let (status, body) = bot.post_update(&update, Some(SECRET)).await;
    assert_eq!(status, 404);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("PERSONABOT__TELEGRAM__WEBHOOK_SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn off_without_a_token() {
    let fake = FakeTelegram::start(TOKEN).await;
    let base = fake.base_url();
    let bot = Bot::start_with(
        fake,
        env(&[
            ("PERSONABOT__TELEGRAM__API_URL", base.as_str()),
            ("PERSONABOT__TELEGRAM__WEBHOOK_SECRET", SECRET),
        ]),
    )
    .await;
    assert!(bot.task.is_none(), "start returns None without a token");
    let update = bot.fake.text_update(DM, None, &customer(7013), "hi");
    let (status, body) = bot.post_update(&update, Some(SECRET)).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({ "error": OFF }));
    assert_eq!(
        OFF,
        "the Telegram channel is off: set PERSONABOT__TELEGRAM__TOKEN"
    );
    tokio::time::sleep(QUIET).await;
    assert!(bot.fake.calls().is_empty(), "no Bot API call at all");
}

//! The Slack channel end to end: the real HTTP server (`app::app`) with the Slack routes, the
//! real pipeline over the shipped catalog and sled in a temporary directory, and the channel's
//! own Web API client talking to a fake Slack Web API on 127.0.0.1
//! (`tests/support/fake_slack.rs`). Requests are signed here with an HMAC computed in this file,
//! independently of the channel's own signing code.

#[path = "../support/fake_slack.rs"]
mod fake_slack;
#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use fake_slack::{Call, Failure, FakeSlack, TOKEN};
use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::channels::slack;
use personabot::engine::pipeline::Pipeline;
use personabot::engine::AppState;
use personabot::store::{Delivery, InteractionFilter, Store, TicketStatus};

const SECRET: &str = "slack-signing-secret-for-tests";
const T: Duration = Duration::from_secs(10);
/// How long "nothing is sent" is watched for.
const QUIET: Duration = Duration::from_millis(700);
/// The support channel customers write in.
const CH: &str = "C0SUPPORT";
const EVENTS: &str = "/slack/events";
const INTERACTIONS: &str = "/slack/interactions";
const OFF: &str =
    "the Slack channel is off: set PERSONABOT__SLACK__SIGNING_SECRET and PERSONABOT__SLACK__BOT_TOKEN";

struct Bot {
    url: String,
    fake: FakeSlack,
    pipeline: Arc<Pipeline>,
    http: reqwest::Client,
    /// What `slack::start` returned (the agent-reply task).
    started: Option<tokio::task::JoinHandle<()>>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(task) = &self.started {
            task.abort();
        }
        self.server.abort();
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy-verification-token",
        "team_id": "T0TEAM",
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now(),
        "authorizations": [{ "enterprise_id": null, "team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": true }],
        "event": event,
    })
}

fn message(user: &str, text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel": CH, "user": user, "text": text, "ts": ts,
        "event_ts": ts, "channel_type": "channel",
    })
}

fn in_thread(mut event: Value, thread_ts: &str) -> Value {
    event["thread_ts"] = json!(thread_ts);
    event
}

/// A `block_actions` payload for pressing the button labelled `label` under `reply`.
fn press_payload(reply: &Call, label: &str, presser: &str, response_url: &str) -> Value {
    let button = reply
        .buttons()
        .into_iter()
        .find(|b| b["text"]["text"] == label)
        .unwrap_or_else(|| panic!("no {label:?} button in {}", reply.raw));
    json!({
        "type": "block_actions",
        "user": { "id": presser, "username": presser.to_lowercase(), "team_id": "T0TEAM" },
        "api_app_id": "A0APP",
        "team": { "id": "T0TEAM", "domain": "hearth" },
        "container": { "type": "message", "message_ts": "1800000000.000001", "channel_id": CH, "is_ephemeral": false },
        "channel": { "id": CH, "name": "support" },
        "message": {
            "type": "message", "ts": "1800000000.000001", "thread_ts": reply.body["thread_ts"],
            "bot_id": "BFAKE", "text": reply.body["text"], "blocks": reply.body["blocks"],
        },
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "actions": [{
            "type": "button", "block_id": "pb_feedback", "action_id": button["action_id"],
            "value": button["value"], "text": button["text"], "action_ts": "1800000001.000000",
        }],
    })
}

impl Bot {
    async fn start() -> Bot {
        Self::start_with(&[
            ("PERSONABOT__SLACK__SIGNING_SECRET", SECRET),
            ("PERSONABOT__SLACK__BOT_TOKEN", TOKEN),
        ])
        .await
    }

    async fn start_with(secrets: &[(&str, &str)]) -> Bot {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
        std::env::set_var("no_proxy", "127.0.0.1,localhost");
        let fake = FakeSlack::start().await;
        let mut env: HashMap<String, String> = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("PERSONABOT__SLACK__API_BASE".into(), fake.api_base());
        let settings = Settings::load_with_env(None, Some(env)).expect("settings");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some("slack-test-key")).expect("store");
        let pipeline = Arc::new(support::pipeline_on(store));
        let state = AppState::new(pipeline.clone(), Arc::new(settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = app::app(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("server runs");
        });
        let started = slack::start(state.clone()).await;
        Bot {
            url,
            fake,
            pipeline,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            started,
            server,
            _dir: dir,
        }
    }

    /// Posts `body` to `path` with these headers; returns the status, the body and how long
    /// the answer took.
    async fn post(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        headers: &[(&str, String)],
    ) -> (u16, String, Duration) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let started = Instant::now();
        let response = request.send().await.expect("the server answers");
        let took = started.elapsed();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap(), took)
    }

    /// Posts `body` signed as Slack would, now.
    async fn signed(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        extra: &[(&str, String)],
    ) -> (u16, String, Duration) {
        let ts = now().to_string();
        let mut headers = vec![
            ("x-slack-signature", fake_slack::sign(SECRET, &ts, body)),
            ("x-slack-request-timestamp", ts),
        ];
        headers.extend(extra.iter().cloned());
        self.post(path, body, content_type, &headers).await
    }

    /// Sends an `event_callback`, signed; returns the status.
    async fn event(&self, event_id: &str, event: Value) -> u16 {
        let body = callback(event_id, event).to_string();
        let (status, text, _) = self
            .signed(EVENTS, body.as_bytes(), "application/json", &[])
            .await;
        assert_eq!(status, 200, "{text}");
        status
    }

    /// Presses a button: the form-encoded interaction payload, signed.
    async fn press(&self, payload: &Value) -> u16 {
        let body = format!("payload={}", form_encode(&payload.to_string()));
        let (status, text, _) = self
            .signed(
                INTERACTIONS,
                body.as_bytes(),
                "application/x-www-form-urlencoded",
                &[],
            )
            .await;
        assert_eq!(status, 200, "{text}");
        status
    }

    fn mark(&self) -> usize {
        self.fake.mark()
    }

    /// The bot's successful `chat.postMessage` in thread `thread_ts` of the support channel.
    async fn reply_in(&self, since: usize, thread_ts: &str) -> Call {
        self.fake
            .wait_call(since, T, |c| {
                c.method == "chat.postMessage"
                    && c.status == 200
                    && c.body["channel"] == CH
                    && c.body["thread_ts"] == thread_ts
            })
            .await
    }

    /// The call to response_url `id`.
    async fn response(&self, since: usize, id: &str) -> Call {
        let method = format!("response/{id}");
        self.fake.wait_call(since, T, |c| c.method == method).await
    }

    /// Asserts that nothing is sent to Slack for a while.
    async fn assert_silent(&self, since: usize) {
        tokio::time::sleep(QUIET).await;
        let sent: Vec<String> = self.fake.calls()[since..]
            .iter()
            .map(|c| format!("{} {}", c.method, c.raw))
            .collect();
        assert!(sent.is_empty(), "nothing should be sent, sent {sent:#?}");
    }

    fn interactions(&self) -> Vec<personabot::store::Interaction> {
        self.pipeline
            .store()
            .interactions(&InteractionFilter::default())
            .unwrap()
    }

    /// The delivery record of the `n`th stored interaction, once the channel has written it.
    async fn delivery(&self, n: usize) -> Delivery {
        let deadline = Instant::now() + T;
        loop {
            if let Some(d) = self.interactions().get(n).and_then(|i| i.delivery.clone()) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "no delivery recorded for interaction {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_answers_the_challenge() {
    let bot = Bot::start().await;
    assert!(bot.started.is_some(), "the channel is on with both secrets");
    let body = json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    })
    .to_string();
    let (status, text, _) = bot
        .signed(EVENTS, body.as_bytes(), "application/json", &[])
        .await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    // Unsigned, the same request is refused.
    let (status, _, _) = bot
        .post(EVENTS, body.as_bytes(), "application/json", &[])
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_answered_in_its_thread_with_the_persona_answer_and_both_buttons() {
    let bot = Bot::start().await;
    // Slack is slow to take the reply: the event is still acknowledged at once.
    bot.fake.set_delay(Duration::from_millis(2500));
    let since = bot.mark();
    let ts = "1700000001.000100";
    let body = callback(
        "Ev0001",
        message("U0ALICE", "I run a Shopify store, how much is it?", ts),
    )
    .to_string();
    let (status, text, took) = bot
        .signed(EVENTS, body.as_bytes(), "application/json", &[])
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        took < Duration::from_millis(2000),
        "Slack gets its 200 before the work is done (took {took:?})"
    );
    let reply = bot.reply_in(since, ts).await;
    assert_eq!(
        reply.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(
        reply.text().contains("Commerce add-on"),
        "the e-commerce pricing answer: {}",
        reply.text()
    );
    let kinds: Vec<&str> = reply.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["section", "actions"],
        "the buttons under the answer"
    );
    assert!(reply.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("Commerce add-on"));
    assert_eq!(reply.button_labels(), ["That helped", "Talk to a human"]);
    assert_eq!(reply.body["link_names"], false);
    assert_eq!(reply.body["parse"], "none");
    let stored = bot.interactions();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].channel, "slack");
    assert_eq!(stored[0].conversation, format!("{CH}/{ts}"));
    assert_eq!(
        stored[0].route.answer.as_deref(),
        Some("pricing/ecommerce-seller")
    );
    let delivery = bot.delivery(0).await;
    assert!(delivery.ok && delivery.attempts == 1, "{delivery:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_one_conversation() {
    let bot = Bot::start().await;
    let root = "1700000002.000100";
    let since = bot.mark();
    bot.event(
        "Ev0002",
        message("U0BEN", "I'm the founder of a 5-person startup", root),
    )
    .await;
    let first = bot.reply_in(since, root).await;
    assert!(first.buttons().is_empty(), "no buttons under a non-answer");
    // A reply in the thread: same conversation, so the persona sticks.
    let since = bot.mark();
    bot.event(
        "Ev0003",
        in_thread(
            message("U0BEN", "how much is it?", "1700000003.000100"),
            root,
        ),
    )
    .await;
    let reply = bot.reply_in(since, root).await;
    assert!(
        reply.text().contains("startup program"),
        "the startup-founder answer: {}",
        reply.text()
    );
    let stored = bot.interactions();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|i| i.conversation == format!("{CH}/{root}")));
    assert_eq!(
        stored[1].route.answer.as_deref(),
        Some("pricing/startup-founder")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_forged_and_stale_requests_are_refused() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let body = callback(
        "Ev0004",
        message("U0EVE", "how much is it?", "1700000004.000100"),
    )
    .to_string();
    let body = body.as_bytes();
    let ts = now().to_string();
    let old = (now() - 6 * 60).to_string();
    let future = (now() + 6 * 60).to_string();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no headers", vec![]),
        (
            "no signature",
            vec![("x-slack-request-timestamp", ts.clone())],
        ),
        (
            "no timestamp",
            vec![("x-slack-signature", fake_slack::sign(SECRET, &ts, body))],
        ),
        (
            "another secret",
            vec![
                (
                    "x-slack-signature",
                    fake_slack::sign("not-the-secret", &ts, body),
                ),
                ("x-slack-request-timestamp", ts.clone()),
            ],
        ),
        (
            "another body",
            vec![
                ("x-slack-signature", fake_slack::sign(SECRET, &ts, b"{}")),
                ("x-slack-request-timestamp", ts.clone()),
            ],
        ),
        (
            "garbage",
            vec![
                ("x-slack-signature", "v0=nothex".to_string()),
                ("x-slack-request-timestamp", ts.clone()),
            ],
        ),
        (
            "6 minutes old, correctly signed",
            vec![
                ("x-slack-signature", fake_slack::sign(SECRET, &old, body)),
                ("x-slack-request-timestamp", old.clone()),
            ],
        ),
        (
            "6 minutes ahead, correctly signed",
            vec![
                ("x-slack-signature", fake_slack::sign(SECRET, &future, body)),
                ("x-slack-request-timestamp", future.clone()),
            ],
        ),
    ];
    for (what, headers) in &cases {
        for path in [EVENTS, INTERACTIONS] {
            let (status, text, _) = bot.post(path, body, "application/json", headers).await;
            assert_eq!(status, 401, "{what} on {path}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert!(error["error"].is_string(), "{what}: {text}");
        }
    }
    bot.assert_silent(since).await;
    assert!(bot.interactions().is_empty(), "nothing was processed");
    // The same body, correctly signed now, goes through.
    bot.event(
        "Ev0004",
        message("U0EVE", "how much is it?", "1700000004.000100"),
    )
    .await;
    bot.reply_in(since, "1700000004.000100").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_and_a_mention_of_the_same_message_are_handled_once() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let ts = "1700000005.000100";
    let event = message("U0CARL", "<@U0BOT> how much does the growth plan cost?", ts);
    bot.event("Ev0005", event.clone()).await;
    // Slack retries (it did not see our 200 in time), with the same event id.
    let body = callback("Ev0005", event.clone()).to_string();
    for n in 1..=2 {
        let (status, text, _) = bot
            .signed(
                EVENTS,
                body.as_bytes(),
                "application/json",
                &[
                    ("x-slack-retry-num", n.to_string()),
                    ("x-slack-retry-reason", "http_timeout".to_string()),
                ],
            )
            .await;
        assert_eq!(status, 200, "{text}");
    }
    // The same message as an app_mention (another event id).
    let mut mention = event.clone();
    mention["type"] = json!("app_mention");
    bot.event("Ev0006", mention).await;
    let reply = bot.reply_in(since, ts).await;
    assert!(reply.text().contains("Growth"), "{}", reply.text());
    tokio::time::sleep(QUIET).await;
    let posts = bot.fake.matching(since, |c| c.method == "chat.postMessage");
    assert_eq!(posts.len(), 1, "one reply: {posts:#?}");
    let stored = bot.interactions();
    assert_eq!(stored.len(), 1, "processed once");
    assert_eq!(
        stored[0].text, "how much does the growth plan cost?",
        "the mention of the bot is not part of the question"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_messages_edits_and_our_own_messages_are_ignored() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let mut from_bot = message("U0OTHERBOT", "how much is it?", "1700000006.000100");
    from_bot["bot_id"] = json!("B0OTHER");
    let mut bot_message = message("U0OTHERBOT", "how much is it?", "1700000006.000200");
    bot_message["subtype"] = json!("bot_message");
    let edit = json!({
        "type": "message", "subtype": "message_changed", "channel": CH, "hidden": true,
        "ts": "1700000006.000300", "event_ts": "1700000006.000300",
        "message": { "type": "message", "user": "U0DANA", "text": "how much is it?", "ts": "1700000006.000050" },
    });
    let own = message("U0BOT", "how much is it?", "1700000006.000400");
    for (n, event) in [from_bot, bot_message, edit, own].into_iter().enumerate() {
        bot.event(&format!("Ev01{n}"), event).await;
    }
    bot.assert_silent(since).await;
    assert!(bot.interactions().is_empty());
    // A person's message in the same channel is answered.
    bot.event(
        "Ev0110",
        message("U0DANA", "how much is it?", "1700000006.000500"),
    )
    .await;
    bot.reply_in(since, "1700000006.000500").await;
    assert_eq!(bot.interactions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn that_helped_marks_the_answer_and_removes_the_buttons_only_for_the_asker() {
    let bot = Bot::start().await;
    let ts = "1700000007.000100";
    let since = bot.mark();
    bot.event(
        "Ev0007",
        message("U0ALICE", "how much does the growth plan cost?", ts),
    )
    .await;
    let reply = bot.reply_in(since, ts).await;
    let answer = reply.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone else cannot press alice's buttons.
    let since = bot.mark();
    let url = bot.fake.response_url("r1");
    bot.press(&press_payload(&reply, "That helped", "U0MALLORY", &url))
        .await;
    let refusal = bot.response(since, "r1").await;
    assert_eq!(
        refusal.body["response_type"], "ephemeral",
        "{}",
        refusal.raw
    );
    assert_eq!(refusal.body["replace_original"], false);
    assert_eq!(
        refusal.text(),
        "These buttons are for the person who asked."
    );
    let helped = InteractionFilter {
        outcome: Some("helped".into()),
        ..Default::default()
    };
    assert!(bot
        .pipeline
        .store()
        .interactions(&helped)
        .unwrap()
        .is_empty());

    // Alice's press marks the answer and replaces the buttons with the outcome.
    let since = bot.mark();
    let url = bot.fake.response_url("r2");
    bot.press(&press_payload(&reply, "That helped", "U0ALICE", &url))
        .await;
    let update = bot.response(since, "r2").await;
    assert_eq!(update.body["replace_original"], true, "{}", update.raw);
    assert!(update.buttons().is_empty(), "no buttons: {}", update.raw);
    let text = update.body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(text.starts_with(&answer), "the answer stays: {text}");
    assert!(text.contains("glad that helped"), "the outcome: {text}");
    assert_eq!(
        bot.pipeline.store().interactions(&helped).unwrap().len(),
        1,
        "the answer is marked helped"
    );
    tokio::time::sleep(QUIET).await;
    assert!(
        bot.fake
            .matching(since, |c| c.method == "chat.postMessage")
            .is_empty(),
        "nothing else is posted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_to_a_human_opens_a_ticket_and_agent_replies_reach_the_thread() {
    let bot = Bot::start().await;
    let ts = "1700000008.000100";
    let since = bot.mark();
    bot.event(
        "Ev0008",
        message("U0ALICE", "what does the scale plan cost per seat?", ts),
    )
    .await;
    let reply = bot.reply_in(since, ts).await;
    let since = bot.mark();
    let url = bot.fake.response_url("h1");
    bot.press(&press_payload(&reply, "Talk to a human", "U0ALICE", &url))
        .await;
    let update = bot.response(since, "h1").await;
    assert_eq!(update.body["replace_original"], true);
    assert!(update.buttons().is_empty(), "no buttons: {}", update.raw);
    assert!(
        update.text().contains("You asked to talk to a human"),
        "{}",
        update.raw
    );
    let handoff = bot.reply_in(since, ts).await;
    assert!(
        handoff.text().contains("Sales team (ticket #1)"),
        "the customer is told the team: {}",
        handoff.text()
    );
    assert!(handoff.buttons().is_empty());
    let ticket = bot.pipeline.store().ticket(1).unwrap().expect("ticket #1");
    assert_eq!(
        (ticket.team.as_str(), ticket.status),
        ("sales", TicketStatus::Open)
    );
    assert_eq!(ticket.channel, "slack");
    assert_eq!(ticket.conversation, format!("{CH}/{ts}"));
    let not_helped = InteractionFilter {
        outcome: Some("not-helped".into()),
        ..Default::default()
    };
    assert_eq!(
        bot.pipeline
            .store()
            .interactions(&not_helped)
            .unwrap()
            .len(),
        1
    );

    // An agent's reply is posted into the customer's thread.
    let since = bot.mark();
    bot.pipeline.agent_reply(1, "ann", "hello").unwrap();
    let delivered = bot.reply_in(since, ts).await;
    assert_eq!(delivered.text(), "*Sales (ann):* hello");
    assert_eq!(
        delivered.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_bot_sends_can_ping_anyone() {
    let bot = Bot::start().await;
    let since = bot.mark();
    let ts = "1700000009.000100";
    bot.event(
        "Ev0009",
        message(
            "U0ZED",
            "<!everyone> <!channel> I run a Shopify store, how much is it?",
            ts,
        ),
    )
    .await;
    bot.reply_in(since, ts).await;
    let refund = "1700000009.000200";
    bot.event(
        "Ev0010",
        message("U0ZED", "I want a refund <!here> <@U0ADMIN>", refund),
    )
    .await;
    let handoff = bot.reply_in(since, refund).await;
    assert!(handoff.text().contains("Billing"), "{}", handoff.text());
    let ticket = bot
        .pipeline
        .store()
        .tickets(None, None)
        .unwrap()
        .into_iter()
        .next()
        .expect("a billing ticket");
    let mark = bot.mark();
    bot.pipeline
        .agent_reply(
            ticket.id,
            "ann <!here>",
            "<!everyone> <!channel> <!here> <@U0ADMIN> <!subteam^S0TEAM> <#C0OTHER> <https://evil.example|click> & done",
        )
        .unwrap();
    let delivered = bot.reply_in(mark, refund).await;
    assert_eq!(
        delivered.text(),
        "*Billing (ann &lt;!here&gt;):* &lt;!everyone&gt; &lt;!channel&gt; &lt;!here&gt; \
         &lt;@U0ADMIN&gt; &lt;!subteam^S0TEAM&gt; &lt;#C0OTHER&gt; \
         &lt;https://evil.example|click&gt; &amp; done"
    );
    for call in bot.fake.calls()[since..].iter() {
        for token in [
            "<!everyone>",
            "<!channel>",
            "<!here>",
            "<@U0ADMIN>",
            "<!subteam",
            "<#C0OTHER>",
            "<https://",
        ] {
            assert!(
                !call.raw.contains(token),
                "{token} sent to Slack unescaped: {}",
                call.raw
            );
        }
        assert_eq!(call.body["link_names"], false, "{}", call.raw);
        assert_eq!(call.body["parse"], "none", "{}", call.raw);
        for block in call.body["blocks"].as_array().into_iter().flatten() {
            if block["type"] == "section" {
                assert_eq!(block["text"]["verbatim"], true, "{}", call.raw);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sends_are_retried_and_the_outcome_is_recorded() {
    let bot = Bot::start().await;

    // A 500 once: retried.
    bot.fake.fail_next(Failure::Status(500));
    let since = bot.mark();
    let ts = "1700000010.000100";
    bot.event("Ev0011", message("U0FAY", "how much is it?", ts))
        .await;
    bot.reply_in(since, ts).await;
    let tries: Vec<u16> = bot
        .fake
        .matching(since, |c| c.method == "chat.postMessage")
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(tries, [500, 200]);
    let delivery = bot.delivery(0).await;
    assert!(delivery.ok && delivery.attempts == 2, "{delivery:?}");

    // Rate limited: retried after Retry-After.
    bot.fake.fail_next(Failure::RateLimited(1));
    let since = bot.mark();
    let ts = "1700000010.000200";
    bot.event("Ev0012", message("U0GUS", "how much is it?", ts))
        .await;
    bot.reply_in(since, ts).await;
    let tries = bot.fake.matching(since, |c| c.method == "chat.postMessage");
    assert_eq!(
        tries.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = tries[1].at.duration_since(tries[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "waited {waited:?} for Retry-After: 1"
    );
    let delivery = bot.delivery(1).await;
    assert!(delivery.ok && delivery.attempts == 2, "{delivery:?}");

    // ok:false is a failure (not retried: it would fail again), recorded as such.
    bot.fake.fail_next(Failure::NotOk("channel_not_found"));
    let since = bot.mark();
    bot.event(
        "Ev0013",
        message("U0HAL", "how much is it?", "1700000010.000300"),
    )
    .await;
    let delivery = bot.delivery(2).await;
    assert!(!delivery.ok && delivery.attempts == 1, "{delivery:?}");
    assert!(
        delivery
            .error
            .as_deref()
            .is_some_and(|e| e.contains("channel_not_found")),
        "{delivery:?}"
    );
    assert!(
        !delivery.error.unwrap_or_default().contains(TOKEN),
        "the token is never recorded"
    );
    assert_eq!(
        bot.fake
            .matching(since, |c| c.method == "chat.postMessage")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_both_secrets_the_channel_is_off() {
    for secrets in [
        vec![],
        vec![("PERSONABOT__SLACK__SIGNING_SECRET", SECRET)],
        vec![("PERSONABOT__SLACK__BOT_TOKEN", TOKEN)],
    ] {
        let bot = Bot::start_with(&secrets).await;
        assert!(bot.started.is_none(), "start says it is off: {secrets:?}");
        let since = bot.mark();
        let event = callback(
            "Ev0014",
            message("U0IVY", "how much is it?", "1700000011.000100"),
        )
        .to_string();
        let (status, text, _) = bot
            .signed(EVENTS, event.as_bytes(), "application/json", &[])
            .await;
        assert_eq!(status, 404, "{secrets:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({ "error": OFF })
        );
        let (status, text, _) = bot
            .signed(
                INTERACTIONS,
                b"payload=%7B%7D",
                "application/x-www-form-urlencoded",
                &[],
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({ "error": OFF })
        );
        bot.assert_silent(since).await;
        assert!(bot.interactions().is_empty(), "nothing processed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_gets_one_notice_and_the_rest_is_dropped() {
    let bot = Bot::start().await;
    let since = bot.mark();
    // The built-in limit: 8 messages per user per 10 seconds.
    for n in 0..10 {
        bot.event(
            &format!("Ev02{n:02}"),
            message("U0FLOOD", "how much is it?", &format!("1700000012.{n:06}")),
        )
        .await;
    }
    let deadline = Instant::now() + T;
    while bot
        .fake
        .matching(since, |c| c.method == "chat.postMessage")
        .len()
        < 9
    {
        assert!(Instant::now() < deadline, "{:#?}", bot.fake.calls());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(QUIET).await;
    let posts = bot.fake.matching(since, |c| c.method == "chat.postMessage");
    let notices = posts
        .iter()
        .filter(|c| c.text().contains("faster than I can keep up"))
        .count();
    assert_eq!((posts.len(), notices), (9, 1), "{posts:#?}");
    assert_eq!(bot.interactions().len(), 8, "the rest was not processed");
}

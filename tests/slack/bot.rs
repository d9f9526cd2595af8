//! The bot under test (the served app with the Slack routes, against the fake Slack) and the
//! signed requests, payloads and waits the tests share.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::channels::slack;
use personabot::engine::pipeline::Pipeline;
use personabot::engine::AppState;
use personabot::store::{Delivery, InteractionFilter, Store};

use crate::fake_slack::{Call, FakeSlack, TOKEN};
use crate::{fake_slack, support};

pub(crate) const SECRET: &str = "slack-signing-secret-for-tests";
pub(crate) const T: Duration = Duration::from_secs(10);
/// How long "nothing is sent" is watched for.
pub(crate) const QUIET: Duration = Duration::from_millis(700);
/// The support channel customers write in.
pub(crate) const CH: &str = "C0SUPPORT";
pub(crate) const EVENTS: &str = "/slack/events";
pub(crate) const INTERACTIONS: &str = "/slack/interactions";
pub(crate) const OFF: &str =
    "the Slack channel is off: set PERSONABOT__SLACK__SIGNING_SECRET and PERSONABOT__SLACK__BOT_TOKEN";

pub(crate) struct Bot {
    url: String,
    pub(crate) fake: FakeSlack,
    pub(crate) pipeline: Arc<Pipeline>,
    http: reqwest::Client,
    /// What `slack::start` returned (the agent-reply task).
    pub(crate) started: Option<tokio::task::JoinHandle<()>>,
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

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn form_encode(text: &str) -> String {
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

pub(crate) fn callback(event_id: &str, event: Value) -> Value {
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

pub(crate) fn message(user: &str, text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel": CH, "user": user, "text": text, "ts": ts,
        "event_ts": ts, "channel_type": "channel",
    })
}

pub(crate) fn in_thread(mut event: Value, thread_ts: &str) -> Value {
    event["thread_ts"] = json!(thread_ts);
    event
}

/// A `block_actions` payload for pressing the button labelled `label` under `reply`.
pub(crate) fn press_payload(reply: &Call, label: &str, presser: &str, response_url: &str) -> Value {
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
    pub(crate) async fn start() -> Bot {
        Self::start_with(&[
            ("PERSONABOT__SLACK__SIGNING_SECRET", SECRET),
            ("PERSONABOT__SLACK__BOT_TOKEN", TOKEN),
        ])
        .await
    }

    pub(crate) async fn start_with(secrets: &[(&str, &str)]) -> Bot {
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
    pub(crate) async fn post(
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
    pub(crate) async fn signed(
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
    pub(crate) async fn event(&self, event_id: &str, event: Value) -> u16 {
        let body = callback(event_id, event).to_string();
        let (status, text, _) = self
            .signed(EVENTS, body.as_bytes(), "application/json", &[])
            .await;
        assert_eq!(status, 200, "{text}");
        status
    }

    /// Presses a button: the form-encoded interaction payload, signed.
    pub(crate) async fn press(&self, payload: &Value) -> u16 {
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

    /// Carol asks for an enterprise quote at `ts` (event `event_id`) in a new thread: the bot's
    /// handoff reply there opens ticket #1.
    pub(crate) async fn carol_hands_off(&self, event_id: &str, ts: &str) -> Call {
        let since = self.mark();
        self.event(
            event_id,
            message(
                "U0CAROL",
                "we are 2000 employees, our procurement team needs an enterprise quote, can I talk to a person?",
                ts,
            ),
        )
        .await;
        let handoff = self.reply_in(since, ts).await;
        assert!(handoff.text().contains("ticket #1"), "{}", handoff.text());
        handoff
    }

    pub(crate) fn mark(&self) -> usize {
        self.fake.mark()
    }

    /// The bot's successful `chat.postMessage` in thread `thread_ts` of the support channel.
    pub(crate) async fn reply_in(&self, since: usize, thread_ts: &str) -> Call {
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
    pub(crate) async fn response(&self, since: usize, id: &str) -> Call {
        let method = format!("response/{id}");
        self.fake.wait_call(since, T, |c| c.method == method).await
    }

    /// Asserts that nothing is sent to Slack for a while.
    pub(crate) async fn assert_silent(&self, since: usize) {
        tokio::time::sleep(QUIET).await;
        let sent: Vec<String> = self.fake.calls()[since..]
            .iter()
            .map(|c| format!("{} {}", c.method, c.raw))
            .collect();
        assert!(sent.is_empty(), "nothing should be sent, sent {sent:#?}");
    }

    pub(crate) fn interactions(&self) -> Vec<personabot::store::Interaction> {
        self.pipeline
            .store()
            .interactions(&InteractionFilter::default())
            .unwrap()
    }

    /// The delivery record of the `n`th stored interaction, once the channel has written it.
    pub(crate) async fn delivery(&self, n: usize) -> Delivery {
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

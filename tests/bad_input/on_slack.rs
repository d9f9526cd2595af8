//! Slack: signed Events API requests; replies at the fake Slack Web API.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use personabot::catalog::settings::Settings;
use personabot::channels::slack;

use crate::fake_slack;
use crate::harness::{client, env, json_error, settle, Served};
use crate::table::{Accept, Case, Chan, Input, FLOOD_LIMIT, PROBE, PROBE_ANSWER, WAIT};
use crate::verdict::{check_concurrent, stored_in, verdict, with_raw_text, Seen};

pub(crate) const SLACK_SECRET: &str = "slack-signing-secret-bad-input";
const SLACK_CHANNEL: &str = "C0SUPPORT";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An `event_callback` body for a message in thread `thread` (as Slack encodes it: mentions
/// and links in the text arrive as `<...>` tokens).
fn slack_event(event_id: &str, user: &str, text: &str, ts: &str, thread: &str) -> String {
    json!({
        "token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0APP", "type": "event_callback",
        "event_id": event_id, "event_time": unix_now(),
        "authorizations": [{ "team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": true }],
        "event": { "type": "message", "channel": SLACK_CHANNEL, "user": user, "text": text,
                   "ts": ts, "thread_ts": thread, "event_ts": ts, "channel_type": "channel" },
    })
    .to_string()
}

async fn slack_post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    let ts = unix_now().to_string();
    let signature = fake_slack::sign(SLACK_SECRET, &ts, &body);
    match client
        .post(url)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("request failed: {e}")),
    }
}

/// Checks every call the bot made to the fake Slack: nothing can mention or ping, and nothing
/// links but a bot answer's `<url|text>` to http, https or mailto.
pub(crate) fn check_slack_calls(calls: &[fake_slack::Call], seen: &mut Seen) {
    for c in calls {
        for (at, _) in c.raw.match_indices('<') {
            let target = &c.raw[at + 1..];
            if !["http://", "https://", "mailto:"]
                .iter()
                .any(|s| target.starts_with(s))
            {
                seen.problem(format!("unescaped `<` sent to Slack: {:.160}", c.raw));
            }
        }
        if c.method == "chat.postMessage"
            && (c.body["parse"] != "none" || c.body["link_names"] != false)
        {
            seen.problem(format!(
                "postMessage without parse none / link_names false: {:.160}",
                c.raw
            ));
        }
        for block in c.body["blocks"].as_array().into_iter().flatten() {
            if block["type"] == "section" && block["text"]["verbatim"] != true {
                seen.problem("a section block that Slack may turn into links or mentions");
            }
        }
    }
}

async fn slack_case(s: &Served, fake: &fake_slack::FakeSlack, n: usize, case: &Case) -> Seen {
    let client = client();
    let url = format!("{}/slack/events", s.url);
    let user = format!("U0CASE{n}");
    let thread = format!("17000{n:05}.000000");
    let conversation = slack::conversation_key(SLACK_CHANNEL, &thread);
    let mark = fake.mark();
    let mut seen = Seen::default();
    let count_ack = |status: u16, body: &str, seen: &mut Seen| match status {
        200 => {}
        400..=499 => json_error(status, body, seen),
        _ => seen.problem(format!("status {status}: {body:.200}")),
    };
    let event = |k: usize, text: &str| {
        let ts = format!("17000{n:05}.{k:06}");
        slack_event(&format!("Ev{n}x{k}"), &user, text, &ts, &thread)
    };
    let want = match &case.input {
        Input::Text(t) => {
            let (status, body) = slack_post(&client, &url, event(0, t).into_bytes()).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200 && case.accepts(Chan::Slack) != Accept::Ignored)
        }
        Input::Bytes(b) => {
            let body = with_raw_text(&event(0, "@@RAW@@"), b);
            let (status, body) = slack_post(&client, &url, body).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200)
        }
        Input::Flood { count, text } => {
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (client, url) = (client.clone(), url.clone());
                    let bodies: Vec<String> = (0..*count)
                        .filter(|k| k % 4 == w)
                        .map(|k| event(k, &format!("{text} #{k}")))
                        .collect();
                    tokio::spawn(async move {
                        let mut statuses = Vec::new();
                        for b in bodies {
                            statuses.push(slack_post(&client, &url, b.into_bytes()).await);
                        }
                        statuses
                    })
                })
                .collect();
            for w in workers {
                for (status, body) in w.await.expect("flood worker") {
                    count_ack(status, &body, &mut seen);
                }
            }
            FLOOD_LIMIT + 1
        }
        Input::Concurrent { count, text } => {
            let tasks: Vec<_> = (0..*count)
                .map(|k| {
                    let (client, url) = (client.clone(), url.clone());
                    let body = event(k, &format!("{text} #{k}"));
                    tokio::spawn(async move { slack_post(&client, &url, body.into_bytes()).await })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.expect("request task");
                count_ack(status, &body, &mut seen);
            }
            *count
        }
    };
    let in_thread = |c: &fake_slack::Call| {
        c.method == "chat.postMessage" && c.status == 200 && c.body["thread_ts"] == thread.as_str()
    };
    settle(|| fake.matching(mark, in_thread).len(), want, WAIT).await;
    // The probe: a new thread from another user.
    let probe_thread = format!("17999{n:05}.000000");
    let probe = slack_event(
        &format!("EvProbe{n}"),
        &format!("U0PROBE{n}"),
        PROBE,
        &probe_thread,
        &probe_thread,
    );
    let (status, _) = slack_post(&client, &url, probe.into_bytes()).await;
    let answered = |c: &fake_slack::Call| {
        c.method == "chat.postMessage" && c.body["thread_ts"] == probe_thread.as_str()
    };
    settle(|| fake.matching(mark, answered).len(), 1, WAIT).await;
    if status != 200
        || !fake
            .matching(mark, answered)
            .iter()
            .any(|c| c.text().contains(PROBE_ANSWER))
    {
        seen.problem("the probe after the case got no normal answer");
    }
    // Counted once the probe is answered, so late replies to the case are counted too.
    for c in fake.matching(mark, in_thread) {
        seen.count_reply(&slack_text(&c));
    }
    check_slack_calls(&fake.calls()[mark..], &mut seen);
    let store = s.pipeline().store();
    seen.stored = stored_in(store, "slack", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "slack", &conversation, &mut seen);
    }
    seen
}

/// A Slack message's text as the customer reads it (the entities decoded).
fn slack_text(c: &fake_slack::Call) -> String {
    slack::plain_text(c.text())
}

pub(crate) async fn slack_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let fake = fake_slack::FakeSlack::start().await;
    let base = fake.api_base();
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__SLACK__SIGNING_SECRET", SLACK_SECRET),
            ("PERSONABOT__SLACK__BOT_TOKEN", fake_slack::TOKEN),
            ("PERSONABOT__SLACK__API_BASE", &base),
        ])),
    )
    .expect("settings");
    let s = Served::start(settings).await;
    let started = slack::start(s.state.clone()).await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(
            case,
            Chan::Slack,
            &slack_case(&s, &fake, n, case).await,
        ));
    }
    assert!(s.healthy(&client()).await, "the Slack server is still up");
    if let Some(task) = started {
        task.abort();
    }
    column
}

//! HTTP: POST /v1/messages on the real server.

use serde_json::{json, Value};

use personabot::catalog::settings::Settings;

use crate::harness::{client, env, json_error, Served};
use crate::table::{Case, Chan, Input, PROBE, PROBE_ANSWER};
use crate::verdict::{check_concurrent, stored_in, verdict, with_raw_text, Seen};

/// The chat bridge the hostile messages come through (`"channel": "test"`, its own ids).
const BRIDGE: &str = "test";
const BRIDGE_TOKEN: &str = "bad-input-bridge-token-0123";

/// One request with a raw body, as the test bridge; returns (status, body).
pub(crate) async fn post_raw(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    match client
        .post(url)
        .bearer_auth(BRIDGE_TOKEN)
        .header("content-type", "application/json")
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

fn message_body(conversation: &str, user: &str, text: &str) -> Vec<u8> {
    json!({ "channel": BRIDGE, "conversation": conversation, "user": user, "text": text })
        .to_string()
        .into_bytes()
}

/// Counts one `/v1/messages` answer into `seen`.
fn count_http(status: u16, body: &str, seen: &mut Seen) {
    match status {
        200 => match serde_json::from_str::<Value>(body) {
            Ok(v) => match v["reply"].as_str() {
                Some(reply) => seen.count_reply(reply),
                None => seen.problem(format!("200 without a reply: {body:.100}")),
            },
            Err(e) => seen.problem(format!("200 with a body that is not JSON ({e})")),
        },
        429 => {
            seen.limited += 1;
            if !body.contains("too many messages") {
                seen.problem(format!("429 without its JSON error: {body:.100}"));
            }
        }
        400..=499 => json_error(status, body, seen),
        _ => seen.problem(format!("status {status}: {body:.200}")),
    }
}

async fn http_case(s: &Served, n: usize, case: &Case) -> Seen {
    let client = client();
    let url = format!("{}/v1/messages", s.url);
    let conversation = format!("http-case-{n}");
    let user = format!("http-user-{n}");
    let mut seen = Seen::default();
    match &case.input {
        Input::Text(t) => {
            let (status, body) =
                post_raw(&client, &url, message_body(&conversation, &user, t)).await;
            count_http(status, &body, &mut seen);
        }
        Input::Bytes(b) => {
            let json = message_body(&conversation, &user, "@@RAW@@");
            let body = with_raw_text(std::str::from_utf8(&json).unwrap(), b);
            let (status, body) = post_raw(&client, &url, body).await;
            count_http(status, &body, &mut seen);
        }
        Input::Flood { count, text } => {
            let text: &'static str = text;
            // Four clients in parallel, each sending its share one request after another.
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (client, url) = (client.clone(), url.clone());
                    let (conversation, user) = (conversation.clone(), user.clone());
                    let share: Vec<usize> = (0..*count).filter(|k| k % 4 == w).collect();
                    tokio::spawn(async move {
                        let mut answers = Vec::with_capacity(share.len());
                        for k in share {
                            let body = message_body(&conversation, &user, &format!("{text} #{k}"));
                            answers.push(post_raw(&client, &url, body).await);
                        }
                        answers
                    })
                })
                .collect();
            for w in workers {
                for (status, body) in w.await.expect("flood worker") {
                    count_http(status, &body, &mut seen);
                }
            }
        }
        Input::Concurrent { count, text } => {
            let tasks: Vec<_> = (0..*count)
                .map(|k| {
                    let (client, url) = (client.clone(), url.clone());
                    let body = message_body(&conversation, &user, &format!("{text} #{k}"));
                    tokio::spawn(async move { post_raw(&client, &url, body).await })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.expect("request task");
                count_http(status, &body, &mut seen);
            }
        }
    }
    let (status, body) = post_raw(
        &client,
        &url,
        message_body(
            &format!("http-probe-{n}"),
            &format!("http-probe-{n}"),
            PROBE,
        ),
    )
    .await;
    if status != 200 || !body.contains(PROBE_ANSWER) {
        seen.problem(format!("probe after the case: {status} {body:.100}"));
    }
    let store = s.pipeline().store();
    seen.stored = stored_in(store, BRIDGE, &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, BRIDGE, &conversation, &mut seen);
    }
    seen
}

pub(crate) async fn http_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let bridge = [("PERSONABOT__BRIDGES__TEST__TOKEN", BRIDGE_TOKEN)];
    let settings = Settings::load_with_env(None, Some(env(&bridge))).expect("settings");
    let s = Served::start(settings).await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(case, Chan::Http, &http_case(&s, n, case).await));
    }
    assert!(s.healthy(&client()).await, "the HTTP server is still up");
    column
}

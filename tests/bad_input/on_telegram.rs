//! Telegram: updates POSTed to the webhook; replies at the fake Bot API.

use personabot::catalog::settings::Settings;
use personabot::channels::telegram;

use crate::fake_telegram;
use crate::harness::{client, env, json_error, settle, Served};
use crate::table::{Case, Chan, Input, FLOOD_LIMIT, PROBE, PROBE_ANSWER, WAIT};
use crate::verdict::{check_concurrent, stored_in, verdict, with_raw_text, Seen};

// The webhook mode is the one that receives raw bodies (invalid UTF-8, 1 MB) from outside; the
// long-polling mode reads the same `Update`s through teloxide and is covered by tests/telegram.rs.
pub(crate) const TG_TOKEN: &str = "123456:BAD-input-token";
pub(crate) const TG_SECRET: &str = "bad-input-hook-secret";

async fn tg_post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    match client
        .post(url)
        .header("content-type", "application/json")
        .header(telegram::SECRET_HEADER, TG_SECRET)
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

/// Checks every message the bot sent to the fake Bot API: plain text, or a bot answer in HTML
/// that Telegram accepts and whose only formatting is the answers' own (bold, and links to
/// http, https and mailto).
pub(crate) fn check_telegram_calls(calls: &[fake_telegram::Call], seen: &mut Seen) {
    for c in calls.iter().filter(|c| c.method == "sendMessage") {
        if !c.body["entities"].is_null() {
            seen.problem(format!("sendMessage with raw entities: {}", c.body));
        }
        match c.body["parse_mode"].as_str() {
            None => {}
            Some("HTML") => {
                if !c.ok() {
                    seen.problem(format!("HTML Telegram refuses: {}", c.body));
                }
                for (kind, text, url) in c.entities() {
                    let allowed = kind == "bold"
                        || (kind == "text_link"
                            && url.as_deref().is_some_and(|u| {
                                ["http://", "https://", "mailto:"]
                                    .iter()
                                    .any(|s| u.starts_with(s))
                            }));
                    if !allowed {
                        seen.problem(format!("formatting {kind} {text:?} {url:?}: {}", c.body));
                    }
                }
            }
            Some(other) => seen.problem(format!("sendMessage with parse_mode {other}: {}", c.body)),
        }
    }
}

async fn telegram_case(
    s: &Served,
    fake: &fake_telegram::FakeTelegram,
    n: usize,
    case: &Case,
) -> Seen {
    let client = client();
    let url = format!("{}/telegram/webhook", s.url);
    let chat = 70_000 + n as i64;
    let customer = fake_telegram::TgUser::new(chat as u64, "customer");
    let conversation = telegram::conversation_key(chat, None);
    let mark = fake.mark();
    let mut seen = Seen::default();
    let count_ack = |status: u16, body: &str, seen: &mut Seen| match status {
        200 => {}
        400..=499 => json_error(status, body, seen),
        _ => seen.problem(format!("status {status}: {body:.200}")),
    };
    let update = |text: &str| fake.text_update(chat, None, &customer, text).to_string();
    let want = match &case.input {
        Input::Text(t) => {
            let (status, body) = tg_post(&client, &url, update(t).into_bytes()).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200)
        }
        Input::Bytes(b) => {
            let body = with_raw_text(&update("@@RAW@@"), b);
            let (status, body) = tg_post(&client, &url, body).await;
            count_ack(status, &body, &mut seen);
            usize::from(status == 200)
        }
        Input::Flood { count, text } => {
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (client, url) = (client.clone(), url.clone());
                    let bodies: Vec<String> = (0..*count)
                        .filter(|k| k % 4 == w)
                        .map(|k| update(&format!("{text} #{k}")))
                        .collect();
                    tokio::spawn(async move {
                        let mut statuses = Vec::new();
                        for b in bodies {
                            statuses.push(tg_post(&client, &url, b.into_bytes()).await);
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
                    let body = update(&format!("{text} #{k}"));
                    tokio::spawn(async move { tg_post(&client, &url, body.into_bytes()).await })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.expect("request task");
                count_ack(status, &body, &mut seen);
            }
            *count
        }
    };
    let to_chat = |c: &fake_telegram::Call| c.method == "sendMessage" && c.ok() && c.chat() == chat;
    let sent = || {
        fake.calls_of(mark, "sendMessage")
            .into_iter()
            .filter(to_chat)
            .count()
    };
    settle(sent, want, WAIT).await;
    let probe_chat = 79_000 + n as i64;
    let prober = fake_telegram::TgUser::new(probe_chat as u64, "prober");
    let probe = fake
        .text_update(probe_chat, None, &prober, PROBE)
        .to_string();
    let (status, _) = tg_post(&client, &url, probe.into_bytes()).await;
    let probe_answered = || {
        fake.calls_of(mark, "sendMessage")
            .iter()
            .any(|c| c.chat() == probe_chat && c.text().contains(PROBE_ANSWER))
    };
    settle(|| usize::from(probe_answered()), 1, WAIT).await;
    if status != 200 || !probe_answered() {
        seen.problem("the probe after the case got no normal answer");
    }
    // Counted once the probe is answered, so late replies to the case are counted too.
    for c in fake
        .calls_of(mark, "sendMessage")
        .iter()
        .filter(|c| to_chat(c))
    {
        seen.count_reply(c.text());
    }
    check_telegram_calls(&fake.calls()[mark..], &mut seen);
    let store = s.pipeline().store();
    seen.stored = stored_in(store, "telegram", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "telegram", &conversation, &mut seen);
    }
    seen
}

pub(crate) async fn telegram_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let fake = fake_telegram::FakeTelegram::start(TG_TOKEN).await;
    let base = fake.base_url();
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__TELEGRAM__TOKEN", TG_TOKEN),
            ("PERSONABOT__TELEGRAM__API_URL", &base),
            ("PERSONABOT__TELEGRAM__WEBHOOK_SECRET", TG_SECRET),
        ])),
    )
    .expect("settings");
    let s = Served::start(settings).await;
    let started = telegram::start(s.state.clone()).await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(
            case,
            Chan::Telegram,
            &telegram_case(&s, &fake, n, case).await,
        ));
    }
    assert!(
        s.healthy(&client()).await,
        "the Telegram server is still up"
    );
    if let Some(task) = started {
        task.abort();
    }
    column
}

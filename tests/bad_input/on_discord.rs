//! Discord: the bot's serenity client against the fake gateway and REST API.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use personabot::catalog::settings::Settings;
use personabot::channels::discord;
use personabot::engine::pipeline::Pipeline;
use personabot::store::Store;

use crate::fake_discord;
use crate::harness::{env, pipeline_with, settle};
use crate::table::{Case, Chan, Input, FLOOD_LIMIT, PROBE, PROBE_ANSWER, WAIT};
use crate::verdict::{check_concurrent, stored_in, verdict, Seen};

const DISCORD_SUPPORT: u64 = 2001;
/// Flood messages sent to the Discord fake between two checks that the bot keeps up.
const DISCORD_FLOOD_BURST: usize = 250;
/// Team channels that receive tickets (sales, support, billing, security).
const DISCORD_TEAM_CHANNELS: [u64; 4] = [4001, 4002, 4003, 4004];

/// Checks every message the bot sent to the fake Discord: it pings nobody (Discord honours
/// `allowed_mentions`, so `parse: []` with no users or roles means no mention fires) and its
/// text carries no live mention or masked link either.
pub(crate) fn check_discord_requests(requests: &[fake_discord::Request], seen: &mut Seen) {
    for r in requests {
        let body = if r
            .body
            .get("data")
            .is_some_and(|d| d.get("content").is_some())
        {
            &r.body["data"]
        } else {
            &r.body
        };
        if body.get("content").is_none() {
            continue;
        }
        let allowed = &body["allowed_mentions"];
        let pings_nobody = allowed["parse"] == json!([])
            && allowed["users"].as_array().is_none_or(|a| a.is_empty())
            && allowed["roles"].as_array().is_none_or(|a| a.is_empty());
        if !pings_nobody {
            seen.problem(format!("{} {} may ping: {allowed}", r.method, r.api_path()));
        }
        let content = body["content"].as_str().unwrap_or_default();
        // The catalog's own answer links are the bot's, not the customer's.
        let lower = crate::table::without_bot_links(content).to_lowercase();
        for live in ["@everyone", "@here", "<@", "<#", "]("] {
            if lower.contains(live) {
                seen.problem(format!("live {live:?} in {}: {content:.160}", r.api_path()));
            }
        }
    }
}

async fn discord_case(
    pipeline: &Arc<Pipeline>,
    fake: &fake_discord::FakeDiscord,
    n: usize,
    case: &Case,
) -> Seen {
    let author = fake_discord::User::new(800_000 + n as u64, "customer");
    let conversation = discord::conversation_key(DISCORD_SUPPORT, author.id, true);
    let mark = fake.requests().len();
    let mut seen = Seen::default();
    let guild = Some(fake_discord::GUILD_ID);
    let mut ids = Vec::new();
    let want = match &case.input {
        Input::Text(t) => {
            ids.push(fake.message(DISCORD_SUPPORT, &author, t, guild).await);
            1
        }
        Input::Bytes(b) => {
            let lossy = String::from_utf8_lossy(b);
            seen.notes
                .push("sent as U+FFFD: the gateway carries only UTF-8".into());
            ids.push(fake.message(DISCORD_SUPPORT, &author, &lossy, guild).await);
            1
        }
        Input::Flood { count, text } => {
            // All 10,000, in bursts. Discord lets one user post a few messages per second; the
            // fake delivers as fast as it can, and its gateway heartbeat is 1 s (Discord's is
            // 41 s). When a heartbeat ACK waits behind a backlog longer than that, serenity
            // restarts the shard with a fresh IDENTIFY, a new session in which the undelivered
            // backlog is gone (as on Discord). So each burst is followed by a message from
            // another user, whose answer shows the bot has worked through the burst.
            let all: Vec<usize> = (0..*count).collect();
            for (burst, ks) in all.chunks(DISCORD_FLOOD_BURST).enumerate() {
                for k in ks {
                    let text = format!("{text} #{k}");
                    ids.push(fake.message(DISCORD_SUPPORT, &author, &text, guild).await);
                }
                let marker = fake_discord::User::new(880_000 + burst as u64, "marker");
                let id = fake
                    .message(DISCORD_SUPPORT, &marker, PROBE, guild)
                    .await
                    .to_string();
                let path = format!("/channels/{DISCORD_SUPPORT}/messages");
                let answered = || {
                    usize::from(fake.requests()[mark..].iter().any(|r| {
                        r.is("POST", &path)
                            && r.body["message_reference"]["message_id"].as_str()
                                == Some(id.as_str())
                    }))
                };
                settle(answered, 1, WAIT).await;
                if answered() == 0 {
                    seen.problem(format!("no answer to another user after burst {burst}"));
                    break;
                }
            }
            seen.notes.push(format!(
                "sent in bursts of {DISCORD_FLOOD_BURST}, another user answered after each"
            ));
            FLOOD_LIMIT + 1
        }
        Input::Concurrent { count, text } => {
            for k in 0..*count {
                let text = format!("{text} #{k}");
                ids.push(fake.message(DISCORD_SUPPORT, &author, &text, guild).await);
            }
            *count
        }
    };
    let ids: std::collections::HashSet<String> = ids.iter().map(u64::to_string).collect();
    let path = format!("/channels/{DISCORD_SUPPORT}/messages");
    let replies = || -> Vec<fake_discord::Request> {
        fake.requests()[mark..]
            .iter()
            .filter(|r| r.is("POST", &path) && r.status < 300)
            .filter(|r| {
                r.body["message_reference"]["message_id"]
                    .as_str()
                    .is_some_and(|id| ids.contains(id))
            })
            .cloned()
            .collect()
    };
    settle(|| replies().len(), want, WAIT).await;
    let probe_author = fake_discord::User::new(890_000 + n as u64, "prober");
    let probe = fake
        .message(DISCORD_SUPPORT, &probe_author, PROBE, guild)
        .await
        .to_string();
    let probe_answered = || {
        fake.requests()[mark..].iter().any(|r| {
            r.is("POST", &path)
                && r.body["message_reference"]["message_id"].as_str() == Some(probe.as_str())
                && r.content().contains(PROBE_ANSWER)
        })
    };
    settle(|| usize::from(probe_answered()), 1, WAIT).await;
    if !probe_answered() {
        let to_probe: Vec<String> = fake.requests()[mark..]
            .iter()
            .filter(|r| r.body["message_reference"]["message_id"].as_str() == Some(probe.as_str()))
            .map(|r| format!("{} {} {}", r.status, r.api_path(), r.content()))
            .collect();
        seen.problem(format!(
            "the probe after the case got no normal answer (gateway: {} identify, {} resume, \
             {} replayed, client closes {:?}; requests for the probe: {to_probe:?})",
            fake.identify_count(),
            fake.resume_count(),
            fake.replayed_count(),
            fake.client_closes(),
        ));
    }
    // Counted once the probe (sent after the case) is answered: the gateway delivers in order,
    // so by then every message of the case has reached the bot.
    for r in replies() {
        seen.count_reply(r.content());
    }
    let requests = fake.requests()[mark..].to_vec();
    let tickets_posted = requests
        .iter()
        .filter(|r| {
            r.method == "POST"
                && DISCORD_TEAM_CHANNELS
                    .iter()
                    .any(|c| r.api_path() == format!("/channels/{c}/messages"))
        })
        .count();
    if tickets_posted > 0 {
        seen.notes.push(format!(
            "{tickets_posted} ticket post(s) echoing the text, inert"
        ));
    }
    check_discord_requests(&requests, &mut seen);
    let store = pipeline.store();
    seen.stored = stored_in(store, "discord", &conversation);
    if matches!(case.input, Input::Concurrent { .. }) {
        check_concurrent(store, "discord", &conversation, &mut seen);
    }
    seen
}

pub(crate) async fn discord_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let fake = fake_discord::FakeDiscord::start().await;
    let base = fake.base_url();
    let settings = Settings::load_with_env(
        None,
        Some(env(&[
            ("PERSONABOT__DISCORD__TOKEN", "fake-token"),
            ("PERSONABOT__DISCORD__API_BASE", &base),
            ("PERSONABOT__DISCORD__GUILD_ID", "3001"),
            ("PERSONABOT__DISCORD__SUPPORT_CHANNELS", "2001"),
            ("PERSONABOT__TEAMS__SALES__DISCORD_CHANNEL", "4001"),
            ("PERSONABOT__TEAMS__SUPPORT__DISCORD_CHANNEL", "4002"),
            ("PERSONABOT__TEAMS__BILLING__DISCORD_CHANNEL", "4003"),
            ("PERSONABOT__TEAMS__SECURITY__DISCORD_CHANNEL", "4004"),
        ])),
    )
    .expect("settings");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Some("bad-input-key")).expect("store");
    let pipeline = Arc::new(pipeline_with(store, &settings));
    let state = personabot::engine::AppState::new(pipeline.clone(), Arc::new(settings));
    let handle = discord::start(&state).await.expect("discord starts");
    fake.wait_ready(Duration::from_secs(20)).await;
    let mut channels = vec![DISCORD_SUPPORT];
    channels.extend(DISCORD_TEAM_CHANNELS);
    fake.guild_create(&[], &channels).await;
    fake.wait_request(0, Duration::from_secs(20), |r| {
        r.method == "PUT" && r.api_path().ends_with("/commands")
    })
    .await;
    let mut column = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        column.push(verdict(
            case,
            Chan::Discord,
            &discord_case(&pipeline, &fake, n, case).await,
        ));
    }
    handle.shutdown().await;
    column
}

//! Fuzz target: a Slack Events API request (`POST /slack/events`) through the pure parts of the
//! handler: signature verification, JSON, `url_verification`, `event_callback` and
//! `classify_event`, then what a reply would carry (escaped mrkdwn, button value).
//!
//! The input is `timestamp \n signature \n body`; the body is also verified with its true
//! signature, which must pass.
#![no_main]

use libfuzzer_sys::fuzz_target;
use personabot::channels::kit;
use personabot::channels::slack::{self, EventVerdict};
use serde_json::Value;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let signature = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();
    let _ = slack::verify_signature(SECRET, Some(&timestamp), Some(&signature), body, NOW);
    let ts = NOW.to_string();
    let good = slack::signature(SECRET, &ts, body);
    assert_eq!(
        slack::verify_signature(SECRET, Some(&ts), Some(&good), body, NOW),
        Ok(()),
        "a body's own signature verifies"
    );

    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    match request["type"].as_str() {
        Some("url_verification") => {
            let _ = request["challenge"].as_str();
            return;
        }
        Some("event_callback") => {}
        _ => return,
    }
    let EventVerdict::Handle(message) =
        slack::classify_event(&request["event"], slack::bot_user_of(&request))
    else {
        return;
    };
    assert!(
        !message.text.trim().is_empty(),
        "a handled message has text"
    );
    let conversation = message.conversation();
    let _ = slack::parse_conversation(&conversation);
    let escaped = slack::escape(&message.text);
    assert!(!escaped.contains('<') && !escaped.contains('>'));
    let value = slack::button_value(&message.user, &conversation);
    let controls = [slack::feedback_actions(
        &value,
        &[kit::Action::Helped, kit::Action::Human],
    )];
    let body =
        slack::post_message_body(&message.channel, &message.thread_ts, &escaped, &controls);
    assert!(!body["text"].as_str().unwrap_or_default().contains('<'));
});

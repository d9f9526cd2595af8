//! Fuzz target: a Slack interactivity request (`POST /slack/interactions`): the form body, its
//! `payload` JSON and `parse_press`, then the text the pressed answer is replaced with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use personabot::channels::slack;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    let Some(payload) = slack::form_value(body, "payload") else {
        return;
    };
    let Ok(payload) = serde_json::from_str::<Value>(&payload) else {
        return;
    };
    let Some(press) = slack::parse_press(&payload) else {
        return;
    };
    assert!(!press.presser.is_empty(), "a press has a presser");
    assert!(
        slack::parse_conversation(&press.conversation).is_some(),
        "a press names a valid conversation"
    );
    let replaced = slack::pressed_text(&press.original, press.helped, Some(&press.original));
    let section = slack::section(&replaced);
    let shown = section["text"]["text"].as_str().unwrap_or_default();
    assert!(
        shown.chars().count() <= slack::MAX_SECTION,
        "the replaced answer fits a section block"
    );
});

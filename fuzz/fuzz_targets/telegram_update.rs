//! Fuzz target: a Telegram webhook body (`POST /telegram/webhook`, after the secret check):
//! `parse_update` and `work_of`, then the conversation key, button data and reply cutting the
//! handler uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use personabot::channels::telegram::{self, Button, Work};

fuzz_target!(|body: &[u8]| {
    let Ok(update) = telegram::parse_update(body) else {
        return;
    };
    match telegram::work_of(&update) {
        Work::Text(m) | Work::Start(m) => {
            assert_eq!(
                telegram::parse_conversation(&m.conversation),
                Some((m.chat, m.topic)),
                "a conversation key round-trips"
            );
            let reply = telegram::fit(&m.text, telegram::MAX_TEXT);
            assert!(reply.encode_utf16().count() <= telegram::MAX_TEXT);
        }
        Work::Press(p) => {
            if let Some(button) = p.data.as_deref().and_then(Button::parse) {
                assert_eq!(Button::parse(&button.data()), Some(button));
            }
            let _ = p.conversation();
        }
        Work::Skip(_) => {}
    }
});

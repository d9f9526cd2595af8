//! The wire format's table tests.

use std::sync::Arc;

use super::*;
use crate::channels::kit::{self, Choice, HELPED_LABEL, HUMAN_LABEL};

fn update(json: serde_json::Value) -> Update {
    // From text, as the webhook and teloxide read it (teloxide's `UpdateKind` does not
    // deserialize from a `serde_json::Value`).
    serde_json::from_str(&json.to_string()).expect("a valid update")
}

fn user(id: u64, is_bot: bool) -> serde_json::Value {
    serde_json::json!({ "id": id, "is_bot": is_bot, "first_name": "Ann" })
}

fn private(id: i64) -> serde_json::Value {
    serde_json::json!({ "id": id, "type": "private", "first_name": "Ann" })
}

fn forum(id: i64) -> serde_json::Value {
    serde_json::json!({ "id": id, "type": "supergroup", "title": "Help", "is_forum": true })
}

fn text_update(chat: serde_json::Value, from: serde_json::Value, text: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": 1,
        "message": { "message_id": 10, "date": 1700000000, "chat": chat, "from": from, "text": text }
    })
}

fn settings(token: Option<&str>, secret: Option<&str>) -> TelegramSettings {
    TelegramSettings {
        token: token.map(String::from),
        api_url: None,
        webhook_secret: secret.map(String::from),
    }
}

#[test]
fn source_table() {
    let cases = [
        (None, None, None),
        (Some(""), Some("s"), None),
        (Some("t"), None, Some(Source::Polling)),
        (Some("t"), Some(" "), Some(Source::Polling)),
        (Some("t"), Some("s"), Some(Source::Webhook)),
    ];
    for (token, secret, want) in cases {
        assert_eq!(
            source(&settings(token, secret)),
            want,
            "{token:?} {secret:?}"
        );
    }
}

#[test]
fn conversation_keys_table() {
    let cases = [
        (42, None, "42"),
        (-1001234, None, "-1001234"),
        (-1001234, Some(7), "-1001234/7"),
    ];
    for (chat, topic, key) in cases {
        assert_eq!(conversation_key(chat, topic), key);
        assert_eq!(parse_conversation(key), Some((chat, topic)), "{key}");
    }
    for bad in ["", "abc", "1/x", "1/2/3", "term-1", "1/"] {
        assert_eq!(parse_conversation(bad), None, "{bad:?}");
    }
}

#[test]
fn button_data_table() {
    let choose = Button::Choose {
        user: u64::MAX,
        intent: "security-compliance".into(),
    };
    for b in [
        Button::Helped { user: 7 },
        Button::Human { user: u64::MAX },
        choose,
        Button::Rate { rating: 1 },
        Button::Rate { rating: 5 },
    ] {
        assert_eq!(Button::parse(&b.data()), Some(b.clone()), "{b:?}");
        assert!(
            b.data().len() <= MAX_CALLBACK_DATA,
            "Telegram limits callback data to 64 bytes"
        );
    }
    let cases = [
        ("pb:helped:7", Some(Button::Helped { user: 7 })),
        ("pb:human:7", Some(Button::Human { user: 7 })),
        (
            "pb:choose:7:refund",
            Some(Button::Choose {
                user: 7,
                intent: "refund".into(),
            }),
        ),
        ("pb:claim:7", None),
        ("pb:helped:x", None),
        ("pb:helped:-1", None),
        ("pb:helped", None),
        ("pb:helped:7:8", None),
        ("pb:choose:7", None),
        ("pb:choose:7:", None),
        ("pb:choose:7:Refund", None),
        ("pb:choose:7:refund:x", None),
        ("pb:choose:x:refund", None),
        ("pb:rate:0:4", Some(Button::Rate { rating: 4 })),
        ("pb:rate:0:0", None),
        ("pb:rate:0:6", None),
        ("pb:rate:7:4", None),
        ("pb:rate:0", None),
        ("pb:rate:0:4:1", None),
        ("xx:helped:7", None),
        ("", None),
    ];
    for (data, want) in cases {
        assert_eq!(Button::parse(data), want, "{data:?}");
    }
}

#[test]
fn keyboards_follow_the_actions_and_choices() {
    let choice = |id: &str, name: &str| Choice {
        id: id.into(),
        name: name.into(),
    };
    let rows = |buttons: &Buttons| -> Vec<Vec<(String, String)>> {
        answer_keyboard(7, buttons)
            .map(|k| k.inline_keyboard)
            .unwrap_or_default()
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| {
                        let data = match &b.kind {
                            teloxide::types::InlineKeyboardButtonKind::CallbackData(d) => d.clone(),
                            other => panic!("{other:?}"),
                        };
                        (b.text.clone(), data)
                    })
                    .collect()
            })
            .collect()
    };
    let pair = |l: &str, d: &str| (l.to_string(), d.to_string());
    let cases = [
        (Buttons::default(), vec![]),
        (
            Buttons {
                actions: vec![Action::Helped, Action::Human],
                choices: vec![],
            },
            vec![vec![
                pair(HELPED_LABEL, "pb:helped:7"),
                pair(HUMAN_LABEL, "pb:human:7"),
            ]],
        ),
        (
            Buttons {
                actions: vec![Action::Human],
                choices: vec![],
            },
            vec![vec![pair(HUMAN_LABEL, "pb:human:7")]],
        ),
        (
            Buttons {
                actions: vec![],
                choices: vec![
                    choice("pricing", "Pricing"),
                    choice(&"x".repeat(60), "Too long"),
                    choice("refund", "Refund"),
                ],
            },
            vec![
                vec![pair("Pricing", "pb:choose:7:pricing")],
                vec![pair("Refund", "pb:choose:7:refund")],
            ],
        ),
    ];
    for (buttons, want) in cases {
        assert_eq!(rows(&buttons), want, "{buttons:?}");
    }
}

#[test]
fn secret_table() {
    let cases = [
        ("s3cret", Some("s3cret"), true),
        ("s3cret", Some("s3creT"), false),
        ("s3cret", Some("s3cret "), false),
        ("s3cret", Some(""), false),
        ("s3cret", None, false),
        ("", Some(""), false),
    ];
    for (expected, presented, want) in cases {
        assert_eq!(
            secret_matches(expected, presented),
            want,
            "{expected:?} {presented:?}"
        );
    }
}

#[test]
fn fit_table() {
    let cases: &[(&str, usize, &str)] = &[
        ("hello", 10, "hello"),
        ("hello", 5, "hello"),
        ("hello!", 5, "hell…"),
        ("héllo wörld", 5, "héll…"),
        // An emoji is two UTF-16 units: it is not split.
        ("ab😀cd", 4, "ab…"),
        ("ab😀cd", 5, "ab😀…"),
    ];
    for (text, max, want) in cases {
        assert_eq!(fit(text, *max), *want, "{text:?} {max}");
    }
    let long = "x".repeat(5000);
    assert_eq!(fit(&long, MAX_TEXT).encode_utf16().count(), MAX_TEXT);
    let emoji = "😀".repeat(3000);
    assert!(fit(&emoji, MAX_TEXT).encode_utf16().count() <= MAX_TEXT);
}

#[test]
fn start_command_table() {
    let cases = [
        ("/start", true),
        ("/start@hearth_bot", true),
        ("/start campaign-1", true),
        ("  /start", true),
        ("/starting", false),
        ("start", false),
        ("how do I /start", false),
    ];
    for (text, want) in cases {
        assert_eq!(is_start(text), want, "{text:?}");
    }
}

#[test]
fn which_updates_to_handle() {
    let dm = TextMessage {
        chat: 42,
        topic: None,
        message: 10,
        user: 7,
        text: "how much is it?".into(),
        conversation: "42".into(),
    };
    let in_topic = serde_json::json!({
        "update_id": 2,
        "message": { "message_id": 11, "message_thread_id": 5, "is_topic_message": true,
                     "date": 1700000000, "chat": forum(-100), "from": user(7, false), "text": "hi" }
    });
    let reply_chain = serde_json::json!({
        "update_id": 3,
        "message": { "message_id": 12, "message_thread_id": 5,
                     "date": 1700000000, "chat": forum(-100), "from": user(7, false), "text": "hi" }
    });
    let photo = serde_json::json!({
        "update_id": 4,
        "message": { "message_id": 13, "date": 1700000000, "chat": private(42), "from": user(7, false),
                     "photo": [{ "file_id": "f", "file_unique_id": "u", "width": 1, "height": 1 }] }
    });
    let on_behalf = serde_json::json!({
        "update_id": 5,
        "message": { "message_id": 14, "date": 1700000000, "chat": forum(-100), "from": user(1087968824, false),
                     "sender_chat": { "id": -100, "type": "supergroup", "title": "Help" }, "text": "hi" }
    });
    let edited = serde_json::json!({
        "update_id": 6,
        "edited_message": { "message_id": 10, "date": 1700000000, "edit_date": 1700000001,
                            "chat": private(42), "from": user(7, false), "text": "edited" }
    });
    let press = serde_json::json!({
        "update_id": 7,
        "callback_query": { "id": "q1", "from": user(7, false), "chat_instance": "ci", "data": "pb:helped:7",
            "message": { "message_id": 20, "message_thread_id": 5, "is_topic_message": true,
                         "date": 1700000000, "chat": forum(-100), "from": user(99, true), "text": "answer" } }
    });
    let inline_press = serde_json::json!({
        "update_id": 8,
        "callback_query": { "id": "q2", "from": user(7, false), "chat_instance": "ci",
                            "inline_message_id": "im", "data": "pb:human:7" }
    });
    let cases: Vec<(serde_json::Value, Work)> = vec![
        (
            text_update(private(42), user(7, false), "how much is it?"),
            Work::Text(dm.clone()),
        ),
        (
            text_update(private(42), user(7, false), "/start"),
            Work::Start(TextMessage {
                text: "/start".into(),
                ..dm.clone()
            }),
        ),
        (
            text_update(private(42), user(8, true), "beep"),
            Work::Skip("message from a bot"),
        ),
        (
            in_topic,
            Work::Text(TextMessage {
                chat: -100,
                topic: Some(5),
                message: 11,
                user: 7,
                text: "hi".into(),
                conversation: "-100/5".into(),
            }),
        ),
        (
            reply_chain,
            Work::Text(TextMessage {
                chat: -100,
                topic: None,
                message: 12,
                user: 7,
                text: "hi".into(),
                conversation: "-100".into(),
            }),
        ),
        (photo, Work::Skip("not a text message")),
        (on_behalf, Work::Skip("message sent on behalf of a chat")),
        (edited, Work::Skip("an edited message")),
        (
            press,
            Work::Press(Press {
                query: "q1".into(),
                from: 7,
                data: Some("pb:helped:7".into()),
                on: Some((-100, Some(5), 20)),
            }),
        ),
        (
            inline_press,
            Work::Press(Press {
                query: "q2".into(),
                from: 7,
                data: Some("pb:human:7".into()),
                on: None,
            }),
        ),
    ];
    for (n, (json, want)) in cases.into_iter().enumerate() {
        assert_eq!(work_of(&update(json)), want, "case {n}");
    }
}

#[test]
fn offsets_and_backoff() {
    assert_eq!(next_offset(None, 5), Some(6));
    assert_eq!(next_offset(Some(10), 5), Some(10));
    assert_eq!(next_offset(Some(6), 9), Some(10));
    assert_eq!(next_offset(None, u32::MAX), Some(i32::MAX));
    let waits: Vec<u64> = (1..=8).map(|n| poll_backoff(n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
}

#[test]
fn failures_table() {
    use teloxide::types::Seconds;
    let secs = |n| Failure::RateLimited(Some(Duration::from_secs(n)));
    let cases: Vec<(RequestError, Failure)> = vec![
        (RequestError::RetryAfter(Seconds::from_seconds(3)), secs(3)),
        (
            RequestError::RetryAfter(Seconds::from_seconds(3600)),
            secs(3600),
        ),
        (
            RequestError::Api(BotApiError::Unknown("Internal Server Error".into())),
            Failure::Server,
        ),
        (
            RequestError::Api(BotApiError::Unknown("Bad Gateway".into())),
            Failure::Server,
        ),
        (
            RequestError::Api(BotApiError::Unknown(
                "Too Many Requests: retry after 7".into(),
            )),
            secs(7),
        ),
        (
            RequestError::Api(BotApiError::Unknown("Too Many Requests".into())),
            Failure::RateLimited(None),
        ),
        (
            RequestError::Api(BotApiError::Unknown("Bad Request: can't parse".into())),
            Failure::Final,
        ),
        (RequestError::Api(BotApiError::BotBlocked), Failure::Final),
        (RequestError::Api(BotApiError::ChatNotFound), Failure::Final),
        (
            RequestError::InvalidJson {
                source: Arc::new(serde_json::from_str::<u8>("<").unwrap_err()),
                raw: "<html>502 Bad Gateway</html>".into(),
            },
            Failure::Server,
        ),
        (
            RequestError::InvalidJson {
                source: Arc::new(serde_json::from_str::<u8>("<").unwrap_err()),
                raw: "{\"ok\":true,\"result\":{}}".into(),
            },
            Failure::Final,
        ),
    ];
    for (n, (err, want)) in cases.iter().enumerate() {
        assert_eq!(failure(err), *want, "case {n}: {err}");
    }
    // An hour of flood control is more than the policy waits: the send fails.
    assert_eq!(kit::retry_wait(failure(&cases[1].0), 1), None);
}

#[test]
fn poll_trouble_table() {
    let unknown = |t: &str| RequestError::Api(BotApiError::Unknown(t.into()));
    let cases = [
            (
                unknown("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"),
                PollTrouble::WebhookActive,
            ),
            (RequestError::Api(BotApiError::CantGetUpdates), PollTrouble::WebhookActive),
            (
                RequestError::Api(BotApiError::TerminatedByOtherGetUpdates),
                PollTrouble::OtherPoller,
            ),
            (
                unknown("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running, please"),
                PollTrouble::OtherPoller,
            ),
            (RequestError::Api(BotApiError::InvalidToken), PollTrouble::BadToken),
            (unknown("Unauthorized: invalid token"), PollTrouble::BadToken),
            (unknown("Internal Server Error"), PollTrouble::Other),
            (
                RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(1)),
                PollTrouble::Other,
            ),
        ];
    for (err, want) in cases {
        assert_eq!(poll_trouble(&err), want, "{err}");
    }
}

#[test]
fn webhook_secret_format_table() {
    let long = "a".repeat(257);
    let cases = [
        ("hook-s3cret_X", true),
        ("a", true),
        ("", false),
        ("with space", false),
        ("sl/ash", false),
        ("ünï", false),
        (long.as_str(), false),
    ];
    for (secret, want) in cases {
        assert_eq!(valid_secret(secret), want, "{secret:?}");
    }
}

#[test]
fn errors_never_show_the_token() {
    let token = "123456:AAF7-secret";
    let text =
        format!("error sending request for url (https://api.telegram.org/bot{token}/sendMessage)");
    let clean = without_token(&text, token);
    assert!(!clean.contains("AAF7-secret"), "{clean}");
    assert!(clean.contains("bot<token>/sendMessage"));
    assert_eq!(without_token("no token here", ""), "no token here");
    let err = RequestError::Api(BotApiError::Unknown(format!("echo {token}")));
    assert!(!describe(&err, token).contains(token));
}

//! The wire format's table tests.

use super::*;
use crate::channels::kit;

// Slack's worked example (docs: "Verifying requests from Slack").
const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const DOC_TS: &str = "1531420618";
const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[test]
fn signature_matches_slacks_example() {
    assert_eq!(signature(DOC_SECRET, DOC_TS, DOC_BODY.as_bytes()), DOC_SIG);
}

#[test]
fn signature_table() {
    let now: i64 = 1_531_420_618;
    let body = DOC_BODY.as_bytes();
    let upper = DOC_SIG.to_ascii_uppercase().replacen("V0=", "v0=", 1);
    let other_secret = signature("another-secret", DOC_TS, body);
    /// (timestamp header, signature header, body, now, verdict)
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a [u8],
        i64,
        Result<(), SignatureError>,
    );
    let cases: Vec<Case> = vec![
        (Some(DOC_TS), Some(DOC_SIG), body, now, Ok(())),
        (Some(DOC_TS), Some(&upper), body, now, Ok(())),
        (Some(DOC_TS), Some(DOC_SIG), body, now + 300, Ok(())),
        (Some(DOC_TS), Some(DOC_SIG), body, now - 300, Ok(())),
        (
            Some(DOC_TS),
            Some(DOC_SIG),
            body,
            now + 301,
            Err(SignatureError::Stale),
        ),
        (
            Some(DOC_TS),
            Some(DOC_SIG),
            body,
            now + 360,
            Err(SignatureError::Stale),
        ),
        (
            Some(DOC_TS),
            Some(DOC_SIG),
            body,
            now - 360,
            Err(SignatureError::Stale),
        ),
        (
            Some(DOC_TS),
            Some(DOC_SIG),
            b"token=tampered",
            now,
            Err(SignatureError::Mismatch),
        ),
        (
            Some(DOC_TS),
            Some(&other_secret),
            body,
            now,
            Err(SignatureError::Mismatch),
        ),
        (
            Some("1531420619"),
            Some(DOC_SIG),
            body,
            now,
            Err(SignatureError::Mismatch),
        ),
        (None, Some(DOC_SIG), body, now, Err(SignatureError::Missing)),
        (Some(DOC_TS), None, body, now, Err(SignatureError::Missing)),
        (None, None, body, now, Err(SignatureError::Missing)),
        (
            Some("soon"),
            Some(DOC_SIG),
            body,
            now,
            Err(SignatureError::BadTimestamp),
        ),
        (
            Some(" 1531420618"),
            Some(DOC_SIG),
            body,
            now,
            Err(SignatureError::BadTimestamp),
        ),
        (
            Some(DOC_TS),
            Some(&DOC_SIG[3..]),
            body,
            now,
            Err(SignatureError::Malformed),
        ),
        (
            Some(DOC_TS),
            Some("v1=abcd"),
            body,
            now,
            Err(SignatureError::Malformed),
        ),
        (
            Some(DOC_TS),
            Some("v0=zz"),
            body,
            now,
            Err(SignatureError::Malformed),
        ),
        (
            Some(DOC_TS),
            Some(&DOC_SIG[..66]),
            body,
            now,
            Err(SignatureError::Malformed),
        ),
        (
            Some(DOC_TS),
            Some(""),
            body,
            now,
            Err(SignatureError::Malformed),
        ),
        (
            Some("-9223372036854775808"),
            Some(DOC_SIG),
            body,
            now,
            Err(SignatureError::Stale),
        ),
    ];
    for (n, (ts, sig, body, now, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            verify_signature(DOC_SECRET, ts, sig, body, now),
            want,
            "case {n}"
        );
    }
}

#[test]
fn conversation_keys_table() {
    let cases = [
        ("C123", "1700000000.000100", "C123/1700000000.000100"),
        ("D0ABC", "1.2", "D0ABC/1.2"),
    ];
    for (channel, ts, key) in cases {
        assert_eq!(conversation_key(channel, ts), key);
        assert_eq!(parse_conversation(key), Some((channel, ts)), "{key}");
    }
    for bad in [
        "",
        "C123",
        "C123/",
        "/1700000000.000100",
        "C123/1700000000",
        "C123/abc.def",
        "C123/1.2/3",
        "C 1/1.2",
        "42",
    ] {
        assert_eq!(parse_conversation(bad), None, "{bad:?}");
    }
}

fn message(text: &str) -> Value {
    json!({ "type": "message", "channel": "C1", "user": "U1", "text": text,
                "ts": "1700000000.000100", "channel_type": "channel" })
}

fn handled(text: &str, thread_ts: &str) -> EventVerdict {
    EventVerdict::Handle(SlackMessage {
        channel: "C1".into(),
        user: "U1".into(),
        text: text.into(),
        ts: "1700000000.000100".into(),
        thread_ts: thread_ts.into(),
    })
}

#[test]
fn which_events_to_handle() {
    let root = "1700000000.000100";
    let with = |mut v: Value, key: &str, value: Value| {
        v[key] = value;
        v
    };
    let cases: Vec<(Value, EventVerdict)> = vec![
        (message("how much is it?"), handled("how much is it?", root)),
        (
            with(
                message("and for 5 seats?"),
                "thread_ts",
                json!("1699999999.000001"),
            ),
            handled("and for 5 seats?", "1699999999.000001"),
        ),
        (
            with(message("<@UBOT> how much?"), "type", json!("app_mention")),
            handled("how much?", root),
        ),
        (message("<@UBOT> how much?"), handled("how much?", root)),
        (
            message("ask <@U2|bob> about it"),
            handled("ask @bob about it", root),
        ),
        (
            with(message("see the file"), "subtype", json!("file_share")),
            handled("see the file", root),
        ),
        (
            with(
                message("also in channel"),
                "subtype",
                json!("thread_broadcast"),
            ),
            handled("also in channel", root),
        ),
        (
            with(message("beep"), "bot_id", json!("B1")),
            EventVerdict::Ignore("a bot's message"),
        ),
        (
            with(message("beep"), "subtype", json!("bot_message")),
            EventVerdict::Ignore("a bot's message"),
        ),
        (
            with(message("edited"), "subtype", json!("message_changed")),
            EventVerdict::Ignore("an edit, deletion or other message subtype"),
        ),
        (
            with(message(""), "subtype", json!("message_deleted")),
            EventVerdict::Ignore("an edit, deletion or other message subtype"),
        ),
        (
            with(message("joined"), "subtype", json!("channel_join")),
            EventVerdict::Ignore("an edit, deletion or other message subtype"),
        ),
        (
            with(message("hi"), "user", json!("UBOT")),
            EventVerdict::Ignore("the bot's own message"),
        ),
        (
            with(message("hi"), "user", Value::Null),
            EventVerdict::Ignore("a message without a user"),
        ),
        (
            with(message("hi"), "channel", Value::Null),
            EventVerdict::Ignore("a message without a channel or ts"),
        ),
        (
            message("   "),
            EventVerdict::Ignore("a message without text"),
        ),
        (
            message("<@UBOT>"),
            EventVerdict::Ignore("a message without text"),
        ),
        (
            json!({ "type": "reaction_added", "user": "U1" }),
            EventVerdict::Ignore("not a message event"),
        ),
        (json!(null), EventVerdict::Ignore("not a message event")),
    ];
    for (n, (event, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            classify_event(&event, Some("UBOT")),
            want,
            "case {n}: {event}"
        );
    }
    // Another user's mention at the start stays (only app_mention drops any leading one).
    assert_eq!(
        classify_event(&message("<@U2> how much?"), Some("UBOT")),
        handled("@U2 how much?", root)
    );
    let callback = json!({ "authorizations": [{ "user_id": "UBOT", "is_bot": true }] });
    assert_eq!(bot_user_of(&callback), Some("UBOT"));
    assert_eq!(bot_user_of(&json!({})), None);
}

#[test]
fn plain_text_table() {
    let cases = [
        ("plain", "plain"),
        ("hi <@U1>", "hi @U1"),
        ("hi <@U1|ann>", "hi @ann"),
        ("in <#C1|general>", "in #general"),
        (
            "<!here> and <!channel> and <!everyone>",
            "@here and @channel and @everyone",
        ),
        ("<!subteam^S1|@team> help", "@team help"),
        ("<!date^1392734382^{date}|Feb 18>", "Feb 18"),
        (
            "see <https://x.example/a?b=1&amp;c=2>",
            "see https://x.example/a?b=1&c=2",
        ),
        ("see <https://x.example|the docs>", "see the docs"),
        ("mail <mailto:a@b.com|a@b.com>", "mail a@b.com"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
        ("&amp;lt;", "&lt;"),
        ("unclosed <here", "unclosed <here"),
        ("naïve café", "naïve café"),
    ];
    for (input, want) in cases {
        assert_eq!(plain_text(input), want, "{input:?}");
    }
}

#[test]
fn escape_table() {
    let cases = [
        ("plain text", "plain text"),
        ("<!everyone> now", "&lt;!everyone&gt; now"),
        ("<!channel> <!here>", "&lt;!channel&gt; &lt;!here&gt;"),
        (
            "hi <@U123> and <!subteam^S1>",
            "hi &lt;@U123&gt; and &lt;!subteam^S1&gt;",
        ),
        (
            "<https://evil.example|click>",
            "&lt;https://evil.example|click&gt;",
        ),
        ("Q&A", "Q&amp;A"),
        ("&lt;", "&amp;lt;"),
        ("naïve @ café", "naïve @ café"),
    ];
    for (input, want) in cases {
        let escaped = escape(input);
        assert_eq!(escaped, want, "{input:?}");
        assert!(!escaped.contains('<') && !escaped.contains('>'));
        assert_eq!(plain_text(&escaped), input, "round trip of {input:?}");
    }
}

#[test]
fn fit_table() {
    let cases: &[(&str, usize, &str)] = &[
        ("hello", 10, "hello"),
        ("hello", 5, "hello"),
        ("hello!", 5, "hell…"),
        ("héllo wörld", 5, "héll…"),
        // Never half an entity.
        ("ab &amp; cd", 6, "ab …"),
        ("ab &amp; cd", 9, "ab &amp;…"),
    ];
    for (text, max, want) in cases {
        assert_eq!(fit(text, *max), *want, "{text:?} {max}");
    }
    assert_eq!(
        fit(&"x".repeat(5000), MAX_SECTION).chars().count(),
        MAX_SECTION
    );
}

#[test]
fn blocks_table() {
    let value = button_value("U1", "C1/1700000000.000100");
    assert_eq!(
        parse_button_value(&value),
        Some(("U1", "C1/1700000000.000100"))
    );
    for bad in ["", "U1", "|C1/1.2", "U1|C1", "U1|C1/x"] {
        assert_eq!(parse_button_value(bad), None, "{bad:?}");
    }
    let both = vec![Action::Helped, Action::Human];
    let options = vec![
        Choice {
            id: "pricing".into(),
            name: "Pricing".into(),
        },
        Choice {
            id: "refund".into(),
            name: "Refund".into(),
        },
    ];
    let with = |actions: &[Action], choices: &[Choice]| Buttons {
        actions: actions.to_vec(),
        choices: choices.to_vec(),
    };
    let cases: Vec<(Buttons, Vec<&str>)> = vec![
        (Buttons::default(), vec!["section"]),
        (with(&both, &[]), vec!["section", "actions"]),
        (with(&[Action::Human], &[]), vec!["section", "actions"]),
        (with(&[], &options), vec!["section", "actions"]),
    ];
    for (buttons, kinds) in cases {
        let controls = controls("U1", "C1/1700000000.000100", &buttons);
        let body = post_message_body("C1", "1700000000.000100", "a &lt;b&gt;", &controls);
        let got: Vec<&str> = body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(got, kinds);
        assert_eq!(body["channel"], "C1");
        assert_eq!(body["thread_ts"], "1700000000.000100");
        assert_eq!(body["text"], "a &lt;b&gt;");
        assert_eq!(body["link_names"], false);
        assert_eq!(body["parse"], "none");
        assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(body["blocks"][0]["text"]["verbatim"], true);
    }
    let elements = |block: &Value| -> Vec<(String, String, String)> {
        block["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let s = |v: &Value| v.as_str().unwrap().to_string();
                (s(&b["text"]["text"]), s(&b["action_id"]), s(&b["value"]))
            })
            .collect()
    };
    let triple = |l: &str, a: &str, v: &str| (l.to_string(), a.to_string(), v.to_string());
    assert_eq!(
        elements(&feedback_actions(&value, &both)),
        [
            triple("That helped", ACTION_HELPED, &value),
            triple("Talk to a human", ACTION_HUMAN, &value)
        ]
    );
    assert_eq!(
        elements(&feedback_actions(&value, &[Action::Human])),
        [triple("Talk to a human", ACTION_HUMAN, &value)]
    );
    assert_eq!(
        elements(&choice_actions(&value, &options)),
        [
            triple("Pricing", "pb_choose_1", &format!("{value}|pricing")),
            triple("Refund", "pb_choose_2", &format!("{value}|refund")),
        ]
    );
    let both_kinds = controls("U1", "C1/1700000000.000100", &with(&both, &options));
    assert_eq!(
        both_kinds.len(),
        2,
        "feedback and options: two actions blocks"
    );
    assert_eq!(both_kinds[0]["block_id"], "pb_feedback");
    assert_eq!(both_kinds[1]["block_id"], "pb_choices");
    assert_eq!(
        agent_reply_text("Sales", "ann <@U1>", "hi <!everyone> & bye"),
        "*Sales (ann &lt;@U1&gt;):* hi &lt;!everyone&gt; &amp; bye"
    );
}

#[test]
fn pressed_text_table() {
    let cases = [
        ("Answer", true, Some("Great!"), "Answer\n\nGreat!"),
        ("Answer", true, None, "Answer\n\n_That helped_"),
        (
            "Answer",
            false,
            Some("passed to Sales"),
            "Answer\n\n_You asked to talk to a human._",
        ),
        ("", true, Some("a <b>"), "a &lt;b&gt;"),
        // The bot's reply is rendered from its markdown.
        (
            "",
            true,
            Some("**Great**, see [docs](https://a.example)"),
            "*Great*, see <https://a.example|docs>",
        ),
    ];
    for (original, helped, reply, want) in cases {
        assert_eq!(
            pressed_text(original, helped, reply),
            want,
            "{original:?} {helped}"
        );
    }
    let long = "y".repeat(MAX_SECTION);
    assert!(pressed_text(&long, true, Some("ok")).chars().count() <= MAX_SECTION);
}

#[test]
fn presses_table() {
    let value = button_value("U1", "C1/1700000000.000100");
    let payload = |action: &str, presser: &str| {
        json!({
            "type": "block_actions",
            "user": { "id": presser },
            "container": { "type": "message", "channel_id": "C1", "message_ts": "1700000001.000200" },
            "channel": { "id": "C1" },
            "message": { "ts": "1700000001.000200", "text": "fallback",
                         "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "The answer" } }] },
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{ "action_id": action, "value": value, "type": "button" }],
        })
    };
    let press = parse_press(&payload(ACTION_HELPED, "U1")).unwrap();
    assert_eq!(
        press,
        Press {
            helped: true,
            choice: None,
            asker: "U1".into(),
            conversation: "C1/1700000000.000100".into(),
            presser: "U1".into(),
            response_url: Some("https://hooks.slack.com/actions/T1/1/x".into()),
            channel: Some("C1".into()),
            message_ts: Some("1700000001.000200".into()),
            original: "The answer".into(),
        }
    );
    let human = parse_press(&payload(ACTION_HUMAN, "U2")).unwrap();
    assert!(!human.helped);
    assert_eq!((human.asker.as_str(), human.presser.as_str()), ("U1", "U2"));
    assert_eq!(parse_press(&payload("someone_elses_button", "U1")), None);
    let mut view = payload(ACTION_HELPED, "U1");
    view["type"] = json!("view_submission");
    assert_eq!(parse_press(&view), None);
    let mut bad_value = payload(ACTION_HELPED, "U1");
    bad_value["actions"][0]["value"] = json!("nonsense");
    assert_eq!(parse_press(&bad_value), None);
    // A clarifying question's option carries its intent id after the asker and conversation.
    let mut option = payload("pb_choose_2", "U1");
    option["actions"][0]["value"] = json!(format!("{value}|refund"));
    let chosen = parse_press(&option).unwrap();
    assert_eq!(chosen.choice.as_deref(), Some("refund"));
    assert_eq!(
        (chosen.asker.as_str(), chosen.conversation.as_str()),
        ("U1", "C1/1700000000.000100")
    );
    for forged in [
        value.clone(),
        format!("{value}|"),
        format!("{value}|Refund"),
        format!("{value}|../x"),
        "U1|refund".to_string(),
    ] {
        option["actions"][0]["value"] = json!(forged);
        assert_eq!(parse_press(&option), None, "{forged:?}");
    }
    assert_eq!(
        chosen_text("Which one?", "Refund <x>"),
        "Which one?\n\n_→ Refund &lt;x&gt;_"
    );
    let mut no_blocks = payload(ACTION_HELPED, "U1");
    no_blocks["message"]["blocks"] = json!([]);
    assert_eq!(parse_press(&no_blocks).unwrap().original, "fallback");
}

#[test]
fn rating_buttons_carry_their_ticket() {
    let block = rating_actions(42);
    let buttons: Vec<(&str, &str, &str)> = block["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["action_id"].as_str().unwrap_or_default(),
                b["value"].as_str().unwrap_or_default(),
                b["text"]["text"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(buttons.len(), 5);
    assert_eq!(buttons[0], ("pb_rate_1", "42", "1 – very poor"));
    assert_eq!(buttons[4], ("pb_rate_5", "42", "5 – excellent"));
    let payload = |action: &str, value: &str| {
        json!({
            "type": "block_actions",
            "user": { "id": "U2" },
            "container": { "type": "message", "channel_id": "C1", "message_ts": "1700000001.000200" },
            "message": { "ts": "1700000001.000200", "text": "How did we do?" },
            "actions": [{ "action_id": action, "value": value, "type": "button" }],
        })
    };
    let (ticket, rating, press) = parse_rating_press(&payload("pb_rate_4", "42")).unwrap();
    assert_eq!(
        (ticket, rating, press.presser.as_str()),
        (42, RatingAction::Rate(4), "U2")
    );
    let mut comment = payload(ACTION_RATE_COMMENT, "42");
    assert!(parse_rating_press(&comment).is_none(), "no trigger_id");
    comment["trigger_id"] = json!("1.2.3");
    assert_eq!(
        parse_rating_press(&comment).unwrap().1,
        RatingAction::Comment {
            trigger_id: "1.2.3".into()
        }
    );
    assert_eq!(press.channel.as_deref(), Some("C1"));
    let table = [
        ("pb_rate_0", "42"),
        ("pb_rate_6", "42"),
        ("pb_rate_x", "42"),
        ("pb_rate_3", "x"),
        ("pb_helped", "42"),
    ];
    for (action, value) in table {
        assert!(
            parse_rating_press(&payload(action, value)).is_none(),
            "{action} {value}"
        );
    }
    assert_eq!(parse_press(&payload("pb_rate_4", "42")), None);
}

#[test]
fn a_comment_form_round_trips() {
    let view = comment_view(42);
    let submitted = |value: Value| {
        let mut v = view.clone();
        v["state"] = json!({"values": {"pb_comment": {"comment": {"type": "plain_text_input", "value": value}}}});
        json!({"type": "view_submission", "user": {"id": "U2"}, "view": v})
    };
    assert_eq!(
        parse_comment_submission(&submitted(json!("Quick!"))),
        Some((42, "U2".to_string(), Some("Quick!".to_string())))
    );
    assert_eq!(
        parse_comment_submission(&submitted(Value::Null)),
        Some((42, "U2".to_string(), None))
    );
    let mut other = submitted(json!("x"));
    other["view"]["callback_id"] = json!("someone_elses");
    assert_eq!(parse_comment_submission(&other), None);
    let mut forged = submitted(json!("x"));
    forged["view"]["private_metadata"] = json!("nope");
    assert_eq!(parse_comment_submission(&forged), None);
}

#[test]
fn form_table() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("payload=%7B%22a%22%3A1%7D", "payload", Some("{\"a\":1}")),
        ("x=1&payload=a+b%2Bc", "payload", Some("a b+c")),
        ("payload=", "payload", Some("")),
        ("payloads=1", "payload", None),
        ("x=1", "payload", None),
        ("payload=%zz", "payload", None),
        ("payload=%E2%9C%93", "payload", Some("✓")),
        ("", "payload", None),
    ];
    for (body, key, want) in cases {
        assert_eq!(
            form_value(body.as_bytes(), key).as_deref(),
            *want,
            "{body:?}"
        );
    }
}

#[test]
fn failures_table() {
    let s = Duration::from_secs;
    let cases = [
        (Some(429), Some("3"), Failure::RateLimited(Some(s(3)))),
        (Some(429), None, Failure::RateLimited(None)),
        (Some(429), Some("soon"), Failure::RateLimited(None)),
        (Some(429), Some("3600"), Failure::RateLimited(Some(s(3600)))),
        (Some(500), None, Failure::Server),
        (Some(503), None, Failure::Server),
        (None, None, Failure::Unreachable),
        (Some(400), None, Failure::Final),
        (Some(404), None, Failure::Final),
    ];
    for (status, after, want) in cases {
        assert_eq!(failure(status, after), want, "{status:?} {after:?}");
    }
    // An hour's Retry-After is more than the policy waits: the send fails.
    assert_eq!(kit::retry_wait(failure(Some(429), Some("3600")), 1), None);
}

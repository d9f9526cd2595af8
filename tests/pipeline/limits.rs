//! Message limits: long messages truncated and stored, empty ones answered and not stored.

use personabot::store::InteractionFilter;

use crate::{inbound, pipeline, support, CHANNEL};

#[test]
fn long_messages_are_truncated_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let max = support::shipped().settings.limits.max_message_chars;
    assert_eq!(max, 4000, "the shipped limit");
    let ascii_100k = format!(
        "the dashboard is not loading {}",
        "lorem ipsum ".repeat(100_000 / 12)
    )
    .chars()
    .take(100_000)
    .collect::<String>();
    let crab_100k = "🦀é".repeat(50_000);
    let cases: Vec<(&str, String, bool)> = vec![
        ("100k ascii chars", ascii_100k, true),
        ("100k multibyte chars", crab_100k, true),
        ("exactly the limit", "x".repeat(max), false),
        ("one past the limit", "y".repeat(max + 1), true),
        (
            "surrounding whitespace does not count",
            format!("   {}   \n", "z".repeat(max)),
            false,
        ),
    ];
    for (n, (name, text, truncated)) in cases.iter().enumerate() {
        let o = p
            .handle(&inbound(&format!("long-{n}"), text))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(o.truncated, *truncated, "{name}");
        let stored = p
            .store()
            .interaction(o.interaction.expect("stored"))
            .unwrap()
            .unwrap();
        let want: String = text.trim().chars().take(max).collect();
        assert_eq!(stored.text.chars().count(), want.chars().count(), "{name}");
        assert_eq!(
            stored.text, want,
            "{name}: the stored text is the message cut at the limit"
        );
        assert!(o.reply.is_some(), "{name}");
    }
    let first = p
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap()
        .remove(0);
    assert_eq!(
        first.intent.map(|i| i.id).as_deref(),
        Some("technical-issue"),
        "the kept start is still classified"
    );
}

#[test]
fn empty_messages_get_a_safe_reply_and_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    for text in ["", " ", "   \t  ", "\n", "\r\n", "\u{7}\u{1b}", " \u{0} "] {
        let o = p
            .handle(&inbound("empty", text))
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let reply = o
            .reply
            .as_deref()
            .unwrap_or_else(|| panic!("{text:?}: a reply"));
        assert!(reply.contains("empty"), "{text:?}: {reply}");
        assert_eq!(o.interaction, None, "{text:?}");
        assert!(o.ticket.is_none(), "{text:?}");
    }
    assert_eq!(p.store().interaction_count(), 0);
    assert_eq!(
        p.store().conversation(CHANNEL, "empty").unwrap().turns,
        0,
        "no state is created"
    );
    // Empty messages are not misses: one real miss afterwards is still only the first.
    let o = p.handle(&inbound("empty", "asdf qwerty")).unwrap();
    assert_eq!(o.decision.kind.as_str(), "fallback");
}

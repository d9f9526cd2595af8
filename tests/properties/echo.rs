//! Echoed text on Discord and Slack can never mention or link.

use personabot::channels::{discord, slack};
use personabot::store::{Actor, EvidenceRecord, Label, Ticket, TicketStatus, TranscriptLine};
use proptest::prelude::*;

use crate::strategies::tricky_string;
use crate::{config, shipped};

/// Text aimed at chat markup: mentions, masked links and their near misses.
fn mention_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "@everyone", "@here", "@EVERYONE", "@HeRe", "<@123>", "<@!456>", "<@&789>", "<#42>",
            "<!everyone>", "<!here>", "<!channel>", "<@U123|ann>", "[click](https://evil.example)",
            "](", "<", ">", "@", "&", "&amp;", "&lt;", "&gt;", "`", "\u{200b}", "*", "_", "~",
            "<https://evil.example|bank>", "<mailto:a@b.c|x>", "@@everyone", "<<@1>", "]](",
        ])
        .prop_map(String::from),
        2 => tricky_string(6),
        1 => any::<String>(),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
}

/// True when Discord would read `text` as a mass mention, a user/role/channel mention or a
/// masked link.
fn discord_active_markup(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    [
        ("@everyone", "@everyone"),
        ("@here", "@here"),
        ("<@", "a user or role mention"),
        ("<#", "a channel mention"),
        ("](", "a masked link"),
    ]
    .into_iter()
    .find(|(needle, _)| lower.contains(needle))
    .map(|(_, what)| what)
}

fn ticket_with(text: &str, other: &str) -> Ticket {
    Ticket {
        id: 7,
        team: "support".into(),
        status: TicketStatus::Claimed,
        created_ms: 0,
        updated_ms: 0,
        channel: other.into(),
        conversation: format!("conv`{other}`"),
        user: "u".into(),
        persona: None,
        intent: None,
        evidence: vec![EvidenceRecord {
            term: other.into(),
            target: "intent:pricing".into(),
            weight: 1.0,
        }],
        reason: text.into(),
        interaction: 1,
        transcript: vec![
            TranscriptLine {
                at_ms: 0,
                from: Actor::Customer,
                text: text.into(),
                user: None,
            },
            TranscriptLine {
                at_ms: 1,
                from: Actor::Agent(other.into()),
                text: other.into(),
                user: None,
            },
        ],
        claimed_by: Some(other.into()),
        resolved_by: None,
        relabels: vec![Label {
            intent: None,
            persona: None,
            by: other.into(),
            at_ms: 2,
        }],
        contact: None,
        priority: Default::default(),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn discord_neutralised_text_cannot_mention_or_link_and_reads_the_same(text in mention_soup()) {
        let out = discord::neutralise(&text);
        prop_assert_eq!(discord_active_markup(&out), None, "in {:?}", out);
        // Zero-width spaces are added and bidirectional overrides and isolates dropped; the
        // rest reads the same.
        let visible = |s: &str| {
            s.chars()
                .filter(|c| !matches!(c, '\u{200b}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
                .collect::<String>()
        };
        prop_assert_eq!(visible(&out), visible(&text), "only zero-width spaces are added");
        let bidi = out
            .chars()
            .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'));
        prop_assert!(!bidi, "a bidirectional control survived in {:?}", out);
        let cut = discord::fit(&out, 100);
        prop_assert!(cut.chars().count() <= 100);
        prop_assert_eq!(discord_active_markup(&cut), None, "after cutting: {:?}", cut);
    }

    #[test]
    fn a_discord_ticket_message_never_mentions_or_links(text in mention_soup(), other in mention_soup()) {
        let rendered = discord::render_ticket(&shipped().catalog, &ticket_with(&text, &other));
        prop_assert_eq!(discord_active_markup(&rendered), None, "in {:?}", rendered);
    }

    #[test]
    fn slack_escaped_text_has_no_markup_and_round_trips(text in mention_soup()) {
        let escaped = slack::escape(&text);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'), "{:?}", escaped);
        prop_assert_eq!(slack::plain_text(&escaped), text.clone());
        let cut = slack::fit(&escaped, 50);
        prop_assert!(cut.chars().count() <= 50);
        // Every `&` still starts a whole entity after cutting.
        for (at, _) in cut.match_indices('&') {
            let rest = &cut[at..];
            prop_assert!(
                ["&amp;", "&lt;", "&gt;"].iter().any(|e| rest.starts_with(e)),
                "half an entity in {:?}", cut
            );
        }
        let body = slack::post_message_body("C1", "1.2", &escaped, None);
        prop_assert!(!body["text"].as_str().unwrap_or_default().contains('<'));
        prop_assert_eq!(&body["link_names"], &serde_json::json!(false));
    }
}

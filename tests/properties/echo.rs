//! Echoed text on Discord and Slack can never mention or link, and a bot answer rendered from
//! its markdown (Discord, Slack, Telegram) can never mention or carry a link that is not http,
//! https or mailto.

use personabot::channels::{discord, markdown, slack};
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

/// Answers written with the markdown subset, broken markdown and chat markup mixed.
fn markdown_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "**", "[", "]", "(", ")", "](", "- ", "\n", "\n- ", "**bold**", "[x](https://ok.example/a?b=1&c=2)",
            "[y](javascript:alert(1))", "[z](mailto:press@hearth.example)", "[w](HTTPS://A.EXAMPLE)",
            "[@everyone](https://a.example/@here)", "[<@1>](http://a.example)", "[x](data:text/html,<b>)",
            "<a href=\"javascript:x\">", "</b>", "<b>", "&quot;", "\"", "1. ", "# ", "> ",
            "[x](https://a.example/<@1>)", "[x](https://a.example|<!here>)", "[a](<https://b>)",
        ])
        .prop_map(String::from),
        2 => mention_soup(),
        1 => tricky_string(4),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

/// Whether `rest` (what follows a link's opening) starts with an allowed scheme.
fn allowed_link(rest: &str) -> bool {
    let lower = rest.to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// What is wrong with a rendered Discord answer: a mention, or a masked link to anything but
/// http, https or mailto.
fn discord_answer_fault(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for needle in ["@everyone", "@here", "<@", "<#"] {
        if lower.contains(needle) {
            return Some(format!("{needle:?}"));
        }
    }
    // A masked link is `](` and a target closed by `)` (a cut one is text).
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .find(|target| !allowed_link(target))
        .map(|target| format!("a link to {target:?}"))
}

/// What is wrong with rendered Slack mrkdwn: any `<...>` but a `<http(s)|mailto...|text>` link.
fn slack_answer_fault(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let token = &rest[open + 1..];
        let close = token.find('>')?;
        let inner = &token[..close];
        if !allowed_link(inner) || inner.contains('<') {
            return Some(format!("<{inner}>"));
        }
        rest = &token[close + 1..];
    }
    None
}

/// What Telegram's HTML parser would refuse or read as more than the subset: a tag other than
/// `<b>`, `</b>`, `<a href="http(s)|mailto...">`, `</a>`; an `&` outside an entity; unbalanced
/// tags.
fn telegram_answer_fault(html: &str) -> Option<String> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = html;
    loop {
        let next = rest.find(['<', '&']);
        let Some(at) = next else { break };
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix('&') {
            if !["amp;", "lt;", "gt;", "quot;"]
                .iter()
                .any(|e| after.starts_with(e))
            {
                return Some(format!("a bare & in {tail:?}"));
            }
            rest = after;
            continue;
        }
        let close = tail.find('>')?;
        let tag = &tail[..=close];
        match tag {
            "<b>" => open.push("b"),
            "<a>" => return Some("an a without href".into()),
            "</b>" | "</a>" => {
                if open.pop() != Some(&tag[2..3]) {
                    return Some(format!("unbalanced {tag}"));
                }
            }
            _ => {
                let href = tag
                    .strip_prefix("<a href=\"")
                    .and_then(|t| t.strip_suffix("\">"))
                    .filter(|h| allowed_link(h) && !h.contains(['"', '<', '>']));
                match href {
                    Some(_) => open.push("a"),
                    None => return Some(format!("the tag {tag}")),
                }
            }
        }
        rest = &tail[close + 1..];
    }
    (!open.is_empty()).then(|| format!("unclosed {open:?}"))
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
        assigned_to: None,
        notes: Vec::new(),
        csat: None,
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
        let body = slack::post_message_body("C1", "1.2", &escaped, &[]);
        prop_assert!(!body["text"].as_str().unwrap_or_default().contains('<'));
        prop_assert_eq!(&body["link_names"], &serde_json::json!(false));
    }

    #[test]
    fn a_rendered_answer_never_mentions_or_links_outside_http_https_mailto(text in markdown_soup()) {
        let on_discord = markdown::discord(&text);
        prop_assert_eq!(discord_answer_fault(&on_discord), None, "Discord: {:?}", on_discord);
        let cut = discord::fit(&on_discord, 40);
        prop_assert_eq!(discord_answer_fault(&cut), None, "Discord, cut: {:?}", cut);
        let on_slack = markdown::slack(&text);
        prop_assert_eq!(slack_answer_fault(&on_slack), None, "Slack: {:?}", on_slack);
        for mention in ["<!", "<@", "<#"] {
            prop_assert!(!on_slack.contains(mention), "Slack {}: {:?}", mention, on_slack);
        }
        let on_telegram = markdown::telegram_html(&text);
        prop_assert_eq!(telegram_answer_fault(&on_telegram), None, "Telegram: {:?}", on_telegram);
    }
}

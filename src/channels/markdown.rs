//! The markdown subset bot answers may use, `[text](url)` links (http, https and mailto only),
//! `**bold**` and `- ` list items, parsed once and rendered in each platform's own form:
//! Discord markdown, Slack mrkdwn, Telegram HTML, and plain text for the terminal. Everything
//! outside the subset is text, escaped for the platform, so an answer can never format, link,
//! mention or ping beyond what the subset allows. Pure; tested below and in
//! `tests/properties/echo.rs`.
//!
//! Only the bot's own replies go through here: customers' and agents' text keeps each
//! channel's plain escaping.

use super::discord::neutralise;

/// A piece of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    /// `**text**`.
    Bold(String),
    /// `[text](url)` with an allowed URL ([`safe_url`]); a link to anything else is its text.
    Link {
        text: String,
        url: String,
    },
}

/// One line of an answer: a `- ` list item or a plain line (empty for a blank one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub item: bool,
    pub spans: Vec<Span>,
}

/// Whether a link may point at `url`: `http://`, `https://` or `mailto:` with something after
/// it, and none of the characters that could end or break out of a link on some platform
/// (whitespace, controls, `<>"'()|\` and backquotes).
pub fn safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = ["http://", "https://", "mailto:"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme));
    rest.is_some_and(|r| !r.is_empty())
        && !url.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '<' | '>' | '"' | '\'' | '(' | ')' | '|' | '\\' | '`' | '[' | ']'
                )
                || is_invisible(c)
        })
}

/// Zero-width and bidirectional control characters, which could hide or reorder a link.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Parses an answer into lines of spans. Never fails: what is not the subset is text.
pub fn parse(markdown: &str) -> Vec<Line> {
    markdown
        .lines()
        .map(|line| match line.strip_prefix("- ") {
            Some(rest) => Line {
                item: true,
                spans: spans(rest),
            },
            None => Line {
                item: false,
                spans: spans(line),
            },
        })
        .collect()
}

/// `**bold**` at the start of `s`: (its text, bytes used); the text neither starts nor ends
/// with a space.
fn bold_at(s: &str) -> Option<(&str, usize)> {
    let inner = s.strip_prefix("**")?;
    let end = inner.find("**")?;
    let text = &inner[..end];
    // As in CommonMark, `** x **` is not bold.
    (!text.is_empty() && text.trim() == text).then_some((text, end + 4))
}

/// `[text](url)` at the start of `s`: (text, url, bytes used).
fn link_at(s: &str) -> Option<(&str, &str, usize)> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find(']')?;
    let text = &inner[..close];
    if text.trim().is_empty() || text.contains('[') {
        return None;
    }
    let after = inner[close + 1..].strip_prefix('(')?;
    // The target ends at the `)` that balances its `(`, as in CommonMark.
    let mut depth = 0usize;
    let end = after.char_indices().find_map(|(at, c)| match c {
        '(' => {
            depth += 1;
            None
        }
        ')' if depth == 0 => Some(at),
        ')' => {
            depth -= 1;
            None
        }
        _ => None,
    })?;
    let url = &after[..end];
    Some((text, url, 1 + close + 2 + end + 1))
}

fn spans(line: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = line;
    let flush = |text: &mut String, out: &mut Vec<Span>| {
        if !text.is_empty() {
            out.push(Span::Text(std::mem::take(text)));
        }
    };
    while let Some(c) = rest.chars().next() {
        if let Some((bold, used)) = bold_at(rest) {
            flush(&mut text, &mut out);
            out.push(Span::Bold(bold.to_string()));
            rest = &rest[used..];
        } else if let Some((label, url, used)) = link_at(rest) {
            if safe_url(url) {
                flush(&mut text, &mut out);
                out.push(Span::Link {
                    text: label.to_string(),
                    url: url.to_string(),
                });
            } else {
                // A link to anything else keeps only its text.
                text.push_str(label);
            }
            rest = &rest[used..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    flush(&mut text, &mut out);
    out
}

/// How one platform writes each part.
struct Style {
    text: fn(&str) -> String,
    bold: fn(&str) -> String,
    link: fn(&str, &str) -> String,
    item: &'static str,
    /// What a plain line starting with `text` needs in front so it stays plain.
    line_start: fn(&str) -> &'static str,
}

fn render(markdown: &str, style: &Style) -> String {
    let mut lines = Vec::new();
    for line in parse(markdown) {
        let mut out = String::new();
        for span in &line.spans {
            out.push_str(&match span {
                Span::Text(t) => (style.text)(t),
                Span::Bold(t) => (style.bold)(t),
                Span::Link { text, url } => (style.link)(text, url),
            });
        }
        let prefix = if line.item {
            style.item
        } else {
            (style.line_start)(&out)
        };
        lines.push(format!("{prefix}{out}"));
    }
    lines.join("\n")
}

fn nothing(_: &str) -> &'static str {
    ""
}

// ----------------------------------------------------------------------------------------------
// Discord
// ----------------------------------------------------------------------------------------------

/// Discord's markdown characters, backslash-escaped in text (`<` starts mentions, emoji,
/// timestamps and command links; `#` and `>` only mean something at the start of a line).
const DISCORD_SPECIAL: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<'];

/// Text on Discord: mentions and masked links neutralised ([`neutralise`]), then every
/// markdown character escaped.
fn discord_text(text: &str) -> String {
    let mut out = String::new();
    for c in neutralise(text).chars() {
        if DISCORD_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A line starting with `-`, `+` or `1.` would be a list on Discord, one with `#` a heading,
/// one with `-#` small print, one with `>` a quote.
fn discord_line_start(rendered: &str) -> &'static str {
    let digits = rendered.bytes().take_while(u8::is_ascii_digit).count();
    let ordered = digits > 0 && rendered[digits..].starts_with(". ");
    let marks = ["- ", "+ ", "-#", "#", ">"];
    if marks.iter().any(|m| rendered.starts_with(m)) || ordered {
        "\\"
    } else {
        ""
    }
}

const DISCORD: Style = Style {
    text: discord_text,
    bold: |t| format!("**{}**", discord_text(t)),
    link: |text, url| {
        // No mass mention in a URL either (`https://x/@everyone`).
        let lower = url.to_ascii_lowercase();
        let url = if lower.contains("@everyone") || lower.contains("@here") {
            url.replace('@', "%40")
        } else {
            url.to_string()
        };
        format!("[{}]({url})", discord_text(text))
    },
    item: "- ",
    line_start: discord_line_start,
};

/// An answer in Discord markdown: links, bold and `- ` lists as Discord shows them; the rest
/// escaped, with mentions neutralised.
pub fn discord(markdown: &str) -> String {
    render(markdown, &DISCORD)
}

// ----------------------------------------------------------------------------------------------
// Slack
// ----------------------------------------------------------------------------------------------

/// `&`, `<` and `>` as entities, and `"` too when `quotes` (for attribute values).
fn entities(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes Slack's control characters (`&`, `<`, `>`), so text cannot mention, ping or link.
pub fn slack_escape(text: &str) -> String {
    entities(text, false)
}

const SLACK: Style = Style {
    text: slack_escape,
    bold: |t| format!("*{}*", slack_escape(t)),
    link: |text, url| format!("<{}|{}>", slack_escape(url), slack_escape(text)),
    item: "• ",
    line_start: nothing,
};

/// An answer in Slack mrkdwn: `<url|text>`, `*bold*`, `• ` items; the rest escaped.
pub fn slack(markdown: &str) -> String {
    render(markdown, &SLACK)
}

// ----------------------------------------------------------------------------------------------
// Telegram
// ----------------------------------------------------------------------------------------------

/// Escapes text for Telegram's HTML parse mode (and for attribute values).
pub fn html_escape(text: &str) -> String {
    entities(text, true)
}

const TELEGRAM: Style = Style {
    text: html_escape,
    bold: |t| format!("<b>{}</b>", html_escape(t)),
    link: |text, url| format!("<a href=\"{}\">{}</a>", html_escape(url), html_escape(text)),
    item: "• ",
    line_start: nothing,
};

/// An answer for Telegram's HTML parse mode: `<a href>`, `<b>`, `• ` items; the rest escaped.
pub fn telegram_html(markdown: &str) -> String {
    render(markdown, &TELEGRAM)
}

// ----------------------------------------------------------------------------------------------
// Plain text
// ----------------------------------------------------------------------------------------------

const PLAIN: Style = Style {
    text: |t| t.to_string(),
    bold: |t| t.to_string(),
    link: |text, url| {
        let bare = url.strip_prefix("mailto:").unwrap_or(url);
        if text == url || text == bare {
            text.to_string()
        } else {
            format!("{text} ({bare})")
        }
    },
    item: "- ",
    line_start: nothing,
};

/// An answer as plain text (the terminal): bold unmarked, links as `text (url)`.
pub fn plain(markdown: &str) -> String {
    render(markdown, &PLAIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Span {
        Span::Text(t.into())
    }

    fn link(t: &str, u: &str) -> Span {
        Span::Link {
            text: t.into(),
            url: u.into(),
        }
    }

    #[test]
    fn parse_table() {
        let cases: Vec<(&str, Vec<Line>)> = vec![
            ("", vec![]),
            (
                "plain $39 per seat",
                vec![Line {
                    item: false,
                    spans: vec![text("plain $39 per seat")],
                }],
            ),
            (
                "- **Growth**: see [pricing](https://hearth.example/pricing).",
                vec![Line {
                    item: true,
                    spans: vec![
                        Span::Bold("Growth".into()),
                        text(": see "),
                        link("pricing", "https://hearth.example/pricing"),
                        text("."),
                    ],
                }],
            ),
            (
                "write to [press](mailto:press@hearth.example)\n\nbye",
                vec![
                    Line {
                        item: false,
                        spans: vec![
                            text("write to "),
                            link("press", "mailto:press@hearth.example"),
                        ],
                    },
                    Line {
                        item: false,
                        spans: vec![],
                    },
                    Line {
                        item: false,
                        spans: vec![text("bye")],
                    },
                ],
            ),
            // Not allowed: the link keeps only its text.
            (
                "[click](javascript:alert(1)) [x](ftp://a) [y](https://a b)",
                vec![Line {
                    item: false,
                    spans: vec![text("click x y")],
                }],
            ),
            // Not the subset: left as text.
            (
                "a ** b **** [](https://a) [x] (https://a) -not an item",
                vec![Line {
                    item: false,
                    spans: vec![text(
                        "a ** b **** [](https://a) [x] (https://a) -not an item",
                    )],
                }],
            ),
            (
                "**unclosed and [open(https://a)",
                vec![Line {
                    item: false,
                    spans: vec![text("**unclosed and [open(https://a)")],
                }],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input:?}");
        }
    }

    #[test]
    fn safe_url_table() {
        let cases = [
            ("https://hearth.example/a?b=c&d=e#f", true),
            ("http://hearth.example", true),
            ("HTTPS://HEARTH.EXAMPLE", true),
            ("mailto:press@hearth.example", true),
            ("https://", false),
            ("mailto:", false),
            ("javascript:alert(1)", false),
            ("data:text/html,x", false),
            ("ftp://a", false),
            ("hearth.example", false),
            ("/relative", false),
            ("https://a\">x", false),
            ("https://a|x", false),
            ("https://a\u{202E}b", false),
            ("https://a b", false),
        ];
        for (url, ok) in cases {
            assert_eq!(safe_url(url), ok, "{url:?}");
        }
    }

    const ANSWER: &str = "Plans:\n- **Growth**: $39 & more, see [pricing](https://hearth.example/p?a=1&b=2)\n- Write to [press](mailto:press@hearth.example)\n\n1. not a list\n# not a heading\n> not a quote";

    #[test]
    fn renderers_table() {
        type Render = fn(&str) -> String;
        let cases: [(Render, &str); 4] = [
            (
                discord,
                "Plans:\n- **Growth**: $39 & more, see [pricing](https://hearth.example/p?a=1&b=2)\n- Write to [press](mailto:press@hearth.example)\n\n\\1. not a list\n\\# not a heading\n\\> not a quote",
            ),
            (
                slack,
                "Plans:\n• *Growth*: $39 &amp; more, see <https://hearth.example/p?a=1&amp;b=2|pricing>\n• Write to <mailto:press@hearth.example|press>\n\n1. not a list\n# not a heading\n&gt; not a quote",
            ),
            (
                telegram_html,
                "Plans:\n• <b>Growth</b>: $39 &amp; more, see <a href=\"https://hearth.example/p?a=1&amp;b=2\">pricing</a>\n• Write to <a href=\"mailto:press@hearth.example\">press</a>\n\n1. not a list\n# not a heading\n&gt; not a quote",
            ),
            (
                plain,
                "Plans:\n- Growth: $39 & more, see pricing (https://hearth.example/p?a=1&b=2)\n- Write to press (press@hearth.example)\n\n1. not a list\n# not a heading\n> not a quote",
            ),
        ];
        for (render, want) in cases {
            assert_eq!(render(ANSWER), want);
        }
    }

    #[test]
    fn text_outside_the_subset_is_escaped_for_each_platform() {
        let hostile =
            "hi @everyone <@123> <!here> [x](https://a/@here) _i_ `c` <b>no</b> & | ~s~ #1";
        assert_eq!(
            discord(hostile),
            "hi @\u{200B}everyone \\<\u{200B}@123> \\<!here> [x](https://a/%40here) \\_i\\_ \\`c\\` \\<b>no\\</b> & \\| \\~s\\~ #1"
        );
        assert_eq!(
            slack(hostile),
            "hi @everyone &lt;@123&gt; &lt;!here&gt; <https://a/@here|x> _i_ `c` &lt;b&gt;no&lt;/b&gt; &amp; | ~s~ #1"
        );
        assert_eq!(
            telegram_html(hostile),
            "hi @everyone &lt;@123&gt; &lt;!here&gt; <a href=\"https://a/@here\">x</a> _i_ `c` &lt;b&gt;no&lt;/b&gt; &amp; | ~s~ #1"
        );
    }

    #[test]
    fn answers_without_markdown_read_as_before() {
        let shipped = "Hi there, welcome to Hearth! I can help with:\n- plans, pricing, billing and refunds;\n- getting set up.\nWhat can I do for you today?";
        assert_eq!(plain(shipped), shipped);
        assert_eq!(discord(shipped), shipped);
        assert_eq!(slack(shipped), shipped.replace("\n- ", "\n• "));
    }
}

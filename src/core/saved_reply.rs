//! Saved replies: a team's canned answers (`replies/<team>.toml` in the catalog) and their
//! placeholders, parsed once when the catalog loads and rendered for one ticket.
//!
//! A placeholder is `{name}` or `{name|fallback}` (the fallback is used when the value is
//! unknown); `{{` and `}}` are literal braces. The names are [`PLACEHOLDERS`].

use std::collections::BTreeMap;

use serde::Serialize;

/// One saved reply of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedReply {
    /// Unique within its team (`refund-sent`); what `{"saved": ID}` names.
    pub id: String,
    /// What the agent picks it by; the id when the file gives none.
    pub title: String,
    /// The text with its placeholders, as written.
    pub text: String,
}

/// Saved replies by team id, each team's in file order.
pub type SavedReplies = BTreeMap<String, Vec<SavedReply>>;

/// The placeholders a saved reply may use.
/// (No `{contact}`: the customer's email lives on the ticket only, never copied into a
/// transcript.)
pub const PLACEHOLDERS: &[&str] = &["customer", "ticket", "agent", "team"];

/// What the placeholders stand for, for one ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyValues<'a> {
    /// The customer's name, when a channel gave one (personabot keeps none today).
    pub customer: Option<&'a str>,
    pub ticket: u64,
    /// The replying agent's account name.
    pub agent: &'a str,
    /// The team's display name.
    pub team: &'a str,
}

/// A problem in a reply's text, at a byte offset of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    /// What the error is about in the text (`{custmer`), to find it in the file.
    pub token: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Slot {
        name: &'a str,
        fallback: Option<&'a str>,
    },
}

/// Cuts `text` into literal pieces and placeholders; the first problem is an error.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut at = 0;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..i]));
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Text(&tail[..1]));
            rest = &tail[2..];
            at += i + 2;
            continue;
        }
        if tail.starts_with('}') {
            return Err(TemplateError {
                offset: at + i,
                token: "}".into(),
                message: "a lone `}`: write `}}` for a brace".into(),
            });
        }
        let Some(end) = tail.find('}') else {
            return Err(TemplateError {
                offset: at + i,
                token: tail.chars().take(12).collect(),
                message: "a `{` without its `}`: write `{{` for a brace".into(),
            });
        };
        let inner = &tail[1..end];
        let (name, fallback) = match inner.split_once('|') {
            Some((name, fallback)) => (name.trim(), Some(fallback)),
            None => (inner.trim(), None),
        };
        if !PLACEHOLDERS.contains(&name) {
            return Err(TemplateError {
                offset: at + i,
                token: tail[..=end].to_string(),
                message: format!(
                    "unknown placeholder `{{{name}}}` (expected one of: {})",
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        out.push(Piece::Slot { name, fallback });
        rest = &tail[end + 1..];
        at += i + end + 1;
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks a reply's text (what the catalog loader reports).
pub fn check(text: &str) -> Result<(), TemplateError> {
    pieces(text).map(|_| ())
}

/// The reply's text for one ticket. A text that does not check (never loaded so) is sent as
/// written.
pub fn render(text: &str, values: &ReplyValues<'_>) -> String {
    let Ok(pieces) = pieces(text) else {
        return text.trim().to_string();
    };
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Slot { name, fallback } => {
                let value = match name {
                    "customer" => values.customer.map(str::to_string),
                    "ticket" => Some(values.ticket.to_string()),
                    "agent" => Some(values.agent.to_string()),
                    _ => Some(values.team.to_string()),
                };
                let default = if name == "customer" { "there" } else { "" };
                out.push_str(
                    &value
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| fallback.unwrap_or(default).to_string()),
                );
            }
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: ReplyValues<'static> = ReplyValues {
        customer: None,
        ticket: 42,
        agent: "ana",
        team: "Billing",
    };

    #[test]
    fn placeholders_render_for_the_ticket() {
        let named = ReplyValues {
            customer: Some("Zoë"),
            ..VALUES
        };
        for (text, values, want) in [
            (
                "Hi {customer}, ticket #{ticket}",
                VALUES,
                "Hi there, ticket #42",
            ),
            ("Hi {customer}!", named, "Hi Zoë!"),
            ("Hi {customer|friend}!", VALUES, "Hi friend!"),
            ("Hi { customer | friend }!", named, "Hi Zoë!"),
            ("— {agent}, {team} team", VALUES, "— ana, Billing team"),
            ("JSON: {{\"a\": 1}}", VALUES, "JSON: {\"a\": 1}"),
            ("  padded\n", VALUES, "padded"),
            ("no placeholders", VALUES, "no placeholders"),
        ] {
            assert_eq!(check(text), Ok(()), "{text}");
            assert_eq!(render(text, &values), want, "{text}");
        }
    }

    #[test]
    fn mistakes_are_found_with_their_offset() {
        for (text, offset, token, message) in [
            (
                "Hi {custmer}",
                3,
                "{custmer}",
                "unknown placeholder `{custmer}`",
            ),
            ("Hi {customer} {}", 14, "{}", "unknown placeholder `{}`"),
            ("Hi {customer", 3, "{customer", "a `{` without its `}`"),
            ("a }", 2, "}", "a lone `}`"),
            ("to {contact}", 3, "{contact}", "unknown placeholder"),
            ("{{ok}} and {nope}", 11, "{nope}", "unknown placeholder"),
        ] {
            let e = check(text).unwrap_err();
            assert_eq!((e.offset, e.token.as_str()), (offset, token), "{text}");
            assert!(e.message.starts_with(message), "{text}: {}", e.message);
            // A broken text is sent as written rather than half-rendered.
            assert_eq!(render(text, &VALUES), text.trim());
        }
    }
}

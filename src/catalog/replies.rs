//! Loading saved replies: `replies/<team>.toml`, one table per reply, checked like the rest of
//! the catalog (every problem at `path:line:col`) and reloaded with it.
//!
//! ```toml
//! [refund-sent]
//! title = "Refund sent"
//! text = "Hi {customer}, the refund for ticket #{ticket} is on its way. {agent}, {team}"
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use toml_edit::Document;

use super::diagnostics::{Diagnostics, SourceText};
use super::fields::{item_span, item_type_name, Fields};
use super::{is_valid_id, Team};
use crate::core::saved_reply::{check, SavedReplies, SavedReply};

const REPLY_KEYS: &[&str] = &["title", "text"];

/// Reads every `(path, text)` of `replies/` against the configured `teams`.
pub(super) fn read_replies(
    files: &[(PathBuf, String)],
    teams: &BTreeMap<String, Team>,
    diags: &mut Diagnostics,
) -> SavedReplies {
    let mut out = SavedReplies::new();
    for (path, text) in files {
        let src = SourceText::new(path, text.clone());
        let team = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !teams.contains_key(&team) {
            diags.push(src.at(
                None,
                format!(
                    "saved replies for `{team}`, which is not a team (teams: {}): name the file \
                     after a team id",
                    teams.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
            continue;
        }
        let doc = match Document::parse(src.text.clone()) {
            Ok(doc) => doc,
            Err(e) => {
                let message = e.message().trim().replace('\n', " ");
                diags.push(src.at(e.span(), format!("invalid TOML: {message}")));
                continue;
            }
        };
        let replies = read_file(&src, &doc, diags);
        out.insert(team, replies);
    }
    out
}

fn read_file(src: &SourceText, doc: &Document<String>, diags: &mut Diagnostics) -> Vec<SavedReply> {
    let mut root = Fields::new(src, doc.as_table(), None, String::new());
    let mut replies = Vec::new();
    let mut entries = root.entries();
    entries.sort_by_key(|(_, item)| item_span(item).map_or(0, |s| s.start));
    for (id, item) in entries {
        let key_span = doc.as_table().key(id).and_then(|k| k.span());
        if !is_valid_id(id) {
            diags.push(src.at(
                key_span.clone(),
                format!("invalid reply id `{id}`: use lowercase letters, digits and `-`"),
            ));
            continue;
        }
        let Some(table) = item.as_table_like() else {
            diags.push(src.at(
                key_span,
                format!(
                    "`{id}` must be a table (`[{id}]` with `text = \"...\"`), found {}",
                    item_type_name(item)
                ),
            ));
            continue;
        };
        let mut f = Fields::new(src, table, item_span(item).or(key_span), id.to_string());
        let title = f.string("title", diags);
        let text = f.string("text", diags);
        let text_span = f.value_span("text");
        let table_span = f.table_span();
        f.finish(REPLY_KEYS, diags);
        let Some(text) = text else {
            if !table.contains_key("text") {
                diags.push(src.at(table_span, format!("`{id}.text` is missing")));
            }
            continue;
        };
        if text.trim().is_empty() {
            diags.push(src.at(text_span, format!("`{id}.text` is empty")));
            continue;
        }
        if let Err(e) = check(&text) {
            let at = token_span(src, text_span, &e.token);
            diags.push(src.at(at, format!("`{id}.text`: {}", e.message)));
            continue;
        }
        replies.push(SavedReply {
            id: id.to_string(),
            title: title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| id.to_string()),
            text: text.trim().to_string(),
        });
    }
    replies
}

/// Where `token` is written inside the string value at `span` (so an error points at the
/// placeholder itself); the value's start when it cannot be found as written.
fn token_span(src: &SourceText, span: Option<Range<usize>>, token: &str) -> Option<Range<usize>> {
    let span = span?;
    let raw = src.text.get(span.clone())?;
    match raw.find(token) {
        Some(i) => Some(span.start + i..span.start + i + token.len()),
        None => Some(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teams() -> BTreeMap<String, Team> {
        ["billing", "support"]
            .into_iter()
            .map(|t| (t.to_string(), Team::default()))
            .collect()
    }

    fn load(files: &[(&str, &str)]) -> (SavedReplies, Vec<String>) {
        let files: Vec<_> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        let mut diags = Diagnostics::default();
        let replies = read_replies(&files, &teams(), &mut diags);
        (replies, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn replies_load_in_file_order_with_titles() {
        let (replies, errors) = load(&[(
            "replies/billing.toml",
            "[refund-sent]\ntitle = \"Refund sent\"\ntext = \"Hi {customer}, #{ticket} is refunded.\"\n\n\
             [ask-invoice]\ntext = \"\"\"\nWhich invoice, {customer}?\n\"\"\"\n",
        )]);
        assert_eq!(errors, Vec::<String>::new());
        let billing = &replies["billing"];
        assert_eq!(billing.len(), 2);
        assert_eq!(billing[0].id, "refund-sent");
        assert_eq!(billing[0].title, "Refund sent");
        assert_eq!(billing[1].id, "ask-invoice");
        assert_eq!(billing[1].title, "ask-invoice");
        assert_eq!(billing[1].text, "Which invoice, {customer}?");
    }

    #[test]
    fn every_mistake_is_reported_at_its_place() {
        let (replies, errors) = load(&[
            (
                "replies/billing.toml",
                "[ok]\ntext = \"fine\"\n\n[Bad_Id]\ntext = \"x\"\n\n[typo]\ntext = \"Hi {custmer}!\"\n\n\
                 [no-text]\ntitle = \"T\"\n\n[extra]\ntext = \"x\"\ncolour = 1\n\n[blank]\ntext = \"  \"\n\n\
                 [number]\ntext = 3\nloose = 1\n",
            ),
            ("replies/marketing.toml", "[a]\ntext = \"x\"\n"),
            ("replies/support.toml", "[a\ntext = \"x\"\n"),
        ]);
        assert_eq!(
            errors,
            [
                "replies/billing.toml:4:2: invalid reply id `Bad_Id`: use lowercase letters, digits and `-`",
                "replies/billing.toml:8:12: `typo.text`: unknown placeholder `{custmer}` (expected one of: {customer}, {ticket}, {agent}, {team})",
                "replies/billing.toml:10:1: `no-text.text` is missing",
                "replies/billing.toml:15:1: unknown key `extra.colour` (expected one of: title, text)",
                "replies/billing.toml:18:8: `blank.text` is empty",
                "replies/billing.toml:21:8: `number.text` must be a string, found an integer",
                "replies/billing.toml:22:1: unknown key `number.loose` (expected one of: title, text)",
                "replies/marketing.toml:1:1: saved replies for `marketing`, which is not a team (teams: billing, support): name the file after a team id",
                "replies/support.toml:1:3: invalid TOML: unclosed table, expected `]`",
            ]
        );
        let ids: Vec<_> = replies["billing"].iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["ok", "extra"]);
    }
}

//! Reading an intent's answers: `[answers]` (one text per persona, or several for an A/B test),
//! the focused `[[parts]]`, whether the route's personas all have one, and the links in them
//! (a small markdown subset: only http, https and mailto links).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml_edit::Item;

use super::diagnostics::{Diagnostics, SourceText};
use super::fields::{item_span, item_type_name, key_path, value_type_name, Fields};
use super::load::Known;
use super::{is_valid_id, AnswerPart, RouteKind, RouteOverride, RouteRule, DEFAULT_ANSWER};
use crate::core::text;

/// The link schemes an answer may use.
pub(crate) const LINK_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Reads `[answers]`: per persona id (or `default`), a text or an array of texts (an A/B test).
pub(super) fn read_answers(
    f: &mut Fields<'_>,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Vec<String>> {
    let mut answers = BTreeMap::new();
    let Some(mut table) = f.table("answers", diags) else {
        return answers;
    };
    for (key, item) in table.entries() {
        let path = table.path(key);
        if key != DEFAULT_ANSWER && !known.personas.contains(key) {
            diags.push(table.src.at(
                table.key_span(key),
                format!("`{path}`: unknown persona `{key}` (answers are keyed by persona id or `default`)"),
            ));
            continue;
        }
        if item.as_str().is_some_and(|t| t.trim().is_empty()) {
            diags.push(
                table
                    .src
                    .at(table.key_span(key), format!("`{path}` is empty")),
            );
            continue;
        }
        let texts = read_texts(table.src, item, &path, diags);
        if !texts.is_empty() {
            answers.insert(key.to_string(), texts);
        }
    }
    answers
}

/// One answer text, or a non-empty array of them; each checked for empty text and bad links.
fn read_texts(src: &SourceText, item: &Item, path: &str, diags: &mut Diagnostics) -> Vec<String> {
    if let Some(text) = item.as_str() {
        return checked_text(src, item_span(item), text, path, diags)
            .into_iter()
            .collect();
    }
    let Some(array) = item.as_array() else {
        diags.push(src.at(
            item_span(item),
            format!(
                "`{path}` must be a string or an array of strings (an A/B test), found {}",
                item_type_name(item)
            ),
        ));
        return Vec::new();
    };
    if array.is_empty() {
        diags.push(src.at(item_span(item), format!("`{path}` is an empty array")));
        return Vec::new();
    }
    let mut texts = Vec::new();
    for (i, value) in array.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match value.as_str() {
            Some(text) => texts.extend(checked_text(src, value.span(), text, &at, diags)),
            None => diags.push(src.at(
                value.span(),
                format!("`{at}` must be a string, found {}", value_type_name(value)),
            )),
        }
    }
    texts
}

/// The trimmed text, unless it is empty; its links are checked.
fn checked_text(
    src: &SourceText,
    span: Option<Range<usize>>,
    text: &str,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    if text.trim().is_empty() {
        diags.push(src.at(span, format!("`{path}` is empty")));
        return None;
    }
    check_links(src, span, text, path, diags);
    Some(text.trim().to_string())
}

/// Reports every markdown link in `text` whose scheme is not http, https or mailto, at the
/// link's target in the file (at the value when it cannot be found there, e.g. escaped).
fn check_links(
    src: &SourceText,
    span: Option<Range<usize>>,
    text: &str,
    path: &str,
    diags: &mut Diagnostics,
) {
    let raw = span
        .as_ref()
        .and_then(|s| src.text.get(s.clone()))
        .unwrap_or("");
    let mut cursor = 0;
    for url in links(text) {
        if allowed_link(url) {
            continue;
        }
        let needle = format!("]({url}");
        let at = match (raw.get(cursor..).and_then(|r| r.find(&needle)), &span) {
            (Some(found), Some(s)) => {
                cursor += found + needle.len();
                Some(s.start + cursor - url.len()..s.start + cursor)
            }
            _ => span.clone(),
        };
        diags.push(src.at(
            at,
            format!(
                "`{path}`: link `{url}` must start with http:, https: or mailto: (answers may link only to those)"
            ),
        ));
    }
}

/// The targets of the markdown links `[text](target)` in `text`, in order.
pub(crate) fn links(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        // A link needs its `[` earlier on the same line.
        let before = &rest[..at];
        let opened = before.rsplit('\n').next().unwrap_or(before).contains('[');
        let after = &rest[at + 2..];
        let end = after.find([')', '\n']).unwrap_or(after.len());
        let closed = after[end..].starts_with(')');
        if opened && closed {
            out.push(after[..end].trim());
        }
        rest = &after[end..];
    }
    out
}

/// Whether a link target uses a scheme answers may link to.
pub(crate) fn allowed_link(url: &str) -> bool {
    url.split_once(':').is_some_and(|(scheme, _)| {
        LINK_SCHEMES
            .iter()
            .any(|allowed| scheme.eq_ignore_ascii_case(allowed))
    })
}

const PART_KEYS: &[&str] = &["id", "keywords", "persona", "text"];

/// Reads `[[parts]]`: focused parts of the answer, each with an `id`, the `keywords` that ask
/// for it, an optional `persona` and its `text`.
pub(super) fn read_parts(
    f: &mut Fields<'_>,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) -> Vec<AnswerPart> {
    let mut parts: Vec<AnswerPart> = Vec::new();
    let mut ids = BTreeSet::new();
    for mut p in f.tables("parts", diags) {
        let id = p.string("id", diags);
        let keywords = p.strings("keywords", diags);
        let persona = p.string("persona", diags);
        let text = p.string("text", diags);
        let mut ok = true;
        for key in ["id", "keywords", "text"] {
            if !p.has(key) {
                diags.push(
                    p.src
                        .at(p.table_span(), format!("`{}` is missing `{key}`", p.name())),
                );
                ok = false;
            }
        }
        if let Some(id) = &id {
            if !is_valid_id(id) || id == DEFAULT_ANSWER {
                diags.push(p.src.at(
                    p.value_span("id"),
                    format!(
                        "`{}` = {id:?} must be lowercase letters, digits and `-` (and not `default`)",
                        p.path("id")
                    ),
                ));
                ok = false;
            } else if !ids.insert(id.clone()) {
                diags.push(p.src.at(
                    p.value_span("id"),
                    format!("`{}`: duplicate part id `{id}`", p.path("id")),
                ));
                ok = false;
            }
        }
        if p.has("keywords") && keywords.is_empty() {
            diags.push(p.src.at(
                p.value_span("keywords"),
                format!("`{}` needs at least one term", p.path("keywords")),
            ));
            ok = false;
        }
        for (i, (term, span)) in keywords.iter().enumerate() {
            if text::words(term).is_empty() {
                diags.push(p.src.at(
                    span.clone(),
                    format!("`{}[{i}]` has no words to match", p.path("keywords")),
                ));
                ok = false;
            }
        }
        if let Some(persona) = &persona {
            if !known.personas.contains(persona) {
                diags.push(p.src.at(
                    p.value_span("persona"),
                    format!("`{}`: unknown persona `{persona}`", p.path("persona")),
                ));
                ok = false;
            }
        }
        let text = text.and_then(|t| {
            checked_text(
                p.src,
                p.raw("text").and_then(item_span),
                &t,
                &p.path("text"),
                diags,
            )
        });
        p.finish(PART_KEYS, diags);
        if let (true, Some(id), Some(text)) = (ok, id, text) {
            parts.push(AnswerPart {
                id,
                keywords: keywords.into_iter().map(|k| k.0).collect(),
                persona,
                text,
            });
        }
    }
    parts
}

/// A route that answers needs an answer text for each persona it answers.
pub(super) fn check_answers_cover_route(
    src: &SourceText,
    f: &Fields<'_>,
    rule: &RouteRule,
    overrides: &BTreeMap<String, RouteOverride>,
    answers: &BTreeMap<String, Vec<String>>,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) {
    let has_default = answers.contains_key(DEFAULT_ANSWER);
    let answering_personas: Vec<&String> = known
        .personas
        .iter()
        .filter(|p| {
            let kind = overrides.get(*p).and_then(|o| o.kind).unwrap_or(rule.kind);
            matches!(kind, RouteKind::Answer | RouteKind::Fallback)
        })
        .collect();
    if matches!(rule.kind, RouteKind::Answer | RouteKind::Fallback) && !has_default {
        diags.push(src.at(
            f.key_span("answers").or_else(|| f.key_span("route")),
            format!(
                "route kind `{}` needs `answers.default` (the answer for unknown or other personas)",
                rule.kind
            ),
        ));
        return;
    }
    if !has_default {
        for persona in answering_personas {
            if !answers.contains_key(persona.as_str()) {
                diags.push(src.at(
                    override_span(f, persona).or_else(|| f.key_span("route")),
                    format!(
                        "`{}` answers persona `{persona}` but there is no `answers.{persona}` or `answers.default`",
                        key_path("route.personas", persona)
                    ),
                ));
            }
        }
    }
}

/// The span of `route.personas.<persona>` in the intent file, if written there.
fn override_span(f: &Fields<'_>, persona: &str) -> Option<Range<usize>> {
    let route = f.raw("route")?.as_table_like()?;
    let personas = route.get("personas")?.as_table_like()?;
    let (key, item) = personas.get_key_value(persona)?;
    key.span().or_else(|| item_span(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_in_order() {
        let cases: &[(&str, &[&str])] = &[
            ("no links here", &[]),
            (
                "see [the docs](https://a.example/x).",
                &["https://a.example/x"],
            ),
            (
                "[a](http://a) and [b](mailto:b@c.example)",
                &["http://a", "mailto:b@c.example"],
            ),
            ("[bad](javascript:alert(1))", &["javascript:alert(1"]),
            ("no bracket](http://x)", &[]),
            ("[open](http://x no close", &[]),
            ("[a]\n(http://x)", &[]),
            ("- **bold** [x]( https://x )", &["https://x"]),
        ];
        for (text, want) in cases {
            assert_eq!(links(text), *want, "{text:?}");
        }
    }

    #[test]
    fn only_http_https_and_mailto_are_allowed() {
        let cases = [
            ("https://hearth.example/startups", true),
            ("HTTP://x", true),
            ("mailto:press@hearth.example", true),
            ("javascript:alert(1)", false),
            ("data:text/html,x", false),
            ("hearth.example/startups", false),
            ("/relative", false),
            ("", false),
        ];
        for (url, ok) in cases {
            assert_eq!(allowed_link(url), ok, "{url}");
        }
    }
}

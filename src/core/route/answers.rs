//! Choosing the answer text a conversation sees, pure: the conversation's A/B variant (a fixed
//! hash of its id), a focused part when the message asks for one ("is there a free trial?"),
//! or a short pointer when the same answer was already shown. Also the naming of answers in
//! `route.answer`, and a stored reply's text put back together from the catalog.
//!
//! Answer names: `<intent>/<persona|default>` for a single text, `<intent>/<persona|default>#N`
//! (1-based) for the N-th text of an A/B test, `<intent>/<persona|default>/<part>` for a part
//! (the persona the part is for, `default` when it is for everyone).

use super::{Decision, DecisionKind};
use crate::core::classify::{Classification, Target};
use crate::core::conversation::ConversationState;
use crate::core::model::{AnswerPart, Catalog, Intent, DEFAULT_ANSWER};
use crate::core::text;
use crate::core::wording;

/// The conversation id examples and one-off classifications are decided as.
pub const EXAMPLE_CONVERSATION: &str = "example";

/// Matched intent evidence a part's keywords do not cover, from which the message asks more
/// than the part answers ("how much is it, and is there a trial?"): the whole answer is shown.
const FOCUS_LIMIT: f32 = 1.0;

/// A 64-bit FNV-1a hash with a final mix (MurmurHash3's fmix64, so the low bits depend on
/// every byte): fixed, so every process picks the same A/B variant.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// Which of `n` A/B texts (0-based) of the answer `base` (`pricing/default`) the conversation
/// sees: the same in every process and on every turn.
pub fn variant_index(conversation: &str, base: &str, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    (stable_hash(&[base, conversation]) % n as u64) as usize
}

/// The name of the `index`-th (0-based) of `n` texts of `intent`'s answer for `key`.
pub fn variant_name(intent: &str, key: &str, index: usize, n: usize) -> String {
    if n > 1 {
        format!("{intent}/{key}#{}", index + 1)
    } else {
        format!("{intent}/{key}")
    }
}

/// The name of a part of `intent`'s answer.
pub fn part_name(intent: &str, part: &AnswerPart) -> String {
    let key = part.persona.as_deref().unwrap_or(DEFAULT_ANSWER);
    format!("{intent}/{key}/{}", part.id)
}

/// Whether `term` (as words) occurs in `message` (as words), one word after another. A word
/// also matches its plural with a final `s` ("trials").
fn occurs(term: &[String], message: &[String]) -> bool {
    let same = |t: &String, m: &String| t == m || m.strip_suffix('s') == Some(t.as_str());
    !term.is_empty()
        && message
            .windows(term.len())
            .any(|w| w.iter().zip(term).all(|(m, t)| same(t, m)))
}

/// The part of `intent`'s answer the message asks for: the one with the most keyword hits,
/// a part for `persona` before one for everyone, then file order. `uncovered` gives, for a
/// part, the weight of the message's intent evidence its keywords do not cover; at
/// [`FOCUS_LIMIT`] or more the message asks for more than the part and no part is chosen.
pub fn choose_part<'a>(
    intent: &'a Intent,
    persona: Option<&str>,
    message: &str,
    uncovered: impl Fn(&AnswerPart) -> f32,
) -> Option<&'a AnswerPart> {
    let words = text::words(message);
    let mut best: Option<(usize, bool, &AnswerPart)> = None;
    for part in &intent.parts {
        let own = match &part.persona {
            Some(p) if Some(p.as_str()) == persona => true,
            Some(_) => continue,
            None => false,
        };
        let hits = part
            .keywords
            .iter()
            .filter(|k| occurs(&text::words(k), &words))
            .count();
        if hits == 0 {
            continue;
        }
        let better = best.is_none_or(|(h, o, _)| (hits, own) > (h, o));
        if better {
            best = Some((hits, own, part));
        }
    }
    best.map(|(_, _, part)| part)
        .filter(|part| uncovered(part) < FOCUS_LIMIT)
}

/// The weight of `classification`'s keyword evidence for the intent `index` that `part`'s
/// keywords do not cover (a term is covered when all its words are among the keywords').
/// Patterns (`/regex/`) are phrasing, not topic: they do not count.
pub fn uncovered_weight(classification: &Classification, index: u32, part: &AnswerPart) -> f32 {
    let covered: Vec<String> = part.keywords.iter().flat_map(|k| text::words(k)).collect();
    classification
        .evidence
        .iter()
        .filter(|e| e.target == Target::Intent(index))
        .filter(|e| !e.term.starts_with('/'))
        .filter(|e| !text::words(&e.term).iter().all(|w| covered.contains(w)))
        .map(|e| e.weight.max(0.0))
        .sum()
}

/// An answer chosen for the message: its name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChoice {
    pub name: String,
    pub text: String,
}

/// The answer `intent` gives `persona` in `conversation` for `message`: the part asked for,
/// else the conversation's variant of the whole answer.
pub fn answer_choice(
    intent: &Intent,
    persona: Option<&str>,
    message: &str,
    conversation: &str,
    uncovered: impl Fn(&AnswerPart) -> f32,
) -> Option<AnswerChoice> {
    if let Some(part) = choose_part(intent, persona, message, uncovered) {
        return Some(AnswerChoice {
            name: part_name(&intent.id, part),
            text: part.text.clone(),
        });
    }
    let (key, texts) = intent.answer_for(persona)?;
    let base = format!("{}/{key}", intent.id);
    let index = variant_index(conversation, &base, texts.len());
    Some(AnswerChoice {
        name: variant_name(&intent.id, key, index, texts.len()),
        text: texts.get(index)?.clone(),
    })
}

/// Whether the answer named `name` was already shown in the conversation.
pub fn already_shown(state: &ConversationState, name: &str) -> bool {
    state.shown_answers.iter().any(|n| n == name)
}

/// Gives a decision that shows an answer the conversation's own: its A/B variant, or the part
/// the message asks for; a self-help answer already shown becomes a pointer to it (and the
/// offer of a person). [`super::decide`] shows the persona's first text whole; the turn, the
/// examples and `classify` then call this with the conversation's id.
pub fn choose_answer(
    catalog: &Catalog,
    decision: &mut Decision,
    message: &str,
    classification: &Classification,
    state: &ConversationState,
    conversation: &str,
) {
    if decision.answer.is_none() || decision.joins_ticket.is_some() {
        return;
    }
    let Some(pick) = &decision.intent else {
        return;
    };
    let Some(index) = catalog.intents.iter().position(|i| i.id == pick.id) else {
        return;
    };
    let intent = &catalog.intents[index];
    let persona = decision.persona.as_ref().map(|p| p.id.as_str());
    let uncovered = |part: &AnswerPart| uncovered_weight(classification, index as u32, part);
    let Some(choice) = answer_choice(intent, persona, message, conversation, uncovered) else {
        return;
    };
    let repeat = decision.kind == DecisionKind::Answer
        && decision.self_help
        && already_shown(state, &choice.name);
    decision.answer_text = Some(if repeat {
        wording::already_shared(&intent.name)
    } else {
        choice.text
    });
    decision.answer = Some(choice.name);
    decision.repeat = repeat;
}

/// The text of the answer named `name` in `catalog`, if it still exists there.
pub fn answer_text<'a>(catalog: &'a Catalog, name: &str) -> Option<&'a str> {
    let (intent, rest) = name.split_once('/')?;
    let intent = catalog.intent(intent)?;
    if let Some((key, part)) = rest.split_once('/') {
        let persona = (key != DEFAULT_ANSWER).then_some(key);
        return intent
            .parts
            .iter()
            .find(|p| p.id == part && p.persona.as_deref() == persona)
            .map(|p| p.text.as_str());
    }
    let (key, number) = match rest.split_once('#') {
        Some((key, n)) => (key, Some(n.parse::<usize>().ok()?)),
        None => (rest, None),
    };
    let texts = intent.answers.get(key)?;
    let index = match (number, texts.len()) {
        (None, 1) => 0,
        (Some(n), len) if len > 1 && (1..=len).contains(&n) => n - 1,
        _ => return None,
    };
    texts.get(index).map(String::as_str)
}

/// The reply as stored: `full` without the catalog's `answer` text, and where the text was
/// (a byte offset). `(None, Some(0))` when the reply was the answer alone.
pub fn stored_reply(full: &str, answer: &str) -> (Option<String>, Option<usize>) {
    match full.find(answer).filter(|_| !answer.is_empty()) {
        Some(at) => {
            let rest = format!("{}{}", &full[..at], &full[at + answer.len()..]);
            ((!rest.is_empty()).then_some(rest), Some(at))
        }
        None => (Some(full.to_string()), None),
    }
}

/// The reply as the customer saw it: the stored sentences with the text of the answer `name`
/// put back where it was (`at`). A variant no longer in the catalog is said so in its place.
pub fn sent_reply(
    catalog: &Catalog,
    name: Option<&str>,
    stored: Option<&str>,
    at: Option<usize>,
) -> Option<String> {
    let Some(at) = at else {
        return stored.map(str::to_string);
    };
    let name = name.unwrap_or("?");
    let answer = answer_text(catalog, name).map_or_else(
        || format!("[the answer {name} is no longer in the catalog]"),
        str::to_string,
    );
    let stored = stored.unwrap_or("");
    let at = if stored.is_char_boundary(at) {
        at
    } else {
        stored.len()
    };
    Some(format!("{}{answer}{}", &stored[..at], &stored[at..]))
}

#[cfg(test)]
#[path = "answers_tests.rs"]
mod tests;

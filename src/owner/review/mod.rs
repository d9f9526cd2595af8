//! `personabot review`: what the logged evidence says about each persona and about the catalog,
//! for the people who own the personas.
//!
//! [`build`] is pure: it reads interactions and tickets already loaded from the store and
//! returns a [`Review`]. [`render_text`] prints it as terminal tables, [`render_html`] as a
//! self-contained page with SVG charts (also served at `/review`), and the JSON form is the
//! `Review` itself, serialised.
//!
//! Definitions (also in the README):
//! - a persona's *messages* are the logged messages the bot gave that persona (`-` for none);
//! - *decided* messages leave out those a conversation added to its already open ticket: those
//!   were not the bot's decision;
//! - *self-help answers*: answers that offered "That helped" / "Talk to a human" (greetings,
//!   thanks and confirmations do not; records from before answers stored their buttons count
//!   unless the current catalog marks the intent `feedback = false`);
//! - *resolution rate*: self-help answers the customer marked "That helped", over self-help
//!   answers shown (rating a greeting never counts);
//! - *escalation after an answer*: self-help answers followed by a ticket on the same intent
//!   (the ticket names the answer as the interaction that led to it) without a "not helped"
//!   rating, over self-help answers shown; "not helped" is counted apart;
//! - *escalation rate*: tickets opened for the persona (by a message, "Talk to a human" or "that
//!   didn't help"), over its decided messages; *high priority*: those marked `"priority":
//!   "high"`;
//! - *A/B answers*: each variant's helped rate (over self-help answers shown) with its 95%
//!   Wilson interval; a variant is *better with confidence* when a two-proportion z-test against
//!   it passes at 95% (see `stats.rs` for why that test);
//! - *clarify* and *fallback rates*: decided messages routed so, over decided messages;
//! - *unclear* messages: decided messages with no intent, a clarifying question, or an intent
//!   below the low-confidence line.

mod answers;
mod html;
mod keywords;
mod model;
pub mod service;
mod stats;
mod text;
mod text_answers;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use html::{esc as escape_html, render_html, HtmlTarget};
pub use model::*;
pub use text::render_text;

pub(crate) use answers::offered_buttons;
pub use answers::split_variant;
pub use stats::{compare, two_proportion, wilson, Arm, ZTest};

use answers::{escalated_answers, experiments, rating, AnswerCounts};
use keywords::{relabels, shared_keywords, silent_keywords, unclear_messages};

use crate::catalog::Catalog;
use crate::core::route::DecisionKind;
use crate::store::{Interaction, Priority, ScoredId, Ticket};

/// The id shown for messages without a persona or intent.
pub(crate) const NONE_ID: &str = "-";

const DAY_MS: u64 = 86_400_000;

/// Why a review cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("unknown persona `{0}`: not in the catalog (use `-` for messages without a persona)")]
    UnknownPersona(String),
    #[error("invalid --since `{0}`: give an age such as 30d, 12h or 2weeks")]
    InvalidSince(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What to review.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    /// Only messages at or after this time (ms since the epoch).
    pub since_ms: Option<u64>,
    /// Only this persona (`-`: messages without one).
    pub persona: Option<String>,
    /// The review's "now" (ms since the epoch): the end of the window and of the weekly trend.
    pub now_ms: u64,
    /// An intent below this confidence counts as low-confidence.
    pub low_confidence: f64,
    /// Rows kept in each ranked list (intents per persona, terms, shared keywords, relabels).
    pub top: usize,
    /// Example messages kept per item.
    pub examples: usize,
}

impl ReviewOptions {
    /// The interactions a review reads: those since `since_ms` (tickets are read whole).
    pub fn window(&self) -> crate::store::InteractionFilter {
        crate::store::InteractionFilter {
            since_ms: self.since_ms,
            ..Default::default()
        }
    }
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            since_ms: None,
            persona: None,
            now_ms: crate::store::now_ms(),
            low_confidence: 0.65,
            top: 10,
            examples: 3,
        }
    }
}

/// The cutoff (ms since the epoch) of an age such as `30d` before `now_ms`.
pub fn since_cutoff(age: &str, now_ms: u64) -> Result<u64, ReviewError> {
    let d = humantime::parse_duration(age.trim())
        .map_err(|_| ReviewError::InvalidSince(age.to_string()))?;
    Ok(now_ms.saturating_sub(d.as_millis() as u64))
}

/// The Monday (days since the epoch) starting the week of `ms` (UTC).
fn week_start_day(ms: u64) -> i64 {
    let day = (ms / DAY_MS) as i64;
    // 1970-01-01 was a Thursday: Monday is three days earlier.
    (day + 3).div_euclid(7) * 7 - 3
}

fn date_of_day(day: i64) -> String {
    jiff::Timestamp::from_second(day * 86_400)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_else(|_| day.to_string())
}

/// Longest weekly trend kept (two years).
const MAX_WEEKS: usize = 104;

fn id_of(scored: &Option<ScoredId>) -> &str {
    scored.as_ref().map_or(NONE_ID, |s| s.id.as_str())
}

fn ratio(n: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

fn ranked(counts: HashMap<String, usize>, total: usize, top: usize) -> Vec<Count> {
    let mut list: Vec<Count> = counts
        .into_iter()
        .map(|(id, messages)| Count {
            share: ratio(messages, total).unwrap_or(0.0),
            id,
            messages,
        })
        .collect();
    list.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.id.cmp(&b.id)));
    list.truncate(top);
    list
}

/// The first `n` different texts of `messages`.
fn distinct_texts<'a>(messages: impl Iterator<Item = &'a Interaction>, n: usize) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    for i in messages {
        if texts.len() == n {
            break;
        }
        if !texts.contains(&i.text) {
            texts.push(i.text.clone());
        }
    }
    texts
}

/// Messages that joined a ticket already open in their conversation (ids).
fn joined_open_ticket(interactions: &[&Interaction]) -> HashSet<u64> {
    let mut by_conversation: BTreeMap<(&str, &str), Vec<&Interaction>> = BTreeMap::new();
    for i in interactions {
        by_conversation
            .entry((&i.channel, &i.conversation))
            .or_default()
            .push(i);
    }
    let mut joined = HashSet::new();
    for (_, mut turns) in by_conversation {
        turns.sort_by_key(|i| i.id);
        let mut seen = HashSet::new();
        for i in turns {
            if let Some(t) = i.ticket {
                if !seen.insert(t) {
                    joined.insert(i.id);
                }
            }
        }
    }
    joined
}

#[derive(Default)]
struct PersonaTally {
    messages: usize,
    weekly: Vec<usize>,
    decided: usize,
    answers: usize,
    /// The self-help answers (those that offered the buttons).
    self_help: AnswerCounts,
    tickets: usize,
    high_priority: usize,
    clarify: usize,
    fallback: usize,
    intents: HashMap<String, usize>,
    variants: BTreeMap<String, AnswerCounts>,
}

/// Builds the review of `interactions` and `tickets` (any order; those outside the window are
/// skipped) against `catalog`.
pub fn build(
    catalog: &Catalog,
    interactions: &[Interaction],
    tickets: &[Ticket],
    options: &ReviewOptions,
) -> Result<Review, ReviewError> {
    if let Some(p) = &options.persona {
        if p != NONE_ID && catalog.persona(p).is_none() {
            return Err(ReviewError::UnknownPersona(p.clone()));
        }
    }
    let in_window = |at: u64| options.since_ms.is_none_or(|s| at >= s) && at <= options.now_ms;
    let all: Vec<&Interaction> = interactions.iter().filter(|i| in_window(i.at_ms)).collect();
    let joined = joined_open_ticket(&all);
    let wanted = |persona: &str| options.persona.as_deref().is_none_or(|p| p == persona);
    let selected: Vec<&Interaction> = all
        .iter()
        .copied()
        .filter(|i| wanted(id_of(&i.persona)))
        .collect();

    // Weeks: from the window's start (or the oldest message) to now.
    let first_ms = options
        .since_ms
        .or_else(|| all.iter().map(|i| i.at_ms).min())
        .unwrap_or(options.now_ms);
    let last_week = week_start_day(options.now_ms);
    let first_week = week_start_day(first_ms).max(last_week - 7 * (MAX_WEEKS as i64 - 1));
    let week_count = ((last_week - first_week) / 7 + 1) as usize;
    let weeks: Vec<String> = (0..week_count)
        .map(|w| date_of_day(first_week + 7 * w as i64))
        .collect();

    let escalated = escalated_answers(catalog, &all, tickets);
    let mut tallies: BTreeMap<String, PersonaTally> = BTreeMap::new();
    let mut by_intent: BTreeMap<String, AnswerCounts> = BTreeMap::new();
    let mut variants: BTreeMap<String, AnswerCounts> = BTreeMap::new();
    let new_tally = || PersonaTally {
        weekly: vec![0; week_count],
        ..Default::default()
    };
    for i in &selected {
        let t = tallies
            .entry(id_of(&i.persona).to_string())
            .or_insert_with(new_tally);
        t.messages += 1;
        let week = (week_start_day(i.at_ms) - first_week).div_euclid(7);
        if let Some(slot) = usize::try_from(week).ok().and_then(|w| t.weekly.get_mut(w)) {
            *slot += 1;
        }
        if joined.contains(&i.id) {
            continue;
        }
        t.decided += 1;
        *t.intents.entry(id_of(&i.intent).to_string()).or_insert(0) += 1;
        match i.route.kind {
            DecisionKind::Answer => {
                t.answers += 1;
                // Only answers that offered "That helped" / "Talk to a human" are self-help:
                // a greeting's rating never counts.
                if offered_buttons(catalog, i) {
                    let (helped, escalated) = (rating(i), escalated.contains(&i.id));
                    t.self_help.add(helped, escalated);
                    by_intent
                        .entry(id_of(&i.intent).to_string())
                        .or_default()
                        .add(helped, escalated);
                    if let Some(variant) = &i.route.answer {
                        for counts in [
                            t.variants.entry(variant.clone()).or_default(),
                            variants.entry(variant.clone()).or_default(),
                        ] {
                            counts.add(helped, escalated);
                        }
                    }
                }
            }
            DecisionKind::Clarify => t.clarify += 1,
            DecisionKind::Fallback => t.fallback += 1,
            DecisionKind::Ticket => {}
        }
    }
    let mut teams: BTreeMap<&str, TeamTickets> = BTreeMap::new();
    for ticket in tickets
        .iter()
        .filter(|t| in_window(t.created_ms) && wanted(id_of(&t.persona)))
    {
        let high = usize::from(ticket.priority == Priority::High);
        let t = tallies
            .entry(id_of(&ticket.persona).to_string())
            .or_insert_with(new_tally);
        t.tickets += 1;
        t.high_priority += high;
        let team = teams.entry(&ticket.team).or_insert_with(|| TeamTickets {
            team: ticket.team.clone(),
            tickets: 0,
            high_priority: 0,
        });
        team.tickets += 1;
        team.high_priority += high;
    }
    let mut teams: Vec<TeamTickets> = teams.into_values().collect();
    teams.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.team.cmp(&b.team)));
    let mut answers_by_intent: Vec<IntentAnswers> = by_intent
        .into_iter()
        .map(|(intent, counts)| counts.intent(intent))
        .collect();
    answers_by_intent.sort_by(|a, b| b.answers.cmp(&a.answers).then(a.intent.cmp(&b.intent)));

    let mut personas: Vec<PersonaReview> = tallies
        .into_iter()
        .map(|(id, t)| {
            let persona = catalog.persona(&id);
            let mut variants: Vec<VariantReview> = t
                .variants
                .into_iter()
                .map(|(variant, counts)| counts.variant(variant))
                .collect();
            variants.sort_by(|a, b| b.shown.cmp(&a.shown).then(a.variant.cmp(&b.variant)));
            PersonaReview {
                name: persona.map_or_else(
                    || {
                        if id == NONE_ID {
                            "(no persona)".to_string()
                        } else {
                            format!("{id} (not in the catalog)")
                        }
                    },
                    |p| p.name.clone(),
                ),
                owner: persona.map(|p| p.owner.clone()).unwrap_or_default(),
                share: ratio(t.messages, all.len()).unwrap_or(0.0),
                weekly: t.weekly,
                resolution_rate: ratio(t.self_help.helped, t.self_help.shown),
                escalation_after_answer_rate: ratio(t.self_help.escalated, t.self_help.shown),
                escalation_rate: ratio(t.tickets, t.decided),
                clarify_rate: ratio(t.clarify, t.decided),
                fallback_rate: ratio(t.fallback, t.decided),
                top_intents: ranked(t.intents, t.decided, options.top),
                variants,
                messages: t.messages,
                decided: t.decided,
                answers: t.answers,
                self_help_answers: t.self_help.shown,
                helped: t.self_help.helped,
                not_helped: t.self_help.not_helped,
                escalated_after_answer: t.self_help.escalated,
                tickets: t.tickets,
                high_priority: t.high_priority,
                clarify: t.clarify,
                fallback: t.fallback,
                id,
            }
        })
        .collect();
    personas.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.id.cmp(&b.id)));

    let decided: Vec<&Interaction> = selected
        .iter()
        .copied()
        .filter(|i| !joined.contains(&i.id))
        .collect();
    Ok(Review {
        generated_ms: options.now_ms,
        since_ms: options.since_ms,
        until_ms: options.now_ms,
        persona_filter: options.persona.clone(),
        messages: all.len(),
        selected_messages: selected.len(),
        weeks,
        personas,
        unclear: unclear_messages(catalog, &decided, options),
        silent_keywords: silent_keywords(catalog, &selected, options.persona.as_deref()),
        shared_keywords: shared_keywords(&selected, options.top),
        relabels: relabels(&selected, options),
        answers_by_intent,
        teams,
        experiments: experiments(&variants),
        service: service::service_review(
            &tickets
                .iter()
                .filter(|t| in_window(t.created_ms) && wanted(id_of(&t.persona)))
                .collect::<Vec<_>>(),
            &catalog.teams,
            NONE_ID,
            options.now_ms,
        ),
    })
}

/// Reads the window's interactions and tickets from `store` and [`build`]s their review.
/// (`personabot review --shard` merges several stores the same way, in the CLI.)
pub(crate) fn from_store(
    store: &crate::store::Store,
    catalog: &Catalog,
    options: &ReviewOptions,
) -> Result<Review, ReviewError> {
    let interactions = store.interactions(&options.window())?;
    let tickets = store.tickets(None, None)?;
    build(catalog, &interactions, &tickets, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_utc() {
        // (date, Monday of its week)
        let table = [
            ("1970-01-01T12:00:00Z", "1969-12-29"),
            ("2026-11-29T23:59:59Z", "2026-11-23"), // a Sunday
            ("2026-11-30T00:00:00Z", "2026-11-30"), // a Monday
            ("2026-11-25T08:00:00Z", "2026-11-23"),
        ];
        for (at, monday) in table {
            let ms = at.parse::<jiff::Timestamp>().unwrap().as_millisecond() as u64;
            assert_eq!(date_of_day(week_start_day(ms)), monday, "{at}");
        }
    }

    #[test]
    fn since_cutoff_parses_ages_and_refuses_nonsense() {
        let now = 100 * DAY_MS;
        assert_eq!(since_cutoff("30d", now).unwrap(), 70 * DAY_MS);
        assert_eq!(since_cutoff("1week", now).unwrap(), 93 * DAY_MS);
        assert_eq!(since_cutoff("1000d", now).unwrap(), 0);
        assert!(matches!(
            since_cutoff("soon", now),
            Err(ReviewError::InvalidSince(_))
        ));
    }
}

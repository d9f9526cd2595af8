//! The pure decision: the persona for a turn, the route for a message (answer, ticket,
//! clarifying question or fallback), and the conversation state after it.

use super::{Decision, DecisionKind, Pick, Thresholds, FALLBACK_TEAM};
use crate::core::classify::{confidence, Classification, Score};
use crate::core::conversation::{AwaitingFeedback, ConversationState, OpenTicket};
use crate::core::model::{Catalog, RouteKind};

fn pick(scores: &[Score], ids: impl Fn(u32) -> String) -> Option<Pick> {
    let top = scores.first()?;
    let margin = match scores.get(1) {
        Some(second) if top.score > 0.0 => f64::from((top.score - second.score) / top.score),
        _ => 1.0,
    };
    Some(Pick {
        index: top.index,
        id: ids(top.index),
        confidence: confidence(top.score),
        margin,
    })
}

/// The persona for this turn, from the conversation's accumulated evidence plus this message.
pub fn choose_persona(
    catalog: &Catalog,
    thresholds: &Thresholds,
    classification: &Classification,
    state: &ConversationState,
) -> Option<Pick> {
    let mut totals: Vec<Score> = catalog
        .personas
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let past = state.persona_scores.get(&p.id).copied().unwrap_or(0.0);
            let now: f32 = classification
                .personas
                .iter()
                .filter(|s| s.index as usize == i)
                .map(|s| s.score)
                .sum();
            Score {
                index: i as u32,
                score: past + now,
            }
        })
        .filter(|s| s.score > 0.0)
        .collect();
    totals.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    let best = pick(&totals, |i| catalog.personas[i as usize].id.clone())?;
    let threshold = catalog.personas[best.index as usize]
        .threshold
        .unwrap_or(thresholds.persona_threshold);
    (best.confidence >= threshold && best.margin >= thresholds.margin).then_some(best)
}

/// Whether two intents hand off the same way for `persona`: both tickets for one team, or both
/// escalations (which find their team the same way). Asking the customer to choose between
/// them changes nothing about who picks the conversation up.
fn same_handoff(catalog: &Catalog, persona: Option<&str>, a: u32, b: u32) -> bool {
    let rule = |i: u32| catalog.intents[i as usize].route_for(persona);
    let (a, b) = (rule(a), rule(b));
    match (a.kind, b.kind) {
        (RouteKind::Ticket, RouteKind::Ticket) => a.team == b.team,
        (RouteKind::Escalate, RouteKind::Escalate) => true,
        _ => false,
    }
}

/// The team the customer names in `text_in` (noted in `reason`), else `team`.
fn named_or(catalog: &Catalog, text_in: &str, team: String, reason: &mut String) -> String {
    match catalog.team_names.requested(text_in) {
        Some(named) => {
            reason.push_str(&format!("; the customer asked for the {named} team"));
            named.to_string()
        }
        None => team,
    }
}

/// The catalog index of the option a reply to a clarifying question picks.
fn chosen_option(
    catalog: &Catalog,
    thresholds: &Thresholds,
    text_in: &str,
    classification: &Classification,
    choices: &[String],
) -> Option<u32> {
    let n = super::choice::chosen(catalog, text_in, choices, classification, thresholds.margin)?;
    let index = catalog.intents.iter().position(|i| i.id == choices[n])?;
    u32::try_from(index).ok()
}

/// Decides the route for one message. Pure: the caller applies the result with [`advance`].
///
/// While tickets are open, a message whose confident intent is a ticket for a team with no
/// open ticket (or asks for a person of such a team) opens a separate ticket for that team (one
/// ticket per need); anything else joins
/// the open ticket of its intent's team, else the most recent one.
pub fn decide(
    catalog: &Catalog,
    thresholds: &Thresholds,
    text_in: &str,
    classification: &Classification,
    state: &ConversationState,
) -> Decision {
    let mut decision = route(catalog, thresholds, text_in, classification, state);
    decision.frustrated = super::tone::frustrated(text_in);
    if let Some(newest) = &state.open_ticket {
        follow_up(catalog, state, newest, &mut decision);
    }
    decision
}

/// A message in a conversation with open tickets: a separate ticket for a new need, else it
/// joins a ticket.
fn follow_up(
    catalog: &Catalog,
    state: &ConversationState,
    newest: &OpenTicket,
    decision: &mut Decision,
) {
    let persona = decision.persona.as_ref().map(|p| p.id.clone());
    let rule = decision
        .intent
        .as_ref()
        .and_then(|i| catalog.intents.get(i.index as usize))
        .filter(|i| decision.intent.as_ref().is_some_and(|p| p.id == i.id))
        .map(|i| i.route_for(persona.as_deref()));
    let new_need = decision.kind == DecisionKind::Ticket
        && decision.joins_ticket.is_none()
        // A ticket route, or a request for a person that names (or is about) another team.
        && rule
            .as_ref()
            .is_some_and(|r| matches!(r.kind, RouteKind::Ticket | RouteKind::Escalate));
    let team = match (&decision.team, &rule) {
        (Some(team), _) if new_need => Some(team.clone()),
        (_, Some(rule)) => Some(rule.team.clone()),
        _ => None,
    };
    let same_team = team.as_deref().and_then(|t| state.open_ticket_of(t));
    if new_need && same_team.is_none() {
        decision.reason.push_str(&format!(
            "; a separate ticket beside #{} for {}",
            newest.id, newest.team
        ));
        decision.beside = Some(newest.clone());
        return;
    }
    let open = same_team.unwrap_or(newest).clone();
    decision.kind = DecisionKind::Ticket;
    decision.team = Some(open.team.clone());
    decision.reason = format!("follow-up on open ticket #{}", open.id);
    decision.joins_ticket = Some(open);
    decision.answer = None;
    decision.answer_text = None;
    decision.choices.clear();
    decision.subject_intent = None;
    decision.persona_only = false;
    decision.self_help = false;
}

/// The route for one message as if no ticket were open.
fn route(
    catalog: &Catalog,
    thresholds: &Thresholds,
    text_in: &str,
    classification: &Classification,
    state: &ConversationState,
) -> Decision {
    let persona = choose_persona(catalog, thresholds, classification, state);
    let persona_id = persona.as_ref().map(|p| p.id.as_str());
    let mut decision = Decision {
        persona: persona.clone(),
        intent: None,
        kind: DecisionKind::Fallback,
        team: None,
        answer: None,
        answer_text: None,
        choices: Vec::new(),
        reason: String::new(),
        subject_intent: None,
        joins_ticket: None,
        persona_only: false,
        self_help: false,
        frustrated: false,
        beside: None,
        repeat: false,
    };

    // Candidates past their threshold, best first.
    let candidates: Vec<Score> = classification
        .intents
        .iter()
        .copied()
        .filter(|s| {
            let intent = &catalog.intents[s.index as usize];
            confidence(s.score) >= intent.threshold.unwrap_or(thresholds.intent_threshold)
        })
        .collect();
    let intent_id = |i: u32| catalog.intents[i as usize].id.clone();

    // An answer to a clarifying question.
    let mut not_asked: Option<String> = None;
    let chosen = (!state.pending_choices.is_empty())
        .then(|| {
            chosen_option(
                catalog,
                thresholds,
                text_in,
                classification,
                &state.pending_choices,
            )
        })
        .flatten();
    let top = if let Some(index) = chosen {
        decision.reason = "chosen from a clarifying question".into();
        Some(Pick {
            index,
            id: intent_id(index),
            confidence: 1.0,
            margin: 1.0,
        })
    } else {
        let top_priority = candidates
            .iter()
            .map(|s| catalog.intents[s.index as usize].priority)
            .max();
        let tier: Vec<Score> = candidates
            .iter()
            .copied()
            .filter(|s| Some(catalog.intents[s.index as usize].priority) == top_priority)
            .collect();
        let best = pick(&tier, intent_id);
        if let (Some(best), Some(second)) = (&best, tier.get(1)) {
            let close = best.margin < thresholds.margin;
            if close && same_handoff(catalog, persona_id, best.index, second.index) {
                // Asking which one is needless: both hand off to the same team.
                not_asked = Some(format!(
                    " (close to {}, which goes there too: no need to ask)",
                    intent_id(second.index)
                ));
            } else if close {
                decision.intent = Some(best.clone());
                decision.kind = DecisionKind::Clarify;
                decision.choices = vec![best.id.clone(), intent_id(second.index)];
                decision.reason = format!(
                    "ambiguous between {} and {} (lead {:.2} < margin {:.2})",
                    best.id,
                    intent_id(second.index),
                    best.margin,
                    thresholds.margin
                );
                return decision;
            }
        }
        best
    };

    let Some(top) = top else {
        // Nothing past its threshold.
        let says_who = classification.personas.first().is_some_and(|top| {
            let persona = &catalog.personas[top.index as usize];
            confidence(top.score) >= persona.threshold.unwrap_or(thresholds.persona_threshold)
        });
        if says_who {
            decision.kind = DecisionKind::Fallback;
            decision.reason = "told us who they are, not yet what they need".into();
            decision.persona_only = true;
            return decision;
        }
        if state.misses + 1 >= thresholds.max_misses {
            decision.kind = DecisionKind::Ticket;
            decision.reason = format!(
                "no intent recognised in {} messages in a row",
                state.misses + 1
            );
            decision.team = Some(named_or(
                catalog,
                text_in,
                FALLBACK_TEAM.into(),
                &mut decision.reason,
            ));
        } else {
            decision.kind = DecisionKind::Fallback;
            decision.reason = "no intent recognised; asked to rephrase".into();
        }
        return decision;
    };

    let intent = &catalog.intents[top.index as usize];
    let rule = intent.route_for(persona_id);
    decision.intent = Some(top.clone());
    let variant = intent.answer_for(persona_id);
    match rule.kind {
        RouteKind::Answer => {
            decision.kind = DecisionKind::Answer;
            decision.subject_intent = Some(intent.id.clone());
            if decision.reason.is_empty() {
                decision.reason = format!("self-help answer for {}", intent.id);
            }
        }
        RouteKind::Ticket => {
            decision.kind = DecisionKind::Ticket;
            decision.team = Some(rule.team.clone());
            decision.subject_intent = Some(intent.id.clone());
            decision.reason = match persona_id {
                Some(p) if intent.route_overrides.contains_key(p) => {
                    format!("{} from {p} goes to {}", intent.id, rule.team)
                }
                _ => format!("{} goes to {}", intent.id, rule.team),
            };
            if let Some(note) = &not_asked {
                decision.reason.push_str(note);
            }
        }
        RouteKind::Fallback => {
            // Out of scope: the answer says what the bot can help with. Not a miss (the bot
            // understood), so off-topic chatter never becomes a ticket.
            decision.kind = DecisionKind::Fallback;
            decision.reason = format!("{} is outside what the bot handles", intent.id);
        }
        RouteKind::Escalate => {
            // The team of the conversation's intent: another intent in this message, else the
            // answer being rated, else the last intent; else the rule's own team.
            let other = candidates
                .iter()
                .map(|s| &catalog.intents[s.index as usize])
                .find(|i| i.route_for(persona_id).kind != RouteKind::Escalate);
            let subject = other
                .map(|i| i.id.clone())
                .or_else(|| state.awaiting_feedback.as_ref().map(|a| a.intent.clone()))
                .or_else(|| state.last_intent.clone())
                .filter(|id| catalog.intent(id).is_some());
            let team = subject
                .as_deref()
                .and_then(|id| catalog.intent(id))
                .map(|i| i.route_for(persona_id).team)
                .unwrap_or_else(|| rule.team.clone());
            decision.kind = DecisionKind::Ticket;
            decision.reason = match (&subject, &state.awaiting_feedback) {
                (Some(s), Some(a)) if *s == a.intent => {
                    format!(
                        "{} after the self-help answer {} for {s}",
                        intent.id, a.variant
                    )
                }
                (Some(s), _) => format!("{} about {s}", intent.id),
                (None, _) => format!("{} with no earlier topic", intent.id),
            };
            // The customer named the team they want: it takes the ticket.
            decision.team = Some(named_or(catalog, text_in, team, &mut decision.reason));
            decision.subject_intent = subject;
            return decision; // an escalation shows no answer text
        }
    }
    // The persona's first text, whole: `choose_answer` gives the conversation its own.
    if let Some((key, answer_text)) = variant.and_then(|(k, texts)| Some((k, texts.first()?))) {
        decision.answer = Some(format!("{}/{key}", intent.id));
        decision.answer_text = Some(answer_text.clone());
        decision.self_help = intent.feedback && decision.kind == DecisionKind::Answer;
    }
    decision
}

/// Turns a decision into a ticket (the customer asked for a person outright): the team the
/// message `text_in` names, else the team of its intent for the persona, else `support`. A
/// message joining an open ticket stays as it is.
pub fn force_ticket(catalog: &Catalog, text_in: &str, decision: &mut Decision) {
    if decision.joins_ticket.is_some() {
        return;
    }
    if decision.kind == DecisionKind::Ticket {
        // Only a team other than the ticket's own is worth a note.
        let current = decision.team.clone().unwrap_or_default();
        let mut note = String::new();
        let team = named_or(catalog, text_in, current.clone(), &mut note);
        if team != current {
            decision.team = Some(team);
            decision.reason.push_str(&note);
        }
        return;
    }
    let persona = decision.persona.as_ref().map(|p| p.id.as_str());
    let intent = decision.intent.as_ref().and_then(|i| catalog.intent(&i.id));
    let team = intent.map_or_else(|| FALLBACK_TEAM.to_string(), |i| i.route_for(persona).team);
    decision.subject_intent = intent.map(|i| i.id.clone());
    decision.reason = match intent {
        Some(i) => format!("customer asked for a person about {}", i.id),
        None => "customer asked for a person".into(),
    };
    decision.team = Some(named_or(catalog, text_in, team, &mut decision.reason));
    decision.kind = DecisionKind::Ticket;
    decision.choices.clear();
    decision.answer = None;
    decision.answer_text = None;
    decision.persona_only = false;
}

/// The state after `decision`, given the interaction id it was stored under and the ticket it
/// opened, if any.
pub fn advance(
    state: &ConversationState,
    catalog: &Catalog,
    classification: &Classification,
    decision: &Decision,
    interaction: u64,
    opened_ticket: Option<OpenTicket>,
) -> ConversationState {
    let mut next = state.clone();
    next.turns += 1;
    next.accumulate_personas(
        classification
            .personas
            .iter()
            .map(|s| (catalog.personas[s.index as usize].id.as_str(), s.score)),
    );
    next.misses = match decision.kind {
        DecisionKind::Fallback if decision.persona_only || decision.intent.is_some() => {
            state.misses
        }
        DecisionKind::Fallback => state.misses + 1,
        _ => 0,
    };
    next.pending_choices = decision.choices.clone();
    next.awaiting_feedback = match (decision.kind, &decision.answer, &decision.intent) {
        (DecisionKind::Answer, Some(variant), Some(intent)) if decision.offers_feedback() => {
            Some(AwaitingFeedback {
                interaction,
                intent: intent.id.clone(),
                variant: variant.clone(),
            })
        }
        // A pointer to an answer already shown is not an answer to rate.
        _ if decision.repeat => None,
        // A greeting or a thank-you leaves the answer being rated as it was.
        (DecisionKind::Answer, Some(_), Some(_)) => state.awaiting_feedback.clone(),
        _ => None,
    };
    if let Some(subject) = &decision.subject_intent {
        next.last_intent = Some(subject.clone());
    }
    next.frustrated |= decision.frustrated;
    if decision.offers_feedback() {
        if let Some(answer) = &decision.answer {
            next.note_shown(answer);
        }
    }
    if let Some(ticket) = opened_ticket {
        next.last_ticket = Some(ticket.id);
        next.open(ticket);
    }
    next
}

//! The routing decision, pure: from a message's scores, the conversation so far and the catalog,
//! choose a self-help answer, a ticket for a team, a clarifying question or a fallback.

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, RouteKind};
use crate::classify::{confidence, Classification, Score};
use crate::conversation::{AwaitingFeedback, ConversationState, OpenTicket};
use crate::text;

/// Thresholds and limits for picking persona and intent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Minimum intent confidence, unless the intent sets its own.
    pub intent_threshold: f64,
    /// Minimum persona confidence, unless the persona sets its own.
    pub persona_threshold: f64,
    /// Minimum relative lead of the best candidate over the runner-up, (s1 - s2) / s1. Below it,
    /// two intents are ambiguous (clarify) and two personas are undecided (no persona).
    pub margin: f64,
    /// Consecutive misses before a fallback becomes a ticket for `support`.
    pub max_misses: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            intent_threshold: 0.5,
            persona_threshold: 0.5,
            margin: 0.15,
            max_misses: 2,
        }
    }
}

/// The team that receives tickets nothing else claims.
pub const FALLBACK_TEAM: &str = "support";

/// The route kinds of the decision JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    Answer,
    Ticket,
    Clarify,
    Fallback,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Ticket => "ticket",
            Self::Clarify => "clarify",
            Self::Fallback => "fallback",
        }
    }
}

/// A chosen persona or intent.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub index: u32,
    pub id: String,
    pub confidence: f64,
    /// Relative lead over the runner-up, in 0..=1 (1 when there is none).
    pub margin: f64,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub persona: Option<Pick>,
    pub intent: Option<Pick>,
    pub kind: DecisionKind,
    pub team: Option<String>,
    /// The answer variant, `<intent>/<persona|default>`.
    pub answer: Option<String>,
    /// The answer text for the variant.
    pub answer_text: Option<String>,
    /// Intent ids offered when clarifying.
    pub choices: Vec<String>,
    /// Why this route, in words an agent reads on the ticket.
    pub reason: String,
    /// The intent a ticket is about (for an escalation: the conversation's intent).
    pub subject_intent: Option<String>,
    /// A ticket already owns the conversation: the message joins it instead of opening one.
    pub joins_ticket: Option<OpenTicket>,
    /// The message said who the customer is but not what they want: a fallback that is not a
    /// miss.
    pub persona_only: bool,
}

impl Decision {
    /// A self-help answer the customer can rate: it gets the "That helped" / "Talk to a human"
    /// buttons on every channel.
    pub fn offers_feedback(&self) -> bool {
        self.kind == DecisionKind::Answer && self.answer_text.is_some()
    }
}

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

/// A customer's answer to a clarifying question: "2", "second", or the intent's name or id.
fn chosen_option(catalog: &Catalog, text_in: &str, choices: &[String]) -> Option<u32> {
    let said = text::words(text_in).join(" ");
    let ordinal = [
        ["1", "first", "one"],
        ["2", "second", "two"],
        ["3", "third", "three"],
    ];
    for (n, choice) in choices.iter().enumerate() {
        let index = catalog.intents.iter().position(|i| &i.id == choice)?;
        let intent = &catalog.intents[index];
        let by_number = ordinal.get(n).is_some_and(|words| {
            words.contains(&said.as_str()) || said == format!("the {}", words[1])
        });
        let by_name = said == text::words(&intent.name).join(" ")
            || said == text::words(&intent.id).join(" ");
        if by_number || by_name {
            return Some(index as u32);
        }
    }
    None
}

/// Decides the route for one message. Pure: the caller applies the result with [`advance`].
pub fn decide(
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

    // A ticket owns the conversation: the message joins it.
    if let Some(open) = &state.open_ticket {
        decision.intent = pick(&candidates, intent_id);
        decision.kind = DecisionKind::Ticket;
        decision.team = Some(open.team.clone());
        decision.reason = format!("follow-up on open ticket #{}", open.id);
        decision.joins_ticket = Some(open.clone());
        return decision;
    }

    // An answer to a clarifying question.
    let chosen = (!state.pending_choices.is_empty())
        .then(|| chosen_option(catalog, text_in, &state.pending_choices))
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
            if best.margin < thresholds.margin {
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
            decision.team = Some(FALLBACK_TEAM.into());
            decision.reason = format!(
                "no intent recognised in {} messages in a row",
                state.misses + 1
            );
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
            decision.team = Some(team);
            decision.subject_intent = subject;
            return decision; // an escalation shows no answer text
        }
    }
    if let Some((key, answer_text)) = variant {
        decision.answer = Some(format!("{}/{key}", intent.id));
        decision.answer_text = Some(answer_text.to_string());
    }
    decision
}

/// Turns a decision into a ticket (the customer asked for a person outright): the team of its
/// intent for the persona, else `support`. A message joining an open ticket stays as it is.
pub fn force_ticket(catalog: &Catalog, decision: &mut Decision) {
    if decision.kind == DecisionKind::Ticket || decision.joins_ticket.is_some() {
        return;
    }
    let persona = decision.persona.as_ref().map(|p| p.id.as_str());
    let intent = decision.intent.as_ref().and_then(|i| catalog.intent(&i.id));
    decision.team =
        Some(intent.map_or_else(|| FALLBACK_TEAM.to_string(), |i| i.route_for(persona).team));
    decision.subject_intent = intent.map(|i| i.id.clone());
    decision.reason = match intent {
        Some(i) => format!("customer asked for a person about {}", i.id),
        None => "customer asked for a person".into(),
    };
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
        DecisionKind::Fallback if decision.persona_only => state.misses,
        DecisionKind::Fallback => state.misses + 1,
        _ => 0,
    };
    next.pending_choices = decision.choices.clone();
    next.awaiting_feedback = match (decision.kind, &decision.answer, &decision.intent) {
        (DecisionKind::Answer, Some(variant), Some(intent)) => Some(AwaitingFeedback {
            interaction,
            intent: intent.id.clone(),
            variant: variant.clone(),
        }),
        _ => None,
    };
    if let Some(subject) = &decision.subject_intent {
        next.last_intent = Some(subject.clone());
    }
    if let Some(ticket) = opened_ticket {
        next.last_ticket = Some(ticket.id);
        next.open_ticket = Some(ticket);
    }
    next
}

/// When the team will answer: its usual response time, or, outside its business hours, when
/// it is back.
fn team_availability(catalog: &Catalog, team: &str, now: jiff::Timestamp) -> String {
    let Some(t) = catalog.teams.get(team) else {
        return String::new();
    };
    if let Ok(Some(hours)) = crate::hours::BusinessHours::parse(&t.hours, &t.timezone) {
        if let Some(back) = hours.next_open_text(now) {
            return format!(
                " The team is offline right now (hours: {}); they'll pick this up when they're back, from {back}.",
                hours.describe()
            );
        }
    }
    if t.response_time.is_empty() {
        String::new()
    } else {
        format!(" They usually reply {}.", t.response_time)
    }
}

/// The text sent to the customer at `now`. `ticket` is the id of the ticket opened or joined.
/// `None` means stay silent (an agent has claimed the conversation).
pub fn reply_text(
    catalog: &Catalog,
    decision: &Decision,
    ticket: Option<u64>,
    now: jiff::Timestamp,
) -> Option<String> {
    if let Some(open) = &decision.joins_ticket {
        if open.claimed_by.is_some() {
            return None;
        }
        return Some(format!(
            "Thanks, I've added this to ticket #{} for our {} team. They'll reply here.",
            open.id,
            catalog.team_name(&open.team)
        ));
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(answer) = &decision.answer_text {
        parts.push(answer.clone());
    }
    match decision.kind {
        DecisionKind::Answer => {
            if parts.is_empty() {
                parts.push("I'm not sure how to help with that yet.".into());
            }
        }
        DecisionKind::Ticket => {
            let team = decision.team.as_deref().unwrap_or(FALLBACK_TEAM);
            let name = catalog.team_name(team);
            let when = team_availability(catalog, team, now);
            let id = ticket
                .map(|t| format!(" (ticket #{t})"))
                .unwrap_or_default();
            parts.push(format!(
                "I've passed this to our {name} team{id}; a person will pick it up from here.{when}"
            ));
        }
        DecisionKind::Clarify => {
            let mut text = String::from("I want to get this right. Which of these do you mean?");
            for (n, id) in decision.choices.iter().enumerate() {
                let name = catalog.intent(id).map_or(id.as_str(), |i| i.name.as_str());
                text.push_str(&format!("\n{}. {name}", n + 1));
            }
            text.push_str("\nReply with the number or the name.");
            parts.push(text);
        }
        DecisionKind::Fallback if decision.persona_only => parts.push(
            "Thanks, that helps me point you to the right answer. What can I help you with today?"
                .into(),
        ),
        DecisionKind::Fallback => parts.push(
            "Sorry, I didn't quite get that. Could you say it another way? For example: \
             \"how much does it cost?\", \"I can't log in\" or \"I want a refund\"."
                .into(),
        ),
    }
    Some(parts.join("\n\n"))
}

/// Classifies and routes one message as the first of a new conversation (no logging):
/// what `personabot classify` shows.
pub fn run_single(
    catalog: &Catalog,
    thresholds: &Thresholds,
    classifier: &crate::classify::Classifier,
    text_in: &str,
) -> (Decision, Classification) {
    let classification = classifier.classify(text_in);
    let decision = decide(
        catalog,
        thresholds,
        text_in,
        &classification,
        &ConversationState::default(),
    );
    (decision, classification)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{load_from_sources, CatalogSources};
    use crate::classify::Classifier;
    use crate::settings::Settings;
    use std::path::PathBuf;

    fn sources() -> CatalogSources {
        let file = |dir: &str, id: &str, text: &str| {
            (PathBuf::from(format!("{dir}/{id}.toml")), text.to_string())
        };
        CatalogSources {
            personas: vec![
                file("personas", "founder", "[keywords]\nfounder = 1.5\nstartup = 1.0\n"),
                file("personas", "enterprise", "[keywords]\nprocurement = 1.5\ncio = 1.5\n"),
            ],
            intents: vec![
                file(
                    "intents",
                    "pricing",
                    "name = \"Pricing\"\n[keywords]\nprice = 1.2\n\"how much\" = 1.0\n\
                     [route]\nkind = \"answer\"\nteam = \"sales\"\n\
                     [route.personas]\nenterprise = { kind = \"ticket\" }\n\
                     [answers]\ndefault = \"Plans start at $0.\"\nfounder = \"Startups get 50% off.\"\n",
                ),
                file(
                    "intents",
                    "refund",
                    "name = \"Refunds\"\n[keywords]\nrefund = 1.2\n[route]\nkind = \"ticket\"\nteam = \"billing\"\n\
                     [answers]\ndefault = \"Annual plans are refundable within 30 days.\"\n",
                ),
                file("intents", "tech", "[keywords]\nbroken = 1.5\n[answers]\ndefault = \"Try reloading.\"\n"),
                file(
                    "intents",
                    "human",
                    "priority = 10\n[keywords]\nhuman = 2.0\n[route]\nkind = \"escalate\"\n",
                ),
                file(
                    "intents",
                    "nohelp",
                    "priority = 10\n[keywords]\n\"didn't help\" = 2.0\n[route]\nkind = \"escalate\"\n",
                ),
                file(
                    "intents",
                    "greeting",
                    "priority = -10\n[keywords]\nhi = 1.0\n[answers]\ndefault = \"Hello!\"\n",
                ),
            ],
            intents_dir: PathBuf::from("intents"),
        }
    }

    struct Case {
        name: &'static str,
        messages: &'static [&'static str],
        kind: DecisionKind,
        intent: Option<&'static str>,
        persona: Option<&'static str>,
        team: Option<&'static str>,
        answer: Option<&'static str>,
    }

    /// Runs a conversation through decide/advance and returns the last decision.
    fn converse(catalog: &Catalog, classifier: &Classifier, messages: &[&str]) -> Decision {
        let thresholds = Thresholds::default();
        let mut state = ConversationState::default();
        let mut last = None;
        for (n, m) in messages.iter().enumerate() {
            let c = classifier.classify(m);
            let d = decide(catalog, &thresholds, m, &c, &state);
            let opened =
                (d.kind == DecisionKind::Ticket && d.joins_ticket.is_none()).then(|| OpenTicket {
                    id: n as u64 + 1,
                    team: d.team.clone().unwrap_or_default(),
                    claimed_by: None,
                });
            state = advance(&state, catalog, &c, &d, n as u64 + 1, opened);
            last = Some(d);
        }
        last.expect("at least one message")
    }

    #[test]
    fn routing_table() {
        let settings = Settings::built_in();
        let catalog = load_from_sources(sources(), &settings.teams).expect("test catalog is valid");
        let classifier = Classifier::new(&catalog).unwrap();
        use DecisionKind::*;
        let cases = [
            Case {
                name: "default pricing answer",
                messages: &["how much is it"],
                kind: Answer,
                intent: Some("pricing"),
                persona: None,
                team: None,
                answer: Some("pricing/default"),
            },
            Case {
                name: "persona-tailored answer",
                messages: &["founder here, how much?"],
                kind: Answer,
                intent: Some("pricing"),
                persona: Some("founder"),
                team: None,
                answer: Some("pricing/founder"),
            },
            Case {
                name: "sticky persona across turns",
                messages: &["I am a founder of a startup", "what's the price"],
                kind: Answer,
                intent: Some("pricing"),
                persona: Some("founder"),
                team: None,
                answer: Some("pricing/founder"),
            },
            Case {
                name: "persona override to a ticket",
                messages: &["procurement asks the price"],
                kind: Ticket,
                intent: Some("pricing"),
                persona: Some("enterprise"),
                team: Some("sales"),
                answer: Some("pricing/default"),
            },
            Case {
                name: "ticket with policy answer first",
                messages: &["refund please"],
                kind: Ticket,
                intent: Some("refund"),
                persona: None,
                team: Some("billing"),
                answer: Some("refund/default"),
            },
            Case {
                name: "human with no topic goes to support",
                messages: &["a human please"],
                kind: Ticket,
                intent: Some("human"),
                persona: None,
                team: Some("support"),
                answer: None,
            },
            Case {
                name: "human about pricing goes to sales",
                messages: &["how much", "human please"],
                kind: Ticket,
                intent: Some("human"),
                persona: None,
                team: Some("sales"),
                answer: None,
            },
            Case {
                name: "human and topic in one message",
                messages: &["human about a refund"],
                kind: Ticket,
                intent: Some("human"),
                persona: None,
                team: Some("billing"),
                answer: None,
            },
            Case {
                name: "did not help after an answer",
                messages: &["it is broken", "that didn't help"],
                kind: Ticket,
                intent: Some("nohelp"),
                persona: None,
                team: Some("support"),
                answer: None,
            },
            Case {
                name: "greeting loses to a real intent",
                messages: &["hi, it is broken"],
                kind: Answer,
                intent: Some("tech"),
                persona: None,
                team: None,
                answer: Some("tech/default"),
            },
            Case {
                name: "greeting alone",
                messages: &["hi"],
                kind: Answer,
                intent: Some("greeting"),
                persona: None,
                team: None,
                answer: Some("greeting/default"),
            },
            Case {
                name: "first miss asks to rephrase",
                messages: &["blorp"],
                kind: Fallback,
                intent: None,
                persona: None,
                team: None,
                answer: None,
            },
            Case {
                name: "second miss opens a support ticket",
                messages: &["blorp", "zzz"],
                kind: Ticket,
                intent: None,
                persona: None,
                team: Some("support"),
                answer: None,
            },
            Case {
                name: "a hit resets the misses",
                messages: &["blorp", "hi", "zzz"],
                kind: Fallback,
                intent: None,
                persona: None,
                team: None,
                answer: None,
            },
            Case {
                name: "persona only is not a miss",
                messages: &["blorp", "I'm a founder"],
                kind: Fallback,
                intent: None,
                persona: Some("founder"),
                team: None,
                answer: None,
            },
            Case {
                name: "ambiguous intents clarify",
                messages: &["price refund"],
                kind: Clarify,
                intent: Some("pricing"),
                persona: None,
                team: None,
                answer: None,
            },
            Case {
                name: "clarify answered by number",
                messages: &["price refund", "2"],
                kind: Ticket,
                intent: Some("refund"),
                persona: None,
                team: Some("billing"),
                answer: Some("refund/default"),
            },
            Case {
                name: "clarify answered by name",
                messages: &["price refund", "pricing"],
                kind: Answer,
                intent: Some("pricing"),
                persona: None,
                team: None,
                answer: Some("pricing/default"),
            },
            Case {
                name: "open ticket owns the conversation",
                messages: &["refund please", "how much"],
                kind: Ticket,
                intent: Some("pricing"),
                persona: None,
                team: Some("billing"),
                answer: None,
            },
        ];
        for case in &cases {
            let d = converse(&catalog, &classifier, case.messages);
            assert_eq!(d.kind, case.kind, "{}: kind ({})", case.name, d.reason);
            assert_eq!(
                d.intent.as_ref().map(|p| p.id.as_str()),
                case.intent,
                "{}: intent",
                case.name
            );
            assert_eq!(
                d.persona.as_ref().map(|p| p.id.as_str()),
                case.persona,
                "{}: persona",
                case.name
            );
            assert_eq!(d.team.as_deref(), case.team, "{}: team", case.name);
            assert_eq!(d.answer.as_deref(), case.answer, "{}: answer", case.name);
        }
    }

    #[test]
    fn replies_table() {
        let settings = Settings::built_in();
        let catalog = load_from_sources(sources(), &settings.teams).unwrap();
        let classifier = Classifier::new(&catalog).unwrap();
        let cases: &[(&[&str], Option<u64>, &[&str])] = &[
            (
                &["refund please"],
                Some(7),
                &[
                    "Annual plans are refundable",
                    "Billing team (ticket #7)",
                    "within 1 business day",
                ],
            ),
            (&["price refund"], None, &["1. Pricing", "2. Refunds"]),
            (&["blorp"], None, &["say it another way"]),
            (
                &["founder here, how much?"],
                None,
                &["Startups get 50% off."],
            ),
        ];
        for (messages, ticket, needles) in cases {
            let d = converse(&catalog, &classifier, messages);
            let reply =
                reply_text(&catalog, &d, *ticket, jiff::Timestamp::UNIX_EPOCH).expect("a reply");
            for needle in *needles {
                assert!(
                    reply.contains(needle),
                    "{messages:?}: {reply:?} lacks {needle:?}"
                );
            }
        }
        // Outside the team's hours, the customer is told when it is back.
        let mut closed = catalog.clone();
        let billing = closed.teams.get_mut("billing").unwrap();
        billing.hours = "Mon 09:00-10:00".into();
        billing.timezone = "UTC".into();
        let d = converse(&closed, &classifier, &["refund please"]);
        let tuesday: jiff::Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let reply = reply_text(&closed, &d, Some(3), tuesday).unwrap();
        assert!(
            reply.contains("offline right now (hours: Mon 09:00-10:00 UTC)")
                && reply.contains("from Mon 09:00 UTC"),
            "{reply}"
        );
        let monday: jiff::Timestamp = "2026-11-30T09:30:00Z".parse().unwrap();
        let reply = reply_text(&closed, &d, Some(3), monday).unwrap();
        assert!(
            !reply.contains("offline") && reply.contains("within 1 business day"),
            "{reply}"
        );
        // A claimed ticket keeps the bot silent.
        let mut d = converse(&catalog, &classifier, &["refund please"]);
        d.joins_ticket = Some(OpenTicket {
            id: 1,
            team: "billing".into(),
            claimed_by: Some("ann".into()),
        });
        assert_eq!(
            reply_text(&catalog, &d, Some(1), jiff::Timestamp::UNIX_EPOCH),
            None
        );
    }
}

//! The reply wording: the text a decision sends the customer, with the team's availability.

use super::{Decision, DecisionKind, FALLBACK_TEAM};
use crate::core::model::Catalog;

/// When the team will answer: its usual response time, or, outside its business hours, when
/// it is back.
fn team_availability(catalog: &Catalog, team: &str, now: jiff::Timestamp) -> String {
    let Some(t) = catalog.teams.get(team) else {
        return String::new();
    };
    if let Ok(Some(hours)) = crate::core::hours::BusinessHours::parse(&t.hours, &t.timezone) {
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

//! The reply a decision sends the customer, with the team's availability (the sentences
//! themselves are in [`crate::core::wording`]).

use super::{Decision, DecisionKind, FALLBACK_TEAM};
use crate::core::model::Catalog;
use crate::core::wording;

/// When the team will answer: its usual response time, or, outside its business hours, when
/// it is back.
fn team_availability(catalog: &Catalog, team: &str, now: jiff::Timestamp) -> String {
    let Some(t) = catalog.teams.get(team) else {
        return String::new();
    };
    if let Ok(Some(hours)) = crate::core::hours::BusinessHours::parse(&t.hours, &t.timezone) {
        if let Some(back) = hours.next_open_text(now) {
            return wording::team_offline(&hours.describe(), &back);
        }
    }
    if t.response_time.is_empty() {
        String::new()
    } else {
        wording::team_usually_replies(&t.response_time)
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
    // A frustrated customer hears an apology first.
    let mut parts: Vec<String> = Vec::new();
    if decision.frustrated {
        parts.push(wording::APOLOGY.into());
    }
    if let Some(open) = &decision.joins_ticket {
        if open.claimed_by.is_some() {
            return None;
        }
        parts.push(wording::added_to_ticket(
            open.id,
            catalog.team_name(&open.team),
        ));
        return Some(parts.join(" "));
    }
    if let Some(answer) = &decision.answer_text {
        parts.push(answer.clone());
    }
    match decision.kind {
        DecisionKind::Answer => {
            if parts.is_empty() {
                parts.push(wording::NO_ANSWER_YET.into());
            }
        }
        DecisionKind::Ticket => {
            let team = decision.team.as_deref().unwrap_or(FALLBACK_TEAM);
            let name = catalog.team_name(team);
            let when = team_availability(catalog, team, now);
            parts.push(match &decision.beside {
                Some(open) => wording::separate_ticket(
                    name,
                    ticket,
                    open.id,
                    catalog.team_name(&open.team),
                    &when,
                ),
                None => wording::handed_off(name, ticket, &when),
            });
        }
        DecisionKind::Clarify => {
            let mut text = String::from(wording::CLARIFY_LEAD);
            for (n, id) in decision.choices.iter().enumerate() {
                let name = catalog.intent(id).map_or(id.as_str(), |i| i.name.as_str());
                text.push_str(&format!("\n{}. {name}", n + 1));
            }
            text.push('\n');
            text.push_str(wording::CLARIFY_HOW);
            parts.push(text);
        }
        DecisionKind::Fallback if decision.persona_only => {
            parts.push(wording::PERSONA_NOTED.into())
        }
        // An out-of-scope intent's answer says what the bot can help with.
        DecisionKind::Fallback if decision.answer_text.is_some() => {}
        DecisionKind::Fallback => parts.push(wording::NOT_UNDERSTOOD.into()),
    }
    Some(parts.join("\n\n"))
}

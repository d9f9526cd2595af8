//! Continuity for web visitors: `GET /v1/conversations/{id}` gives the chat page back a
//! conversation (its customer, bot and agent lines, its tickets, the buttons still waiting under
//! the last answer) so a reload, a new tab or a return restores it; and a conversation idle for
//! longer than `http.web_conversation_days` is not restored (410 Gone) nor continued (a message
//! to it starts a fresh conversation).
//!
//! The deciding parts (idleness, merging the lines) are pure; the handlers read the store.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::speaker;
use super::{reading, visitor_key, Speaking, WEB};
use crate::engine::AppState;
use crate::http::client::ClientAddr;
use crate::http::ApiError;

use crate::core::conversation::ConversationState;
use crate::core::model::Catalog;
use crate::core::route::FEEDBACK_ACTIONS;
use crate::store::{Actor, Ticket, TranscriptLine};

/// The most lines a restored conversation shows (the newest).
pub const MAX_LINES: usize = 200;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// When anything last happened in a conversation: its own last message, or a ticket's last
/// change (an agent's reply, a claim, a resolve). 0: nothing stored.
pub fn last_active_ms(state: &ConversationState, tickets: &[Ticket]) -> u64 {
    tickets
        .iter()
        .map(|t| t.updated_ms)
        .chain([state.updated_ms])
        .max()
        .unwrap_or(0)
}

/// Whether a conversation last active at `last_active_ms` is past keeping at `now_ms`: idle
/// for more than `days`, or with nothing stored at all (never started, forgotten or purged).
pub fn expired(last_active_ms: u64, now_ms: u64, days: u32) -> bool {
    last_active_ms == 0 || now_ms.saturating_sub(last_active_ms) > u64::from(days) * DAY_MS
}

/// One line of a restored conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub at_ms: u64,
    /// `customer`, `bot` or `agent`.
    pub from: &'static str,
    /// The agent's name, for an agent line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The ticket an agent line belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
    pub text: String,
}

fn kind(from: &Actor) -> (&'static str, u8) {
    match from {
        Actor::Customer => ("customer", 0),
        Actor::Bot => ("bot", 1),
        Actor::Agent(_) => ("agent", 2),
    }
}

/// The conversation's lines, oldest first: its recent lines and every ticket's transcript,
/// each line once (a ticket's transcript starts with a copy of the recent lines), the newest
/// [`MAX_LINES`].
pub fn lines(recent: &[TranscriptLine], tickets: &[Ticket]) -> Vec<Line> {
    // A line is the same in two sources when its time, kind and text are, counting repeats:
    // the second "talk to a human" at one time is another line than the first.
    let mut seen = HashSet::new();
    let mut out: Vec<(u8, Line)> = Vec::new();
    let sources = tickets
        .iter()
        .map(|t| (Some(t.id), t.transcript.as_slice()))
        .chain([(None, recent)]);
    for (ticket, source) in sources {
        let mut repeats: HashMap<(u64, u8, &str), usize> = HashMap::new();
        for line in source {
            let (from, rank) = kind(&line.from);
            let n = repeats
                .entry((line.at_ms, rank, line.text.as_str()))
                .or_default();
            *n += 1;
            if !seen.insert((line.at_ms, rank, line.text.clone(), *n)) {
                continue;
            }
            let agent = match &line.from {
                Actor::Agent(name) => Some(name.clone()),
                _ => None,
            };
            out.push((
                rank,
                Line {
                    at_ms: line.at_ms,
                    from,
                    ticket: agent.as_ref().and(ticket),
                    agent,
                    text: line.text.clone(),
                },
            ));
        }
    }
    out.sort_by_key(|(rank, l)| (l.at_ms, *rank));
    let skip = out.len().saturating_sub(MAX_LINES);
    out.into_iter().skip(skip).map(|(_, l)| l).collect()
}

/// A ticket as the chat page shows it (a banner; `rated` once the customer answered "How did
/// we do?"). Customer-facing: nothing agent-only (notes, assignee) goes in here.
pub fn ticket_json(catalog: &Catalog, t: &Ticket) -> serde_json::Value {
    json!({
        "id": t.id,
        "team": t.team,
        "team_name": catalog.team_name(&t.team),
        "status": t.status.as_str(),
        "created_ms": t.created_ms,
        "rated": t.csat.is_some(),
    })
}

/// The body of `GET /v1/conversations/{id}`: the lines, the tickets (oldest first), and what
/// the last bot line still offers: `actions` while its answer awaits feedback, `choices` while
/// a clarifying question awaits an answer.
pub fn conversation_json(
    catalog: &Catalog,
    conversation: &str,
    state: &ConversationState,
    tickets: &[Ticket],
    days: u32,
) -> serde_json::Value {
    let actions: &[&str] = match state.awaiting_feedback {
        Some(_) => FEEDBACK_ACTIONS,
        None => &[],
    };
    let choices: Vec<serde_json::Value> = state
        .pending_choices
        .iter()
        .map(|id| {
            let name = catalog.intent(id).map_or(id.as_str(), |i| i.name.as_str());
            json!({ "id": id, "name": name })
        })
        .collect();
    let last_active = last_active_ms(state, tickets);
    json!({
        "conversation": conversation,
        "lines": lines(&state.recent, tickets),
        "tickets": tickets.iter().map(|t| ticket_json(catalog, t)).collect::<Vec<_>>(),
        "actions": actions,
        "choices": choices,
        "last_active_ms": last_active,
        "expires_ms": last_active + u64::from(days) * DAY_MS,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct ConversationQuery {
    #[serde(default)]
    channel: Option<String>,
}

/// `GET /v1/conversations/{id}` (the visitor's `X-Visitor-Token`, or a bridge's token with
/// `?channel=`): the conversation as [`conversation_json`] shows it; 410 Gone when it is past
/// keeping (see [`expired`]), for the page to start afresh.
pub(super) async fn conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    addr: ClientAddr,
    Path(conversation): Path<String>,
    Query(q): Query<ConversationQuery>,
) -> Result<Response, ApiError> {
    let speaking = reading(
        &state,
        &headers,
        addr,
        (q.channel.as_deref(), &conversation),
        "/v1/conversations",
    )
    .await?;
    let days = state.settings.http.web_conversation_days;
    let (channel, id) = (speaking.channel, speaking.conversation);
    let body = state
        .blocking(
            move |p| -> Result<Option<serde_json::Value>, crate::store::StoreError> {
                let now = p.clock_ms();
                let st = p.store().conversation(&channel, &id)?;
                let tickets = p.store().conversation_tickets(&channel, &id)?;
                if expired(last_active_ms(&st, &tickets), now, days) {
                    return Ok(None);
                }
                Ok(Some(conversation_json(
                    &p.catalog(),
                    &id,
                    &st,
                    &tickets,
                    days,
                )))
            },
        )
        .await??;
    match body {
        Some(body) => Ok(Json(body).into_response()),
        None => Err(ApiError::new(
            StatusCode::GONE,
            format!(
                "this conversation has ended (nothing in it for {days} days, or it was \
                 deleted); start a new one"
            ),
        )),
    }
}

/// The conversation a web visitor's message goes to: theirs, unless it has been idle past
/// `http.web_conversation_days`; then a fresh one, whose id and visitor token the answer
/// carries. Bridges and new visitors pass unchanged.
pub(super) async fn continued(state: &AppState, speaking: Speaking) -> Result<Speaking, ApiError> {
    if speaking.channel != WEB || speaking.issued.is_some() {
        return Ok(speaking);
    }
    let days = state.settings.http.web_conversation_days;
    let (channel, id) = (speaking.channel.clone(), speaking.conversation.clone());
    let idle = state
        .blocking(move |p| -> Result<bool, crate::store::StoreError> {
            let now = p.clock_ms();
            let st = p.store().conversation(&channel, &id)?;
            if st.updated_ms == 0 {
                return Ok(false); // nothing stored: the message starts it
            }
            let mut tickets = Vec::new();
            for tid in st.open_tickets().map(|o| o.id).chain(st.last_ticket) {
                tickets.extend(p.store().ticket(tid)?);
            }
            Ok(expired(last_active_ms(&st, &tickets), now, days))
        })
        .await??;
    if !idle {
        return Ok(speaking);
    }
    let key = visitor_key(state).await?;
    let (conversation, user) = speaker::new_conversation()
        .map_err(|e| ApiError::internal(format!("no random bytes: {e}")))?;
    Ok(Speaking {
        channel: WEB.into(),
        issued: Some(key.token(&conversation)),
        conversation,
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TicketStatus;

    fn line(at_ms: u64, from: Actor, text: &str) -> TranscriptLine {
        TranscriptLine {
            at_ms,
            from,
            text: text.into(),
            user: None,
        }
    }

    fn ticket(id: u64, updated_ms: u64, transcript: Vec<TranscriptLine>) -> Ticket {
        Ticket {
            id,
            team: "sales".into(),
            status: TicketStatus::Open,
            created_ms: 0,
            updated_ms,
            channel: "web".into(),
            conversation: "web-x".into(),
            user: "u".into(),
            persona: None,
            intent: None,
            evidence: Vec::new(),
            reason: String::new(),
            interaction: 0,
            transcript,
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
            contact: None,
            priority: Default::default(),
            assigned_to: None,
            notes: Vec::new(),
            csat: None,
        }
    }

    #[test]
    fn idleness() {
        let day = DAY_MS;
        // (last active, now, days, expired)
        let table = [
            (0, 5, 30, true),
            (1, 1 + 30 * day, 30, false),
            (1, 2 + 30 * day, 30, true),
            (10 * day, 12 * day, 1, true),
            (10 * day, 10 * day + 5, 1, false),
            (10 * day, 5, 1, false),
        ];
        for (last, now, days, want) in table {
            assert_eq!(expired(last, now, days), want, "{last} {now} {days}");
        }
        let state = ConversationState {
            updated_ms: 7,
            ..Default::default()
        };
        assert_eq!(last_active_ms(&state, &[]), 7);
        assert_eq!(last_active_ms(&state, &[ticket(1, 9, vec![])]), 9);
    }

    #[test]
    fn lines_merge_once_in_order() {
        let q = line(10, Actor::Customer, "How much?");
        let a = line(10, Actor::Bot, "Growth is $49.");
        let h = line(20, Actor::Customer, "talk to a human");
        let handoff = line(20, Actor::Bot, "Sent to sales (#1).");
        let reply = line(30, Actor::Agent("dana".into()), "Hi, Dana here");
        let other = line(40, Actor::Agent("sam".into()), "Security here");
        let tickets = [
            ticket(1, 30, vec![q.clone(), a.clone(), h.clone(), reply.clone()]),
            ticket(2, 40, vec![other.clone()]),
        ];
        let recent = [q, a, h, handoff];
        let merged = lines(&recent, &tickets);
        let got: Vec<_> = merged
            .iter()
            .map(|l| {
                (
                    l.at_ms,
                    l.from,
                    l.agent.as_deref(),
                    l.ticket,
                    l.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (10, "customer", None, None, "How much?"),
                (10, "bot", None, None, "Growth is $49."),
                (20, "customer", None, None, "talk to a human"),
                (20, "bot", None, None, "Sent to sales (#1)."),
                (30, "agent", Some("dana"), Some(1), "Hi, Dana here"),
                (40, "agent", Some("sam"), Some(2), "Security here"),
            ]
        );
    }

    #[test]
    fn a_repeated_line_is_kept() {
        let again = |at| line(at, Actor::Customer, "talk to a human");
        let tickets = [ticket(1, 0, vec![again(5), again(5)])];
        let merged = lines(&[again(5), again(5), again(6)], &tickets);
        let times: Vec<u64> = merged.iter().map(|l| l.at_ms).collect();
        assert_eq!(times, [5, 5, 6]);
    }

    #[test]
    fn only_the_newest_lines() {
        let recent: Vec<TranscriptLine> = (0..(MAX_LINES as u64 + 5))
            .map(|i| line(i, Actor::Customer, &format!("m{i}")))
            .collect();
        let merged = lines(&recent, &[]);
        assert_eq!(merged.len(), MAX_LINES);
        assert_eq!(merged[0].text, "m5");
    }
}

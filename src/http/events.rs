//! `GET /v1/events`: live ticket events for agents, as Server-Sent Events (`text/event-stream`).
//!
//! Each event names what happened (`opened`, `message`, `claimed`, `assigned`, `note`,
//! `resolved`, `relabelled`, `rated`, `updated`) in its `event:` field and carries JSON data:
//! `{"event": KIND, "ticket": SUMMARY, ...}` (a `message` adds `from`, `text` and, from an
//! agent, `agent`; `assigned` adds `agent`, the assignee; `note` adds `agent` and `text`;
//! `rated` adds `rating` and `comment`; `updated`, a ticket raised to high priority, adds
//! `priority`). An account sees only its teams' tickets, as in the queue. The stream comes
//! from the pipeline's ticket events; it starts with a `: subscribed` comment (events from then
//! on are sent), is kept alive with comments, and ends when the server shuts down.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::engine::pipeline::{next_event, PipelineEvent};
use crate::engine::AppState;
use crate::http::{AgentAuth, Principal};
use crate::store::{Ticket, TicketStatus};

/// What a pipeline event says to agents, before the team check: its kind, the ticket (or its
/// id, to be read from the store) and the fields beside the ticket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Told {
    pub kind: &'static str,
    pub ticket: Subject,
    pub extra: Value,
}

/// The ticket an event is about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Subject {
    Known(Box<Ticket>),
    Id(u64),
}

/// The kind of a ticket change: resolved, relabelled (the latest relabel made this change),
/// claimed, or another update of an open ticket.
pub(crate) fn updated_kind(t: &Ticket) -> &'static str {
    let relabelled = t.relabels.last().is_some_and(|l| l.at_ms == t.updated_ms);
    match t.status {
        TicketStatus::Resolved => "resolved",
        _ if relabelled => "relabelled",
        TicketStatus::Claimed => "claimed",
        TicketStatus::Open => "updated",
    }
}

/// What agents are told about `event`.
pub(crate) fn told(event: PipelineEvent) -> Told {
    match event {
        PipelineEvent::TicketOpened(t) => Told {
            kind: "opened",
            ticket: Subject::Known(Box::new(t)),
            extra: json!({}),
        },
        PipelineEvent::TicketUpdated(t) => Told {
            kind: updated_kind(&t),
            ticket: Subject::Known(Box::new(t)),
            extra: json!({}),
        },
        PipelineEvent::CustomerMessage { ticket, text } => Told {
            kind: "message",
            ticket: Subject::Id(ticket),
            extra: json!({"from": "customer", "text": text}),
        },
        PipelineEvent::AgentReply {
            ticket,
            agent,
            text,
        } => Told {
            kind: "message",
            ticket: Subject::Known(Box::new(ticket)),
            extra: json!({"from": "agent", "agent": agent, "text": text}),
        },
        PipelineEvent::TicketAssigned(t) => Told {
            kind: "assigned",
            extra: json!({"agent": t.assigned_to}),
            ticket: Subject::Known(Box::new(t)),
        },
        PipelineEvent::TicketNote {
            ticket,
            agent,
            text,
            ..
        } => Told {
            kind: "note",
            ticket: Subject::Known(Box::new(ticket)),
            extra: json!({"agent": agent, "text": text}),
        },
        PipelineEvent::TicketRated(t) => Told {
            kind: "rated",
            extra: json!({
                "rating": t.csat.as_ref().map(|c| c.rating),
                "comment": t.csat.as_ref().and_then(|c| c.comment.clone()),
            }),
            ticket: Subject::Known(Box::new(t)),
        },
        PipelineEvent::TicketRaised(t) => Told {
            kind: "updated",
            extra: json!({"priority": t.priority.as_str()}),
            ticket: Subject::Known(Box::new(t)),
        },
    }
}

/// What agents are told about another node's ticket event (from the cluster's view): the same
/// kinds and fields as for this node's, read from the ticket as it is after the event.
pub(crate) fn told_from_view(held: &crate::cluster::view::Held) -> Told {
    let t = &held.ticket;
    let last_line = t.transcript.last();
    let (kind, extra) = match held.event.as_str() {
        "opened" => ("opened", json!({})),
        "claimed" => ("claimed", json!({})),
        "resolved" => ("resolved", json!({})),
        "relabelled" => ("relabelled", json!({})),
        "assigned" => ("assigned", json!({"agent": t.assigned_to})),
        "note" => {
            let note = t.notes.last();
            (
                "note",
                json!({"agent": note.map(|n| &n.by), "text": note.map(|n| &n.text)}),
            )
        }
        "rated" => (
            "rated",
            json!({
                "rating": t.csat.as_ref().map(|c| c.rating),
                "comment": t.csat.as_ref().and_then(|c| c.comment.clone()),
            }),
        ),
        "message" => match last_line.map(|l| (&l.from, &l.text)) {
            Some((crate::store::Actor::Agent(agent), text)) => (
                "message",
                json!({"from": "agent", "agent": agent, "text": text}),
            ),
            _ => ("updated", json!({})),
        },
        // A turn: the customer wrote (and may have raised the priority).
        _ => match last_line {
            Some(l) if l.from == crate::store::Actor::Customer => {
                ("message", json!({"from": "customer", "text": l.text}))
            }
            _ => ("updated", json!({"priority": t.priority.as_str()})),
        },
    };
    Told {
        kind,
        ticket: Subject::Known(Box::new(t.clone())),
        extra,
    }
}

/// The SSE event for `told` about `ticket`, as JSON data.
fn sse_event(state: &AppState, told: &Told, ticket: &Ticket) -> Event {
    let catalog = state.pipeline.catalog();
    let mut data = json!({
        "event": told.kind,
        "ticket": crate::engine::output::ticket_summary(&catalog, ticket),
    });
    if let (Some(data), Some(extra)) = (data.as_object_mut(), told.extra.as_object()) {
        data.extend(extra.clone());
    }
    Event::default().event(told.kind).data(data.to_string())
}

/// The SSE event for a pipeline event, if `who` may see its ticket.
async fn for_agent(state: &AppState, who: &Principal, event: PipelineEvent) -> Option<Event> {
    let told = told(event);
    let ticket = match &told.ticket {
        Subject::Known(t) => (**t).clone(),
        Subject::Id(id) => {
            let id = *id;
            match state.blocking(move |p| p.store().ticket(id)).await {
                Ok(Ok(Some(t))) => t,
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, ticket = id, "event's ticket unreadable");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, ticket = id, "event's ticket unreadable");
                    return None;
                }
            }
        }
    };
    who.sees_team(&ticket.team)
        .then(|| sse_event(state, &told, &ticket))
}

async fn events(AgentAuth(who): AgentAuth, State(state): State<AppState>) -> Response {
    // Subscribed before the response starts: every event after the first comment is sent.
    let receiver = state.pipeline.subscribe();
    let closing = state.closing.subscribe();
    // In cluster mode, the other nodes' ticket events too (this node's come from its pipeline).
    let others = state
        .cluster
        .get()
        .map(|c| (c.view().subscribe(), c.node().node.clone()));
    let live = stream::unfold(
        (receiver, closing, state, who, others),
        |(mut receiver, mut closing, state, who, mut others)| async move {
            loop {
                if *closing.borrow_and_update() {
                    return None;
                }
                let sse = tokio::select! {
                    event = next_event(&mut receiver, "events") => for_agent(&state, &who, event?).await,
                    held = next_remote(&mut others) => {
                        let told = told_from_view(&held?);
                        match &told.ticket {
                            Subject::Known(t) if who.sees_team(&t.team) => Some(sse_event(&state, &told, t)),
                            _ => None,
                        }
                    }
                    _ = closing.changed() => return None,
                };
                if let Some(sse) = sse {
                    return Some((
                        Ok::<_, Infallible>(sse),
                        (receiver, closing, state, who, others),
                    ));
                }
            }
        },
    );
    let first = stream::once(async { Ok(Event::default().comment("subscribed")) });
    Sse::new(first.chain(live))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The next change of another node's ticket from the cluster's view; never, outside cluster
/// mode; `None` once the view is gone.
async fn next_remote(
    others: &mut Option<(
        tokio::sync::broadcast::Receiver<crate::cluster::view::Held>,
        String,
    )>,
) -> Option<crate::cluster::view::Held> {
    let Some((receiver, me)) = others else {
        return std::future::pending().await;
    };
    loop {
        match receiver.recv().await {
            Ok(held) if held.node != *me => return Some(held),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "events: other nodes' ticket events were skipped");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", get(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Label;

    fn ticket(status: TicketStatus, updated_ms: u64, relabel_at: Option<u64>) -> Ticket {
        let mut t: Ticket = serde_json::from_value(json!({
            "id": 7, "team": "sales", "status": "open", "created_ms": 1, "updated_ms": updated_ms,
            "channel": "web", "conversation": "c", "user": "u", "persona": null, "intent": null,
            "evidence": [], "reason": "", "interaction": 1, "transcript": [],
            "claimed_by": null, "resolved_by": null, "relabels": [],
        }))
        .expect("a ticket");
        t.status = status;
        if let Some(at_ms) = relabel_at {
            t.relabels.push(Label {
                intent: Some("billing".into()),
                persona: None,
                by: "ann".into(),
                at_ms,
            });
        }
        t
    }

    #[test]
    fn ticket_changes_are_named_by_what_happened() {
        let table = [
            (TicketStatus::Open, 5, None, "updated"),
            (TicketStatus::Claimed, 5, None, "claimed"),
            (TicketStatus::Claimed, 5, Some(3), "claimed"),
            (TicketStatus::Claimed, 5, Some(5), "relabelled"),
            (TicketStatus::Open, 5, Some(5), "relabelled"),
            (TicketStatus::Resolved, 5, Some(5), "resolved"),
            (TicketStatus::Resolved, 5, None, "resolved"),
        ];
        for (status, updated, relabel, want) in table {
            let t = ticket(status, updated, relabel);
            assert_eq!(updated_kind(&t), want, "{status:?} {updated} {relabel:?}");
            assert_eq!(told(PipelineEvent::TicketUpdated(t)).kind, want);
        }
    }

    #[test]
    fn messages_say_who_wrote_them() {
        let t = ticket(TicketStatus::Claimed, 5, None);
        let customer = told(PipelineEvent::CustomerMessage {
            ticket: 7,
            text: "hi".into(),
        });
        assert_eq!(
            (customer.kind, customer.ticket, customer.extra),
            (
                "message",
                Subject::Id(7),
                json!({"from": "customer", "text": "hi"})
            )
        );
        let agent = told(PipelineEvent::AgentReply {
            ticket: t.clone(),
            agent: "ann".into(),
            text: "hello".into(),
        });
        assert_eq!(agent.kind, "message");
        assert_eq!(
            agent.extra,
            json!({"from": "agent", "agent": "ann", "text": "hello"})
        );
        assert_eq!(told(PipelineEvent::TicketOpened(t)).kind, "opened");
    }

    #[test]
    fn desk_changes_are_their_own_kinds() {
        let mut assigned = ticket(TicketStatus::Open, 5, None);
        assigned.assigned_to = Some("bo".into());
        let mut rated = ticket(TicketStatus::Resolved, 5, None);
        rated.csat = Some(crate::store::Csat {
            rating: 4,
            comment: Some("quick".into()),
            at_ms: 6,
        });
        let mut raised = ticket(TicketStatus::Open, 5, None);
        raised.priority = crate::store::Priority::High;
        let table = [
            (
                PipelineEvent::TicketAssigned(assigned.clone()),
                "assigned",
                json!({"agent": "bo"}),
            ),
            (
                PipelineEvent::TicketNote {
                    ticket: assigned,
                    agent: "ann".into(),
                    text: "VIP".into(),
                    from: "http",
                },
                "note",
                json!({"agent": "ann", "text": "VIP"}),
            ),
            (
                PipelineEvent::TicketRated(rated),
                "rated",
                json!({"rating": 4, "comment": "quick"}),
            ),
            (
                PipelineEvent::TicketRaised(raised),
                "updated",
                json!({"priority": "high"}),
            ),
        ];
        for (event, kind, extra) in table {
            let told = told(event);
            assert_eq!((told.kind, told.extra), (kind, extra));
        }
    }

    #[test]
    fn other_nodes_events_are_told_as_this_nodes() {
        use crate::store::{Actor, TranscriptLine};
        let held = |event: &str, t: &Ticket| crate::cluster::view::Held {
            node: "b".into(),
            ticket: t.clone(),
            event: event.into(),
            sequence: 1,
        };
        let line = |from: Actor, text: &str| TranscriptLine {
            at_ms: 1,
            from,
            text: text.into(),
            user: None,
        };
        let mut replied = ticket(TicketStatus::Claimed, 5, None);
        replied
            .transcript
            .push(line(Actor::Agent("ann".into()), "on it"));
        let mut wrote = ticket(TicketStatus::Open, 5, None);
        wrote.transcript.push(line(Actor::Customer, "still broken"));
        let mut noted = ticket(TicketStatus::Open, 5, None);
        noted.notes.push(crate::store::Note {
            at_ms: 1,
            by: "ann".into(),
            text: "VIP".into(),
        });
        let mut assigned = ticket(TicketStatus::Open, 5, None);
        assigned.assigned_to = Some("bo".into());
        let plain = ticket(TicketStatus::Open, 5, None);
        let table = [
            (held("opened", &plain), "opened", json!({})),
            (held("claimed", &plain), "claimed", json!({})),
            (held("resolved", &plain), "resolved", json!({})),
            (held("relabelled", &plain), "relabelled", json!({})),
            (
                held("assigned", &assigned),
                "assigned",
                json!({"agent": "bo"}),
            ),
            (
                held("note", &noted),
                "note",
                json!({"agent": "ann", "text": "VIP"}),
            ),
            (
                held("message", &replied),
                "message",
                json!({"from": "agent", "agent": "ann", "text": "on it"}),
            ),
            (
                held("updated", &wrote),
                "message",
                json!({"from": "customer", "text": "still broken"}),
            ),
            (
                held("updated", &plain),
                "updated",
                json!({"priority": "normal"}),
            ),
        ];
        for (held, kind, extra) in table {
            let told = told_from_view(&held);
            assert_eq!((told.kind, &told.extra), (kind, &extra), "{}", held.event);
        }
    }
}

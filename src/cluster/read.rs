//! Reading the whole cluster back from the streams, for the owner's tools (`evidence export`,
//! `review`, `suggest`, `replay` run with `cluster.nats_url`): no node's files are opened.
//!
//! [`load`] reads `PB_EVIDENCE` (and `PB_TICKETS` when asked) from the first message with an
//! ephemeral pull consumer (no acknowledgements) until it is caught up: the message the server
//! reports with nothing pending after it. Each wait for a message is bounded ([`READ_WAIT`]).
//!
//! A stream may hold several versions of one record: an interaction published again after a
//! crash (beyond the duplicate window), a later version after an agent relabelled it (msg id
//! `<node>-i-<id>-l<at_ms>`), and one event per ticket change. [`merge_interactions`] keeps the
//! last version per interaction id in stream order; [`merge_tickets`] keeps, per ticket id, the
//! ticket of the newest event (`updated_ms`, the later in stream order on a tie) and drops a
//! forgotten one, by the rule of every node's live view ([`super::view::View`]). Both are pure.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::Context;
use futures_util::StreamExt;

use super::outbox::{EVIDENCE_STREAM, TICKETS_STREAM};
use super::ClusterError;
use crate::catalog::settings::{split_nats_credentials, ClusterSettings, NatsCredentials};
use crate::store::{Interaction, Ticket, TicketEvent};

/// The longest wait for the next message of a stream being read.
pub const READ_WAIT: Duration = Duration::from_secs(30);

/// The cluster's records as its streams hold them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterRecords {
    /// Every interaction, once (its last version), oldest first (`at_ms`, then id), as a store
    /// lists them.
    pub interactions: Vec<Interaction>,
    /// Every ticket, once (its newest state), newest id first, as a store lists them.
    pub tickets: Vec<Ticket>,
    /// Messages that did not parse (skipped; counted so a caller can say so).
    pub unreadable: usize,
}

/// Connection options carrying `credentials` (taken out of the URL, from the environment only).
pub fn connect_options(credentials: Option<NatsCredentials>) -> async_nats::ConnectOptions {
    match credentials {
        Some(NatsCredentials::Token(token)) => async_nats::ConnectOptions::with_token(token),
        Some(NatsCredentials::UserPassword(user, pass)) => {
            async_nats::ConnectOptions::with_user_and_password(user, pass)
        }
        None => async_nats::ConnectOptions::new(),
    }
}

/// Connects a command (not a node) to the cluster's NATS, as `name`; fails at once when NATS
/// does not answer.
pub async fn connect(settings: &ClusterSettings, name: &str) -> Result<Context, ClusterError> {
    let url = settings
        .url()
        .ok_or_else(|| ClusterError::Nats("cluster.nats_url is not set".into()))?;
    let (url, credentials) = split_nats_credentials(url);
    let client = connect_options(credentials)
        .name(name)
        .connect(url.as_str())
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot connect: {e}")))?;
    Ok(async_nats::jetstream::new(client))
}

/// Reads the cluster's interactions, and its tickets when `tickets` is set (else none).
pub async fn load(js: &Context, tickets: bool) -> Result<ClusterRecords, ClusterError> {
    let mut unreadable = 0;
    let mut versions = Vec::new();
    for (_, payload) in read_all(js, EVIDENCE_STREAM, None).await? {
        match serde_json::from_slice::<Interaction>(&payload) {
            Ok(i) => versions.push(i),
            Err(_) => unreadable += 1,
        }
    }
    let mut events = Vec::new();
    if tickets {
        for (_, payload) in read_all(js, TICKETS_STREAM, None).await? {
            match serde_json::from_slice::<TicketEvent>(&payload) {
                Ok(e) => events.push(e),
                Err(_) => unreadable += 1,
            }
        }
    }
    Ok(ClusterRecords {
        interactions: merge_interactions(versions),
        tickets: merge_tickets(events),
        unreadable,
    })
}

/// Every message of `stream` (on `subject` only, when given), in stream order, as (stream
/// sequence, payload); empty when the stream does not exist yet.
pub async fn read_all(
    js: &Context,
    stream: &str,
    subject: Option<&str>,
) -> Result<Vec<(u64, Vec<u8>)>, ClusterError> {
    let nats = |what: &str, e: &dyn std::fmt::Display| ClusterError::Nats(format!("{what}: {e}"));
    let mut handle = match js.get_stream(stream).await {
        Ok(handle) => handle,
        Err(e) if stream_not_found(&e) => {
            // No node published yet.
            return Ok(Vec::new());
        }
        Err(e) => return Err(nats(&format!("cannot reach {stream}"), &e)),
    };
    let info = handle
        .info()
        .await
        .map_err(|e| nats(&format!("cannot read {stream}"), &e))?;
    if info.state.messages == 0 {
        return Ok(Vec::new());
    }
    let consumer = handle
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            filter_subject: subject.unwrap_or_default().to_string(),
            inactive_threshold: Duration::from_secs(60),
            description: Some("personabot: a command reading the stream".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| nats(&format!("cannot read {stream}"), &e))?;
    let name = consumer.cached_info().name.clone();
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| nats(&format!("cannot read {stream}"), &e))?;
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(READ_WAIT, messages.next())
            .await
            .map_err(|_| {
                ClusterError::Nats(format!(
                    "{stream}: no message within {READ_WAIT:?} while {} were read",
                    out.len()
                ))
            })?;
        let Some(message) = next else { break };
        let message = message.map_err(|e| nats(&format!("reading {stream}"), &e))?;
        let info = message
            .info()
            .map_err(|e| nats(&format!("reading {stream}"), &e))?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        out.push((sequence, message.message.payload.to_vec()));
        if pending == 0 {
            break;
        }
    }
    drop(messages);
    // The consumer goes away by itself after `inactive_threshold`; sooner is tidier.
    let _ = handle.delete_consumer(&name).await;
    Ok(out)
}

fn stream_not_found(e: &async_nats::jetstream::context::GetStreamError) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    use async_nats::jetstream::ErrorCode;
    matches!(e.kind(), GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// The last version of each interaction (by id) of `versions` in stream order, ordered as a
/// store lists them: by `at_ms`, then id.
pub fn merge_interactions(versions: impl IntoIterator<Item = Interaction>) -> Vec<Interaction> {
    let mut last: HashMap<u64, Interaction> = HashMap::new();
    for i in versions {
        last.insert(i.id, i);
    }
    let mut out: Vec<Interaction> = last.into_values().collect();
    out.sort_by_key(|i| (i.at_ms, i.id));
    out
}

/// The newest state of each ticket (by id) among `events` in stream order: the greatest
/// `updated_ms`, the later event on a tie; ordered as a store lists them, newest id first.
pub fn merge_tickets(events: impl IntoIterator<Item = TicketEvent>) -> Vec<Ticket> {
    // The rule every node's live view follows: the newer `updated_ms` wins, ties by stream
    // order, and a `forgotten` event removes the ticket.
    let view = super::view::View::default();
    for (sequence, event) in events.into_iter().enumerate() {
        view.apply(event, sequence as u64);
    }
    let mut out: Vec<Ticket> = view.all().into_iter().map(|h| h.ticket).collect();
    out.sort_by_key(|t| std::cmp::Reverse(t.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn interaction(id: u64, at_ms: u64, text: &str) -> Interaction {
        serde_json::from_value(json!({
            "id": id, "at_ms": at_ms, "channel": "web", "conversation": format!("c{id}"),
            "user": "u_1", "text": text, "persona": null, "intent": null,
            "persona_scores": [], "intent_scores": [], "evidence": [],
            "route": {"kind": "answer", "team": null, "answer": null, "reason": "r"},
            "reply": null, "ticket": null, "feedback": null, "label": null
        }))
        .expect("an interaction")
    }

    fn event(id: u64, updated_ms: u64, team: &str) -> TicketEvent {
        let ticket: Ticket = serde_json::from_value(json!({
            "id": id, "team": team, "status": "open", "created_ms": 1, "updated_ms": updated_ms,
            "channel": "web", "conversation": "c", "user": "u_1", "persona": null,
            "intent": null, "evidence": [], "reason": "r", "interaction": 1, "transcript": [],
            "claimed_by": null, "resolved_by": null, "relabels": []
        }))
        .expect("a ticket");
        TicketEvent {
            event: "updated".into(),
            node: "a".into(),
            interaction: 1,
            at_ms: updated_ms,
            ticket,
            has_contact: false,
        }
    }

    #[test]
    fn interactions_keep_the_last_version_in_store_order() {
        // (stream of (id, at_ms, text)) -> kept (id, text) in order
        type Case = (
            &'static [(u64, u64, &'static str)],
            &'static [(u64, &'static str)],
        );
        let cases: &[Case] = &[
            (&[], &[]),
            (&[(16, 5, "a")], &[(16, "a")]),
            // A republish after a crash: the same record twice, kept once.
            (
                &[(16, 5, "a"), (17, 6, "b"), (16, 5, "a")],
                &[(16, "a"), (17, "b")],
            ),
            // A later version (relabelled) replaces the earlier one.
            (
                &[(16, 5, "first"), (16, 5, "relabelled")],
                &[(16, "relabelled")],
            ),
            // Two nodes' interleaved streams: by time, then id.
            (
                &[(33, 9, "b"), (16, 7, "a"), (32, 7, "a2"), (17, 8, "b0")],
                &[(16, "a"), (32, "a2"), (17, "b0"), (33, "b")],
            ),
        ];
        for (stream, kept) in cases {
            let merged = merge_interactions(
                stream
                    .iter()
                    .map(|&(id, at, text)| interaction(id, at, text)),
            );
            let got: Vec<(u64, &str)> = merged.iter().map(|i| (i.id, i.text.as_str())).collect();
            assert_eq!(&got, kept, "{stream:?}");
        }
    }

    #[test]
    fn tickets_keep_the_newest_state_newest_id_first() {
        // (stream of (id, updated_ms, team)) -> kept (id, team)
        type Case = (
            &'static [(u64, u64, &'static str)],
            &'static [(u64, &'static str)],
        );
        let cases: &[Case] = &[
            (&[], &[]),
            (&[(16, 1, "billing")], &[(16, "billing")]),
            // A later update wins.
            (&[(16, 1, "billing"), (16, 5, "tech")], &[(16, "tech")]),
            // An older event arriving later (another node's view) does not.
            (&[(16, 5, "tech"), (16, 1, "billing")], &[(16, "tech")]),
            // A tie: the later in stream order.
            (&[(16, 5, "tech"), (16, 5, "sales")], &[(16, "sales")]),
            (
                &[(16, 1, "a"), (33, 2, "b"), (17, 3, "c")],
                &[(33, "b"), (17, "c"), (16, "a")],
            ),
        ];
        for (stream, kept) in cases {
            let merged = merge_tickets(stream.iter().map(|&(id, at, team)| event(id, at, team)));
            let got: Vec<(u64, &str)> = merged.iter().map(|t| (t.id, t.team.as_str())).collect();
            assert_eq!(&got, kept, "{stream:?}");
        }
        // A forgotten ticket is not counted, whatever came before it.
        let forgotten = TicketEvent {
            event: crate::cluster::view::FORGOTTEN.into(),
            ..event(16, 9, "billing")
        };
        let merged = merge_tickets([event(16, 1, "billing"), event(17, 2, "tech"), forgotten]);
        let got: Vec<u64> = merged.iter().map(|t| t.id).collect();
        assert_eq!(got, [17]);
    }
}

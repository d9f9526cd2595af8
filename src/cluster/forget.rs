//! Forgetting a customer across the cluster: every node's store and every node's messages in
//! `PB_EVIDENCE` and `PB_TICKETS`, including a node that is down when it is asked.
//!
//! The request is a message on `pb.control.forget` in the small stream `PB_CONTROL`. Each node
//! reads it with its own durable consumer (`forget-<node>`, made when the node starts) and
//! applies it: its store forgets the user (then compacts), and it deletes its own messages of
//! the user from the streams (it alone can recognise them: user ids are stored as a keyed hash
//! with the node's key); a ticket of someone else that held the user's lines is published again
//! without them. It then answers on `pb.control.forgotten.<request>` with its counts (no user
//! id) and acknowledges. A node that was down reads the request when it comes back. Between
//! its store and the streams a node waits for the outbox batch in flight
//! ([`publisher::Gate`]), so a message of the user's that was being published is in the
//! stream when the node looks for it.
//!
//! The request holds the customer's id, so it must not outlive its purpose: `PB_CONTROL` has
//! interest retention (a message is removed once every node's consumer acknowledged it) and a
//! `max_age` of [`CONTROL_MAX_AGE`] for a node that never comes back. It is never logged.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{stream, Context};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::outbox::{subject, OutboxStream, EVIDENCE_STREAM, TICKETS_STREAM};
use super::{ids, publisher, read, ClusterError};
use crate::store::{now_ms, Interaction, Store, Ticket, TicketEvent};

/// The stream of cluster-wide requests.
pub const CONTROL_STREAM: &str = "PB_CONTROL";
/// The subject of forget requests.
pub const FORGET_SUBJECT: &str = "pb.control.forget";
/// How long a forget request is kept at most (a node down longer than this misses it).
pub const CONTROL_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a requester waits for the nodes' answers before reporting the rest as pending.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// A forget request.
#[derive(Clone, Serialize, Deserialize)]
pub struct ForgetRequest {
    /// A random id, naming the answers' subject.
    pub request: String,
    /// The customer's id on their channel, as the channel reported it.
    pub user: String,
    /// The node that asked (it applied the request itself), or `cli`.
    pub from: String,
    pub at_ms: u64,
}

impl std::fmt::Debug for ForgetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgetRequest")
            .field("request", &self.request)
            .field("user", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

/// What one node forgot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeForgot {
    pub node: String,
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
    /// Its messages deleted from `PB_EVIDENCE` and `PB_TICKETS`.
    pub messages: usize,
}

/// Which nodes applied a request, and which will when they come back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterForgot {
    /// The nodes that answered, with their counts.
    pub applied: Vec<NodeForgot>,
    /// Registered nodes that did not answer in time (down, or slow): they apply it when they
    /// read `PB_CONTROL` again.
    pub pending: Vec<String>,
}

/// The subject `request`'s answers go to.
pub fn answers_subject(request: &str) -> String {
    format!("pb.control.forgotten.{request}")
}

/// The durable consumer of `node`.
pub fn consumer_name(node: &str) -> String {
    format!("forget-{node}")
}

/// `PB_CONTROL`: interest retention, on disk, at most [`CONTROL_MAX_AGE`].
pub fn control_config() -> stream::Config {
    stream::Config {
        name: CONTROL_STREAM.into(),
        description: Some("personabot: cluster-wide requests (forget a customer)".into()),
        subjects: vec![FORGET_SUBJECT.into()],
        retention: stream::RetentionPolicy::Interest,
        storage: stream::StorageType::File,
        max_age: CONTROL_MAX_AGE,
        ..Default::default()
    }
}

/// Whether `event` (a ticket as published) holds anything of the hashed user `hashed`.
pub fn ticket_mentions(ticket: &Ticket, hashed: &str) -> bool {
    ticket.user == hashed
        || ticket
            .transcript
            .iter()
            .any(|l| l.user.as_deref() == Some(hashed))
}

/// The registered nodes' names (`node.<name>` keys of the bucket).
pub async fn registered_nodes(js: &Context) -> Result<BTreeSet<String>, ClusterError> {
    let bucket = ids::bucket(js).await?;
    let mut keys = bucket
        .keys()
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot list the nodes: {e}")))?;
    let mut nodes = BTreeSet::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| ClusterError::Nats(format!("cannot list the nodes: {e}")))?;
        if let Some(node) = key.strip_prefix("node.") {
            nodes.insert(node.to_string());
        }
    }
    Ok(nodes)
}

/// A request for `user`, asked by `from`, with a fresh id.
pub fn new_request(user: &str, from: &str) -> Result<ForgetRequest, ClusterError> {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| ClusterError::Nats(format!("no randomness: {e}")))?;
    Ok(ForgetRequest {
        request: crate::core::hex::encode(&id),
        user: user.to_string(),
        from: from.to_string(),
        at_ms: now_ms(),
    })
}

/// A request in `PB_CONTROL`: the subscription to its answers and its stream sequence.
#[derive(Debug)]
pub struct Published {
    answers: async_nats::Subscriber,
    sequence: u64,
}

/// Publishes `request` (JetStream acknowledged it once this returns) with a subscription to
/// its answers, made first so no answer is missed.
pub async fn publish(
    js: &Context,
    client: &async_nats::Client,
    request: &ForgetRequest,
) -> Result<Published, ClusterError> {
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("forget request: {e}"));
    js.get_or_create_stream(control_config())
        .await
        .map_err(|e| nats(&e))?;
    let answers = client
        .subscribe(answers_subject(&request.request))
        .await
        .map_err(|e| nats(&e))?;
    let body = serde_json::to_vec(request).map_err(|e| nats(&e))?;
    let ack = js
        .publish(FORGET_SUBJECT, body.into())
        .await
        .map_err(|e| nats(&e))?
        .await
        .map_err(|e| nats(&e))?;
    Ok(Published {
        answers,
        sequence: ack.sequence,
    })
}

/// Collects answers until every registered node but `from` answered, or [`ANSWER_WAIT`]. When
/// every node answered, the request (it holds the customer's id) is erased from `PB_CONTROL`
/// at once (JetStream overwrites an erased message), rather than left to interest retention.
pub async fn collect(
    js: &Context,
    published: Published,
    from: &str,
) -> Result<ClusterForgot, ClusterError> {
    let Published {
        mut answers,
        sequence,
    } = published;
    let expected: BTreeSet<String> = registered_nodes(js)
        .await?
        .into_iter()
        .filter(|n| n != from)
        .collect();
    let mut applied: Vec<NodeForgot> = Vec::new();
    let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    while !expected
        .iter()
        .all(|n| applied.iter().any(|a| &a.node == n))
    {
        match tokio::time::timeout_at(deadline, answers.next()).await {
            Ok(Some(message)) => {
                if let Ok(answer) = serde_json::from_slice::<NodeForgot>(&message.payload) {
                    if !applied.iter().any(|a| a.node == answer.node) {
                        applied.push(answer);
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    applied.sort_by(|a, b| a.node.cmp(&b.node));
    let pending: Vec<String> = expected
        .into_iter()
        .filter(|n| !applied.iter().any(|a| &a.node == n))
        .collect();
    if pending.is_empty() {
        if let Ok(stream) = js.get_stream(CONTROL_STREAM).await {
            // Already gone when every consumer's acknowledgement came first: nothing to do.
            let _ = stream.delete_message(sequence).await;
        }
    }
    Ok(ClusterForgot { applied, pending })
}

/// Forgets `user` in `store` (then compacts it), on the blocking pool; returns its counts.
async fn forget_in_store(store: &Store, user: &str) -> Result<NodeForgot, ClusterError> {
    let (store, user) = (store.clone(), user.to_string());
    tokio::task::spawn_blocking(move || -> Result<NodeForgot, ClusterError> {
        let r = store.forget_user(&user)?;
        store.compact()?;
        Ok(NodeForgot {
            interactions: r.interactions,
            tickets: r.tickets,
            conversations: r.conversations,
            ..Default::default()
        })
    })
    .await
    .map_err(|e| ClusterError::Nats(format!("forget: {e}")))?
}

/// Deletes `node`'s messages of the hashed user `hashed` from the streams; a ticket of someone
/// else that held the user's lines is published again as `store` now holds it. Returns how
/// many messages were deleted.
pub async fn forget_in_streams(
    js: &Context,
    store: &Store,
    node: &str,
    hashed: &str,
    gate: &publisher::Gate,
) -> Result<usize, ClusterError> {
    // A batch the publisher read before the store forgot the user reaches the stream first.
    drop(gate.lock().await);
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("forget in streams: {e}"));
    let mut deleted = 0;
    let evidence = subject(OutboxStream::Evidence, node);
    let mine = read::read_all(js, EVIDENCE_STREAM, Some(&evidence)).await?;
    let doomed: Vec<u64> = mine
        .iter()
        .filter(|(_, payload)| {
            serde_json::from_slice::<Interaction>(payload).is_ok_and(|i| i.user == hashed)
        })
        .map(|(seq, _)| *seq)
        .collect();
    if !doomed.is_empty() {
        let stream = js.get_stream(EVIDENCE_STREAM).await.map_err(|e| nats(&e))?;
        for seq in doomed {
            if stream.delete_message(seq).await.map_err(|e| nats(&e))? {
                deleted += 1;
            }
        }
    }
    let tickets = subject(OutboxStream::Tickets, node);
    let mine = read::read_all(js, TICKETS_STREAM, Some(&tickets)).await?;
    let mut doomed = Vec::new();
    let mut others = BTreeSet::new();
    // The user's own tickets, by id: the last event of each, to tell every node's view.
    let mut gone = std::collections::BTreeMap::new();
    for (seq, payload) in &mine {
        if let Ok(event) = serde_json::from_slice::<TicketEvent>(payload) {
            if ticket_mentions(&event.ticket, hashed) {
                doomed.push(*seq);
                if event.ticket.user != hashed {
                    others.insert(event.ticket.id);
                } else {
                    gone.insert(event.ticket.id, event);
                }
            }
        }
    }
    if !doomed.is_empty() {
        let stream = js.get_stream(TICKETS_STREAM).await.map_err(|e| nats(&e))?;
        for seq in doomed {
            if stream.delete_message(seq).await.map_err(|e| nats(&e))? {
                deleted += 1;
            }
        }
    }
    for id in others {
        let reader = store.clone();
        let ticket = tokio::task::spawn_blocking(move || reader.ticket(id))
            .await
            .map_err(|e| nats(&e))??;
        let Some(ticket) = ticket else { continue };
        let at_ms = now_ms();
        let event = TicketEvent {
            event: "updated".into(),
            node: node.to_string(),
            interaction: ticket.interaction,
            at_ms,
            has_contact: ticket.contact.is_some(),
            ticket: Ticket {
                contact: None,
                ..ticket
            },
        };
        publish_event(js, &tickets, &event, format!("{node}-t-{id}-f{at_ms}")).await?;
    }
    // Every node's view of the tickets drops the user's tickets at this event.
    for (id, last) in gone {
        let at_ms = now_ms();
        let event = forgotten_event(&last, at_ms);
        publish_event(js, &tickets, &event, format!("{node}-t-{id}-x{at_ms}")).await?;
    }
    Ok(deleted)
}

/// Publishes a ticket event on `subject` and waits for JetStream's acknowledgement.
async fn publish_event(
    js: &Context,
    subject: &str,
    event: &TicketEvent,
    msg_id: String,
) -> Result<(), ClusterError> {
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("forget in streams: {e}"));
    let body = serde_json::to_vec(event).map_err(|e| nats(&e))?;
    let publish = async_nats::jetstream::message::PublishMessage::build()
        .payload(body.into())
        .message_id(msg_id);
    js.send_publish(subject.to_string(), publish)
        .await
        .map_err(|e| nats(&e))?
        .await
        .map_err(|e| nats(&e))?;
    Ok(())
}

/// The `forgotten` event of a deleted ticket, from its last event: its id, team, status and
/// times only (nothing the customer wrote, nor whose it was), newer than any earlier event so
/// that every node's view lets the ticket go.
pub fn forgotten_event(last: &TicketEvent, at_ms: u64) -> TicketEvent {
    let t = &last.ticket;
    TicketEvent {
        event: super::view::FORGOTTEN.into(),
        node: last.node.clone(),
        interaction: 0,
        at_ms,
        has_contact: false,
        ticket: Ticket {
            id: t.id,
            team: t.team.clone(),
            status: t.status,
            created_ms: t.created_ms,
            updated_ms: at_ms.max(t.updated_ms.saturating_add(1)),
            channel: t.channel.clone(),
            conversation: String::new(),
            user: String::new(),
            persona: None,
            intent: None,
            evidence: Vec::new(),
            reason: String::new(),
            interaction: 0,
            transcript: Vec::new(),
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
            contact: None,
            priority: t.priority,
            assigned_to: None,
            notes: Vec::new(),
            csat: None,
        },
    }
}

/// Applies `user`'s forgetting on this node: its store, then its messages in the streams.
pub async fn apply(
    js: &Context,
    store: &Store,
    node: &str,
    user: &str,
    gate: &publisher::Gate,
) -> Result<NodeForgot, ClusterError> {
    let mut forgot = forget_in_store(store, user).await?;
    forgot.node = node.to_string();
    forgot.messages = forget_in_streams(js, store, node, &store.hash_user(user), gate).await?;
    Ok(forgot)
}

/// The node's side: reads `PB_CONTROL` with its durable consumer forever and applies each
/// request not asked by itself, answering and acknowledging after it is applied. After a
/// failure (NATS down) it waits and resumes; an unacknowledged request comes back.
pub async fn run(
    js: Context,
    client: async_nats::Client,
    store: Store,
    node: String,
    gate: publisher::Gate,
) {
    let mut failed: Option<Duration> = None;
    loop {
        if let Some(wait) = failed {
            tokio::time::sleep(wait).await;
        }
        match follow(&js, &client, &store, &node, &gate).await {
            Ok(()) => failed = None,
            Err(e) => {
                tracing::warn!(error = %e, "cluster: reading forget requests failed; retrying");
                failed = Some(publisher::backoff(failed));
            }
        }
    }
}

/// Makes sure `node`'s consumer exists (at start, so requests made while it is down wait for
/// it).
pub async fn ensure_consumer(
    js: &Context,
    node: &str,
) -> Result<async_nats::jetstream::consumer::Consumer<pull::Config>, ClusterError> {
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("PB_CONTROL: {e}"));
    let stream = js
        .get_or_create_stream(control_config())
        .await
        .map_err(|e| nats(&e))?;
    let name = consumer_name(node);
    stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(120),
                filter_subject: FORGET_SUBJECT.into(),
                description: Some(format!("personabot: forget requests for node {node}")),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats(&e))
}

async fn follow(
    js: &Context,
    client: &async_nats::Client,
    store: &Store,
    node: &str,
    gate: &publisher::Gate,
) -> Result<(), ClusterError> {
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("PB_CONTROL: {e}"));
    let consumer = ensure_consumer(js, node).await?;
    let mut messages = consumer.messages().await.map_err(|e| nats(&e))?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| nats(&e))?;
        let Ok(request) = serde_json::from_slice::<ForgetRequest>(&message.payload) else {
            tracing::warn!("cluster: an unreadable forget request was dropped");
            message.ack().await.map_err(|e| nats(&e))?;
            continue;
        };
        if request.from != node {
            let forgot = apply(js, store, node, &request.user, gate).await?;
            tracing::info!(
                request = %request.request,
                interactions = forgot.interactions,
                tickets = forgot.tickets,
                messages = forgot.messages,
                "cluster: a customer was forgotten on request"
            );
            let answer = serde_json::to_vec(&forgot).map_err(|e| nats(&e))?;
            client
                .publish(answers_subject(&request.request), answer.into())
                .await
                .map_err(|e| nats(&e))?;
        }
        message.ack().await.map_err(|e| nats(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_never_shows_the_user() {
        let request = new_request("alice@example.com", "a").unwrap();
        assert!(!format!("{request:?}").contains("alice"));
        assert_eq!(request.request.len(), 16);
        assert_ne!(request.request, new_request("x", "a").unwrap().request);
    }

    #[test]
    fn names() {
        assert_eq!(answers_subject("0a1b"), "pb.control.forgotten.0a1b");
        assert_eq!(consumer_name("eu-2"), "forget-eu-2");
        let config = control_config();
        assert_eq!(config.retention, stream::RetentionPolicy::Interest);
        assert_eq!(config.subjects, vec![FORGET_SUBJECT.to_string()]);
        assert!(config.max_age > Duration::ZERO);
    }

    #[test]
    fn which_tickets_mention_the_user() {
        let ticket = |user: &str, lines: &[Option<&str>]| -> Ticket {
            let transcript: Vec<_> = lines
                .iter()
                .map(|u| json!({"at_ms": 1, "from": {"kind": "customer"}, "user": u, "text": "x"}))
                .collect();
            serde_json::from_value(json!({
                "id": 16, "team": "billing", "status": "open", "created_ms": 1,
                "updated_ms": 1, "channel": "web", "conversation": "c", "user": user,
                "persona": null, "intent": null, "evidence": [], "reason": "r",
                "interaction": 1, "transcript": transcript, "claimed_by": null,
                "resolved_by": null, "relabels": []
            }))
            .expect("a ticket")
        };
        for (t, mentions) in [
            (ticket("u_x", &[]), true),
            (ticket("u_y", &[]), false),
            (ticket("u_y", &[Some("u_y"), None]), false),
            (ticket("u_y", &[Some("u_y"), Some("u_x")]), true),
        ] {
            assert_eq!(ticket_mentions(&t, "u_x"), mentions, "{t:?}");
        }
    }

    #[test]
    fn a_forgotten_event_keeps_nothing_of_the_customer_and_comes_last() {
        let ticket: Ticket = serde_json::from_value(json!({
            "id": 17, "team": "billing", "status": "open", "created_ms": 1,
            "updated_ms": 900, "channel": "web", "conversation": "c-secret", "user": "u_x",
            "persona": null, "intent": null, "evidence": [], "reason": "secret reason",
            "interaction": 5, "transcript": [{"at_ms": 1, "from": {"kind": "customer"},
            "user": "u_x", "text": "my secret words"}], "claimed_by": "ann",
            "resolved_by": null, "relabels": []
        }))
        .expect("a ticket");
        let last = TicketEvent {
            event: "claimed".into(),
            node: "b".into(),
            interaction: 5,
            at_ms: 900,
            ticket,
            has_contact: true,
        };
        for (at_ms, updated_ms) in [(1_000, 1_000), (900, 901), (10, 901)] {
            let gone = forgotten_event(&last, at_ms);
            assert_eq!(gone.event, crate::cluster::view::FORGOTTEN);
            assert_eq!((gone.node.as_str(), gone.ticket.id), ("b", 17));
            assert_eq!(
                gone.ticket.updated_ms, updated_ms,
                "newer than the last event"
            );
            let body = serde_json::to_string(&gone).expect("JSON");
            for kept in ["secret", "u_x", "\"ann\""] {
                assert!(!body.contains(kept), "{kept} in {body}");
            }
        }
    }
}

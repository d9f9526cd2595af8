//! Tickets through the pipeline: claim, relabel and resolve.

use personabot::store::{StoreError, TicketStatus};

use crate::harness::{open_pipeline, refused, say, CHANNEL};

#[test]
fn ticket_lifecycle_claim_relabel_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store().clone();

    let opened = say(&p, "life", "dana", "I'd like a refund please");
    let ticket = opened.ticket.clone().expect("a refund opens a ticket");
    assert_eq!(
        (ticket.team.as_str(), ticket.status),
        ("billing", TicketStatus::Open)
    );
    assert_eq!(
        ticket.interaction,
        opened.interaction.unwrap(),
        "the ticket points at the interaction that opened it"
    );
    let t = ticket.id;

    // Before the claim, follow-ups join the ticket with a visible reply.
    let joined = say(&p, "life", "dana", "any news on this?");
    assert_eq!(joined.ticket.as_ref().map(|t| t.id), Some(t));
    assert!(joined
        .reply
        .as_deref()
        .unwrap()
        .contains(&format!("ticket #{t}")));

    let claimed = store.claim_ticket(t, "agent-ann").unwrap();
    assert_eq!(
        (claimed.status, claimed.claimed_by.as_deref()),
        (TicketStatus::Claimed, Some("agent-ann"))
    );
    assert_eq!(
        store
            .conversation(CHANNEL, "life")
            .unwrap()
            .open_ticket
            .unwrap()
            .claimed_by
            .as_deref(),
        Some("agent-ann")
    );
    let msg = refused(
        store.claim_ticket(t, "agent-bob"),
        "claim by a second agent",
    );
    assert!(msg.contains("already claimed by agent-ann"), "{msg}");
    assert_eq!(
        store
            .claim_ticket(t, "agent-ann")
            .unwrap()
            .claimed_by
            .as_deref(),
        Some("agent-ann"),
        "re-claim by the owner is fine"
    );

    // Claimed: the bot stays silent, but still records the turn and the transcript.
    for text in ["hello?", "how much is the growth plan?"] {
        let o = say(&p, "life", "dana", text);
        assert_eq!(
            o.reply, None,
            "{text:?}: the bot must stay silent while an agent owns the conversation"
        );
        let stored = store.interaction(o.interaction.unwrap()).unwrap().unwrap();
        assert_eq!(
            (stored.reply, stored.ticket, stored.route.kind.as_str()),
            (None, Some(t), "ticket")
        );
    }
    let transcript = store.ticket(t).unwrap().unwrap().transcript;
    assert!(
        transcript
            .iter()
            .any(|l| l.text == "how much is the growth plan?"),
        "silent turns go to the ticket transcript"
    );

    p.agent_reply(t, "agent-ann", "Refund issued, sorry for the trouble")
        .unwrap();
    let last = store.ticket(t).unwrap().unwrap().transcript.pop().unwrap();
    assert_eq!(
        last.from,
        personabot::store::Actor::Agent("agent-ann".into())
    );

    // Relabel: stored on the ticket and as ground truth on the interaction that opened it.
    let msg = refused(
        store.relabel_ticket(t, None, None, "agent-ann"),
        "relabel with nothing",
    );
    assert!(msg.contains("needs an intent, a persona"), "{msg}");
    let relabelled = store
        .relabel_ticket(t, Some("billing"), None, "agent-ann")
        .unwrap();
    assert_eq!(relabelled.relabels.len(), 1);
    assert_eq!(relabelled.relabels[0].intent.as_deref(), Some("billing"));
    let relabelled = store
        .relabel_ticket(t, None, Some("ecommerce-seller"), "agent-ann")
        .unwrap();
    assert_eq!(relabelled.relabels.len(), 2);
    let label = store
        .interaction(ticket.interaction)
        .unwrap()
        .unwrap()
        .label
        .expect("label on the opening interaction");
    assert_eq!(
        (
            label.intent.as_deref(),
            label.persona.as_deref(),
            label.by.as_str()
        ),
        (Some("billing"), Some("ecommerce-seller"), "agent-ann"),
        "a persona-only relabel keeps the earlier intent label"
    );
    let follow_up = store
        .interaction(joined.interaction.unwrap())
        .unwrap()
        .unwrap();
    assert!(
        follow_up.label.is_none(),
        "only the opening interaction is labelled"
    );

    // Resolve: the conversation goes back to the bot.
    let resolved = store.resolve_ticket(t, "agent-ann").unwrap();
    assert_eq!(
        (resolved.status, resolved.resolved_by.as_deref()),
        (TicketStatus::Resolved, Some("agent-ann"))
    );
    assert!(store
        .conversation(CHANNEL, "life")
        .unwrap()
        .open_ticket
        .is_none());
    refused(store.resolve_ticket(t, "agent-ann"), "resolving twice");
    refused(
        store.claim_ticket(t, "agent-bob"),
        "claiming a resolved ticket",
    );
    let back = say(&p, "life", "dana", "how much is the growth plan?");
    assert_eq!(back.decision.kind.as_str(), "answer");
    assert!(
        back.reply.as_deref().unwrap().contains("Growth"),
        "the bot answers again: {:?}",
        back.reply
    );
    assert!(back.ticket.is_none());

    assert!(matches!(
        store.claim_ticket(999, "x"),
        Err(StoreError::NotFound {
            what: "ticket",
            id: 999
        })
    ));
    assert_eq!(
        store
            .tickets(Some("billing"), Some(TicketStatus::Resolved))
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .tickets(Some("billing"), Some(TicketStatus::Open))
        .unwrap()
        .is_empty());
}

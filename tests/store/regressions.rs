//! Regression tests: each reproduced a bug found while writing these tests (the doc comment
//! says what used to go wrong); all are fixed.

use std::time::Duration;

use personabot::engine::pipeline::Inbound;
use personabot::store::now_ms;

use crate::harness::{open_pipeline, say, CHANNEL};
use crate::support;

/// A ticket opened by "Talk to a human" with no answer to rate has `interaction: 0`.
/// `relabel_ticket` commits the label on the ticket, then fails on `update_interaction(0)`:
/// the caller gets `NotFound` although the relabel was stored (a retry stores it twice).
#[test]
fn regression_relabel_of_a_button_ticket_errors_after_writing() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let t = p
        .feedback(CHANNEL, "button", "mo", false)
        .unwrap()
        .ticket
        .unwrap();
    assert_eq!(t.interaction, 0);
    let result = p
        .store()
        .relabel_ticket(t.id, Some("refund"), None, "agent-ann");
    let stored = p.store().ticket(t.id).unwrap().unwrap().relabels.len();
    assert!(
        result.is_ok(),
        "relabel failed ({result:?}) yet {stored} label(s) were stored on the ticket"
    );
}

/// The message is cut to `max_message_chars` before redaction, so an email straddling the limit
/// loses its top-level domain, no longer looks like an email, and is stored in clear.
#[test]
fn regression_email_cut_by_truncation_is_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let max = support::shipped().settings.limits.max_message_chars;
    let text = format!(
        "{}bob.private@example.net thanks",
        "a ".repeat((max - 16) / 2)
    );
    let o = say(&p, "cut", "mo", &text);
    assert!(o.truncated);
    let stored = p
        .store()
        .interaction(o.interaction.unwrap())
        .unwrap()
        .unwrap()
        .text;
    let tail: String = stored
        .chars()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        !stored.contains("bob.private"),
        "stored text ends with {tail:?}"
    );
}

/// Redaction gaps: the digit-run regex allows at most two separator characters between digits,
/// so "4111 - 1111 - 1111 - 1111" (space, dash, space) is not seen as a card; the email regex's
/// local part is ASCII-only, so "jürgen.müller@example.de" keeps "jürgen.mü".
#[test]
fn regression_redaction_gaps() {
    use personabot::store::redact::redact;
    for (input, secret) in [
        ("card 4111 - 1111 - 1111 - 1111 please", "4111 - 1111"),
        ("call 020 - 7946 - 0958", "7946 - 0958"),
        ("mail jürgen.müller@example.de", "jürgen"),
    ] {
        let out = redact(input);
        assert!(!out.contains(secret), "{input:?} was stored as {out:?}");
    }
}

/// After `purge_before` removed the self-help answer a conversation still waits feedback on,
/// typing "that didn't help" stores the interaction and opens the ticket, then fails on
/// `set_feedback` of the purged answer: the customer is told the message was not processed
/// although it was (and a retry opens nothing new but is stored again).
#[test]
fn regression_escalation_after_purge_errors_after_storing() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "purged", "mo", "the dashboard is not loading");
    std::thread::sleep(Duration::from_millis(3));
    p.store().purge_before(now_ms()).unwrap();
    let result = p.handle(&Inbound {
        channel: CHANNEL.into(),
        conversation: "purged".into(),
        user: "mo".into(),
        text: "that didn't help".into(),
    });
    let (stored, tickets) = (
        p.store().interaction_count(),
        p.store().tickets(None, None).unwrap().len(),
    );
    assert!(
        result.is_ok(),
        "handle failed ({result:?}) after storing {stored} interaction(s) and {tickets} ticket(s)"
    );
}

/// Same root cause through the button: "Talk to a human" calls `set_feedback` on the purged
/// answer first and fails, every time, until the customer types something else.
#[test]
fn regression_talk_to_a_human_after_purge_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "purged", "mo", "the dashboard is not loading");
    std::thread::sleep(Duration::from_millis(3));
    p.store().purge_before(now_ms()).unwrap();
    let result = p.feedback(CHANNEL, "purged", "mo", false);
    assert!(result.is_ok(), "{result:?}");
}

/// `forget_user` deletes the tickets whose `user` is the forgotten one, but deletes conversation
/// state only for conversations where that user has interactions. A ticket opened by one user
/// pressing "Talk to a human" in a conversation where another user typed is deleted while the
/// conversation still points at it: every later message "joins" a ticket that does not exist
/// ("I've added this to ticket #1"), the bot never answers again, and the ticket cannot be
/// resolved.
#[test]
fn regression_forget_user_leaves_a_dangling_open_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "shared", "typist", "the dashboard is not loading");
    let t = p
        .feedback(CHANNEL, "shared", "presser", false)
        .unwrap()
        .ticket
        .unwrap()
        .id;
    p.store().forget_user("presser").unwrap();
    assert!(p.store().ticket(t).unwrap().is_none());
    let state = p.store().conversation(CHANNEL, "shared").unwrap();
    let next = say(&p, "shared", "typist", "how much is the growth plan?");
    assert!(
        state.open_ticket.is_none(),
        "the conversation still belongs to deleted ticket #{t}; the next message got {:?} / {:?}",
        next.decision.kind,
        next.reply
    );
}

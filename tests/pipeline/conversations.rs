//! Runs the conversation table through the pipeline; feedback with nothing to rate.

use personabot::engine::pipeline::{reply_as_sent, Outcome, Pipeline, PipelineError};
use personabot::store::{InteractionFilter, TicketStatus};

use crate::table::{cases, Act, Case};
use crate::{inbound, pipeline, CHANNEL};

fn check_opt(case: &str, step: usize, what: &str, want: Option<&str>, got: Option<&str>) {
    match want {
        None => {}
        Some("") => assert_eq!(got, None, "{case} / step {step}: {what}"),
        Some(w) => assert_eq!(got, Some(w), "{case} / step {step}: {what}"),
    }
}

fn run_case(p: &Pipeline, conversation: &str, case: &Case) {
    let store = p.store();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (n, (act, want)) in case.steps.iter().enumerate() {
        let name = case.name;
        let tickets_before = store.tickets(None, None).unwrap().len();
        let count_before = store.interaction_count();
        let o = match act {
            Act::Say(text) => p.handle(&inbound(conversation, text)),
            Act::Helped => p.feedback(CHANNEL, conversation, "pat", true),
            Act::Human => p.feedback(CHANNEL, conversation, "pat", false),
        }
        .unwrap_or_else(|e| panic!("{name} / step {n} {act:?}: {e}"));
        let d = &o.decision;
        let ctx = format!(
            "{name} / step {n} {act:?}: reason {:?}, reply {:?}",
            d.reason, o.reply
        );
        assert_eq!(d.kind.as_str(), want.kind, "{ctx}");
        check_opt(name, n, "team", want.team, d.team.as_deref());
        check_opt(name, n, "answer", want.answer, d.answer.as_deref());
        check_opt(
            name,
            n,
            "persona",
            want.persona,
            d.persona.as_ref().map(|p| p.id.as_str()),
        );
        check_opt(
            name,
            n,
            "intent",
            want.intent,
            d.intent.as_ref().map(|i| i.id.as_str()),
        );
        if let Some(choices) = &want.choices {
            assert_eq!(&d.choices, choices, "{ctx}");
        }
        if let Some(r) = want.reason_has {
            assert!(d.reason.contains(r), "{ctx}: reason should contain {r:?}");
        }
        let reply = o
            .reply
            .as_deref()
            .unwrap_or_else(|| panic!("{ctx}: the bot must reply"));
        let mut from = 0;
        for s in &want.says {
            let at = reply[from..]
                .find(s)
                .unwrap_or_else(|| panic!("{ctx}: reply lacks {s:?} (in order)"));
            from += at + s.len();
        }

        // Stored or not: a typed message is one new interaction that matches the outcome; a
        // button press stores no interaction.
        match act {
            Act::Say(text) => {
                assert_eq!(store.interaction_count(), count_before + 1, "{ctx}");
                let stored = store
                    .interaction(o.interaction.expect("stored"))
                    .unwrap()
                    .expect("interaction");
                assert_eq!(stored.text, *text, "{ctx}");
                assert_eq!(stored.route.kind, want.kind, "{ctx}");
                assert_eq!(stored.route.team, d.team, "{ctx}");
                assert_eq!(stored.route.answer, d.answer, "{ctx}");
                // The answer's text is stored by reference; put back, it is the reply sent.
                assert_eq!(reply_as_sent(&o.catalog, &stored), o.reply, "{ctx}");
                assert_eq!(stored.ticket, o.ticket.as_ref().map(|t| t.id), "{ctx}");
                assert_eq!(
                    stored.persona.map(|p| p.id),
                    d.persona.as_ref().map(|p| p.id.clone()),
                    "{ctx}"
                );
                assert_eq!(
                    stored.intent.map(|i| i.id),
                    d.intent.as_ref().map(|i| i.id.clone()),
                    "{ctx}"
                );
            }
            Act::Helped | Act::Human => {
                assert_eq!(store.interaction_count(), count_before, "{ctx}")
            }
        }

        let tickets_after = store.tickets(None, None).unwrap().len();
        if want.opens_ticket {
            assert_eq!(
                tickets_after,
                tickets_before + 1,
                "{ctx}: a ticket should be opened"
            );
            let t = o
                .ticket
                .as_ref()
                .expect("the outcome carries the new ticket");
            let saved = store.ticket(t.id).unwrap().expect("ticket saved");
            assert_eq!(saved.status, TicketStatus::Open, "{ctx}");
            assert_eq!(Some(saved.team.as_str()), d.team.as_deref(), "{ctx}");
            assert_eq!(saved.conversation, conversation, "{ctx}");
            assert!(
                !saved.transcript.is_empty(),
                "{ctx}: the ticket carries the transcript"
            );
            let state = store.conversation(CHANNEL, conversation).unwrap();
            assert_eq!(
                state.open_ticket.as_ref().map(|o| o.id),
                Some(t.id),
                "{ctx}: the ticket owns the conversation"
            );
            if let Some((intent, step)) = want.ticket_about {
                assert_eq!(
                    saved.intent.as_ref().map(|i| i.id.as_str()),
                    Some(intent),
                    "{ctx}: ticket intent"
                );
                let origin = outcomes
                    .get(step)
                    .map_or(o.interaction, |earlier| earlier.interaction);
                assert_eq!(
                    Some(saved.interaction),
                    origin,
                    "{ctx}: ticket origin interaction"
                );
            }
        } else {
            assert_eq!(
                tickets_after, tickets_before,
                "{ctx}: no ticket should be opened"
            );
        }
        if let Some((step, helped)) = want.feedback_on {
            let id = outcomes[step]
                .interaction
                .expect("the rated step was stored");
            let rated = store.interaction(id).unwrap().unwrap();
            assert_eq!(
                rated.feedback.map(|f| f.helped),
                Some(helped),
                "{ctx}: feedback on step {step}"
            );
            let state = store.conversation(CHANNEL, conversation).unwrap();
            assert!(
                state.awaiting_feedback.is_none(),
                "{ctx}: feedback is given once"
            );
        }
        outcomes.push(o);
    }
}

#[test]
fn conversations_route_as_the_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let table = cases();
    for (n, case) in table.iter().enumerate() {
        run_case(&p, &format!("case-{n}"), case);
    }
    // Every conversation's turn counter equals its typed messages.
    for (n, case) in table.iter().enumerate() {
        let typed = case
            .steps
            .iter()
            .filter(|(a, _)| matches!(a, Act::Say(_)))
            .count();
        let state = p
            .store()
            .conversation(CHANNEL, &format!("case-{n}"))
            .unwrap();
        assert_eq!(state.turns as usize, typed, "{}", case.name);
    }
}

#[test]
fn feedback_without_an_answer_to_rate() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    // "That helped" with nothing to rate is refused and changes nothing.
    match p.feedback(CHANNEL, "fb", "pat", true) {
        Err(e @ PipelineError::Refused(_)) => {
            assert!(e.user_message().contains("no answer waiting"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Rating twice: the second "That helped" has nothing left to rate.
    p.handle(&inbound("fb", "the dashboard is not loading"))
        .unwrap();
    p.feedback(CHANNEL, "fb", "pat", true).unwrap();
    assert!(matches!(
        p.feedback(CHANNEL, "fb", "pat", true),
        Err(PipelineError::Refused(_))
    ));
    assert_eq!(
        p.store()
            .interactions(&InteractionFilter {
                outcome: Some("helped".into()),
                ..Default::default()
            })
            .unwrap()
            .len(),
        1
    );

    // "Talk to a human" with an open ticket points at it instead of opening another.
    let first = p.feedback(CHANNEL, "fb2", "pat", false).unwrap();
    let t = first.ticket.expect("a ticket").id;
    assert_eq!(first.decision.team.as_deref(), Some("support"));
    let again = p.feedback(CHANNEL, "fb2", "pat", false).unwrap();
    assert_eq!(again.ticket.map(|t| t.id), Some(t));
    assert!(again.reply.unwrap().contains(&format!("ticket #{t}")));
    assert_eq!(p.store().tickets(None, None).unwrap().len(), 1);
}

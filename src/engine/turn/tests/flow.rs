//! The customer's conversation on the shipped catalog (issue #14): the buttons every turn
//! offers, what records "not helped", one ticket per need, tone and priority, and the contact
//! question on a web handoff.

use super::fake::{say, Act, Fake, Step};
use super::shipped;
use crate::core::wording;
use crate::store::{Priority, TicketChange};

/// Runs `before`, then `act`, and returns the last step.
fn after(fake: &mut Fake<'_>, before: &[Act], act: Act) -> Step {
    for a in before {
        if let Some(Step {
            outcome: Err(e), ..
        }) = fake.act(a)
        {
            panic!("setting up {a:?}: {e}");
        }
    }
    fake.act(&act).expect("a customer action")
}

fn reply(step: &Step) -> String {
    let outcome = step.outcome.as_ref().expect("not refused");
    outcome.reply.clone().unwrap_or_default()
}

/// A row: its name, the actions before, the action, the route kind and the buttons it offers.
type ButtonsRow = (
    &'static str,
    Vec<Act>,
    Act,
    &'static str,
    &'static [&'static str],
);

const SELF_HELP: &[&str] = &["helped", "human"];
const NONE: &[&str] = &[];

#[test]
fn every_turn_kind_offers_the_right_buttons() {
    let clarify = || say("how much does it cost and can I get a refund?");
    let rows: Vec<ButtonsRow> = vec![
        (
            "a self-help answer",
            vec![],
            say("how much is it?"),
            "answer",
            SELF_HELP,
        ),
        ("a greeting", vec![], say("hi there"), "answer", NONE),
        (
            "thanks",
            vec![say("how much is it?")],
            say("thanks!"),
            "answer",
            NONE,
        ),
        (
            "'That helped' is confirmed",
            vec![say("how much is it?")],
            Act::Helped,
            "answer",
            NONE,
        ),
        (
            "a handoff",
            vec![],
            say("I'd like a refund please"),
            "ticket",
            NONE,
        ),
        (
            "'Talk to a human'",
            vec![say("how much is it?")],
            Act::Human,
            "ticket",
            NONE,
        ),
        (
            "typed 'that didn't help'",
            vec![say("how much is it?")],
            say("that didn't help"),
            "ticket",
            NONE,
        ),
        (
            "a message joining a ticket",
            vec![say("I'd like a refund please")],
            say("any news?"),
            "ticket",
            NONE,
        ),
        ("a clarifying question", vec![], clarify(), "clarify", NONE),
        (
            "an option chosen",
            vec![clarify()],
            say("the first one"),
            "answer",
            SELF_HELP,
        ),
        ("a miss", vec![], say("asdf qwerty"), "fallback", NONE),
        (
            "out of scope",
            vec![],
            say("what's the weather like in Lisbon tomorrow"),
            "fallback",
            NONE,
        ),
        (
            "who they are, not what they need",
            vec![],
            say("I'm the founder of a 5-person startup"),
            "fallback",
            NONE,
        ),
    ];
    let rules = shipped();
    for (name, before, act, kind, actions) in rows {
        let mut fake = Fake::new(rules);
        let step = after(&mut fake, &before, act);
        let outcome = step.outcome.as_ref().expect("not refused");
        assert_eq!(
            outcome.decision.kind.as_str(),
            kind,
            "{name}: {}",
            outcome.decision.reason
        );
        assert_eq!(outcome.decision.actions(), actions, "{name}");
        if let Some(w) = &step.turn {
            assert_eq!(w.interaction.route.actions, actions, "{name}: recorded");
        }
    }
}

#[test]
fn only_a_click_or_saying_so_records_not_helped() {
    let rules = shipped();
    // A later ticket on the answer's intent: no rating, but the ticket points at the answer.
    let mut fake = Fake::new(rules);
    let step = after(
        &mut fake,
        &[say("How much does Hearth cost?")],
        say("We're an enterprise with 300 seats and need a quote"),
    );
    let outcome = step.outcome.as_ref().unwrap();
    assert_eq!(
        outcome.decision.kind.as_str(),
        "ticket",
        "{}",
        outcome.decision.reason
    );
    let ticket = outcome.ticket.as_ref().expect("a sales ticket");
    assert_eq!((ticket.team.as_str(), ticket.interaction), ("sales", 1));
    assert_eq!(
        step.turn.as_ref().unwrap().not_helped,
        None,
        "no implicit rating"
    );
    assert!(fake.interaction(1).unwrap().feedback.is_none());

    // Asking for a person in words is not a rating either.
    let mut fake = Fake::new(rules);
    let step = after(
        &mut fake,
        &[say("the app keeps crashing on my phone")],
        say("can I talk to a human?"),
    );
    assert_eq!(step.turn.as_ref().unwrap().not_helped, None);
    assert_eq!(step.outcome.unwrap().ticket.unwrap().interaction, 1);

    // Saying it did not help is (the intent marked `not_helped`), as is the button.
    let mut fake = Fake::new(rules);
    let step = after(
        &mut fake,
        &[say("the app keeps crashing on my phone")],
        say("that didn't help"),
    );
    assert_eq!(step.turn.as_ref().unwrap().not_helped, Some(1));
    let mut fake = Fake::new(rules);
    let step = after(
        &mut fake,
        &[say("the app keeps crashing on my phone")],
        Act::Human,
    );
    assert_eq!(
        step.rated.map(|r| (r.interaction, r.helped)),
        Some((1, false))
    );
}

#[test]
fn a_new_need_gets_its_own_ticket() {
    let rules = shipped();
    let mut fake = Fake::new(rules);
    let security = after(
        &mut fake,
        &[],
        say(
            "I'm the CISO of a 5000-employee bank; we need your SOC 2 report and a security review",
        ),
    );
    let first = security.outcome.unwrap().ticket.expect("a security ticket");
    assert_eq!((first.id, first.team.as_str()), (1, "security"));

    // The acceptance case: after a Security ticket, Enterprise pricing goes to Sales.
    let sales = after(
        &mut fake,
        &[],
        say("What does Enterprise cost for 300 seats?"),
    );
    let text = reply(&sales);
    let outcome = sales.outcome.unwrap();
    let second = outcome.ticket.expect("a separate ticket");
    assert_eq!(
        (second.id, second.team.as_str()),
        (2, "sales"),
        "{}",
        outcome.decision.reason
    );
    assert!(matches!(sales.turn.unwrap().ticket, TicketChange::Open(_)));
    assert!(text.contains("new ticket #2 for our Sales team"), "{text}");
    assert!(
        text.contains("Ticket #1 with our Security team stays open"),
        "{text}"
    );
    let open: Vec<u64> = fake.state.open_tickets().map(|o| o.id).collect();
    assert_eq!(open, [2, 1]);

    // Follow-ups join the ticket of their team, else the most recent.
    let rows: &[(&str, u64)] = &[
        ("any update on the SOC 2 report and the pen test?", 1),
        ("and what's the price per seat on Enterprise?", 2),
        ("any news?", 2),
        ("can I talk to a person about this?", 2),
        ("the security team please", 1),
    ];
    for (text, want) in rows {
        let step = after(&mut fake, &[], say(text));
        let outcome = step.outcome.unwrap();
        assert_eq!(
            outcome.decision.joins_ticket.map(|o| o.id),
            Some(*want),
            "{text}"
        );
        assert!(
            matches!(step.turn.unwrap().ticket, TicketChange::Append { id, .. } if id == *want)
        );
    }

    // Asking for a person of a third team opens that team's ticket.
    let billing = after(&mut fake, &[], say("I'd like to speak to the billing team"));
    let outcome = billing.outcome.unwrap();
    let third = outcome.ticket.expect("a billing ticket");
    assert_eq!((third.id, third.team.as_str()), (3, "billing"));
    assert!(outcome.decision.joins_ticket.is_none());
}

#[test]
fn frustration_gets_an_apology_and_high_priority() {
    let rules = shipped();
    let mut fake = Fake::new(rules);
    let calm = after(&mut fake, &[], say("I'd like a refund please"));
    assert!(!reply(&calm).starts_with(wording::APOLOGY));
    assert_eq!(
        calm.outcome.unwrap().ticket.unwrap().priority,
        Priority::Normal
    );
    // Frustration on a joined ticket raises it.
    let angry = after(&mut fake, &[], say("This is ridiculous, still waiting!!!"));
    assert!(
        reply(&angry).starts_with(wording::APOLOGY),
        "{}",
        reply(&angry)
    );
    assert!(angry.turn.as_ref().unwrap().patch.high_priority);
    assert_eq!(fake.ticket(1).unwrap().priority, Priority::High);

    let mut fake = Fake::new(rules);
    let furious = after(
        &mut fake,
        &[],
        say("You charged me twice this month and nobody answers my emails!!!"),
    );
    let text = reply(&furious);
    assert!(text.starts_with(wording::APOLOGY), "{text}");
    let ticket = furious.outcome.unwrap().ticket.expect("a billing ticket");
    assert_eq!(
        (ticket.team.as_str(), ticket.priority),
        ("billing", Priority::High)
    );
    assert!(fake.state.frustrated);
    // A ticket opened later in the conversation is high too, even from a calm message.
    let later = after(
        &mut fake,
        &[],
        say("I'm a journalist writing a story about Hearth"),
    );
    assert!(!reply(&later).starts_with(wording::APOLOGY));
    let ticket = later.outcome.unwrap().ticket.expect("a press ticket");
    assert_eq!(
        (ticket.team.as_str(), ticket.priority),
        ("press", Priority::High)
    );
}

#[test]
fn a_web_handoff_asks_once_for_an_email() {
    let rules = shipped();
    let mut fake = Fake::new(rules);
    fake.channel = "web";
    let opened = after(&mut fake, &[], say("I'd like a refund please"));
    assert!(
        reply(&opened).ends_with(wording::ASK_CONTACT),
        "{}",
        reply(&opened)
    );
    assert_eq!(fake.state.contact.awaiting, Some(1));

    let given = after(&mut fake, &[], say("sure, it's Dana.Doe@Hearth.example"));
    let text = reply(&given);
    assert_eq!(text, wording::contact_noted("Dana.Doe@hearth.example", 1));
    let write = given.turn.as_ref().unwrap();
    let i = &write.interaction;
    assert_eq!(i.text, "sure, it's [email]");
    assert!(i.evidence.is_empty() && i.intent_scores.is_empty() && i.persona_scores.is_empty());
    assert_eq!((i.intent.as_ref(), i.ticket), (None, Some(1)));
    let stored = serde_json::to_string(&write.interaction).unwrap()
        + &serde_json::to_string(&write.state).unwrap();
    assert!(!stored.to_lowercase().contains("dana.doe"), "{stored}");
    let ticket = fake.ticket(1).unwrap();
    assert_eq!(ticket.contact.as_deref(), Some("Dana.Doe@hearth.example"));
    let transcript = serde_json::to_string(&ticket.transcript).unwrap();
    assert!(
        !transcript.to_lowercase().contains("dana.doe"),
        "{transcript}"
    );
    assert_eq!(fake.state.contact.ticket, Some(1));

    // A later ticket reuses the contact and does not ask again.
    let press = after(
        &mut fake,
        &[],
        say("I'm a journalist writing a story about Hearth"),
    );
    assert!(!reply(&press).contains(wording::ASK_CONTACT));
    let ticket = press.outcome.unwrap().ticket.expect("a press ticket");
    assert_eq!(ticket.contact.as_deref(), Some("Dana.Doe@hearth.example"));
}

#[test]
fn the_contact_question_is_optional_and_web_only() {
    let rules = shipped();
    // Anything else is a normal message, and the question is not asked again.
    let mut fake = Fake::new(rules);
    fake.channel = "web";
    let step = after(
        &mut fake,
        &[
            say("I'd like a refund please"),
            say("no thanks, how much is the growth plan?"),
        ],
        say("I'm a journalist writing a story about Hearth"),
    );
    assert!(fake.state.contact.asked && fake.state.contact.awaiting.is_none());
    assert!(
        !reply(&step).contains(wording::ASK_CONTACT),
        "{}",
        reply(&step)
    );
    assert_eq!(step.outcome.unwrap().ticket.unwrap().contact, None);

    // "Talk to a human" on the web asks too.
    let mut fake = Fake::new(rules);
    fake.channel = "web";
    let step = after(&mut fake, &[say("how much is it?")], Act::Human);
    assert!(
        reply(&step).ends_with(wording::ASK_CONTACT),
        "{}",
        reply(&step)
    );
    let given = after(&mut fake, &[], say("pat@example.com"));
    assert_eq!(reply(&given), wording::contact_noted("pat@example.com", 1));
    assert_eq!(
        fake.ticket(1).unwrap().contact.as_deref(),
        Some("pat@example.com")
    );

    // Other channels reach the customer where they are: no question.
    let mut fake = Fake::new(rules);
    let step = after(&mut fake, &[], say("I'd like a refund please"));
    assert!(!reply(&step).contains(wording::ASK_CONTACT));
    let step = after(&mut fake, &[], say("pat@example.com"));
    assert_eq!(
        step.outcome.unwrap().decision.joins_ticket.map(|o| o.id),
        Some(1)
    );
    assert_eq!(fake.ticket(1).unwrap().contact, None);
}

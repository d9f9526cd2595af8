//! Table tests of the turn planner on the shipped catalog, with no store underneath: a small
//! in-memory stand-in ([`fake`]) hands out ids and keeps what each plan writes, as the sled
//! writer would.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::*;
use crate::catalog::settings::Settings;
use crate::core::conversation::ConversationState;
use crate::store::{Actor, TicketChange};

mod fake;
mod flow;

use fake::{say, Act, Fake, Step};

/// The one clock value every planned record carries.
const NOW: u64 = 1_800_000_000_000;

fn shipped() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let settings = Settings::built_in();
        let catalog = crate::catalog::load(Path::new(env!("CARGO_MANIFEST_DIR")), &settings.teams)
            .unwrap_or_else(|d| panic!("shipped catalog: {d}"));
        let classifier = Classifier::new(&catalog).expect("classifier");
        Rules::new(Arc::new(catalog), Arc::new(classifier), &settings)
    })
}

/// What the tickets of a step must be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum TicketIs {
    #[default]
    Untouched,
    /// A new ticket with this id (from a message or the button).
    Opened(u64),
    /// The message is appended to this ticket, with this many lines (customer, then any reply).
    Joined(u64, usize),
    /// The button shows the ticket already open, writing nothing.
    Shown(u64),
}

/// What the last action of a row must plan. Unset parts are not checked.
#[derive(Debug, Clone, Default)]
struct Expect {
    kind: &'static str,
    /// `Some("")`: none.
    team: Option<&'static str>,
    intent: Option<&'static str>,
    persona: Option<&'static str>,
    answer: Option<&'static str>,
    /// Texts the reply contains, in this order.
    says: Vec<&'static str>,
    /// No reply at all.
    silent: bool,
    reason_has: Option<&'static str>,
    refused: Option<&'static str>,
    /// The interaction the outcome points at.
    interaction: Option<Option<u64>>,
    ticket: TicketIs,
    /// The earlier answer marked "did not help" by the turn's write.
    not_helped: Option<u64>,
    /// The answer rated first, and how.
    rated: Option<(u64, bool)>,
    truncated: bool,
    /// The stored customer text.
    stored_text: Option<&'static str>,
    /// Extra checks on the conversation state after the step.
    state: Option<fn(&ConversationState)>,
}

fn expect(kind: &'static str) -> Expect {
    Expect {
        kind,
        ..Expect::default()
    }
}

fn refused(text: &'static str) -> Expect {
    Expect {
        refused: Some(text),
        ..Expect::default()
    }
}

/// Builder methods setting `Option` fields.
macro_rules! set {
    ($($field:ident: $t:ty),* $(,)?) => {
        $(fn $field(mut self, value: $t) -> Self {
            self.$field = Some(value);
            self
        })*
    };
}

impl Expect {
    set!(team: &'static str, intent: &'static str, persona: &'static str, answer: &'static str);
    set!(reason_has: &'static str, interaction: Option<u64>, not_helped: u64);
    set!(rated: (u64, bool), stored_text: &'static str, state: fn(&ConversationState));

    fn says(mut self, text: &'static str) -> Self {
        self.says.push(text);
        self
    }
    fn silent(mut self) -> Self {
        self.silent = true;
        self
    }
    fn truncated(mut self) -> Self {
        self.truncated = true;
        self
    }
    fn ticket(mut self, ticket: TicketIs) -> Self {
        self.ticket = ticket;
        self
    }
}

struct Row {
    name: &'static str,
    before: Vec<Act>,
    act: Act,
    expect: Expect,
    /// Rules with this message length limit instead of the shipped one.
    max_chars: Option<usize>,
}

fn row(name: &'static str, before: Vec<Act>, act: Act, expect: Expect) -> Row {
    Row {
        name,
        before,
        act,
        expect,
        max_chars: None,
    }
}

const HANDOFF_SUPPORT: &str = "I've passed this to our Support team (ticket #1)";
const REPHRASE: &str = "Could you say it another way?";
const EMPTY: &str = "Your message looks empty";

fn rows() -> Vec<Row> {
    use TicketIs::{Joined, Opened, Shown};
    let founder = || say("I'm the founder of a 5-person startup");
    let refund = || say("I'd like a refund please");
    vec![
        row(
            "a known question gets its self-help answer, awaiting feedback",
            vec![],
            say("how much is it?"),
            expect("answer")
                .intent("pricing")
                .persona("")
                .answer("pricing/default")
                .team("")
                .says("Hearth has four plans")
                .interaction(Some(1))
                .state(|s| {
                    let a = s.awaiting_feedback.as_ref().expect("awaiting feedback");
                    assert_eq!((a.interaction, a.variant.as_str()), (1, "pricing/default"));
                    assert_eq!((s.turns, s.updated_ms, s.recent.len()), (1, NOW, 2));
                }),
        ),
        row(
            "a ticket route opens a ticket with the policy first",
            vec![],
            refund(),
            expect("ticket")
                .intent("refund")
                .team("billing")
                .answer("refund/default")
                .says("Our refund policy:")
                .says("ticket #1")
                .interaction(Some(1))
                .ticket(Opened(1))
                .state(|s| {
                    let open = s.open_ticket.as_ref().expect("owned by the ticket");
                    assert_eq!((open.id, open.team.as_str()), (1, "billing"));
                    assert_eq!(s.last_ticket, Some(1));
                }),
        ),
        row(
            "two intents close together: a clarifying question",
            vec![],
            say("how much does it cost and can I get a refund?"),
            expect("clarify")
                .says("1. Pricing")
                .says("2. Refund")
                .state(|s| assert_eq!(s.pending_choices, ["pricing", "refund"])),
        ),
        row(
            "'1' answers the clarifying question",
            vec![say("how much does it cost and can I get a refund?")],
            say("1"),
            expect("answer")
                .intent("pricing")
                .answer("pricing/default")
                .reason_has("clarifying question")
                .interaction(Some(2))
                .state(|s| assert!(s.pending_choices.is_empty())),
        ),
        row(
            "a first miss asks to rephrase",
            vec![],
            say("asdf qwerty"),
            expect("fallback")
                .intent("")
                .persona("")
                .team("")
                .says(REPHRASE)
                .state(|s| assert_eq!(s.misses, 1)),
        ),
        row(
            "a second miss in a row opens a support ticket",
            vec![say("asdf qwerty")],
            say("blorp zzz"),
            expect("ticket")
                .team("support")
                .says(HANDOFF_SUPPORT)
                .reason_has("2 messages in a row")
                .ticket(Opened(1))
                .state(|s| assert_eq!(s.misses, 0)),
        ),
        row(
            "the persona sticks across turns",
            vec![founder()],
            say("how much is it?"),
            expect("answer")
                .persona("startup-founder")
                .intent("pricing")
                .answer("pricing/startup-founder")
                .says("startup program"),
        ),
        row(
            "a message while a ticket is open joins it",
            vec![refund()],
            say("any news on this?"),
            expect("ticket")
                .team("billing")
                .says("I've added this to ticket #1")
                .reason_has("follow-up on open ticket #1")
                .interaction(Some(2))
                .ticket(Joined(1, 2)),
        ),
        row(
            "a claimed ticket: the message joins it and the bot stays silent",
            vec![refund(), Act::Claim],
            say("any news on this?"),
            expect("ticket")
                .team("billing")
                .silent()
                .interaction(Some(2))
                .ticket(Joined(1, 1)),
        ),
        row(
            "a deleted ticket gives the conversation back to the bot",
            vec![refund(), Act::DeleteTicket],
            say("how much is it?"),
            expect("answer").intent("pricing").answer("pricing/default"),
        ),
        row(
            "'that didn't help' in words escalates the answer and rates it",
            vec![say("The chat widget is not showing on my website")],
            say("that didn't help"),
            expect("ticket")
                .intent("did-not-help")
                .team("support")
                .answer("")
                .says(HANDOFF_SUPPORT)
                .reason_has("after the self-help answer technical-issue/default")
                .ticket(Opened(1))
                .not_helped(1),
        ),
        row(
            "/ticket turns an answer into a ticket for the intent's team",
            vec![],
            Act::AskPerson("how much is it?".into()),
            expect("ticket")
                .intent("pricing")
                .team("sales")
                .answer("")
                .reason_has("customer asked for a person about pricing")
                .ticket(Opened(1)),
        ),
        row(
            "/ticket naming a team goes to that team",
            vec![],
            Act::AskPerson("how much is it? someone from billing please".into()),
            expect("ticket")
                .intent("pricing")
                .team("billing")
                .answer("")
                .reason_has("the customer asked for the billing team")
                .ticket(Opened(1)),
        ),
        row(
            "'That helped' rates the answer and stops waiting",
            vec![say("the app keeps crashing on my phone")],
            Act::Helped,
            expect("answer")
                .intent("technical-issue")
                .says("glad that helped")
                .interaction(Some(1))
                .rated((1, true))
                .state(|s| assert!(s.awaiting_feedback.is_none())),
        ),
        row(
            "'That helped' with no answer waiting is refused",
            vec![say("asdf qwerty")],
            Act::Helped,
            refused("There is no answer waiting for feedback in this conversation."),
        ),
        row(
            "'Talk to a human' after a founder's pricing answer opens a sales ticket",
            vec![founder(), say("how much is it?")],
            Act::Human,
            expect("ticket")
                .team("sales")
                .persona("startup-founder")
                .intent("pricing")
                .says("I've passed this to our Sales team (ticket #1)")
                .reason_has("after the self-help answer pricing/startup-founder")
                .interaction(None)
                .ticket(Opened(1))
                .rated((2, false)),
        ),
        row(
            "'Talk to a human' with nothing to rate goes to support",
            vec![],
            Act::Human,
            expect("ticket")
                .team("support")
                .intent("")
                .says(HANDOFF_SUPPORT)
                .reason_has("customer asked for a human")
                .ticket(Opened(1)),
        ),
        row(
            "'Talk to a human' while a ticket is open shows that ticket",
            vec![refund()],
            Act::Human,
            expect("ticket")
                .team("billing")
                .says("I've added this to ticket #1")
                .reason_has("ticket #1 is already open")
                .ticket(Shown(1)),
        ),
        row(
            "an empty message is answered and not stored",
            vec![],
            say("  \n\t "),
            expect("fallback")
                .says(EMPTY)
                .reason_has("empty message")
                .interaction(None),
        ),
        Row {
            max_chars: Some(40),
            ..row(
                "a long message is cut to the limit, its personal data redacted whole",
                vec![],
                say("how much is it? write to me at dana.doe@example.com please"),
                expect("answer")
                    .intent("pricing")
                    .truncated()
                    .stored_text("how much is it? write to me at [email] p"),
            )
        },
        Row {
            max_chars: Some(16),
            ..row(
                "a message empty once cut to the limit is not stored",
                vec![],
                say(&format!("{}hello", "\u{7}".repeat(20))),
                expect("fallback").says(EMPTY).truncated().interaction(None),
            )
        },
    ]
}

fn check(name: &str, step: &Step, want: &Expect) {
    let outcome = match (&step.outcome, want.refused) {
        (Err(refusal), Some(text)) => return assert_eq!(refusal, text, "{name}"),
        (Err(refusal), None) => panic!("{name}: refused: {refusal}"),
        (Ok(_), Some(_)) => panic!("{name}: not refused"),
        (Ok(outcome), None) => outcome,
    };
    let d = &outcome.decision;
    assert_eq!(d.kind.as_str(), want.kind, "{name}: kind ({})", d.reason);
    let opt = |what: &str, want: Option<&str>, got: Option<&str>| match want {
        None => {}
        Some("") => assert_eq!(got, None, "{name}: {what}"),
        Some(w) => assert_eq!(got, Some(w), "{name}: {what}"),
    };
    opt("team", want.team, d.team.as_deref());
    opt(
        "intent",
        want.intent,
        d.intent.as_ref().map(|p| p.id.as_str()),
    );
    opt(
        "persona",
        want.persona,
        d.persona.as_ref().map(|p| p.id.as_str()),
    );
    opt("answer", want.answer, d.answer.as_deref());
    if let Some(r) = want.reason_has {
        assert!(d.reason.contains(r), "{name}: reason {:?}", d.reason);
    }
    match (&outcome.reply, want.silent) {
        (None, true) => {}
        (Some(reply), false) => {
            let mut from = 0;
            for text in &want.says {
                let at = reply[from..]
                    .find(text)
                    .unwrap_or_else(|| panic!("{name}: {text:?} not in order in {reply:?}"));
                from += at + text.len();
            }
        }
        (reply, _) => panic!("{name}: reply {reply:?}"),
    }
    if let Some(id) = want.interaction {
        assert_eq!(outcome.interaction, id, "{name}: interaction");
    }
    assert_eq!(outcome.truncated, want.truncated, "{name}: truncated");
    check_records(name, step, want, outcome);
}

/// The records written and the event announced.
fn check_records(name: &str, step: &Step, want: &Expect, outcome: &Outcome) {
    let ticket_change = step.turn.as_ref().map(|w| &w.ticket);
    let feedback = step.feedback.as_ref();
    let event = step.event.as_ref();
    match want.ticket {
        TicketIs::Untouched => {
            assert!(outcome.ticket.is_none(), "{name}: a ticket");
            assert!(event.is_none(), "{name}: an event");
            assert!(
                matches!(ticket_change, None | Some(TicketChange::None)),
                "{name}: {ticket_change:?}"
            );
            assert!(
                !matches!(feedback, Some(FeedbackWrite::TicketAndConversation(..))),
                "{name}: a ticket written"
            );
        }
        TicketIs::Opened(id) => {
            let t = outcome.ticket.as_ref().expect("the ticket opened");
            assert_eq!(t.id, id, "{name}");
            assert_eq!((t.created_ms, t.updated_ms), (NOW, NOW), "{name}");
            assert_eq!(t.team.as_str(), want.team.unwrap_or(t.team.as_str()));
            assert_eq!(t.user, "u_pat", "{name}: the hashed user");
            let last = t.transcript.last().expect("a transcript");
            assert_eq!(
                (&last.from, Some(&last.text)),
                (&Actor::Bot, outcome.reply.as_ref()),
                "{name}: the reply ends the transcript"
            );
            let written = match (ticket_change, feedback) {
                (Some(TicketChange::Open(t)), None) => Ticket::clone(t),
                (None, Some(FeedbackWrite::TicketAndConversation(t, s))) => {
                    assert_eq!(s.open_ticket.as_ref().map(|o| o.id), Some(id), "{name}");
                    Ticket::clone(t)
                }
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(&written, t, "{name}: the ticket written is the one shown");
            assert!(
                matches!(event, Some(PipelineEvent::TicketOpened(e)) if e == t),
                "{name}: {event:?}"
            );
        }
        TicketIs::Joined(id, lines) => {
            assert_eq!(outcome.ticket.as_ref().map(|t| t.id), Some(id), "{name}");
            let Some(TicketChange::Append { id: to, lines: new }) = ticket_change else {
                panic!("{name}: {ticket_change:?}")
            };
            assert_eq!((*to, new.len()), (id, lines), "{name}");
            assert_eq!(new[0].from, Actor::Customer, "{name}");
            let written = &step.turn.as_ref().expect("a turn").interaction;
            assert_eq!(written.ticket, Some(id), "{name}");
            assert!(
                matches!(event, Some(PipelineEvent::CustomerMessage { ticket, text })
                    if *ticket == id && *text == written.text),
                "{name}: {event:?}"
            );
        }
        TicketIs::Shown(id) => {
            assert_eq!(outcome.ticket.as_ref().map(|t| t.id), Some(id), "{name}");
            assert_eq!(feedback, Some(&FeedbackWrite::Nothing), "{name}");
            assert!(event.is_none(), "{name}: {event:?}");
        }
    }
    assert_eq!(
        step.turn.as_ref().and_then(|w| w.not_helped),
        want.not_helped,
        "{name}: not helped"
    );
    assert_eq!(
        step.rated.map(|r| (r.interaction, r.helped)),
        want.rated,
        "{name}: rated"
    );
    if let Some(w) = &step.turn {
        let i = &w.interaction;
        assert_eq!(Some(i.id), outcome.interaction, "{name}");
        assert_eq!(
            (i.at_ms, w.state.updated_ms),
            (NOW, NOW),
            "{name}: the clock"
        );
        assert_eq!(i.user, "u_pat", "{name}");
        // The answer's text is stored by reference: put back, the reply is the one sent.
        assert_eq!(
            super::reply_as_sent(&outcome.catalog, i),
            outcome.reply,
            "{name}"
        );
        if let (Some(at), Some(answer)) = (i.answer_at, &outcome.decision.answer_text) {
            let stored = i.reply.as_deref().unwrap_or("");
            assert!(!stored.contains(answer.as_str()), "{name}: {stored:?}");
            assert!(at <= stored.len(), "{name}");
        }
        assert_eq!(i.route.kind, want.kind, "{name}");
        if let Some(text) = want.stored_text {
            assert_eq!(i.text, text, "{name}: stored text");
        }
    }
}

#[test]
fn planning_table() {
    for r in rows() {
        let rules = match r.max_chars {
            Some(max_chars) => Rules {
                max_chars,
                ..shipped().clone()
            },
            None => shipped().clone(),
        };
        let mut fake = Fake::new(&rules);
        for act in &r.before {
            if let Some(Step {
                outcome: Err(e), ..
            }) = fake.act(act)
            {
                panic!("{}: setting up: {e}", r.name);
            }
        }
        let step = fake.act(&r.act).expect("a customer action");
        check(r.name, &step, &r.expect);
        if let Some(state) = r.expect.state {
            state(&fake.state);
        }
    }
}

#[test]
fn the_same_input_plans_the_same_records() {
    let rules = shipped();
    let plan = || {
        let mut fake = Fake::new(rules);
        for act in [say("how much is it?"), say("that didn't help")] {
            fake.act(&act);
        }
        fake.act(&say("any news?")).expect("a step")
    };
    let (a, b) = (plan(), plan());
    assert_eq!(a.turn, b.turn, "planning reads nothing but its input");
    assert_eq!(a.outcome.unwrap().reply, b.outcome.unwrap().reply);
}

#[test]
fn the_clock_words_the_handoff_and_dates_the_records() {
    let mut catalog = Catalog::clone(&shipped().catalog);
    let support = catalog.teams.get_mut("support").expect("a support team");
    support.hours = "Mon-Fri 09:00-17:00".into();
    support.timezone = "UTC".into();
    let rules = Rules {
        catalog: Arc::new(catalog),
        ..shipped().clone()
    };
    let at = |time: &str| {
        let ms = time.parse::<jiff::Timestamp>().unwrap().as_millisecond() as u64;
        let mut fake = Fake::new(&rules);
        fake.now_ms = ms;
        let step = fake.act(&say("I want to talk to a human")).expect("a step");
        let ticket = step
            .outcome
            .as_ref()
            .unwrap()
            .ticket
            .clone()
            .expect("a ticket");
        assert_eq!(
            (ticket.created_ms, fake.state.updated_ms),
            (ms, ms),
            "{time}"
        );
        step.outcome.unwrap().reply.expect("a reply")
    };
    let saturday = at("2026-12-05T12:00:00Z");
    assert!(
        saturday.contains("offline right now (hours: Mon-Fri 09:00-17:00 UTC)")
            && saturday.contains("from Mon 09:00 UTC"),
        "{saturday}"
    );
    let tuesday = at("2026-12-01T12:00:00Z");
    assert!(
        !tuesday.contains("offline") && tuesday.contains("within 2 hours, 24/7"),
        "{tuesday}"
    );
}

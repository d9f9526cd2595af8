//! Routing tests: conversations run through decide/advance, and the replies they get.

use super::*;
use crate::catalog::settings::Settings;
use crate::catalog::{load_from_sources, CatalogSources};
use crate::core::classify::Classifier;
use std::path::PathBuf;

fn sources() -> CatalogSources {
    let file = |dir: &str, id: &str, text: &str| {
        (PathBuf::from(format!("{dir}/{id}.toml")), text.to_string())
    };
    CatalogSources {
        personas: vec![
            file("personas", "founder", "[keywords]\nfounder = 1.5\nstartup = 1.0\n"),
            file("personas", "enterprise", "[keywords]\nprocurement = 1.5\ncio = 1.5\n"),
        ],
        intents: vec![
            file(
                "intents",
                "pricing",
                "name = \"Pricing\"\n[keywords]\nprice = 1.2\n\"how much\" = 1.0\n\
                 [route]\nkind = \"answer\"\nteam = \"sales\"\n\
                 [route.personas]\nenterprise = { kind = \"ticket\" }\n\
                 [answers]\ndefault = \"Plans start at $0.\"\nfounder = \"Startups get 50% off.\"\n",
            ),
            file(
                "intents",
                "refund",
                "name = \"Refunds\"\n[keywords]\nrefund = 1.2\n[route]\nkind = \"ticket\"\nteam = \"billing\"\n\
                 [answers]\ndefault = \"Annual plans are refundable within 30 days.\"\n",
            ),
            file(
                "intents",
                "invoice",
                "[keywords]\ninvoice = 1.2\n[route]\nkind = \"ticket\"\nteam = \"billing\"\n",
            ),
            file("intents", "tech", "[keywords]\nbroken = 1.5\n[answers]\ndefault = \"Try reloading.\"\n"),
            file(
                "intents",
                "human",
                "priority = 10\n[keywords]\nhuman = 2.0\n[route]\nkind = \"escalate\"\n",
            ),
            file(
                "intents",
                "nohelp",
                "priority = 10\n[keywords]\n\"didn't help\" = 2.0\n[route]\nkind = \"escalate\"\n",
            ),
            file(
                "intents",
                "greeting",
                "priority = -10\n[keywords]\nhi = 1.0\n[answers]\ndefault = \"Hello!\"\n",
            ),
        ],
        intents_dir: PathBuf::from("intents"),
        replies: Vec::new(),
    }
}

struct Case {
    name: &'static str,
    messages: &'static [&'static str],
    kind: DecisionKind,
    intent: Option<&'static str>,
    persona: Option<&'static str>,
    team: Option<&'static str>,
    answer: Option<&'static str>,
}

/// Runs a conversation through decide/advance and returns the last decision.
fn converse(catalog: &Catalog, classifier: &Classifier, messages: &[&str]) -> Decision {
    let thresholds = Thresholds::default();
    let mut state = ConversationState::default();
    let mut last = None;
    for (n, m) in messages.iter().enumerate() {
        let c = classifier.classify(m);
        let d = decide(catalog, &thresholds, m, &c, &state);
        let opened =
            (d.kind == DecisionKind::Ticket && d.joins_ticket.is_none()).then(|| OpenTicket {
                id: n as u64 + 1,
                team: d.team.clone().unwrap_or_default(),
                claimed_by: None,
            });
        state = advance(&state, catalog, &c, &d, n as u64 + 1, opened);
        last = Some(d);
    }
    last.expect("at least one message")
}

#[test]
fn routing_table() {
    let settings = Settings::built_in();
    let catalog = load_from_sources(sources(), &settings.teams).expect("test catalog is valid");
    let classifier = Classifier::new(&catalog).unwrap();
    use DecisionKind::*;
    let cases = [
        Case {
            name: "default pricing answer",
            messages: &["how much is it"],
            kind: Answer,
            intent: Some("pricing"),
            persona: None,
            team: None,
            answer: Some("pricing/default"),
        },
        Case {
            name: "persona-tailored answer",
            messages: &["founder here, how much?"],
            kind: Answer,
            intent: Some("pricing"),
            persona: Some("founder"),
            team: None,
            answer: Some("pricing/founder"),
        },
        Case {
            name: "sticky persona across turns",
            messages: &["I am a founder of a startup", "what's the price"],
            kind: Answer,
            intent: Some("pricing"),
            persona: Some("founder"),
            team: None,
            answer: Some("pricing/founder"),
        },
        Case {
            name: "persona override to a ticket",
            messages: &["procurement asks the price"],
            kind: Ticket,
            intent: Some("pricing"),
            persona: Some("enterprise"),
            team: Some("sales"),
            answer: Some("pricing/default"),
        },
        Case {
            name: "ticket with policy answer first",
            messages: &["refund please"],
            kind: Ticket,
            intent: Some("refund"),
            persona: None,
            team: Some("billing"),
            answer: Some("refund/default"),
        },
        Case {
            name: "human with no topic goes to support",
            messages: &["a human please"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("support"),
            answer: None,
        },
        Case {
            name: "human about pricing goes to sales",
            messages: &["how much", "human please"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("sales"),
            answer: None,
        },
        Case {
            name: "human and topic in one message",
            messages: &["human about a refund"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("billing"),
            answer: None,
        },
        Case {
            name: "did not help after an answer",
            messages: &["it is broken", "that didn't help"],
            kind: Ticket,
            intent: Some("nohelp"),
            persona: None,
            team: Some("support"),
            answer: None,
        },
        Case {
            name: "greeting loses to a real intent",
            messages: &["hi, it is broken"],
            kind: Answer,
            intent: Some("tech"),
            persona: None,
            team: None,
            answer: Some("tech/default"),
        },
        Case {
            name: "greeting alone",
            messages: &["hi"],
            kind: Answer,
            intent: Some("greeting"),
            persona: None,
            team: None,
            answer: Some("greeting/default"),
        },
        Case {
            name: "first miss asks to rephrase",
            messages: &["blorp"],
            kind: Fallback,
            intent: None,
            persona: None,
            team: None,
            answer: None,
        },
        Case {
            name: "second miss opens a support ticket",
            messages: &["blorp", "zzz"],
            kind: Ticket,
            intent: None,
            persona: None,
            team: Some("support"),
            answer: None,
        },
        Case {
            name: "a hit resets the misses",
            messages: &["blorp", "hi", "zzz"],
            kind: Fallback,
            intent: None,
            persona: None,
            team: None,
            answer: None,
        },
        Case {
            name: "persona only is not a miss",
            messages: &["blorp", "I'm a founder"],
            kind: Fallback,
            intent: None,
            persona: Some("founder"),
            team: None,
            answer: None,
        },
        Case {
            name: "ambiguous intents clarify",
            messages: &["price refund"],
            kind: Clarify,
            intent: Some("pricing"),
            persona: None,
            team: None,
            answer: None,
        },
        Case {
            name: "clarify answered by number",
            messages: &["price refund", "2"],
            kind: Ticket,
            intent: Some("refund"),
            persona: None,
            team: Some("billing"),
            answer: Some("refund/default"),
        },
        Case {
            name: "clarify answered by name",
            messages: &["price refund", "pricing"],
            kind: Answer,
            intent: Some("pricing"),
            persona: None,
            team: None,
            answer: Some("pricing/default"),
        },
        Case {
            name: "two intents for one team need no question",
            messages: &["invoice refund"],
            kind: Ticket,
            intent: Some("invoice"),
            persona: None,
            team: Some("billing"),
            answer: None,
        },
        Case {
            name: "a human from a named team",
            messages: &["I don't want a bot, I want a human from sales"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("sales"),
            answer: None,
        },
        Case {
            name: "a named team beats the conversation's topic",
            messages: &["how much", "a human please, someone in security"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("security"),
            answer: None,
        },
        Case {
            name: "a team named by its alias",
            messages: &["human: the finance team please"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("billing"),
            answer: None,
        },
        Case {
            name: "a team named in passing is not asked for",
            messages: &["human about sales tax"],
            kind: Ticket,
            intent: Some("human"),
            persona: None,
            team: Some("support"),
            answer: None,
        },
        Case {
            name: "a team name alone is not a request for a human",
            messages: &["sales please"],
            kind: Fallback,
            intent: None,
            persona: None,
            team: None,
            answer: None,
        },
        Case {
            name: "a named team takes the ticket after misses",
            messages: &["blorp", "sales please"],
            kind: Ticket,
            intent: None,
            persona: None,
            team: Some("sales"),
            answer: None,
        },
        Case {
            name: "an intent's own ticket keeps its team",
            messages: &["refund please, the sales team said so"],
            kind: Ticket,
            intent: Some("refund"),
            persona: None,
            team: Some("billing"),
            answer: Some("refund/default"),
        },
        Case {
            name: "open ticket owns the conversation",
            messages: &["refund please", "how much"],
            kind: Ticket,
            intent: Some("pricing"),
            persona: None,
            team: Some("billing"),
            answer: None,
        },
    ];
    for case in &cases {
        let d = converse(&catalog, &classifier, case.messages);
        assert_eq!(d.kind, case.kind, "{}: kind ({})", case.name, d.reason);
        assert_eq!(
            d.intent.as_ref().map(|p| p.id.as_str()),
            case.intent,
            "{}: intent",
            case.name
        );
        assert_eq!(
            d.persona.as_ref().map(|p| p.id.as_str()),
            case.persona,
            "{}: persona",
            case.name
        );
        assert_eq!(d.team.as_deref(), case.team, "{}: team", case.name);
        assert_eq!(d.answer.as_deref(), case.answer, "{}: answer", case.name);
    }
}

#[test]
fn replies_table() {
    let settings = Settings::built_in();
    let catalog = load_from_sources(sources(), &settings.teams).unwrap();
    let classifier = Classifier::new(&catalog).unwrap();
    let cases: &[(&[&str], Option<u64>, &[&str])] = &[
        (
            &["refund please"],
            Some(7),
            &[
                "Annual plans are refundable",
                "Billing team (ticket #7)",
                "within 1 business day",
            ],
        ),
        (&["price refund"], None, &["1. Pricing", "2. Refunds"]),
        (&["blorp"], None, &["say it another way"]),
        (
            &["founder here, how much?"],
            None,
            &["Startups get 50% off."],
        ),
    ];
    for (messages, ticket, needles) in cases {
        let d = converse(&catalog, &classifier, messages);
        let reply =
            reply_text(&catalog, &d, *ticket, jiff::Timestamp::UNIX_EPOCH).expect("a reply");
        for needle in *needles {
            assert!(
                reply.contains(needle),
                "{messages:?}: {reply:?} lacks {needle:?}"
            );
        }
    }
    // Outside the team's hours, the customer is told when it is back.
    let mut closed = catalog.clone();
    let billing = closed.teams.get_mut("billing").unwrap();
    billing.hours = "Mon 09:00-10:00".into();
    billing.timezone = "UTC".into();
    let d = converse(&closed, &classifier, &["refund please"]);
    let tuesday: jiff::Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    let reply = reply_text(&closed, &d, Some(3), tuesday).unwrap();
    assert!(
        reply.contains("offline right now (hours: Mon 09:00-10:00 UTC)")
            && reply.contains("from Mon 09:00 UTC"),
        "{reply}"
    );
    let monday: jiff::Timestamp = "2026-11-30T09:30:00Z".parse().unwrap();
    let reply = reply_text(&closed, &d, Some(3), monday).unwrap();
    assert!(
        !reply.contains("offline") && reply.contains("within 1 business day"),
        "{reply}"
    );
    // A claimed ticket keeps the bot silent.
    let mut d = converse(&catalog, &classifier, &["refund please"]);
    d.joins_ticket = Some(OpenTicket {
        id: 1,
        team: "billing".into(),
        claimed_by: Some("ann".into()),
    });
    assert_eq!(
        reply_text(&catalog, &d, Some(1), jiff::Timestamp::UNIX_EPOCH),
        None
    );
}

#[test]
fn a_forced_ticket_goes_to_the_team_named() {
    let settings = Settings::built_in();
    let catalog = load_from_sources(sources(), &settings.teams).unwrap();
    let classifier = Classifier::new(&catalog).unwrap();
    let cases: &[(&str, &str)] = &[
        ("sales please", "sales"),
        ("blorp", "support"),
        ("how much, someone from billing", "billing"),
        ("how much", "sales"),
        ("refund please", "billing"),
        ("refund please, connect me to the press team", "press"),
    ];
    for (message, team) in cases {
        let c = classifier.classify(message);
        let mut d = decide(
            &catalog,
            &Thresholds::default(),
            message,
            &c,
            &ConversationState::default(),
        );
        force_ticket(&catalog, message, &mut d);
        assert_eq!(d.kind, DecisionKind::Ticket, "{message}");
        assert_eq!(d.team.as_deref(), Some(*team), "{message}: {}", d.reason);
    }
}

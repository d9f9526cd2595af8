//! Out-of-scope intents (route kind `fallback`) and persona soft cues (`[[patterns]]` in
//! persona files), through load, classify, decide, advance and the reply.

use super::*;
use crate::catalog::settings::Settings;
use crate::catalog::{load_from_sources, CatalogSources};
use crate::core::classify::Classifier;
use std::path::PathBuf;

const OFF_TOPIC_ANSWER: &str = "I can help with Hearth: plans, billing and setup.";

fn file(dir: &str, id: &str, text: &str) -> (PathBuf, String) {
    (PathBuf::from(format!("{dir}/{id}.toml")), text.to_string())
}

fn sources(off_topic: &str) -> CatalogSources {
    CatalogSources {
        personas: vec![
            file(
                "personas",
                "founder",
                "[keywords]\nfounder = 1.5\n\
                 [[patterns]]\nregex = '\\b(the|all)\\s+(two|three|four|five)\\s+of\\s+us\\b'\nweight = 2.0\n",
            ),
            file(
                "personas",
                "enterprise",
                "[keywords]\nprocurement = 1.5\n\
                 [[patterns]]\nregex = '\\b[1-9]\\d{2,}\\s+(seats|agents)\\b'\nweight = 2.0\n",
            ),
        ],
        intents: vec![
            file(
                "intents",
                "pricing",
                "[keywords]\nprice = 1.2\nplan = 0.8\n[answers]\ndefault = \"Plans start at $0.\"\n",
            ),
            file("intents", "offtopic", off_topic),
        ],
        intents_dir: PathBuf::from("intents"),
        replies: Vec::new(),
    }
}

fn off_topic() -> String {
    format!(
        "[keywords]\nweather = 2.0\nbitcoin = 2.5\n[route]\nkind = \"fallback\"\n\
         [answers]\ndefault = \"{OFF_TOPIC_ANSWER}\"\n"
    )
}

fn compiled() -> (Catalog, Classifier) {
    let settings = Settings::built_in();
    let catalog = load_from_sources(sources(&off_topic()), &settings.teams).expect("valid");
    let classifier = Classifier::new(&catalog).expect("compiles");
    (catalog, classifier)
}

/// The decisions for a conversation, one per message.
fn converse(catalog: &Catalog, classifier: &Classifier, messages: &[&str]) -> Vec<Decision> {
    let thresholds = Thresholds::default();
    let mut state = ConversationState::default();
    let mut out = Vec::new();
    for (n, m) in messages.iter().enumerate() {
        let c = classifier.classify(m);
        let d = decide(catalog, &thresholds, m, &c, &state);
        state = advance(&state, catalog, &c, &d, n as u64 + 1, None);
        out.push(d);
    }
    out
}

#[test]
fn out_of_scope_and_soft_cue_table() {
    let (catalog, classifier) = compiled();
    use DecisionKind::*;
    // (messages, last kind, last intent, last persona)
    type Row<'a> = (
        &'a [&'a str],
        DecisionKind,
        Option<&'a str>,
        Option<&'a str>,
    );
    let rows: &[Row] = &[
        (&["the price of the plan"], Answer, Some("pricing"), None),
        // One loose word loses to an off-topic one: the bot declines.
        (
            &["the price of bitcoin today"],
            Fallback,
            Some("offtopic"),
            None,
        ),
        (&["weather in Paris"], Fallback, Some("offtopic"), None),
        // A decline is not a miss: an unrecognised message after two of them still asks to
        // rephrase instead of opening a ticket ...
        (&["weather?", "bitcoin?", "zzz"], Fallback, None, None),
        // ... while two unrecognised messages in a row do.
        (&["zzz", "qqq"], Ticket, None, None),
        // Persona patterns with numbers count like keywords.
        (
            &["the four of us need a plan"],
            Answer,
            Some("pricing"),
            Some("founder"),
        ),
        (
            &["a plan for 300 seats"],
            Answer,
            Some("pricing"),
            Some("enterprise"),
        ),
        (&["a plan for 30 seats"], Answer, Some("pricing"), None),
        (&["the four of us"], Fallback, None, Some("founder")),
    ];
    for (messages, kind, intent, persona) in rows {
        let last = converse(&catalog, &classifier, messages)
            .pop()
            .expect("a decision");
        assert_eq!(last.kind, *kind, "{messages:?}: {}", last.reason);
        assert_eq!(
            last.intent.as_ref().map(|p| p.id.as_str()),
            *intent,
            "{messages:?}"
        );
        assert_eq!(
            last.persona.as_ref().map(|p| p.id.as_str()),
            *persona,
            "{messages:?}"
        );
    }
}

#[test]
fn a_decline_says_what_the_bot_can_help_with() {
    let (catalog, classifier) = compiled();
    let d = converse(&catalog, &classifier, &["what's the weather tomorrow"]).remove(0);
    assert_eq!(d.answer.as_deref(), Some("offtopic/default"));
    let reply = reply_text(&catalog, &d, None, jiff::Timestamp::UNIX_EPOCH).expect("a reply");
    assert_eq!(reply, OFF_TOPIC_ANSWER);
    assert!(
        !d.offers_feedback(),
        "a decline gets no helped/not-helped buttons"
    );
    // An ordinary miss still asks to rephrase.
    let d = converse(&catalog, &classifier, &["zzz"]).remove(0);
    let reply = reply_text(&catalog, &d, None, jiff::Timestamp::UNIX_EPOCH).expect("a reply");
    assert_eq!(reply, crate::core::wording::NOT_UNDERSTOOD);
}

#[test]
fn the_loader_checks_persona_patterns_and_fallback_answers() {
    let settings = Settings::built_in();
    let errors = |sources| {
        load_from_sources(sources, &settings.teams)
            .expect_err("invalid")
            .to_string()
    };
    let mut bad = sources(&off_topic());
    bad.personas[0].1 = "[[patterns]]\nregex = '(unclosed'\n[[patterns]]\nweight = 1.0\n".into();
    let found = errors(bad);
    for want in [
        "personas/founder.toml:2:9: `patterns[0].regex` is not a valid regex",
        "personas/founder.toml:3:1: `patterns[1]` is missing `regex`",
    ] {
        assert!(found.contains(want), "missing {want:?} in:\n{found}");
    }
    let found = errors(sources(
        "[keywords]\nweather = 2.0\n[route]\nkind = \"fallback\"\n",
    ));
    let want = "intents/offtopic.toml:3:2: route kind `fallback` needs `answers.default`";
    assert!(found.contains(want), "missing {want:?} in:\n{found}");
}

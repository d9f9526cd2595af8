//! Table tests of answer choosing: the A/B pick, part choice, repeats, names and stored replies.

use std::path::PathBuf;

use super::*;
use crate::catalog::settings::Settings;
use crate::catalog::{load_from_sources, CatalogSources};
use crate::core::classify::Classifier;
use crate::core::route::{advance, decide, Thresholds};

fn catalog() -> Catalog {
    let file = |dir: &str, id: &str, text: &str| {
        (PathBuf::from(format!("{dir}/{id}.toml")), text.to_string())
    };
    let sources = CatalogSources {
        personas: vec![file("personas", "founder", "[keywords]\nfounder = 1.5\n")],
        intents: vec![
            file(
                "intents",
                "pricing",
                r#"name = "Pricing"
[keywords]
price = 1.2
"how much" = 1.0
trial = 0.8
"free trial" = 1.2
startup = 0.8
[route]
kind = "answer"
team = "sales"
[answers]
default = ["Plans A.", "Plans B."]
founder = "Founders pay less."
[[parts]]
id = "trial"
keywords = ["free trial", "trial"]
text = "Try it for 14 days."
[[parts]]
id = "startup"
keywords = ["startup", "trial"]
persona = "founder"
text = "Startups: 50% off."
"#,
            ),
            file(
                "intents",
                "greeting",
                "feedback = false\n[keywords]\nhello = 1.0\n[answers]\ndefault = \"Hello!\"\n",
            ),
            file(
                "intents",
                "refund",
                "[keywords]\nrefund = 1.2\n[route]\nkind = \"ticket\"\nteam = \"billing\"\n\
                 [answers]\ndefault = \"Refunds take 5 days.\"\n",
            ),
        ],
        intents_dir: PathBuf::from("intents"),
        replies: Vec::new(),
    };
    load_from_sources(sources, &Settings::built_in().teams).expect("a valid catalog")
}

#[test]
fn the_variant_pick_is_a_fixed_hash_of_the_conversation() {
    // Pinned: the pick must not change between processes, builds or releases.
    assert_eq!(stable_hash(&["a/b", "x"]), 7_624_026_148_233_719_657);
    let cases = [
        ("example", "integration/default", 2, 0),
        ("ab-1", "integration/default", 2, 1),
        ("ab-3", "pricing/default", 2, 1),
        ("c-0", "pricing/default", 2, 0),
        ("anything", "pricing/default", 1, 0),
        ("anything", "pricing/default", 0, 0),
    ];
    for (conversation, base, n, want) in cases {
        assert_eq!(
            variant_index(conversation, base, n),
            want,
            "{conversation} {base}"
        );
    }
    // Both texts of a pair are seen, roughly half each.
    let second = (0..1000)
        .filter(|i| variant_index(&format!("web:{i}"), "pricing/default", 2) == 1)
        .count();
    assert!((400..600).contains(&second), "{second} of 1000 saw #2");
}

#[test]
fn answer_names_extend_the_variant_name() {
    assert_eq!(variant_name("pricing", "founder", 0, 1), "pricing/founder");
    assert_eq!(
        variant_name("pricing", "founder", 1, 2),
        "pricing/founder#2"
    );
    assert_eq!(
        variant_name("pricing", "default", 0, 3),
        "pricing/default#1"
    );
    let catalog = catalog();
    let parts = &catalog.intent("pricing").unwrap().parts;
    assert_eq!(part_name("pricing", &parts[0]), "pricing/default/trial");
    assert_eq!(part_name("pricing", &parts[1]), "pricing/founder/startup");
}

#[test]
fn parts_are_chosen_by_the_message_words() {
    let catalog = catalog();
    let pricing = catalog.intent("pricing").unwrap();
    let none = |_: &AnswerPart| 0.0;
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("is there a free trial?", None, Some("trial")),
        ("any trials?", None, Some("trial")),
        // Two hits ("free trial", "trial") beat the founder's one ("trial")...
        ("is there a free trial?", Some("founder"), Some("trial")),
        // ...and a part for the persona wins a tie.
        ("any trial?", Some("founder"), Some("startup")),
        // Two hits for the founder's part ("startup", "trial") beat one.
        ("a startup trial?", Some("founder"), Some("startup")),
        // Not the founder: their part is not offered.
        ("a startup?", None, None),
        ("how much is it?", None, None),
        ("", None, None),
    ];
    for (message, persona, want) in cases {
        let got = choose_part(pricing, *persona, message, none).map(|p| p.id.as_str());
        assert_eq!(got, *want, "{message:?} as {persona:?}");
    }
    // A message asking more than the part covers gets the whole answer.
    let more = |_: &AnswerPart| FOCUS_LIMIT;
    assert_eq!(choose_part(pricing, None, "free trial?", more), None);
}

#[test]
fn uncovered_evidence_keeps_the_whole_answer() {
    let catalog = catalog();
    let classifier = Classifier::new(&catalog).unwrap();
    let pricing = catalog
        .intents
        .iter()
        .position(|i| i.id == "pricing")
        .unwrap() as u32;
    let trial = &catalog.intents[pricing as usize].parts[0];
    let cases = [
        ("is there a free trial?", false),
        ("how much is it, and is there a free trial?", true),
        ("what's the price of a trial?", true),
    ];
    for (message, whole) in cases {
        let c = classifier.classify(message);
        let weight = uncovered_weight(&c, pricing, trial);
        assert_eq!(weight >= FOCUS_LIMIT, whole, "{message:?}: {weight}");
    }
}

/// Runs `messages` as the conversation `conversation`; returns every decision.
fn converse(catalog: &Catalog, conversation: &str, messages: &[&str]) -> Vec<Decision> {
    let classifier = Classifier::new(catalog).unwrap();
    let thresholds = Thresholds::default();
    let mut state = ConversationState::default();
    let mut out = Vec::new();
    for (n, m) in messages.iter().enumerate() {
        let c = classifier.classify(m);
        let mut d = decide(catalog, &thresholds, m, &c, &state);
        choose_answer(catalog, &mut d, m, &c, &state, conversation);
        state = advance(&state, catalog, &c, &d, n as u64 + 1, None);
        out.push(d);
    }
    out
}

/// (messages, conversation, the last decision's answer, repeat, actions)
type RepeatCase = (
    &'static [&'static str],
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

#[test]
fn repeats_get_a_pointer_and_the_offer_of_a_person() {
    let catalog = catalog();
    // (messages, conversation, the last decision's answer, repeat, actions)
    let cases: &[RepeatCase] = &[
        (
            &["how much is it"],
            "ab-3",
            "pricing/default#2",
            false,
            &["helped", "human"],
        ),
        (
            &["how much is it", "price?"],
            "ab-3",
            "pricing/default#2",
            true,
            &["human"],
        ),
        // A part not shown yet is not a repeat, even after the whole answer.
        (
            &["how much is it", "free trial?"],
            "c-0",
            "pricing/default/trial",
            false,
            &["helped", "human"],
        ),
        (
            &["free trial?", "any trial?"],
            "c-0",
            "pricing/default/trial",
            true,
            &["human"],
        ),
        // Greetings are conversational: never a pointer.
        (&["hello", "hello"], "c-0", "greeting/default", false, &[]),
        // A handoff's answer text is not a self-help answer: shown again in full.
        (&["refund", "refund"], "c-0", "refund/default", false, &[]),
    ];
    for (messages, conversation, answer, repeat, actions) in cases {
        let last = converse(&catalog, conversation, messages).pop().unwrap();
        let name = format!("{messages:?}");
        assert_eq!(last.answer.as_deref(), Some(*answer), "{name}");
        assert_eq!(last.repeat, *repeat, "{name}");
        assert_eq!(last.actions(), *actions, "{name}");
        let text = last.answer_text.unwrap();
        assert_eq!(
            text.starts_with("I shared that above"),
            *repeat,
            "{name}: {text}"
        );
    }
}

#[test]
fn one_conversation_keeps_its_variant_and_two_can_differ() {
    let catalog = catalog();
    let seen = |conversation: &str| {
        converse(&catalog, conversation, &["how much is it"])[0]
            .answer
            .clone()
            .unwrap()
    };
    assert_eq!(seen("c-0"), "pricing/default#1");
    assert_eq!(seen("ab-3"), "pricing/default#2");
    for _ in 0..3 {
        assert_eq!(seen("ab-3"), "pricing/default#2");
    }
    let texts = converse(&catalog, "ab-3", &["how much is it"]);
    assert_eq!(texts[0].answer_text.as_deref(), Some("Plans B."));
}

#[test]
fn answer_names_resolve_to_their_text() {
    let catalog = catalog();
    let cases = [
        ("pricing/default#1", Some("Plans A.")),
        ("pricing/default#2", Some("Plans B.")),
        ("pricing/default#3", None),
        ("pricing/default#0", None),
        ("pricing/default#x", None),
        ("pricing/default", None),
        ("pricing/founder", Some("Founders pay less.")),
        ("pricing/founder#1", None),
        ("pricing/default/trial", Some("Try it for 14 days.")),
        ("pricing/founder/startup", Some("Startups: 50% off.")),
        ("pricing/default/startup", None),
        ("gone/default", None),
        ("nonsense", None),
    ];
    for (name, want) in cases {
        assert_eq!(answer_text(&catalog, name), want, "{name}");
    }
}

#[test]
fn a_stored_reply_keeps_only_the_bots_own_sentences() {
    let catalog = catalog();
    let cases: &[(&str, &str, Option<&str>, Option<usize>)] = &[
        ("Plans A.", "Plans A.", None, Some(0)),
        (
            "Refunds take 5 days.\n\nI've passed this on.",
            "Refunds take 5 days.",
            Some("\n\nI've passed this on."),
            Some(0),
        ),
        (
            "Sorry!\n\nPlans A.",
            "Plans A.",
            Some("Sorry!\n\n"),
            Some(8),
        ),
        ("Something else", "Plans A.", Some("Something else"), None),
    ];
    let names = [
        "pricing/default#1",
        "refund/default",
        "pricing/default#1",
        "pricing/default#1",
    ];
    for ((full, answer, stored, at), name) in cases.iter().zip(names) {
        let (got_stored, got_at) = stored_reply(full, answer);
        assert_eq!((got_stored.as_deref(), got_at), (*stored, *at), "{full:?}");
        let back = sent_reply(&catalog, Some(name), got_stored.as_deref(), got_at);
        assert_eq!(back.as_deref(), Some(*full), "{full:?}");
    }
    // A variant gone from the catalog is said so; old records (no offset) read as stored.
    let gone = sent_reply(
        &catalog,
        Some("pricing/default#9"),
        Some("\n\nBye."),
        Some(0),
    );
    assert_eq!(
        gone.as_deref(),
        Some("[the answer pricing/default#9 is no longer in the catalog]\n\nBye.")
    );
    let old = sent_reply(&catalog, Some("pricing/default"), Some("Plans."), None);
    assert_eq!(old.as_deref(), Some("Plans."));
    assert_eq!(sent_reply(&catalog, None, None, None), None);
    // An offset off a character boundary puts the answer at the end, never panics.
    let odd = sent_reply(&catalog, Some("pricing/default#1"), Some("é"), Some(1));
    assert_eq!(odd.as_deref(), Some("éPlans A."));
}

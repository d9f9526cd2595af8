//! The shipped catalog on realistic customer messages (tests/fixtures/customers/messages.toml):
//! each message runs through the same pure router as `check` and `replay` (classify, decide,
//! advance over its `context`), and at least 95% must route right: the intent (or the fallback
//! for out-of-scope messages), and the persona, route and team where the fixture gives them.
//! Every miss is printed with what the router did instead.

mod support;

use personabot::catalog::{Catalog, RouteKind};
use personabot::core::classify::Classifier;
use personabot::core::conversation::ConversationState;
use personabot::core::route::{self, Decision, DecisionKind, Thresholds};
use support::{fixtures, shipped};
use toml_edit::{DocumentMut, Item, Value};

/// The share of messages (without a `needs` tag) that must route right.
const GOAL: f64 = 0.95;

/// One fixture message and what should happen to it.
#[derive(Debug, Default)]
struct Case {
    text: String,
    /// Right intents: the expected one first, then `also`; "none" means a fallback.
    intents: Vec<String>,
    persona: Option<String>,
    route: Option<String>,
    team: Option<String>,
    context: Vec<String>,
    needs: Option<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn load_cases() -> Vec<Case> {
    let path = fixtures().join("customers").join("messages.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: DocumentMut = text.parse().unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let messages = doc
        .get("messages")
        .and_then(Item::as_array)
        .expect("a `messages` array");
    messages
        .iter()
        .enumerate()
        .map(|(n, v)| {
            let t = v
                .as_inline_table()
                .unwrap_or_else(|| panic!("message {n} is not a table"));
            let s = |key: &str| t.get(key).and_then(Value::as_str).map(String::from);
            for key in t.iter().map(|(k, _)| k) {
                assert!(
                    ["text", "intent", "also", "persona", "route", "team", "context", "needs"]
                        .contains(&key),
                    "message {n}: unknown key {key}"
                );
            }
            let mut intents = vec![s("intent").unwrap_or_else(|| panic!("message {n}: no intent"))];
            intents.extend(strings(t.get("also")));
            Case {
                text: s("text").unwrap_or_else(|| panic!("message {n}: no text")),
                intents,
                persona: s("persona"),
                route: s("route"),
                team: s("team"),
                context: strings(t.get("context")),
                needs: s("needs"),
            }
        })
        .collect()
}

/// Runs `context` then `text` as one new conversation; the last decision.
fn route_case(catalog: &Catalog, classifier: &Classifier, t: &Thresholds, case: &Case) -> Decision {
    let mut state = ConversationState::default();
    for (n, message) in case.context.iter().enumerate() {
        let c = classifier.classify(message);
        let d = route::decide(catalog, t, message, &c, &state);
        state = route::advance(&state, catalog, &c, &d, n as u64 + 1, None);
    }
    let c = classifier.classify(&case.text);
    route::decide(catalog, t, &case.text, &c, &state)
}

/// The intent a decision stands for: "none" for a fallback, every offered intent for a
/// clarifying question.
fn got_intents(d: &Decision) -> Vec<String> {
    match d.kind {
        DecisionKind::Fallback => vec!["none".into()],
        DecisionKind::Clarify => d.choices.clone(),
        _ => vec![d
            .intent
            .as_ref()
            .map_or_else(|| "none".into(), |p| p.id.clone())],
    }
}

/// What is wrong with `d` for `case` (empty: routed right).
fn problems(case: &Case, d: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    let got = got_intents(d);
    if !got.iter().all(|g| case.intents.contains(g)) {
        out.push(format!(
            "intent {} expected, got {} {}",
            case.intents.join("|"),
            d.kind.as_str(),
            got.join("|")
        ));
    }
    let persona = d.persona.as_ref().map(|p| p.id.as_str());
    if let Some(want) = &case.persona {
        if persona != Some(want.as_str()) {
            out.push(format!(
                "persona {want} expected, got {}",
                persona.unwrap_or("none")
            ));
        }
    }
    if let Some(want) = &case.route {
        if d.kind.as_str() != want {
            out.push(format!("route {want} expected, got {}", d.kind.as_str()));
        }
    }
    if let Some(want) = &case.team {
        if d.kind == DecisionKind::Ticket && d.team.as_deref() != Some(want.as_str()) {
            out.push(format!(
                "team {want} expected, got {}",
                d.team.as_deref().unwrap_or("none")
            ));
        }
    }
    out
}

#[test]
fn the_fixture_covers_every_intent_and_persona_of_the_shipped_catalog() {
    let s = shipped();
    let cases = load_cases();
    assert!(cases.len() >= 200, "only {} messages", cases.len());
    // An out-of-scope intent (route kind `fallback`) is what "none" messages exercise.
    let in_scope = s
        .catalog
        .intents
        .iter()
        .filter(|i| i.route.kind != RouteKind::Fallback);
    for intent in in_scope {
        assert!(
            cases.iter().any(|c| c.intents[0] == intent.id),
            "no message expects intent {}",
            intent.id
        );
    }
    for persona in &s.catalog.personas {
        assert!(
            cases
                .iter()
                .any(|c| c.persona.as_deref() == Some(&persona.id)),
            "no message expects persona {}",
            persona.id
        );
    }
    let out_of_scope = cases.iter().filter(|c| c.intents[0] == "none").count();
    assert!(
        out_of_scope >= 20,
        "only {out_of_scope} out-of-scope messages"
    );
}

#[test]
fn at_least_95_percent_of_realistic_customer_messages_route_right() {
    let s = shipped();
    let cases = load_cases();
    let (mut counted, mut right, mut pending, mut pending_right) = (0, 0, 0, 0);
    let (mut oos, mut oos_right, mut personas, mut personas_right) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for case in &cases {
        let d = route_case(&s.catalog, &s.classifier, &s.settings.classify, case);
        let wrong = problems(case, &d);
        if case.intents[0] == "none" {
            oos += 1;
            oos_right += usize::from(d.kind == DecisionKind::Fallback);
        }
        if let Some(p) = &case.persona {
            personas += 1;
            personas_right += usize::from(d.persona.as_ref().is_some_and(|g| &g.id == p));
        }
        let tag = match &case.needs {
            Some(needs) => {
                pending += 1;
                pending_right += usize::from(wrong.is_empty());
                format!(" [needs {needs}]")
            }
            None => {
                counted += 1;
                right += usize::from(wrong.is_empty());
                String::new()
            }
        };
        if !wrong.is_empty() {
            misses.push(format!(
                "  {:?}: {}{tag} ({})",
                case.text,
                wrong.join("; "),
                d.reason
            ));
        }
    }
    let share = right as f64 / counted.max(1) as f64;
    println!(
        "{right}/{counted} routed right ({:.1}%); out of scope fell back {oos_right}/{oos}; \
         persona right {personas_right}/{personas}; waiting on other features {pending_right}/{pending}",
        share * 100.0
    );
    println!("misses:\n{}", misses.join("\n"));
    assert!(
        share >= GOAL,
        "{right}/{counted} = {:.1}% routed right, below {:.0}%; misses:\n{}",
        share * 100.0,
        GOAL * 100.0,
        misses.join("\n")
    );
}

#[test]
fn judging_a_decision_table() {
    let decision = |kind, intent: Option<&str>, choices: &[&str], team: Option<&str>| Decision {
        persona: None,
        intent: intent.map(|id| route::Pick {
            index: 0,
            id: id.into(),
            confidence: 0.9,
            margin: 1.0,
        }),
        kind,
        team: team.map(String::from),
        answer: None,
        answer_text: None,
        choices: choices.iter().map(|c| c.to_string()).collect(),
        reason: String::new(),
        subject_intent: None,
        joins_ticket: None,
        persona_only: false,
        repeat: false,
        self_help: false,
        frustrated: false,
        beside: None,
    };
    let case = |intents: &[&str], team: Option<&str>| Case {
        intents: intents.iter().map(|i| i.to_string()).collect(),
        team: team.map(String::from),
        ..Case::default()
    };
    use DecisionKind::*;
    let rows = [
        // (case, decision, right?)
        (
            case(&["refund"], None),
            decision(Answer, Some("refund"), &[], None),
            true,
        ),
        (
            case(&["refund"], None),
            decision(Answer, Some("billing"), &[], None),
            false,
        ),
        (
            case(&["refund", "billing"], None),
            decision(Answer, Some("billing"), &[], None),
            true,
        ),
        (
            case(&["none"], None),
            decision(Fallback, None, &[], None),
            true,
        ),
        (
            case(&["none"], None),
            decision(Answer, Some("pricing"), &[], None),
            false,
        ),
        (
            case(&["refund"], None),
            decision(Fallback, None, &[], None),
            false,
        ),
        // A clarifying question is right only when every option is.
        (
            case(&["refund", "billing"], None),
            decision(Clarify, Some("refund"), &["refund", "billing"], None),
            true,
        ),
        (
            case(&["refund"], None),
            decision(Clarify, Some("refund"), &["refund", "billing"], None),
            false,
        ),
        (
            case(&["human-agent"], Some("sales")),
            decision(Ticket, Some("human-agent"), &[], Some("support")),
            false,
        ),
        (
            case(&["human-agent"], Some("sales")),
            decision(Ticket, Some("human-agent"), &[], Some("sales")),
            true,
        ),
    ];
    for (n, (c, d, want)) in rows.iter().enumerate() {
        assert_eq!(
            problems(c, d).is_empty(),
            *want,
            "row {n}: {:?}",
            problems(c, d)
        );
    }
}

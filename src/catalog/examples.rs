//! `personabot check`: runs every intent's `[[examples]]` through the classifier and router,
//! with a fresh conversation per example (its `context` messages first).

use crate::catalog::{Catalog, Example, Expected, Intent};
use crate::core::classify::Classifier;
use crate::core::conversation::ConversationState;
use crate::core::route::{self, Decision, Thresholds};

/// An example whose outcome differs from what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure {
    /// `path:line:col: message`
    pub message: String,
}

/// Runs a conversation of `context` then `text` through the pure router, as the conversation
/// `conversation` (which picks A/B answers), returning the last decision.
pub(crate) fn run_conversation(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
    context: &[String],
    text: &str,
    conversation: &str,
) -> Decision {
    let mut state = ConversationState::default();
    let turn = |message: &str, state: &ConversationState| {
        let c = classifier.classify(message);
        let mut d = route::decide(catalog, thresholds, message, &c, state);
        route::choose_answer(catalog, &mut d, message, &c, state, conversation);
        (c, d)
    };
    for (n, message) in context.iter().enumerate() {
        let (c, d) = turn(message, &state);
        state = route::advance(&state, catalog, &c, &d, n as u64 + 1, None);
    }
    turn(text, &state).1
}

fn expected_matches(expected: &Expected, got: Option<&str>) -> bool {
    match expected {
        Expected::Nothing => got.is_none(),
        Expected::Id(id) => got == Some(id.as_str()),
    }
}

fn show(got: Option<&str>) -> &str {
    got.unwrap_or("none")
}

fn show_expected(e: &Expected) -> &str {
    match e {
        Expected::Nothing => "none",
        Expected::Id(id) => id,
    }
}

fn check_example(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
    intent: &Intent,
    example: &Example,
) -> Vec<String> {
    let d = run_conversation(
        catalog,
        classifier,
        thresholds,
        &example.context,
        &example.text,
        example
            .conversation
            .as_deref()
            .unwrap_or(route::EXAMPLE_CONVERSATION),
    );
    let mut problems = Vec::new();
    let got_intent = d.intent.as_ref().map(|p| p.id.as_str());
    let got_persona = d.persona.as_ref().map(|p| p.id.as_str());
    if let Some(e) = &example.intent {
        if !expected_matches(e, got_intent) {
            problems.push(format!(
                "intent {} expected, got {}",
                show_expected(e),
                show(got_intent)
            ));
        }
    }
    if let Some(e) = &example.persona {
        if !expected_matches(e, got_persona) {
            problems.push(format!(
                "persona {} expected, got {}",
                show_expected(e),
                show(got_persona)
            ));
        }
    }
    if let Some(r) = &example.route {
        if r != d.kind.as_str() {
            problems.push(format!("route {r} expected, got {}", d.kind.as_str()));
        }
    }
    if let Some(t) = &example.team {
        if d.team.as_deref() != Some(t.as_str()) {
            problems.push(format!(
                "team {t} expected, got {}",
                show(d.team.as_deref())
            ));
        }
    }
    if let Some(a) = &example.answer {
        if d.answer.as_deref() != Some(a.as_str()) {
            problems.push(format!(
                "answer {a} expected, got {}",
                show(d.answer.as_deref())
            ));
        }
    }
    problems
        .into_iter()
        .map(|p| {
            format!(
                "{}:{}:{}: example {:?}: {p} ({})",
                intent.path.display(),
                example.line,
                example.col,
                example.text,
                d.reason
            )
        })
        .collect()
}

/// Runs every example; returns (examples run, failures).
pub fn run_examples(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
) -> (usize, Vec<ExampleFailure>) {
    let mut run = 0;
    let mut failures = Vec::new();
    for intent in &catalog.intents {
        for example in &intent.examples {
            run += 1;
            for message in check_example(catalog, classifier, thresholds, intent, example) {
                failures.push(ExampleFailure { message });
            }
        }
    }
    (run, failures)
}

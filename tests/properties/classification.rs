//! Classification (never panics, keeps its invariants, is deterministic, gives valid
//! decision JSON, copes with a megabyte) and normalisation (idempotent).

use personabot::core::classify::{confidence, Classification, Target};
use personabot::core::route;
use personabot::core::text::{is_word_char, normalise, normalise_lower, words};
use personabot::engine::output::decision_json;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::strategies::{keyword_soup, message, tricky_string};
use crate::{cases, config, shipped, Shipped};

/// The invariants every classification holds, whatever the text.
fn check_classification(
    shipped: &Shipped,
    text: &str,
    c: &Classification,
) -> Result<(), TestCaseError> {
    let (intents, personas) = (
        shipped.catalog.intents.len(),
        shipped.catalog.personas.len(),
    );
    for (scores, count, axis) in [
        (&c.intents, intents, "intent"),
        (&c.personas, personas, "persona"),
    ] {
        for s in scores.iter() {
            prop_assert!((s.index as usize) < count, "{axis} index out of range");
            prop_assert!(
                s.score > 0.0 && s.score.is_finite(),
                "{axis} score {}",
                s.score
            );
            let conf = confidence(s.score);
            prop_assert!((0.0..=1.0).contains(&conf), "confidence {conf}");
        }
        for pair in scores.windows(2) {
            prop_assert!(
                pair[0].score > pair[1].score
                    || (pair[0].score == pair[1].score && pair[0].index < pair[1].index),
                "{axis} scores not ranked best first: {:?}",
                scores
            );
        }
    }
    for e in &c.evidence {
        if let Target::Veto(i) = e.target {
            prop_assert!(
                c.intents.iter().all(|s| s.index != i),
                "vetoed intent {i} still ranked"
            );
        }
    }
    // `classify --summary` uses the lean path: it must pick the same top intent.
    prop_assert_eq!(
        shipped.classifier.top_intent(text),
        c.intents.first().map(|s| s.index),
        "top_intent disagrees with classify"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn classify_never_panics_and_keeps_its_invariants(text in message()) {
        let s = shipped();
        let c = s.classifier.classify(&text);
        check_classification(s, &text, &c)?;
    }

    #[test]
    fn classify_is_deterministic_across_calls(a in message(), b in message()) {
        let s = shipped();
        let first = s.classifier.classify(&a);
        // Another message in between: the thread-local scratch buffers must not leak state.
        let _ = s.classifier.classify(&b);
        let _ = s.classifier.top_intent(&b);
        prop_assert_eq!(s.classifier.classify(&a), first);
    }

    #[test]
    fn the_decision_json_is_valid_json_in_the_documented_shape(text in message()) {
        let s = shipped();
        let (decision, classification) =
            route::run_single(&s.catalog, &s.settings.classify, &s.classifier, &text);
        let line = serde_json::to_string(&decision_json(&s.catalog, &decision, &classification))
            .expect("the decision serialises");
        prop_assert!(!line.contains('\n'), "one line per decision");
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let kind = value["route"]["kind"].as_str().unwrap_or_default();
        prop_assert!(["answer", "ticket", "clarify", "fallback"].contains(&kind), "kind {kind}");
        for key in ["persona", "intent"] {
            let pick = &value[key];
            prop_assert!(
                pick.is_null() || (pick["id"].is_string() && pick["confidence"].is_f64()),
                "{key}: {pick}"
            );
        }
        let evidence = value["evidence"].as_array().expect("evidence is an array");
        let shown = classification
            .evidence
            .iter()
            .filter(|e| !matches!(e.target, Target::Veto(_)))
            .count();
        prop_assert_eq!(evidence.len(), shown);
        for e in evidence {
            prop_assert!(e["term"].is_string() && e["target"].is_string(), "{e}");
            prop_assert!(e["weight"].is_number(), "weight of {e} is not a number");
        }
    }
}

proptest! {
    // A megabyte per case: a few cases are enough to show nothing is quadratic or panics
    // (PROPTEST_CASES=N runs N/100 of them).
    #![proptest_config(ProptestConfig { cases: (cases(300) / 100).max(1), ..config(3) })]

    #[test]
    fn classify_handles_a_megabyte_message(piece in message(), soup in keyword_soup()) {
        let s = shipped();
        let unit = format!("{piece} {soup}\n");
        let text = unit.repeat((1 << 20) / unit.len().max(1) + 1);
        prop_assert!(text.len() >= 1 << 20);
        let c = s.classifier.classify(&text);
        check_classification(s, &text, &c)?;
    }
}

// ----------------------------------------------------------------------------------------------
// Normalisation
// ----------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    /// What is idempotent, precisely:
    /// - `normalise` (NFKC, case fold, NFKC; ASCII passed through) is a fixed point on its own
    ///   output;
    /// - `normalise_lower` (the same, ASCII lowercased too) likewise;
    /// - `words`: re-tokenising the words of a text, joined by spaces, gives the same words, and
    ///   every word is a single word that maps to itself.
    #[test]
    fn normalisation_is_idempotent(text in prop_oneof![tricky_string(64), any::<String>(), keyword_soup()]) {
        let once = normalise(&text).into_owned();
        prop_assert_eq!(normalise(&once).into_owned(), once.clone(), "normalise of {:?}", text);

        let lower = normalise_lower(&text);
        prop_assert_eq!(normalise_lower(&lower), lower.clone(), "normalise_lower of {:?}", text);
        prop_assert_eq!(normalise_lower(&once), lower, "normalise_lower is normalise + ASCII lowercase");

        let ws = words(&text);
        prop_assert_eq!(words(&ws.join(" ")), ws.clone(), "words of {:?}", text);
        for w in &ws {
            prop_assert!(!w.is_empty() && w.chars().all(is_word_char), "word {w:?}");
            prop_assert_eq!(&words(w), &vec![w.clone()], "word {:?} re-tokenised", w);
        }
    }
}

//! Fuzz target: any bytes (made text the way a channel would, lossily) through normalisation,
//! classification, routing, the decision JSON and redaction. Besides "never panics" it checks
//! the properties of tests/properties/ on every input: normalisation is idempotent, the lean
//! `top_intent` path agrees with `classify`, and the decision JSON parses back.
#![no_main]

#[path = "../common/shipped.rs"]
mod shipped;

use libfuzzer_sys::fuzz_target;
use personabot::engine::output::decision_json;
use personabot::core::route;
use personabot::store::redact::redact;
use personabot::core::text::{normalise, words};
use shipped::shipped;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let s = shipped();

    let once = normalise(&text).into_owned();
    assert_eq!(normalise(&once), once, "normalise is idempotent");
    let ws = words(&text);
    assert_eq!(words(&ws.join(" ")), ws, "words is idempotent");

    let classification = s.classifier.classify(&text);
    assert_eq!(
        s.classifier.top_intent(&text),
        classification.intents.first().map(|i| i.index),
        "top_intent agrees with classify"
    );
    let (decision, classification) =
        route::run_single(&s.catalog, &s.settings.classify, &s.classifier, &text);
    let line = serde_json::to_string(&decision_json(&s.catalog, &decision, &classification))
        .expect("the decision serialises");
    serde_json::from_str::<serde_json::Value>(&line).expect("the decision JSON parses back");

    let _ = redact(&text);
});

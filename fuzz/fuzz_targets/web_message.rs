//! Fuzz target: the generic HTTP channel's bodies (`POST /v1/messages`, `/v1/feedback`,
//! `/v1/classify`): the JSON request types, then a message's text cut to the configured length,
//! classified, routed and answered as the decision JSON.
#![no_main]

#[path = "../common/shipped.rs"]
mod shipped;

use libfuzzer_sys::fuzz_target;
use personabot::channels::web::{ClassifyRequest, FeedbackRequest, MessageRequest};
use personabot::engine::output::decision_json;
use personabot::engine::pipeline::truncate_chars;
use personabot::core::route;
use personabot::store::redact::redact;
use shipped::shipped;

fuzz_target!(|body: &[u8]| {
    let _ = serde_json::from_slice::<FeedbackRequest>(body);
    let _ = serde_json::from_slice::<ClassifyRequest>(body);
    let Ok(request) = serde_json::from_slice::<MessageRequest>(body) else {
        return;
    };
    let s = shipped();
    let (text, _) = truncate_chars(&request.text, s.settings.limits.max_message_chars);
    let (decision, classification) =
        route::run_single(&s.catalog, &s.settings.classify, &s.classifier, text);
    let line = serde_json::to_string(&decision_json(&s.catalog, &decision, &classification))
        .expect("the decision serialises");
    serde_json::from_str::<serde_json::Value>(&line).expect("the decision JSON parses back");
    let _ = redact(text);
});

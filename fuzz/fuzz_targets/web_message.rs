//! Fuzz target: the generic HTTP channel's bodies (`POST /v1/messages`, `/v1/feedback`,
//! `/v1/classify`): the JSON request types, then a message's text cut to the configured length,
//! classified, routed and answered as the decision JSON.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use personabot::catalog::{self, Catalog, CatalogSources};
use personabot::channels::web::{ClassifyRequest, FeedbackRequest, MessageRequest};
use personabot::classify::Classifier;
use personabot::output::decision_json;
use personabot::pipeline::truncate_chars;
use personabot::route;
use personabot::settings::Settings;
use personabot::store::redact::redact;

struct Shipped {
    settings: Settings,
    catalog: Catalog,
    classifier: Classifier,
}

fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let settings = Settings::built_in();
        let catalog = catalog::load_from_sources(CatalogSources::built_in(), &settings.teams)
            .expect("the built-in catalog loads");
        let classifier = Classifier::new(&catalog).expect("the built-in catalog compiles");
        Shipped {
            settings,
            catalog,
            classifier,
        }
    })
}

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

//! Hot reload: a real `personabot serve` on a copy of the shipped catalog picks up a valid
//! keyword change, keeps serving the old catalog through a broken change (reporting it in
//! `/healthz` and `/metrics` with `path:line:col` errors), recovers when it is mended, reloads
//! on SIGHUP, and says which settings need a restart. A library-level test swaps catalogs while
//! turns run, and checks no turn mixes the two.

#[path = "support/serve_process.rs"]
mod serve_process;
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, CatalogSources};
use personabot::core::classify::Classifier;
use personabot::engine::pipeline::{Inbound, Pipeline, Rules};
use personabot::store::Store;
use serde_json::{json, Value};
use serve_process::{copy_catalog, ServeProcess, BRIDGE_TOKEN};

/// The longest wait for the server to notice a change.
const NOTICE: Duration = Duration::from_secs(15);

/// Writes `path` the way editors do: a temporary file renamed over it.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

struct Serve {
    process: ServeProcess,
    base: String,
    client: reqwest::Client,
}

impl Serve {
    async fn start(dir: &Path) -> Serve {
        let process = ServeProcess::start_in(dir, &[]);
        let serve = Serve {
            base: format!("http://{}", process.addr()),
            process,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        serve
            .wait_for("the server to answer", |h| h["status"] == "ok")
            .await;
        serve
    }

    async fn healthz(&self) -> Option<Value> {
        let r = self
            .client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    /// Polls `/healthz` until `ready` holds (bounded).
    async fn wait_for(&self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + NOTICE;
        loop {
            let last = self.healthz().await;
            if let Some(h) = last.as_ref().filter(|h| ready(h)) {
                return h.clone();
            }
            assert!(
                Instant::now() < deadline,
                "waited {NOTICE:?} for {what}; /healthz: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn intent(&self, text: &str) -> Option<String> {
        let v: Value = self
            .client
            .post(format!("{}/v1/classify", self.base))
            .json(&json!({ "text": text }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["intent"]["id"].as_str().map(str::to_string)
    }

    async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

const ZEBRA: &str = "do you price the zebra edition per seat?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_swaps_valid_changes_and_keeps_serving_through_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    copy_catalog(dir.path());
    let serve = Serve::start(dir.path()).await;
    let start = serve.healthz().await.unwrap();
    assert_eq!(start["catalog"]["generation"], 1);
    let before = serve.intent(ZEBRA).await;
    assert_ne!(
        before.as_deref(),
        Some("careers"),
        "precondition: {before:?}"
    );

    // A valid change: `zebra` becomes a strong careers keyword.
    let careers = dir.path().join("intents/careers.toml");
    let original = std::fs::read_to_string(&careers).unwrap();
    let with_zebra = original.replacen("[keywords]\n", "[keywords]\nzebra = 9.0\n", 1);
    assert_ne!(with_zebra, original);
    save(&careers, &with_zebra);
    serve
        .wait_for("the valid change", |h| h["catalog"]["generation"] == 2)
        .await;
    assert_eq!(serve.intent(ZEBRA).await.as_deref(), Some("careers"));

    // A broken change: every error is reported, and the previous catalog keeps answering.
    let refund = dir.path().join("intents/refund.toml");
    let refund_ok = std::fs::read_to_string(&refund).unwrap();
    save(
        &refund,
        &format!("threshold = \"high\"\npriority = 1.5\n{refund_ok}"),
    );
    let broken = serve
        .wait_for("the broken change to be reported", |h| {
            h["status"] == "degraded"
        })
        .await;
    let errors: Vec<&str> = broken["reload"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("refund.toml:1:") && e.contains("threshold")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("refund.toml:2:") && e.contains("priority")),
        "every error at once: {errors:?}"
    );
    assert_eq!(broken["catalog"]["generation"], 2, "nothing swapped in");
    assert_eq!(serve.intent(ZEBRA).await.as_deref(), Some("careers"));
    assert_eq!(
        serve
            .intent("I want a refund, I was charged twice")
            .await
            .as_deref(),
        Some("refund"),
        "the old refund intent still serves"
    );
    let metrics = serve.metrics().await;
    assert!(
        metrics.contains("personabot_catalog_reload_ok 0"),
        "{metrics}"
    );
    assert!(metrics.contains("personabot_catalog_reload_failures_total 1"));

    // Mended: the next generation serves, and the status is ok again.
    save(&refund, &refund_ok);
    let mended = serve
        .wait_for("the mended catalog", |h| h["status"] == "ok")
        .await;
    assert_eq!(mended["catalog"]["generation"], 3);
    assert!(serve
        .metrics()
        .await
        .contains("personabot_catalog_reload_ok 1"));

    // SIGHUP reloads with nothing changed on disk.
    let pid = serve.process.pid().to_string();
    let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(sent.success());
    serve
        .wait_for("the SIGHUP reload", |h| h["catalog"]["generation"] == 4)
        .await;

    // Settings: a team's name applies at once; the HTTP body limit needs a restart. Settings
    // that would fail the catalog's examples are refused like a broken catalog.
    let settings = dir.path().join("personabot.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let strict = text.replacen("intent_threshold = 0.5", "intent_threshold = 0.9999", 1);
    assert_ne!(strict, text);
    save(&settings, &strict);
    let refused = serve
        .wait_for("the refused settings", |h| h["status"] == "degraded")
        .await;
    let errors = refused["reload"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 21, "20 errors and a count of the rest");
    assert!(errors[20].as_str().unwrap().contains("more"));
    let renamed = text
        .replacen("name = \"Sales\"", "name = \"Deal desk\"", 1)
        .replacen("max_body_bytes = 65536", "max_body_bytes = 1000", 1);
    assert!(renamed.contains("Deal desk") && renamed.contains("max_body_bytes = 1000"));
    save(&settings, &renamed);
    let after = serve
        .wait_for("the settings change", |h| h["status"] == "ok")
        .await;
    assert_eq!(after["catalog"]["generation"], 5);
    assert_eq!(after["reload"]["restart_needed"], json!(["http"]));
    let turn: Value = serve
        .client
        .post(format!("{}/v1/messages", serve.base))
        .bearer_auth(BRIDGE_TOKEN)
        .json(&json!({
            "channel": "test",
            "conversation": "quote",
            "user": "u1",
            "text": "We need a quote for the Enterprise plan for our organisation; procurement needs it before the RFP deadline",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(turn["route"]["team"], "sales", "{turn}");
    assert!(
        turn["reply"].as_str().unwrap().contains("Deal desk"),
        "the renamed team is told to the customer: {turn}"
    );
}

/// Two catalogs whose intents sit at different indexes: the shipped one, and the same with a
/// new intent `aaa-first` (sorted first, so every other intent's index shifts by one).
fn two_rules(settings: &Settings) -> (Rules, Rules) {
    let compile = |sources: CatalogSources| {
        let catalog = catalog::load_from_sources(sources, &settings.teams).unwrap();
        let classifier = Classifier::new(&catalog).unwrap();
        Rules::new(Arc::new(catalog), Arc::new(classifier), settings)
    };
    let root = support::repo_root();
    let shipped = compile(CatalogSources::read_dir(&root).unwrap());
    let dir = tempfile::tempdir().unwrap();
    copy_catalog(dir.path());
    std::fs::write(
        dir.path().join("intents/aaa-first.toml"),
        "name = \"First\"\n[keywords]\nzebra = 2.0\n[route]\nkind = \"ticket\"\nteam = \"support\"\n",
    )
    .unwrap();
    let shifted = compile(CatalogSources::read_dir(dir.path()).unwrap());
    (shipped, shifted)
}

#[test]
fn turns_in_flight_finish_on_the_catalog_they_started_with() {
    let settings = Settings::load_with_env(None, Some(Default::default())).unwrap();
    let (a, b) = two_rules(&settings);
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path(), Some("reload-test")).unwrap();
    let pipeline = Arc::new(Pipeline::new(
        a.catalog.clone(),
        a.classifier.clone(),
        &settings,
        store,
    ));
    let texts = [
        "how much is the growth plan?",
        "I want a refund, I was charged twice",
        "are you hiring backend engineers?",
        "zebra",
        "I can't log in",
    ];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (pipeline, stop) = (pipeline.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && swaps < 100_000 {
                pipeline.reload(if swaps % 2 == 0 { b.clone() } else { a.clone() });
                swaps += 1;
                std::thread::yield_now();
            }
            swaps
        })
    };
    let mut checked = 0;
    for round in 0..200 {
        for (n, text) in texts.iter().enumerate() {
            let o = pipeline
                .handle(&Inbound {
                    channel: "http".into(),
                    conversation: format!("c{round}-{n}"),
                    user: "u".into(),
                    text: (*text).into(),
                })
                .unwrap();
            // Every index in the outcome points into the catalog the turn ran on.
            let catalog = &o.catalog;
            for s in &o.classification.intents {
                assert!((s.index as usize) < catalog.intents.len());
            }
            if let Some(intent) = &o.decision.intent {
                let at = intent.index as usize;
                assert_eq!(catalog.intents[at].id, intent.id, "{text}");
            }
            let json =
                personabot::engine::output::decision_json(catalog, &o.decision, &o.classification);
            for e in &json.evidence {
                let (kind, id) = e.target.split_once(':').unwrap();
                let known = match kind {
                    "persona" => catalog.persona(id).is_some(),
                    _ => catalog.intent(id).is_some(),
                };
                assert!(known, "{} names {} of this catalog", e.term, e.target);
            }
            // "zebra" is aaa-first's keyword only: it matches exactly when that catalog ran.
            if *text == "zebra" {
                let has_first = catalog.intent("aaa-first").is_some();
                assert_eq!(
                    o.decision.intent.as_ref().map(|i| i.id.as_str()) == Some("aaa-first"),
                    has_first
                );
            }
            checked += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(
        swaps > 10,
        "the catalogs were swapped while turns ran ({swaps})"
    );
    assert_eq!(checked, 200 * texts.len());
}

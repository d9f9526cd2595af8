//! `personabot replay` on a crafted change: evidence is logged by running messages through the
//! pipeline (shipped catalog, real sled store in a temp dir); the replayed catalog is the
//! shipped one with one exclusion added to `pricing`, so exactly the pricing messages that
//! contain the excluded word must flip, and nothing else.

mod support;

use std::path::Path;

use personabot::engine::pipeline::{Inbound, Outcome};
use personabot::store::Store;
use serde_json::Value;
use support::{repo_root, run_in};

fn say(p: &personabot::engine::pipeline::Pipeline, conversation: &str, text: &str) -> Outcome {
    p.handle(&Inbound {
        channel: "http".into(),
        conversation: conversation.into(),
        user: format!("user-{conversation}"),
        text: text.into(),
    })
    .expect("the turn is stored")
}

fn intent(o: &Outcome) -> Option<&str> {
    o.decision.intent.as_ref().map(|p| p.id.as_str())
}

/// The shipped catalog, copied, with `zebra` added to pricing's exclusions.
fn crafted_catalog(dir: &Path) {
    for folder in ["personas", "intents"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for entry in std::fs::read_dir(repo_root().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().unwrap() == "pricing.toml" {
                let changed = text.replacen("exclude = [", "exclude = [\"zebra\", ", 1);
                assert_ne!(changed, text, "pricing.toml has an exclude list");
                text = changed;
            }
            std::fs::write(dir.join(folder).join(path.file_name().unwrap()), text).unwrap();
        }
    }
}

#[test]
fn a_crafted_change_flips_exactly_the_messages_it_targets() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let zebra = [
        "how much is the growth plan for a zebra team?",
        "zebra pricing: how much per seat?",
    ];
    let untouched = [
        "how much is the growth plan?",
        "I can't log in, the password reset email never arrives",
        "are you hiring backend engineers?",
    ];
    let relabelled_stored_intent;
    {
        let p = support::pipeline_on(Store::open(&data, Some("replay-test-key")).unwrap());
        for (n, text) in zebra.iter().enumerate() {
            let o = say(&p, &format!("z{n}"), text);
            assert_eq!(intent(&o), Some("pricing"), "logged as pricing: {text}");
        }
        for (n, text) in untouched.iter().enumerate() {
            say(&p, &format!("u{n}"), text);
        }
        // A ticket, a follow-up inside it (not the bot's decision: skipped), and a relabel.
        let o = say(
            &p,
            "r",
            "I want a refund for last month, I was charged twice",
        );
        let ticket = o
            .ticket
            .as_ref()
            .expect("a refund request opens a ticket")
            .id;
        relabelled_stored_intent = intent(&o).map(str::to_string);
        say(&p, "r", "any news on this?");
        p.relabel(ticket, Some("billing"), None, "agent-1").unwrap();
    }
    let catalog = work.path().join("catalog");
    crafted_catalog(&catalog);
    let run = run_in(
        work.path(),
        &data,
        &["--catalog", catalog.to_str().unwrap(), "replay", "--json"],
        None,
    );
    run.expect_ok();
    let report: Value = run.json_lines().remove(0);
    let total = zebra.len() + untouched.len() + 1;
    assert_eq!(report["replayed"], total, "{report}");
    assert_eq!(report["skipped_in_ticket"], 1, "{report}");
    assert_eq!(report["flipped"], zebra.len(), "{report}");
    assert_eq!(report["intent_flips"], zebra.len(), "{report}");
    let changes = report["by_change"]["intent"].as_object().unwrap();
    assert!(
        changes.keys().all(|k| k.starts_with("pricing -> ")),
        "{changes:?}"
    );
    let shown: Vec<&str> = report["examples"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("intent: "))
        .flat_map(|(_, v)| v.as_array().unwrap())
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    for text in zebra {
        assert!(shown.contains(&text), "{text} among {shown:?}");
    }
    let labels = &report["intent_labels"];
    assert_eq!(labels["relabelled"], 1, "{report}");
    let agreed = usize::from(relabelled_stored_intent.as_deref() == Some("billing"));
    assert_eq!(labels["agreed_before"], agreed, "{report}");
    // The change does not touch that message: it routes as it did.
    assert_eq!(labels["agreed_after"], agreed, "{report}");

    // The same store replayed through its own catalog flips nothing.
    let run = run_in(
        work.path(),
        &data,
        &[
            "--catalog",
            repo_root().to_str().unwrap(),
            "replay",
            "--json",
        ],
        None,
    );
    run.expect_ok();
    let same: Value = run.json_lines().remove(0);
    assert_eq!(same["flipped"], 0, "{same}");

    // The terminal report names the change and an example.
    let run = run_in(
        work.path(),
        &data,
        &["--catalog", catalog.to_str().unwrap(), "replay"],
        None,
    );
    run.expect_ok();
    assert!(run.stdout.contains("flipped 2"), "{}", run.stdout);
    assert!(run.stdout.contains("zebra"), "{}", run.stdout);
}

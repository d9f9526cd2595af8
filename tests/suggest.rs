//! `personabot suggest` on evidence logged by the real pipeline (shipped catalog, sled store in a
//! temp dir): agents relabel two PayPal questions the bot took for pricing, two answers that
//! fired pricing's `yearly` did not help, and two misses about passkeys were rephrased as login
//! problems. The suggestions must carry the support counted here independently; the printed
//! diff must apply with `patch -p1`; `--apply` must write exactly that diff, keep every comment,
//! pass `check`, and re-classify the mis-routed messages as predicted while controls stay put.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use personabot::core::text;
use personabot::engine::pipeline::{Inbound, Outcome, Pipeline};
use personabot::owner::suggest::{self, Action, ProfileKind, SuggestOptions, Suggestion};
use personabot::store::{Interaction, Store};
use serde_json::Value;
use support::{repo_root, run_in, shipped, Run};

const CHANNEL: &str = "http";

fn user(conversation: &str) -> String {
    format!("user-{conversation}")
}

fn say(p: &Pipeline, conversation: &str, text: &str) -> Outcome {
    p.handle(&Inbound {
        channel: CHANNEL.into(),
        conversation: conversation.into(),
        user: user(conversation),
        text: text.into(),
    })
    .expect("the turn is stored")
}

fn intent(o: &Outcome) -> Option<&str> {
    o.decision.intent.as_ref().map(|p| p.id.as_str())
}

/// PayPal questions the bot answers as pricing; agents say they are billing.
const PAYPAL: [&str; 2] = [
    "do you accept paypal for the growth plan?",
    "can I pay for the scale plan with paypal?",
];
/// Answers that pricing's `yearly` drew, which did not help.
const YEARLY: [&str; 2] = [
    "where is the yearly usage report?",
    "can I export a yearly summary of conversations?",
];
/// Misses, each followed by a message that matched account-access.
const PASSKEY: [(&str, &str); 2] = [
    (
        "the passkey prompt never shows up",
        "I can't log in to my account",
    ),
    ("passkey prompt is missing on my phone", "I cannot sign in"),
];
/// Correctly routed messages, and what they must stay.
const CONTROLS: [(&str, &str); 4] = [
    ("how much is the growth plan?", "pricing"),
    ("which plan has the most seats?", "pricing"),
    ("are you hiring backend engineers?", "careers"),
    (
        "I forgot my password and the reset link expired",
        "account-access",
    ),
];
/// A miss nothing explains.
const LONE_MISS: &str = "blorptastic frobnication again";

/// Logs the scenario through the pipeline: relabels through the store, feedback through the
/// pipeline (the button once, the words once).
fn log_scenario(data: &Path) -> Vec<Interaction> {
    let p = support::pipeline_on(Store::open(data, Some("suggest-test-key")).unwrap());
    for (n, text) in PAYPAL.iter().enumerate() {
        let conversation = format!("paypal{n}");
        let o = say(&p, &conversation, text);
        assert_eq!(intent(&o), Some("pricing"), "logged as pricing: {text}");
        let handoff = p
            .feedback(CHANNEL, &conversation, &user(&conversation), false)
            .unwrap();
        let ticket = handoff
            .ticket
            .expect("\"Talk to a human\" opens a ticket")
            .id;
        p.store()
            .relabel_ticket(ticket, Some("billing"), None, "agent-1")
            .unwrap();
    }
    let o = say(&p, "yearly0", YEARLY[0]);
    assert_eq!(intent(&o), Some("pricing"), "{}", YEARLY[0]);
    p.feedback(CHANNEL, "yearly0", &user("yearly0"), false)
        .unwrap();
    let o = say(&p, "yearly1", YEARLY[1]);
    assert_eq!(intent(&o), Some("pricing"), "{}", YEARLY[1]);
    let o = say(&p, "yearly1", "that didn't help");
    assert!(o.ticket.is_some(), "saying it did not help opens a ticket");
    for (n, (miss, rephrased)) in PASSKEY.iter().enumerate() {
        let conversation = format!("passkey{n}");
        let o = say(&p, &conversation, miss);
        assert_eq!(intent(&o), None, "a miss: {miss}");
        let o = say(&p, &conversation, rephrased);
        assert_eq!(intent(&o), Some("account-access"), "{rephrased}");
    }
    for (n, (text, want)) in CONTROLS.iter().enumerate() {
        let o = say(&p, &format!("control{n}"), text);
        assert_eq!(intent(&o), Some(*want), "{text}");
    }
    let o = say(&p, "lone", LONE_MISS);
    assert_eq!(intent(&o), None, "{LONE_MISS}");
    p.store().interactions(&Default::default()).unwrap()
}

/// `run_in` without stdin (the store this process opened is closed by then: dropping the last
/// handle stops its writer and releases sled's lock).
fn run_bin(cwd: &Path, data: &Path, args: &[&str]) -> Run {
    run_in(cwd, data, args, None)
}

fn has_word(text: &str, phrase: &str) -> bool {
    let words = text::words(text);
    let want = text::words(phrase);
    words.windows(want.len()).any(|w| w == want.as_slice())
}

fn find<'a>(
    found: &'a [Suggestion],
    kind: ProfileKind,
    profile: &str,
    action: Action,
    term: &str,
) -> &'a Suggestion {
    found
        .iter()
        .find(|s| s.kind == kind && s.profile == profile && s.action == action && s.term == term)
        .unwrap_or_else(|| panic!("no {action:?} {term:?} for {profile} in {found:#?}"))
}

/// The shipped personas/ and intents/ copied into `dir`.
fn copy_catalog(dir: &Path) {
    for folder in ["personas", "intents"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for entry in std::fs::read_dir(repo_root().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(folder).join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Every file of the catalog in `dir`, by relative path.
fn read_catalog(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for folder in ["personas", "intents"] {
        for entry in std::fs::read_dir(dir.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{folder}/{}", path.file_name().unwrap().to_string_lossy());
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    files
}

/// Lines of `a` not in `b` (as a multiset), in order.
fn lines_missing(a: &str, b: &str) -> Vec<String> {
    let mut left: Vec<&str> = b.lines().collect();
    let mut out = Vec::new();
    for line in a.lines() {
        match left.iter().position(|l| *l == line) {
            Some(at) => {
                left.remove(at);
            }
            None => out.push(line.to_string()),
        }
    }
    out
}

fn patch(dir: &Path, diff: &str, dry_run: bool) -> std::process::Output {
    let file = dir.with_extension("patch");
    std::fs::write(&file, diff).unwrap();
    let mut cmd = Command::new("patch");
    cmd.current_dir(dir)
        .arg("-p1")
        .arg("--batch")
        .arg("-i")
        .arg(&file);
    if dry_run {
        cmd.arg("--dry-run");
    }
    cmd.output()
        .expect("`patch` is installed (Debian: apt-get install patch)")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn suggestions_carry_their_support_and_apply_as_predicted() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let logged = log_scenario(&data);

    // The support, counted here from the store without the miner.
    let relabelled_paypal = logged
        .iter()
        .filter(|i| {
            i.label.as_ref().and_then(|l| l.intent.as_deref()) == Some("billing")
                && i.intent.as_ref().is_some_and(|s| s.id != "billing")
                && has_word(&i.text, "paypal")
        })
        .count();
    let not_helped_yearly = logged
        .iter()
        .filter(|i| {
            i.feedback.as_ref().is_some_and(|f| !f.helped)
                && i.label.is_none()
                && i.evidence
                    .iter()
                    .any(|e| e.target == "intent:pricing" && e.term == "yearly")
        })
        .count();
    let rephrased_passkey = logged
        .iter()
        .filter(|miss| {
            miss.intent.is_none()
                && has_word(&miss.text, "passkey")
                && logged.iter().any(|next| {
                    next.conversation == miss.conversation
                        && next.id == miss.id + 1
                        && next
                            .intent
                            .as_ref()
                            .is_some_and(|s| s.id == "account-access")
                })
        })
        .count();
    assert_eq!(relabelled_paypal, PAYPAL.len());
    assert_eq!(not_helped_yearly, YEARLY.len());
    assert_eq!(rephrased_passkey, PASSKEY.len());

    // (a) The library's suggestions.
    let shipped = shipped();
    let found = suggest::suggest(
        &shipped.catalog,
        &shipped.settings.classify,
        &logged,
        &SuggestOptions::default(),
    )
    .unwrap();
    let paypal = find(
        &found.suggestions,
        ProfileKind::Intent,
        "billing",
        Action::Add,
        "paypal",
    );
    assert_eq!(paypal.support.relabelled, relabelled_paypal);
    assert_eq!(paypal.support.rephrased, 0);
    assert_eq!(paypal.support.counter, 0);
    let shown: Vec<&str> = paypal.examples.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(shown, PAYPAL, "examples, oldest first");
    let yearly = find(
        &found.suggestions,
        ProfileKind::Intent,
        "pricing",
        Action::Remove,
        "yearly",
    );
    assert_eq!(yearly.support.not_helped, not_helped_yearly);
    assert_eq!(yearly.support.relabelled, 0);
    assert_eq!(yearly.support.counter, 0);
    let passkey = find(
        &found.suggestions,
        ProfileKind::Intent,
        "account-access",
        Action::Add,
        "passkey",
    );
    assert_eq!(passkey.support.rephrased, rephrased_passkey);
    assert_eq!(passkey.support.relabelled, 0);
    // `plan` is in both PayPal messages, but the pricing controls hold it too.
    assert!(
        !found
            .suggestions
            .iter()
            .any(|s| s.profile == "billing" && s.term.split(' ').any(|w| w == "plan")),
        "{:#?}",
        found.suggestions
    );
    // Nothing touches a profile no evidence speaks about.
    assert!(
        found
            .suggestions
            .iter()
            .all(|s| ["billing", "pricing", "account-access"].contains(&s.profile.as_str())),
        "{:#?}",
        found.suggestions
    );
    assert_eq!(found.intent_relabels, PAYPAL.len());
    assert_eq!(found.not_helped, YEARLY.len());
    assert_eq!(found.rephrased, PASSKEY.len());
    assert_eq!(found.unattributed.messages, 1);
    assert!(found
        .unattributed
        .top_terms
        .iter()
        .any(|t| t.term == "blorptastic" && t.count == 1));

    // (b) The binary prints a diff that applies cleanly to a copy of the catalog.
    let catalog = work.path().join("catalog");
    copy_catalog(&catalog);
    let original = read_catalog(&catalog);
    let run = run_bin(work.path(), &data, &["--catalog", s(&catalog), "suggest"]);
    run.expect_ok();
    let diff = run.stdout.clone();
    assert!(
        diff.starts_with("--- a/"),
        "stdout is only the diff:\n{diff}"
    );
    assert!(diff.contains("\n+paypal = "), "{diff}");
    assert!(diff.contains("\n-yearly = 0.8\n"), "{diff}");
    assert!(
        run.stderr.contains("intent billing: add \"paypal\"")
            && run.stderr.contains(
                "support 2 message(s) (relabelled here 2); found in 0 message(s) of other profiles"
            )
            && run.stderr.contains(PAYPAL[0]),
        "the summary names each suggestion with its support and examples:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "predicted: 2 intent-relabelled message(s) routed as the agent said: 0 now, 2 after"
        ),
        "{}",
        run.stderr
    );
    let patched = work.path().join("patched");
    copy_catalog(&patched);
    let dry = patch(&patched, &diff, true);
    assert!(dry.status.success(), "patch --dry-run: {dry:?}");
    let real = patch(&patched, &diff, false);
    assert!(real.status.success(), "patch: {real:?}");

    // `--intent` narrows the diff to that profile; an unknown id is an error.
    let run = run_bin(
        work.path(),
        &data,
        &["--catalog", s(&catalog), "suggest", "--intent", "billing"],
    );
    run.expect_ok();
    let files: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("+++ "))
        .collect();
    assert_eq!(files, ["b/intents/billing.toml"], "{}", run.stdout);
    let run = run_bin(
        work.path(),
        &data,
        &["--catalog", s(&catalog), "suggest", "--intent", "nope"],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains("unknown intent `nope`"),
        "{}",
        run.stderr
    );

    // (c) --apply writes exactly what the diff said, and only the changed lines differ.
    let run = run_bin(
        work.path(),
        &data,
        &["--catalog", s(&catalog), "suggest", "--apply"],
    );
    run.expect_ok();
    assert!(
        run.stdout
            .contains("intents/billing.toml: added \"paypal\""),
        "{}",
        run.stdout
    );
    let applied = read_catalog(&catalog);
    assert_eq!(
        applied,
        read_catalog(&patched),
        "--apply wrote what the diff showed"
    );
    for (name, before) in &original {
        let after = &applied[name];
        let gone = lines_missing(before, after);
        let new = lines_missing(after, before);
        match name.as_str() {
            "intents/pricing.toml" => {
                assert_eq!(gone, ["yearly = 0.8"], "{name}");
                assert!(new.is_empty(), "{name}: {new:?}");
            }
            "intents/billing.toml" => {
                assert!(gone.is_empty(), "{name}: {gone:?}");
                assert_eq!(new.len(), 1, "{name}: {new:?}");
                assert!(new[0].starts_with("paypal = "), "{name}: {new:?}");
            }
            "intents/account-access.toml" => {
                assert!(gone.is_empty(), "{name}: {gone:?}");
                assert!(new.iter().any(|l| l.starts_with("passkey = ")), "{new:?}");
                assert!(
                    new.iter().all(|l| !l.contains('#')),
                    "only keyword lines: {new:?}"
                );
            }
            _ => assert_eq!(before, after, "{name} is untouched"),
        }
        // Every comment line survives as written.
        for line in before.lines().filter(|l| l.trim_start().starts_with('#')) {
            assert!(after.contains(line), "{name} lost the comment {line:?}");
        }
    }
    let check = run_bin(work.path(), &data, &["--catalog", s(&catalog), "check"]);
    check.expect_ok();

    // Re-classified by the edited catalog: the relabelled and rephrased messages go where the
    // agent and the customer said, the not-helped ones no longer go to pricing, the controls
    // stay.
    let mut texts: Vec<&str> = PAYPAL.to_vec();
    texts.extend(YEARLY);
    texts.extend(PASSKEY.iter().map(|(miss, _)| *miss));
    texts.extend(CONTROLS.iter().map(|(text, _)| *text));
    let mut args = vec!["--catalog", s(&catalog), "classify", "--json"];
    args.extend(&texts);
    let run = run_bin(work.path(), &data, &args);
    run.expect_ok();
    let intents: Vec<Option<String>> = run
        .json_lines()
        .iter()
        .map(|v: &Value| v["intent"]["id"].as_str().map(str::to_string))
        .collect();
    let mut want: Vec<Option<&str>> = vec![Some("billing"); PAYPAL.len()];
    for (n, got) in intents[PAYPAL.len()..PAYPAL.len() + YEARLY.len()]
        .iter()
        .enumerate()
    {
        assert_ne!(got.as_deref(), Some("pricing"), "{}", YEARLY[n]);
        want.push(got.as_deref());
    }
    want.extend([Some("account-access"); PASSKEY.len()]);
    want.extend(CONTROLS.iter().map(|(_, i)| Some(*i)));
    let got: Vec<Option<&str>> = intents.iter().map(Option::as_deref).collect();
    assert_eq!(got, want, "{texts:?}");

    // Nothing left to suggest from the same evidence: the diff is empty.
    let run = run_bin(work.path(), &data, &["--catalog", s(&catalog), "suggest"]);
    run.expect_ok();
    assert_eq!(run.stdout, "", "{}", run.stderr);
}

#[test]
fn apply_refuses_the_built_in_catalog_and_json_reports_everything() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    log_scenario(&data);
    // No personas/ or intents/ in the working folder: the built-in catalog, nothing to write.
    let run = run_bin(work.path(), &data, &["suggest", "--apply"]);
    run.expect_code(1);
    assert!(run.stderr.contains("built-in catalog"), "{}", run.stderr);
    let intents_dir: PathBuf = work.path().join("intents");
    assert!(!intents_dir.exists(), "nothing was written");

    // Without --apply the built-in catalog still gets a diff against its shipped files.
    let run = run_bin(
        work.path(),
        &data,
        &["suggest", "--json", "--min-support", "2"],
    );
    run.expect_ok();
    let report: Value = run.json_lines().remove(0);
    let diff = report["diff"].as_str().unwrap();
    assert!(diff.contains("+++ b/intents/billing.toml"), "{diff}");
    assert_eq!(report["applied"], Value::Null);
    assert_eq!(
        report["predicted"]["intent_labels_after"]["agreed_after"],
        2
    );
    let suggestions = report["suggestions"].as_array().unwrap();
    let paypal = suggestions
        .iter()
        .find(|s| s["term"] == "paypal")
        .expect("paypal is suggested");
    assert_eq!(paypal["kind"], "intent");
    assert_eq!(paypal["action"], "add");
    assert_eq!(paypal["support"]["relabelled"], 2);

    // A higher bar than the evidence: nothing to suggest, an empty diff.
    let run = run_bin(work.path(), &data, &["suggest", "--min-support", "3"]);
    run.expect_ok();
    assert_eq!(run.stdout, "", "{}", run.stderr);
    assert!(run.stderr.contains("no suggestions"), "{}", run.stderr);
}

/// pricing's answers with two texts for the default, as an A/B answer is written.
const AB_PRICING: &str = r#"name = "Pricing"

[keywords]
pricing = 1.5

[answers]
# Two texts for everyone: which one helps more?
default = [
  """
Hearth has four plans: Starter, Growth, Scale and Enterprise.
""",
  # the short one
  """
Plans start free; Growth is $39 per seat.
""",
]
startup-founder = "Our startup program takes 50% off."
"#;

/// A/B answers: pricing's default shown in two variants, 20 of 30 helped against 8 of 30 (a
/// two-proportion z-test gives p ≈ 0.0019). `suggest` proposes retiring the second variant,
/// and the edit removes exactly its text from the `[answers]` array. The records are a real
/// pipeline answer, stored again under the variant names the A/B answers give.
#[test]
fn a_losing_answer_variant_is_proposed_for_retirement() {
    use personabot::catalog::CatalogSources;
    use personabot::core::conversation::ConversationState;
    use personabot::store::{Feedback, TicketChange};

    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let logged = {
        let p = support::pipeline_on(Store::open(&data, Some("suggest-test-key")).unwrap());
        let o = say(&p, "template", "How much does Hearth cost?");
        assert_eq!(
            o.decision.actions(),
            ["helped", "human"],
            "a self-help answer"
        );
        let store = p.store();
        let template = store.interaction(o.interaction.unwrap()).unwrap().unwrap();
        for (variant, helped) in [("pricing/default#1", 20), ("pricing/default#2", 8)] {
            for n in 0..30 {
                let mut i = template.clone();
                i.id = store.next_interaction_id().unwrap();
                i.conversation = format!("{variant}-{n}");
                i.route.answer = Some(variant.into());
                i.feedback = (n < helped).then_some(Feedback {
                    helped: true,
                    at_ms: i.at_ms,
                });
                store
                    .record_turn(&i, &ConversationState::default(), &TicketChange::None, None)
                    .unwrap();
            }
        }
        store.interactions(&Default::default()).unwrap()
    };

    // (a) The binary names the variant to retire, with its evidence.
    let run = run_bin(work.path(), &data, &["suggest", "--json"]);
    run.expect_ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let retire = report["retire"].as_array().unwrap();
    assert_eq!(retire.len(), 1, "{retire:?}");
    let r = &retire[0];
    for (key, want) in [
        ("variant", serde_json::json!("pricing/default#2")),
        ("intent", serde_json::json!("pricing")),
        ("key", serde_json::json!("default")),
        ("number", serde_json::json!(2)),
        ("shown", serde_json::json!(30)),
        ("helped", serde_json::json!(8)),
        ("beaten_by", serde_json::json!("pricing/default#1")),
        ("beaten_by_shown", serde_json::json!(30)),
        ("beaten_by_helped", serde_json::json!(20)),
    ] {
        assert_eq!(r[key], want, "{key}: {r}");
    }
    assert!(
        (r["p_value"].as_f64().unwrap() - 0.0019009).abs() < 1e-6,
        "{r}"
    );
    let run = run_bin(work.path(), &data, &["suggest"]);
    run.expect_ok();
    assert!(
        run.stderr
            .contains("intent pricing: retire the answer variant pricing/default#2 (text 2 of [answers] default): it helped 8 of 30 (27%), pricing/default#1 helped 20 of 30 (67%)"),
        "{}",
        run.stderr
    );
    // --intent of another intent leaves it out.
    let run = run_bin(
        work.path(),
        &data,
        &["suggest", "--json", "--intent", "refund"],
    );
    run.expect_ok();
    let other: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(other["retire"], serde_json::json!([]));

    // (b) The edit, on a catalog whose pricing answer holds the two texts: the diff removes
    // the second text (and its comment) and nothing else, and applies with `patch -p1`.
    let shipped = shipped();
    let found = suggest::suggest(
        &shipped.catalog,
        &shipped.settings.classify,
        &logged,
        &SuggestOptions::default(),
    )
    .unwrap();
    let catalog = work.path().join("catalog");
    std::fs::create_dir_all(catalog.join("intents")).unwrap();
    std::fs::create_dir_all(catalog.join("personas")).unwrap();
    std::fs::write(catalog.join("intents/pricing.toml"), AB_PRICING).unwrap();
    let sources = CatalogSources::read_dir(&catalog).unwrap();
    let edits = suggest::edit_files(&sources, &[], &found.retire).unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0].retired, ["pricing/default#2"]);
    assert_eq!(
        lines_missing(AB_PRICING, &edits[0].after),
        [
            "  # the short one",
            "  \"\"\"",
            "Plans start free; Growth is $39 per seat.",
            "\"\"\",",
        ]
    );
    assert!(lines_missing(&edits[0].after, AB_PRICING).is_empty());
    let out = patch(&catalog, &suggest::render_diff(&edits), false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(catalog.join("intents/pricing.toml")).unwrap(),
        edits[0].after
    );
}

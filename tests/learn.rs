//! `personabot learn` end to end, on slices of the shared banking77 and bitext data kept in
//! tests/fixtures/learn:
//! the files it writes load and pass `check`, keep dataset labels that are not valid ids, are
//! sorted by weight, score above a regression floor through `eval`, make none-label messages
//! fall back, learn an out-of-scope threshold that turns away messages from a source never seen
//! (with the trade-off `eval` prints), and an existing profile folder is not overwritten by
//! accident.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{repo_root, run_in, Run};

/// Labels of the slice: two of them are not valid ids.
const LABELS: &[&str] = &[
    "Refund_not_showing_up",
    "reverted_card_payment?",
    "card_arrival",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "change_pin",
    "cash_withdrawal_charge",
    "apple_pay_or_google_pay",
    "terminate_account",
];

/// Slices of the shared datasets kept beside the tests (see tests/fixtures/learn/README.md).
fn datasets() -> PathBuf {
    repo_root().join("tests").join("fixtures").join("learn")
}

/// The `text,label` rows of `file` whose label is in `labels`, as CSV text.
fn slice(file: &Path, labels: &[&str], relabel: Option<&str>, limit: usize) -> String {
    let mut reader = csv::Reader::from_path(file).expect("the shared dataset is readable");
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["text", "label"]).unwrap();
    let mut n = 0;
    for record in reader.records() {
        let record = record.unwrap();
        if labels.is_empty() || labels.contains(&&record[1]) {
            out.write_record([&record[0], relabel.unwrap_or(&record[1])])
                .unwrap();
            n += 1;
            if n == limit {
                break;
            }
        }
    }
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), &self.path("store"), args, None)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn eval_json(ws: &Workspace, catalog: &Path, data: &Path, none: Option<&str>) -> Value {
    let mut args = vec!["--catalog", s(catalog), "eval", "--data", s(data), "--json"];
    if let Some(l) = none {
        args.extend(["--none-label", l]);
    }
    let run = ws.run(&args);
    run.expect_ok();
    run.json_lines().remove(0)
}

#[test]
fn learned_profiles_load_keep_labels_and_pass_a_floor() {
    let ws = Workspace::new();
    let b77 = datasets().join("banking77");
    let train = ws.write(
        "train.csv",
        &slice(&b77.join("train.csv"), LABELS, None, usize::MAX),
    );
    let test = ws.write(
        "test.csv",
        &slice(&b77.join("test.csv"), LABELS, None, usize::MAX),
    );
    let out = ws.path("learned");
    let run = ws.run(&["learn", "--data", s(&train), "--out", s(&out)]);
    run.expect_ok();
    assert!(run.stdout.contains("learned 10 intents"), "{run:?}");

    // One file per label, named by a valid id; the label is kept as written.
    let files: BTreeSet<String> = std::fs::read_dir(out.join("intents"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.contains("reverted-card-payment.toml"), "{files:?}");
    assert!(files.contains("refund-not-showing-up.toml"), "{files:?}");
    assert_eq!(files.len(), LABELS.len());
    let reverted = std::fs::read_to_string(out.join("intents/reverted-card-payment.toml")).unwrap();
    assert!(
        reverted.contains("label = \"reverted_card_payment?\""),
        "{reverted}"
    );

    // Keywords are sorted by weight, strongest first.
    let doc: toml_edit::DocumentMut = reverted.parse().unwrap();
    let weights: Vec<f64> = doc["keywords"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(_, v)| v.as_float().unwrap())
        .collect();
    assert!(weights.len() > 10);
    assert!(weights.windows(2).all(|w| w[0] >= w[1]), "{weights:?}");

    // The folder is a catalog `check` accepts.
    ws.run(&["--catalog", s(&out), "check"]).expect_ok();

    // Eval compares like with like: the labels as written in the data.
    let report = eval_json(&ws, &out, &test, None);
    let accuracy = report["accuracy"].as_f64().unwrap();
    // A regression floor, not the goal (measured 0.99 on this slice when written).
    assert!(accuracy >= 0.95, "accuracy {accuracy}: {report}");
    assert!(report["per_label"]["reverted_card_payment?"]["support"].as_u64() > Some(0));

    // The learned profiles route through the real classifier.
    let run = ws.run(&[
        "--catalog",
        s(&out),
        "classify",
        "--json",
        "I still have not received my new card, when will it arrive?",
    ]);
    run.expect_ok();
    let decision = run.json_lines().remove(0);
    assert_eq!(decision["intent"]["id"], "card-arrival", "{decision}");
}

#[test]
fn none_label_rows_teach_what_falls_back() {
    let ws = Workspace::new();
    let b77 = datasets().join("banking77");
    let bitext = datasets().join("bitext");
    let in_scope = |file: &str| slice(&b77.join(file), LABELS, None, usize::MAX);
    let none = |file: &str, n| slice(&bitext.join(file), &[], Some("none"), n);
    // The none rows come after the header of the in-scope rows: drop their own header.
    let joined = |a: String, b: String| a + b.split_once('\n').unwrap().1;
    let train = ws.write(
        "train.csv",
        &joined(in_scope("train.csv"), none("train.csv", 400)),
    );
    let test = ws.write(
        "test.csv",
        &joined(in_scope("test.csv"), none("test.csv", 300)),
    );
    let out = ws.path("learned");
    ws.run(&[
        "learn",
        "--data",
        s(&train),
        "--out",
        s(&out),
        "--none-label",
        "none",
    ])
    .expect_ok();
    // No profile for the none label itself.
    assert!(!out.join("intents/none.toml").exists());
    let report = eval_json(&ws, &out, &test, Some("none"));
    let recall = report["none_recall"].as_f64().unwrap();
    let in_scope = report["in_scope_accuracy"].as_f64().unwrap();
    // Floors, not goals (measured 0.80 and 0.99 on this slice when written).
    assert!(recall >= 0.5, "none recall {recall}: {report}");
    assert!(in_scope >= 0.95, "in-scope accuracy {in_scope}: {report}");
}

/// Three of the slice's labels play banking77-oos's held-out intents (in-domain questions the
/// bot does not cover, labelled `oos`).
const HELD_OUT: &[&str] = &["exchange_rate", "change_pin", "apple_pay_or_google_pay"];

#[test]
fn none_label_learns_a_threshold_that_rejects_an_unseen_source() {
    let ws = Workspace::new();
    let b77 = datasets().join("banking77");
    let bitext = datasets().join("bitext");
    let in_scope: Vec<&str> = LABELS
        .iter()
        .copied()
        .filter(|l| !HELD_OUT.contains(l))
        .collect();
    let joined = |a: String, b: String| a + b.split_once('\n').unwrap().1;
    // Train: seven intents, and the three held-out ones as `oos`.
    let train = ws.write(
        "train.csv",
        &joined(
            slice(&b77.join("train.csv"), &in_scope, None, usize::MAX),
            slice(&b77.join("train.csv"), HELD_OUT, Some("oos"), usize::MAX),
        ),
    );
    // Test: the seven intents' test rows, and bitext's generic customer-service messages (a
    // source learn never saw) as `oos`.
    let test = ws.write(
        "test.csv",
        &joined(
            slice(&b77.join("test.csv"), &in_scope, None, usize::MAX),
            slice(&bitext.join("test.csv"), &[], Some("oos"), 300),
        ),
    );
    let out = ws.path("learned");
    let run = ws.run(&[
        "learn",
        "--data",
        s(&train),
        "--out",
        s(&out),
        "--none-label",
        "oos",
    ]);
    run.expect_ok();
    assert!(
        run.stdout.contains("out-of-scope threshold 0."),
        "learn says the point it chose: {run:?}"
    );

    // The chosen point is written in every file: one threshold, with how it was chosen.
    let mut thresholds = BTreeSet::new();
    for entry in std::fs::read_dir(out.join("intents")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            text.contains("# threshold: the out-of-scope point"),
            "{text}"
        );
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        thresholds.insert(doc["threshold"].as_float().unwrap().to_string());
    }
    assert_eq!(thresholds.len(), 1, "{thresholds:?}");
    let threshold: f64 = thresholds.first().unwrap().parse().unwrap();
    assert!(threshold > 0.0 && threshold < 1.0, "{threshold}");

    // eval prints the trade-off with its documented columns, the catalog's point marked.
    let report = ws.run(&[
        "--catalog",
        s(&out),
        "eval",
        "--data",
        s(&test),
        "--none-label",
        "oos",
    ]);
    report.expect_ok();
    let table: Vec<&str> = report
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("out-of-scope trade-off"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        table.first().copied(),
        Some("threshold  in-scope accuracy  none recall  accuracy"),
        "{report:?}"
    );
    let marked: Vec<&&str> = table
        .iter()
        .filter(|l| l.ends_with("<- 7 of 7 intents"))
        .collect();
    assert_eq!(marked.len(), 1, "{report:?}");
    assert!(
        marked[0]
            .trim_start()
            .starts_with(&format!("{threshold:.3}")),
        "{marked:?}"
    );

    // The goal on messages from a source never seen: at least half fall back, while in-scope
    // accuracy stays within 2 points of no rejection (threshold 0 in the trade-off).
    let v = eval_json(&ws, &out, &test, Some("oos"));
    let tradeoff = v["tradeoff"]
        .as_array()
        .expect("a trade-off with --none-label");
    assert_eq!(tradeoff[0]["threshold"], 0.0, "{v}");
    let unrejected = tradeoff[0]["in_scope_accuracy"].as_f64().unwrap();
    let in_scope_accuracy = v["in_scope_accuracy"].as_f64().unwrap();
    let recall = v["none_recall"].as_f64().unwrap();
    // Measured 0.979 against 0.982, recall 0.68, when written; the old rule (best held-out
    // accuracy) chose 0.725 and lost 2.1 points.
    assert!(
        in_scope_accuracy >= unrejected - 0.02,
        "in scope {in_scope_accuracy} against {unrejected} with no rejection: {v}"
    );
    assert!(recall >= 0.5, "none recall {recall}: {v}");
    let marked = tradeoff
        .iter()
        .find(|p| p["intents"] == 7)
        .expect("the catalog's point");
    assert_eq!(marked["in_scope_accuracy"], v["in_scope_accuracy"]);
    assert_eq!(marked["none_recall"], v["none_recall"]);

    // The threshold is the catalog's, so the router rejects the same way `eval` does.
    for (message, kind, intent) in [
        ("how do I subscribe to your newsletter", "fallback", None),
        (
            "my card has not arrived yet",
            "ticket",
            Some("card-arrival"),
        ),
    ] {
        let run = ws.run(&["--catalog", s(&out), "classify", "--json", message]);
        run.expect_ok();
        let decision = run.json_lines().remove(0);
        assert_eq!(decision["route"]["kind"], kind, "{message}: {decision}");
        assert_eq!(
            decision["intent"]["id"].as_str(),
            intent,
            "{message}: {decision}"
        );
    }
}

#[test]
fn an_existing_profile_folder_is_kept_unless_replaced() {
    let ws = Workspace::new();
    let b77 = datasets().join("banking77");
    let train = ws.write(
        "train.csv",
        &slice(&b77.join("train.csv"), &LABELS[..3], None, usize::MAX),
    );
    let out = ws.path("learned");
    ws.run(&["learn", "--data", s(&train), "--out", s(&out)])
        .expect_ok();
    let kept = ws.write("learned/intents/mine.toml", "# hand-written\n");
    let again = ws.run(&["learn", "--data", s(&train), "--out", s(&out)]);
    again.expect_code(1);
    assert!(again.stderr.contains("--replace"), "{again:?}");
    assert!(kept.exists());
    ws.run(&["learn", "--data", s(&train), "--out", s(&out), "--replace"])
        .expect_ok();
    assert!(!kept.exists());
    assert_eq!(std::fs::read_dir(out.join("intents")).unwrap().count(), 3);
}

#[test]
fn bad_data_is_a_clear_error() {
    let ws = Workspace::new();
    let cases = [
        ("text,label\nhello,\n", "the label is empty"),
        ("words\nhello\n", "must name the columns"),
        ("text,label\nhello,none\n", "no labels to learn"),
    ];
    for (csv, want) in cases {
        let data = ws.write("bad.csv", csv);
        let run = ws.run(&[
            "learn",
            "--data",
            s(&data),
            "--out",
            s(&ws.path("out")),
            "--none-label",
            "none",
        ]);
        run.expect_code(1);
        assert!(run.stderr.contains(want), "{csv:?}: {run:?}");
    }
    let missing = ws.path("missing.csv");
    let run = ws.run(&["learn", "--data", s(&missing), "--out", s(&ws.path("out"))]);
    run.expect_code(1);
    assert_eq!(run.stderr.matches("cannot read").count(), 1, "{run:?}");
    assert!(!ws.path("out").exists(), "nothing written: {run:?}");
}

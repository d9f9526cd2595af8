//! `personabot eval` end to end: the real binary on the tiny catalog in tests/fixtures/eval
//! (outcomes computed by hand below), the `--none-label` split and its threshold trade-off, the terminal report, bad input,
//! and the shipped catalog.
//!
//! The fixture catalog: `card-lost` ("lost card" 2.0, stolen 1.0; label `Card_lost?`),
//! `greeting` (hello 2.0, hi 1.0; own threshold 0.9) and `refund` (refund 2.0, money 0.5); the
//! global intent threshold is 0.5 and confidence is 1 - e^-score. Its test.csv, row by row:
//!
//! | text                                   | gold       | top score          | predicted  |
//! |----------------------------------------|------------|--------------------|------------|
//! | please refund me                       | refund     | refund 2.0 (0.86)  | refund     |
//! | refund my order, now                   | refund     | refund 2.0 (0.86)  | refund     |
//! | where is my money                      | refund     | refund 0.5 (0.39)  | no intent  |
//! | I have a lost card                     | Card_lost? | card-lost 2 (0.86) | Card_lost? |
//! | my card was stolen and I want a refund | Card_lost? | refund 2.0 > 1.0   | refund     |
//! | hello there                            | greeting   | greeting 2 (0.86)  | no intent (< 0.9) |
//! | what is the weather                    | oos        | nothing            | no intent  |

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{fixtures, repo_root, run_in, Run};
use tempfile::TempDir;

fn fixture() -> PathBuf {
    fixtures().join("eval")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `personabot [--catalog DIR] eval ARGS` in an empty temp folder.
fn eval(catalog: Option<&Path>, args: &[&str]) -> (Run, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = Vec::new();
    if let Some(c) = catalog {
        all.extend(["--catalog", path_str(c)]);
    }
    all.push("eval");
    all.extend_from_slice(args);
    let run = run_in(dir.path(), &dir.path().join("store"), &all, None);
    (run, dir)
}

fn eval_json(args: &[&str]) -> Value {
    let csv = fixture().join("test.csv");
    let mut all = vec!["--data", path_str(&csv), "--json"];
    all.extend_from_slice(args);
    let (run, _dir) = eval(Some(&fixture()), &all);
    run.expect_ok();
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1, "one JSON object: {run:?}");
    lines.into_iter().next().unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn assert_close(v: &Value, key: &str, want: f64) {
    let got = num(v, key);
    assert!(
        (got - want).abs() < 1e-9,
        "{key}: {got}, want {want} in {v}"
    );
}

/// Checks `per_label[label]` against (precision, recall, f1, support).
fn assert_label(v: &Value, label: &str, want: (f64, f64, f64, u64)) {
    let s = &v["per_label"][label];
    assert_close(s, "precision", want.0);
    assert_close(s, "recall", want.1);
    assert_close(s, "f1", want.2);
    assert_eq!(s["support"], want.3, "{label} support in {v}");
}

fn confused(v: &Value) -> Vec<(String, String, u64)> {
    v["confused"]
        .as_array()
        .expect("confused is an array")
        .iter()
        .map(|c| {
            (
                c["gold"].as_str().unwrap().to_string(),
                c["predicted"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    pairs
        .iter()
        .map(|&(g, p, c)| (g.to_string(), p.to_string(), c))
        .collect()
}

#[test]
fn json_scores_the_fixture_catalog() {
    let v = eval_json(&[]);
    // Right: rows 1, 2 and 4; "no intent" is wrong without --none-label.
    assert_eq!(v["n"], 7);
    assert_eq!(v["correct"], 3);
    assert_close(&v, "accuracy", 3.0 / 7.0);
    // refund:     predicted 3 times (rows 1, 2, 5), right twice; 3 gold -> P 2/3, R 2/3, F1 2/3.
    // Card_lost?: predicted once (row 4), right; 2 gold -> P 1, R 1/2, F1 2/3.
    // greeting, oos: never predicted -> 0, 0, 0.
    // macro-F1 = (2/3 + 2/3 + 0 + 0) / 4 = 1/3.
    assert_close(&v, "macro_f1", 1.0 / 3.0);
    let two_thirds = 2.0 / 3.0;
    assert_label(&v, "refund", (two_thirds, two_thirds, two_thirds, 3));
    assert_label(&v, "Card_lost?", (1.0, 0.5, two_thirds, 2));
    assert_label(&v, "greeting", (0.0, 0.0, 0.0, 1));
    assert_label(&v, "oos", (0.0, 0.0, 0.0, 1));
    // The intent's label, not its id, is what it predicts.
    let labels: Vec<&String> = v["per_label"].as_object().unwrap().keys().collect();
    assert_eq!(labels, ["Card_lost?", "greeting", "oos", "refund"]);
    assert_eq!(
        confused(&v),
        owned(&[
            ("Card_lost?", "refund", 1),
            ("greeting", "(none)", 1),
            ("oos", "(none)", 1),
            ("refund", "(none)", 1),
        ])
    );
    assert!(num(&v, "seconds") >= 0.0);
    assert!(num(&v, "msgs_per_sec") >= 0.0);
    for key in ["in_scope_accuracy", "none_recall", "none_label", "tradeoff"] {
        assert!(v.get(key).is_none(), "{key} only with --none-label: {v}");
    }
}

#[test]
fn json_with_a_none_label() {
    let v = eval_json(&["--none-label", "oos"]);
    // No intent now predicts `oos`: row 7 becomes right.
    assert_eq!(v["n"], 7);
    assert_eq!(v["correct"], 4);
    assert_close(&v, "accuracy", 4.0 / 7.0);
    // oos: predicted 3 times (rows 3, 6, 7), right once; 1 gold -> P 1/3, R 1, F1 1/2.
    // macro-F1 = (2/3 + 2/3 + 0 + 1/2) / 4 = 11/24.
    assert_close(&v, "macro_f1", 11.0 / 24.0);
    assert_label(&v, "oos", (1.0 / 3.0, 1.0, 0.5, 1));
    assert_label(&v, "greeting", (0.0, 0.0, 0.0, 1));
    // In scope: rows 1-6, right 1, 2, 4 -> 1/2; lost to no intent: rows 3 and 6 -> 1/3.
    assert_close(&v, "in_scope_accuracy", 0.5);
    assert_close(&v, "in_scope_fallback_rate", 1.0 / 3.0);
    assert_eq!(v["in_scope_n"], 6);
    // The one oos row got no intent.
    assert_close(&v, "none_recall", 1.0);
    assert_eq!(v["none_support"], 1);
    assert_eq!(v["none_label"], "oos");
    // The trade-off: the grid 0, 0.05, ..., 0.95 (the catalog's 0.5 and 0.9 are on it), one
    // threshold for every intent. Row confidences: 0.86 (rows 1, 2, 4, 5, 6), 0.39 (row 3),
    // none (row 7).
    let tradeoff = v["tradeoff"].as_array().expect("tradeoff");
    assert_eq!(tradeoff.len(), 20, "{v}");
    let point = |t: f64| {
        tradeoff
            .iter()
            .find(|p| (num(p, "threshold") - t).abs() < 1e-9)
            .unwrap_or_else(|| panic!("no point {t} in {v}"))
    };
    // (threshold, in-scope accuracy, none recall, accuracy, intents using it)
    let cases = [
        (0.0, 5.0 / 6.0, 1.0, 6.0 / 7.0, 0), // row 3 counts as refund
        (0.4, 4.0 / 6.0, 1.0, 5.0 / 7.0, 0), // row 3 falls back
        (0.5, 4.0 / 6.0, 1.0, 5.0 / 7.0, 2), // refund and card-lost use 0.5
        (0.9, 0.0, 1.0, 1.0 / 7.0, 1),       // greeting's own threshold
    ];
    for (t, in_scope, none, accuracy, intents) in cases {
        let p = point(t);
        assert_close(p, "in_scope_accuracy", in_scope);
        assert_close(p, "none_recall", none);
        assert_close(p, "accuracy", accuracy);
        assert_eq!(p["intents"], intents, "{p}");
    }
    assert_eq!(
        confused(&v),
        owned(&[
            ("Card_lost?", "refund", 1),
            ("greeting", "oos", 1),
            ("refund", "oos", 1),
        ])
    );
}

#[test]
fn terminal_report_summary_table_and_confusions() {
    let csv = fixture().join("test.csv");
    let (run, _dir) = eval(
        Some(&fixture()),
        &["--data", path_str(&csv), "--none-label", "oos"],
    );
    run.expect_ok();
    let out = &run.stdout;
    assert!(out.starts_with("messages:          7 (4 labels)"), "{out}");
    for line in [
        "accuracy:          0.5714 (4/7)",
        "macro-F1:          0.4583",
        "in-scope accuracy: 0.5000 over 6 row(s); 0.3333 lost to no intent",
        "none recall:       1.0000 over 1 row(s) labelled \"oos\"",
        "  1  Card_lost? -> refund",
        "  1  greeting -> oos",
        "out-of-scope trade-off (one threshold for every intent; `<-` marks the catalog's):",
        "threshold  in-scope accuracy  none recall  accuracy",
        "    0.000             0.8333       1.0000    0.8571",
        "    0.500             0.6667       1.0000    0.7143  <- 2 of 3 intents",
        "    0.900             0.0000       1.0000    0.1429  <- 1 of 3 intents",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    // Every label, worst F1 first (ties: more support first).
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("label"))
        .take_while(|l| !l.is_empty())
        .collect();
    let order: Vec<&str> = table[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(order, ["greeting", "oos", "refund", "Card_lost?"]);
    assert!(table.iter().all(|l| l.len() == table[0].len()), "{out}");
    // Not a terminal: no progress bar, nothing on stderr.
    assert_eq!(run.stderr, "", "{run:?}");
}

#[test]
fn bad_input_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.csv");
    let (run, _d) = eval(Some(&fixture()), &["--data", path_str(&missing)]);
    run.expect_code(1);
    let want = format!("error: {}: cannot read: ", missing.display());
    assert!(run.stderr.starts_with(&want), "{run:?}");
    assert_eq!(
        run.stderr.matches("os error").count(),
        1,
        "said once: {run:?}"
    );
    assert_eq!(run.stdout, "");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "words,tag\nrefund please,refund\n").unwrap();
    let (run, _d) = eval(Some(&fixture()), &["--data", path_str(&bad)]);
    run.expect_code(1);
    let want = format!("error: {}:1: the header must name", bad.display());
    assert!(run.stderr.starts_with(&want), "{run:?}");

    let empty_label = dir.path().join("empty-label.csv");
    std::fs::write(&empty_label, "text,label\nrefund please,refund\nhello,\n").unwrap();
    let (run, _d) = eval(Some(&fixture()), &["--data", path_str(&empty_label)]);
    run.expect_code(1);
    let want = format!("error: {}:3: the label is empty", empty_label.display());
    assert!(run.stderr.starts_with(&want), "{run:?}");

    // A none label that an intent predicts could never be told apart from a real prediction.
    let csv = fixture().join("test.csv");
    let (run, _d) = eval(
        Some(&fixture()),
        &["--data", path_str(&csv), "--none-label", "Card_lost?"],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("intent `card-lost`"), "{run:?}");

    // --data is required.
    let (run, _d) = eval(Some(&fixture()), &["--json"]);
    run.expect_code(2);
}

#[test]
fn eval_runs_on_the_shipped_catalog_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("shipped.csv");
    std::fs::write(
        &csv,
        "text,label\n\
         How much does Hearth cost?,pricing\n\
         is there a free plan?,pricing\n\
         I want a refund for my annual plan,refund\n\
         what is the capital of peru,out_of_scope\n",
    )
    .unwrap();
    // No --catalog and an empty working folder: the built-in (shipped) catalog.
    let (run, _d) = eval(None, &["--data", path_str(&csv), "--json"]);
    run.expect_ok();
    let v = &run.json_lines()[0];
    assert_eq!(v["n"], 4);
    assert_label(v, "pricing", (1.0, 1.0, 1.0, 2));
    assert_label(v, "refund", (1.0, 1.0, 1.0, 1));
    // Without --none-label the out-of-scope row, correctly left without an intent, is wrong.
    assert_close(v, "accuracy", 0.75);

    let (run, _d) = eval(
        None,
        &[
            "--data",
            path_str(&csv),
            "--json",
            "--none-label",
            "out_of_scope",
        ],
    );
    run.expect_ok();
    let v = &run.json_lines()[0];
    assert_close(v, "accuracy", 1.0);
    assert_close(v, "macro_f1", 1.0);
    assert_close(v, "none_recall", 1.0);
    assert_close(v, "in_scope_accuracy", 1.0);

    // The same with the catalog passed explicitly.
    let (run, _d) = eval(
        Some(&repo_root()),
        &[
            "--data",
            path_str(&csv),
            "--json",
            "--none-label",
            "out_of_scope",
        ],
    );
    run.expect_ok();
    assert_close(&run.json_lines()[0], "accuracy", 1.0);
}

//! How loosely keywords match, through the real binary: other forms of a word, one-edit typos,
//! the `[classify]` settings that turn them off, and the `exact` list of a catalog file.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::{run_in, Run};

/// A catalog with one intent: `crash` (exact-only `apple`), and an exclusion.
fn catalog(dir: &Path, extra: &str) {
    fs::create_dir_all(dir.join("personas")).unwrap();
    fs::create_dir_all(dir.join("intents")).unwrap();
    fs::write(
        dir.join("intents/bug.toml"),
        format!(
            "exclude = [\"crash course\"]\n{extra}\n[keywords]\ncrash = 2.0\n\"roll out\" = 1.0\n\
             apple = 1.0\nrefund = 2.0\n"
        ),
    )
    .unwrap();
}

fn classify(cwd: &Path, text: &str) -> Value {
    let dir = cwd.join("catalog");
    let run = run_in(
        cwd,
        &cwd.join("store"),
        &[
            "--catalog",
            dir.to_str().unwrap(),
            "classify",
            "--json",
            text,
        ],
        None,
    );
    run.expect_ok();
    run.json_lines().remove(0)
}

/// (term, form, matched, weight) of one evidence entry, as written in a test table.
type Row<'a> = (&'a str, &'a str, &'a str, f64);

/// (term, form, matched, weight) of each evidence entry.
fn evidence(v: &Value) -> Vec<(String, String, String, f64)> {
    v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (
                s("term"),
                s("form"),
                s("matched"),
                e["weight"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn owned(rows: &[Row<'_>]) -> Vec<(String, String, String, f64)> {
    rows.iter()
        .map(|(t, f, m, w)| (t.to_string(), f.to_string(), m.to_string(), *w))
        .collect()
}

#[test]
fn other_forms_and_typos_match_and_say_how() {
    let tmp = tempfile::tempdir().unwrap();
    catalog(&tmp.path().join("catalog"), "exact = [\"apple\"]");
    let cases: &[(&str, &[Row<'_>])] = &[
        ("it crash", &[("crash", "", "", 2.0)]),
        ("it CRASHES", &[("crash", "inflected", "CRASHES", 2.0)]),
        (
            "it crashed twice",
            &[("crash", "inflected", "crashed", 2.0)],
        ),
        (
            "we are rolling out",
            &[("roll out", "inflected", "rolling out", 1.0)],
        ),
        // A typo counts at classify.typo_weight (0.5) of the weight.
        ("i want a refnud", &[("refund", "typo", "refnud", 1.0)]),
        // Exact-only keywords take neither.
        ("apples", &[]),
        ("appel", &[]),
        ("apple", &[("apple", "", "", 1.0)]),
    ];
    for (text, want) in cases {
        assert_eq!(
            evidence(&classify(tmp.path(), text)),
            owned(want),
            "{text:?}"
        );
    }
    // An inflected exclusion still vetoes; `evidence` in the JSON leaves vetoes out, and the
    // intent is gone.
    let v = classify(tmp.path(), "a crash courses site");
    assert!(v["intent"].is_null(), "{v}");
    // --explain shows the form that matched.
    let run = run_in(
        tmp.path(),
        &tmp.path().join("store"),
        &[
            "--catalog",
            tmp.path().join("catalog").to_str().unwrap(),
            "classify",
            "--explain",
            "it keeps crashing",
        ],
        None,
    );
    run.expect_ok();
    assert!(
        run.stdout
            .contains("\"crash\" (as \"crashing\", inflected)"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_classify_settings_turn_forms_and_typos_off() {
    let tmp = tempfile::tempdir().unwrap();
    catalog(&tmp.path().join("catalog"), "");
    fs::write(
        tmp.path().join("personabot.toml"),
        "[classify]\ninflections = false\ntypos = false\n",
    )
    .unwrap();
    for text in ["it crashes", "i want a refnud", "rolling out"] {
        let v = classify(tmp.path(), text);
        assert_eq!(evidence(&v), vec![], "{text:?}: {v}");
    }
    assert_eq!(evidence(&classify(tmp.path(), "it crash")).len(), 1);
    // typo_weight is checked like the other settings, at its position.
    fs::write(
        tmp.path().join("personabot.toml"),
        "[classify]\ntypo_weight = 2\ninflections = \"yes\"\n",
    )
    .unwrap();
    let run: Run = run_in(tmp.path(), &tmp.path().join("store"), &["check"], None);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("personabot.toml:2:15: `classify.typo_weight` must be between 0 and 1"),
        "{run:?}"
    );
    assert!(run.stdout.contains("personabot.toml:3:15:"), "{run:?}");
}

#[test]
fn an_exact_entry_that_is_not_a_keyword_is_an_error_at_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("catalog");
    catalog(&dir, "exact = [\"crash\", \"banana\"]");
    let run = run_in(
        tmp.path(),
        &tmp.path().join("store"),
        &["--catalog", dir.to_str().unwrap(), "check"],
        None,
    );
    run.expect_code(1);
    let want = "intents/bug.toml:2:19: `exact[1]` = \"banana\" is not a keyword of this file";
    assert!(run.stdout.contains(want), "{run:?}");
}

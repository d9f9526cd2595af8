//! `personabot classify`: the JSON contract, routing, per-line output, summary and explain.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{classify_json, keys, set, Env};

#[test]
fn classify_json_has_the_contract_shape() {
    let env = Env::new();
    let run = env.ok(&[
        "classify",
        "--json",
        "how much is the growth plan for my startup",
    ]);
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    let v = &run.json_lines()[0];
    assert_eq!(keys(v), set(&["persona", "intent", "route", "evidence"]));
    assert_eq!(keys(&v["route"]), set(&["kind", "team", "answer"]));
    for pick in [&v["persona"], &v["intent"]] {
        assert_eq!(keys(pick), set(&["id", "confidence"]));
        let c = pick["confidence"].as_f64().expect("confidence is a number");
        assert!((0.0..=1.0).contains(&c), "{c}");
    }
    assert_eq!(v["persona"]["id"], "startup-founder");
    assert_eq!(v["intent"]["id"], "pricing");
    assert_eq!(
        v["route"],
        json!({"kind": "answer", "team": null, "answer": "pricing/startup-founder"})
    );
    let evidence = v["evidence"].as_array().expect("evidence array");
    assert!(!evidence.is_empty());
    for e in evidence {
        assert_eq!(keys(e), set(&["term", "target", "weight"]), "{e}");
        assert!(e["term"].is_string() && e["weight"].is_number(), "{e}");
        let target = e["target"].as_str().expect("target string");
        assert!(
            target.starts_with("persona:") || target.starts_with("intent:"),
            "{target}"
        );
    }
    let terms: Vec<&str> = evidence.iter().filter_map(|e| e["term"].as_str()).collect();
    assert!(
        terms.contains(&"my startup") && terms.contains(&"growth plan"),
        "{terms:?}"
    );
}

/// (message, persona, intent, route kind, team, answer variant)
type RouteCase = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn classify_routes_typical_messages() {
    let env = Env::new();
    let cases: &[RouteCase] = &[
        (
            "how much is the growth plan for my startup",
            Some("startup-founder"),
            Some("pricing"),
            "answer",
            None,
            Some("pricing/startup-founder"),
        ),
        (
            "We need a quote for the Enterprise plan for our organisation; procurement needs it before the RFP deadline",
            Some("enterprise-it-buyer"),
            Some("pricing"),
            "ticket",
            Some("sales"),
            Some("pricing/enterprise-it-buyer"),
        ),
        ("how much is the growth plan", None, Some("pricing"), "answer", None, Some("pricing/default")),
        ("I want a refund", None, Some("refund"), "ticket", Some("billing"), Some("refund/default")),
        ("hi", None, Some("greeting"), "answer", None, Some("greeting/default")),
        ("qwzx blorp", None, None, "fallback", None, None),
        // Two intents close together: ask which one.
        ("how much does it cost and can I get a refund?", None, Some("pricing"), "clarify", None, None),
        // Persona only: not yet an intent.
        ("I'm the founder of a 5-person startup", Some("startup-founder"), None, "fallback", None, None),
    ];
    for &(text, persona, intent, kind, team, answer) in cases {
        let v = classify_json(&env, text);
        assert_eq!(
            v["persona"]["id"].as_str(),
            persona,
            "persona of {text:?}: {v}"
        );
        assert_eq!(
            v["intent"]["id"].as_str(),
            intent,
            "intent of {text:?}: {v}"
        );
        assert_eq!(v["route"]["kind"], kind, "route of {text:?}: {v}");
        assert_eq!(v["route"]["team"].as_str(), team, "team of {text:?}: {v}");
        assert_eq!(
            v["route"]["answer"].as_str(),
            answer,
            "answer of {text:?}: {v}"
        );
        if intent.is_none() && persona.is_none() {
            assert_eq!(v["persona"], Value::Null);
            assert_eq!(v["evidence"], json!([]), "{text:?}");
        }
    }
}

#[test]
fn classify_prints_one_line_per_argument_and_per_stdin_line() {
    let env = Env::new();
    let texts = ["I want a refund", "hi", "qwzx blorp"];
    let by_args = env.ok(&["classify", "--json", texts[0], texts[1], texts[2]]);
    let lines = by_args.json_lines();
    assert_eq!(lines.len(), 3, "{by_args:?}");
    assert_eq!(lines[0]["intent"]["id"], "refund");
    assert_eq!(lines[1]["intent"]["id"], "greeting");
    assert_eq!(lines[2]["intent"], Value::Null);

    let by_stdin = env.run(
        &["classify", "--json", "-"],
        Some(&format!("{}\n", texts.join("\n"))),
    );
    by_stdin.expect_ok();
    assert_eq!(
        by_stdin.stdout, by_args.stdout,
        "`-` reads one message per stdin line"
    );

    // Classify never logs: no store was created.
    assert!(!env.data().exists(), "classify must not open the store");
}

/// The top intent before thresholds, from a `classify --json` line's evidence: the intent with
/// the highest positive sum of weights (ties: the smallest id).
fn top_intent_from_evidence(v: &Value) -> Option<String> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for e in v["evidence"].as_array().expect("evidence") {
        if let Some(id) = e["target"].as_str().and_then(|t| t.strip_prefix("intent:")) {
            *sums.entry(id.to_string()).or_default() += e["weight"].as_f64().expect("weight");
        }
    }
    let mut best: Option<(String, f64)> = None;
    for (id, sum) in sums {
        if sum > 0.0 && best.as_ref().is_none_or(|(_, b)| sum > *b) {
            best = Some((id, sum));
        }
    }
    best.map(|(id, _)| id)
}

#[test]
fn classify_summary_counts_top_intents() {
    let env = Env::new();
    let lines = [
        "I want a refund",
        "refund please",
        "hi",
        "how much is the growth plan",
        "I can't log in",
        "qwzx blorp",
        "",
        // One weak pricing term: below the threshold for `classify`, but the summary counts
        // top intents before thresholds.
        "plan",
    ];
    let input = format!("{}\n", lines.join("\n"));
    let run = env.run(&["classify", "--summary", "-"], Some(&input));
    run.expect_ok();
    let out = run.json_lines();
    assert_eq!(out.len(), 1, "{run:?}");
    let s = &out[0];
    assert_eq!(
        keys(s),
        set(&["messages", "counts", "none", "elapsed_ms", "msgs_per_sec"])
    );
    assert_eq!(s["messages"], lines.len());
    assert!(s["elapsed_ms"].as_f64().is_some_and(|x| x >= 0.0), "{s}");
    assert!(s["msgs_per_sec"].as_f64().is_some_and(|x| x >= 0.0), "{s}");
    let counts: BTreeMap<String, u64> = s["counts"]
        .as_object()
        .expect("counts object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
        .collect();
    let none = s["none"].as_u64().expect("none");
    assert_eq!(counts.values().sum::<u64>() + none, lines.len() as u64);

    // The same lines through `classify --json`, one at a time.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut expected_none = 0;
    for line in lines {
        let v = classify_json(&env, line);
        match top_intent_from_evidence(&v) {
            Some(id) => {
                if let Some(picked) = v["intent"]["id"].as_str() {
                    assert_eq!(picked, id, "{line:?}");
                }
                *expected.entry(id).or_default() += 1;
            }
            None => expected_none += 1,
        }
    }
    assert_eq!(counts, expected);
    assert_eq!(none, expected_none);
    let literal: BTreeMap<String, u64> = [
        ("account-access", 1),
        ("greeting", 1),
        ("pricing", 2),
        ("refund", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, literal);
    assert_eq!(none, 2);
}

#[test]
fn classify_summary_ignores_intents_with_a_negative_score() {
    let env = Env::new();
    // "plans to" = -0.8 for pricing: `classify` says no intent, the summary says pricing.
    assert_eq!(
        classify_json(&env, "we have plans to expand")["intent"],
        Value::Null
    );
    let run = env.run(
        &["classify", "--summary", "-"],
        Some("we have plans to expand\n"),
    );
    let s = &run.json_lines()[0];
    assert_eq!(s["counts"], json!({}));
    assert_eq!(s["none"], 1);
}

#[test]
fn classify_explain_shows_the_matched_terms() {
    let env = Env::new();
    let run = env.ok(&["classify", "--explain", "I want a refund"]);
    assert!(run.stdout.starts_with("> I want a refund\n"), "{run:?}");
    assert!(
        run.stdout.contains("intent:  refund (confidence 0.86"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("route:   ticket -> team billing"),
        "{run:?}"
    );
    let evidence_line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("\"refund\""))
        .unwrap_or_else(|| panic!("no evidence line for \"refund\": {run:?}"));
    assert!(
        evidence_line.contains("+2.00") && evidence_line.ends_with("intent:refund"),
        "{evidence_line}"
    );

    let run = env.ok(&["classify", "--explain", "qwzx blorp"]);
    assert!(
        run.stdout.contains("(no term or pattern matched)"),
        "{run:?}"
    );
}

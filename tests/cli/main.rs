//! The real `personabot` binary end to end: check, classify, chat, tickets, evidence and bad
//! input. Every test runs in its own empty temp folder with its own `--data` store, and passes
//! the shipped catalog explicitly with `--catalog <repo root>` (except where the test is about
//! how the catalog is found).

#[path = "../support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::{repo_root, run_in, Run};
use tempfile::TempDir;

/// An empty working folder with a store folder inside it.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn cwd(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `personabot --data <store> --catalog <repo root> ARGS`.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let root = repo_root();
        let mut all = vec!["--catalog", root.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        run_in(self.cwd(), &self.data(), &all, stdin)
    }

    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args, None);
        run.expect_ok();
        run
    }

    /// One `chat --json` session: one JSON object per input line.
    fn chat(&self, conversation: &str, user: &str, lines: &[&str]) -> Vec<Value> {
        let mut input = lines.join("\n");
        input.push('\n');
        let run = self.run(
            &[
                "chat",
                "--json",
                "--conversation",
                conversation,
                "--user",
                user,
            ],
            Some(&input),
        );
        run.expect_ok();
        let turns = run.json_lines();
        assert_eq!(
            turns.len(),
            lines.len(),
            "one JSON line per message: {run:?}"
        );
        turns
    }

    /// `evidence export [ARGS]` as parsed JSON Lines.
    fn export(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["evidence", "export"];
        all.extend_from_slice(args);
        self.ok(&all).json_lines()
    }

    fn tickets(&self) -> Vec<Value> {
        self.ok(&["tickets", "list", "--json"]).json_lines()
    }
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

fn classify_json(env: &Env, text: &str) -> Value {
    let run = env.ok(&["classify", "--json", text]);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1, "{run:?}");
    lines.into_iter().next().expect("one line")
}

fn toml_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read catalog folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count()
}

/// The `ok:` line without its timing.
fn ok_summary(run: &Run) -> String {
    let line = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("ok:"))
        .unwrap_or_else(|| panic!("no ok: line: {run:?}"));
    line.split(" compiled in ")
        .next()
        .expect("split")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// check

#[test]
fn check_passes_on_the_shipped_catalog() {
    let data = tempfile::tempdir().expect("tempdir");
    let run = run_in(&repo_root(), data.path(), &["check"], None);
    run.expect_ok();
    let personas = toml_files(&repo_root().join("personas"));
    let intents = toml_files(&repo_root().join("intents"));
    let summary = ok_summary(&run);
    let expected = format!("ok: {personas} personas, {intents} intents, 7 teams; ");
    assert!(
        summary.starts_with(&expected),
        "{summary:?} should start with {expected:?}"
    );
    let written: Vec<_> = std::fs::read_dir(data.path()).expect("read data").collect();
    assert!(
        written.is_empty(),
        "check must not open the store: {written:?}"
    );
}

#[test]
fn check_in_an_empty_folder_uses_the_built_in_catalog() {
    let env = Env::new();
    let run = run_in(env.cwd(), &env.data(), &["check"], None);
    run.expect_ok();
    // The built-in catalog is the shipped one, compiled in: same counts, same examples.
    let shipped = run_in(&repo_root(), &env.data(), &["check"], None);
    shipped.expect_ok();
    assert_eq!(ok_summary(&run), ok_summary(&shipped));
    // Nothing was written next to the caller.
    let entries: Vec<_> = std::fs::read_dir(env.cwd()).expect("read cwd").collect();
    assert!(entries.is_empty(), "check wrote files: {entries:?}");
}

// ---------------------------------------------------------------------------------------------
// classify

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

// ---------------------------------------------------------------------------------------------
// chat

#[test]
fn chat_keeps_the_persona_across_turns() {
    let env = Env::new();
    let turns = env.chat(
        "c1",
        "U",
        &[
            "I'm the founder of a 5-person startup",
            "how much is it?",
            "I want a refund",
        ],
    );
    for t in &turns {
        assert_eq!(
            keys(t),
            set(&["persona", "intent", "route", "evidence", "reply", "ticket"]),
            "{t}"
        );
        assert!(t["reply"].as_str().is_some_and(|r| !r.is_empty()), "{t}");
    }
    assert_eq!(turns[0]["persona"]["id"], "startup-founder");
    assert_eq!(turns[0]["intent"], Value::Null);
    assert_eq!(turns[0]["route"]["kind"], "fallback");
    assert_eq!(turns[0]["ticket"], Value::Null);

    // The persona comes from the earlier message; this one only says "how much".
    assert_eq!(turns[1]["persona"]["id"], "startup-founder");
    assert_eq!(turns[1]["intent"]["id"], "pricing");
    assert_eq!(
        turns[1]["route"],
        json!({"kind": "answer", "team": null, "answer": "pricing/startup-founder"})
    );
    assert_eq!(turns[1]["ticket"], Value::Null);
    assert!(
        turns[1]["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .all(|e| e["target"] != "persona:startup-founder"),
        "this turn's evidence is this message's own: {}",
        turns[1]
    );

    let ticket = &turns[2]["ticket"];
    assert_eq!(keys(ticket), set(&["id", "team", "status"]));
    assert_eq!(ticket["team"], "billing");
    assert_eq!(ticket["status"], "open");
    let id = ticket["id"].as_u64().expect("ticket id");
    assert_eq!(turns[2]["route"]["kind"], "ticket");
    assert_eq!(turns[2]["route"]["team"], "billing");
    let reply = turns[2]["reply"].as_str().expect("reply");
    assert!(reply.contains(&format!("ticket #{id}")), "{reply}");

    // Without the earlier message, the same question gets the default answer.
    let fresh = env.chat("c2", "U", &["how much is it?"]);
    assert_eq!(fresh[0]["persona"], Value::Null);
    assert_eq!(fresh[0]["route"]["answer"], "pricing/default");

    // The conversation is stored: a later process joins the open ticket.
    let later = env.chat("c1", "U", &["any news?"]);
    assert_eq!(later[0]["route"]["kind"], "ticket");
    assert_eq!(
        later[0]["ticket"],
        json!({"id": id, "team": "billing", "status": "open"})
    );
    assert_eq!(env.tickets().len(), 1, "no second ticket");
}

#[test]
fn chat_opens_a_support_ticket_after_two_misses() {
    let env = Env::new();
    let turns = env.chat("m", "U", &["qwzx blorp", "flurb znork"]);
    assert_eq!(turns[0]["route"]["kind"], "fallback");
    assert_eq!(turns[0]["ticket"], Value::Null);
    assert_eq!(turns[1]["intent"], Value::Null);
    assert_eq!(turns[1]["route"]["kind"], "ticket");
    assert_eq!(turns[1]["route"]["team"], "support");
    assert_eq!(turns[1]["ticket"]["team"], "support");
    assert_eq!(turns[1]["ticket"]["status"], "open");
}

#[test]
fn chat_human_request_after_a_pricing_answer_goes_to_sales() {
    let env = Env::new();
    let turns = env.chat(
        "h1",
        "U",
        &[
            "how much is the growth plan",
            "I'm the head of IT at our organisation, can I speak to someone?",
        ],
    );
    assert_eq!(turns[0]["route"]["answer"], "pricing/default");
    assert_eq!(turns[1]["persona"]["id"], "enterprise-it-buyer");
    assert_eq!(turns[1]["intent"]["id"], "human-agent");
    assert_eq!(turns[1]["route"]["kind"], "ticket");
    assert_eq!(turns[1]["route"]["team"], "sales");
    assert_eq!(turns[1]["ticket"]["team"], "sales");
    // The ticket is about the question that was answered.
    let id = turns[1]["ticket"]["id"].as_u64().expect("id").to_string();
    let run = env.ok(&["tickets", "show", &id, "--json"]);
    let ticket: Value = serde_json::from_str(&run.stdout).expect("ticket JSON");
    assert_eq!(ticket["intent"]["id"], "pricing");
    assert_eq!(ticket["persona"]["id"], "enterprise-it-buyer");
    let reason = ticket["reason"].as_str().expect("reason");
    assert!(reason.contains("pricing/default"), "{reason}");

    // An enterprise buyer's pricing question is already a sales ticket; asking for a person
    // joins it.
    let turns = env.chat(
        "h2",
        "U",
        &[
            "how much is the enterprise plan for our 5000 employees procurement",
            "I want to talk to a person",
        ],
    );
    assert_eq!(turns[0]["route"]["team"], "sales");
    assert_eq!(turns[1]["route"]["team"], "sales");
    assert_eq!(turns[1]["ticket"]["id"], turns[0]["ticket"]["id"]);

    // The "Talk to a human" button after a pricing answer.
    let turns = env.chat("h3", "U", &["how much is the growth plan", "/human"]);
    assert_eq!(turns[1]["route"]["kind"], "ticket");
    assert_eq!(turns[1]["ticket"]["team"], "sales");
    assert_eq!(env.tickets().len(), 3);
}

#[test]
fn chat_survives_empty_and_very_long_lines() {
    let env = Env::new();
    let long = "lorem ipsum dolor sit amet ".repeat(4000); // 108 000 characters
    assert!(long.len() > 100_000);
    let turns = env.chat("long", "U", &["", "   ", &long, "hi"]);
    for t in &turns[..2] {
        assert_eq!(t["route"]["kind"], "fallback", "{t}");
        assert_eq!(t["ticket"], Value::Null);
        assert!(
            t["reply"].as_str().is_some_and(|r| r.contains("empty")),
            "{t}"
        );
    }
    assert!(turns[2]["reply"].is_string(), "{}", turns[2]);
    assert_eq!(turns[3]["intent"]["id"], "greeting", "the session goes on");

    // Empty messages are not stored; the long one is stored cut to limits.max_message_chars.
    let stored = env.export(&[]);
    assert_eq!(stored.len(), 2, "{stored:?}");
    let text = stored[0]["text"].as_str().expect("text");
    assert_eq!(text.chars().count(), 4000);
    assert!(long.starts_with(text));
}

#[test]
fn chat_redacts_an_email_cut_by_the_length_limit() {
    let env = Env::new();
    // 3980 characters, then an email that the 4000-character limit cuts after "@exampl".
    let text = format!("{}mail jane.doe@example.com", "word ".repeat(796));
    env.chat("cut", "U", &[&text]);
    let run = env.ok(&["evidence", "export"]);
    assert!(!run.stdout.contains("jane.doe"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// tickets

#[test]
fn ticket_lifecycle_claim_relabel_resolve() {
    let env = Env::new();
    let turns = env.chat("c1", "U", &["I want a refund"]);
    let id_num = turns[0]["ticket"]["id"].as_u64().expect("ticket id");
    let id = id_num.to_string();

    let list = env.tickets();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id_num);
    assert_eq!(list[0]["team"], "billing");
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["conversation"], "c1");
    assert_eq!(list[0]["intent"]["id"], "refund");
    assert!(env
        .ok(&["tickets", "list", "--json", "--team", "sales"])
        .stdout
        .is_empty());
    assert!(env
        .ok(&["tickets", "list", "--json", "--status", "claimed"])
        .stdout
        .is_empty());

    let show = env.ok(&["tickets", "show", &id]);
    assert!(
        show.stdout
            .starts_with(&format!("ticket #{id} [open] team billing\n")),
        "{show:?}"
    );
    assert!(
        show.stdout.contains("customer: I want a refund"),
        "{show:?}"
    );

    // Claimed: the bot goes quiet in that conversation; the message joins the ticket.
    let claim = env.ok(&["tickets", "claim", &id, "--agent", "ann"]);
    assert_eq!(claim.stdout.trim(), format!("ticket #{id} claimed by ann"));
    let turns = env.chat("c1", "U", &["hello? anyone?"]);
    assert_eq!(turns[0]["reply"], Value::Null);
    assert_eq!(
        turns[0]["ticket"],
        json!({"id": id_num, "team": "billing", "status": "claimed"})
    );
    let show = env.ok(&["tickets", "show", &id]);
    assert!(show.stdout.contains("claimed:  ann"), "{show:?}");
    assert!(show.stdout.contains("customer: hello? anyone?"), "{show:?}");
    let claimed = env
        .ok(&["tickets", "list", "--json", "--status", "claimed"])
        .json_lines();
    assert_eq!(claimed.len(), 1);

    // Relabel: stored as ground truth on the ticket's interaction.
    env.ok(&[
        "tickets", "relabel", &id, "--intent", "billing", "--agent", "ann",
    ]);
    let exported = env.export(&[]);
    let origin = exported
        .iter()
        .find(|i| i["text"] == "I want a refund")
        .expect("the refund interaction");
    assert_eq!(origin["ticket"], id_num);
    assert_eq!(origin["label"]["intent"], "billing");
    assert_eq!(origin["label"]["by"], "ann");
    assert_eq!(
        origin["intent"]["id"], "refund",
        "the bot's own guess is kept"
    );
    let bad = env.run(
        &[
            "tickets",
            "relabel",
            &id,
            "--intent",
            "no-such-intent",
            "--agent",
            "ann",
        ],
        None,
    );
    bad.expect_code(1);
    assert!(
        bad.stderr.contains("unknown intent `no-such-intent`"),
        "{bad:?}"
    );

    // Resolved: the bot answers again.
    let resolve = env.ok(&["tickets", "resolve", &id, "--agent", "ann"]);
    assert_eq!(
        resolve.stdout.trim(),
        format!("ticket #{id} resolved by ann")
    );
    let turns = env.chat("c1", "U", &["how much is the growth plan"]);
    assert_eq!(turns[0]["route"]["kind"], "answer");
    assert_eq!(turns[0]["ticket"], Value::Null);
    assert!(turns[0]["reply"].is_string());

    // A resolved ticket cannot be claimed; an unknown one cannot be shown.
    let again = env.run(&["tickets", "claim", &id, "--agent", "bob"], None);
    assert_ne!(again.code, Some(0), "{again:?}");
    assert!(again.stderr.contains("resolved"), "{again:?}");
    let missing = env.run(&["tickets", "show", "999"], None);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("ticket #999 not found"),
        "{missing:?}"
    );
}

#[test]
fn a_ticket_claimed_by_one_agent_cannot_be_claimed_by_another() {
    let env = Env::new();
    let turns = env.chat("c", "U", &["I want a refund"]);
    let id = turns[0]["ticket"]["id"].as_u64().expect("id").to_string();
    env.ok(&["tickets", "claim", &id, "--agent", "ann"]);
    let run = env.run(&["tickets", "claim", &id, "--agent", "bob"], None);
    run.expect_code(1);
    assert!(run.stderr.contains("already claimed by ann"), "{run:?}");
    let bad = env.run(&["tickets", "list", "--status", "pending"], None);
    bad.expect_code(1);
    assert!(bad.stderr.contains("unknown status `pending`"), "{bad:?}");
}

// ---------------------------------------------------------------------------------------------
// evidence

#[test]
fn evidence_export_redacts_personal_data() {
    let env = Env::new();
    // A miss, then a second miss opens a ticket whose transcript holds both messages.
    let turns = env.chat("r", "U", &["my email is jane@example.com", "flurb znork"]);
    let id = turns[1]["ticket"]["id"]
        .as_u64()
        .expect("ticket")
        .to_string();
    let run = env.ok(&["evidence", "export"]);
    assert!(run.stdout.contains("[email]"), "{run:?}");
    assert!(
        !run.stdout.contains("jane@example.com") && !run.stdout.contains("jane@"),
        "{run:?}"
    );
    let lines = run.json_lines();
    assert_eq!(lines[0]["text"], "my email is [email]");
    for store_view in [
        env.ok(&["tickets", "show", &id]).stdout,
        env.ok(&["tickets", "show", &id, "--json"]).stdout,
        env.ok(&["tickets", "list"]).stdout,
    ] {
        assert!(store_view.contains("[email]"), "{store_view}");
        assert!(!store_view.contains("jane@"), "{store_view}");
    }
}

#[test]
fn evidence_export_filters() {
    let env = Env::new();
    env.chat(
        "a",
        "U",
        &[
            "hi",
            "how much is the growth plan",
            "/helped",
            "I want a refund",
        ],
    );
    env.chat("b", "V", &["qwzx blorp"]);
    let all = env.export(&[]);
    assert_eq!(all.len(), 4, "/helped is feedback, not a message: {all:?}");

    let texts = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["text"].as_str().expect("text").to_string())
            .collect()
    };
    let tickets = env.export(&["--outcome", "ticket"]);
    assert_eq!(texts(&tickets), ["I want a refund"]);
    assert!(tickets.iter().all(|r| r["route"]["kind"] == "ticket"));
    assert_eq!(
        texts(&env.export(&["--intent", "pricing"])),
        ["how much is the growth plan"]
    );
    assert_eq!(
        texts(&env.export(&["--outcome", "helped"])),
        ["how much is the growth plan"]
    );
    assert_eq!(
        texts(&env.export(&["--outcome", "fallback"])),
        ["qwzx blorp"]
    );
    assert_eq!(texts(&env.export(&["--intent", "none"])), ["qwzx blorp"]);
    assert_eq!(env.export(&["--since", "1h"]).len(), 4);
    let bad = env.run(&["evidence", "export", "--since", "soon"], None);
    bad.expect_code(1);
    assert!(bad.stderr.contains("invalid --since `soon`"), "{bad:?}");

    // --out writes the file instead of stdout.
    let out = env.cwd().join("out.jsonl");
    let run = env.ok(&[
        "evidence",
        "export",
        "--intent",
        "refund",
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(run.stdout.is_empty(), "{run:?}");
    let file = std::fs::read_to_string(&out).expect("export file");
    assert_eq!(file.lines().count(), 1);
    assert!(file.contains("\"text\":\"I want a refund\""), "{file}");
}

#[test]
fn evidence_forget_deletes_one_users_data_only() {
    let env = Env::new();
    env.chat("u1", "U", &["hi", "I want a refund"]);
    env.chat(
        "v1",
        "V",
        &["how much is the growth plan", "I want a refund"],
    );
    let before = env.export(&[]);
    assert_eq!(before.len(), 4);
    let hash_of = |text: &str, conversation: &str| -> String {
        before
            .iter()
            .find(|r| r["text"] == text && r["conversation"] == conversation)
            .and_then(|r| r["user"].as_str())
            .expect("interaction")
            .to_string()
    };
    let (u, v) = (
        hash_of("hi", "u1"),
        hash_of("how much is the growth plan", "v1"),
    );
    assert_ne!(u, v);
    assert!(
        u.starts_with("u_") && u.len() > 10,
        "user ids are stored hashed: {u}"
    );

    let run = env.ok(&["evidence", "forget", "--user", "U"]);
    assert_eq!(
        run.stdout.trim(),
        "forgot user: 2 interaction(s), 1 ticket(s), 1 conversation(s) deleted"
    );
    let after = env.export(&[]);
    assert_eq!(after.len(), 2);
    assert!(
        after
            .iter()
            .all(|r| r["user"] == v.as_str() && r["conversation"] == "v1"),
        "{after:?}"
    );
    let tickets = env.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["conversation"], "v1");

    // The forgotten conversation starts over: no open ticket to join.
    let turns = env.chat("u1", "U", &["any news?"]);
    assert_eq!(turns[0]["ticket"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// bad input

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        &["check", "--no-such-flag"][..],
        &["--frobnicate", "check"],
        &["classify"],
        &["classify", "--json", "--summary", "-"],
        &["tickets", "claim", "1"],
        &["tickets", "show", "not-a-number"],
        &["no-such-command"],
    ] {
        let run = env.run(args, None);
        run.expect_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
    }
}

#[test]
fn a_missing_catalog_folder_fails_clearly() {
    let env = Env::new();
    let missing = env.cwd().join("nonexistent");
    let missing = missing.to_str().expect("path");
    let run = run_in(
        env.cwd(),
        &env.data(),
        &["--catalog", missing, "check"],
        None,
    );
    run.expect_code(1);
    assert_eq!(run.lines().len(), 2, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("{missing}/personas:1:1: cannot read folder")),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("{missing}/intents:1:1: cannot read folder")),
        "{run:?}"
    );

    // Other commands refuse to start, and say why.
    let run = run_in(
        env.cwd(),
        &env.data(),
        &["--catalog", missing, "classify", "hi"],
        None,
    );
    run.expect_code(1);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("cannot read folder"), "{run:?}");
    assert!(
        run.stderr
            .contains("error: the catalog has 2 error(s); run `personabot check`"),
        "{run:?}"
    );
}

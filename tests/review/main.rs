//! `personabot review` on a real evidence store: messages run through the pipeline (shipped
//! catalog, sled in a temp dir), feedback given and tickets relabelled through the same APIs the
//! channels and agents use. Every number the review prints is checked against counts this test
//! computes on its own from what the pipeline returned.

#[path = "../support/mod.rs"]
mod support;

mod answers;
mod served;
mod service;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use personabot::engine::pipeline::{Inbound, Outcome, Pipeline};
use personabot::owner::review::{self, ReviewOptions};
use personabot::store::{now_ms, Store};
use serde_json::Value;
use support::run_in;

const KEY: &str = "review-test-key";

fn say(p: &Pipeline, conversation: &str, text: &str) -> Outcome {
    p.handle(&Inbound {
        channel: "http".into(),
        conversation: conversation.into(),
        user: format!("user-{conversation}"),
        text: text.into(),
    })
    .expect("the turn is stored")
}

fn id(pick: &Option<personabot::core::route::Pick>) -> String {
    pick.as_ref().map_or_else(|| "-".into(), |p| p.id.clone())
}

/// What the test expects of one persona row, counted from the pipeline's outcomes.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    messages: usize,
    decided: usize,
    answers: usize,
    /// Answers that offered "That helped" / "Talk to a human".
    self_help: usize,
    helped: usize,
    not_helped: usize,
    tickets: usize,
    clarify: usize,
    fallback: usize,
    intents: BTreeMap<String, usize>,
}

/// The gift-voucher messages nothing in the shipped catalog covers.
const UNMATCHED: [&str; 3] = [
    "what is the balance on my gift voucher",
    "my gift voucher expired yesterday",
    "<script>alert(1)</script> gift voucher code",
];

struct Evidence {
    expected: BTreeMap<String, Expected>,
    /// (from, to) -> messages, for intent relabels.
    relabels: BTreeMap<(String, String), usize>,
    total: usize,
}

/// Runs the conversations, feedback and relabels; returns what the review must report.
fn build_evidence(data: &Path) -> Evidence {
    let p = support::pipeline_on(Store::open(data, Some(KEY)).unwrap());
    let conversations: &[(&str, &[&str])] = &[
        ("founder-1", &["we're a seed-stage startup, how much is the growth plan?"]),
        ("founder-2", &["our startup just raised a seed round, what does the pro plan cost per seat?"]),
        ("founder-3", &["as a founder of a small startup, is there a startup discount on pricing?"]),
        ("it-1", &["our IT team needs your SOC 2 report and a security questionnaire before procurement"]),
        ("it-2", &["half of our agents are locked out since we switched Okta to SAML"]),
        ("seller-1", &["my shopify store orders stopped syncing with the helpdesk"]),
        // The second message joins the refund ticket: not a decision of the bot.
        ("seller-2", &["I want a refund, I was charged twice this month for my shopify store", "the second charge was on the 3rd"]),
        ("job-1", &["are you hiring backend engineers?"]),
        ("anon-1", &["forgot my password"]),
        ("anon-2", &["forgot my password"]),
        ("unmatched-1", &[UNMATCHED[0]]),
        ("unmatched-2", &[UNMATCHED[1]]),
        ("unmatched-3", &[UNMATCHED[2]]),
    ];
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    let mut total = 0;
    let mut last: HashMap<&str, Outcome> = HashMap::new();
    for (conversation, texts) in conversations {
        for text in *texts {
            let o = say(&p, conversation, text);
            total += 1;
            let e = expected.entry(id(&o.decision.persona)).or_default();
            e.messages += 1;
            if o.decision.joins_ticket.is_some() {
                continue;
            }
            e.decided += 1;
            *e.intents.entry(id(&o.decision.intent)).or_default() += 1;
            match o.decision.kind.as_str() {
                "answer" => {
                    e.answers += 1;
                    e.self_help += usize::from(o.decision.actions().contains(&"helped"));
                }
                "clarify" => e.clarify += 1,
                "fallback" => e.fallback += 1,
                _ => {}
            }
            last.insert(conversation, o);
        }
    }
    // The gift-voucher messages must really be unmatched for the term counts below.
    for n in 1..=3 {
        let o = &last[format!("unmatched-{n}").as_str()];
        assert!(
            o.decision.intent.is_none(),
            "unmatched-{n}: {:?}",
            o.decision
        );
    }
    // Feedback: one answer helped, one did not (which opens a ticket).
    for (conversation, helped) in [("anon-1", true), ("anon-2", false), ("founder-1", true)] {
        let o = &last[conversation];
        assert_eq!(
            o.decision.kind.as_str(),
            "answer",
            "{conversation} got an answer"
        );
        p.feedback(
            "http",
            conversation,
            &format!("user-{conversation}"),
            helped,
        )
        .expect("feedback");
        let e = expected.get_mut(&id(&o.decision.persona)).unwrap();
        if helped {
            e.helped += 1;
        } else {
            e.not_helped += 1;
        }
    }
    // Tickets, counted per persona from the store's own ticket list.
    let tickets = p.store().tickets(None, None).unwrap();
    assert!(tickets.len() >= 3, "the evidence has tickets: {tickets:?}");
    for t in &tickets {
        let persona = t.persona.as_ref().map_or("-", |s| s.id.as_str());
        expected.entry(persona.to_string()).or_default().tickets += 1;
    }
    // Agents relabel two tickets as billing, and confirm one as it was.
    let mut relabels = BTreeMap::new();
    let mut opened: Vec<_> = tickets.iter().collect();
    opened.sort_by_key(|t| t.id);
    for (n, t) in opened.iter().enumerate().take(3) {
        let said = t.intent.as_ref().map_or("-", |s| s.id.as_str()).to_string();
        let stored = p.store().interaction(t.interaction).unwrap().unwrap();
        let logged = stored
            .intent
            .as_ref()
            .map_or("-", |s| s.id.as_str())
            .to_string();
        let to = if n < 2 {
            "billing".to_string()
        } else {
            logged.clone()
        };
        p.relabel(t.id, Some(&to), None, "ana").expect("relabel");
        if to != logged {
            *relabels.entry((logged, to)).or_default() += 1;
        }
        let _ = said;
    }
    Evidence {
        expected,
        relabels,
        total,
    }
}

fn rate(n: usize, of: usize) -> Value {
    if of == 0 {
        Value::Null
    } else {
        serde_json::json!(n as f64 / of as f64)
    }
}

#[test]
fn review_numbers_match_counts_taken_from_the_pipeline() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let evidence = build_evidence(&data);
    let run = run_in(work.path(), &data, &["review", "--json"], None);
    run.expect_ok();
    let review: Value = serde_json::from_str(&run.stdout).expect("one JSON object");

    assert_eq!(review["messages"], evidence.total);
    let rows = review["personas"].as_array().unwrap();
    let by_id: BTreeMap<&str, &Value> = rows
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        evidence
            .expected
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "one row per persona seen (and `-`)"
    );
    assert!(
        by_id.len() >= 4,
        "the fixture spans several personas: {by_id:?}"
    );
    for (persona, want) in &evidence.expected {
        let row = by_id[persona.as_str()];
        let got = |k: &str| row[k].as_u64().unwrap() as usize;
        assert_eq!(got("messages"), want.messages, "{persona} messages");
        assert_eq!(got("decided"), want.decided, "{persona} decided");
        assert_eq!(got("answers"), want.answers, "{persona} answers");
        assert_eq!(
            got("self_help_answers"),
            want.self_help,
            "{persona} self-help"
        );
        assert_eq!(got("helped"), want.helped, "{persona} helped");
        assert_eq!(got("not_helped"), want.not_helped, "{persona} not helped");
        assert_eq!(got("tickets"), want.tickets, "{persona} tickets");
        assert_eq!(got("clarify"), want.clarify, "{persona} clarify");
        assert_eq!(got("fallback"), want.fallback, "{persona} fallback");
        assert_eq!(
            row["share"],
            serde_json::json!(want.messages as f64 / evidence.total as f64)
        );
        assert_eq!(row["resolution_rate"], rate(want.helped, want.self_help));
        assert_eq!(row["escalation_rate"], rate(want.tickets, want.decided));
        assert_eq!(row["fallback_rate"], rate(want.fallback, want.decided));
        // All messages are from this week: the trend's last week holds them all.
        assert_eq!(
            row["weekly"].as_array().unwrap().last().unwrap(),
            &serde_json::json!(want.messages)
        );
        let intents: BTreeMap<String, usize> = row["top_intents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["messages"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(intents, want.intents, "{persona} top intents");
    }
    // Personas are listed busiest first.
    let volumes: Vec<u64> = rows
        .iter()
        .map(|r| r["messages"].as_u64().unwrap())
        .collect();
    assert!(volumes.windows(2).all(|w| w[0] >= w[1]), "{volumes:?}");

    // The unmatched gift-voucher messages: the phrase is counted once per message.
    let terms = review["unclear"]["terms"].as_array().unwrap();
    let voucher = terms
        .iter()
        .find(|t| t["term"] == "gift voucher")
        .unwrap_or_else(|| panic!("`gift voucher` among {terms:?}"));
    assert_eq!(voucher["messages"], UNMATCHED.len());
    assert_eq!(voucher["in_profiles"], serde_json::json!([]));
    // `voucher` alone is no more frequent than the phrase, so only the phrase is listed.
    assert!(terms.iter().all(|t| t["term"] != "voucher"), "{terms:?}");
    assert!(review["unclear"]["unmatched"].as_u64().unwrap() >= UNMATCHED.len() as u64);

    // Relabels: what the bot said -> what the agent said.
    let relabels: BTreeMap<(String, String), usize> = review["relabels"]["intent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["from"].as_str().unwrap().to_string(),
                    r["to"].as_str().unwrap().to_string(),
                ),
                r["messages"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(relabels, evidence.relabels);
    assert_eq!(review["relabels"]["labelled"], 3);
    assert_eq!(
        review["relabels"]["confirmed"],
        3 - evidence.relabels.values().sum::<usize>()
    );

    // Keywords: `shopify store` fired for the seller (the longest match, so `shopify` alone
    // did not); a keyword nobody wrote did not fire either.
    let silent = review["silent_keywords"]["profiles"].as_array().unwrap();
    let silent_of = |profile: &str| -> Vec<String> {
        silent
            .iter()
            .find(|p| p["profile"] == profile)
            .map(|p| {
                p["silent"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let seller = silent_of("persona:ecommerce-seller");
    assert!(!seller.contains(&"shopify store".to_string()), "{seller:?}");
    assert!(seller.contains(&"shopify".to_string()), "{seller:?}");
    assert!(seller.contains(&"woocommerce".to_string()), "{seller:?}");
}

#[test]
fn persona_filter_html_report_and_bad_arguments() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let evidence = build_evidence(&data);
    let founder = &evidence.expected["startup-founder"];

    let run = run_in(
        work.path(),
        &data,
        &["review", "--persona", "startup-founder", "--json"],
        None,
    );
    run.expect_ok();
    let review: Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = review["personas"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["messages"], founder.messages);
    assert_eq!(
        review["messages"], evidence.total,
        "share stays over all messages"
    );
    assert_eq!(review["selected_messages"], founder.messages);
    let run = run_in(
        work.path(),
        &data,
        &["review", "--persona", "startup-founder"],
        None,
    );
    run.expect_ok();
    let header = format!(
        "personabot review: {} message(s) of persona startup-founder ({} in the window),",
        founder.messages, evidence.total
    );
    assert!(run.stdout.starts_with(&header), "{header}\n{}", run.stdout);
    let profiles: Vec<&str> = review["silent_keywords"]["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["persona:startup-founder"]);

    // Terminal tables, and the HTML report beside them.
    let html = work.path().join("review.html");
    let run = run_in(
        work.path(),
        &data,
        &["review", "--since", "30d", "--html", html.to_str().unwrap()],
        None,
    );
    run.expect_ok();
    for heading in [
        "PERSONAS",
        "TOP INTENTS",
        "ANSWER VARIANTS",
        "UNMATCHED AND LOW-CONFIDENCE MESSAGES",
        "KEYWORDS THAT NEVER FIRED",
        "KEYWORDS THAT FIRE FOR SEVERAL PERSONAS",
        "AGENT RELABELS",
    ] {
        assert!(run.stdout.contains(heading), "{heading}:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("startup-founder"));
    assert!(run.stdout.contains("gift voucher"));
    let page = std::fs::read_to_string(&html).unwrap();
    for id in ["volume-chart", "resolution-chart", "relabel-intent-chart"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id} in the page");
    }
    assert!(!page.contains("<script"), "customer text is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );

    // Bad arguments: clear errors, exit 1.
    for (args, says) in [
        (
            vec!["review", "--persona", "astronaut"],
            "unknown persona `astronaut`",
        ),
        (vec!["review", "--since", "soon"], "invalid --since `soon`"),
    ] {
        let run = run_in(work.path(), &data, &args, None);
        run.expect_code(1);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn weekly_trend_and_window_follow_message_times() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    build_evidence(&data);
    let store = Store::open(&data, Some(KEY)).unwrap();
    let catalog = &support::shipped().catalog;
    let mut interactions = store.interactions(&Default::default()).unwrap();
    let tickets = store.tickets(None, None).unwrap();
    const WEEK: u64 = 7 * 86_400_000;
    let now = now_ms();
    // Move every third message two weeks back and every third-plus-one a week back.
    let mut want_weekly = [0usize; 3];
    for (n, i) in interactions.iter_mut().enumerate() {
        let back = (n % 3) as u64;
        i.at_ms = now - back * WEEK;
        want_weekly[2 - n % 3] += 1;
    }
    let options = ReviewOptions {
        now_ms: now,
        ..Default::default()
    };
    let full = review::build(catalog, &interactions, &tickets, &options).unwrap();
    assert!(full.weeks.len() >= 3, "{:?}", full.weeks);
    let tail = |r: &review::Review| -> Vec<usize> {
        let weeks = r.weeks.len();
        (weeks - 3..weeks)
            .map(|w| r.personas.iter().map(|p| p.weekly[w]).sum())
            .collect()
    };
    assert_eq!(tail(&full), want_weekly);

    // A window of 10 days keeps this week's and last week's messages only.
    let recent = review::build(
        catalog,
        &interactions,
        &tickets,
        &ReviewOptions {
            since_ms: Some(now - 10 * 86_400_000),
            ..options.clone()
        },
    )
    .unwrap();
    assert_eq!(recent.messages, want_weekly[1] + want_weekly[2]);
    assert_eq!(
        recent.personas.iter().map(|p| p.messages).sum::<usize>(),
        recent.messages
    );
}

#[test]
fn review_merges_the_stores_of_several_shards() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    let (ea, eb) = (build_evidence(&a), build_evidence(&b));
    let run = run_in(
        work.path(),
        &a,
        &["review", "--json", "--shard", b.to_str().unwrap()],
        None,
    );
    run.expect_ok();
    let merged: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(merged["messages"], ea.total + eb.total);
    for (persona, want) in &ea.expected {
        let row = merged["personas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == persona.as_str())
            .unwrap();
        let both = want.messages + eb.expected[persona].messages;
        assert_eq!(row["messages"], both, "{persona}");
        let tickets = want.tickets + eb.expected[persona].tickets;
        assert_eq!(row["tickets"], tickets, "{persona}");
    }
    assert_eq!(merged["relabels"]["labelled"], 6);
}

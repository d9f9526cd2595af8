//! `evidence export`, `review`, `suggest` and `replay` read the whole cluster from the streams
//! with no data folder.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::nats::NatsServer;
use crate::nodes::{
    cluster_export, command, eventually, node, read_stream, run_with, say_as, wait_outbox_empty,
    REFUND,
};
use crate::serve_process::ServeProcess;

/// How many times each conversation appears in `export`.
fn per_conversation(export: &[Value]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for i in export {
        let c = i["conversation"]
            .as_str()
            .expect("a conversation")
            .to_string();
        *seen.entry(c).or_insert(0) += 1;
    }
    seen
}

fn assert_once_each(export: &[Value], expected: &BTreeSet<String>) {
    let seen = per_conversation(export);
    for c in expected {
        assert_eq!(seen.get(c), Some(&1), "{c} exported once: {seen:?}");
    }
}

#[test]
fn the_cluster_export_holds_every_acknowledged_message_of_both_nodes_once() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(&dir.path().join("a"), &url, "a");
    let mut b = node(&dir.path().join("b"), &url, "b");
    let mut expected = BTreeSet::new();
    for k in 0..4 {
        for (name, serve) in [("a", &a), ("b", &b)] {
            let conversation = format!("{name}-{k}");
            let text = if k % 2 == 0 {
                REFUND
            } else {
                "how do I change my plan?"
            };
            say_as(serve, &conversation, &conversation, text);
            expected.insert(conversation);
        }
    }
    wait_outbox_empty(&a);
    wait_outbox_empty(&b);
    let export = cluster_export(&url);
    assert_eq!(export.len(), expected.len(), "{export:?}");
    assert_once_each(&export, &expected);
    // Every line is an interaction as a store exports it: redacted text, hashed user.
    assert!(export
        .iter()
        .all(|i| i["user"].as_str().is_some_and(|u| u.starts_with("u_"))));

    // B answers, then dies at once: what reached the stream before the kill is in the
    // export without B ...
    let acknowledged: BTreeSet<String> = (0..15)
        .map(|k| {
            let conversation = format!("b-kill-{k}");
            say_as(&b, &conversation, &conversation, "how do I change my plan?");
            conversation
        })
        .collect();
    b.kill9();
    let published: BTreeSet<String> = read_stream(&url, "PB_EVIDENCE", Some("pb.evidence.b"))
        .iter()
        .map(|m| serde_json::from_str::<Value>(m).expect("JSON"))
        .filter_map(|i| i["conversation"].as_str().map(str::to_string))
        .filter(|c| acknowledged.contains(c))
        .collect();
    let export = cluster_export(&url);
    assert_once_each(&export, &published);
    assert_once_each(&export, &expected);
    // ... and once B is back and its outbox drained, every message it acknowledged, once.
    let b = node(&dir.path().join("b"), &url, "b");
    wait_outbox_empty(&b);
    let mut all = expected.clone();
    all.extend(acknowledged.iter().cloned());
    let export = cluster_export(&url);
    assert_once_each(&export, &all);
    assert_eq!(export.len(), all.len());
    // Filters work as on a store.
    let run = command(
        &[("PERSONABOT__CLUSTER__NATS_URL", url.as_str())],
        &["evidence", "export", "--outcome", "ticket"],
    );
    assert!(run.ok, "{run:?}");
    let tickets: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!tickets.is_empty());
    assert!(
        tickets.iter().all(|i| i["route"]["kind"] == "ticket"),
        "{tickets:?}"
    );
    drop(a);
}

#[test]
fn an_unreachable_cluster_and_shards_in_cluster_mode_are_reported() {
    let url = "nats://127.0.0.1:9"; // nothing listens there
    let env = [("PERSONABOT__CLUSTER__NATS_URL", url)];
    let run = command(&env, &["evidence", "export"]);
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr.contains("cannot reach the cluster"),
        "{}",
        run.stderr
    );
    // The streams already hold every node's evidence: shards make no sense there.
    let run = command(&env, &["review", "--shard", "elsewhere"]);
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("drop --shard"), "{}", run.stderr);
}

/// Messages of several kinds (answers, tickets, unmatched words), the same for both runs.
const MESSAGES: [&str; 10] = [
    REFUND,
    "how do I change my plan?",
    "my card was declined at checkout",
    "the app crashes when I open settings",
    "I was charged twice this month",
    "can I get an invoice for my company",
    "zorblax frobnicator is broken again",
    "how do I reset my password",
    "cancel my subscription please",
    "the zorblax page shows an error",
];

/// `review --json`, `replay --json` and `suggest --json` of a source (cluster or data folder).
fn reports(env: &[(&str, &str)], data: &std::path::Path) -> Vec<Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    let cwd = tempfile::tempdir().expect("temp dir");
    let args: [&[&str]; 3] = [
        &["review", "--json"],
        &["replay", "--json"],
        &["suggest", "--json", "--min-support", "1"],
    ];
    args.iter()
        .map(|a| {
            let run = run_with(data, cwd.path(), env, &["--catalog", root], a);
            assert!(run.ok, "{a:?}: {run:?}");
            serde_json::from_str(run.stdout.trim()).expect("one JSON object")
        })
        .collect()
}

/// `value` without what differs between two stores holding the same turns: ids and times.
fn without_ids_and_times(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "id" | "ticket"
                            | "interaction"
                            | "at_ms"
                            | "until_ms"
                            | "generated_ms"
                            | "created_ms"
                            | "updated_ms"
                    )
                })
                .map(|(k, v)| (k.clone(), without_ids_and_times(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_ids_and_times).collect()),
        other => other.clone(),
    }
}

/// The paths where `a` and `b` differ, with both values.
fn differ(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (u, v) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                differ(&format!("{path}.{k}"), u, v, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (n, (u, v)) in x.iter().zip(y).enumerate() {
                differ(&format!("{path}[{n}]"), u, v, out);
            }
        }
        _ if a != b => out.push(format!("{path}: cluster {a} vs store {b}")),
        _ => {}
    }
}

#[test]
fn review_suggest_and_replay_of_the_cluster_match_one_store_holding_the_same_turns() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(&dir.path().join("a"), &url, "a");
    let b = node(&dir.path().join("b"), &url, "b");
    let single_data = dir.path().join("single");
    let single = ServeProcess::start(&single_data, &[]);
    for (k, text) in MESSAGES.iter().enumerate() {
        let conversation = format!("c{k}");
        let serve = if k % 2 == 0 { &a } else { &b };
        say_as(serve, &conversation, &conversation, text);
        say_as(&single, &conversation, &conversation, text);
    }
    wait_outbox_empty(&a);
    wait_outbox_empty(&b);
    eventually("the cluster export holds every turn", || {
        let n = cluster_export(&url).len();
        (n == MESSAGES.len())
            .then_some(())
            .ok_or(format!("{n} exported"))
    });
    let nowhere = dir.path().join("no-such-data-folder");
    let cluster = reports(&[("PERSONABOT__CLUSTER__NATS_URL", url.as_str())], &nowhere);
    assert!(
        !nowhere.exists(),
        "a command reading the cluster created a data folder"
    );
    let one = reports(&[], &single_data);
    for (name, (c, s)) in ["review", "replay", "suggest"]
        .iter()
        .zip(cluster.iter().zip(&one))
    {
        let (c, s) = (without_ids_and_times(c), without_ids_and_times(s));
        let mut differences = Vec::new();
        differ("", &c, &s, &mut differences);
        assert!(
            differences.is_empty(),
            "{name} of the cluster differs from one store's: {differences:#?}"
        );
    }
    // Not vacuous: the review counted every message, and the tickets from PB_TICKETS.
    let review = &cluster[0];
    assert_eq!(review["messages"], MESSAGES.len(), "{review}");
    let tickets = review["service"]["teams"][0]["tickets"]
        .as_u64()
        .unwrap_or(0);
    assert!(tickets >= 2, "tickets of both nodes: {}", review["service"]);
}

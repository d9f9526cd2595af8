//! `evidence export` and `evidence forget` run on the whole cluster are recorded in the
//! cluster's audit log (`PB_AUDIT`) first, and `audit --cluster` lists them.

use serde_json::Value;

use crate::nats::{runtime, NatsServer};
use crate::nodes::command;

const OWNER: &str = "owner-olga";

#[test]
fn cluster_exports_and_forgets_are_recorded_before_they_run() {
    let nats = NatsServer::start();
    let url = nats.url();
    let env = [
        ("PERSONABOT__CLUSTER__NATS_URL", url.as_str()),
        ("USER", OWNER),
    ];
    let run = command(&env, &["audit", "--cluster"]);
    assert!(run.ok, "{run:?}");
    assert!(run.stdout.contains("(no audit entries)"), "{}", run.stdout);

    let run = command(&env, &["evidence", "export"]);
    assert!(run.ok, "{run:?}");
    let run = command(&env, &["evidence", "forget", "--user", "jane@example.com"]);
    assert!(run.ok, "{run:?}");

    let run = command(&env, &["audit", "--cluster", "--json"]);
    assert!(run.ok, "{run:?}");
    let entries: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["export", "forget"], "{entries:?}");
    for e in &entries {
        assert_eq!(e["who"], OWNER, "{e}");
        assert_eq!(e["target"], "cluster", "{e}");
        assert_eq!(e["via"], "cli", "{e}");
    }
    // Whom a forget was about is never kept.
    assert!(!run.stdout.contains("jane"), "{}", run.stdout);
    let text = command(&env, &["audit", "--cluster"]);
    assert!(
        text.stdout.contains(OWNER) && text.stdout.contains("export"),
        "{}",
        text.stdout
    );
}

#[test]
fn an_export_that_cannot_be_recorded_does_not_run() {
    let nats = NatsServer::start();
    let url = nats.url();
    // A PB_AUDIT that takes nothing on the audit subject: JetStream never acknowledges.
    runtime().block_on(async {
        let client = async_nats::connect(url.as_str()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "PB_AUDIT".into(),
            subjects: vec!["pb.audit.elsewhere".into()],
            ..Default::default()
        })
        .await
        .expect("create PB_AUDIT");
    });
    let env = [("PERSONABOT__CLUSTER__NATS_URL", url.as_str())];
    let run = command(&env, &["evidence", "export"]);
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr
            .contains("cannot record the export in the cluster's audit log"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("week.jsonl");
    let out_arg = out.to_string_lossy().into_owned();
    let run = command(&env, &["evidence", "export", "--out", &out_arg]);
    assert!(!run.ok, "{run:?}");
    assert!(!out.exists(), "a failed export leaves no file behind");

    // Without cluster.nats_url there is no cluster log to read.
    let run = command(&[], &["audit", "--cluster"]);
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr.contains("set cluster.nats_url"),
        "{}",
        run.stderr
    );
}

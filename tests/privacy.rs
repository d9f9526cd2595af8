//! Privacy operations on a real sled store: forgetting a user over the agent API (and the CLI)
//! leaves no trace of them in the store's raw files, a compaction interrupted by a crash is
//! finished or discarded on the next open, and the retention task purges old evidence on the
//! clock it is given.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use personabot::app::app;
use personabot::catalog::settings::Settings;
use personabot::engine::pipeline::{Inbound, Pipeline};
use personabot::engine::AppState;
use personabot::store::{now_ms, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "privacy-agent-token-long";
const KEY: &str = "privacy-test-key";
const DAY_MS: u64 = 86_400_000;

/// The needles found anywhere in the raw bytes of the files under `dir`, in their order.
fn found_in_raw_files(dir: &Path, needles: &[String]) -> Vec<String> {
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let hits = support::grep_raw(dir, &needles);
    needles
        .into_iter()
        .filter(|n| hits.contains_key(*n))
        .map(str::to_string)
        .collect()
}

fn say(
    p: &Pipeline,
    user: &str,
    conversation: &str,
    text: &str,
) -> personabot::engine::pipeline::Outcome {
    p.handle(&Inbound {
        channel: "http".into(),
        conversation: conversation.into(),
        user: user.into(),
        text: text.into(),
    })
    .expect("stored")
}

/// Messages from `victim` and from others, each carrying a unique marker; the victim also
/// opens a ticket. Returns (victim markers, other markers).
fn seed(p: &Pipeline) -> (Vec<String>, Vec<String>) {
    let (mut victim, mut others) = (Vec::new(), Vec::new());
    for n in 0..6 {
        let mine = format!("qvictimmark{n}q");
        say(
            p,
            "victim",
            &format!("victim-conv-{n}"),
            &format!("{mine} how much is the growth plan?"),
        );
        victim.push(mine);
        let theirs = format!("qothermark{n}q");
        say(
            p,
            &format!("other{n}"),
            &format!("other-conv-{n}"),
            &format!("{theirs} how much is the growth plan?"),
        );
        others.push(theirs);
    }
    let o = say(
        p,
        "victim",
        "victim-ticket",
        "qvictimticketq I want a refund, I was charged twice",
    );
    assert!(o.ticket.is_some(), "the victim has a ticket");
    victim.push("qvictimticketq".into());
    victim.push("victim-conv-0".into());
    (victim, others)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_over_the_agent_api_leaves_no_trace_in_the_raw_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let settings = Settings::load_with_env(
        None,
        Some(HashMap::from([(
            "PERSONABOT__HTTP__AGENT_TOKEN".to_string(),
            TOKEN.to_string(),
        )])),
    )
    .unwrap();
    let pipeline = Arc::new(support::pipeline_on(Store::open(&data, Some(KEY)).unwrap()));
    let (mut victim, others) = {
        let p = pipeline.clone();
        tokio::task::spawn_blocking(move || seed(&p)).await.unwrap()
    };
    let hashed = pipeline.store().hash_user("victim");
    victim.push(hashed.clone());
    pipeline.store().flush().unwrap();
    // Positive control: before forgetting, the raw files hold the victim's data.
    assert_eq!(
        found_in_raw_files(&data, &victim),
        victim,
        "seeded data is visible"
    );
    let last_id = pipeline
        .store()
        .interactions(&Default::default())
        .unwrap()
        .iter()
        .map(|i| i.id)
        .max()
        .unwrap();

    let state = AppState::new(pipeline.clone(), Arc::new(settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let forget = |token: Option<&'static str>, body: Value| {
        let mut r = client
            .post(format!("{base}/v1/evidence/forget"))
            .json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(
        forget(None, json!({"user": "victim"})).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        forget(Some(TOKEN), json!({"user": " "})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        forget(Some(TOKEN), json!({"who": "victim"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        found_in_raw_files(&data, &victim).len(),
        victim.len(),
        "refused requests deleted nothing"
    );

    let (status, report) = forget(Some(TOKEN), json!({"user": "victim"})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["interactions"], 7);
    assert_eq!(report["tickets"], 1);
    assert_eq!(report["conversations"], 7);
    assert!(report["compacted"]["records"].as_u64().unwrap() > 0);

    let left = found_in_raw_files(&data, &victim);
    assert!(
        left.is_empty(),
        "traces of the forgotten user in the raw files: {left:?}"
    );
    assert_eq!(
        found_in_raw_files(&data, &others),
        others,
        "everyone else's evidence is kept"
    );
    // The store still serves, and new ids stay above the old ones.
    let p = pipeline.clone();
    let after =
        tokio::task::spawn_blocking(move || say(&p, "late", "late-conv", "forgot my password"))
            .await
            .unwrap();
    assert!(
        after.interaction.unwrap() > last_id,
        "ids keep rising after a compaction"
    );
    let stored = pipeline.store().interactions(&Default::default()).unwrap();
    assert_eq!(stored.len(), others.len() + 1);
    assert!(stored.iter().all(|i| i.user != hashed));
}

#[test]
fn forget_on_the_command_line_compacts_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (victim, others) = {
        let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
        seed(&p)
    };
    let run = std::process::Command::new(support::BIN)
        .current_dir(dir.path())
        .args(["--data", "data", "evidence", "forget", "--user", "victim"])
        .env("PERSONABOT__PRIVACY__USER_HASH_KEY", KEY)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{stdout} {stderr}");
    assert!(stdout.contains("7 interaction(s)"), "{stdout}");
    assert!(stderr.contains("store compacted"), "{stderr}");
    assert_eq!(found_in_raw_files(&data, &victim), Vec::<String>::new());
    assert_eq!(found_in_raw_files(&data, &others), others);
}

#[test]
fn an_interrupted_compaction_is_finished_or_discarded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let copy = dir.path().join("data.compacting");
    {
        let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
        say(&p, "u", "c", "forgot my password");
    }
    let copy_dir = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        let mut files = Vec::new();
        support::files_under(from, &mut files);
        for f in files {
            let target = to.join(f.strip_prefix(from).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&f, target).unwrap();
        }
    };
    // Crash after the copy was complete and the old folder moved away: the copy is used.
    copy_dir(&data, &copy);
    std::fs::write(copy.join("COMPACTED"), b"").unwrap();
    std::fs::rename(&data, dir.path().join("data.retired")).unwrap();
    let store = Store::open(&data, Some(KEY)).unwrap();
    assert_eq!(store.interaction_count(), 1);
    drop(store);
    assert!(!copy.exists() && !dir.path().join("data.retired").exists());
    assert!(!data.join("COMPACTED").exists());
    // Crash during the copy: the half copy is discarded, the store is whole.
    copy_dir(&data, &copy);
    let store = Store::open(&data, Some(KEY)).unwrap();
    assert_eq!(store.interaction_count(), 1);
    assert!(!copy.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_task_purges_on_the_clock_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Arc::new(support::pipeline_on(
        Store::open(&dir.path().join("data"), Some(KEY)).unwrap(),
    ));
    let (old, between, recent) = {
        let p = pipeline.clone();
        tokio::task::spawn_blocking(move || {
            let old: Vec<u64> = (0..3)
                .map(|n| {
                    say(&p, "u", &format!("old{n}"), "forgot my password")
                        .interaction
                        .unwrap()
                })
                .collect();
            std::thread::sleep(Duration::from_millis(20));
            let between = now_ms();
            std::thread::sleep(Duration::from_millis(20));
            let recent: Vec<u64> = (0..2)
                .map(|n| {
                    say(&p, "u", &format!("new{n}"), "forgot my password")
                        .interaction
                        .unwrap()
                })
                .collect();
            (old, between, recent)
        })
        .await
        .unwrap()
    };
    // Audit entries (who did what, from which address) on either side of `between`.
    let audit = |at_ms: u64, ticket: u64| personabot::store::AuditEntry {
        at_ms,
        who: "ann".into(),
        action: "claim".into(),
        ticket: Some(ticket),
        target: None,
        via: "http".into(),
        from: Some("192.0.2.7".into()),
    };
    let store = pipeline.store();
    store.record_audit(&audit(between - 10, 1)).unwrap();
    store.record_audit(&audit(between + 10, 2)).unwrap();
    // A clock 30 days after `between`: with 30-day windows, only the older records go.
    let clock = Arc::new(AtomicU64::new(between + 30 * DAY_MS));
    let task = tokio::spawn(personabot::ops::retention::run(
        pipeline.clone(),
        personabot::ops::retention::Windows {
            evidence_days: 30,
            audit_days: 30,
        },
        Duration::from_millis(20),
        {
            let clock = clock.clone();
            move || clock.load(Ordering::SeqCst)
        },
    ));
    let ids = || -> Vec<u64> {
        let mut ids: Vec<u64> = pipeline
            .store()
            .interactions(&Default::default())
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        ids.sort_unstable();
        ids
    };
    let wait_for = |want: Vec<u64>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = ids();
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "store holds {got:?}, want {want:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert!(!old.is_empty());
    wait_for(recent.clone());
    // The same purge deletes the old audit entry, just after the interactions.
    let audit_times = || -> Vec<u64> {
        let log = store.audit_log(None).unwrap();
        log.iter().map(|e| e.at_ms).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while audit_times() != [between + 10] {
        assert!(Instant::now() < deadline, "audit: {:?}", audit_times());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(store.ticket_audit(1).unwrap().is_empty());
    assert_eq!(store.ticket_audit(2).unwrap().len(), 1);
    // The task keeps running: a later clock purges the rest.
    clock.store(now_ms() + 31 * DAY_MS, Ordering::SeqCst);
    wait_for(Vec::new());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !audit_times().is_empty() {
        assert!(Instant::now() < deadline, "audit: {:?}", audit_times());
        std::thread::sleep(Duration::from_millis(10));
    }
    task.abort();
}

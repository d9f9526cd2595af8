//! The privacy attacks of issue #12 on a real sled store (and the real binary where the attack
//! goes through it): disguised cards, IBANs, phones and secrets, ids holding an email or a phone,
//! a forgotten user's words in someone else's ticket, `evidence forget` without the store's
//! key, and the modes of the store's files. Each test greps sled's raw files.

mod support;

use std::path::Path;

use personabot::engine::pipeline::{Inbound, Outcome, Pipeline};
use personabot::store::Store;

const KEY: &str = "privacy-attacks-test-key";
const KEY_ENV: &str = personabot::catalog::settings::USER_HASH_KEY_ENV;

fn say(p: &Pipeline, channel: &str, conversation: &str, user: &str, text: &str) -> Outcome {
    p.handle(&Inbound {
        channel: channel.into(),
        conversation: conversation.into(),
        user: user.into(),
        text: text.into(),
    })
    .expect("stored")
}

/// The needles found in the raw bytes of the files under `dir`.
fn found(dir: &Path, needles: &[&str]) -> Vec<String> {
    let hits = support::grep_raw(dir, needles);
    needles
        .iter()
        .filter(|n| hits.contains_key(**n))
        .map(|n| n.to_string())
        .collect()
}

/// Test secrets are assembled from parts, so no scanner mistakes this file for a leak.
fn join(parts: &[&str]) -> String {
    parts.concat()
}

/// Disguised personal data and secrets: (what the customer writes, the needles that must not
/// be in the files: the disguised text and its plain form).
fn disguised() -> Vec<(String, Vec<String>)> {
    let nbsp = |s: &str| s.replace(' ', "\u{a0}");
    let full_width = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(c as u32 - 0x30 + 0xff10).unwrap_or(c),
                c => c,
            })
            .collect()
    };
    let card = "4539 1488 0343 6467";
    let plain_card = "4539148803436467";
    let iban = "DE89 3704 0044 0532 0130 00";
    let aws_id = join(&["AKIA", "Z7QK3VX9MWB2PLT4"]);
    let aws_secret = join(&["kV9pQ2rT8xW4yZ6aB1cD3eF5", "gH7jK0mN2pQ4rS6t"]);
    let stripe = join(&["sk_live_", "51JqZ8kLmN3oP4qR5sT6uV7w"]);
    let slack = join(&["xoxb-", "918273645-5647382910-ZxYwVuTsRqPoNmLk"]);
    let github = join(&["ghp_", "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc3Vb5"]);
    let google = join(&["AIza", "SyQ9w8E7r6T5y4U3i2O1pAsDfGhJkLzXcVb"]);
    let jwt = join(&[
        "eyJhbGciOiJIUzI1NiJ9.",
        "eyJ1c2VyIjoicXVva2thIn0.",
        "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4",
    ]);
    let pem_body = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu";
    let pem = join(&[
        "-----BEGIN RSA PRIVATE KEY-----\n",
        pem_body,
        "\n-----END RSA PRIVATE KEY-----",
    ]);
    vec![
        (
            format!("card {} thanks", nbsp(card)),
            vec![nbsp(card), plain_card.into()],
        ),
        (
            format!("card {} thanks", card.replace(' ', "\t")),
            // Stored JSON escapes a tab as `\t`.
            vec![card.replace(' ', "\\t"), plain_card.into()],
        ),
        (
            format!("card {} thanks", card.replace(' ', "_")),
            vec![card.replace(' ', "_"), plain_card.into()],
        ),
        (
            format!("card {} thanks", card.replace(' ', "\u{200b}")),
            vec![card.replace(' ', "\u{200b}"), plain_card.into()],
        ),
        (
            format!("card {} thanks", full_width(plain_card)),
            vec![full_width(plain_card), plain_card.into()],
        ),
        (
            format!("iban {} thanks", nbsp(iban)),
            vec![nbsp(iban), "DE89370400440532013000".into()],
        ),
        (
            format!("call me on {}", nbsp("+44 20 7946 0958")),
            vec![nbsp("+44 20 7946 0958"), "442079460958".into()],
        ),
        (format!("aws key {aws_id}"), vec![aws_id.clone()]),
        (
            format!("aws_secret_access_key={aws_secret}"),
            vec![aws_secret.clone()],
        ),
        (format!("stripe key {stripe}"), vec![stripe.clone()]),
        (
            format!("slack token {slack}"),
            vec![slack.clone(), "ZxYwVuTsRqPoNmLk".into()],
        ),
        (format!("github {github}"), vec![github.clone()]),
        (format!("google {google}"), vec![google.clone()]),
        (
            format!("jwt {jwt}"),
            vec![jwt.clone(), "Zm9vYmFyYmF6".into()],
        ),
        (format!("my key:\n{pem}"), vec![pem_body.into()]),
        (
            "password: quokkahunter42".into(),
            vec!["quokkahunter42".into()],
        ),
        ("passwd=wombatpass77".into(), vec!["wombatpass77".into()]),
        (
            "my password is Numbat-Secret-9".into(),
            vec!["Numbat-Secret-9".into()],
        ),
    ]
}

#[test]
fn disguised_cards_ibans_phones_and_secrets_never_reach_the_raw_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
    let cases = disguised();
    for (n, (text, _)) in cases.iter().enumerate() {
        say(
            &p,
            "http",
            &format!("disguise-{n}"),
            "u1",
            &format!("zebracorn {text}"),
        );
    }
    // Through a ticket transcript as well. What an agent sends is stored as written: only
    // customers' text is redacted.
    let o = say(
        &p,
        "http",
        "disguise-ticket",
        "u1",
        &format!("refund please, I was charged twice: {}", cases[0].0),
    );
    let ticket = o.ticket.expect("a ticket");
    p.agent_reply(ticket.id, "ana", "got it, write to dana@hearth.example")
        .unwrap();
    p.store().flush().unwrap();
    drop(p);

    assert_eq!(
        found(&data, &["zebracorn"]),
        ["zebracorn"],
        "messages stored"
    );
    assert_eq!(
        found(&data, &["dana@hearth.example"]),
        ["dana@hearth.example"],
        "the agent's reply is stored as written"
    );
    let leaks: Vec<String> = cases
        .iter()
        .filter_map(|(text, needles)| {
            let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
            let left = found(&data, &needles);
            (!left.is_empty()).then(|| format!("{text:?} stored raw as {left:?}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "{} of {} leaked:\n{}",
        leaks.len(),
        cases.len(),
        leaks.join("\n")
    );
}

#[test]
fn ids_holding_an_email_or_phone_are_hashed_before_they_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
    let ids = [
        ("matrix-bridge", "jane.private@example.org"),
        ("matrix-bridge", "chat +44 20 7946 0958"),
        ("ops@example.net", "plain-conversation"),
    ];
    for (channel, conversation) in ids {
        say(
            &p,
            channel,
            conversation,
            "u1",
            "zebracorn how much is the growth plan?",
        );
    }
    let o = say(
        &p,
        "matrix-bridge",
        "jane.private@example.org",
        "u1",
        "I want a refund, I was charged twice",
    );
    let ticket = o.ticket.expect("a ticket");
    assert!(
        ticket.conversation.starts_with("id-"),
        "{}",
        ticket.conversation
    );
    // The conversation is still one conversation, found by the id its bridge knows.
    let state = p
        .store()
        .conversation("matrix-bridge", "jane.private@example.org")
        .unwrap();
    assert_eq!(state.turns, 2);
    assert_eq!(state.open_ticket.map(|t| t.id), Some(ticket.id));
    p.store().flush().unwrap();
    drop(p);

    assert_eq!(found(&data, &["zebracorn"]), ["zebracorn"]);
    let needles = [
        "jane.private",
        "example.org",
        "7946 0958",
        "ops@example.net",
        "example.net",
    ];
    assert_eq!(found(&data, &needles), Vec::<String>::new());
    assert_eq!(
        found(&data, &["matrix-bridge", "plain-conversation"]),
        ["matrix-bridge", "plain-conversation"],
        "ids without personal data are kept"
    );
}

/// Runs `personabot --data data evidence forget --user USER` in `cwd` with `key` (or none).
fn forget_with(cwd: &Path, user: &str, key: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(support::BIN);
    cmd.current_dir(cwd)
        .args(["--data", "data", "evidence", "forget", "--user", user])
        .env_remove(KEY_ENV)
        .env_remove("RUST_LOG");
    if let Some(k) = key {
        cmd.env(KEY_ENV, k);
    }
    cmd.output().unwrap()
}

#[test]
fn forget_removes_the_user_s_words_from_other_tickets_of_a_shared_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
        // A shared channel conversation: A writes first, B escalates (A's line is copied into
        // B's ticket), then A writes again into B's open ticket.
        say(
            &p,
            "slackbridge",
            "shared",
            "alice",
            "qalicefirstq how much is the growth plan?",
        );
        let o = say(
            &p,
            "slackbridge",
            "shared",
            "bob",
            "qbobrefundq I want a refund, I was charged twice",
        );
        let ticket = o.ticket.expect("bob's ticket");
        say(
            &p,
            "slackbridge",
            "shared",
            "alice",
            "qalicelaterq me too, same problem",
        );
        let stored = p.store().ticket(ticket.id).unwrap().unwrap();
        let texts: Vec<&str> = stored.transcript.iter().map(|l| l.text.as_str()).collect();
        assert!(
            texts.iter().any(|t| t.contains("qalicefirstq"))
                && texts.iter().any(|t| t.contains("qalicelaterq")),
            "alice's words are in bob's ticket: {texts:?}"
        );
        p.store().flush().unwrap();
    }
    let alice = ["qalicefirstq", "qalicelaterq"];
    assert_eq!(found(&data, &alice), alice, "positive control");

    let run = forget_with(dir.path(), "alice", Some(KEY));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{stdout} {stderr}");
    assert_eq!(found(&data, &alice), Vec::<String>::new(), "{stdout}");
    assert_eq!(
        found(&data, &["qbobrefundq"]),
        ["qbobrefundq"],
        "bob's words stay"
    );
    let store = Store::open(&data, Some(KEY)).unwrap();
    let tickets = store.tickets(None, None).unwrap();
    assert_eq!(tickets.len(), 1, "bob's ticket stays");
    assert!(tickets[0]
        .transcript
        .iter()
        .any(|l| l.text.contains("qbobrefundq")));
}

#[test]
fn forget_without_the_key_the_store_was_written_with_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap());
        say(
            &p,
            "http",
            "victim-conv",
            "victim",
            "qvictimwordsq how much is it?",
        );
    }
    for (key, says) in [
        (None, "none is set"),
        (Some(""), "none is set"),
        (Some("another-key-entirely"), "is not the user-hash key"),
    ] {
        let run = forget_with(dir.path(), "victim", key);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{key:?}: exit 0: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains(KEY_ENV),
            "{key:?}: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&run.stdout).contains("deleted"),
            "{key:?}: no report"
        );
        assert_eq!(found(&data, &["qvictimwordsq"]), ["qvictimwordsq"]);
    }
    let run = forget_with(dir.path(), "victim", Some(KEY));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(stdout.contains("1 interaction(s)"), "{stdout}");
    assert_eq!(found(&data, &["qvictimwordsq"]), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn the_binary_writes_the_store_for_its_user_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = support::run_in(
        dir.path(),
        &data,
        &["chat", "--json", "--conversation", "c1", "--user", "u1"],
        Some("how much is the growth plan?\nI want a refund, I was charged twice\n"),
    );
    run.expect_ok();
    // A compaction writes a fresh copy of every file.
    support::run_in(dir.path(), &data, &["evidence", "compact"], None).expect_ok();
    support::run_in(
        dir.path(),
        &data,
        &["chat", "--json", "--conversation", "c2", "--user", "u2"],
        Some("forgot my password\n"),
    )
    .expect_ok();
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data folder");
    let mut files = Vec::new();
    support::files_under(&data, &mut files);
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        assert_eq!(
            mode(&file) & 0o077,
            0,
            "{} is {:o}",
            file.display(),
            mode(&file)
        );
        let mut parent = file.parent();
        while let Some(folder) = parent.filter(|f| f.starts_with(&data)) {
            assert_eq!(mode(folder), 0o700, "{}", folder.display());
            parent = folder.parent();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_over_the_agent_api_with_another_key_is_refused_with_the_reason() {
    use std::collections::HashMap;
    use std::sync::Arc;

    use personabot::catalog::settings::Settings;
    use personabot::engine::AppState;

    const TOKEN: &str = "privacy-attacks-agent-token";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seeded = data.clone();
    tokio::task::spawn_blocking(move || {
        let p = support::pipeline_on(Store::open(&seeded, Some(KEY)).unwrap());
        say(
            &p,
            "http",
            "victim-conv",
            "victim",
            "qvictimwordsq how much is it?",
        );
    })
    .await
    .unwrap();
    // A server started with another key than the store was written with.
    let pipeline = Arc::new(support::pipeline_on(
        Store::open(&data, Some("not-the-store-key")).unwrap(),
    ));
    let settings = Settings::load_with_env(
        None,
        Some(HashMap::from([(
            "PERSONABOT__HTTP__AGENT_TOKEN".to_string(),
            TOKEN.to_string(),
        )])),
    )
    .unwrap();
    let state = AppState::new(pipeline.clone(), Arc::new(settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, personabot::app::app(state)).await });
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{base}/v1/evidence/forget"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "user": "victim" }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("is not the user-hash key"), "{body}");
    assert_eq!(pipeline.store().interaction_count(), 1, "nothing deleted");
}

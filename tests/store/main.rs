//! Integration tests of the sled evidence store: crash safety of the real binary, no personal data
//! in the raw files, and the store API (tickets, queries, export, forget, purge, hashing,
//! reopening). Real parts only: sled in a temporary directory and the built `personabot` binary.

#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use personabot::catalog::settings::USER_HASH_KEY_ENV;
use personabot::engine::pipeline::{Inbound, Outcome, Pipeline};
use personabot::store::{now_ms, Interaction, InteractionFilter, Store, StoreError, TicketStatus};
use serde_json::Value;

const CHANNEL: &str = "terminal";
const ACK_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a restarted `personabot` may find the store still locked by the one just killed.
const LOCK_WAIT: Duration = Duration::from_secs(5);

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------------

/// A running `personabot chat --json` with its stdout read line by line on a thread, so every
/// read has a timeout and a hung child fails the test instead of hanging it.
struct ChatProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

impl ChatProcess {
    fn spawn(data: &Path, conversation: &str, user: &str) -> ChatProcess {
        Self::spawn_logging(data, conversation, user, Stdio::null())
    }

    fn spawn_logging(data: &Path, conversation: &str, user: &str, stderr: Stdio) -> ChatProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_personabot"))
            .current_dir(manifest_dir())
            .arg("--catalog")
            .arg(manifest_dir())
            .arg("--data")
            .arg(data)
            .args([
                "chat",
                "--json",
                "--conversation",
                conversation,
                "--user",
                user,
            ])
            .env_remove(USER_HASH_KEY_ENV)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn personabot");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChatProcess {
            child,
            stdin: Some(stdin),
            lines: rx,
            reader: Some(reader),
        }
    }

    /// Spawns and sends the first message. A child that exits before answering because the store
    /// is still locked (by the test process, which just closed it) is started again, within
    /// [`LOCK_WAIT`]; the unanswered message was never acknowledged, so nothing is lost.
    fn start(data: &Path, conversation: &str, user: &str, first: &str) -> (ChatProcess, Value) {
        let log = data.with_extension("stderr.log");
        let started = Instant::now();
        loop {
            let file = std::fs::File::create(&log).expect("stderr log");
            let mut chat = Self::spawn_logging(data, conversation, user, Stdio::from(file));
            let wrote = chat
                .stdin
                .as_mut()
                .map(|s| writeln!(s, "{first}").and_then(|()| s.flush()))
                .expect("stdin open");
            match (wrote, chat.lines.recv_timeout(ACK_TIMEOUT)) {
                (Ok(()), Ok(line)) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("ack is not JSON ({e}): {line}"));
                    assert!(
                        v.get("error").is_none(),
                        "personabot reported an error: {line}"
                    );
                    return (chat, v);
                }
                (_, Err(mpsc::RecvTimeoutError::Timeout)) => {
                    panic!("no acknowledgement within {ACK_TIMEOUT:?}")
                }
                _ => {
                    let status = chat.child.wait().expect("reap personabot");
                    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
                    assert!(
                        !status.success() && stderr.contains("cannot open the evidence store"),
                        "personabot exited before answering ({status}): {stderr}"
                    );
                    assert!(
                        started.elapsed() < LOCK_WAIT,
                        "the store stayed locked: {stderr}"
                    );
                    chat.kill();
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{text}").expect("write to personabot");
        stdin.flush().expect("flush to personabot");
    }

    /// The next acknowledgement line, parsed.
    fn ack(&mut self) -> Value {
        let line = self.lines.recv_timeout(ACK_TIMEOUT).unwrap_or_else(|e| {
            panic!("no acknowledgement from personabot within {ACK_TIMEOUT:?}: {e}")
        });
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("ack is not JSON ({e}): {line}"));
        assert!(
            v.get("error").is_none(),
            "personabot reported an error: {line}"
        );
        v
    }

    fn say(&mut self, text: &str) -> Value {
        self.send(text);
        self.ack()
    }

    /// SIGKILL (on Unix `Child::kill` sends SIGKILL) and reap.
    fn kill(mut self) {
        self.child.kill().expect("kill personabot");
        self.child.wait().expect("reap personabot");
        self.stdin.take();
        if let Some(r) = self.reader.take() {
            r.join().expect("stdout reader");
        }
    }

    /// Closes stdin and waits (bounded) for a clean exit.
    fn finish(mut self) {
        self.stdin.take();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > ACK_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("personabot did not exit after its stdin closed");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "personabot exited with {status}");
        if let Some(r) = self.reader.take() {
            r.join().expect("stdout reader");
        }
    }
}

/// What the binary acknowledged for one message.
#[derive(Debug)]
struct Acked {
    text: String,
    kind: String,
    ticket: Option<u64>,
    reply: Option<String>,
}

fn acked(text: &str, ack: &Value) -> Acked {
    Acked {
        text: text.to_string(),
        kind: ack["route"]["kind"]
            .as_str()
            .expect("route.kind in ack")
            .to_string(),
        ticket: ack["ticket"]["id"].as_u64(),
        reply: ack["reply"].as_str().map(str::to_string),
    }
}

/// A small deterministic generator (64-bit LCG), so the crash points are random-looking but
/// reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn between(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.next() % (hi_inclusive - lo + 1)
    }
}

/// Message `n` of crash round `round`: a mix of intents, unique, without personal data (so the
/// stored, redacted text equals the text sent). One refund per round opens a ticket; everything
/// after it joins that ticket.
fn crash_message(round: usize, n: usize) -> String {
    const TEMPLATES: [&str; 4] = [
        "how much is the growth plan, question {tag}",
        "the dashboard is not loading, report {tag}",
        "hello there, greeting {tag}",
        "are you SOC 2 compliant, asks {tag}",
    ];
    let tag = format!("r{round}-m{n}");
    if n == 12 {
        return format!("crash test message {tag} about a refund please");
    }
    TEMPLATES[n % TEMPLATES.len()].replace("{tag}", &tag)
}

#[test]
fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = Lcg(0x5eed_cafe_f00d);
    let mut all_acked: Vec<Acked> = Vec::new();
    let mut figures = Vec::new();
    let mut unacked_total = 0;

    for round in 0..3 {
        let acks_wanted = rng.between(20, 60) as usize;
        let unacked = 3 + rng.between(0, 5) as usize;
        unacked_total += unacked;
        let first = crash_message(round, 0);
        let (mut chat, ack) = ChatProcess::start(&data, "c1", "u1", &first);
        let mut round_acked = vec![acked(&first, &ack)];
        for n in 1..acks_wanted {
            let text = crash_message(round, n);
            let ack = chat.say(&text);
            round_acked.push(acked(&text, &ack));
        }
        // More lines, not waited for, then SIGKILL at once (or after at most 3 ms, so the kill
        // can also land in the middle of one of those turns being written).
        let delay = Duration::from_micros(rng.between(0, 3000));
        for n in acks_wanted..acks_wanted + unacked {
            chat.send(&crash_message(round, n));
        }
        std::thread::sleep(delay);
        chat.kill();

        let store = Store::open(&data, None).unwrap_or_else(|e| {
            panic!("round {round}: the store does not open after SIGKILL: {e}")
        });
        let stored = store.interactions(&InteractionFilter::default()).unwrap();
        assert_eq!(
            stored.len(),
            store.interaction_count(),
            "round {round}: by_time index and interactions disagree"
        );
        let by_text: HashMap<&str, &Interaction> =
            stored.iter().map(|i| (i.text.as_str(), i)).collect();
        assert_eq!(
            by_text.len(),
            stored.len(),
            "round {round}: a message was stored twice"
        );

        all_acked.extend(round_acked);
        let mut found = 0;
        let mut lost = Vec::new();
        let mut mismatched = Vec::new();
        for a in &all_acked {
            match by_text.get(a.text.as_str()) {
                None => lost.push(a.text.clone()),
                Some(i) => {
                    found += 1;
                    if i.route.kind != a.kind || i.ticket != a.ticket || i.reply != a.reply {
                        mismatched.push(format!(
                            "{:?}: acked {}/{:?}, stored {}/{:?}",
                            a.text, a.kind, a.ticket, i.route.kind, i.ticket
                        ));
                    }
                }
            }
        }
        let extra = stored.len() - found;
        let figure = format!(
            "round {round}: acknowledged {} (this round {acks_wanted}, +{unacked} unacknowledged sent, killed after {delay:?}), found {found}, lost {}, mismatched {}, stored-but-unacknowledged so far {extra}",
            all_acked.len(),
            lost.len(),
            mismatched.len()
        );
        eprintln!("{figure}");
        assert!(
            lost.is_empty() && mismatched.is_empty(),
            "{figure}\nlost: {lost:?}\nmismatched: {mismatched:?}"
        );
        assert!(extra <= unacked_total, "{figure}: more stored than sent");

        // A turn is atomic: every ticket an interaction points at exists, and so does the
        // conversation's open ticket.
        for i in &stored {
            if let Some(t) = i.ticket {
                assert!(
                    store.ticket(t).unwrap().is_some(),
                    "round {round}: interaction {} points at missing ticket #{t}",
                    i.id
                );
            }
        }
        let state = store.conversation(CHANNEL, "c1").unwrap();
        assert_eq!(
            state.turns as usize,
            stored.len(),
            "{figure}: the conversation state and the interactions are written in one transaction"
        );
        if let Some(open) = &state.open_ticket {
            assert!(
                store.ticket(open.id).unwrap().is_some(),
                "round {round}: open ticket #{} missing",
                open.id
            );
            // Hand the conversation back to the bot so the next round mixes routes again.
            store.resolve_ticket(open.id, "crash-test").unwrap();
        }
        assert!(
            stored.iter().any(|i| i.route.kind == "answer")
                && stored.iter().any(|i| i.route.kind == "ticket"),
            "round {round}: the crash messages should mix answers and tickets"
        );
        figures.push(figure);
        drop(store);
    }
    eprintln!("crash test figures:\n{}", figures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Raw-file privacy
// ---------------------------------------------------------------------------------------------

#[test]
fn raw_store_files_hold_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let user = "alice.personal@example.org";
    let messages = [
        "hello, my email is alice.personal@example.org and my pet is a zebracorn",
        "hello, my phone numbers are +44 20 7946 0958 and (415) 555-2671",
        "hello, my card is 4111 1111 1111 1111",
        "hello, the other card is 4111-1111-1111-1111",
        "hello, iban DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432",
        "refund please, my card 4111-1111-1111-1111 was charged twice, mail me at bob.private@example.net",
        "also my number is 4111111111111111 and my phone 442079460958",
    ];
    let mut chat = ChatProcess::spawn(&data, "privacy-1", user);
    let acks: Vec<Value> = messages.iter().map(|m| chat.say(m)).collect();
    chat.finish();

    // The refund message opened a ticket, so PII went through the ticket transcript as well.
    assert_eq!(
        acks[5]["route"]["kind"], "ticket",
        "refund ack: {}",
        acks[5]
    );
    assert_eq!(
        acks[5]["ticket"]["team"], "billing",
        "refund ack: {}",
        acks[5]
    );
    for (m, a) in messages.iter().zip(&acks).take(5) {
        assert_eq!(
            a["route"]["kind"], "answer",
            "{m:?} should not open a ticket early: {a}"
        );
    }

    let seeded = [
        user,
        "alice.personal",
        "bob.private@example.net",
        "bob.private",
        "+44 20 7946 0958",
        "20 7946 0958",
        "7946 0958",
        "2079460958",
        "442079460958",
        "(415) 555-2671",
        "555-2671",
        "4155552671",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "1111 1111 1111",
        "1111-1111-1111",
        "DE89 3704 0044 0532 0130 00",
        "3704 0044 0532",
        "DE89370400440532013000",
        "370400440532013000",
        "GB82WEST12345698765432",
        "WEST12345698765432",
        "12345698765432",
    ];
    let marker = "zebracorn";
    let mut needles: Vec<&str> = seeded.to_vec();
    needles.push(marker);
    let hits = support::grep_raw(&data, &needles);
    assert!(
        hits.contains_key(marker),
        "positive control: the marker {marker:?} must be visible in the raw files"
    );
    let leaks: Vec<_> = hits
        .iter()
        .filter(|(needle, _)| needle.as_str() != marker)
        .collect();
    assert!(
        leaks.is_empty(),
        "personal data found in the raw store files: {leaks:?}"
    );

    // The store holds the placeholders, the hashed user, and the ticket transcript.
    let store = Store::open(&data, None).unwrap();
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    assert_eq!(stored.len(), messages.len());
    let all_text: String = stored
        .iter()
        .map(|i| i.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for mark in ["[email]", "[phone]", "[card]", "[iban]", marker] {
        assert!(
            all_text.contains(mark),
            "{mark} missing from the stored texts:\n{all_text}"
        );
    }
    let hashed = store.hash_user(user);
    assert!(
        stored.iter().all(|i| i.user == hashed),
        "interactions carry the keyed hash of the user"
    );
    assert!(
        !support::grep_raw(&data, &[hashed.as_str()]).is_empty(),
        "positive control: the hashed user id is in the raw files"
    );
    let tickets = store.tickets(None, None).unwrap();
    assert_eq!(tickets.len(), 1);
    let transcript: String = tickets[0]
        .transcript
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        transcript.contains("[card]") && transcript.contains("[email]"),
        "ticket transcript:\n{transcript}"
    );
    assert_eq!(tickets[0].user, hashed);
}

// ---------------------------------------------------------------------------------------------
// Store API through the pipeline
// ---------------------------------------------------------------------------------------------

use support::pipeline_on;

fn open_pipeline(dir: &Path) -> Pipeline {
    pipeline_on(Store::open(dir, Some("store-test-key")).unwrap())
}

fn say(p: &Pipeline, conversation: &str, user: &str, text: &str) -> Outcome {
    p.handle(&Inbound {
        channel: CHANNEL.into(),
        conversation: conversation.into(),
        user: user.into(),
        text: text.into(),
    })
    .unwrap_or_else(|e| panic!("handle({text:?}): {e}"))
}

fn refused(r: Result<impl std::fmt::Debug, StoreError>, what: &str) -> String {
    match r {
        Err(StoreError::Refused(m)) => m,
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn ticket_lifecycle_claim_relabel_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store().clone();

    let opened = say(&p, "life", "dana", "I'd like a refund please");
    let ticket = opened.ticket.clone().expect("a refund opens a ticket");
    assert_eq!(
        (ticket.team.as_str(), ticket.status),
        ("billing", TicketStatus::Open)
    );
    assert_eq!(
        ticket.interaction,
        opened.interaction.unwrap(),
        "the ticket points at the interaction that opened it"
    );
    let t = ticket.id;

    // Before the claim, follow-ups join the ticket with a visible reply.
    let joined = say(&p, "life", "dana", "any news on this?");
    assert_eq!(joined.ticket.as_ref().map(|t| t.id), Some(t));
    assert!(joined
        .reply
        .as_deref()
        .unwrap()
        .contains(&format!("ticket #{t}")));

    let claimed = store.claim_ticket(t, "agent-ann").unwrap();
    assert_eq!(
        (claimed.status, claimed.claimed_by.as_deref()),
        (TicketStatus::Claimed, Some("agent-ann"))
    );
    assert_eq!(
        store
            .conversation(CHANNEL, "life")
            .unwrap()
            .open_ticket
            .unwrap()
            .claimed_by
            .as_deref(),
        Some("agent-ann")
    );
    let msg = refused(
        store.claim_ticket(t, "agent-bob"),
        "claim by a second agent",
    );
    assert!(msg.contains("already claimed by agent-ann"), "{msg}");
    assert_eq!(
        store
            .claim_ticket(t, "agent-ann")
            .unwrap()
            .claimed_by
            .as_deref(),
        Some("agent-ann"),
        "re-claim by the owner is fine"
    );

    // Claimed: the bot stays silent, but still records the turn and the transcript.
    for text in ["hello?", "how much is the growth plan?"] {
        let o = say(&p, "life", "dana", text);
        assert_eq!(
            o.reply, None,
            "{text:?}: the bot must stay silent while an agent owns the conversation"
        );
        let stored = store.interaction(o.interaction.unwrap()).unwrap().unwrap();
        assert_eq!(
            (stored.reply, stored.ticket, stored.route.kind.as_str()),
            (None, Some(t), "ticket")
        );
    }
    let transcript = store.ticket(t).unwrap().unwrap().transcript;
    assert!(
        transcript
            .iter()
            .any(|l| l.text == "how much is the growth plan?"),
        "silent turns go to the ticket transcript"
    );

    p.agent_reply(t, "agent-ann", "Refund issued, sorry for the trouble")
        .unwrap();
    let last = store.ticket(t).unwrap().unwrap().transcript.pop().unwrap();
    assert_eq!(
        last.from,
        personabot::store::Actor::Agent("agent-ann".into())
    );

    // Relabel: stored on the ticket and as ground truth on the interaction that opened it.
    let msg = refused(
        store.relabel_ticket(t, None, None, "agent-ann"),
        "relabel with nothing",
    );
    assert!(msg.contains("needs an intent, a persona"), "{msg}");
    let relabelled = store
        .relabel_ticket(t, Some("billing"), None, "agent-ann")
        .unwrap();
    assert_eq!(relabelled.relabels.len(), 1);
    assert_eq!(relabelled.relabels[0].intent.as_deref(), Some("billing"));
    let relabelled = store
        .relabel_ticket(t, None, Some("ecommerce-seller"), "agent-ann")
        .unwrap();
    assert_eq!(relabelled.relabels.len(), 2);
    let label = store
        .interaction(ticket.interaction)
        .unwrap()
        .unwrap()
        .label
        .expect("label on the opening interaction");
    assert_eq!(
        (
            label.intent.as_deref(),
            label.persona.as_deref(),
            label.by.as_str()
        ),
        (Some("billing"), Some("ecommerce-seller"), "agent-ann"),
        "a persona-only relabel keeps the earlier intent label"
    );
    let follow_up = store
        .interaction(joined.interaction.unwrap())
        .unwrap()
        .unwrap();
    assert!(
        follow_up.label.is_none(),
        "only the opening interaction is labelled"
    );

    // Resolve: the conversation goes back to the bot.
    let resolved = store.resolve_ticket(t, "agent-ann").unwrap();
    assert_eq!(
        (resolved.status, resolved.resolved_by.as_deref()),
        (TicketStatus::Resolved, Some("agent-ann"))
    );
    assert!(store
        .conversation(CHANNEL, "life")
        .unwrap()
        .open_ticket
        .is_none());
    refused(store.resolve_ticket(t, "agent-ann"), "resolving twice");
    refused(
        store.claim_ticket(t, "agent-bob"),
        "claiming a resolved ticket",
    );
    let back = say(&p, "life", "dana", "how much is the growth plan?");
    assert_eq!(back.decision.kind.as_str(), "answer");
    assert!(
        back.reply.as_deref().unwrap().contains("Growth"),
        "the bot answers again: {:?}",
        back.reply
    );
    assert!(back.ticket.is_none());

    assert!(matches!(
        store.claim_ticket(999, "x"),
        Err(StoreError::NotFound {
            what: "ticket",
            id: 999
        })
    ));
    assert_eq!(
        store
            .tickets(Some("billing"), Some(TicketStatus::Resolved))
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .tickets(Some("billing"), Some(TicketStatus::Open))
        .unwrap()
        .is_empty());
}

fn ids(list: &[Interaction]) -> Vec<u64> {
    list.iter().map(|i| i.id).collect()
}

#[test]
fn interaction_queries_by_time_persona_intent_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();

    // Batch A.
    let founder = say(
        &p,
        "q-founder",
        "fay",
        "I'm the founder of a 5-person startup",
    );
    let founder_price = say(&p, "q-founder", "fay", "how much is it?");
    p.feedback(CHANNEL, "q-founder", "fay", true).unwrap();
    let miss = say(&p, "q-miss", "gus", "asdf qwerty");
    std::thread::sleep(Duration::from_millis(5));
    let split = now_ms();
    // Batch B.
    let clarify = say(
        &p,
        "q-clarify",
        "hal",
        "how much does it cost and can I get a refund?",
    );
    let tech = say(&p, "q-tech", "ivy", "the dashboard is not loading");
    let escalation = say(&p, "q-tech", "ivy", "that didn't help");
    let a: Vec<u64> = [&founder, &founder_price, &miss]
        .iter()
        .map(|o| o.interaction.unwrap())
        .collect();
    let b: Vec<u64> = [&clarify, &tech, &escalation]
        .iter()
        .map(|o| o.interaction.unwrap())
        .collect();

    let q = |f: InteractionFilter| ids(&store.interactions(&f).unwrap());
    let all = q(InteractionFilter::default());
    assert_eq!(all, [a.clone(), b.clone()].concat(), "oldest first");
    assert_eq!(
        q(InteractionFilter {
            until_ms: Some(split),
            ..Default::default()
        }),
        a
    );
    assert_eq!(
        q(InteractionFilter {
            since_ms: Some(split),
            ..Default::default()
        }),
        b
    );
    assert!(q(InteractionFilter {
        since_ms: Some(now_ms() + 60_000),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        q(InteractionFilter {
            since_ms: Some(split),
            until_ms: Some(split),
            ..Default::default()
        }),
        Vec::<u64>::new(),
        "an empty window"
    );

    let persona = |id: &str| InteractionFilter {
        persona: Some(id.into()),
        ..Default::default()
    };
    assert_eq!(q(persona("startup-founder")), a[..2].to_vec());
    assert!(q(persona("investor")).is_empty());
    assert_eq!(q(persona("none")), [vec![a[2]], b.clone()].concat());

    let intent = |id: &str| InteractionFilter {
        intent: Some(id.into()),
        ..Default::default()
    };
    assert_eq!(
        q(intent("pricing")),
        vec![a[1], b[0]],
        "the clarify decision carries its best intent"
    );
    assert_eq!(q(intent("technical-issue")), vec![b[1]]);
    assert_eq!(q(intent("did-not-help")), vec![b[2]]);

    let outcome = |o: &str| InteractionFilter {
        outcome: Some(o.into()),
        ..Default::default()
    };
    assert_eq!(q(outcome("answer")), vec![a[1], b[1]]);
    assert_eq!(q(outcome("fallback")), vec![a[0], a[2]]);
    assert_eq!(q(outcome("clarify")), vec![b[0]]);
    assert_eq!(q(outcome("ticket")), vec![b[2]]);
    assert_eq!(q(outcome("helped")), vec![a[1]]);
    assert_eq!(q(outcome("not-helped")), vec![b[1]]);

    let combined = InteractionFilter {
        since_ms: Some(split),
        intent: Some("technical-issue".into()),
        outcome: Some("not-helped".into()),
        ..Default::default()
    };
    assert_eq!(q(combined), vec![b[1]]);

    // Export: one JSON line per matching interaction.
    for (filter, want) in [
        (InteractionFilter::default(), 6),
        (
            InteractionFilter {
                since_ms: Some(split),
                ..Default::default()
            },
            3,
        ),
        (outcome("answer"), 2),
        (persona("investor"), 0),
    ] {
        let mut buf = Vec::new();
        let n = store.export(&filter, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!((n, lines.len()), (want, want), "{filter:?}");
        let parsed: Vec<Interaction> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            parsed,
            store.interactions(&filter).unwrap(),
            "export equals the query"
        );
    }
}

#[test]
fn forget_user_removes_only_that_users_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();
    for (conversation, user) in [("f-alice", "alice"), ("f-bob", "bob")] {
        say(&p, conversation, user, "how much is the growth plan?");
        say(&p, conversation, user, "I'd like a refund please");
        say(&p, conversation, user, "thanks, any update?");
    }
    let alice = store.hash_user("alice");
    let bob = store.hash_user("bob");
    let by = |u: &str| {
        store
            .interactions(&InteractionFilter::default())
            .unwrap()
            .into_iter()
            .filter(|i| i.user == u)
            .count()
    };
    assert_eq!((by(&alice), by(&bob)), (3, 3));
    let bob_before = store
        .interactions(&InteractionFilter::default())
        .unwrap()
        .into_iter()
        .filter(|i| i.user == bob)
        .collect::<Vec<_>>();
    let bob_ticket = store
        .tickets(None, None)
        .unwrap()
        .into_iter()
        .find(|t| t.user == bob)
        .unwrap();
    let bob_state = store.conversation(CHANNEL, "f-bob").unwrap();

    let report = store.forget_user("alice").unwrap();
    assert_eq!(
        (report.interactions, report.tickets, report.conversations),
        (3, 1, 1)
    );
    assert_eq!(by(&alice), 0);
    assert_eq!(store.interaction_count(), 3);
    assert!(store
        .tickets(None, None)
        .unwrap()
        .iter()
        .all(|t| t.user != alice));
    assert_eq!(
        store.conversation(CHANNEL, "f-alice").unwrap().turns,
        0,
        "alice's conversation state is gone"
    );

    let bob_after = store.interactions(&InteractionFilter::default()).unwrap();
    assert_eq!(bob_after, bob_before, "bob's interactions are untouched");
    assert_eq!(store.ticket(bob_ticket.id).unwrap().unwrap(), bob_ticket);
    assert_eq!(store.conversation(CHANNEL, "f-bob").unwrap(), bob_state);

    let again = store.forget_user("alice").unwrap();
    assert_eq!(
        (again.interactions, again.tickets, again.conversations),
        (0, 0, 0),
        "forgetting twice finds nothing"
    );
    // Alice can start over; her new turns are stored normally.
    say(&p, "f-alice", "alice", "hello");
    assert_eq!(by(&alice), 1);
    assert_eq!(store.conversation(CHANNEL, "f-alice").unwrap().turns, 1);
}

#[test]
fn purge_before_removes_only_older_interactions() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();
    let old: Vec<u64> = [
        "hello",
        "how much is the growth plan?",
        "the dashboard is not loading",
    ]
    .iter()
    .map(|t| say(&p, "purge", "jo", t).interaction.unwrap())
    .collect();
    std::thread::sleep(Duration::from_millis(5));
    let cutoff = now_ms();
    let new: Vec<u64> = ["are you SOC 2 compliant?", "hello again"]
        .iter()
        .map(|t| say(&p, "purge", "jo", t).interaction.unwrap())
        .collect();

    assert_eq!(
        store.purge_before(0).unwrap(),
        0,
        "nothing is older than the epoch"
    );
    assert_eq!(store.purge_before(cutoff).unwrap(), old.len());
    assert_eq!(
        ids(&store.interactions(&InteractionFilter::default()).unwrap()),
        new
    );
    assert_eq!(store.interaction_count(), new.len());
    for id in &old {
        assert!(
            store.interaction(*id).unwrap().is_none(),
            "interaction {id} should be purged"
        );
    }
    assert_eq!(
        store.purge_before(cutoff).unwrap(),
        0,
        "purging twice removes nothing more"
    );
    // The by_user index was cleaned too: forgetting the user counts only what is left.
    assert_eq!(store.forget_user("jo").unwrap().interactions, new.len());
}

#[test]
fn user_ids_are_hashed_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2, d3) = (
        dir.path().join("k1"),
        dir.path().join("k2"),
        dir.path().join("random"),
    );
    let raw = "carol-raw-identity";

    let s1 = Store::open(&d1, Some("key-one")).unwrap();
    let h1 = s1.hash_user(raw);
    assert!(h1.starts_with("u_") && h1.len() == 34, "{h1}");
    assert!(!h1.contains(raw));
    assert_ne!(
        h1,
        s1.hash_user("carol-raw-identitY"),
        "different users hash differently"
    );
    let s2 = Store::open(&d2, Some("key-two")).unwrap();
    assert_ne!(
        h1,
        s2.hash_user(raw),
        "a different key gives a different hash"
    );
    drop(s2);

    // Stable for the same key, across reopening.
    let p = pipeline_on(s1);
    let o = say(&p, "hash", raw, "how much is the growth plan?");
    let stored = p
        .store()
        .interaction(o.interaction.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(stored.user, h1);
    drop(p);
    let s1 = Store::open(&d1, Some("key-one")).unwrap();
    assert_eq!(s1.hash_user(raw), h1);
    drop(s1);
    assert!(
        support::grep_raw(&d1, &[raw]).is_empty(),
        "the raw user id is never written"
    );
    assert!(
        !support::grep_raw(&d1, &[h1.as_str()]).is_empty(),
        "positive control: the hash is written"
    );

    // Without a key, a random one is generated once and kept.
    let r = Store::open(&d3, None).unwrap();
    let hr = r.hash_user(raw);
    assert_ne!(hr, h1);
    drop(r);
    let r = Store::open(&d3, None).unwrap();
    assert_eq!(r.hash_user(raw), hr, "the generated key persists");
    drop(r);
    let r = Store::open(&d3, Some("")).unwrap();
    assert_eq!(r.hash_user(raw), hr, "an empty key means the stored one");
}

#[test]
fn reopening_the_store_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "keep-1", "kim", "I'm the founder of a 5-person startup");
    say(&p, "keep-1", "kim", "how much is it?");
    p.feedback(CHANNEL, "keep-1", "kim", true).unwrap();
    let refund = say(&p, "keep-2", "lee", "I'd like a refund please");
    let t = refund.ticket.unwrap().id;
    p.store().claim_ticket(t, "agent-ann").unwrap();
    p.store()
        .relabel_ticket(t, Some("refund"), Some("ecommerce-seller"), "agent-ann")
        .unwrap();
    say(&p, "keep-2", "lee", "hello?");

    let store = p.store();
    let interactions = store.interactions(&InteractionFilter::default()).unwrap();
    let tickets = store.tickets(None, None).unwrap();
    let states = [
        store.conversation(CHANNEL, "keep-1").unwrap(),
        store.conversation(CHANNEL, "keep-2").unwrap(),
    ];
    let hash = store.hash_user("kim");
    let next_ticket = store.next_ticket_id().unwrap();
    assert_eq!(interactions.len(), 4);
    assert!(states[0].turns == 2 && states[1].open_ticket.is_some());
    drop(p);

    let store = Store::open(dir.path(), Some("store-test-key")).unwrap();
    assert_eq!(
        store.interactions(&InteractionFilter::default()).unwrap(),
        interactions
    );
    assert_eq!(store.tickets(None, None).unwrap(), tickets);
    assert_eq!(store.conversation(CHANNEL, "keep-1").unwrap(), states[0]);
    assert_eq!(store.conversation(CHANNEL, "keep-2").unwrap(), states[1]);
    assert_eq!(store.hash_user("kim"), hash);
    assert_eq!(
        store.next_ticket_id().unwrap(),
        next_ticket + 1,
        "ticket ids keep counting after reopening"
    );
    let max_id = interactions.iter().map(|i| i.id).max().unwrap();
    assert!(
        store.next_interaction_id().unwrap() > max_id,
        "interaction ids never repeat after reopening"
    );

    // And the reopened store keeps working through the pipeline: the claimed ticket still
    // silences the bot.
    let p = pipeline_on(store);
    assert_eq!(say(&p, "keep-2", "lee", "still there?").reply, None);
}

// ---------------------------------------------------------------------------------------------
// Regression tests: each reproduced a bug found while writing these tests (the doc comment
// says what used to go wrong); all are fixed.
// ---------------------------------------------------------------------------------------------

/// A ticket opened by "Talk to a human" with no answer to rate has `interaction: 0`.
/// `relabel_ticket` commits the label on the ticket, then fails on `update_interaction(0)`:
/// the caller gets `NotFound` although the relabel was stored (a retry stores it twice).
#[test]
fn regression_relabel_of_a_button_ticket_errors_after_writing() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let t = p
        .feedback(CHANNEL, "button", "mo", false)
        .unwrap()
        .ticket
        .unwrap();
    assert_eq!(t.interaction, 0);
    let result = p
        .store()
        .relabel_ticket(t.id, Some("refund"), None, "agent-ann");
    let stored = p.store().ticket(t.id).unwrap().unwrap().relabels.len();
    assert!(
        result.is_ok(),
        "relabel failed ({result:?}) yet {stored} label(s) were stored on the ticket"
    );
}

/// The message is cut to `max_message_chars` before redaction, so an email straddling the limit
/// loses its top-level domain, no longer looks like an email, and is stored in clear.
#[test]
fn regression_email_cut_by_truncation_is_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let max = support::shipped().settings.limits.max_message_chars;
    let text = format!(
        "{}bob.private@example.net thanks",
        "a ".repeat((max - 16) / 2)
    );
    let o = say(&p, "cut", "mo", &text);
    assert!(o.truncated);
    let stored = p
        .store()
        .interaction(o.interaction.unwrap())
        .unwrap()
        .unwrap()
        .text;
    let tail: String = stored
        .chars()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        !stored.contains("bob.private"),
        "stored text ends with {tail:?}"
    );
}

/// Redaction gaps: the digit-run regex allows at most two separator characters between digits,
/// so "4111 - 1111 - 1111 - 1111" (space, dash, space) is not seen as a card; the email regex's
/// local part is ASCII-only, so "jürgen.müller@example.de" keeps "jürgen.mü".
#[test]
fn regression_redaction_gaps() {
    use personabot::store::redact::redact;
    for (input, secret) in [
        ("card 4111 - 1111 - 1111 - 1111 please", "4111 - 1111"),
        ("call 020 - 7946 - 0958", "7946 - 0958"),
        ("mail jürgen.müller@example.de", "jürgen"),
    ] {
        let out = redact(input);
        assert!(!out.contains(secret), "{input:?} was stored as {out:?}");
    }
}

/// After `purge_before` removed the self-help answer a conversation still waits feedback on,
/// typing "that didn't help" stores the interaction and opens the ticket, then fails on
/// `set_feedback` of the purged answer: the customer is told the message was not processed
/// although it was (and a retry opens nothing new but is stored again).
#[test]
fn regression_escalation_after_purge_errors_after_storing() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "purged", "mo", "the dashboard is not loading");
    std::thread::sleep(Duration::from_millis(3));
    p.store().purge_before(now_ms()).unwrap();
    let result = p.handle(&Inbound {
        channel: CHANNEL.into(),
        conversation: "purged".into(),
        user: "mo".into(),
        text: "that didn't help".into(),
    });
    let (stored, tickets) = (
        p.store().interaction_count(),
        p.store().tickets(None, None).unwrap().len(),
    );
    assert!(
        result.is_ok(),
        "handle failed ({result:?}) after storing {stored} interaction(s) and {tickets} ticket(s)"
    );
}

/// Same root cause through the button: "Talk to a human" calls `set_feedback` on the purged
/// answer first and fails, every time, until the customer types something else.
#[test]
fn regression_talk_to_a_human_after_purge_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "purged", "mo", "the dashboard is not loading");
    std::thread::sleep(Duration::from_millis(3));
    p.store().purge_before(now_ms()).unwrap();
    let result = p.feedback(CHANNEL, "purged", "mo", false);
    assert!(result.is_ok(), "{result:?}");
}

/// `forget_user` deletes the tickets whose `user` is the forgotten one, but deletes conversation
/// state only for conversations where that user has interactions. A ticket opened by one user
/// pressing "Talk to a human" in a conversation where another user typed is deleted while the
/// conversation still points at it: every later message "joins" a ticket that does not exist
/// ("I've added this to ticket #1"), the bot never answers again, and the ticket cannot be
/// resolved.
#[test]
fn regression_forget_user_leaves_a_dangling_open_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "shared", "typist", "the dashboard is not loading");
    let t = p
        .feedback(CHANNEL, "shared", "presser", false)
        .unwrap()
        .ticket
        .unwrap()
        .id;
    p.store().forget_user("presser").unwrap();
    assert!(p.store().ticket(t).unwrap().is_none());
    let state = p.store().conversation(CHANNEL, "shared").unwrap();
    let next = say(&p, "shared", "typist", "how much is the growth plan?");
    assert!(
        state.open_ticket.is_none(),
        "the conversation still belongs to deleted ticket #{t}; the next message got {:?} / {:?}",
        next.decision.kind,
        next.reply
    );
}

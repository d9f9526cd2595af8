//! Graceful shutdown of the real `personabot serve`: on SIGTERM or SIGINT under HTTP load it stops
//! taking connections, lets a request in flight finish, keeps every acknowledged turn, exits 0,
//! and leaves a store that reopens. With Discord on (the fake Discord), it logs off the gateway
//! with a Close frame, and replies in flight at the signal are still sent.

#[path = "support/fake_discord/mod.rs"]
mod fake_discord;
#[path = "support/fake_telegram.rs"]
mod fake_telegram;
#[path = "support/serve_process.rs"]
mod serve_process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use personabot::store::{InteractionFilter, Store};
use serde_json::{json, Value};
use serve_process::{check_store, drive_client, request, Acknowledged, ClientRun, ServeProcess};

/// Concurrent load clients while the signal arrives.
const CLIENTS: usize = 3;
/// Upper bound on the messages one load client sends (shutdown normally ends it first).
const MAX_MESSAGES_PER_CLIENT: usize = 5000;
/// How long `serve` may take to exit after the signal (it bounds its HTTP drain at 10 s).
const EXIT_WITHIN: Duration = Duration::from_secs(30);
/// Bounded waits for things that should happen at once.
const SOON: Duration = Duration::from_secs(10);
/// Messages the load clients get acknowledged before the signal.
const LOAD_BEFORE_SIGNAL: usize = 20;
/// A pause that lets the server read bytes already sent (not an assertion).
const SETTLE: Duration = Duration::from_millis(300);

/// Settings for the run: the per-user flood limit and the per-address limit (every client is on
/// loopback) are lifted, so every message is a turn.
const ENV: [(&str, &str); 3] = [
    ("PERSONABOT__LIMITS__FLOOD_MESSAGES", "1000000"),
    ("PERSONABOT__LIMITS__FLOOD_WINDOW_SECS", "1"),
    ("PERSONABOT__LIMITS__ADDRESS_REQUESTS", "1000000"),
];

/// A keep-alive connection written by hand, so a request can be left half sent: the server has
/// accepted it and is reading it, so it is in flight when the signal comes.
struct HeldConnection {
    stream: TcpStream,
    addr: SocketAddr,
}

impl HeldConnection {
    fn open(addr: SocketAddr) -> HeldConnection {
        let stream = TcpStream::connect_timeout(&addr, SOON).expect("connect");
        stream.set_read_timeout(Some(EXIT_WITHIN)).unwrap();
        HeldConnection { stream, addr }
    }

    /// A keep-alive `POST /v1/messages`: its head and its body.
    fn message(&self, conversation: &str, text: &str) -> (String, String) {
        let body = json!({"channel": serve_process::BRIDGE, "conversation": conversation,
                          "user": "held-user", "text": text})
        .to_string();
        let head = format!(
            "POST /v1/messages HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            serve_process::BRIDGE_TOKEN,
            body.len()
        );
        (head, body)
    }

    fn send(&mut self, bytes: &str) {
        self.stream.write_all(bytes.as_bytes()).expect("write");
    }

    /// Reads one response (head, then a `Content-Length` body): the status and the JSON body.
    fn read_response(&mut self) -> Result<(u16, Value), String> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match self.stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                Ok(_) => return Err(format!("closed after {head:?}")),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        let head = String::from_utf8(head).map_err(|e| e.to_string())?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        let length: usize = head
            .to_ascii_lowercase()
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(str::trim))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
        let mut body = vec![0u8; length];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| format!("body: {e}"))?;
        let body = serde_json::from_slice(&body).map_err(|e| format!("body is not JSON: {e}"))?;
        Ok((status, body))
    }
}

/// Sets its flag when dropped, also while unwinding from a failed assertion.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the server acknowledged for one message on the held connection.
fn acknowledged(
    conversation: &str,
    text: &str,
    response: Result<(u16, Value), String>,
) -> Acknowledged {
    let (status, body) = response.unwrap_or_else(|e| panic!("no response to {text:?}: {e}"));
    assert_eq!(status, 200, "{text:?} answered {status}: {body}");
    Acknowledged {
        conversation: conversation.to_string(),
        text: text.to_string(),
        route_kind: body["route"]["kind"]
            .as_str()
            .expect("route.kind")
            .to_string(),
        team: body["route"]["team"].as_str().map(str::to_string),
        answer: body["route"]["answer"].as_str().map(str::to_string),
        reply: body["reply"].as_str().map(str::to_string),
        ticket: body["ticket"]["id"].as_u64().map(|id| {
            (
                id,
                body["ticket"]["team"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }),
    }
}

/// Under load from [`CLIENTS`] clients and with one request half sent, sends `signal` and checks
/// the whole graceful shutdown.
fn shutdown_under_load(signal: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut serve = ServeProcess::start(&data, &ENV);
    serve.wait_healthy(SOON);
    let addr = serve.addr();

    // A request answered on a keep-alive connection, then the next one half sent on it.
    let mut held = HeldConnection::open(addr);
    let conversation = format!("held-{signal}");
    let first_text = "how much is the growth plan (held first)";
    let (head, body) = held.message(&conversation, first_text);
    held.send(&format!("{head}{body}"));
    let first = acknowledged(&conversation, first_text, held.read_response());
    let in_flight_text = "I want a refund for my last order (held in flight)";
    let (head, body) = held.message(&conversation, in_flight_text);
    let (body_start, body_rest) = body.split_at(body.len() / 2);
    held.send(&format!("{head}{body_start}"));

    let stop = AtomicBool::new(false);
    let load_acknowledged = AtomicUsize::new(0);
    let prefix = format!("load-{signal}");
    let (runs, in_flight, exit, refused_while_running, exit_took) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (prefix, stop, count) = (&prefix, &stop, &load_acknowledged);
                s.spawn(move || {
                    drive_client(addr, prefix, client, MAX_MESSAGES_PER_CLIENT, stop, count)
                })
            })
            .collect();
        // A failed assertion below stops the clients too, instead of leaving them running.
        let _stop_clients = StopOnDrop(&stop);
        std::thread::sleep(SETTLE);
        let deadline = Instant::now() + SOON;
        while load_acknowledged.load(Ordering::Relaxed) < LOAD_BEFORE_SIGNAL {
            assert!(
                Instant::now() < deadline,
                "the load clients got fewer than {LOAD_BEFORE_SIGNAL} messages through in {SOON:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        serve.signal(signal);
        let signalled = Instant::now();
        serve.wait_stderr("shutting down", SOON);

        // Intake stops while the half-sent request still holds the process up: new
        // connections are refused (or closed unanswered).
        let deadline = Instant::now() + SOON;
        while request(addr, "GET", "/healthz", None).is_ok() {
            assert!(
                Instant::now() < deadline,
                "still answering new requests {SOON:?} after {signal}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let refused_while_running = serve.is_running();
        let late: Vec<_> = (0..5)
            .filter_map(|_| request(addr, "GET", "/healthz", None).ok())
            .collect();
        assert!(
            late.is_empty(),
            "requests answered after intake stopped: {late:?}"
        );

        // The request in flight finishes.
        held.send(body_rest);
        let in_flight = acknowledged(&conversation, in_flight_text, held.read_response());
        let exit = serve.wait_exit(EXIT_WITHIN);
        let exit_took = signalled.elapsed();
        stop.store(true, Ordering::Relaxed);
        let runs: Vec<ClientRun> = clients
            .into_iter()
            .map(|c| c.join().expect("client thread"))
            .collect();
        (runs, in_flight, exit, refused_while_running, exit_took)
    });

    let status = exit.unwrap_or_else(|| {
        panic!(
            "serve still running {EXIT_WITHIN:?} after SIG{signal}; stderr:\n{}",
            serve.stderr()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "SIG{signal} should exit 0, got {status}; stderr:\n{}",
        serve.stderr()
    );
    assert!(
        refused_while_running,
        "new connections were refused only once the process had gone: intake did not stop first"
    );
    assert_eq!(in_flight.route_kind, "ticket", "{in_flight:?}");

    let mut acks = vec![first, in_flight];
    for run in &runs {
        assert!(
            run.refusals.is_empty(),
            "error responses during SIG{signal} shutdown: {:?}",
            run.refusals
        );
        assert!(
            run.ended_by.is_some(),
            "a load client sent all {MAX_MESSAGES_PER_CLIENT} messages: shutdown came too late to test anything"
        );
        acks.extend(run.acknowledged.iter().cloned());
    }
    let load = acks.len() - 2;
    assert!(
        load >= LOAD_BEFORE_SIGNAL,
        "{load} load messages acknowledged, but {LOAD_BEFORE_SIGNAL} were before SIG{signal}"
    );

    let store = Store::open(&data, None)
        .unwrap_or_else(|e| panic!("the store does not reopen after SIG{signal}: {e}"));
    let check = check_store(&store, &acks);
    let report = format!(
        "shutdown on SIG{signal}: exit 0 after {} ms; {} acknowledged ({load} under load, 1 in flight at the signal), {} found, {} lost",
        exit_took.as_millis(),
        check.acknowledged,
        check.found,
        check.lost_count()
    );
    println!("{report}");
    assert!(check.is_clean(), "{report}\n{}", check.problems());
    let ticket = acks[1]
        .ticket
        .as_ref()
        .expect("the refund opened a ticket")
        .0;
    assert!(
        store.ticket(ticket).unwrap().is_some(),
        "ticket #{ticket}, opened by the request in flight, is stored"
    );
}

#[test]
fn sigterm_under_load_stops_intake_finishes_in_flight_keeps_every_ack_and_exits_0() {
    shutdown_under_load("TERM");
}

#[test]
fn sigint_under_load_stops_intake_finishes_in_flight_keeps_every_ack_and_exits_0() {
    shutdown_under_load("INT");
}

/// Starts `serve` on `data` with Discord on, pointed at `fake`, and waits for the gateway.
async fn serve_with_discord(fake: &fake_discord::FakeDiscord, data: &Path) -> ServeProcess {
    let (base, data) = (fake.base_url(), data.to_path_buf());
    let serve = tokio::task::spawn_blocking(move || {
        ServeProcess::start(
            &data,
            &[
                ("PERSONABOT__DISCORD__TOKEN", "shutdown-test-token"),
                ("PERSONABOT__DISCORD__API_BASE", &base),
            ],
        )
    })
    .await
    .expect("start serve");
    fake.wait_ready(SOON).await;
    serve
}

/// SIGTERM, then asserts it exits 0 within [`EXIT_WITHIN`]; returns it for its stderr.
async fn terminate(serve: ServeProcess) -> ServeProcess {
    serve.signal("TERM");
    let (serve, status) = tokio::task::spawn_blocking(move || {
        let mut serve = serve;
        let status = serve.wait_exit(EXIT_WITHIN);
        (serve, status)
    })
    .await
    .expect("wait for serve");
    let status = status.unwrap_or_else(|| {
        panic!(
            "serve still running {EXIT_WITHIN:?} after SIGTERM; stderr:\n{}",
            serve.stderr()
        )
    });
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
    serve
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_discord_on_closes_the_gateway_with_a_close_frame_and_exits_0() {
    use fake_discord::User;

    const DM: u64 = 6001;
    let fake = fake_discord::FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let serve = serve_with_discord(&fake, &data).await;

    // One Discord message answered end to end before the signal.
    let since = fake.requests().len();
    let text = "how much is the growth plan";
    let message = fake.message(DM, &User::new(7101, "dora"), text, None).await;
    let path = format!("/channels/{DM}/messages");
    fake.wait_request(since, SOON, |r| {
        r.is("POST", &path)
            && r.status < 300
            && r.body["message_reference"]["message_id"].as_str() == Some(&message.to_string())
    })
    .await;
    assert!(
        fake.client_closes().is_empty(),
        "no Close frame before the signal: {:?}",
        fake.client_closes()
    );

    let serve = terminate(serve).await;
    // The process is gone: a Close frame it sent is already in the fake's socket buffer.
    let deadline = Instant::now() + SOON;
    while fake.client_closes().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let closes = fake.client_closes();
    assert!(
        matches!(closes.as_slice(), [Some(1000 | 1001)]),
        "the gateway is closed once, with code 1000 or 1001, before serve exits: {closes:?}; stderr:\n{}",
        serve.stderr()
    );

    let store = Store::open(&data, None).expect("the store reopens after SIGTERM");
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    assert!(
        stored
            .iter()
            .any(|i| i.channel == "discord" && i.conversation == DM.to_string() && i.text == text),
        "the answered Discord message is stored: {stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_discord_replies_in_flight_delivers_every_stored_one() {
    use fake_discord::User;

    /// DMs sent at once, each from its own customer in its own DM channel.
    const BURST: u64 = 20;
    const FIRST_DM: u64 = 6100;
    let fake = fake_discord::FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let serve = serve_with_discord(&fake, &data).await;

    // Each reply's first send gets a 500, so the bot retries after a backoff: SIGTERM at the
    // first failure lands while replies are in flight, their turns already stored.
    fake.fail_next("POST", "/channels/", 500, BURST as usize);
    let since = fake.requests().len();
    for k in 0..BURST {
        let customer = User::new(7200 + k, &format!("customer{k}"));
        fake.message(FIRST_DM + k, &customer, "how much is the growth plan", None)
            .await;
    }
    fake.wait_request(since, SOON, |r| r.method == "POST" && r.status == 500)
        .await;
    terminate(serve).await;

    // Every message the store holds was answered on Discord, and its delivery recorded, before
    // the exit: none was cut off between its turn being stored and its reply being sent.
    // (Messages the gateway had not delivered before it closed are in neither.)
    let store = Store::open(&data, None).expect("the store reopens after SIGTERM");
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    let requests = fake.requests();
    let unanswered: Vec<String> = stored
        .iter()
        .filter(|i| {
            let path = format!("/channels/{}/messages", i.conversation);
            let replied = requests
                .iter()
                .any(|r| r.is("POST", &path) && r.status < 300);
            !replied || !i.delivery.as_ref().is_some_and(|d| d.ok)
        })
        .map(|i| format!("{} (delivery {:?})", i.conversation, i.delivery))
        .collect();
    assert!(!stored.is_empty(), "the DMs being answered are stored");
    assert!(
        unanswered.is_empty(),
        "{} of {} stored DMs were not answered before serve exited: {unanswered:?}",
        unanswered.len(),
        stored.len()
    );
    println!(
        "discord shutdown: {BURST} DMs sent, {} stored, every one answered before the exit",
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_telegram_replies_in_flight_delivers_every_stored_one() {
    use fake_telegram::{FakeTelegram, TgUser};

    const TOKEN: &str = "123456:shutdown-test";
    const BURST: i64 = 10;
    let fake = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let base = fake.base_url();
    let serve = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            ServeProcess::start(
                &data,
                &[
                    ("PERSONABOT__TELEGRAM__TOKEN", TOKEN),
                    ("PERSONABOT__TELEGRAM__API_URL", &base),
                ],
            )
        })
        .await
        .expect("start serve")
    };
    // Every reply's first send is refused by flood control for a second, so the bot waits to
    // retry: a SIGTERM at the first refusal lands while replies are in flight, turns stored.
    for _ in 0..BURST {
        fake.fail_next_429("sendMessage", 1);
    }
    let since = fake.mark();
    for k in 0..BURST {
        let customer = TgUser::new(8100 + k as u64, &format!("customer{k}"));
        fake.say(9100 + k, &customer, "how much is the growth plan");
    }
    fake.wait_call(since, SOON, "a refused sendMessage", |c| {
        c.method == "sendMessage" && c.status == 429
    })
    .await;
    terminate(serve).await;

    let store = Store::open(&data, None).expect("the store reopens after SIGTERM");
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    let sent = fake.calls_of(0, "sendMessage");
    let unanswered: Vec<String> = stored
        .iter()
        .filter(|i| {
            let replied = sent
                .iter()
                .any(|c| c.ok() && c.chat().to_string() == i.conversation);
            !replied || !i.delivery.as_ref().is_some_and(|d| d.ok)
        })
        .map(|i| format!("{} (delivery {:?})", i.conversation, i.delivery))
        .collect();
    assert!(!stored.is_empty(), "the messages being answered are stored");
    assert!(
        unanswered.is_empty(),
        "{} of {} stored Telegram messages were not answered before serve exited: {unanswered:?}",
        unanswered.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_during_the_drain_stops_at_once() {
    use fake_telegram::{FakeTelegram, TgUser};

    const TOKEN: &str = "123456:second-signal";
    let fake = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let base = fake.base_url();
    let data = dir.path().join("data");
    let serve = tokio::task::spawn_blocking(move || {
        ServeProcess::start(
            &data,
            &[
                ("PERSONABOT__TELEGRAM__TOKEN", TOKEN),
                ("PERSONABOT__TELEGRAM__API_URL", &base),
            ],
        )
    })
    .await
    .expect("start serve");
    // A reply held by flood control for 30 s keeps the drain busy.
    fake.fail_next_429("sendMessage", 30);
    let since = fake.mark();
    fake.say(
        9300,
        &TgUser::new(8300, "customer"),
        "how much is the growth plan",
    );
    fake.wait_call(since, SOON, "the refused sendMessage", |c| {
        c.method == "sendMessage" && c.status == 429
    })
    .await;
    let (serve, code) = tokio::task::spawn_blocking(move || {
        let mut serve = serve;
        serve.signal("TERM");
        serve.wait_stderr("shutting down", SOON);
        serve.signal("INT");
        let status = serve.wait_exit(Duration::from_secs(10));
        (serve, status.and_then(|s| s.code()))
    })
    .await
    .unwrap();
    assert_eq!(
        code,
        Some(130),
        "a second signal exits at once with 130; stderr:\n{}",
        serve.stderr()
    );
}

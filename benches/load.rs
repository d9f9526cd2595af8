//! Load benchmark: `personabot serve` on loopback, driven over keep-alive HTTP/1.1 connections.
//!
//! Run: `cargo bench --bench load` (optionally `-- --seconds 10 --connections 64 --rates 5000,2000`).
//!
//! Runs, one server process each (a fresh store):
//! - `POST /v1/messages` (the full pipeline with sled logging, group-committed) at saturation,
//!   then at fixed rates (default 5,000 and 2,000 msgs/s);
//! - `POST /v1/classify` (classification only, nothing stored), the same.
//!
//! Fixed-rate latency is measured from each request's scheduled send time, so a stalled server
//! cannot hide queueing (no coordinated omission). The load generator shares this machine's two
//! cores with the server. The per-user flood limit and the per-client-address limit are raised
//! for the run (every request comes from a distinct user, and all from loopback).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MESSAGES: &[&str] = &[
    "how much is the growth plan for a team of 5?",
    "I was charged twice this month, please refund",
    "we need your SOC 2 report before procurement signs",
    "my shopify orders are not syncing to the inbox",
    "I'm the founder of a seed-stage startup, do you have discounts?",
    "I can't log in, the password reset email never arrives",
    "are you hiring backend engineers?",
    "hi there",
];

struct Options {
    seconds: u64,
    connections: usize,
    rates: Vec<u64>,
    /// Drive an already running server (e.g. under a profiler) instead of starting one; only
    /// the `/v1/messages` saturation run.
    addr: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options {
        seconds: value("--seconds", 8),
        connections: value("--connections", 64) as usize,
        rates: args
            .iter()
            .position(|a| a == "--rates")
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![5000, 2000]),
        addr: args
            .iter()
            .position(|a| a == "--addr")
            .and_then(|i| args.get(i + 1))
            .cloned(),
    }
}

struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_personabot"))
        .args(["--catalog", env!("CARGO_MANIFEST_DIR"), "--data"])
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PERSONABOT__LIMITS__FLOOD_MESSAGES", "100000000")
        .env("PERSONABOT__BRIDGES__BENCH__TOKEN", BRIDGE_TOKEN)
        .env("PERSONABOT__LIMITS__ADDRESS_REQUESTS", "100000000")
        // Every connection of the load generator comes from one address.
        .env("PERSONABOT__HTTP__MAX_CONNECTIONS_PER_ADDRESS", "0")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("stderr line");
        if let Some(rest) = line.split("web chat at http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        addr,
        _dir: dir,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The load comes through a chat bridge (`"channel": "bench"`) with its own ids.
const BRIDGE_TOKEN: &str = "load-bench-bridge-token-0123";

fn request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {BRIDGE_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn body_for(path: &str, conn: usize, n: u64) -> String {
    let text = MESSAGES[(n as usize + conn) % MESSAGES.len()];
    if path == "/v1/classify" {
        format!("{{\"text\":\"{text}\"}}")
    } else {
        format!("{{\"channel\":\"bench\",\"conversation\":\"c{conn}-{n}\",\"user\":\"u{conn}-{n}\",\"text\":\"{text}\"}}")
    }
}

/// Reads one HTTP/1.1 response (status line, headers, Content-Length body); returns the status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buf.len() < total {
                let mut chunk = [0u8; 16 * 1024];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..total);
            return Ok(status);
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

struct RunResult {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

/// Drives `path` with `connections` connections for `seconds`: as fast as possible when `rate`
/// is None, else at `rate` requests per second in total.
async fn drive(
    addr: &str,
    path: &'static str,
    connections: usize,
    seconds: u64,
    rate: Option<u64>,
) -> RunResult {
    let deadline = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..connections {
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let mut buf = Vec::with_capacity(16 * 1024);
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r as f64));
            let offset = interval.map(|i| i.mul_f64(conn as f64 / connections as f64));
            let mut n = 0u64;
            loop {
                let scheduled = match (interval, offset) {
                    (Some(i), Some(o)) => started + o + i * n as u32,
                    _ => Instant::now(),
                };
                if scheduled.duration_since(started) >= deadline {
                    break;
                }
                if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                    tokio::time::sleep(wait).await;
                }
                let req = request(path, &body_for(path, conn, n));
                if stream.write_all(&req).await.is_err() {
                    errors += 1;
                    break;
                }
                match read_response(&mut stream, &mut buf).await {
                    Ok(200) => latencies.push(scheduled.elapsed()),
                    Ok(_) | Err(_) => errors += 1,
                }
                n += 1;
            }
            (latencies, errors)
        }));
    }
    let mut result = RunResult {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (l, e) = t.await.expect("connection task");
        result.latencies.extend(l);
        result.errors += e;
    }
    result.elapsed = started.elapsed();
    result.latencies.sort();
    result
}

/// CPU seconds (user + system) the process has used so far, from `/proc` (Linux; clock ticks
/// of 1/100 s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The store's mean group-commit size (turns per flush), from the server's `/metrics`.
fn mean_batch(addr: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    let commits = value("personabot_store_commits_total ")?;
    let turns = value("personabot_store_turns_committed_total ")?;
    (commits > 0.0).then(|| turns / commits)
}

/// What the server spent: CPU per answered message, and (when it stored turns) the mean
/// number of turns per group commit.
fn report_server(r: &RunResult, cpu: Option<f64>, batch: Option<f64>) {
    let mut line = String::from("    server:");
    if let Some(cpu) = cpu.filter(|_| !r.latencies.is_empty()) {
        line.push_str(&format!(
            " {:.0} µs CPU per message ({:.2} cores busy)",
            cpu * 1e6 / r.latencies.len() as f64,
            cpu / r.elapsed.as_secs_f64()
        ));
    }
    if let Some(b) = batch {
        line.push_str(&format!(", {b:.1} turns per group commit"));
    }
    println!("{line}");
}

fn report(label: &str, r: &RunResult) {
    let pct = |p: f64| {
        let i = ((r.latencies.len() as f64 * p) as usize).min(r.latencies.len().saturating_sub(1));
        r.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{label:<44} {:>9.0} msgs/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  errors {}",
        r.latencies.len() as f64 / r.elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        r.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        r.errors
    );
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rt = Arc::new(runtime);
    println!(
        "load: {} connections, {} s per run, fixed rates {:?} msgs/s (2 cores shared by server and load generator)",
        o.connections, o.seconds, o.rates
    );
    if let Some(addr) = &o.addr {
        let r = rt.block_on(drive(addr, "/v1/messages", o.connections, o.seconds, None));
        report("messages (pipeline + sled), saturation", &r);
        return;
    }
    for (path, label) in [
        ("/v1/messages", "messages (pipeline + sled)"),
        ("/v1/classify", "classify only"),
    ] {
        let runs = std::iter::once(None).chain(o.rates.iter().copied().map(Some));
        for rate in runs {
            let server = start_server();
            let pid = server.child.id();
            let cpu_before = cpu_seconds(pid);
            let r = rt.block_on(drive(&server.addr, path, o.connections, o.seconds, rate));
            let cpu = cpu_seconds(pid).zip(cpu_before).map(|(a, b)| a - b);
            let what = match rate {
                None => format!("{label}, saturation"),
                Some(r) => format!("{label}, fixed {r}/s"),
            };
            report(&what, &r);
            report_server(&r, cpu, mean_batch(&server.addr));
            drop(server);
        }
    }
}

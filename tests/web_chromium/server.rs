//! The real `personabot serve` under test, and plain HTTP/1.1 GETs against it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{BIN, TOKEN};

pub(crate) struct Server {
    child: Child,
    port: u16,
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) fn start(root: &Path) -> Server {
        Self::start_with(root, Path::new(env!("CARGO_MANIFEST_DIR")), &[])
    }

    /// `serve` over the catalog in `catalog`, with more settings from `env`.
    pub(crate) fn start_with(root: &Path, catalog: &Path, env: &[(&str, &str)]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(root, catalog, env, port)
    }

    /// `serve` again on the port a stopped one had (its pages reconnect to the same address).
    pub(crate) fn start_again(root: &Path, port: u16) -> Server {
        Self::start_on(root, Path::new(env!("CARGO_MANIFEST_DIR")), &[], port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    fn start_on(root: &Path, catalog: &Path, env: &[(&str, &str)], port: u16) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(root.join("data"))
            .arg("--catalog")
            .arg(catalog)
            .args(["serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)
            .env_remove("DISCORD_TOKEN")
            .env_remove("PERSONABOT__DISCORD__TOKEN")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .spawn()
            .expect("personabot serve starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
            while let Some(Ok(line)) = lines.next() {
                sink.lock().unwrap().push(line);
            }
        });
        let server = Server { child, port, log };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((200, body)) = http_get(self.port, "/healthz", None) {
                if body.contains("\"ok\"") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "personabot serve did not answer /healthz within 30 s; its log: {:#?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        self.get_json_with(path, token.map(|t| format!("Authorization: Bearer {t}")))
    }

    /// A GET as the web visitor holding `visitor_token`.
    pub(crate) fn get_visitor_json(&self, path: &str, visitor_token: &str) -> Value {
        self.get_json_with(path, Some(format!("X-Visitor-Token: {visitor_token}")))
    }

    fn get_json_with(&self, path: &str, header: Option<String>) -> Value {
        let (status, body) =
            http_get(self.port, path, header).unwrap_or_else(|| panic!("GET {path}: no answer"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// A POST with the agent token (`{}` body): the answer's status.
    pub(crate) fn agent_post(&self, path: &str, body: &Value) -> u16 {
        let body = body.to_string();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a timeout");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("sends");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// SIGTERM, then the exit code.
    pub(crate) fn stop(mut self) -> i32 {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status
                    .code()
                    .expect("serve exited by itself, not by a signal");
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1: the status and the body.
fn http_get(port: u16, path: &str, header: Option<String>) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8(response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

//! The control socket: `serve` listens on `control.sock` in its data folder (a unix socket, mode
//! 0600, only its own user admitted), so the store commands run beside it instead of failing on
//! sled's lock. The commands themselves still run in the CLI process (arguments, catalog, paths,
//! output); only their store operations travel, so a command prints the same bytes either way.
//!
//! Protocol: one JSON request line (`{"op": ...}`), answered by JSON lines: `{"item": ...}`
//! (a record) or `{"line": "..."}` (an export line) any number of times, then one `{"ok": ...}`
//! or `{"error": "..."}`.

use personabot::ops::retention::Windows;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use personabot::engine::pipeline::Pipeline;
use personabot::engine::Handlers;
use personabot::store::{
    Account, AuditEntry, Interaction, InteractionFilter, Ticket, TicketStatus,
    CONTROL_SOCKET as SOCKET,
};

use super::store_access::{self, Compaction, Forgotten, Purge, StoreAccess};

/// The longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;

/// One store operation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Interactions {
        filter: InteractionFilter,
    },
    Tickets {
        team: Option<String>,
        status: Option<TicketStatus>,
    },
    Ticket {
        id: u64,
    },
    History {
        id: u64,
    },
    Claim {
        id: u64,
        agent: String,
    },
    Resolve {
        id: u64,
        agent: String,
    },
    Relabel {
        id: u64,
        intent: Option<String>,
        persona: Option<String>,
        agent: String,
    },
    Reply {
        id: u64,
        agent: String,
        text: String,
    },
    Assign {
        id: u64,
        /// Who assigns, for the audit log.
        agent: String,
        to: String,
    },
    Note {
        id: u64,
        agent: String,
        text: String,
    },
    Export {
        filter: InteractionFilter,
        /// Who exports, for the audit log.
        #[serde(default)]
        by: String,
    },
    Forget {
        user: String,
        #[serde(default)]
        by: String,
    },
    Compact {},
    Purge {
        now_ms: u64,
        days: u32,
        /// The audit window (0, keeping it, from an older command).
        #[serde(default)]
        audit_days: u32,
    },
    AccountAdd {
        account: Account,
        by: String,
    },
    Accounts {},
    AccountRemove {
        name: String,
        by: String,
    },
    AccountRotate {
        name: String,
        by: String,
    },
    Audit {
        since_ms: Option<u64>,
    },
}

/// One line of an answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Frame {
    Item(Value),
    Line(String),
    Ok(Value),
    Error(String),
}

// ----------------------------------------------------------------------------------------------
// The client
// ----------------------------------------------------------------------------------------------

/// A running `serve`'s store, reached through its control socket.
pub(crate) struct Remote {
    socket: PathBuf,
}

impl Remote {
    /// The serve running on `data`, if one answers on its socket (a socket left by a serve that
    /// died refuses the connection, and the store is opened directly instead).
    pub(crate) fn connect(data: &Path) -> Option<Remote> {
        let socket = data.join(SOCKET);
        UnixStream::connect(&socket).ok()?;
        Some(Remote { socket })
    }

    /// Sends `request`, hands each item or line to `each`, and returns the final value.
    fn call(&self, request: &Request, mut each: impl FnMut(Frame) -> Result<()>) -> Result<Value> {
        let lost = || {
            format!(
                "the running serve closed its control socket {}",
                self.socket.display()
            )
        };
        let mut stream = UnixStream::connect(&self.socket).with_context(|| {
            format!(
                "cannot reach the running serve at {}",
                self.socket.display()
            )
        })?;
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        stream.write_all(&line).with_context(lost)?;
        let reader = BufReader::new(stream);
        for line in reader.lines() {
            let line = line.with_context(lost)?;
            match serde_json::from_str::<Frame>(&line)
                .with_context(|| format!("unexpected answer from the running serve: {line}"))?
            {
                Frame::Ok(value) => return Ok(value),
                Frame::Error(message) => return Err(anyhow!(message)),
                frame => each(frame)?,
            }
        }
        bail!(lost())
    }

    /// A call whose answer is one value.
    fn value<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        let value = self.call(request, |_| Ok(()))?;
        Ok(serde_json::from_value(value)?)
    }

    /// A call whose answer is a list of items.
    fn items<T: DeserializeOwned>(&self, request: &Request) -> Result<Vec<T>> {
        let mut items = Vec::new();
        self.call(request, |frame| {
            if let Frame::Item(v) = frame {
                items.push(serde_json::from_value(v)?);
            }
            Ok(())
        })?;
        Ok(items)
    }
}

impl StoreAccess for Remote {
    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>> {
        self.items(&Request::Interactions {
            filter: filter.clone(),
        })
    }

    fn tickets(&self, team: Option<&str>, status: Option<TicketStatus>) -> Result<Vec<Ticket>> {
        self.items(&Request::Tickets {
            team: team.map(String::from),
            status,
        })
    }

    fn ticket(&self, id: u64) -> Result<Option<Ticket>> {
        self.value(&Request::Ticket { id })
    }

    fn history(&self, id: u64) -> Result<Vec<serde_json::Value>> {
        self.value(&Request::History { id })
    }

    fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket> {
        self.value(&Request::Claim {
            id,
            agent: agent.into(),
        })
    }

    fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket> {
        self.value(&Request::Resolve {
            id,
            agent: agent.into(),
        })
    }

    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket> {
        self.value(&Request::Relabel {
            id,
            intent: intent.map(String::from),
            persona: persona.map(String::from),
            agent: agent.into(),
        })
    }

    fn reply_ticket(&self, id: u64, agent: &str, text: &str) -> Result<Ticket> {
        self.value(&Request::Reply {
            id,
            agent: agent.into(),
            text: text.into(),
        })
    }

    fn assign_ticket(&self, id: u64, to: &str, by: &str) -> Result<Ticket> {
        self.value(&Request::Assign {
            id,
            agent: by.into(),
            to: to.into(),
        })
    }

    fn note_ticket(&self, id: u64, agent: &str, text: &str) -> Result<Ticket> {
        self.value(&Request::Note {
            id,
            agent: agent.into(),
            text: text.into(),
        })
    }

    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize> {
        let request = Request::Export {
            filter: filter.clone(),
            by: store_access::cli_user(),
        };
        let value = self.call(&request, |frame| {
            if let Frame::Line(line) = frame {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            Ok(())
        })?;
        Ok(serde_json::from_value(value)?)
    }

    fn forget_user(&self, user: &str) -> Result<Forgotten> {
        self.value(&Request::Forget {
            user: user.into(),
            by: store_access::cli_user(),
        })
    }

    fn compact(&self) -> Result<Compaction> {
        self.value(&Request::Compact {})
    }

    fn purge(&self, now_ms: u64, windows: Windows) -> Result<Purge> {
        self.value(&Request::Purge {
            now_ms,
            days: windows.evidence_days,
            audit_days: windows.audit_days,
        })
    }

    fn add_account(&self, account: &Account, by: &str) -> Result<String> {
        self.value(&Request::AccountAdd {
            account: account.clone(),
            by: by.into(),
        })
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        self.items(&Request::Accounts {})
    }

    fn remove_account(&self, name: &str, by: &str) -> Result<()> {
        self.value(&Request::AccountRemove {
            name: name.into(),
            by: by.into(),
        })
    }

    fn rotate_account(&self, name: &str, by: &str) -> Result<String> {
        self.value(&Request::AccountRotate {
            name: name.into(),
            by: by.into(),
        })
    }

    fn audit_log(&self, since_ms: Option<u64>) -> Result<Vec<AuditEntry>> {
        self.items(&Request::Audit { since_ms })
    }
}

// ----------------------------------------------------------------------------------------------
// The server (inside `serve`)
// ----------------------------------------------------------------------------------------------

/// The control socket of a running `serve`; [`stop`](Self::stop) closes and removes it.
pub(crate) struct ControlSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ControlSocket {
    /// Listens on `data/control.sock`, replacing a socket left by a serve that died. The socket
    /// is created under a temporary name, restricted to mode 0600, then renamed into place, so
    /// it is never reachable with wider permissions.
    pub(crate) fn listen(
        data: &Path,
        pipeline: Arc<Pipeline>,
        handlers: Arc<Handlers>,
    ) -> Result<ControlSocket> {
        let path = data.join(SOCKET);
        if UnixStream::connect(&path).is_ok() {
            bail!("another serve answers on {}", path.display());
        }
        let staging = data.join(format!(".{SOCKET}.{}", std::process::id()));
        let _ = std::fs::remove_file(&staging);
        let listener = tokio::net::UnixListener::bind(&staging)
            .with_context(|| format!("cannot listen on {}", staging.display()))?;
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", staging.display()))?;
        let owner = std::fs::metadata(&staging)?.uid();
        std::fs::rename(&staging, &path)
            .with_context(|| format!("cannot move the socket to {}", path.display()))?;
        let task = tokio::spawn(accept(listener, owner, pipeline, handlers));
        Ok(ControlSocket { path, task })
    }

    /// Stops taking connections (commands already running finish; `serve` waits for them with
    /// the other handlers) and removes the socket file.
    pub(crate) fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(
    listener: tokio::net::UnixListener,
    owner: u32,
    pipeline: Arc<Pipeline>,
    handlers: Arc<Handlers>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "control socket: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        // The file mode already keeps other users out; the peer's credentials say so again.
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == owner => {}
            Ok(cred) => {
                tracing::warn!(uid = cred.uid(), "control socket: another user refused");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket: no peer credentials; refused");
                continue;
            }
        }
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let running = handlers.enter();
        let pipeline = pipeline.clone();
        tokio::task::spawn_blocking(move || {
            let _running = running;
            if let Err(e) = answer(stream, &pipeline) {
                tracing::debug!(error = %e, "control socket: connection ended early");
            }
        });
    }
}

/// Reads one request from `stream` and writes its answer.
fn answer(stream: UnixStream, pipeline: &Pipeline) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let mut out = std::io::BufWriter::new(&stream);
    let last = match serde_json::from_str::<Request>(&line) {
        Ok(request) => match run(request, pipeline, &mut out) {
            Ok(value) => Frame::Ok(value),
            Err(e) => Frame::Error(format!("{e:#}")),
        },
        Err(e) => Frame::Error(format!("bad control request: {e}")),
    };
    send(&mut out, &last)?;
    out.flush()
}

fn send(out: &mut dyn Write, frame: &Frame) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, frame)?;
    out.write_all(b"\n")
}

/// Runs one request on the live store. Ticket actions go through the pipeline, so the
/// channels hear of them (a Discord ticket message shows the claim) as they do of an agent's.
fn run(request: Request, pipeline: &Pipeline, out: &mut dyn Write) -> Result<Value> {
    let store = pipeline.store();
    let value =
        match request {
            Request::Interactions { filter } => {
                let list = store.interactions(&filter)?;
                for i in &list {
                    send(out, &Frame::Item(serde_json::to_value(i)?))?;
                }
                Value::from(list.len())
            }
            Request::Tickets { team, status } => {
                let list = store.tickets(team.as_deref(), status)?;
                for t in &list {
                    send(out, &Frame::Item(serde_json::to_value(t)?))?;
                }
                Value::from(list.len())
            }
            Request::Ticket { id } => serde_json::to_value(store.ticket(id)?)?,
            Request::History { id } => serde_json::to_value(store_access::history(store, id)?)?,
            Request::Claim { id, agent } => serde_json::to_value(store_access::ticket_action(
                store,
                id,
                &agent,
                "claim",
                || Ok(pipeline.claim(id, &agent)?),
            )?)?,
            Request::Resolve { id, agent } => serde_json::to_value(store_access::ticket_action(
                store,
                id,
                &agent,
                "resolve",
                || Ok(pipeline.resolve(id, &agent)?),
            )?)?,
            Request::Relabel {
                id,
                intent,
                persona,
                agent,
            } => serde_json::to_value(store_access::ticket_action(
                store,
                id,
                &agent,
                "relabel",
                || Ok(pipeline.relabel(id, intent.as_deref(), persona.as_deref(), &agent)?),
            )?)?,
            Request::Reply { id, agent, text } => serde_json::to_value(
                store_access::ticket_action(store, id, &agent, "reply", || {
                    Ok(pipeline.agent_reply(id, &agent, &text)?)
                })?,
            )?,
            Request::Assign { id, agent, to } => {
                serde_json::to_value(store_access::assign(store, id, &agent, &to, || {
                    Ok(pipeline.assign(id, &to)?)
                })?)?
            }
            Request::Note { id, agent, text } => serde_json::to_value(
                store_access::ticket_action(store, id, &agent, "note", || {
                    Ok(pipeline.note(id, &agent, &text, "cli")?)
                })?,
            )?,
            Request::Export { filter, by } => {
                let mut lines = Lines {
                    out,
                    pending: Vec::new(),
                };
                let n = store_access::export(store, &filter, &mut lines, &by)?;
                lines.finish()?;
                Value::from(n)
            }
            Request::Forget { user, by } => {
                serde_json::to_value(store_access::forget(store, &user, &by)?)?
            }
            Request::AccountAdd { account, by } => {
                Value::from(store_access::add_account(store, &account, &by)?)
            }
            Request::Accounts {} => {
                let list = store.accounts()?;
                for a in &list {
                    send(out, &Frame::Item(serde_json::to_value(a)?))?;
                }
                Value::from(list.len())
            }
            Request::AccountRemove { name, by } => {
                store_access::remove_account(store, &name, &by)?;
                Value::Null
            }
            Request::AccountRotate { name, by } => {
                Value::from(store_access::rotate_account(store, &name, &by)?)
            }
            Request::Audit { since_ms } => {
                let list = store.audit_log(since_ms)?;
                for e in &list {
                    send(out, &Frame::Item(serde_json::to_value(e)?))?;
                }
                Value::from(list.len())
            }
            Request::Compact {} => serde_json::to_value(store_access::compact(store)?)?,
            Request::Purge {
                now_ms,
                days,
                audit_days,
            } => {
                let windows = Windows {
                    evidence_days: days,
                    audit_days,
                };
                serde_json::to_value(store_access::purge(store, now_ms, windows)?)?
            }
        };
    Ok(value)
}

/// A writer that sends each complete line written to it as a `{"line": ...}` frame.
struct Lines<'a> {
    out: &'a mut dyn Write,
    pending: Vec<u8>,
}

impl Lines<'_> {
    fn finish(mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest)?;
        }
        Ok(())
    }

    fn line(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        send(self.out, &Frame::Line(text))
    }
}

impl Write for Lines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.line(&line[..line.len() - 1])?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_frames_round_trip() {
        let requests = [
            r#"{"op":"tickets","team":"sales","status":"open"}"#,
            r#"{"op":"interactions","filter":{"since_ms":5,"persona":"investor"}}"#,
            r#"{"op":"compact"}"#,
            r#"{"op":"purge","now_ms":1,"days":2}"#,
            r#"{"op":"account_add","account":{"name":"ann","role":"admin","teams":["billing"],"created_ms":1},"by":"root"}"#,
            r#"{"op":"accounts"}"#,
            r#"{"op":"account_rotate","name":"ann","by":"root"}"#,
            r#"{"op":"audit","since_ms":null}"#,
        ];
        for text in requests {
            let r: Request = serde_json::from_str(text).unwrap();
            let back = serde_json::to_string(&r).unwrap();
            let again: Request = serde_json::from_str(&back).unwrap();
            assert_eq!(format!("{r:?}"), format!("{again:?}"), "{text}");
        }
        for bad in [
            r#"{"op":"drop_all"}"#,
            r#"{"op":"ticket"}"#,
            r#"{"op":"compact","extra":1}"#,
            r#"{"op":"account_add","account":{"name":"ann","role":"root","teams":[],"created_ms":1},"by":"x"}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
        let f: Frame = serde_json::from_str(r#"{"line":"{\"a\":1}"}"#).unwrap();
        assert!(matches!(f, Frame::Line(l) if l == r#"{"a":1}"#));
    }

    #[test]
    fn export_lines_are_framed_whole_whatever_the_writes() {
        let mut framed = Vec::new();
        let mut lines = Lines {
            out: &mut framed,
            pending: Vec::new(),
        };
        for chunk in ["{\"a\"", ":1}\n{\"b\":2}\n{\"c\"", ":3}"] {
            lines.write_all(chunk.as_bytes()).unwrap();
        }
        lines.finish().unwrap();
        let got: Vec<String> = String::from_utf8(framed)
            .unwrap()
            .lines()
            .map(|l| match serde_json::from_str::<Frame>(l).unwrap() {
                Frame::Line(l) => l,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, [r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
    }
}

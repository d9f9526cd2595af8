//! Terminal: the real binary, one `personabot chat --json` process per case.

use std::path::Path;

use serde_json::Value;

use personabot::store::Store;

use crate::support;
use crate::table::{Case, Chan, Input, PROBE, PROBE_ANSWER};
use crate::verdict::{check_concurrent, stored_in, verdict, Seen};

/// Runs `personabot --data DATA chat --json` with `stdin`; returns (exit code, stdout, stderr).
fn chat(
    data: &Path,
    conversation: &str,
    user: &str,
    stdin: Vec<u8>,
) -> (Option<i32>, String, String) {
    let args = [
        "chat",
        "--json",
        "--conversation",
        conversation,
        "--user",
        user,
    ];
    let run = support::run_in_bytes(data, data, &args, &stdin);
    (run.code, run.stdout, run.stderr)
}

/// Counts one session's JSON lines into `seen` (the last `probes` lines are the probe's).
fn read_session(stdout: &str, seen: &mut Seen) -> Vec<Value> {
    let mut lines = Vec::new();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => lines.push(v),
            Err(e) => seen.problem(format!("stdout line is not JSON ({e}): {line:.100}")),
        }
    }
    lines
}

fn count_turns(lines: &[Value], seen: &mut Seen) {
    for v in lines {
        if let Some(e) = v["error"].as_str() {
            seen.errors.push((None, e.to_string()));
        } else if let Some(reply) = v["reply"].as_str() {
            seen.count_reply(reply);
        } else {
            seen.problem(format!("a turn without a reply: {v}"));
        }
    }
}

fn terminal_case(data: &Path, n: usize, case: &Case) -> Seen {
    let mut seen = Seen::default();
    let conversation = format!("term-case-{n}");
    let user = format!("term-user-{n}");
    let line = |stdin: &mut Vec<u8>, bytes: &[u8]| {
        stdin.extend_from_slice(bytes);
        stdin.push(b'\n');
    };
    let probe_tail = |stdin: &mut Vec<u8>| {
        stdin.extend_from_slice(format!("/new\n{PROBE}\n").as_bytes());
    };
    if let Input::Concurrent { count, text } = &case.input {
        // Several sessions on one store and conversation at once: each waits for the
        // store's lock (or says clearly that it is in use); none loses an answered line.
        let sessions = 4;
        let per = count / sessions;
        let handles: Vec<_> = (0..sessions)
            .map(|s| {
                let mut stdin = Vec::new();
                for k in 0..per {
                    line(&mut stdin, format!("{text} #{}", s * per + k).as_bytes());
                }
                let (data, conversation, user) =
                    (data.to_path_buf(), conversation.clone(), user.clone());
                std::thread::spawn(move || chat(&data, &conversation, &user, stdin))
            })
            .collect();
        for h in handles {
            let (code, stdout, stderr) = h.join().expect("session thread");
            let lines = read_session(&stdout, &mut seen);
            count_turns(&lines, &mut seen);
            match code {
                Some(0) => {}
                _ if stderr.contains("in use by another process") => {
                    seen.notes.push("a session found the store busy".into())
                }
                _ => seen.problem(format!("session exited {code:?}: {stderr:.200}")),
            }
        }
        // The process-stays-up probe: a fresh session on the same store.
        let mut stdin = Vec::new();
        probe_tail(&mut stdin);
        let (_, stdout, _) = chat(data, &format!("{conversation}-probe"), &user, stdin);
        let lines = read_session(&stdout, &mut seen);
        let probe_ok = lines
            .last()
            .and_then(|v| v["reply"].as_str())
            .is_some_and(|r| r.contains(PROBE_ANSWER));
        if !probe_ok {
            seen.problem("the probe after the case got no normal answer");
        }
        let store = Store::open(data, None).expect("reopen the terminal store");
        seen.stored = stored_in(&store, "terminal", &conversation);
        check_concurrent(&store, "terminal", &conversation, &mut seen);
        return seen;
    }
    let mut stdin = Vec::new();
    let sent = match &case.input {
        Input::Text(t) => {
            line(&mut stdin, t.as_bytes());
            1
        }
        Input::Bytes(b) => {
            line(&mut stdin, b);
            1
        }
        Input::Flood { count, text } => {
            seen.notes
                .push("no rate limit on the operator's own console".into());
            for k in 0..*count {
                line(&mut stdin, format!("{text} #{k}").as_bytes());
            }
            *count
        }
        Input::Concurrent { .. } => unreachable!("handled above"),
    };
    probe_tail(&mut stdin);
    let (code, stdout, stderr) = chat(data, &conversation, &user, stdin);
    if code != Some(0) {
        seen.problem(format!("chat exited {code:?}: {stderr:.200}"));
    }
    let mut lines = read_session(&stdout, &mut seen);
    let probe = lines.pop();
    if lines.len() != sent {
        seen.problem(format!("{sent} lines sent, {} answered", lines.len()));
    }
    count_turns(&lines, &mut seen);
    if !probe
        .as_ref()
        .and_then(|v| v["reply"].as_str())
        .is_some_and(|r| r.contains(PROBE_ANSWER))
    {
        seen.problem(format!("the session did not answer the probe: {probe:?}"));
    }
    let store = Store::open(data, None).expect("reopen the terminal store");
    seen.stored = stored_in(&store, "terminal", &conversation);
    seen
}

pub(crate) fn terminal_column(cases: &[Case]) -> Vec<Result<String, String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    cases
        .iter()
        .enumerate()
        .map(|(n, case)| verdict(case, Chan::Terminal, &terminal_case(dir.path(), n, case)))
        .collect()
}

/// Regression: a stdin line that is not UTF-8 used to end `personabot chat` with "stream did
/// not contain valid UTF-8" (exit 1), dropping every later line. Now that line gets a clear
/// error and the session answers the next one.
#[test]
fn terminal_refuses_a_line_that_is_not_utf8_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = b"hi\n\xff\xfe broken\nI forgot my password\n".to_vec();
    let (code, stdout, stderr) = chat(dir.path(), "utf8", "u", stdin);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0]["reply"].is_string(), "{}", lines[0]);
    assert_eq!(
        lines[1]["error"],
        personabot::channels::terminal::NOT_UTF8,
        "{}",
        lines[1]
    );
    assert!(
        lines[2]["reply"].as_str().unwrap().contains(PROBE_ANSWER),
        "{}",
        lines[2]
    );
    let store = Store::open(dir.path(), None).expect("reopen");
    assert_eq!(store.interaction_count(), 2, "the bad line is not a turn");
}

//! Shared helpers: a temp folder with its own store to run the binary in, and readers of its
//! JSON output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::{repo_root, run_in, Run};

/// An empty working folder with a store folder inside it.
pub(crate) struct Env {
    dir: TempDir,
}

impl Env {
    pub(crate) fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn cwd(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `personabot --data <store> --catalog <repo root> ARGS`.
    pub(crate) fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let root = repo_root();
        let mut all = vec!["--catalog", root.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        run_in(self.cwd(), &self.data(), &all, stdin)
    }

    pub(crate) fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args, None);
        run.expect_ok();
        run
    }

    /// One `chat --json` session: one JSON object per input line.
    pub(crate) fn chat(&self, conversation: &str, user: &str, lines: &[&str]) -> Vec<Value> {
        let mut input = lines.join("\n");
        input.push('\n');
        let run = self.run(
            &[
                "chat",
                "--json",
                "--conversation",
                conversation,
                "--user",
                user,
            ],
            Some(&input),
        );
        run.expect_ok();
        let turns = run.json_lines();
        assert_eq!(
            turns.len(),
            lines.len(),
            "one JSON line per message: {run:?}"
        );
        turns
    }

    /// `evidence export [ARGS]` as parsed JSON Lines.
    pub(crate) fn export(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["evidence", "export"];
        all.extend_from_slice(args);
        self.ok(&all).json_lines()
    }

    pub(crate) fn tickets(&self) -> Vec<Value> {
        self.ok(&["tickets", "list", "--json"]).json_lines()
    }
}

pub(crate) fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

pub(crate) fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

pub(crate) fn classify_json(env: &Env, text: &str) -> Value {
    let run = env.ok(&["classify", "--json", text]);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1, "{run:?}");
    lines.into_iter().next().expect("one line")
}

pub(crate) fn toml_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read catalog folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count()
}

/// The `ok:` line without its timing.
pub(crate) fn ok_summary(run: &Run) -> String {
    let line = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("ok:"))
        .unwrap_or_else(|| panic!("no ok: line: {run:?}"));
    line.split(" compiled in ")
        .next()
        .expect("split")
        .to_string()
}

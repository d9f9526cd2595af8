//! Running the real `personabot` binary from integration tests.
//!
//! Every run gets an explicit current directory and `--data` folder, so tests never read the
//! developer's `./personas`, `./intents` or `personabot.toml` by accident and never write `./data`.

#![allow(dead_code)] // each test crate uses a different part of this module

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, Catalog};
use personabot::core::classify::Classifier;
use personabot::engine::pipeline::{Pipeline, Rules};
use personabot::store::Store;

pub mod served;

/// The shipped catalog, compiled, with the built-in settings: loaded once per test binary.
pub struct Shipped {
    pub settings: Settings,
    pub catalog: Arc<Catalog>,
    pub classifier: Arc<Classifier>,
}

pub fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let settings =
            Settings::load_with_env(None, Some(HashMap::new())).expect("default settings");
        let catalog = catalog::load(&repo_root(), &settings.teams)
            .unwrap_or_else(|d| panic!("shipped catalog: {d}"));
        let classifier = Classifier::new(&catalog).expect("classifier");
        Shipped {
            settings,
            catalog: Arc::new(catalog),
            classifier: Arc::new(classifier),
        }
    })
}

/// A pipeline over the shipped catalog on `store`.
pub fn pipeline_on(store: Store) -> Pipeline {
    let s = shipped();
    Pipeline::new(s.catalog.clone(), s.classifier.clone(), &s.settings, store)
}

/// A pipeline over the shipped catalog on `store`, with `settings` and their teams (each team's
/// Discord channel and role are read from the current rules, as `serve` loads them).
pub fn pipeline_with_settings(settings: &Settings, store: Store) -> Pipeline {
    let s = shipped();
    let catalog = Catalog {
        teams: settings.teams.clone(),
        team_names: personabot::core::team_names::TeamNames::compile(&settings.teams),
        ..(*s.catalog).clone()
    };
    Pipeline::new(Arc::new(catalog), s.classifier.clone(), settings, store)
}

/// A bot answer written with the whole markdown subset (a link, bold, list items, a mailto
/// link) and text that must stay text on every platform (a `javascript:` link, a mass mention,
/// a user mention, `&` and `<`).
pub const MARKDOWN_ANSWER: &str =
    "Our plans are on [the pricing page](https://hearth.example/pricing).
- **Growth**: $39 per seat & <more>
- Write to [sales](mailto:sales@hearth.example)
No [trick](javascript:alert(1)) @everyone <@123>";

/// Makes `pipeline` answer `intent` with [`MARKDOWN_ANSWER`] when no persona has its own answer
/// (as a hot reload of the catalog would): the one place tests know how answers are kept.
pub fn answer_in_markdown(pipeline: &Pipeline, intent: &str) {
    let rules = pipeline.rules();
    let mut catalog = (*rules.catalog).clone();
    let found = catalog
        .intents
        .iter_mut()
        .find(|i| i.id == intent)
        .unwrap_or_else(|| panic!("no intent {intent}"));
    found
        .answers
        .insert("default".into(), vec![MARKDOWN_ANSWER.into()]);
    pipeline.reload(Rules {
        catalog: Arc::new(catalog),
        ..(*rules).clone()
    });
}

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_personabot");

/// The repository root (holds the shipped catalog and personabot.toml).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// tests/fixtures.
pub fn fixtures() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Non-empty stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| !l.is_empty()).collect()
    }

    /// Each stdout line parsed as JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}\n{self:?}"))
            })
            .collect()
    }

    /// Panics with the whole run when the exit code is not `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self:#?}");
        self
    }

    pub fn expect_ok(&self) -> &Self {
        self.expect_code(0)
    }
}

/// Runs `personabot --data <data> ARGS` in `cwd`, feeding `stdin` (empty input when `None`).
pub fn run_in(cwd: &Path, data: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    run_in_bytes(cwd, data, args, stdin.unwrap_or("").as_bytes())
}

/// [`run_in`] with raw `stdin` bytes (which need not be UTF-8).
pub fn run_in_bytes(cwd: &Path, data: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG");
    // Settings can be overridden from the environment; tests use the built-in/shipped values.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PERSONABOT") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().expect("spawn personabot");
    let input = stdin.to_vec();
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // Written from a thread: the child may fill its stdout pipe before it has read all input.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for personabot");
    writer.join().expect("stdin writer");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Every file under `dir`, in any depth.
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Whether `needle` occurs in `haystack`, ignoring ASCII case.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// For each needle, the files (relative paths) whose raw bytes contain it (ignoring ASCII
/// case): how the privacy tests look for data in sled's files.
pub fn grep_raw(dir: &Path, needles: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    assert!(!files.is_empty(), "no files under {}", dir.display());
    let mut hits: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in needles {
            if contains(&bytes, needle.as_bytes()) {
                let rel = file.strip_prefix(dir).unwrap_or(file).display().to_string();
                hits.entry((*needle).to_string()).or_default().push(rel);
            }
        }
    }
    hits
}

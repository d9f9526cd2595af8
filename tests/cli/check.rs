//! `personabot check`: the shipped catalog, and the built-in one in an empty folder.

use crate::harness::{ok_summary, toml_files, Env};
use crate::support::{repo_root, run_in};

#[test]
fn check_passes_on_the_shipped_catalog() {
    let data = tempfile::tempdir().expect("tempdir");
    let run = run_in(&repo_root(), data.path(), &["check"], None);
    run.expect_ok();
    let personas = toml_files(&repo_root().join("personas"));
    let intents = toml_files(&repo_root().join("intents"));
    let summary = ok_summary(&run);
    let expected = format!("ok: {personas} personas, {intents} intents, 7 teams; ");
    assert!(
        summary.starts_with(&expected),
        "{summary:?} should start with {expected:?}"
    );
    let written: Vec<_> = std::fs::read_dir(data.path()).expect("read data").collect();
    assert!(
        written.is_empty(),
        "check must not open the store: {written:?}"
    );
}

#[test]
fn check_in_an_empty_folder_uses_the_built_in_catalog() {
    let env = Env::new();
    let run = run_in(env.cwd(), &env.data(), &["check"], None);
    run.expect_ok();
    // The built-in catalog is the shipped one, compiled in: same counts, same examples.
    let shipped = run_in(&repo_root(), &env.data(), &["check"], None);
    shipped.expect_ok();
    assert_eq!(ok_summary(&run), ok_summary(&shipped));
    // Nothing was written next to the caller.
    let entries: Vec<_> = std::fs::read_dir(env.cwd()).expect("read cwd").collect();
    assert!(entries.is_empty(), "check wrote files: {entries:?}");
}

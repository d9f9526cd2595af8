//! Bad input: usage errors exit 2, and a missing catalog folder fails clearly.

use crate::harness::Env;
use crate::support::run_in;

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        &["check", "--no-such-flag"][..],
        &["--frobnicate", "check"],
        &["classify"],
        &["classify", "--json", "--summary", "-"],
        &["tickets", "claim", "1"],
        &["tickets", "show", "not-a-number"],
        &["no-such-command"],
    ] {
        let run = env.run(args, None);
        run.expect_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
    }
}

#[test]
fn a_missing_catalog_folder_fails_clearly() {
    let env = Env::new();
    let missing = env.cwd().join("nonexistent");
    let missing = missing.to_str().expect("path");
    let run = run_in(
        env.cwd(),
        &env.data(),
        &["--catalog", missing, "check"],
        None,
    );
    run.expect_code(1);
    assert_eq!(run.lines().len(), 2, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("{missing}/personas:1:1: cannot read folder")),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("{missing}/intents:1:1: cannot read folder")),
        "{run:?}"
    );

    // Other commands refuse to start, and say why.
    let run = run_in(
        env.cwd(),
        &env.data(),
        &["--catalog", missing, "classify", "hi"],
        None,
    );
    run.expect_code(1);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("cannot read folder"), "{run:?}");
    assert!(
        run.stderr
            .contains("error: the catalog has 2 error(s); run `personabot check`"),
        "{run:?}"
    );
}

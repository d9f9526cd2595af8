//! `tickets search` and saved replies in `check`, with the real binary.

use std::path::Path;

use crate::harness::Env;
use crate::support::{repo_root, run_in};

fn ids(run: &crate::support::Run) -> Vec<u64> {
    run.json_lines()
        .iter()
        .map(|t| t["id"].as_u64().expect("an id"))
        .collect()
}

#[test]
fn tickets_search_combines_words_and_filters() {
    let env = Env::new();
    let refund = env.chat("c1", "U1", &["I want a refund, I was charged twice"])[0]["ticket"]["id"]
        .as_u64()
        .expect("a ticket");
    let quote = env.chat(
        "c2",
        "U2",
        &["we are 2000 employees and procurement needs an enterprise quote, can I talk to a person?"],
    )[0]["ticket"]["id"]
        .as_u64()
        .expect("a ticket");
    let search = |args: &[&str]| {
        let mut all = vec!["tickets", "search", "--json"];
        all.extend_from_slice(args);
        ids(&env.ok(&all))
    };
    assert_eq!(search(&[]), [quote, refund], "newest first");
    assert_eq!(search(&["charged", "TWICE"]), [refund]);
    assert_eq!(search(&["quote"]), [quote]);
    assert_eq!(search(&["quote", "--team", "billing"]), Vec::<u64>::new());
    assert_eq!(search(&["--team", "billing", "--status", "open"]), [refund]);
    assert_eq!(
        search(&["--intent", "refund", "--since", "2020-01-01"]),
        [refund]
    );
    assert_eq!(search(&["--until", "2020-01-01"]), Vec::<u64>::new());

    let table = env.ok(&["tickets", "search", "procurement"]);
    assert!(
        table
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("sales")),
        "{table:?}"
    );
    let none = env.ok(&["tickets", "search", "zebra"]);
    assert!(none.stdout.contains("(no tickets match)"), "{none:?}");
    let bad = env.run(&["tickets", "search", "--since", "yesterday"], None);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("`yesterday` is not a date"), "{bad:?}");
}

/// Copies the shipped catalog (personas, intents, replies) into `dir`.
fn copy_catalog(dir: &Path) {
    for folder in ["personas", "intents", "replies"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for entry in std::fs::read_dir(repo_root().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(folder).join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn check_reports_every_saved_reply_mistake_at_path_line_col() {
    let env = Env::new();
    let cat = env.cwd().join("cat");
    copy_catalog(&cat);
    let ok = run_in(&cat, &env.data(), &["--catalog", ".", "check"], None);
    assert_eq!(ok.code, Some(0), "the shipped replies check: {ok:?}");
    std::fs::write(
        cat.join("replies/billing.toml"),
        "[fine]\ntext = \"ok\"\n\n[typo]\ntext = \"Hi {custmer}\"\n",
    )
    .unwrap();
    std::fs::write(cat.join("replies/nobody.toml"), "[a]\ntext = \"x\"\n").unwrap();
    let run = run_in(&cat, &env.data(), &["--catalog", ".", "check"], None);
    assert_eq!(run.code, Some(1), "{run:?}");
    let out = format!("{}{}", run.stdout, run.stderr);
    for want in [
        "replies/billing.toml:5:12: `typo.text`: unknown placeholder `{custmer}`",
        "replies/nobody.toml:1:1: saved replies for `nobody`, which is not a team",
    ] {
        assert!(out.contains(want), "{want}\nin:\n{out}");
    }
}

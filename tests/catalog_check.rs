//! `personabot --catalog <fixture> check` over broken catalogs in tests/fixtures: the exact
//! `path:line:col: message` lines on stdout, exit code 1, and every error of a run at once.
//!
//! Runs from tests/fixtures with a relative `--catalog`, so the printed paths are stable.
//! Each expected line comes with an anchor: the text the position must point at in the file
//! (an empty anchor means "the end of that line", where TOML syntax errors point).

mod support;

use std::path::Path;

use support::{fixtures, run_in, Run};

fn check(catalog: &str) -> Run {
    check_with(&["--catalog", catalog, "check"])
}

fn check_with(args: &[&str]) -> Run {
    let data = tempfile::tempdir().expect("tempdir");
    run_in(&fixtures(), data.path(), args, None)
}

/// Splits `path:line:col: message`.
fn parse_diagnostic(line: &str) -> (&str, usize, usize, &str) {
    let mut parts = line.splitn(4, ':');
    let mut next = || {
        parts
            .next()
            .unwrap_or_else(|| panic!("not path:line:col: message: {line}"))
    };
    let path = next();
    let row = next()
        .parse()
        .unwrap_or_else(|_| panic!("bad line number in {line}"));
    let col = next()
        .parse()
        .unwrap_or_else(|_| panic!("bad column in {line}"));
    let message = next()
        .strip_prefix(' ')
        .expect("a space after path:line:col:");
    (path, row, col, message)
}

/// The rest of line `row` of a fixture file from column `col` (1-based, in characters).
fn text_from(path: &str, row: usize, col: usize) -> String {
    let text = std::fs::read_to_string(fixtures().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    let line = text
        .split('\n')
        .nth(row - 1)
        .unwrap_or_else(|| panic!("{path} has no line {row}"));
    let line = line.strip_suffix('\r').unwrap_or(line);
    let chars: Vec<char> = line.chars().collect();
    assert!(
        col <= chars.len() + 1,
        "{path}:{row}:{col} is past the end of the line {line:?}"
    );
    chars[col - 1..].iter().collect()
}

/// Asserts that `check` fails with exactly `expected` on stdout (in order) and the error count
/// on stderr, and that each position points at its anchor.
fn assert_check_fails(catalog: &str, expected: &[(&str, &str)]) {
    assert_fails_with(&["--catalog", catalog, "check"], expected);
}

/// [`assert_check_fails`] for any arguments (e.g. with `--config`).
fn assert_fails_with(args: &[&str], expected: &[(&str, &str)]) {
    let catalog = args.join(" ");
    let run = check_with(args);
    run.expect_code(1);
    // The tool prints files in the order it reads them and, within a file, by position.
    let mut want: Vec<&str> = expected.iter().map(|(line, _)| *line).collect();
    let mut files: Vec<&str> = Vec::new();
    for line in &want {
        let (path, ..) = parse_diagnostic(line);
        if !files.contains(&path) {
            files.push(path);
        }
    }
    want.sort_by_key(|line| {
        let (path, row, col, _) = parse_diagnostic(line);
        (files.iter().position(|f| *f == path), row, col)
    });
    assert_eq!(run.lines(), want, "stdout of `check` on {catalog}");
    let count = format!("{} error(s)", expected.len());
    assert!(
        run.stderr.lines().any(|l| l == count),
        "stderr should say {count:?}: {:?}",
        run.stderr
    );
    for (line, anchor) in expected {
        let (path, row, col, _) = parse_diagnostic(line);
        let at = text_from(path, row, col);
        if anchor.is_empty() {
            assert_eq!(at, "", "{line}\n  should point at the end of the line");
        } else {
            assert!(
                at.starts_with(anchor),
                "{line}\n  points at {at:?}, expected {anchor:?}"
            );
        }
    }
}

const INTENT_KEYS: &str =
    "name, description, label, threshold, priority, exclude, keywords, exact, patterns, route, answers, feedback, examples, not_helped, parts";
const TEAMS: &str = "billing, investors, people, press, sales, security, support";

#[test]
fn unknown_keys_are_reported_at_top_level_and_in_every_nested_table() {
    let route_personas = "broken-keys/intents/pricing.toml:17:46: unknown key `route.personas.founder.urgent` (expected one of: kind, team)";
    let top = format!("broken-keys/intents/pricing.toml:2:1: unknown key `descripton` (expected one of: {INTENT_KEYS})");
    assert_check_fails(
        "broken-keys",
        &[
            ("broken-keys/personas/founder.toml:2:1: unknown key `colour` (expected one of: name, kind, owner, who, age, location, goals, challenges, threshold, keywords, exact, patterns)", "colour"),
            ("broken-keys/intents/pricing.toml:9:1: unknown key `patterns[0].wieght` (expected one of: regex, weight)", "wieght"),
            (route_personas, "urgent"),
            ("broken-keys/intents/pricing.toml:14:1: unknown key `route.queue` (expected one of: kind, team, personas)", "queue"),
            ("broken-keys/intents/pricing.toml:22:1: unknown key `examples[0].expect` (expected one of: text, context, intent, persona, route, team, answer, conversation)", "expect"),
            (&top, "descripton"),
        ],
    );
}

#[test]
fn wrong_types_and_out_of_range_numbers_point_at_the_value() {
    assert_check_fails(
        "broken-types",
        &[
            ("broken-types/personas/founder.toml:3:18: `goals[1]` must be a string, found an integer", "3]"),
            ("broken-types/personas/founder.toml:2:13: `threshold` must be a number, found a string", "\"high\""),
            ("broken-types/personas/founder.toml:7:1: `keywords.startup` weight must be between -10 and 10, found 11", "startup"),
            ("broken-types/personas/founder.toml:8:1: `keywords.\"seed round\"` must be a number (the weight), found a string", "\"seed round\""),
            ("broken-types/intents/pricing.toml:2:13: `threshold` must be between 0 and 1, found 1.5", "1.5"),
            ("broken-types/intents/pricing.toml:3:12: `priority` must be between -100 and 100, found 1000", "1000"),
            ("broken-types/intents/pricing.toml:6:1: `keywords.price` weight must be between -10 and 10, found -10.5", "price"),
            ("broken-types/intents/pricing.toml:11:10: `patterns[0].weight` must be between -10 and 10, found 20", "20"),
            ("broken-types/intents/pricing.toml:14:8: `route.kind` must be one of answer, ticket, escalate, fallback, found `sometimes`", "\"sometimes\""),
            ("broken-types/intents/pricing.toml:15:8: `route.team` must be a string, found an integer", "7"),
        ],
    );
}

#[test]
fn bad_regex_and_unknown_teams_personas_and_intents() {
    let team = |path: &str, team: &str| {
        format!("`{path}`: unknown team `{team}` (teams in settings: {TEAMS})")
    };
    let route_team = format!(
        "broken-refs/intents/pricing.toml:15:8: {}",
        team("route.team", "marketing")
    );
    let override_team = format!(
        "broken-refs/intents/pricing.toml:18:37: {}",
        team("route.personas.founder.team", "growth")
    );
    let example_team = format!(
        "broken-refs/intents/pricing.toml:29:8: {}",
        team("examples[0].team", "finance")
    );
    assert_check_fails(
        "broken-refs",
        &[
            ("broken-refs/intents/pricing.toml:7:9: `patterns[0].regex` is not a valid regex: regex parse error: \\bhow (much|many\\b ^ error: unclosed group", "'\\bhow (much|many\\b'"),
            ("broken-refs/intents/pricing.toml:10:1: `patterns[1]` is missing `regex`", "[[patterns]]"),
            ("broken-refs/intents/pricing.toml:23:1: `answers.cfo`: unknown persona `cfo` (answers are keyed by persona id or `default`)", "cfo"),
            (&route_team, "\"marketing\""),
            (&override_team, "\"growth\""),
            ("broken-refs/intents/pricing.toml:19:1: `route.personas.investor`: unknown persona `investor`", "investor"),
            ("broken-refs/intents/pricing.toml:27:10: `examples[0].intent`: unknown intent `pricng`", "\"pricng\""),
            ("broken-refs/intents/pricing.toml:28:11: `examples[0].persona`: unknown persona `ceo`", "\"ceo\""),
            (&example_team, "\"finance\""),
        ],
    );
}

#[test]
fn settings_errors_and_catalog_errors_are_reported_together() {
    assert_fails_with(
        &["--config", "broken-settings.toml", "--catalog", "broken-refs", "check"],
        &[
            ("broken-settings.toml:2:2: unknown key `clasify` (expected one of: classify, limits, store, privacy, teams, http, discord, slack, telegram, bridges, brand, cluster)", "clasify]"),
            ("broken-settings.toml:6:1: unknown key `classify.intent_treshold` (expected one of: intent_threshold, persona_threshold, margin, max_misses, inflections, typos, typo_weight)", "intent_treshold"),
            ("broken-settings.toml:7:10: `classify.margin` must be between 0 and 1, found 1.5", "1.5"),
            ("broken-settings.toml:11:16: `teams.sales.discord_role` `sales-agents` is not a numeric id", "\"sales-agents\""),
            ("broken-refs/intents/pricing.toml:7:9: `patterns[0].regex` is not a valid regex: regex parse error: \\bhow (much|many\\b ^ error: unclosed group", "'\\bhow (much|many\\b'"),
            ("broken-refs/intents/pricing.toml:10:1: `patterns[1]` is missing `regex`", "[[patterns]]"),
            ("broken-refs/intents/pricing.toml:23:1: `answers.cfo`: unknown persona `cfo` (answers are keyed by persona id or `default`)", "cfo"),
            ("broken-refs/intents/pricing.toml:15:8: `route.team`: unknown team `marketing` (teams in settings: billing, investors, people, press, sales, security, support)", "\"marketing\""),
            ("broken-refs/intents/pricing.toml:18:37: `route.personas.founder.team`: unknown team `growth` (teams in settings: billing, investors, people, press, sales, security, support)", "\"growth\""),
            ("broken-refs/intents/pricing.toml:19:1: `route.personas.investor`: unknown persona `investor`", "investor"),
            ("broken-refs/intents/pricing.toml:27:10: `examples[0].intent`: unknown intent `pricng`", "\"pricng\""),
            ("broken-refs/intents/pricing.toml:28:11: `examples[0].persona`: unknown persona `ceo`", "\"ceo\""),
            ("broken-refs/intents/pricing.toml:29:8: `examples[0].team`: unknown team `finance` (teams in settings: billing, investors, people, press, sales, security, support)", "\"finance\""),
        ],
    );
}

#[test]
fn invalid_toml_does_not_hide_the_errors_of_other_files() {
    // One run reports: duplicate keyword spellings in a persona, a syntax error in two intent
    // files, and an unknown key in a third intent file that sorts between them.
    let prio = format!("broken-syntax/intents/pricing.toml:2:1: unknown key `prio` (expected one of: {INTENT_KEYS})");
    assert_check_fails(
        "broken-syntax",
        &[
            ("broken-syntax/personas/founder.toml:4:1: duplicate keyword `keywords.\"co founder\"`: it matches the same words as `co-founder`", "\"co founder\""),
            ("broken-syntax/personas/founder.toml:6:1: duplicate keyword `keywords.Founder`: it matches the same words as `founder`", "\"Founder\""),
            ("broken-syntax/intents/billing.toml:5:10: invalid TOML: string values must be quoted, expected literal string", ""),
            (&prio, "prio"),
            ("broken-syntax/intents/refund.toml:1:10: invalid TOML: unclosed table, expected `]`", ""),
        ],
    );
}

#[test]
fn file_stems_must_be_valid_ids() {
    let rule =
        "the file stem must be lowercase letters, digits and `-` (and not `none` or `default`)";
    let lines: Vec<String> = [
        ("broken-ids/personas/Bad_Name.toml", "persona", "Bad_Name"),
        ("broken-ids/personas/default.toml", "persona", "default"),
        ("broken-ids/intents/-dash.toml", "intent", "-dash"),
        ("broken-ids/intents/none.toml", "intent", "none"),
    ]
    .iter()
    .map(|(path, what, stem)| format!("{path}:1:1: invalid {what} id `{stem}`: {rule}"))
    .collect();
    let run = check("broken-ids");
    run.expect_code(1);
    assert_eq!(run.lines(), lines);
    assert!(run.stderr.contains("4 error(s)"), "{run:?}");
}

#[test]
fn answer_routes_need_answer_texts() {
    let route =
        "route kind `answer` needs `answers.default` (the answer for unknown or other personas)";
    let pricing = format!("broken-answers/intents/pricing.toml:10:2: {route}");
    let refund = format!("broken-answers/intents/refund.toml:4:2: {route}");
    assert_check_fails(
        "broken-answers",
        &[
            // With [answers] (but no default): at the `answers` key of its header.
            (&pricing, "answers]"),
            // Without [answers]: at the `route` key.
            (&refund, "route]"),
            // At the override that answers without an answer text.
            ("broken-answers/intents/setup.toml:9:1: `route.personas.it-buyer` answers persona `it-buyer` but there is no `answers.it-buyer` or `answers.default`", "it-buyer"),
        ],
    );
}

#[test]
fn answer_variants_parts_and_links_are_checked() {
    let link = |url: &str| {
        format!("link `{url}` must start with http:, https: or mailto: (answers may link only to those)")
    };
    let at = |line: usize, col: usize, what: &str| {
        format!("broken-parts/intents/pricing.toml:{line}:{col}: {what}")
    };
    assert_check_fails(
        "broken-parts",
        &[
            // In an A/B test's second text, at the link's target.
            (&at(9, 38, &format!("`answers.default[1]`: {}", link("javascript:alert(1"))), "javascript:"),
            (&at(12, 23, &format!("`answers.founder`: {}", link("hearth.example/startups"))), "hearth.example/startups)"),
            (&at(19, 23, &format!("`parts[0].text`: {}", link("ftp://hearth.example/trial"))), "ftp:"),
            (&at(22, 6, "`parts[1].id`: duplicate part id `trial`"), "\"trial\""),
            (&at(27, 6, "`parts[2].id` = \"Bad Id\" must be lowercase letters, digits and `-` (and not `default`)"), "\"Bad Id\""),
            (&at(28, 12, "`parts[2].keywords` needs at least one term"), "[]"),
            (&at(29, 11, "`parts[2].persona`: unknown persona `cfo`"), "\"cfo\""),
            (&at(31, 1, "unknown key `parts[2].colour` (expected one of: id, keywords, persona, text)"), "colour"),
            (&at(33, 1, "`parts[3]` is missing `id`"), "[[parts]]"),
            (&at(33, 1, "`parts[3]` is missing `text`"), "[[parts]]"),
            (&at(34, 13, "`parts[3].keywords[0]` has no words to match"), "\"!!\""),
        ],
    );
}

#[test]
fn inline_tables_dotted_keys_crlf_and_unicode_columns() {
    let zzz = format!("broken-inline/intents/inline.toml:1:35: `route.team`: unknown team `zzz` (teams in settings: {TEAMS})");
    let nope = format!("broken-inline/intents/pricing.toml:2:14: `route.team`: unknown team `nope` (teams in settings: {TEAMS})");
    assert_check_fails(
        "broken-inline",
        &[
            ("broken-inline/intents/inline.toml:6:1: `keywords.\"!!\"` has no words to match", "\"!!\""),
            ("broken-inline/intents/inline.toml:3:12: `patterns` must be an array of tables, found a string", "\"x\""),
            // Columns count characters: "ĭ" is two bytes but one column.
            ("broken-inline/intents/inline.toml:1:18: `route.kind` must be one of answer, ticket, escalate, fallback, found `tĭcket`", "\"tĭcket\""),
            (&zzz, "\"zzz\""),
            ("broken-inline/intents/inline.toml:1:42: unknown key `route.extra` (expected one of: kind, team, personas)", "extra"),
            ("broken-inline/intents/inline.toml:2:41: `examples[1]` must be a table, found a string", "\"str\""),
            ("broken-inline/intents/inline.toml:2:28: unknown key `examples[0].bogus` (expected one of: text, context, intent, persona, route, team, answer, conversation)", "bogus"),
            // pricing.toml has CRLF line endings and dotted `route.*` keys.
            ("broken-inline/intents/pricing.toml:7:3: `keywords.prix` weight must be between -10 and 10, found 11", "\"prix\""),
            ("broken-inline/intents/pricing.toml:10:1: `answers.default` is empty", "default"),
            ("broken-inline/intents/pricing.toml:11:11: `answers.founder` must be a string or an array of strings (an A/B test), found an integer", "3"),
            (&nope, "\"nope\""),
            ("broken-inline/intents/pricing.toml:9:2: route kind `answer` needs `answers.default` (the answer for unknown or other personas)", "answers]"),
        ],
    );
    let crlf = std::fs::read(fixtures().join("broken-inline/intents/pricing.toml")).expect("read");
    assert!(
        crlf.windows(2).any(|w| w == b"\r\n"),
        "the fixture must keep its CRLF line endings"
    );
}

#[test]
fn failing_examples_are_reported_at_the_example() {
    let run = check("failing-example");
    run.expect_code(1);
    let expected = [
        "failing-example/intents/pricing.toml:15:1: example \"I want a refund\": intent pricing expected, got refund (refund goes to billing)",
        "failing-example/intents/pricing.toml:19:3: example \"how much for my startup?\": route ticket expected, got answer (self-help answer for pricing)",
        "failing-example/intents/pricing.toml:19:3: example \"how much for my startup?\": team sales expected, got none (self-help answer for pricing)",
        "failing-example/intents/refund.toml:13:1: example \"what is the price?\": intent none expected, got pricing (self-help answer for pricing)",
    ];
    assert_eq!(run.lines(), expected);
    for line in expected {
        let (path, row, col, _) = parse_diagnostic(line);
        assert!(
            text_from(path, row, col).starts_with("[[examples]]"),
            "{line}"
        );
    }
    assert!(
        run.stderr.lines().any(|l| l == "4 of 5 examples failed"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("ok:"), "{run:?}");
}

#[test]
fn a_catalog_of_keywords_only_files_is_valid() {
    let run = check("minimal");
    run.expect_ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(
        lines[0].starts_with("ok: 1 personas, 1 intents, 7 teams; 0 examples pass; 3 terms and 0 patterns compiled in "),
        "{run:?}"
    );
    // An intent with only [keywords] routes to a ticket for `support` (no [answers], no [route]).
    let data = tempfile::tempdir().expect("tempdir");
    let run = run_in(
        &fixtures(),
        data.path(),
        &[
            "--catalog",
            "minimal",
            "classify",
            "--json",
            "I want my money back",
        ],
        None,
    );
    run.expect_ok();
    let json = &run.json_lines()[0];
    assert_eq!(json["intent"]["id"], "refund");
    assert_eq!(
        json["route"],
        serde_json::json!({"kind": "ticket", "team": "support", "answer": null})
    );
}

#[test]
fn a_catalog_without_intents_is_an_error() {
    let run = check("no-intents");
    run.expect_code(1);
    let lines = run.lines();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(
        lines[0].ends_with(":1:1: the catalog has no intents"),
        "{run:?}"
    );
}

#[test]
fn a_catalog_without_intents_names_its_intents_folder() {
    let run = check("no-intents");
    assert_eq!(
        run.lines(),
        ["no-intents/intents:1:1: the catalog has no intents"]
    );
}

#[test]
fn paths_are_printed_as_given_on_the_command_line() {
    let absolute = fixtures().join("broken-keys");
    let cwd = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let run = run_in(
        cwd.path(),
        data.path(),
        &["--catalog", absolute.to_str().expect("UTF-8 path"), "check"],
        None,
    );
    run.expect_code(1);
    let relative = check("broken-keys");
    assert_eq!(run.lines().len(), relative.lines().len());
    let prefix = format!("{}", absolute.display());
    for (abs, rel) in run.lines().iter().zip(relative.lines()) {
        let rest = rel.strip_prefix("broken-keys").expect("relative path");
        assert_eq!(*abs, format!("{prefix}{rest}"));
    }
}

#[test]
fn a_missing_catalog_folder_is_reported_per_folder() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let run = run_in(
        cwd.path(),
        data.path(),
        &["--catalog", "missing", "check"],
        None,
    );
    run.expect_code(1);
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(
        lines[0].starts_with("missing/personas:1:1: cannot read folder: "),
        "{run:?}"
    );
    assert!(
        lines[1].starts_with("missing/intents:1:1: cannot read folder: "),
        "{run:?}"
    );
    assert!(!Path::new(&cwd.path().join("missing")).exists());
}

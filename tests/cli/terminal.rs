//! The terminal channel itself (what `personabot chat` runs), on a real pipeline and sled: the
//! `/helped` and `/human` hints follow the turn's actions, answers show their markdown as plain
//! text, and `--json` keeps the markdown as the API returns it.

use personabot::channels::terminal::{self, TerminalOptions};
use personabot::store::Store;

use crate::support;

fn session(json: bool, interactive: bool, input: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Some("terminal-test-key")).expect("store");
    let pipeline = support::pipeline_on(store);
    support::answer_in_markdown(&pipeline, "pricing");
    let options = TerminalOptions {
        conversation: "t1".into(),
        user: "u1".into(),
        json,
        interactive,
    };
    let mut out = Vec::new();
    terminal::run(&pipeline, &options, &mut input.as_bytes(), &mut out).expect("the session runs");
    String::from_utf8(out).expect("UTF-8 output")
}

#[test]
fn hints_follow_the_actions_and_answers_read_as_plain_text() {
    let out = session(false, true, "hi\nHow much does Hearth cost?\n");
    // The input is not echoed: each turn's output follows its prompt.
    let turns: Vec<&str> = out.split("you> ").collect();
    let (greeting, answer) = (turns[1], turns[2]);
    assert!(greeting.contains("bot> Hi there"), "{out}");
    assert!(
        !greeting.contains("/helped if"),
        "no hint under a greeting: {greeting}"
    );
    assert!(
        answer.contains(
            "bot> Our plans are on the pricing page (https://hearth.example/pricing).\n     \
             - Growth: $39 per seat & <more>\n     \
             - Write to sales (sales@hearth.example)\n     \
             No trick @everyone <@123>"
        ),
        "{out}"
    );
    assert!(
        answer.contains("(/helped if that solved it, /human to talk to a person)"),
        "{out}"
    );
}

#[test]
fn json_turns_keep_the_answer_markdown() {
    let out = session(true, false, "How much does Hearth cost?\n");
    let turn: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(turn["reply"], support::MARKDOWN_ANSWER);
    assert_eq!(turn["actions"], serde_json::json!(["helped", "human"]));
}

//! The customer's conversation in the web chat, in Chromium: buttons only where the turn's
//! `actions` say (under an answer, not under a greeting), a clarifying question's options as
//! buttons, an answer's markdown rendered safely, a handoff and an agent's reply; a reload and
//! a new tab bring the transcript, the banner and the reply back; "New conversation" forgets it;
//! the rate-limit notice is a line of its own.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::browser::{Browser, Page};
use crate::server::Server;
use crate::workdir::Workdir;
use crate::{chromium_or_skip, LAST_BOT, QUESTION};

const CLARIFY: &str = "how much does it cost and can I get a refund?";
const STARTED: &str = "How do I get started?";
const HUMAN: &str = "I want to talk to a human";
const AGENT_REPLY: &str = "Hi, Sam from Sales. I'll email you the startup discount form.";
/// A line of markdown the test catalog adds to every onboarding answer.
/// (A `javascript:` link would be refused by `check`, so only safe schemes reach the page.)
const MARKDOWN: &str = "**Step-by-step guides** are at [the help center](https://help.hearth.example/start) (or [write to us](mailto:help@hearth.example)).";

/// The shipped catalog, copied into `root`, with a line of markdown in [`STARTED`]'s answers.
fn markdown_catalog(root: &Path) -> PathBuf {
    let catalog = root.join("catalog");
    for dir in ["personas", "intents"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::create_dir_all(catalog.join(dir)).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().is_some_and(|n| n == "onboarding.toml") {
                // Each answer ends with a line of its own closing the multi-line string.
                let closings = text.matches("\n\"\"\"\n").count();
                assert!(
                    closings >= 4,
                    "the onboarding answers changed shape: update this test's markdown answer"
                );
                text = text.replace("\n\"\"\"\n", &format!("\n{MARKDOWN}\n\"\"\"\n"));
            }
            std::fs::write(catalog.join(dir).join(path.file_name().unwrap()), text).unwrap();
        }
    }
    catalog
}

fn say(b: &mut Browser, page: &Page, text: &str) {
    let before = b.wait_value(
        page,
        "the messages so far",
        "document.querySelectorAll('#messages .msg.user').length",
        Value::is_number,
    );
    b.type_into(page, "#input", text);
    b.press_enter(page);
    let want = before.as_u64().unwrap() + 1;
    b.wait_eq(
        page,
        &format!("{text:?} sent and answered"),
        "[document.querySelectorAll('#messages .msg.user').length, !document.querySelector('#messages .typing')]",
        json!([want, true]),
    );
}

const USER_LINES: &str =
    "[...document.querySelectorAll('#messages .msg.user .bubble')].map(e => e.textContent)";
const AGENT_LINES: &str =
    "[...document.querySelectorAll('#messages .msg.agent .bubble')].map(e => e.textContent)";
const BANNERS: &str =
    "[...document.querySelectorAll('#banners .banner-title')].map(e => e.textContent)";

#[test]
fn the_conversation_survives_reloads_and_new_tabs_with_buttons_that_mean_something() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let root = work.path().to_path_buf();
    let catalog = markdown_catalog(&root);
    let server = Server::start_with(
        &root,
        &catalog,
        &[
            ("PERSONABOT__LIMITS__FLOOD_MESSAGES", "8"),
            ("PERSONABOT__LIMITS__FLOOD_WINDOW_SECS", "600"),
        ],
    );
    let base = server.url("");
    let mut b = Browser::launch(&chromium, &root);
    b.server_log = Some(server.log.clone());
    let chat = b.new_page("chat");
    b.navigate(&chat, &format!("{base}/"));

    // A greeting: a reply, its list as a list, and no buttons.
    say(&mut b, &chat, "hi");
    b.wait_eq(
        &chat,
        "the greeting without buttons, its list items as a list",
        &format!("(m => [m.querySelectorAll('button').length, m.querySelectorAll('.bubble li').length > 1])({LAST_BOT})"),
        json!([0, true]),
    );
    // An answer: "That helped" / "Talk to a human", because its actions say so.
    say(&mut b, &chat, QUESTION);
    b.wait_eq(
        &chat,
        "the feedback buttons under the answer",
        &format!("[...{LAST_BOT}.querySelectorAll('button')].map(e => e.dataset.action)"),
        json!(["helped", "human"]),
    );
    b.wait_eq(
        &chat,
        "still no buttons under the greeting",
        "[...document.querySelectorAll('#messages .msg.bot:not(.welcome):not(.typing)')].map(m => m.querySelectorAll('button').length)",
        json!([0, 2]),
    );
    b.step_screenshot(&chat, "c1-buttons-under-answer-not-greeting");

    // A clarifying question: its options as buttons; pressing one sends its name.
    say(&mut b, &chat, CLARIFY);
    b.wait_eq(
        &chat,
        "the clarifying question's options as buttons",
        &format!("[...{LAST_BOT}.querySelectorAll('button[data-choice]')].map(e => [e.dataset.choice, e.textContent])"),
        json!([["pricing", "Pricing"], ["refund", "Refund"]]),
    );
    b.wait_eq(
        &chat,
        "no feedback buttons left on the earlier answer",
        "document.querySelectorAll('#messages [data-action]').length",
        json!(0),
    );
    b.step_screenshot(&chat, "c2-clarify-buttons");
    b.click(&chat, "#messages button[data-choice=\"pricing\"]");
    b.wait_eq(
        &chat,
        "the option's name sent as the customer's message, answered",
        &format!("[{USER_LINES}.pop(), document.querySelectorAll('#messages [data-choice]').length, [...{LAST_BOT}.querySelectorAll('button')].map(e => e.dataset.action)]"),
        // Pricing was answered above: a pointer to it, offering only a person.
        json!(["Pricing", 0, ["human"]]),
    );

    // A markdown answer: bold, a list, an https and a mailto link.
    say(&mut b, &chat, STARTED);
    b.wait_eq(
        &chat,
        "the answer's markdown as elements",
        &format!(
            "(m => {{ const b = m.querySelector('.bubble'); return [\
             [...b.querySelectorAll('a')].filter(a => ['the help center', 'write to us'].includes(a.textContent)).map(a => [a.textContent, a.href, a.rel, a.target]), \
             [...b.querySelectorAll('a')].every(a => /^(https?:|mailto:)/.test(a.href) && a.rel === 'noopener'), \
             [...b.querySelectorAll('strong')].map(s => s.textContent), \
             b.querySelectorAll('li').length, \
             b.textContent.includes('](') || b.textContent.includes('**'), \
             b.querySelectorAll('script, [onclick], [onerror]').length]; }})({LAST_BOT})"
        ),
        json!([
            [[
                "the help center",
                "https://help.hearth.example/start",
                "noopener",
                "_blank"
            ], [
                "write to us",
                "mailto:help@hearth.example",
                "noopener",
                "_blank"
            ]],
            true,
            ["Step-by-step guides"],
            4,
            false,
            0
        ]),
    );
    b.step_screenshot(&chat, "c3-markdown-answer-with-link");

    // A handoff and an agent's reply.
    say(&mut b, &chat, HUMAN);
    let ticket = b.wait_value(&chat, "the handoff banner", BANNERS, |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
    let title = ticket[0].as_str().unwrap().to_string();
    let id: u64 = title
        .rsplit('#')
        .next()
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| b.fail(&format!("no ticket number in {title:?}")));
    let status = server.agent_post(
        &format!("/v1/tickets/{id}/reply"),
        &json!({ "text": AGENT_REPLY }),
    );
    b.check(status == 200, &format!("the agent's reply: HTTP {status}"));
    b.wait_eq(
        &chat,
        "the agent's reply in the chat",
        AGENT_LINES,
        json!([AGENT_REPLY]),
    );
    let said = json!(["hi", QUESTION, CLARIFY, "Pricing", STARTED, HUMAN]);
    b.wait_eq(
        &chat,
        "everything the customer said",
        USER_LINES,
        said.clone(),
    );

    // A reload: the transcript, the banner and the agent's reply come back from the server.
    b.navigate(&chat, &format!("{base}/"));
    b.wait_eq(
        &chat,
        "the customer's lines after a reload",
        USER_LINES,
        said.clone(),
    );
    b.wait_eq(
        &chat,
        "the agent's reply after a reload",
        AGENT_LINES,
        json!([AGENT_REPLY]),
    );
    b.wait_eq(
        &chat,
        "the banner after a reload",
        BANNERS,
        json!([title.clone()]),
    );
    b.wait_eq(
        &chat,
        "the markdown answer still rendered",
        "[...document.querySelectorAll('#messages .msg.bot a')].map(a => a.href).filter(h => h.endsWith('/start') || h.startsWith('mailto:'))",
        json!(["https://help.hearth.example/start", "mailto:help@hearth.example"]),
    );
    b.step_screenshot(&chat, "c4-restored-after-reload");

    // A new tab: the same conversation.
    let tab = b.new_page("tab");
    b.navigate(&tab, &format!("{base}/"));
    b.wait_eq(
        &tab,
        "the customer's lines in a new tab",
        USER_LINES,
        said.clone(),
    );
    b.wait_eq(
        &tab,
        "the agent's reply in a new tab",
        AGENT_LINES,
        json!([AGENT_REPLY]),
    );
    b.wait_eq(&tab, "the banner in a new tab", BANNERS, json!([title]));
    b.step_screenshot(&tab, "c5-restored-in-new-tab");

    // "New conversation": a fresh chat, and the stored conversation forgotten for every tab.
    b.click(&tab, "#restart");
    b.wait_eq(
        &tab,
        "a fresh chat",
        "[document.querySelectorAll('#messages .msg:not(.welcome)').length, document.querySelectorAll('#banners .banner').length, localStorage.getItem('personabot.chat.conversation'), localStorage.getItem('personabot.chat.token')]",
        json!([0, 0, null, null]),
    );
    b.navigate(&chat, &format!("{base}/"));
    b.wait_eq(
        &chat,
        "the first tab fresh after a reload too",
        "[document.querySelectorAll('#messages .msg:not(.welcome)').length, document.querySelectorAll('#banners .banner').length]",
        json!([0, 0]),
    );
    b.step_screenshot(&chat, "c6-new-conversation");

    // A stored conversation the server does not give back (here, a token that is not its own)
    // is forgotten on load: a fresh chat, no error shown.
    b.wait_eq(
        &chat,
        "a stored conversation that is not ours",
        "localStorage.setItem('personabot.chat.conversation', JSON.stringify('web-00000000-0000-4000-8000-000000000000')), \
         localStorage.setItem('personabot.chat.token', JSON.stringify('0'.repeat(64))), true",
        json!(true),
    );
    b.navigate(&chat, &format!("{base}/"));
    b.wait_eq(
        &chat,
        "the foreign conversation forgotten",
        "[localStorage.getItem('personabot.chat.conversation'), document.querySelector('#notice').hidden, \
          document.querySelectorAll('#messages .msg:not(.welcome)').length]",
        json!([null, true, 0]),
    );

    // The flood limit (8 messages): the ninth gets the notice, on a line of its own.
    for n in 1..=8 {
        say(&mut b, &chat, &format!("hello {n}"));
    }
    b.type_into(&chat, "#input", "hello 9");
    b.press_enter(&chat);
    b.wait_eq(
        &chat,
        "the rate-limit notice, its own line, over nothing",
        "(() => { const n = document.querySelector('#notice'); if (n.hidden) return null; \
         const r = n.getBoundingClientRect(); \
         const apart = s => [...document.querySelectorAll(s)].every(e => { const o = e.getBoundingClientRect(); \
           return r.bottom <= o.top || r.top >= o.bottom || o.height === 0; }); \
         const text = document.querySelector('#notice-text'); \
         return [text.textContent.startsWith(\"You're sending messages faster than we can read them.\"), \
           getComputedStyle(text).display, apart('#input'), apart('#messages'), \
           [...document.querySelectorAll('#messages .msg.user')].pop().querySelector('.failed-note') !== null]; })()",
        json!([true, "block", true, true, true]),
    );
    b.step_screenshot(&chat, "c7-rate-limit-notice");
    // The customer's text stays in the box, to send again.
    b.wait_eq(
        &chat,
        "the unsent text back in the box",
        "document.querySelector('#input').value",
        json!("hello 9"),
    );

    b.close_clean();
    assert_eq!(server.stop(), 0, "serve exits 0 on SIGTERM");
}

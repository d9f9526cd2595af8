//! An agent's day on the agent desk (`/agent`), in Chromium, against a real `personabot serve`:
//! issue #15's "Done when". Dana signs in; a customer on the web chat asks for a human and the
//! ticket appears live (a queue row, a toast and a browser notification, no reload); Dana
//! searches, assigns the ticket to Sam and then to herself ("mine"), picks a saved reply with
//! `/`, writes an internal note the customer never sees, resolves; the customer rates; Dana sees
//! the rating; the customer's next ticket shows the first one in its history.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::browser::{Browser, Page};
use crate::server::Server;
use crate::workdir::Workdir;
use crate::{chromium_or_skip, BIN, QUESTION};

/// The agent of every team who signs in on the page.
pub(crate) const DANA: &str = "dana";
/// Her teammate on Sales.
const SAM: &str = "sam";
/// Another customer's ticket (billing), opened first: the search must leave it out.
pub(crate) const DECOY: &str = "My invoice is wrong, I was charged twice";
/// The customer's second ticket, after the first is resolved.
const AGAIN: &str = "Also, I was charged twice on my last invoice";
const NOTE: &str = "Internal: founder on a budget, offer the startup program";
/// Ids of the queue's rows, in order.
pub(crate) const ROWS: &str =
    "[...document.querySelectorAll('#tickets li[data-ticket-id]')].map(li => Number(li.dataset.ticketId))";
const AGENT_LINES: &str =
    "[...document.querySelectorAll('#messages .msg.agent .bubble')].map(e => e.textContent)";

/// Records each `new Notification(...)` in `window.__notes` and calls through to the real one.
const RECORD_NOTIFICATIONS: &str = "(() => { const Real = window.Notification; if (!Real) return; \
    window.__notes = []; \
    function Recorded(title, options) { window.__notes.push({ title: title, body: options && options.body }); \
      return new Real(title, options); } \
    Recorded.requestPermission = function () { return Real.requestPermission.apply(Real, arguments); }; \
    Object.defineProperty(Recorded, 'permission', { get: function () { return Real.permission; } }); \
    Recorded.prototype = Real.prototype; window.Notification = Recorded; })();";

/// Creates an agent account in the data folder under `root` (before `serve` opens it); its token.
pub(crate) fn add_account(root: &Path, name: &str, teams: &[&str]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data")
        .arg(root.join("data"))
        .args([
            "--catalog",
            env!("CARGO_MANIFEST_DIR"),
            "agents",
            "add",
            name,
        ])
        .current_dir(root);
    for team in teams {
        cmd.args(["--team", team]);
    }
    let out = cmd.output().expect("personabot agents add runs");
    assert!(
        out.status.success(),
        "agents add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().expect("a token").trim().to_string()
}

/// A new tab signed in on `/agent` with `token`, its live stream connected.
pub(crate) fn sign_in(b: &mut Browser, base: &str, token: &str, name: &str) -> Page {
    let agent = b.new_page("agent");
    sign_in_on(b, &agent, base, token, name);
    agent
}

pub(crate) fn sign_in_on(b: &mut Browser, agent: &Page, base: &str, token: &str, name: &str) {
    b.navigate(agent, &format!("{base}/agent"));
    b.type_into(agent, "#token", token);
    b.click(agent, "#login");
    b.wait_eq(
        agent,
        "the desk after signing in, as the account",
        "location.pathname + ' ' + document.querySelector('#agent-who').textContent",
        json!(format!("/agent {name}")),
    );
    b.wait_eq(
        agent,
        "the live stream connected",
        "document.querySelector('#live').textContent",
        json!("● live"),
    );
}

/// The customer types `text` in the web chat and sends it.
pub(crate) fn say(b: &mut Browser, chat: &Page, text: &str) {
    b.type_into(chat, "#input", text);
    b.press_enter(chat);
    b.wait_value(
        chat,
        &format!("{text:?} in the chat"),
        "[...document.querySelectorAll('#messages .msg.user .bubble')].map(e => e.textContent)",
        |v| v.as_array().is_some_and(|a| a.iter().any(|l| l == text)),
    );
}

/// The customer rates their resolved ticket with the chat's "How did we do?" buttons.
fn customer_rates(b: &mut Browser, chat: &Page, rating: u8) {
    let button = format!(".csat button[data-rating=\"{rating}\"]");
    let sel = serde_json::to_string(&button).unwrap();
    b.wait_eq(
        chat,
        "the chat to ask how we did",
        &format!("!!document.querySelector({sel})"),
        json!(true),
    );
    b.click(chat, &button);
    b.wait_value(
        chat,
        "the chat's thanks for the rating",
        "document.querySelector('.csat').textContent",
        |v| v.as_str().is_some_and(|t| t.contains("Thank you")),
    );
}

/// "New conversation" in the chat: the next customer on this browser starts afresh (the chat
/// keeps its conversation for every tab of the site).
pub(crate) fn restart_chat(b: &mut Browser, chat: &Page) {
    b.click(chat, "#restart");
    b.wait_eq(
        chat,
        "a fresh chat",
        "localStorage.getItem('personabot.chat.conversation')",
        Value::Null,
    );
}

/// The ticket the customer's chat shows in its latest banner.
pub(crate) fn banner_ticket(b: &mut Browser, chat: &Page, not: Option<u64>) -> u64 {
    let id = b.wait_value(
        chat,
        "a handoff banner with a ticket number",
        "(x => x ? Number(x.dataset.ticket) : 0)([...document.querySelectorAll('#banners .banner')].pop())",
        |v| v.as_u64().is_some_and(|n| n > 0 && Some(n) != not),
    );
    id.as_u64().unwrap()
}

#[test]
fn an_agents_day_on_the_desk() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let root = work.path().to_path_buf();
    let dana = add_account(&root, DANA, &[]);
    add_account(&root, SAM, &["sales"]);
    let server = Server::start(&root);
    let base = server.url("");
    let mut b = Browser::launch(&chromium, &root);
    b.server_log = Some(server.log.clone());
    b.browser_command(
        "Browser.grantPermissions",
        json!({ "origin": base, "permissions": ["notifications"] }),
    );

    // Another customer's ticket is in the queue already.
    let decoy = b.new_page("decoy");
    b.navigate(&decoy, &format!("{base}/"));
    say(&mut b, &decoy, DECOY);
    let decoy_id = banner_ticket(&mut b, &decoy, None);
    restart_chat(&mut b, &decoy);

    // 1. Dana signs in, turns notifications on, and waits.
    let agent = b.new_page("agent");
    b.page_command(
        &agent,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": RECORD_NOTIFICATIONS }),
    );
    sign_in_on(&mut b, &agent, &base, &dana, DANA);
    b.wait_eq(&agent, "the decoy in the queue", ROWS, json!([decoy_id]));
    b.click(&agent, "#notify");
    b.wait_eq(
        &agent,
        "notifications on",
        "[document.querySelector('#notify').getAttribute('aria-pressed'), Notification.permission]",
        json!(["true", "granted"]),
    );

    // 2. A customer asks on the web chat and wants a human: a Sales ticket.
    let chat = b.new_page("chat");
    b.navigate(&chat, &format!("{base}/"));
    say(&mut b, &chat, QUESTION);
    b.click(&chat, "#messages [data-action=\"human\"]");
    let id = banner_ticket(&mut b, &chat, None);
    let conversation = b
        .wait_value(
            &chat,
            "the conversation id",
            "JSON.parse(localStorage.getItem('personabot.chat.conversation'))",
            Value::is_string,
        )
        .as_str()
        .unwrap()
        .to_string();
    let visitor = b
        .wait_value(
            &chat,
            "the visitor token",
            "JSON.parse(localStorage.getItem('personabot.chat.token'))",
            Value::is_string,
        )
        .as_str()
        .unwrap()
        .to_string();

    // 3. Live on Dana's desk, without a reload: the row, a toast, a notification.
    b.bring_to_front(&agent);
    let full = server.get_json(&format!("/v1/tickets/{id}"), Some(&dana));
    assert_eq!(full["team"], "sales", "{full}");
    let about = format!(
        "{} · {}",
        full["intent"]["id"].as_str().unwrap_or("no intent"),
        full["persona"]["id"].as_str().unwrap_or("no persona")
    );
    b.wait_value(&agent, "the new ticket's row, live", ROWS, |v| {
        v.as_array().is_some_and(|a| a.contains(&json!(id)))
    });
    b.wait_eq(
        &agent,
        "the same page (no reload): the notification recorder is still there",
        "Array.isArray(window.__notes)",
        json!(true),
    );
    b.wait_value(
        &agent,
        "the toast naming the ticket",
        "document.querySelector('#toasts').textContent",
        |v| {
            v.as_str()
                .is_some_and(|s| s.contains(&format!("New ticket #{id}")))
        },
    );
    b.wait_eq(
        &agent,
        "a browser notification for the new ticket",
        "window.__notes",
        json!([{ "title": format!("New ticket #{id}"), "body": about }]),
    );
    b.wait_eq(
        &agent,
        "the unseen count in the title",
        "document.title",
        json!("(1) Agent desk · Hearth support"),
    );
    b.step_screenshot(&agent, "agent-day-1-live");

    // 4. Search: the list narrows to the ticket.
    b.type_into(&agent, "#search", "startup");
    b.wait_eq(&agent, "the search narrows the queue", ROWS, json!([id]));
    b.click(
        &agent,
        &format!("#tickets li[data-ticket-id=\"{id}\"] button"),
    );
    b.wait_eq(
        &agent,
        "the ticket open",
        "[document.querySelector('#t-title').textContent, document.title]",
        json!([format!("Ticket #{id}"), "Agent desk · Hearth support"]),
    );
    // The bot's answer reads as the customer saw it: a link, not markdown source.
    b.wait_eq(
        &agent,
        "the bot's answer rendered in the transcript",
        "[!!document.querySelector('#t-transcript .line.bot a[href=\"https://hearth.example/startups\"]'), \
         document.querySelector('#t-transcript').textContent.includes('](https')]",
        json!([true, false]),
    );

    // 5. Assign to Sam, then to herself: "mine" shows it.
    b.wait_eq(
        &agent,
        "the team's agents to assign to",
        "[...document.querySelectorAll('#assign-select option')].filter(o => o.value).map(o => o.value)",
        json!([DANA, SAM]),
    );
    b.choose(&agent, "#assign-select", SAM);
    b.wait_eq(
        &agent,
        "assigned to Sam",
        "document.querySelector('#t-assignee').textContent",
        json!(SAM),
    );
    b.choose(&agent, "#assign-select", DANA);
    b.wait_eq(
        &agent,
        "assigned to Dana",
        "document.querySelector('#t-assignee').textContent",
        json!(DANA),
    );
    b.choose(&agent, "#assigned-filter", "mine");
    b.wait_eq(
        &agent,
        "'mine' with the search: the ticket",
        ROWS,
        json!([id]),
    );
    b.type_into(&agent, "#search", "invoice");
    b.wait_eq(&agent, "'mine' has no invoice ticket", ROWS, json!([]));
    b.choose(&agent, "#assigned-filter", "unassigned");
    b.wait_eq(&agent, "the decoy is unassigned", ROWS, json!([decoy_id]));
    b.choose(&agent, "#assigned-filter", "mine");
    b.type_into(&agent, "#search", " ");
    b.wait_eq(&agent, "'mine' without a search", ROWS, json!([id]));

    // 6. A saved reply, picked with `/`, sent.
    let replies = server.get_json(&format!("/v1/replies?ticket={id}"), Some(&dana));
    let quote = replies["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "quote-follow-up")
        .unwrap_or_else(|| panic!("the sales team's quote follow-up: {replies}"));
    let rendered = quote["rendered"].as_str().unwrap().to_string();
    b.check(
        rendered.contains(&format!("#{id}")) && rendered.contains(DANA),
        &format!("the saved reply rendered for the ticket and the agent: {rendered}"),
    );
    b.type_into(&agent, "#reply-text", "/");
    b.wait_value(
        &agent,
        "the saved replies listed",
        "[...document.querySelectorAll('#picker li[data-saved]')].map(l => l.dataset.saved)",
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    );
    for c in "quote".chars() {
        b.press_key(&agent, &c.to_string());
    }
    b.wait_eq(
        &agent,
        "the list filtered as she types",
        "[...document.querySelectorAll('#picker li[data-saved]')].map(l => l.dataset.saved)",
        json!(["quote-follow-up"]),
    );
    b.press_enter(&agent);
    b.wait_eq(
        &agent,
        "the rendered text in the box to edit",
        "[document.querySelector('#reply-text').value, document.querySelector('#picker').hidden]",
        json!([rendered, true]),
    );
    b.click(&agent, "#reply-send");
    b.wait_eq(
        &agent,
        "the reply in the conversation",
        "(l => l && l.querySelector('.text').textContent)([...document.querySelectorAll('#t-transcript .line.agent')].pop())",
        json!(rendered),
    );
    b.bring_to_front(&chat);
    b.wait_eq(
        &chat,
        "the saved reply in the customer's chat",
        AGENT_LINES,
        json!([rendered]),
    );

    // 7. An internal note: marked on the desk, never in the chat.
    b.bring_to_front(&agent);
    b.click(&agent, "#mode-note");
    b.type_into(&agent, "#reply-text", NOTE);
    b.wait_eq(&agent, "the note mode", "[document.querySelector('#reply-form').className, document.querySelector('#reply-send').textContent]", json!(["composer note-mode", "Add note"]));
    b.click(&agent, "#reply-send");
    b.wait_eq(
        &agent,
        "the note, marked internal",
        "[...document.querySelectorAll('#t-transcript .line.note')].map(l => [l.querySelector('.text').textContent, l.querySelector('.note-mark').textContent])",
        json!([[NOTE, "Internal note — not sent to the customer"]]),
    );
    b.step_screenshot(&agent, "agent-day-2-note");

    // 8. Resolve; the chat says so, and never showed the note.
    b.click(&agent, "#resolve");
    b.wait_eq(
        &agent,
        "resolved",
        "document.querySelector('#t-status').textContent",
        json!("resolved"),
    );
    b.bring_to_front(&chat);
    b.wait_eq(
        &chat,
        "the chat told the ticket is resolved",
        "document.querySelector('#banners .banner-title').textContent",
        json!(format!("Ticket #{id} is resolved")),
    );
    b.wait_eq(
        &chat,
        "the note nowhere in the chat",
        &format!(
            "document.body.textContent.includes({})",
            serde_json::to_string(NOTE).unwrap()
        ),
        json!(false),
    );
    b.wait_eq(
        &chat,
        "only the saved reply from the agent",
        AGENT_LINES,
        json!([rendered]),
    );
    let seen = server.get_visitor_json(&format!("/v1/conversations/{conversation}"), &visitor);
    b.check(
        !seen.to_string().contains("founder on a budget")
            && seen.to_string().contains("prepare a quote"),
        &format!("the customer's conversation JSON has the reply and not the note: {seen}"),
    );

    // 9. The customer rates; Dana sees the rating on the ticket.
    customer_rates(&mut b, &chat, 5);
    // The open ticket shows the rating live (a `rated` event), without a reload.
    b.bring_to_front(&agent);
    b.wait_eq(
        &agent,
        "the customer's rating on the ticket",
        "[document.querySelector('#t-csat').hidden, document.querySelector('#t-csat-rating').textContent, document.querySelector('#t-csat-stars').textContent]",
        json!([false, "5 / 5", "★★★★★"]),
    );

    // 10. The same customer's next ticket shows the first in its history.
    b.bring_to_front(&chat);
    say(&mut b, &chat, AGAIN);
    let next = banner_ticket(&mut b, &chat, Some(id));
    b.bring_to_front(&agent);
    b.choose(&agent, "#assigned-filter", "all");
    b.wait_value(&agent, "the next ticket's row, live", ROWS, |v| {
        v.as_array().is_some_and(|a| a.contains(&json!(next)))
    });
    b.click(
        &agent,
        &format!("#tickets li[data-ticket-id=\"{next}\"] button"),
    );
    b.wait_eq(
        &agent,
        "the next ticket open",
        "document.querySelector('#t-title').textContent",
        json!(format!("Ticket #{next}")),
    );
    b.wait_value(
        &agent,
        "the first ticket in the customer's history",
        "[...document.querySelectorAll('#t-customer button[data-ticket-id]')].map(e => [Number(e.dataset.ticketId), e.textContent])",
        |v| {
            v.as_array().is_some_and(|a| {
                a.iter().any(|e| e[0] == json!(id) && e[1].as_str().is_some_and(|t| t.contains("resolved")))
            })
        },
    );
    b.step_screenshot(&agent, "agent-day-3-history");
    b.click(
        &agent,
        &format!("#t-customer button[data-ticket-id=\"{id}\"]"),
    );
    b.wait_eq(
        &agent,
        "the earlier ticket opened from the history",
        "document.querySelector('#t-title').textContent",
        json!(format!("Ticket #{id}")),
    );

    b.close_clean();
    assert_eq!(server.stop(), 0, "serve exits 0 on SIGTERM");
}

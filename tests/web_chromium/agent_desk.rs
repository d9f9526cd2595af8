//! The agent desk's smaller promises, in Chromium: keyboard shortcuts (j/k/c/r/n/e, `/`, `?`,
//! ignored while typing), relabel from the catalog's lists, routing evidence folded by default,
//! overdue tickets highlighted, a lost live stream caught up on reconnecting, a phone layout (375 px: nothing overflows, queue and ticket are
//! two views with a back button, the reply box is not sticky) and toasts that cover no control.

use serde_json::{json, Value};

use crate::agent_day::{banner_ticket, restart_chat, say, sign_in, DECOY, ROWS};
use crate::browser::{Browser, Page};
use crate::server::Server;
use crate::workdir::Workdir;
use crate::{chromium_or_skip, SIGNED_IN, TOKEN};

const HUMAN: &str = "I want to talk to a human";

/// The controls (buttons, fields, selects, links, disclosure toggles) a visible toast overlaps,
/// each clipped to what its scrolling boxes show; `["no toast"]` when none is shown.
pub(crate) const TOAST_CLEAR: &str = "(() => { \
    const toasts = [...document.querySelectorAll('#toasts .toast')]; \
    if (!toasts.length) return ['no toast']; \
    const shown = c => { const r = c.getBoundingClientRect(); \
      let b = { l: r.left, t: r.top, r: r.right, b: r.bottom }; \
      for (let p = c.parentElement; p; p = p.parentElement) { const s = getComputedStyle(p); \
        if (s.overflowX !== 'visible' || s.overflowY !== 'visible') { const q = p.getBoundingClientRect(); \
          b = { l: Math.max(b.l, q.left), t: Math.max(b.t, q.top), r: Math.min(b.r, q.right), b: Math.min(b.b, q.bottom) }; } } \
      return b; }; \
    const hits = []; \
    for (const t of toasts) { const r = t.getBoundingClientRect(); \
      for (const c of document.querySelectorAll('button, input, select, textarea, a[href], summary')) { \
        if (c.closest('#toasts')) continue; const q = shown(c); \
        if (q.r <= q.l || q.b <= q.t) continue; \
        if (r.left < q.r && q.l < r.right && r.top < q.b && q.t < r.bottom) hits.push(c.id || c.textContent.trim().slice(0, 30)); } } \
    return hits; })()";

const NO_OVERFLOW: &str = "document.documentElement.scrollWidth <= window.innerWidth";

/// A customer on a new chat tab says `text`, which opens a ticket: its id.
fn customer_ticket(b: &mut Browser, base: &str, name: &'static str, text: &str) -> u64 {
    let chat = b.new_page(name);
    b.navigate(&chat, &format!("{base}/"));
    say(b, &chat, text);
    let id = banner_ticket(b, &chat, None);
    restart_chat(b, &chat);
    id
}

fn open_ticket(b: &mut Browser, agent: &Page, id: u64) {
    b.click(
        agent,
        &format!("#tickets li[data-ticket-id=\"{id}\"] button"),
    );
    b.wait_eq(
        agent,
        "the ticket open",
        "document.querySelector('#t-title').textContent",
        json!(format!("Ticket #{id}")),
    );
}

fn title(b: &mut Browser, agent: &Page, id: &Value, what: &str) {
    b.wait_eq(
        agent,
        what,
        "document.querySelector('#t-title').textContent",
        json!(format!("Ticket #{id}")),
    );
}

#[test]
fn shortcuts_relabel_lists_and_folded_evidence() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let server = Server::start(work.path());
    let base = server.url("");
    let mut b = Browser::launch(&chromium, work.path());
    b.server_log = Some(server.log.clone());
    customer_ticket(&mut b, &base, "chat-1", DECOY);
    customer_ticket(&mut b, &base, "chat-2", HUMAN);
    let agent = sign_in(&mut b, &base, TOKEN, SIGNED_IN);
    let rows = b.wait_value(&agent, "two tickets", ROWS, |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    });
    let (first, second) = (rows[0].clone(), rows[1].clone());

    // j / k move through the queue.
    b.press_key(&agent, "j");
    title(&mut b, &agent, &first, "j opens the first ticket");
    b.press_key(&agent, "j");
    title(&mut b, &agent, &second, "j again: the second");
    b.press_key(&agent, "k");
    title(&mut b, &agent, &first, "k: back to the first");

    // Evidence is folded until asked for.
    b.wait_eq(
        &agent,
        "routing evidence folded",
        "[document.querySelector('#routing').open, document.querySelector('#t-evidence').checkVisibility(), document.querySelectorAll('#t-evidence .term').length > 0]",
        json!([false, false, true]),
    );
    b.click(&agent, "#routing summary");
    b.wait_value(
        &agent,
        "the evidence unfolded",
        "document.querySelector('#t-evidence').checkVisibility()",
        |v| *v == json!(true),
    );

    // c claims; r and n focus the box in reply and note mode; Esc leaves it.
    b.press_key(&agent, "c");
    b.wait_eq(
        &agent,
        "c claims",
        "document.querySelector('#t-status').textContent",
        json!("claimed"),
    );
    b.press_key(&agent, "r");
    b.wait_eq(
        &agent,
        "r: the reply box",
        "[document.activeElement.id, document.querySelector('#mode-reply').getAttribute('aria-pressed')]",
        json!(["reply-text", "true"]),
    );
    b.press_key(&agent, "Escape");
    b.wait_eq(
        &agent,
        "Esc leaves the box",
        "document.activeElement === document.body",
        json!(true),
    );
    b.press_key(&agent, "n");
    b.wait_eq(
        &agent,
        "n: the box in note mode",
        "[document.activeElement.id, document.querySelector('#reply-form').classList.contains('note-mode')]",
        json!(["reply-text", true]),
    );
    // Typing in a field is not a shortcut.
    b.press_key(&agent, "j");
    b.wait_eq(
        &agent,
        "j typed in the box, no move",
        "[document.querySelector('#reply-text').value, document.querySelector('#t-title').textContent]",
        json!(["j", format!("Ticket #{first}")]),
    );
    b.press_key(&agent, "Escape");
    b.press_key(&agent, "/");
    b.wait_eq(
        &agent,
        "/ focuses the search",
        "document.activeElement.id",
        json!("search"),
    );
    b.press_key(&agent, "Escape");
    b.press_key(&agent, "?");
    b.wait_eq(
        &agent,
        "? shows the shortcuts",
        "[document.querySelector('#help').hidden, [...document.querySelectorAll('#help kbd')].map(k => k.textContent).join(' ')]",
        json!([false, "j k c r n e / ? Esc"]),
    );
    b.step_screenshot(&agent, "agent-help");
    b.press_key(&agent, "Escape");
    b.wait_eq(
        &agent,
        "Esc closes them",
        "document.querySelector('#help').hidden",
        json!(true),
    );

    // Relabel from the catalog's lists.
    let catalog = server.get_json("/v1/catalog", Some(TOKEN));
    let ids = |key: &str| -> Vec<Value> {
        catalog[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect()
    };
    for (select, key) in [
        ("#relabel-intent", "intents"),
        ("#relabel-persona", "personas"),
    ] {
        b.wait_eq(
            &agent,
            &format!("{select} lists the catalog's {key}"),
            &format!("[...document.querySelectorAll('{select} option')].filter(o => o.value).map(o => o.value)"),
            Value::Array(ids(key)),
        );
    }
    b.wait_eq(
        &agent,
        "no free-text relabel",
        "document.querySelectorAll('#relabel-form input').length",
        json!(0),
    );
    let (intent, persona) = (
        ids("intents")[1].as_str().unwrap().to_string(),
        ids("personas")[0].as_str().unwrap().to_string(),
    );
    b.choose(&agent, "#relabel-intent", &intent);
    b.choose(&agent, "#relabel-persona", &persona);
    b.click(&agent, "#relabel-send");
    b.wait_eq(
        &agent,
        "the relabel shown",
        "[...document.querySelectorAll('#t-relabels li')].map(e => e.textContent.split(' (')[0])",
        json!([format!(
            "intent → {intent}, persona → {persona} by {SIGNED_IN}"
        )]),
    );
    let stored = server.get_json(&format!("/v1/tickets/{first}"), Some(TOKEN));
    b.check(
        stored["relabels"][0]["intent"] == json!(intent)
            && stored["relabels"][0]["persona"] == json!(persona),
        &format!("the relabel stored: {stored}"),
    );

    // e asks first; resolving takes the confirm.
    b.press_key(&agent, "e");
    b.wait_value(
        &agent,
        "e asks to confirm",
        "document.querySelector('#toasts').textContent",
        |v| {
            v.as_str()
                .is_some_and(|s| s.contains(&format!("Resolve ticket #{first}?")))
        },
    );
    b.wait_eq(
        &agent,
        "not resolved before the confirm",
        "document.querySelector('#t-status').textContent",
        json!("claimed"),
    );
    b.click(&agent, "#toast-action-0");
    b.wait_eq(
        &agent,
        "resolved after the confirm",
        "document.querySelector('#t-status').textContent",
        json!("resolved"),
    );

    b.close_clean();
    assert_eq!(server.stop(), 0);
}

#[test]
fn overdue_tickets_are_highlighted_with_their_due_times() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let server = Server::start_with(
        work.path(),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            ("PERSONABOT__TEAMS__SUPPORT__FIRST_RESPONSE_TARGET", "1s"),
            ("PERSONABOT__TEAMS__BILLING__RESOLVE_TARGET", "365d"),
        ],
    );
    let base = server.url("");
    let mut b = Browser::launch(&chromium, work.path());
    b.server_log = Some(server.log.clone());
    let late = customer_ticket(&mut b, &base, "chat-1", HUMAN);
    let fine = customer_ticket(&mut b, &base, "chat-2", DECOY);
    // The support ticket's one-second target passes (waited for, not timed).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.get_json(&format!("/v1/tickets/{late}"), Some(TOKEN))["overdue"] != json!(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "ticket {late} never became overdue"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let agent = sign_in(&mut b, &base, TOKEN, SIGNED_IN);
    let row = |id: u64| {
        format!(
            "(li => li && [li.classList.contains('overdue'), li.querySelector('.due') && li.querySelector('.due').textContent])(document.querySelector('#tickets li[data-ticket-id=\"{id}\"]'))"
        )
    };
    b.wait_value(&agent, "the late ticket highlighted", &row(late), |v| {
        v[0] == json!(true) && v[1].as_str().is_some_and(|s| s.starts_with("overdue "))
    });
    b.wait_value(&agent, "the other one due later", &row(fine), |v| {
        v[0] == json!(false) && v[1].as_str().is_some_and(|s| s.starts_with("due in "))
    });
    b.step_screenshot(&agent, "agent-overdue");
    open_ticket(&mut b, &agent, late);
    b.wait_value(
        &agent,
        "overdue in the ticket view",
        "[document.querySelector('#t-overdue').hidden, document.querySelector('#t-due').textContent]",
        |v| v[0] == json!(false) && v[1].as_str().is_some_and(|s| s.starts_with("overdue ")),
    );
    b.close();
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_phone_gets_two_views_and_toasts_cover_no_control() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let server = Server::start(work.path());
    let base = server.url("");
    let mut b = Browser::launch(&chromium, work.path());
    b.server_log = Some(server.log.clone());
    let id = customer_ticket(&mut b, &base, "chat", HUMAN);
    let agent = sign_in(&mut b, &base, TOKEN, SIGNED_IN);

    // Wide: a toast after an action, clear of every control.
    open_ticket(&mut b, &agent, id);
    b.click(&agent, "#claim");
    b.wait_value(
        &agent,
        "the claim's toast",
        "document.querySelector('#toasts').textContent",
        |v| v.as_str().is_some_and(|s| s.contains("claimed")),
    );
    b.wait_eq(
        &agent,
        "the toast clear of every control (wide)",
        TOAST_CLEAR,
        json!([]),
    );
    let view =
        "['.queue', '#ticket', '#back'].map(s => document.querySelector(s).checkVisibility())";
    b.wait_eq(
        &agent,
        "wide: queue and ticket side by side, no back button",
        view,
        json!([true, true, false]),
    );
    b.step_screenshot(&agent, "agent-wide");

    // A phone, 375 px wide.
    b.page_command(
        &agent,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": true }),
    );
    b.wait_eq(&agent, "the width", "window.innerWidth", json!(375));
    b.wait_eq(
        &agent,
        "the ticket alone, with a back button",
        view,
        json!([false, true, true]),
    );
    b.wait_eq(
        &agent,
        "nothing overflows (ticket)",
        NO_OVERFLOW,
        json!(true),
    );
    b.wait_eq(
        &agent,
        "the reply box in the flow, not stuck over the transcript",
        "['sticky', 'fixed'].includes(getComputedStyle(document.querySelector('#reply-form')).position)",
        json!(false),
    );
    b.click(&agent, "#mode-note");
    b.type_into(
        &agent,
        "#reply-text",
        "Checked the account; nothing unusual.",
    );
    b.click(&agent, "#reply-send");
    b.wait_value(
        &agent,
        "the note's toast",
        "document.querySelector('#toasts').textContent",
        |v| v.as_str().is_some_and(|s| s.contains("note")),
    );
    b.wait_eq(
        &agent,
        "the toast clear of every control (phone)",
        TOAST_CLEAR,
        json!([]),
    );
    b.step_screenshot(&agent, "agent-phone-ticket");
    b.click(&agent, "#back");
    b.wait_eq(&agent, "the queue alone", view, json!([true, false, false]));
    b.wait_eq(
        &agent,
        "nothing overflows (queue)",
        NO_OVERFLOW,
        json!(true),
    );
    // A live update of the open ticket refreshes it behind the queue, without switching views.
    let status = server.agent_post(
        &format!("/v1/tickets/{id}/note"),
        &json!({ "text": "Second note, from elsewhere." }),
    );
    b.check(
        status == 200,
        &format!("a note from elsewhere: HTTP {status}"),
    );
    b.wait_eq(
        &agent,
        "the open ticket refreshed live",
        "document.querySelectorAll('#t-transcript .line.note').length",
        json!(2),
    );
    b.wait_eq(
        &agent,
        "still the queue alone",
        view,
        json!([true, false, false]),
    );
    b.click(&agent, "#more-filters summary");
    b.wait_eq(
        &agent,
        "nothing overflows (all filters open)",
        NO_OVERFLOW,
        json!(true),
    );
    b.step_screenshot(&agent, "agent-phone-queue");
    open_ticket(&mut b, &agent, id);
    b.wait_eq(&agent, "the ticket again", view, json!([false, true, true]));

    b.close_clean();
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_lost_stream_reconnects_and_catches_up_once() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let root = work.path().to_path_buf();
    let server = Server::start(&root);
    let base = server.url("");
    let port = server.port();
    let mut b = Browser::launch(&chromium, &root);
    b.server_log = Some(server.log.clone());
    let agent = sign_in(&mut b, &base, TOKEN, SIGNED_IN);
    b.wait_eq(&agent, "an empty queue", ROWS, json!([]));

    // The server stops: the stream is lost; meanwhile a customer opens a ticket (on the
    // command line's chat, over the same data).
    assert_eq!(server.stop(), 0);
    b.wait_eq(
        &agent,
        "the stream lost",
        "document.querySelector('#live').textContent",
        json!("○ reconnecting"),
    );
    let out = std::process::Command::new(crate::BIN)
        .arg("--data")
        .arg(root.join("data"))
        .args(["--catalog", env!("CARGO_MANIFEST_DIR"), "chat", "--json"])
        .current_dir(&root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{HUMAN}\n").as_bytes())?;
            child.wait_with_output()
        })
        .expect("personabot chat runs");
    let turn: Value = serde_json::from_slice(&out.stdout).expect("one turn of JSON");
    assert_eq!(turn["route"]["kind"], "ticket", "{turn}");
    b.wait_eq(
        &agent,
        "nothing new while the stream is lost",
        ROWS,
        json!([]),
    );

    // The server is back: the browser reconnects and the desk fetches what it missed, once.
    let server = Server::start_again(&root, port);
    b.server_log = Some(server.log.clone());
    b.wait_eq(
        &agent,
        "the stream back",
        "document.querySelector('#live').textContent",
        json!("● live"),
    );
    b.wait_eq(&agent, "the missed ticket in the queue", ROWS, json!([1]));
    b.close();
    assert_eq!(server.stop(), 0);
}

//! "How did we do?" in the web chat, in Chromium: once the agent resolves the customer's ticket
//! the chat asks for a rating with five labelled buttons; a key press and a click each store a
//! rating at once (the later replaces the earlier), an optional comment goes with it, an agent's
//! internal note never shows, and after a reload a rated ticket is not asked about again.

use serde_json::{json, Value};

use crate::browser::{Browser, Page};
use crate::server::Server;
use crate::workdir::Workdir;
use crate::{chromium_or_skip, TOKEN};

const HUMAN: &str = "I want to talk to a human";
const AGENT_REPLY: &str = "Hi, Sam here: your refund is on its way.";
const NOTE: &str = "Internal: customer threatened a chargeback, be gentle";
const COMMENT: &str = "Quick and kind, thanks!";
const AGENT_LINES: &str =
    "[...document.querySelectorAll('#messages .msg.agent .bubble')].map(e => e.textContent)";

fn csat_of(server: &Server, id: u64) -> Value {
    server.get_json(&format!("/v1/tickets/{id}"), Some(TOKEN))["csat"].clone()
}

fn wait_csat(b: &mut Browser, server: &Server, id: u64, want: Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut got = csat_of(server, id);
        if let Some(o) = got.as_object_mut() {
            o.remove("at_ms");
        }
        if got == want {
            return;
        }
        if std::time::Instant::now() > deadline {
            b.fail(&format!("ticket {id}'s csat: want {want}, got {got}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn ticket_id(b: &mut Browser, chat: &Page) -> u64 {
    let banners = b.wait_value(
        chat,
        "the handoff banner",
        "[...document.querySelectorAll('#banners .banner')].map(e => e.dataset.ticket)",
        |v| v.as_array().is_some_and(|a| a.len() == 1),
    );
    banners[0]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| b.fail(&format!("no ticket number in {banners}")))
}

#[test]
fn the_customer_rates_a_resolved_ticket_in_chromium() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let root = work.path().to_path_buf();
    let server = Server::start(&root);
    let base = server.url("");
    let mut b = Browser::launch(&chromium, &root);
    b.server_log = Some(server.log.clone());
    let chat = b.new_page("chat");
    b.navigate(&chat, &format!("{base}/"));

    b.type_into(&chat, "#input", HUMAN);
    b.press_enter(&chat);
    let id = ticket_id(&mut b, &chat);
    let noted = server.agent_post(&format!("/v1/tickets/{id}/note"), &json!({ "text": NOTE }));
    b.check(noted == 200, &format!("the agent's note: HTTP {noted}"));
    let replied = server.agent_post(
        &format!("/v1/tickets/{id}/reply"),
        &json!({ "text": AGENT_REPLY }),
    );
    b.check(
        replied == 200,
        &format!("the agent's reply: HTTP {replied}"),
    );
    b.wait_eq(
        &chat,
        "the agent's reply in the chat",
        AGENT_LINES,
        json!([AGENT_REPLY]),
    );
    b.wait_eq(
        &chat,
        "no question before the ticket is resolved",
        "document.querySelectorAll('.csat').length",
        json!(0),
    );
    let resolved = server.agent_post(&format!("/v1/tickets/{id}/resolve"), &json!({}));
    b.check(resolved == 200, &format!("the resolve: HTTP {resolved}"));

    // The question: five real, labelled buttons.
    b.wait_eq(
        &chat,
        "\"How did we do?\" with five labelled buttons",
        "[...document.querySelectorAll('.csat button[data-rating]')].map(e => \
         [e.tagName, e.type, e.dataset.rating, e.getAttribute('aria-label'), e.title])",
        json!([
            ["BUTTON", "button", "1", "1 – very poor", "1 – very poor"],
            ["BUTTON", "button", "2", "2 – poor", "2 – poor"],
            ["BUTTON", "button", "3", "3 – okay", "3 – okay"],
            ["BUTTON", "button", "4", "4 – good", "4 – good"],
            ["BUTTON", "button", "5", "5 – excellent", "5 – excellent"]
        ]),
    );
    b.wait_eq(
        &chat,
        "the question's text",
        "document.querySelector('.csat .csat-question').textContent",
        json!("How did we do?"),
    );
    b.step_screenshot(&chat, "r1-how-did-we-do");

    // By keyboard: focus "2" and press Enter; the rating is stored at once.
    b.wait_eq(
        &chat,
        "the 2 button focused",
        "(e => (e.focus(), document.activeElement === e))(document.querySelector('.csat button[data-rating=\"2\"]'))",
        json!(true),
    );
    b.press_enter(&chat);
    wait_csat(&mut b, &server, id, json!({"rating": 2}));
    b.wait_eq(
        &chat,
        "thanks, and a comment box",
        "[document.querySelector('.csat .csat-thanks').textContent, \
          !!document.querySelector('.csat textarea'), \
          document.querySelector('.csat button[data-rating=\"2\"]').getAttribute('aria-pressed')]",
        json!(["Thank you for your rating!", true, "true"]),
    );
    // A click on "4" replaces it.
    b.click(&chat, ".csat button[data-rating=\"4\"]");
    wait_csat(&mut b, &server, id, json!({"rating": 4}));
    // The comment goes with the rating.
    b.type_into(&chat, ".csat textarea", COMMENT);
    b.click(&chat, ".csat form button[type=\"submit\"]");
    wait_csat(
        &mut b,
        &server,
        id,
        json!({"rating": 4, "comment": COMMENT}),
    );
    b.wait_eq(
        &chat,
        "thanks for the comment",
        "[document.querySelector('.csat .csat-thanks').textContent, !!document.querySelector('.csat textarea')]",
        json!(["Thank you for your feedback!", false]),
    );
    b.step_screenshot(&chat, "r2-rated-with-comment");

    // After a reload the conversation is back, but a rated ticket is not asked about again;
    // the agent's note was never on the page.
    b.navigate(&chat, &format!("{base}/"));
    b.wait_eq(
        &chat,
        "the agent's reply after a reload",
        AGENT_LINES,
        json!([AGENT_REPLY]),
    );
    b.wait_eq(
        &chat,
        "no question for a rated ticket, and no note anywhere",
        &format!(
            "[document.querySelectorAll('.csat').length, document.body.innerText.includes({})]",
            json!(NOTE)
        ),
        json!([0, false]),
    );
    b.close_clean();
    assert_eq!(server.stop(), 0, "serve exits 0 on SIGTERM");
}

//! The widget on another site, in Chromium, under a brand (`[brand]`): a shop on another
//! origin (another loopback port) adds `<script src=".../widget.js">`, the bubble opens the chat
//! in a frame, and a customer completes a conversation to a handoff; a site whose origin is not
//! in `http.widget_origins` gets no bubble, and cannot frame the chat page either.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::server::Server;
use crate::workdir::Workdir;
use crate::{chromium_or_skip, QUESTION, STEP};

/// Another site, from a thread, serving `page` (set once the chat server's address is known)
/// at `/`; its base URL.
fn site(page: Arc<Mutex<String>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let body = match request[..n].starts_with(b"GET / ") {
                true => page.lock().unwrap().clone(),
                false => String::new(),
            };
            let status = if body.is_empty() {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

const FRAME: &str = "#personabot-widget-frame";

#[test]
fn the_widget_on_another_origin_completes_a_conversation_to_a_handoff() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let work = Workdir::new();
    let root = work.path().to_path_buf();
    let (shop_page, other_page) = (Arc::new(Mutex::new(String::new())), Arc::default());
    let shop = site(Arc::clone(&shop_page));
    let other = site(Arc::clone(&other_page));
    let server = Server::start_with(
        &root,
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            ("PERSONABOT__HTTP__WIDGET_ORIGINS", shop.as_str()),
            ("PERSONABOT__BRAND__NAME", "Lumen"),
            ("PERSONABOT__BRAND__ACCENT", "#0f766e"),
            (
                "PERSONABOT__BRAND__WELCOME",
                "Hi! Lumen's assistant here. What can I do for you?",
            ),
        ],
    );
    let base = server.url("");
    *shop_page.lock().unwrap() = format!(
        "<!doctype html><html><head><title>Shop</title></head><body style=\"font-family:sans-serif\">\
         <h1>A shop on another origin</h1><p>Lamps, rugs and chairs.</p>\
         <script src=\"{base}/widget.js\" async></script></body></html>"
    );
    *other_page.lock().unwrap() = format!(
        "<!doctype html><html><head><title>Not allowed</title></head><body>\
         <h1>A site the operator did not allow</h1>\
         <iframe id=\"direct\" src=\"{base}/?widget=1\" width=\"400\" height=\"300\"></iframe>\
         <script src=\"{base}/widget.js\" async></script></body></html>"
    );
    let mut b = Browser::launch(&chromium, &root);
    b.server_log = Some(server.log.clone());

    // The shop: the bubble, then the chat in its frame.
    let page = b.new_page("shop");
    b.navigate(&page, &format!("{shop}/"));
    b.wait_eq(
        &page,
        "the bubble on the shop's page",
        "(e => e && [e.getAttribute('aria-label'), e.getAttribute('aria-expanded'), getComputedStyle(e).backgroundColor])(document.querySelector('#personabot-widget-button'))",
        json!(["Chat with Lumen support", "false", "rgb(15, 118, 110)"]),
    );
    b.step_screenshot(&page, "w1-widget-closed");
    b.click(&page, "#personabot-widget-button");
    let chat = b.frame(&page, FRAME, &format!("{base}/"));
    b.wait_eq(
        &chat,
        "the chat page in the frame, in its embedded look",
        "[document.title, document.querySelector('h1').textContent, document.body.classList.contains('embedded'), \
         document.querySelector('.welcome .bubble').textContent, \
         getComputedStyle(document.querySelector('#send')).backgroundColor]",
        json!([
            "Lumen support",
            "Lumen support",
            true,
            "Hi! Lumen's assistant here. What can I do for you?",
            "rgb(15, 118, 110)"
        ]),
    );
    b.type_into(&chat, "#input", QUESTION);
    b.press_enter(&chat);
    b.wait_eq(
        &chat,
        "the answer with its feedback buttons, in the frame",
        &format!(
            "[...{}.querySelectorAll('button')].map(e => e.dataset.action)",
            crate::LAST_BOT
        ),
        json!(["helped", "human"]),
    );
    b.click(&chat, "#messages [data-action=\"human\"]");
    let banner = b.wait_value(
        &chat,
        "the handoff banner in the frame",
        "[...document.querySelectorAll('#banners .banner-title')].map(e => e.textContent)",
        |v| {
            v.as_array().is_some_and(|a| {
                a.len() == 1 && a[0].as_str().is_some_and(|t| t.contains("(ticket #"))
            })
        },
    );
    b.step_screenshot(&page, "w2-widget-open-handoff");
    // The ticket is real: the server has it, for the conversation the frame holds.
    let ids = b.wait_value(
        &chat,
        "the frame's conversation and visitor token",
        "['conversation', 'token'].map(k => JSON.parse(localStorage.getItem('personabot.chat.' + k)))",
        |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
    );
    let updates = server.get_visitor_json(
        &format!(
            "/v1/conversations/{}/updates?after=0",
            ids[0].as_str().unwrap()
        ),
        ids[1].as_str().unwrap(),
    );
    let want = format!("(ticket #{})", updates["ticket"]["id"]);
    b.check(
        banner[0].as_str().unwrap().contains(&want),
        &format!("the banner names the server's ticket {want}: {banner} / {updates}"),
    );
    // Closing the bubble hides the chat.
    b.click(&page, "#personabot-widget-button");
    b.wait_eq(
        &page,
        "the panel closed",
        "[document.querySelector('#personabot-widget-panel').hidden, document.querySelector('#personabot-widget-button').getAttribute('aria-expanded')]",
        json!([true, "false"]),
    );

    // A site not on the list: the script loads but adds nothing, and a frame of `/` is refused.
    let stranger = b.new_page("stranger");
    b.navigate(&stranger, &format!("{other}/"));
    b.wait_eq(
        &stranger,
        "the widget script loaded",
        "performance.getEntriesByType('resource').some(e => e.name.endsWith('/widget.js'))",
        json!(true),
    );
    let deadline = Instant::now() + STEP;
    let urls = loop {
        let urls = b.child_frame_urls(&stranger);
        if urls.iter().all(|u| !u.is_empty() && u != "about:blank") || Instant::now() >= deadline {
            break urls;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    b.check(
        urls.len() == 1 && !urls[0].starts_with(&base),
        &format!("a site not allowed framed the chat: {urls:?}"),
    );
    b.wait_eq(
        &stranger,
        "no bubble on a site not allowed",
        "document.readyState === 'complete' && !document.querySelector('#personabot-widget-button')",
        json!(true),
    );
    b.step_screenshot(&stranger, "w3-widget-refused-elsewhere");

    b.close_clean();
    assert_eq!(server.stop(), 0, "serve exits 0 on SIGTERM");
}

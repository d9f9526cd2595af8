//! Clickjacking: a page of another site (another loopback port: another origin) frames `/agent`
//! and `/review`; the browser must refuse to show them (`frame-ancestors 'none'`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::browser::Browser;

/// Another site, from a thread: `/` frames `targets` and then the site's own `/control` (a
/// frame the browser does show, so a refusal is the policy's doing); its base URL.
fn framing_site(targets: &[String]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let frames: String = targets
        .iter()
        .chain([&format!("{base}/control")])
        .map(|t| format!("<iframe src=\"{t}\" width=\"600\" height=\"400\"></iframe>"))
        .collect();
    let framing = format!("<!doctype html><title>another site</title>{frames}");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let page = match request[..n].starts_with(b"GET / ") {
                true => framing.as_str(),
                false => "<!doctype html><title>control</title>a frame of this site",
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    base
}

pub(crate) fn agent_and_review_cannot_be_framed(b: &mut Browser, base: &str) {
    let targets = [format!("{base}/agent"), format!("{base}/review")];
    let site = framing_site(&targets);
    let control = format!("{site}/control");
    let page = b.new_page("framer");
    b.navigate(&page, &format!("{site}/"));
    // Wait until every frame has committed something (its page, or the error page).
    let deadline = Instant::now() + crate::STEP;
    let urls = loop {
        let urls = b.child_frame_urls(&page);
        let settled = urls.len() == targets.len() + 1
            && urls.iter().all(|u| !u.is_empty() && u != "about:blank");
        if settled || Instant::now() >= deadline {
            break urls;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    b.check(
        urls.len() == targets.len() + 1 && urls.last() == Some(&control),
        &format!("the framing page shows its own frame, and has two more: {urls:?}"),
    );
    for url in &urls[..targets.len()] {
        b.check(
            !targets.contains(url),
            &format!("another site framed {url}: frame-ancestors must refuse it ({urls:?})"),
        );
    }
}

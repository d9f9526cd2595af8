//! Security headers on every response: a CSP without inline script, nosniff, a referrer
//! policy; `/agent` and `/review` never framed; the chat page framed only by listed origins; the
//! pages' scripts served from the binary.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::server::Server;

const TOKEN: &str = "agent-token-long-enough-1";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The sources of one CSP directive.
fn directive<'a>(csp: &'a str, name: &str) -> Vec<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name))
        .map(|sources| sources.split_whitespace().collect())
        .unwrap_or_default()
}

async fn headers_of(server: &Server, path: &str) -> (StatusCode, HeaderMap, String) {
    let r = server
        .client
        .get(server.url(path))
        .send()
        .await
        .expect("answers");
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_the_security_headers_and_no_page_can_be_framed() {
    let server = Server::start(&[("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)]).await;
    for path in [
        "/",
        "/agent",
        "/review",
        "/healthz",
        "/metrics",
        "/v1/tickets",
        "/assets/chat.js",
        "/no/such/page",
    ] {
        let (_, h, _) = headers_of(&server, path).await;
        let csp = header(&h, "content-security-policy");
        assert_eq!(directive(csp, "script-src"), ["'self'"], "{path}: {csp}");
        assert_eq!(
            directive(csp, "frame-ancestors"),
            ["'none'"],
            "{path}: {csp}"
        );
        assert_eq!(header(&h, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&h, "referrer-policy"), "same-origin", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_chat_page_may_be_framed_and_only_by_listed_origins() {
    let server = Server::start(&[
        ("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN),
        (
            "PERSONABOT__HTTP__FRAME_ANCESTORS",
            "https://www.example.com,https://shop.example.org",
        ),
    ])
    .await;
    let (_, chat, _) = headers_of(&server, "/").await;
    let csp = header(&chat, "content-security-policy");
    assert_eq!(
        directive(csp, "frame-ancestors"),
        ["https://www.example.com", "https://shop.example.org"],
        "{csp}"
    );
    assert!(
        !directive(csp, "script-src").contains(&"'unsafe-inline'"),
        "{csp}"
    );
    assert_eq!(
        header(&chat, "x-frame-options"),
        "",
        "a DENY would override the list"
    );
    for path in ["/agent", "/review", "/agent/login", "/v1/review"] {
        let (_, h, _) = headers_of(&server, path).await;
        let csp = header(&h, "content-security-policy");
        assert_eq!(
            directive(csp, "frame-ancestors"),
            ["'none'"],
            "{path}: {csp}"
        );
        assert_eq!(header(&h, "x-frame-options"), "DENY", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_load_their_scripts_from_the_server_and_inline_none() {
    let server = Server::start(&[("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)]).await;
    // The chat page, and the sign-in pages /agent and /review show without a session.
    for (path, script) in [
        ("/", "/assets/chat.js"),
        ("/agent", "/assets/login.js"),
        ("/review", "/assets/login.js"),
    ] {
        let (_, _, page) = headers_of(&server, path).await;
        assert!(!page.contains("<script>"), "{path} has an inline script");
        assert!(
            page.contains(&format!("<script src=\"{script}\"></script>")),
            "{path}"
        );
    }
    for script in [
        "/assets/chat.js",
        "/assets/agent.js",
        "/assets/login.js",
        "/assets/agent-ticket.js",
        "/assets/agent-picker.js",
        "/assets/agent-live.js",
        "/assets/markdown.js",
    ] {
        let (status, h, body) = headers_of(&server, script).await;
        assert_eq!(status, StatusCode::OK, "{script}");
        assert!(
            header(&h, "content-type").starts_with("text/javascript"),
            "{script}"
        );
        assert!(!header(&h, "etag").is_empty(), "{script}");
        assert!(body.len() > 100, "{script}");
        let again = server
            .client
            .get(server.url(script))
            .header("If-None-Match", header(&h, "etag"))
            .send()
            .await
            .expect("answers");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{script}");
    }
    let (status, _, _) = headers_of(&server, "/assets/other.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

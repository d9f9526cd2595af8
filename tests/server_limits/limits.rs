//! The per-address rate limit on every endpoint anyone can call (429 with `Retry-After`,
//! whatever ids the body names), `X-Forwarded-For` believed only from trusted proxies, and
//! metrics labels only from known values.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::server::Server;

/// `POST /v1/classify` (always 200 under the limit), optionally "forwarded for" `client`.
async fn classify(server: &Server, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.url("/v1/classify"))
        .json(&json!({ "text": "how much is the team plan" }));
    if let Some(client) = forwarded_for {
        request = request.header("X-Forwarded-For", client);
    }
    request.send().await.expect("classify answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_anonymous_endpoint_shares_one_budget_per_address() {
    let server = Server::start(&[
        ("PERSONABOT__LIMITS__ADDRESS_REQUESTS", "3"),
        ("PERSONABOT__LIMITS__ADDRESS_WINDOW_SECS", "60"),
        ("PERSONABOT__HTTP__AGENT_TOKEN", "agent-token-long-enough-1"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(classify(&server, None).await.status(), StatusCode::OK);
    }
    let refused = classify(&server, None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    let body: Value = refused.json().await.expect("JSON error");
    assert!(body["error"].as_str().is_some(), "{body}");

    // Every other anonymous endpoint is refused too, whatever ids the request names.
    let endpoints: &[(Method, &str, Option<Value>)] = &[
        (
            Method::POST,
            "/v1/messages",
            Some(json!({"conversation": "fresh-1", "user": "someone-new", "text": "hi"})),
        ),
        (
            Method::POST,
            "/v1/feedback",
            Some(json!({"conversation": "fresh-2", "user": "another", "feedback": "helped"})),
        ),
        (Method::GET, "/v1/conversations/fresh-3/updates", None),
        (Method::POST, "/agent/login", None),
        (Method::POST, "/review/login", None),
    ];
    for (method, path, body) in endpoints {
        let mut request = server.client.request(method.clone(), server.url(path));
        request = match body {
            Some(body) => request.json(body),
            None => request.form(&[("token", "wrong-token-wrong-token")]),
        };
        let r = request.send().await.expect("answers");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{method} {path}");
        assert!(r.headers().contains_key("retry-after"), "{method} {path}");
    }
    // The pages, health and metrics are not limited.
    for path in ["/", "/healthz", "/metrics", "/assets/chat.js"] {
        let r = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "personabot_requests_refused_total{endpoint=\"/v1/conversations/{conversation}/updates\",status=\"429\"} 1"
        ),
        "the refused endpoint is labelled by its route template:\n{metrics}"
    );
    assert!(!metrics.contains("fresh-3"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let limit = [("PERSONABOT__LIMITS__ADDRESS_REQUESTS", "2")];
    // From a trusted proxy (here: loopback), each forwarded client has its own budget.
    let behind_proxy = Server::start(&[
        limit[0],
        ("PERSONABOT__HTTP__TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"),
    ])
    .await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..2 {
            let r = classify(&behind_proxy, Some(client)).await;
            assert_eq!(r.status(), StatusCode::OK, "{client}");
        }
        let r = classify(&behind_proxy, Some(client)).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{client}");
    }
    // A client cannot pick its address: what it sends is left of what the proxy appends.
    let r = classify(&behind_proxy, Some("203.0.113.50, 198.51.100.1")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // From an untrusted peer the header is ignored: every "client" shares the peer's budget.
    let direct = Server::start(&limit).await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        let r = classify(&direct, Some(client)).await;
        assert_eq!(r.status(), StatusCode::OK, "{client}");
    }
    for client in ["198.51.100.3", "198.51.100.4"] {
        let r = classify(&direct, Some(client)).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{client}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_channel_values_add_no_metrics_series() {
    let server = Server::start(&[
        ("PERSONABOT__LIMITS__ADDRESS_REQUESTS", "1000000"),
        ("PERSONABOT__LIMITS__FLOOD_MESSAGES", "1000000"),
    ])
    .await;
    let series = |metrics: &str| {
        metrics
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count()
    };
    let metrics = |server: &Server| {
        let request = server.client.get(server.url("/metrics"));
        async move {
            request
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text")
        }
    };
    let before = series(&metrics(&server).await);
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, url) = (server.client.clone(), server.url("/v1/messages"));
        workers.push(tokio::spawn(async move {
            for i in (w..5_000).step_by(8) {
                let body = json!({
                    "channel": format!("chan-{i}-user{i}@example.com"),
                    "conversation": format!("c{i}"),
                    "user": format!("u{i}"),
                    "text": "how much is the team plan",
                });
                let r = client.post(&url).json(&body).send().await.expect("answers");
                assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let after = metrics(&server).await;
    assert!(
        !after.contains("chan-") && !after.contains("@example.com"),
        "{after}"
    );
    // At most a few series more (the `other` channel's routes, personas and intents), not 5,000.
    assert!(
        series(&after) <= before + 40,
        "{} series before, {} after:\n{after}",
        before,
        series(&after)
    );
}

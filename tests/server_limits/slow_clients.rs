//! Slow and silent clients are cut off; the connection cap answers 503; a request that takes too
//! long answers 408. The header timeout is 2 s here; every "closed" check waits up to 30 s.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::server::{read_until_closed, send, Server};

/// Generous: the header timeout (2 s) plus slack for a busy machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_and_silent_sockets_are_closed_while_healthz_answers() {
    // Every connection here comes from one address: the per-address share is off, so the
    // timeouts alone must close them.
    let server = Server::start(&[
        ("PERSONABOT__HTTP__HEADER_TIMEOUT_SECS", "2"),
        ("PERSONABOT__HTTP__MAX_CONNECTIONS_PER_ADDRESS", "0"),
    ])
    .await;
    let mut half_sent = Vec::new();
    for i in 0..150 {
        let partial = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ");
        half_sent.push(send(&server, partial.as_bytes()).await);
    }
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(server.connect().await);
    }
    // A kept-alive connection that went quiet after one request.
    let mut idle = send(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;

    // Meanwhile a normal client is served.
    assert_eq!(server.healthz().await, Some(200));

    for (what, streams) in [("half-sent", &mut half_sent), ("silent", &mut silent)] {
        for (i, stream) in streams.iter_mut().enumerate() {
            let read = read_until_closed(stream, CLOSED_WITHIN).await;
            assert!(
                read.is_some(),
                "{what} connection {i} still open after 30 s"
            );
        }
    }
    let answered = read_until_closed(&mut idle, CLOSED_WITHIN)
        .await
        .expect("the idle kept-alive connection is closed");
    assert!(
        answered.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    assert_eq!(server.healthz().await, Some(200), "still serving after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_cap_is_answered_503_and_closed() {
    let server = Server::start(&[("PERSONABOT__HTTP__MAX_CONNECTIONS", "4")]).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(server.connect().await);
    }
    // The fifth is accepted after the four: the cap is reached.
    let mut fifth = server.connect().await;
    let answer = read_until_closed(&mut fifth, CLOSED_WITHIN)
        .await
        .expect("the connection over the cap is closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("\"error\""), "{answer}");
    // Once the four go away, their slots serve again.
    drop(held);
    let mut served = None;
    for _ in 0..300 {
        served = server.healthz().await;
        if served == Some(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_connection() {
    let server = Server::start(&[
        ("PERSONABOT__HTTP__MAX_CONNECTIONS", "100"),
        ("PERSONABOT__HTTP__MAX_CONNECTIONS_PER_ADDRESS", "3"),
    ])
    .await;
    let mallory = [127, 0, 0, 2];
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(server.connect_from(mallory).await);
    }
    let mut fourth = server.connect_from(mallory).await;
    let answer = read_until_closed(&mut fourth, CLOSED_WITHIN)
        .await
        .expect("the fourth connection from one address is closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    // Another client (127.0.0.1) is served meanwhile.
    assert_eq!(server.healthz().await, Some(200));
    // Once one of the three closes, the address may connect again.
    drop(held.pop());
    let mut again = None;
    for _ in 0..300 {
        let mut stream = server.connect_from(mallory).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let answer = read_until_closed(&mut stream, CLOSED_WITHIN)
            .await
            .unwrap_or_default();
        if answer.starts_with(b"HTTP/1.1 200") {
            again = Some(());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again.is_some(),
        "the address is served again once under its share"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408() {
    let server = Server::start(&[
        ("PERSONABOT__HTTP__REQUEST_TIMEOUT_SECS", "2"),
        ("PERSONABOT__HTTP__HEADER_TIMEOUT_SECS", "2"),
    ])
    .await;
    let mut stream = send(
        &server,
        b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"text\": \"hel",
    )
    .await;
    let answer = read_until_closed(&mut stream, CLOSED_WITHIN)
        .await
        .expect("the slow request is answered and closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("{\"error\":"), "{answer}");
    let _ = stream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off() {
    let server = Server::start(&[("PERSONABOT__HTTP__REQUEST_TIMEOUT_SECS", "2")]).await;
    // A small receive window, and pipelined requests for the chat page, never read: the
    // server's writes stall. Once it gives up and closes, our writes fail (reset).
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let mut stream = socket.connect(server.addr).await.expect("connect");
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let deadline = tokio::time::Instant::now() + CLOSED_WITHIN;
    let mut closed = false;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), stream.write_all(request)).await {
            Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(())) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(_) => {}
        }
    }
    assert!(
        closed,
        "the server still holds a connection that reads nothing after 30 s"
    );
    assert_eq!(server.healthz().await, Some(200));
}

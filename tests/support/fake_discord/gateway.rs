//! The fake Discord's gateway websocket: HELLO, IDENTIFY / RESUME, heartbeats, dispatches and
//! close frames.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::payloads::{guild_json, hello_frame, ready_json};
use super::state::{dispatch_locked, Conn, Inner, Outgoing, Session};

pub(super) async fn ws_upgrade(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 << 20)
        .on_upgrade(move |socket| run_socket(inner, socket))
}

async fn run_socket(inner: Arc<Inner>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn_id = {
        let mut st = inner.lock();
        let id = st.next_conn_id;
        st.next_conn_id += 1;
        let _ = tx.send(Outgoing::Text(hello_frame(inner.heartbeat_ms)));
        st.conn = Some(Conn {
            id,
            tx: tx.clone(),
            live: false,
        });
        id
    };
    inner.bump();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outgoing::Text(text)) => {
                    if socket.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close(code)) => {
                    let frame = CloseFrame { code, reason: "fake discord closed the gateway".into() };
                    let _ = socket.send(WsMessage::Close(Some(frame))).await;
                    // Let the client read the close frame; it reconnects on a new socket.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
                    .await;
                    break;
                }
                None => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(WsMessage::Text(text))) => on_client_op(&inner, conn_id, &tx, text.as_str()),
                Some(Ok(WsMessage::Close(frame))) => {
                    inner.lock().client_closes.push(frame.map(|f| f.code));
                    inner.bump();
                }
                // Keep reading after a Close so the automatic close reply is flushed.
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    let mut st = inner.lock();
    if st.conn.as_ref().is_some_and(|c| c.id == conn_id) {
        st.conn = None;
    }
    drop(st);
    inner.bump();
}

fn on_client_op(inner: &Inner, conn_id: u64, tx: &mpsc::UnboundedSender<Outgoing>, text: &str) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        eprintln!("fake discord: client sent non-JSON text: {text}");
        return;
    };
    let d = v.get("d").cloned().unwrap_or(Value::Null);
    let mut st = inner.lock();
    let current = st.conn.as_ref().is_some_and(|c| c.id == conn_id);
    match v.get("op").and_then(Value::as_u64) {
        Some(1) => {
            st.heartbeat_count += 1;
            let _ = tx.send(Outgoing::Text(json!({"op": 11}).to_string()));
        }
        Some(2) => {
            st.identify_count += 1;
            st.intents = d.get("intents").and_then(Value::as_u64);
            st.last_identify = Some(d);
            if !current {
                return;
            }
            let mut carried: Vec<(String, Value)> = st
                .session
                .take()
                .map(|s| {
                    s.log
                        .into_iter()
                        .filter(|e| !e.delivered)
                        .map(|e| (e.t, e.d))
                        .collect()
                })
                .unwrap_or_default();
            carried.append(&mut st.pending);
            st.session_counter += 1;
            let session_id = format!("fake-session-{}", st.session_counter);
            st.session = Some(Session {
                id: session_id.clone(),
                seq: 0,
                log: Vec::new(),
            });
            if let Some(c) = st.conn.as_mut() {
                c.live = true;
            }
            dispatch_locked(&mut st, "READY", ready_json(inner, &session_id));
            let guild = guild_json(&st);
            dispatch_locked(&mut st, "GUILD_CREATE", guild);
            for (t, d) in carried {
                dispatch_locked(&mut st, &t, d);
            }
            st.established += 1;
        }
        Some(6) => {
            st.resume_count += 1;
            if !current {
                return;
            }
            let client_seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let wanted = d.get("session_id").and_then(Value::as_str).unwrap_or("");
            let Some(session) = st.session.as_mut().filter(|s| s.id == wanted) else {
                let _ = tx.send(Outgoing::Text(json!({"op": 9, "d": false}).to_string()));
                return;
            };
            let mut replayed = 0;
            for entry in session.log.iter_mut().filter(|e| e.seq > client_seq) {
                let _ = tx.send(Outgoing::Text(entry.frame.clone()));
                entry.delivered = true;
                replayed += 1;
            }
            st.replayed_count += replayed;
            if let Some(c) = st.conn.as_mut() {
                c.live = true;
            }
            dispatch_locked(&mut st, "RESUMED", json!({}));
            st.established += 1;
        }
        // Presence updates, member requests...: nothing to do.
        _ => {}
    }
    drop(st);
    inner.bump();
}

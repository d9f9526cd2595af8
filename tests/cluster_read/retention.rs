//! Retention over the streams: `PB_EVIDENCE` takes `max_age` from `store.retention_days`, and a
//! node deletes its own events of tickets its store no longer holds.

use std::time::Duration;

use serde_json::json;

use personabot::cluster::retention;
use personabot::store::Store;

use crate::nats::{runtime, NatsServer};
use crate::nodes::{eventually, node_with_retention, read_stream};

#[test]
fn a_node_gives_the_evidence_stream_its_retention_window() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let _a = node_with_retention(&dir.path().join("a"), &url, "a", "30");
    eventually("PB_EVIDENCE's max_age is 30 days", || {
        let age = runtime().block_on(async {
            let client = async_nats::connect(&url).await.map_err(|e| e.to_string())?;
            let js = async_nats::jetstream::new(client);
            let mut stream = js
                .get_stream("PB_EVIDENCE")
                .await
                .map_err(|e| e.to_string())?;
            let info = stream.info().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(info.config.max_age)
        })?;
        (age == Duration::from_secs(30 * 86_400))
            .then_some(())
            .ok_or(format!("max_age {age:?}"))
    });
}

/// A ticket event as a node publishes it, for ticket `id`.
fn event(node: &str, id: u64) -> Vec<u8> {
    json!({
        "event": "opened", "node": node, "interaction": id, "at_ms": 1, "has_contact": false,
        "ticket": {
            "id": id, "team": "billing", "status": "resolved", "created_ms": 1, "updated_ms": 1,
            "channel": "web", "conversation": "c", "user": "u_1", "persona": null,
            "intent": null, "evidence": [], "reason": "r", "interaction": id,
            "transcript": [], "claimed_by": null, "resolved_by": null, "relabels": []
        }
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_node_deletes_its_events_of_tickets_its_store_no_longer_holds() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    // A store that holds no ticket: every event of node x is of a purged ticket.
    let store = Store::open(dir.path(), Some("retention-test-key")).expect("store");
    runtime().block_on(async {
        let client = async_nats::connect(&url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        js.get_or_create_stream(personabot::cluster::outbox::stream_config(
            personabot::store::OutboxStream::Tickets,
        ))
        .await
        .expect("PB_TICKETS");
        for (node, id) in [("x", 16), ("y", 17), ("x", 32)] {
            js.publish(format!("pb.tickets.{node}"), event(node, id).into())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
        let deleted = retention::purge_ticket_events(&js, &store, "x")
            .await
            .expect("purge");
        assert_eq!(deleted, 2);
    });
    assert!(read_stream(&url, "PB_TICKETS", Some("pb.tickets.x")).is_empty());
    assert_eq!(
        read_stream(&url, "PB_TICKETS", Some("pb.tickets.y")).len(),
        1,
        "another node's stay"
    );
}

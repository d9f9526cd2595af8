//! Stores written before interactions and conversation states were kept in binary: their JSON
//! records, written by hand through sled, still open, read, export and take new turns (which
//! are then kept in the binary form), and the store's schema is upgraded so that an older
//! personabot refuses it.

use std::path::Path;

use personabot::store::{InteractionFilter, Store};

use crate::harness::{open_pipeline, say, CHANNEL};

/// sled on `data` directly, once the store just closed has let go of its file lock (sled's
/// background threads release it a moment after the last handle is dropped; `Store::open`
/// waits for it the same way).
pub(crate) fn sled_open(data: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match sled::open(data) {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return opened.unwrap(),
        }
    }
}

/// Rewrites the value under `key` in `tree` as `json`, through sled, with the store closed.
fn write_json(data: &Path, tree: &str, key: &[u8], json: Vec<u8>) {
    let db = sled_open(data);
    db.open_tree(tree).unwrap().insert(key, json).unwrap();
    db.flush().unwrap();
}

fn raw(data: &Path, tree: &str, key: &[u8]) -> Vec<u8> {
    let db = sled_open(data);
    let value = db.open_tree(tree).unwrap().get(key).unwrap();
    value.expect("stored").to_vec()
}

fn conversation_key(store: &Store, conversation: &str) -> Vec<u8> {
    let (channel, conversation) = store.stored_ids(CHANNEL, conversation);
    [channel.as_bytes(), b"\0", conversation.as_bytes()].concat()
}

#[test]
fn json_records_of_an_older_store_are_read_and_new_turns_are_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (id, before, state, key) = {
        let p = open_pipeline(&data);
        let outcome = say(&p, "old-conv", "old-user", "how much is the growth plan?");
        let store = p.store();
        let id = outcome.interaction.expect("an interaction");
        let before = store.interaction(id).unwrap().expect("stored");
        let state = store.conversation(CHANNEL, "old-conv").unwrap();
        assert_eq!(state.turns, 1);
        (id, before, state, conversation_key(store, "old-conv"))
    };
    // Written by this version: binary, with the customer's words still plain UTF-8.
    let binary = raw(&data, "interactions", &id.to_be_bytes());
    assert_eq!(binary[0], 2, "a version byte");
    let words = b"growth plan";
    assert!(binary.windows(words.len()).any(|w| w == words));

    // The same records as an older personabot wrote them: JSON.
    write_json(
        &data,
        "interactions",
        &id.to_be_bytes(),
        serde_json::to_vec(&before).unwrap(),
    );
    write_json(
        &data,
        "conversations",
        &key,
        serde_json::to_vec(&state).unwrap(),
    );
    write_json(&data, "meta", b"schema", b"1".to_vec());
    assert_eq!(raw(&data, "interactions", &id.to_be_bytes())[0], b'{');
    assert_eq!(raw(&data, "conversations", &key)[0], b'{');

    let p = open_pipeline(&data);
    let store = p.store();
    assert_eq!(store.interaction(id).unwrap().as_ref(), Some(&before));
    assert_eq!(store.conversation(CHANNEL, "old-conv").unwrap(), state);
    let mut export = Vec::new();
    store
        .export(&InteractionFilter::default(), &mut export)
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(export.trim_ascii_end()).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&serde_json::to_vec(&before).unwrap()).unwrap();
    assert_eq!(line, json);

    // The conversation goes on from its JSON state, and is kept in binary from then on.
    say(&p, "old-conv", "old-user", "and what about the scale plan?");
    let next = store.conversation(CHANNEL, "old-conv").unwrap();
    assert_eq!(next.turns, 2);
    assert_eq!(next.recent[..state.recent.len()], state.recent[..]);
    drop(p);
    assert_eq!(
        raw(&data, "conversations", &key)[0],
        2,
        "rewritten in binary"
    );
    // Upgraded: an older personabot now refuses the store rather than misread it.
    assert_eq!(raw(&data, "meta", b"schema"), b"4");
}

/// Tickets as an older personabot wrote them (JSON) are read, listed and joined; a ticket
/// changed is then kept in binary, its bot lines quoting the catalog's answer by reference
/// while the customer's words stay plain UTF-8.
#[test]
fn json_tickets_of_an_older_store_are_read_and_rewritten_in_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ticket = {
        let p = open_pipeline(&data);
        let opened = say(&p, "t-conv", "dana", "I'd like a refund please");
        opened.ticket.expect("a refund opens a ticket")
    };
    let key = ticket.id.to_be_bytes();
    let binary = raw(&data, "tickets", &key);
    assert_eq!(binary[0], 1, "a version byte");
    let bot = (ticket.transcript.iter())
        .find(|l| l.from == personabot::store::Actor::Bot)
        .expect("the bot's reply is in the transcript");
    let tail = b"; a person will pick it up from here.";
    assert!(bot.text.as_bytes().windows(tail.len()).any(|w| w == tail));
    assert!(
        !binary.windows(tail.len()).any(|w| w == tail),
        "by reference"
    );
    assert!(binary.windows(6).any(|w| w == b"refund"));

    write_json(&data, "tickets", &key, serde_json::to_vec(&ticket).unwrap());
    let p = open_pipeline(&data);
    let store = p.store();
    assert_eq!(store.ticket(ticket.id).unwrap().as_ref(), Some(&ticket));
    assert_eq!(
        store.conversation_tickets(CHANNEL, "t-conv").unwrap(),
        vec![ticket.clone()]
    );
    let joined = say(&p, "t-conv", "dana", "it was order 1234");
    assert_eq!(joined.ticket.as_ref().map(|t| t.id), Some(ticket.id));
    let now = store.ticket(ticket.id).unwrap().expect("still stored");
    assert_eq!(
        now.transcript[..ticket.transcript.len()],
        ticket.transcript[..]
    );
    assert!(now.transcript.len() > ticket.transcript.len());
    drop(p);
    assert_eq!(raw(&data, "tickets", &key)[0], 1, "rewritten in binary");
}

/// A store written before the `by_user` log (schema 2: the stored user id ++ the id, one key
/// per interaction) has its index rewritten when opened: forgetting its user still finds (and
/// removes) every one of their interactions, and the other user's stay.
#[test]
fn long_by_user_keys_of_an_older_store_are_rewritten_and_forget_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mine, theirs) = {
        let p = open_pipeline(&data);
        let a = say(&p, "conv-a", "zoe", "how much is the growth plan?");
        let b = say(&p, "conv-a", "zoe", "and the scale plan?");
        let c = say(&p, "conv-b", "max", "how much is the growth plan?");
        let ids = |o: &[&personabot::engine::pipeline::Outcome]| -> Vec<u64> {
            o.iter().map(|o| o.interaction.unwrap()).collect()
        };
        (ids(&[&a, &b]), ids(&[&c]))
    };
    // The index as schema 2 wrote it.
    {
        let db = sled_open(&data);
        let (interactions, by_user) = (
            db.open_tree("interactions").unwrap(),
            db.open_tree("by_user").unwrap(),
        );
        by_user.clear().unwrap();
        for id in mine.iter().chain(&theirs) {
            let bytes = interactions.get(id.to_be_bytes()).unwrap().unwrap();
            let user = raw_user(&bytes);
            let mut key = user.into_bytes();
            key.extend_from_slice(&id.to_be_bytes());
            assert_eq!(key.len(), 34 + 8, "u_ and 32 hex digits, then the id");
            by_user.insert(key, &[]).unwrap();
        }
        let meta = db.open_tree("meta").unwrap();
        meta.remove("by_user_keys").unwrap();
        meta.insert("schema", b"2").unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&data, Some("store-test-key")).unwrap();
    let report = store.forget_user("zoe").unwrap();
    assert_eq!(report.interactions, mine.len());
    for id in &mine {
        assert!(store.interaction(*id).unwrap().is_none(), "{id} forgotten");
    }
    for id in &theirs {
        assert!(store.interaction(*id).unwrap().is_some(), "{id} kept");
    }
    drop(store);
    let db = sled_open(&data);
    let entries: Vec<(usize, usize)> = db
        .open_tree("by_user")
        .unwrap()
        .iter()
        .map(|e| e.unwrap())
        .map(|(key, value)| (key.len(), value.len()))
        .collect();
    assert_eq!(
        entries,
        [(8, 16)],
        "one log entry, holding max's interaction alone"
    );
}

/// A store written with the `by_time` index (schema 3: one key of `at_ms` ++ id a turn) gets
/// its sparse time marks built from its interactions when opened, and loses `by_time`: windowed
/// reads and retention still find the right records.
#[test]
fn a_by_time_store_gets_time_marks_and_windowed_reads_and_retention_still_work() {
    const M: u64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let records: Vec<personabot::store::Interaction> = {
        let p = open_pipeline(&data);
        [
            "hello",
            "how much is the growth plan?",
            "and the scale plan?",
        ]
        .iter()
        .map(|t| {
            let id = say(&p, "old-times", "yan", t).interaction.unwrap();
            p.store().interaction(id).unwrap().expect("stored")
        })
        .collect()
    };
    let ids: Vec<u64> = records.iter().map(|i| i.id).collect();
    // The same turns at minutes 0, 2 and 10 of an hour, kept as schema 3 kept them: JSON
    // records, a `by_time` key each, no time marks.
    let t = 28_333_334 * M;
    let at = [t, t + 2 * M + 30_000, t + 10 * M];
    {
        let db = sled_open(&data);
        let (interactions, by_time) = (
            db.open_tree("interactions").unwrap(),
            db.open_tree("by_time").unwrap(),
        );
        for (record, at_ms) in records.iter().zip(at) {
            let (mut record, id) = (record.clone(), record.id);
            record.at_ms = at_ms;
            interactions
                .insert(id.to_be_bytes(), serde_json::to_vec(&record).unwrap())
                .unwrap();
            let mut key = at_ms.to_be_bytes().to_vec();
            key.extend_from_slice(&id.to_be_bytes());
            by_time.insert(key, &[]).unwrap();
        }
        db.drop_tree("time_marks").unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.remove("time_marks").unwrap();
        meta.insert("schema", b"3").unwrap();
        db.flush().unwrap();
    }
    let window = |since: Option<u64>, until: Option<u64>| InteractionFilter {
        since_ms: since,
        until_ms: until,
        ..Default::default()
    };
    {
        let store = Store::open(&data, Some("store-test-key")).unwrap();
        let read = |since, until| -> Vec<u64> {
            let found = store.interactions(&window(since, until)).unwrap();
            found.iter().map(|i| i.id).collect()
        };
        assert_eq!(read(None, None), ids);
        assert_eq!(read(Some(t + M), None), ids[1..]);
        assert_eq!(read(None, Some(t + 5 * M)), ids[..2]);
        assert_eq!(read(Some(t + 2 * M + 30_000), Some(t + 10 * M)), ids[1..2]);
        assert_eq!(read(Some(t + 10 * M), None), ids[2..]);
    }
    let db = sled_open(&data);
    let names: Vec<String> = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "by_time"), "dropped: {names:?}");
    let marks: Vec<(u64, u64)> = db
        .open_tree("time_marks")
        .unwrap()
        .iter()
        .map(|e| {
            let (k, v) = e.unwrap();
            let n = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap());
            (n(&k), n(&v))
        })
        .collect();
    let minutes = at.map(|a| a / M);
    assert_eq!(
        marks,
        [
            (minutes[0], ids[0]),
            (minutes[1], ids[1]),
            (minutes[2], ids[2])
        ]
    );
    let schema = db.open_tree("meta").unwrap().get("schema").unwrap();
    assert_eq!(schema.as_deref(), Some(&b"4"[..]));
    drop(db);

    // Retention finds the two older turns by id.
    let store = Store::open(&data, Some("store-test-key")).unwrap();
    assert_eq!(store.purge_before(t + 5 * M).unwrap(), 2);
    let left = store.interactions(&window(Some(t), None)).unwrap();
    assert_eq!(left.iter().map(|i| i.id).collect::<Vec<_>>(), ids[2..]);
    assert_eq!(store.interaction_count(), 1);
}

/// The stored user id in an interaction's bytes: the one string of the form `u_` + 32 hex
/// digits (the binary form keeps strings plain UTF-8).
fn raw_user(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(record);
    let at = text.find("u_").expect("a stored user id");
    text[at..at + 34].to_string()
}

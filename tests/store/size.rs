//! Bytes of store per turn: the shipped examples, each a new conversation, written through the
//! real pipeline into a real sled store, then the store's files measured once it is closed.

use std::path::Path;

use crate::harness::{open_pipeline, say};
use crate::support;

/// Turns written.
const TURNS: usize = 2_000;

/// The most bytes of store a turn may cost here. Issue #16 asks for at most 1,500, measured by
/// `benches/wrk.sh` (64 connections, 60,000 and more turns: 1,118 B a turn). This test is
/// smaller and slower to batch: 2,000 turns fill a few of sled's 512 KiB segments (runs vary by
/// about 10%), and four writers make group commits of about 2 turns, so each batch's `by_user`
/// entry and transaction cost more per turn. It measured 3,475 to 3,930 with JSON tickets and one
/// index key per turn, and about 2,360 since tickets are binary, bot texts are stored by
/// reference and the indexes are written per batch and per minute (live data ~480 B of
/// interaction, ~220 of conversation state, ~215 of ticket: printed below).
const MAX_BYTES_PER_TURN: u64 = 3_000;

fn size_of(dir: &Path) -> u64 {
    let mut files = Vec::new();
    support::files_under(dir, &mut files);
    files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum()
}

/// Prints the live bytes (keys and values) of each tree per turn: where the bytes go.
fn live_bytes_report(data: &Path) {
    let db = crate::old_records::sled_open(data);
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        let (mut keys, mut values) = (0usize, 0usize);
        for entry in tree.iter() {
            let (k, v) = entry.unwrap();
            keys += k.len();
            values += v.len();
        }
        eprintln!(
            "  {:<16} {:>6} entries, live {:>5} B of keys + {:>6} B of values per turn",
            String::from_utf8_lossy(&name),
            tree.len(),
            keys / TURNS,
            values / TURNS
        );
    }
}

#[test]
fn a_turn_costs_at_most_3000_bytes_of_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let texts: Vec<String> = support::shipped()
        .catalog
        .intents
        .iter()
        .flat_map(|i| i.examples.iter().map(|e| e.text.clone()))
        .collect();
    assert!(texts.len() > 50, "{} shipped examples", texts.len());
    {
        let p = open_pipeline(&data);
        // Four writers at once, as a server's requests are: the turn writer batches them.
        std::thread::scope(|s| {
            for w in 0..4 {
                let (p, texts) = (&p, &texts);
                s.spawn(move || {
                    for n in (w..TURNS).step_by(4) {
                        let text = &texts[n % texts.len()];
                        say(p, &format!("size-{n}"), &format!("user-{n}"), text);
                    }
                });
            }
        });
        assert_eq!(p.store().interaction_count(), TURNS);
        p.store().flush().unwrap();
    }
    let bytes = size_of(&data);
    let per_turn = bytes / TURNS as u64;
    eprintln!("{bytes} bytes of store for {TURNS} turns: {per_turn} per turn");
    live_bytes_report(&data);
    assert!(
        per_turn <= MAX_BYTES_PER_TURN,
        "{per_turn} bytes of store per turn ({bytes} for {TURNS} turns), over {MAX_BYTES_PER_TURN}"
    );
}

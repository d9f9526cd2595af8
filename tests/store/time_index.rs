//! The sparse time index (`time_marks`: the first interaction id of each minute) instead of the
//! `by_time` tree: windowed reads at minute edges with turns slightly out of id order,
//! retention, forget and compaction, all on a real sled store written through `record_turn`.

use std::collections::BTreeMap;
use std::path::Path;

use personabot::core::conversation::ConversationState;
use personabot::engine::pipeline::Pipeline;
use personabot::store::{now_ms, Interaction, InteractionFilter, Store, TicketChange};

use crate::harness::{ids, open_pipeline, say};
use crate::old_records::sled_open;

const M: u64 = 60_000;

/// Writes interactions like a template (a real turn), each as its own conversation, and keeps
/// what it wrote, in write (id) order.
struct Writer {
    template: Interaction,
    written: Vec<Interaction>,
}

impl Writer {
    fn new(p: &Pipeline) -> Writer {
        let o = say(p, "time-template", "tess", "how much is the growth plan?");
        let template = p
            .store()
            .interaction(o.interaction.unwrap())
            .unwrap()
            .unwrap();
        Writer {
            written: vec![template.clone()],
            template,
        }
    }

    /// A turn of `user` at `at_ms`, with the next id; returns the id.
    fn turn(&mut self, store: &Store, user: &str, at_ms: u64) -> u64 {
        let mut i = self.template.clone();
        i.id = store.next_interaction_id().unwrap();
        i.at_ms = at_ms;
        i.user = store.hash_user(user);
        i.conversation = format!("time-{}", i.id);
        store
            .record_turn(&i, &ConversationState::default(), &TicketChange::None, None)
            .unwrap();
        let id = i.id;
        self.written.push(i);
        id
    }

    /// What a read of `[since, until)` must return: every kept interaction in it, by
    /// (`at_ms`, id).
    fn expected(&self, since: Option<u64>, until: Option<u64>) -> Vec<u64> {
        let mut want: Vec<&Interaction> = self
            .written
            .iter()
            .filter(|i| since.is_none_or(|s| i.at_ms >= s) && until.is_none_or(|u| i.at_ms < u))
            .collect();
        want.sort_by_key(|i| (i.at_ms, i.id));
        want.iter().map(|i| i.id).collect()
    }

    /// The marks the writer should have left: each minute's first id written.
    fn expected_marks(&self) -> Vec<(u64, u64)> {
        let mut marks = BTreeMap::new();
        for i in &self.written {
            marks.entry(i.at_ms / M).or_insert(i.id);
        }
        marks.into_iter().collect()
    }
}

/// A whole minute some minutes ahead: the turns written at it come after the template's in
/// time, as ids do.
fn minute_ahead() -> u64 {
    (now_ms() / M + 10) * M
}

fn window(since: Option<u64>, until: Option<u64>) -> InteractionFilter {
    InteractionFilter {
        since_ms: since,
        until_ms: until,
        ..Default::default()
    }
}

/// The store's trees and marks, read with sled directly once the store is closed.
fn raw_index(data: &Path) -> (Vec<String>, Vec<(u64, u64)>) {
    let db = sled_open(data);
    let names = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let number = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap());
    let marks = db
        .open_tree("time_marks")
        .unwrap()
        .iter()
        .map(|e| {
            let (k, v) = e.unwrap();
            (number(&k), number(&v))
        })
        .collect();
    (names, marks)
}

/// Checks every window of `windows` against what was written.
fn check_windows(store: &Store, w: &Writer, windows: &[(Option<u64>, Option<u64>)], when: &str) {
    for &(since, until) in windows {
        let got = ids(&store.interactions(&window(since, until)).unwrap());
        assert_eq!(
            got,
            w.expected(since, until),
            "{when}: since {since:?} until {until:?}"
        );
    }
}

#[test]
fn windowed_reads_find_turns_at_minute_edges_and_slightly_out_of_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = minute_ahead();
    let (windows, marks) = {
        let p = open_pipeline(&data);
        let store = p.store();
        let mut w = Writer::new(&p);
        // In write (id) order; some a little before the turn written just before them, across
        // a minute's edge, as turns decided at once are written.
        for at in [
            t - 1,
            t,
            t + 30_000,
            t + M - 1,
            t + M,
            t + M - 500,
            t + 2 * M + 10,
            t + 2 * M - 2_000,
            t + 3 * M,
            t + 5 * M,
            t + 5 * M - 1,
            t + 10 * M,
            t + 9 * M,
            t + 20 * M,
        ] {
            w.turn(store, "ula", at);
        }
        let windows = [
            (None, None),
            (Some(t), Some(t + M)),
            (Some(t + M), Some(t + 2 * M)),
            (Some(t + M - 1), Some(t + M + 1)),
            (Some(t + M - 500), Some(t + M - 499)),
            (Some(t + 2 * M), None),
            (None, Some(t + 2 * M)),
            (None, Some(t)),
            (Some(t + 5 * M), Some(t + 10 * M)),
            (Some(t + 9 * M), Some(t + 10 * M)),
            (Some(t + 10 * M), None),
            (Some(t + 20 * M), Some(t + 20 * M + 1)),
            (Some(t + 21 * M), None),
            (Some(t + M), Some(t + M)),
        ];
        check_windows(store, &w, &windows, "written");
        assert_eq!(w.expected(Some(t + M - 1), Some(t + M + 1)).len(), 2);
        // A filter applies inside the window too.
        let none = InteractionFilter {
            persona: Some("investor".into()),
            ..window(Some(t), None)
        };
        assert!(store.interactions(&none).unwrap().is_empty());
        (windows.len(), w.expected_marks())
    };
    assert!(windows > 10);
    let (trees, stored_marks) = raw_index(&data);
    assert!(!trees.iter().any(|n| n == "by_time"), "{trees:?}");
    assert_eq!(stored_marks, marks, "one mark a minute: its first id");
    assert_eq!(
        marks.len(),
        11,
        "the template's minute and 10 of the turns'"
    );
}

#[test]
fn retention_deletes_by_id_up_to_an_hour_past_its_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = minute_ahead() + 30 * M;
    let p = open_pipeline(&data);
    let store = p.store();
    let mut w = Writer::new(&p);
    let at = [
        c - 20 * M,
        c - 1,
        c + 1,
        c - 5,
        c + 30 * M,
        c - 2,
        c + 61 * M,
        // After the scan's stop: a clock stepped back by more than the hour of slack.
        c - 3,
        c + 62 * M,
    ];
    let id: Vec<u64> = at.iter().map(|&at| w.turn(store, "vic", at)).collect();
    let kept = |w: &Writer| w.expected(None, None);
    assert_eq!(kept(&w).len(), 10, "the template and 9 turns");

    assert_eq!(
        store.purge_before(c).unwrap(),
        5,
        "the template and 4 turns"
    );
    let purged = [w.written[0].id, id[0], id[1], id[3], id[5]];
    w.written.retain(|i| !purged.contains(&i.id));
    assert_eq!(
        ids(&store.interactions(&window(None, None)).unwrap()),
        [id[7], id[2], id[4], id[6], id[8]],
        "the newer ones, and the one past the stop"
    );
    assert_eq!(kept(&w), [id[7], id[2], id[4], id[6], id[8]]);
    check_windows(
        store,
        &w,
        &[
            (Some(c), None),
            (Some(c), Some(c + M)),
            (Some(c + 30 * M), Some(c + 62 * M)),
            (Some(c + 1), Some(c + 2)),
        ],
        "purged",
    );
    // The documented slack: a window ending at the cutoff stops at the turn 30 minutes past
    // it, before the one stored with a clock stepped back by an hour; only reads without a
    // window are sure to see it.
    assert!(store
        .interactions(&window(None, Some(c)))
        .unwrap()
        .is_empty());
    // A later purge reaches the one past the stop.
    assert_eq!(store.purge_before(c + 30 * M).unwrap(), 2);
    assert_eq!(
        ids(&store.interactions(&window(None, None)).unwrap()),
        [id[4], id[6], id[8]]
    );
    // The by_user index was cleaned too: forgetting the user finds only what is left.
    assert_eq!(store.forget_user("vic").unwrap().interactions, 3);
    drop(p);
    let (_, marks) = raw_index(&data);
    assert_eq!(
        marks.iter().map(|m| m.0).collect::<Vec<_>>(),
        [(c + 30 * M) / M, (c + 61 * M) / M, (c + 62 * M) / M],
        "the marks of the purged minutes are gone"
    );
}

#[test]
fn forget_and_compaction_keep_windowed_reads_right() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = minute_ahead();
    let windows = [
        (None, None),
        (Some(t), Some(t + M)),
        (Some(t + M), Some(t + 3 * M)),
        (Some(t + 2 * M - 1), None),
        (Some(t + 7 * M), Some(t + 9 * M)),
        (Some(t + 8 * M), None),
    ];
    let marks = {
        let p = open_pipeline(&data);
        let store = p.store();
        let mut w = Writer::new(&p);
        let at = [
            t,
            t + 10,
            t + M,
            t + 2 * M - 1,
            t + 2 * M,
            t + M + 5,
            t + 7 * M,
        ];
        for (n, at) in at.into_iter().enumerate() {
            w.turn(store, if n % 2 == 0 { "xia" } else { "wen" }, at);
        }
        check_windows(store, &w, &windows, "written");
        // Forgetting leaves the marks: some name forgotten ids (a scan starts there all the
        // same).
        let mut marks = w.expected_marks();
        let xia = store.hash_user("xia");
        assert_eq!(store.forget_user("xia").unwrap().interactions, 4);
        assert!(marks
            .iter()
            .any(|&(_, id)| store.interaction(id).unwrap().is_none()));
        w.written.retain(|i| i.user != xia);
        check_windows(store, &w, &windows, "forgotten");

        let compacted = store.compact().unwrap();
        assert!(compacted.records > 0);
        check_windows(store, &w, &windows, "compacted");
        // Turns after the compaction are marked and read as before.
        let later = w.turn(store, "wen", t + 8 * M);
        w.turn(store, "wen", t + 8 * M - 1);
        check_windows(store, &w, &windows, "written after the compaction");
        marks.push((t / M + 8, later));
        marks
    };
    let (trees, stored) = raw_index(&data);
    assert!(!trees.iter().any(|n| n == "by_time"), "{trees:?}");
    assert_eq!(stored, marks, "copied by the compaction, then one more");
}

//! The turn writer under concurrent async turns: each waits for the writer's batch to be
//! applied before it reads the store (`Store::writer_applied`), then for its group commit.
//! Every turn is answered and stored, and each conversation's turns keep their order.

use std::sync::Arc;

use personabot::engine::pipeline::{Inbound, Mode};

use crate::harness::{open_pipeline, CHANNEL};

const CONVERSATIONS: usize = 40;
const TURNS: usize = 5;

#[test]
fn concurrent_async_turns_are_all_stored_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Arc::new(open_pipeline(dir.path()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let per_conversation: Vec<Vec<u64>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..CONVERSATIONS)
            .map(|c| {
                let pipeline = pipeline.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for n in 0..TURNS {
                        let inbound = Inbound {
                            channel: CHANNEL.into(),
                            conversation: format!("conv-{c}"),
                            user: format!("user-{c}"),
                            text: format!("how much does the growth plan cost for {n} seats"),
                        };
                        let outcome = pipeline
                            .handle_async(&inbound, Mode::Route)
                            .await
                            .unwrap_or_else(|e| panic!("turn {n} of conv-{c}: {e}"));
                        ids.push(outcome.interaction.expect("a stored interaction"));
                    }
                    ids
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.push(
                tokio::time::timeout(std::time::Duration::from_secs(120), task)
                    .await
                    .expect("every turn is answered: none waits for the writer forever")
                    .unwrap(),
            );
        }
        all
    });
    let mut every: Vec<u64> = per_conversation.iter().flatten().copied().collect();
    every.sort_unstable();
    every.dedup();
    assert_eq!(
        every.len(),
        CONVERSATIONS * TURNS,
        "distinct interaction ids"
    );
    let store = pipeline.store();
    for (c, ids) in per_conversation.iter().enumerate() {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "conv-{c}: {ids:?}");
        for id in ids {
            let stored = store.interaction(*id).unwrap().expect("stored");
            assert_eq!(stored.conversation, format!("conv-{c}"));
        }
        let state = store.conversation(CHANNEL, &format!("conv-{c}")).unwrap();
        assert_ne!(state, Default::default(), "conv-{c} has its state");
    }
    assert!(
        store.commit_stats().turns >= (CONVERSATIONS * TURNS) as u64,
        "{:?}",
        store.commit_stats()
    );
}

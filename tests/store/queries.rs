//! Interaction queries by time, persona, intent and outcome.

use std::time::Duration;

use personabot::store::{now_ms, Interaction, InteractionFilter};

use crate::harness::{ids, open_pipeline, say, CHANNEL};

#[test]
fn interaction_queries_by_time_persona_intent_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();

    // Batch A.
    let founder = say(
        &p,
        "q-founder",
        "fay",
        "I'm the founder of a 5-person startup",
    );
    let founder_price = say(&p, "q-founder", "fay", "how much is it?");
    p.feedback(CHANNEL, "q-founder", "fay", true).unwrap();
    let miss = say(&p, "q-miss", "gus", "asdf qwerty");
    std::thread::sleep(Duration::from_millis(5));
    let split = now_ms();
    // Batch B.
    let clarify = say(
        &p,
        "q-clarify",
        "hal",
        "how much does it cost and can I get a refund?",
    );
    let tech = say(&p, "q-tech", "ivy", "the dashboard is not loading");
    let escalation = say(&p, "q-tech", "ivy", "that didn't help");
    let a: Vec<u64> = [&founder, &founder_price, &miss]
        .iter()
        .map(|o| o.interaction.unwrap())
        .collect();
    let b: Vec<u64> = [&clarify, &tech, &escalation]
        .iter()
        .map(|o| o.interaction.unwrap())
        .collect();

    let q = |f: InteractionFilter| ids(&store.interactions(&f).unwrap());
    let all = q(InteractionFilter::default());
    assert_eq!(all, [a.clone(), b.clone()].concat(), "oldest first");
    assert_eq!(
        q(InteractionFilter {
            until_ms: Some(split),
            ..Default::default()
        }),
        a
    );
    assert_eq!(
        q(InteractionFilter {
            since_ms: Some(split),
            ..Default::default()
        }),
        b
    );
    assert!(q(InteractionFilter {
        since_ms: Some(now_ms() + 60_000),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        q(InteractionFilter {
            since_ms: Some(split),
            until_ms: Some(split),
            ..Default::default()
        }),
        Vec::<u64>::new(),
        "an empty window"
    );

    let persona = |id: &str| InteractionFilter {
        persona: Some(id.into()),
        ..Default::default()
    };
    assert_eq!(q(persona("startup-founder")), a[..2].to_vec());
    assert!(q(persona("investor")).is_empty());
    assert_eq!(q(persona("none")), [vec![a[2]], b.clone()].concat());

    let intent = |id: &str| InteractionFilter {
        intent: Some(id.into()),
        ..Default::default()
    };
    assert_eq!(
        q(intent("pricing")),
        vec![a[1], b[0]],
        "the clarify decision carries its best intent"
    );
    assert_eq!(q(intent("technical-issue")), vec![b[1]]);
    assert_eq!(q(intent("did-not-help")), vec![b[2]]);

    let outcome = |o: &str| InteractionFilter {
        outcome: Some(o.into()),
        ..Default::default()
    };
    assert_eq!(q(outcome("answer")), vec![a[1], b[1]]);
    assert_eq!(q(outcome("fallback")), vec![a[0], a[2]]);
    assert_eq!(q(outcome("clarify")), vec![b[0]]);
    assert_eq!(q(outcome("ticket")), vec![b[2]]);
    assert_eq!(q(outcome("helped")), vec![a[1]]);
    assert_eq!(q(outcome("not-helped")), vec![b[1]]);

    let combined = InteractionFilter {
        since_ms: Some(split),
        intent: Some("technical-issue".into()),
        outcome: Some("not-helped".into()),
        ..Default::default()
    };
    assert_eq!(q(combined), vec![b[1]]);

    // Export: one JSON line per matching interaction.
    for (filter, want) in [
        (InteractionFilter::default(), 6),
        (
            InteractionFilter {
                since_ms: Some(split),
                ..Default::default()
            },
            3,
        ),
        (outcome("answer"), 2),
        (persona("investor"), 0),
    ] {
        let mut buf = Vec::new();
        let n = store.export(&filter, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!((n, lines.len()), (want, want), "{filter:?}");
        let parsed: Vec<Interaction> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            parsed,
            store.interactions(&filter).unwrap(),
            "export equals the query"
        );
    }
}

#[test]
fn interactions_of_one_user_come_from_the_by_user_index_and_stop_at_until() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();
    let first = say(&p, "u-one", "fay", "how much is it?");
    let other = say(&p, "u-two", "gus", "how much is it?");
    std::thread::sleep(Duration::from_millis(5));
    let split = now_ms();
    let later = say(&p, "u-one", "fay", "can I get a refund?");
    let stored = |o: &personabot::engine::pipeline::Outcome| {
        store.interaction(o.interaction.unwrap()).unwrap().unwrap()
    };
    let fay = stored(&first).user;
    assert_ne!(fay, stored(&other).user);
    let all = ids(&store.interactions_of(&fay, u64::MAX).unwrap());
    assert_eq!(
        all,
        [first.interaction.unwrap(), later.interaction.unwrap()]
    );
    let before = ids(&store.interactions_of(&fay, split).unwrap());
    assert_eq!(before, [first.interaction.unwrap()]);
    // A prefix of a stored id is no user.
    assert!(store
        .interactions_of(&fay[..fay.len() - 1], u64::MAX)
        .unwrap()
        .is_empty());
}

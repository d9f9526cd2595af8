//! `personabot review` shows how the teams served their tickets: median first response and
//! resolution times and the customers' ratings, per team and per persona.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use personabot::store::{now_ms, Store};
use serde_json::Value;

use super::{say, support, KEY};

const MINUTE: u64 = 60_000;

#[test]
fn review_shows_response_times_and_ratings_per_team_and_persona() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    {
        let start = now_ms() - 3 * 60 * MINUTE;
        let clock = Arc::new(AtomicU64::new(start));
        let time = clock.clone();
        let p = support::pipeline_on(Store::open(&data, Some(KEY)).unwrap())
            .with_clock(move || time.load(Ordering::SeqCst));
        let opened = say(
            &p,
            "seller-9",
            "I want a refund for last month's invoice, please",
        );
        let ticket = opened.ticket.expect("a billing ticket");
        assert_eq!(ticket.team, "billing");
        clock.store(start + 10 * MINUTE, Ordering::SeqCst);
        p.agent_reply(ticket.id, "ann", "Looking into it").unwrap();
        clock.store(start + 60 * MINUTE, Ordering::SeqCst);
        p.resolve(ticket.id, "ann").unwrap();
        clock.store(start + 70 * MINUTE, Ordering::SeqCst);
        personabot::engine::csat::rate(&p, "http", "seller-9", "user-seller-9", 4, None).unwrap();
    }
    let run = support::run_in(work.path(), &data, &["review", "--json"], None);
    run.expect_ok();
    let review: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    let billing = review["service"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "billing")
        .cloned()
        .expect("billing's service");
    assert_eq!(billing["tickets"], 1, "{billing}");
    assert_eq!(billing["first_response_median_ms"], 10 * MINUTE);
    assert_eq!(billing["resolution_median_ms"], 60 * MINUTE);
    assert_eq!(
        (&billing["csat_count"], &billing["csat_average"]),
        (&1.into(), &4.0.into())
    );
    let personas = review["service"]["personas"].as_array().unwrap();
    let rated: u64 = personas
        .iter()
        .map(|p| p["csat_count"].as_u64().unwrap())
        .sum();
    assert_eq!(rated, 1);

    let text = support::run_in(work.path(), &data, &["review"], None);
    text.expect_ok();
    assert!(text.stdout.contains("SERVICE PER TEAM"), "{}", text.stdout);
    let row = text
        .stdout
        .lines()
        .find(|l| l.starts_with("billing ") && l.ends_with("4.0"))
        .unwrap_or_else(|| panic!("a billing service row: {}", text.stdout));
    assert!(row.contains("10m") && row.contains("60m"), "{row}");
}

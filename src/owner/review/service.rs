//! How the teams served their tickets, per team and per persona: the median time to the first
//! agent reply and to resolution (wall-clock), the tickets overdue now (by the teams'
//! response-time targets) and the customers' ratings (`csat`: how many, their mean).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::core::model::Team;
use crate::engine::targets::{due, first_response_ms};
use crate::store::{Ticket, TicketStatus};

/// One group's (a team's or a persona's) service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Service {
    /// The team or persona id (`-`: tickets without a persona).
    pub id: String,
    pub tickets: usize,
    /// Median time from opening to the first agent reply, of tickets that had one.
    pub first_response_median_ms: Option<u64>,
    /// Median time from opening to resolution (its last change), of resolved tickets.
    pub resolution_median_ms: Option<u64>,
    /// Tickets past a target now.
    pub overdue: usize,
    /// Ratings given.
    pub csat_count: usize,
    /// Their mean, 1 to 5.
    pub csat_average: Option<f64>,
}

/// Service per team and per persona, each sorted by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceReview {
    pub teams: Vec<Service>,
    pub personas: Vec<Service>,
}

/// The median of `values` (the lower middle for an even count); None when empty.
pub fn median(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    let n = values.len();
    (n > 0).then(|| values[(n - 1) / 2])
}

fn service(id: &str, tickets: &[&Ticket], teams: &BTreeMap<String, Team>, now_ms: u64) -> Service {
    let first = tickets
        .iter()
        .filter_map(|t| Some(first_response_ms(t)?.saturating_sub(t.created_ms)))
        .collect();
    let resolved = tickets
        .iter()
        .filter(|t| t.status == TicketStatus::Resolved)
        .map(|t| t.updated_ms.saturating_sub(t.created_ms))
        .collect();
    let ratings: Vec<u8> = tickets
        .iter()
        .filter_map(|t| t.csat.as_ref().map(|c| c.rating))
        .collect();
    let sum: u64 = ratings.iter().map(|r| u64::from(*r)).sum();
    Service {
        id: id.to_string(),
        tickets: tickets.len(),
        first_response_median_ms: median(first),
        resolution_median_ms: median(resolved),
        overdue: tickets
            .iter()
            .filter(|t| due(teams.get(&t.team), t, now_ms).overdue)
            .count(),
        csat_count: ratings.len(),
        csat_average: (!ratings.is_empty()).then(|| sum as f64 / ratings.len() as f64),
    }
}

/// The service of `tickets`, grouped by team and by persona (`none_id` for none).
pub fn service_review(
    tickets: &[&Ticket],
    teams: &BTreeMap<String, Team>,
    none_id: &str,
    now_ms: u64,
) -> ServiceReview {
    let mut by_team: BTreeMap<&str, Vec<&Ticket>> = BTreeMap::new();
    let mut by_persona: BTreeMap<&str, Vec<&Ticket>> = BTreeMap::new();
    for t in tickets {
        by_team.entry(&t.team).or_default().push(t);
        let persona = t.persona.as_ref().map_or(none_id, |p| p.id.as_str());
        by_persona.entry(persona).or_default().push(t);
    }
    let group = |groups: BTreeMap<&str, Vec<&Ticket>>| {
        groups
            .into_iter()
            .map(|(id, ts)| service(id, &ts, teams, now_ms))
            .collect()
    };
    ServiceReview {
        teams: group(by_team),
        personas: group(by_persona),
    }
}

fn minutes(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".to_string(), |ms| format!("{}m", ms.div_ceil(60_000)))
}

/// The text tables of [`ServiceReview`].
pub fn render_service(out: &mut String, review: &ServiceReview) {
    for (title, rows) in [
        ("SERVICE PER TEAM", &review.teams),
        ("SERVICE PER PERSONA", &review.personas),
    ] {
        let _ = writeln!(out, "\n{title}");
        if rows.is_empty() {
            let _ = writeln!(out, "no tickets");
            continue;
        }
        let width = rows
            .iter()
            .map(|r| r.id.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>14}  {:>10}  {:>7}  {:>7}  {:>4}",
            "id", "tickets", "first response", "resolution", "overdue", "ratings", "csat"
        );
        for r in rows {
            let _ = writeln!(
                out,
                "{:<width$}  {:>7}  {:>14}  {:>10}  {:>7}  {:>7}  {:>4}",
                r.id,
                r.tickets,
                minutes(r.first_response_median_ms),
                minutes(r.resolution_median_ms),
                r.overdue,
                r.csat_count,
                r.csat_average
                    .map_or_else(|| "-".to_string(), |a| format!("{a:.1}")),
            );
        }
    }
    let _ = writeln!(
        out,
        "first response, resolution: median minutes from opening (wall-clock); overdue: past a \
         team's target now; csat: mean customer rating (1-5)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Actor, Csat, TranscriptLine};
    use serde_json::json;

    const M: u64 = 60_000;

    fn ticket(
        team: &str,
        persona: Option<&str>,
        status: &str,
        reply: Option<u64>,
        done: u64,
        rating: Option<u8>,
    ) -> Ticket {
        let mut t: Ticket = serde_json::from_value(json!({
            "id": 1, "team": team, "status": status, "created_ms": 0, "updated_ms": done,
            "channel": "web", "conversation": "c", "user": "u",
            "persona": persona.map(|p| json!({"id": p, "confidence": 1.0})), "intent": null,
            "evidence": [], "reason": "", "interaction": 1, "transcript": [],
            "claimed_by": null, "resolved_by": null, "relabels": [],
        }))
        .expect("a ticket");
        if let Some(at_ms) = reply {
            t.transcript.push(TranscriptLine {
                at_ms,
                from: Actor::Agent("ann".into()),
                text: "hi".into(),
                user: None,
            });
        }
        t.csat = rating.map(|rating| Csat {
            rating,
            comment: None,
            at_ms: done,
        });
        t
    }

    #[test]
    fn medians_take_the_lower_middle() {
        let table = [
            (vec![], None),
            (vec![5], Some(5)),
            (vec![9, 1, 5], Some(5)),
            (vec![4, 1, 3, 2], Some(2)),
        ];
        for (values, want) in table {
            assert_eq!(median(values.clone()), want, "{values:?}");
        }
    }

    #[test]
    fn service_is_grouped_by_team_and_persona() {
        let tickets = [
            ticket(
                "sales",
                Some("founder"),
                "resolved",
                Some(10 * M),
                60 * M,
                Some(5),
            ),
            ticket("sales", None, "resolved", Some(30 * M), 120 * M, Some(2)),
            ticket("sales", Some("founder"), "open", None, 0, None),
            ticket(
                "billing",
                Some("founder"),
                "claimed",
                Some(20 * M),
                20 * M,
                None,
            ),
        ];
        let refs: Vec<&Ticket> = tickets.iter().collect();
        let teams = BTreeMap::from([(
            "sales".to_string(),
            Team {
                first_response_target: "1h".into(),
                ..Team::default()
            },
        )]);
        let review = service_review(&refs, &teams, "-", 2 * 60 * M);
        let sales = &review.teams[1];
        assert_eq!(
            (
                sales.id.as_str(),
                sales.tickets,
                sales.first_response_median_ms,
                sales.resolution_median_ms
            ),
            ("sales", 3, Some(10 * M), Some(60 * M))
        );
        assert_eq!(
            (sales.overdue, sales.csat_count, sales.csat_average),
            (1, 2, Some(3.5))
        );
        let billing = &review.teams[0];
        assert_eq!(
            (
                billing.id.as_str(),
                billing.overdue,
                billing.resolution_median_ms
            ),
            ("billing", 0, None)
        );
        let ids: Vec<(&str, usize)> = review
            .personas
            .iter()
            .map(|p| (p.id.as_str(), p.tickets))
            .collect();
        assert_eq!(ids, [("-", 1), ("founder", 3)]);
        let mut text = String::new();
        render_service(&mut text, &review);
        assert!(
            text.contains("SERVICE PER TEAM") && text.contains("SERVICE PER PERSONA"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("sales") && l.contains("10m") && l.ends_with("3.5")),
            "{text}"
        );
    }
}

//! Response-time targets: a team's `first_response_target` and `resolve_target`, counted in its
//! business hours from when a ticket opened, give a ticket's `first_response_due_ms`,
//! `resolve_due_ms` and whether it is `overdue` (still open past either: no agent reply by the
//! first, not resolved by the second).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::core::hours::BusinessHours;
use crate::core::model::Team;
use crate::store::{Actor, Ticket, TicketStatus};

/// A target as written ("4h", "1d 2h 30m"), in milliseconds; None when empty.
pub fn parse_target(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let span = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as \"4h\" or \"1d 2h\": {e}"))?;
    match u64::try_from(span.as_millis()) {
        Ok(0) | Err(_) => Err(format!(
            "`{text}` must be more than zero and at most a year"
        )),
        Ok(ms) if ms > 366 * 86_400_000 => Err(format!("`{text}` must be at most a year")),
        Ok(ms) => Ok(Some(ms)),
    }
}

/// A ticket's targets, as its JSON shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Due {
    pub first_response_due_ms: Option<u64>,
    pub resolve_due_ms: Option<u64>,
    pub overdue: bool,
}

/// When the first agent reply came, if one did.
pub fn first_response_ms(ticket: &Ticket) -> Option<u64> {
    ticket
        .transcript
        .iter()
        .find(|l| matches!(l.from, Actor::Agent(_)))
        .map(|l| l.at_ms)
}

/// `open_ms` of the team's business hours after `start_ms` (always open without hours).
fn after(hours: Option<&BusinessHours>, start_ms: u64, open_ms: u64) -> Option<u64> {
    match hours {
        None => start_ms.checked_add(open_ms),
        Some(hours) => {
            let start = jiff::Timestamp::from_millisecond(i64::try_from(start_ms).ok()?).ok()?;
            let due = hours.after_open_time(start, open_ms)?;
            u64::try_from(due.as_millisecond()).ok()
        }
    }
}

/// The targets of `ticket` for its `team` at `now_ms`. Targets or hours that do not parse
/// (`check` reports them) count as none.
pub fn due(team: Option<&Team>, ticket: &Ticket, now_ms: u64) -> Due {
    let Some(team) = team else {
        return Due::default();
    };
    let hours = BusinessHours::parse(&team.hours, &team.timezone)
        .ok()
        .flatten();
    let target = |text: &str| {
        parse_target(text)
            .ok()
            .flatten()
            .and_then(|ms| after(hours.as_ref(), ticket.created_ms, ms))
    };
    let first = target(&team.first_response_target);
    let resolve = target(&team.resolve_target);
    let open = ticket.status != TicketStatus::Resolved;
    let past = |due: Option<u64>| due.is_some_and(|d| now_ms > d);
    let unanswered = first_response_ms(ticket).is_none();
    Due {
        first_response_due_ms: first,
        resolve_due_ms: resolve,
        overdue: open && ((unanswered && past(first)) || past(resolve)),
    }
}

/// Adds a ticket's targets to its JSON object.
pub fn add_due(value: &mut serde_json::Value, due: Due) {
    if let (Some(object), Ok(serde_json::Value::Object(fields))) =
        (value.as_object_mut(), serde_json::to_value(due))
    {
        object.extend(fields);
    }
}

/// Overdue tickets by team, for `/metrics`: every team with a target (0 when none is overdue).
pub fn overdue_by_team(
    teams: &BTreeMap<String, Team>,
    tickets: &[Ticket],
    now_ms: u64,
) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = teams
        .iter()
        .filter(|(_, t)| {
            !t.first_response_target.trim().is_empty() || !t.resolve_target.trim().is_empty()
        })
        .map(|(id, _)| (id.clone(), 0))
        .collect();
    for t in tickets {
        if due(teams.get(&t.team), t, now_ms).overdue {
            *out.entry(t.team.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// The `/metrics` lines for [`overdue_by_team`] (team ids are `[a-z0-9_]`, nothing to escape).
pub fn render_overdue(overdue: &BTreeMap<String, u64>) -> String {
    let mut out = String::from(
        "# HELP personabot_tickets_overdue Tickets past a response-time target, by team.\n\
         # TYPE personabot_tickets_overdue gauge\n",
    );
    for (team, n) in overdue {
        out.push_str(&format!(
            "personabot_tickets_overdue{{team=\"{team}\"}} {n}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TranscriptLine;
    use serde_json::json;

    const H: u64 = 3_600_000;

    fn ticket(status: &str, created_ms: u64, agent_reply_at: Option<u64>) -> Ticket {
        let mut t: Ticket = serde_json::from_value(json!({
            "id": 1, "team": "sales", "status": status, "created_ms": created_ms,
            "updated_ms": created_ms, "channel": "web", "conversation": "c", "user": "u",
            "persona": null, "intent": null, "evidence": [], "reason": "", "interaction": 1,
            "transcript": [], "claimed_by": null, "resolved_by": null, "relabels": [],
        }))
        .expect("a ticket");
        if let Some(at_ms) = agent_reply_at {
            t.transcript.push(TranscriptLine {
                at_ms,
                from: Actor::Agent("ann".into()),
                text: "hi".into(),
                user: None,
            });
        }
        t
    }

    fn team(first: &str, resolve: &str, hours: &str) -> Team {
        Team {
            first_response_target: first.into(),
            resolve_target: resolve.into(),
            hours: hours.into(),
            ..Team::default()
        }
    }

    #[test]
    fn targets_parse_as_durations() {
        let table = [
            ("", Ok(None)),
            ("  ", Ok(None)),
            ("4h", Ok(Some(4 * H))),
            ("1d 2h", Ok(Some(26 * H))),
            ("30m", Ok(Some(H / 2))),
        ];
        for (text, want) in table {
            assert_eq!(parse_target(text), want, "{text:?}");
        }
        for bad in ["soon", "4", "0s", "2years"] {
            assert!(parse_target(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tickets_are_due_and_overdue_by_their_teams_targets() {
        // 2026-12-04T10:00:00Z, a Friday.
        let fri_10 = 1_796_378_400_000;
        let always = team("1h", "4h", "");
        let office = team("2h", "8h", "Mon-Fri 09:00-17:00");
        let none = team("", "", "");
        let table = [
            // team, status, agent reply, now - created, first due, resolve due, overdue
            (&always, "open", None, 0, Some(H), Some(4 * H), false),
            (&always, "open", None, H + 1, Some(H), Some(4 * H), true),
            (
                &always,
                "claimed",
                Some(H / 2),
                2 * H,
                Some(H),
                Some(4 * H),
                false,
            ),
            (
                &always,
                "claimed",
                Some(H / 2),
                5 * H,
                Some(H),
                Some(4 * H),
                true,
            ),
            (
                &always,
                "resolved",
                None,
                9 * H,
                Some(H),
                Some(4 * H),
                false,
            ),
            (&none, "open", None, 99 * H, None, None, false),
            // Friday 10:00 + 8 business hours is Monday 10:00 (72 h later).
            (
                &office,
                "open",
                Some(H),
                71 * H,
                Some(2 * H),
                Some(72 * H),
                false,
            ),
            (
                &office,
                "open",
                Some(H),
                73 * H,
                Some(2 * H),
                Some(72 * H),
                true,
            ),
        ];
        for (team, status, reply, elapsed, first, resolve, overdue) in table {
            let t = ticket(status, fri_10, reply.map(|r| fri_10 + r));
            let want = Due {
                first_response_due_ms: first.map(|f| fri_10 + f),
                resolve_due_ms: resolve.map(|r| fri_10 + r),
                overdue,
            };
            assert_eq!(
                due(Some(team), &t, fri_10 + elapsed),
                want,
                "{status} +{elapsed}"
            );
        }
        assert_eq!(due(None, &ticket("open", 0, None), 9 * H), Due::default());
    }

    #[test]
    fn overdue_tickets_are_counted_by_team() {
        let teams = BTreeMap::from([
            ("sales".to_string(), team("1h", "", "")),
            ("press".to_string(), team("", "", "")),
            ("billing".to_string(), team("", "2h", "")),
        ]);
        let mut late = ticket("open", 0, None);
        late.team = "sales".into();
        let mut answered = ticket("claimed", 0, Some(1));
        answered.team = "sales".into();
        let mut press = ticket("open", 0, None);
        press.team = "press".into();
        let counts = overdue_by_team(&teams, &[late, answered, press], 3 * H);
        assert_eq!(
            counts,
            BTreeMap::from([("billing".to_string(), 0), ("sales".to_string(), 1)])
        );
        let text = render_overdue(&counts);
        assert!(
            text.contains("# TYPE personabot_tickets_overdue gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("personabot_tickets_overdue{team=\"sales\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("personabot_tickets_overdue{team=\"billing\"} 0\n"),
            "{text}"
        );
    }
}

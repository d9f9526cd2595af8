//! Ticket search (`GET /v1/tickets?q=...`, `tickets search`): a query parsed from `key=value`
//! pairs and matched against tickets. Pure: the store lists, this module decides.
//!
//! Free text (`q`) is cut into words; a ticket matches when every word occurs (case- and
//! accent-insensitively, anywhere in a line) in its transcript: customer, bot and agent
//! lines alike, and in its internal notes. The other filters narrow the result exactly.

use serde::Serialize;

use super::records::{Actor, ScoredId, Ticket, TicketStatus};
use crate::core::text::{normalise_lower, words};

/// What a ticket search looks for; unset parts match every ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TicketQuery {
    /// Every word must occur in the transcript or the internal notes.
    pub words: Vec<String>,
    pub team: Option<String>,
    pub status: Option<TicketStatus>,
    /// A persona id, or `none` for tickets without one.
    pub persona: Option<String>,
    /// An intent id, or `none` for tickets without one.
    pub intent: Option<String>,
    /// An account that claimed, resolved or wrote in the ticket.
    pub agent: Option<String>,
    /// Opened at or after (ms since the epoch).
    pub since_ms: Option<u64>,
    /// Opened before (ms since the epoch).
    pub until_ms: Option<u64>,
}

/// The query keys [`TicketQuery::parse`] accepts.
pub const QUERY_KEYS: &[&str] = &[
    "q", "team", "status", "persona", "intent", "agent", "since", "until",
];

impl TicketQuery {
    /// Builds a query from `key=value` pairs (URL query or CLI flags). Empty values are ignored;
    /// `status=all` is no filter. Unknown keys are left to the caller (the queue has others,
    /// such as `assigned`). Dates are RFC 3339 (`2026-12-05T10:00:00Z`), a day (`2026-12-05`,
    /// UTC midnight) or milliseconds since the epoch.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut q = TicketQuery::default();
        for (key, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let own = || Some(value.to_string());
            match key {
                "q" => q.words.extend(words(value)),
                "team" => q.team = own(),
                "status" if value == "all" => q.status = None,
                "status" => {
                    q.status = Some(TicketStatus::parse(value).ok_or_else(|| {
                        format!("unknown status `{value}`: use open, claimed, resolved or all")
                    })?)
                }
                "persona" => q.persona = own(),
                "intent" => q.intent = own(),
                "agent" => q.agent = own(),
                "since" => q.since_ms = Some(parse_time(value).map_err(|e| format!("since: {e}"))?),
                "until" => q.until_ms = Some(parse_time(value).map_err(|e| format!("until: {e}"))?),
                _ => {}
            }
        }
        Ok(q)
    }

    /// True when the query has free text (`q`).
    pub fn has_text(&self) -> bool {
        !self.words.is_empty()
    }

    pub fn matches(&self, t: &Ticket) -> bool {
        let id_is = |scored: &Option<ScoredId>, want: &Option<String>| match want.as_deref() {
            None => true,
            Some("none") => scored.is_none(),
            Some(w) => scored.as_ref().is_some_and(|s| s.id == w),
        };
        self.team.as_ref().is_none_or(|team| &t.team == team)
            && self.status.is_none_or(|s| t.status == s)
            && id_is(&t.persona, &self.persona)
            && id_is(&t.intent, &self.intent)
            && self.since_ms.is_none_or(|s| t.created_ms >= s)
            && self.until_ms.is_none_or(|u| t.created_ms < u)
            && self.agent.as_ref().is_none_or(|a| worked_by(t, a))
            && self.text_matches(t)
    }

    fn text_matches(&self, t: &Ticket) -> bool {
        if self.words.is_empty() {
            return true;
        }
        // The transcript and the internal notes.
        let texts: Vec<String> = t
            .transcript
            .iter()
            .map(|line| line.text.as_str())
            .chain(t.notes.iter().map(|n| n.text.as_str()))
            .map(normalise_lower)
            .collect();
        self.words
            .iter()
            .all(|w| texts.iter().any(|text| text.contains(w.as_str())))
    }
}

/// Whether `agent` claimed, resolved or wrote in the ticket.
fn worked_by(t: &Ticket, agent: &str) -> bool {
    t.claimed_by.as_deref() == Some(agent)
        || t.resolved_by.as_deref() == Some(agent)
        || t.assigned_to.as_deref() == Some(agent)
        || t.notes.iter().any(|n| n.by == agent)
        || t.transcript
            .iter()
            .any(|line| matches!(&line.from, Actor::Agent(name) if name == agent))
}

/// Parses a date for `since` / `until`.
pub fn parse_time(value: &str) -> Result<u64, String> {
    if let Ok(ms) = value.parse::<u64>() {
        return Ok(ms);
    }
    let full;
    let text = if value.len() == 10 {
        full = format!("{value}T00:00:00Z");
        full.as_str()
    } else {
        value
    };
    let at = humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!("`{value}` is not a date: use 2026-12-05, 2026-12-05T10:00:00Z or milliseconds")
    })?;
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .map_err(|_| format!("`{value}` is before 1970"))
}

impl super::Store {
    /// Tickets matching `query`, newest first.
    pub fn search_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, super::StoreError> {
        let mut list = self.tickets(query.team.as_deref(), query.status)?;
        list.retain(|t| query.matches(t));
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Built from JSON, so that fields added to tickets later (with serde defaults) need no
    /// change here.
    fn ticket() -> Ticket {
        let line =
            |from: serde_json::Value, text: &str| json!({"at_ms": 1, "from": from, "text": text});
        serde_json::from_value(json!({
            "id": 7, "team": "billing", "status": "claimed",
            "created_ms": 1_764_892_800_000_u64, // 2025-12-05T00:00:00Z
            "updated_ms": 1_764_892_800_000_u64,
            "channel": "web", "conversation": "c", "user": "u_1",
            "persona": {"id": "developer", "confidence": 0.9, "score": 1.0},
            "intent": null, "evidence": [], "reason": "", "interaction": 1,
            "transcript": [
                line(json!({"kind": "customer"}), "My Invoice was charged TWICE"),
                line(json!({"kind": "agent", "name": "ana"}), "Refund on its way, Zoë"),
            ],
            "claimed_by": "bo", "resolved_by": null, "relabels": [],
        }))
        .unwrap()
    }

    fn q(pairs: &[(&str, &str)]) -> TicketQuery {
        TicketQuery::parse(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn filters_match_as_a_support_team_expects() {
        let t = ticket();
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("q", "")], true),
            (&[("q", "invoice")], true),
            (&[("q", "INVOICE twice")], true),
            (&[("q", "invoice refund")], true),
            (&[("q", "invoice password")], false),
            (&[("q", "zoë")], true),
            (&[("q", "ZOË")], true),
            (&[("q", "invo")], true),
            (&[("team", "billing")], true),
            (&[("team", "sales")], false),
            (&[("status", "claimed")], true),
            (&[("status", "all")], true),
            (&[("status", "open")], false),
            (&[("persona", "developer")], true),
            (&[("persona", "none")], false),
            (&[("intent", "none")], true),
            (&[("intent", "refund")], false),
            (&[("agent", "ana")], true),
            (&[("agent", "bo")], true),
            (&[("agent", "cy")], false),
            (&[("since", "2025-12-05")], true),
            (&[("since", "2025-12-06")], false),
            (&[("until", "2025-12-05T00:00:01Z")], true),
            (&[("until", "2025-12-05")], false),
            (&[("since", "1764892800000")], true),
            (
                &[("q", "invoice"), ("team", "billing"), ("agent", "ana")],
                true,
            ),
            (&[("q", "invoice"), ("team", "sales")], false),
            (&[("assigned", "mine")], true),
        ];
        for (pairs, want) in cases {
            assert_eq!(q(pairs).matches(&t), *want, "{pairs:?}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        for (pairs, want) in [
            (vec![("status", "sleeping")], "unknown status `sleeping`"),
            (
                vec![("since", "yesterday")],
                "since: `yesterday` is not a date",
            ),
            (
                vec![("until", "2025-13-01")],
                "until: `2025-13-01` is not a date",
            ),
        ] {
            let err = TicketQuery::parse(pairs).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
    }
}

//! The desk's ticket actions: assigning a ticket to an agent and adding internal notes, each
//! one atomic change of the ticket (and of its conversation's ownership).

use super::{OpenDb, Store, StoreError};
use crate::store::records::{Account, AccountRole, Note, Ticket, TicketStatus};

/// The longest note kept, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// Whether `account` may be given tickets of `team`: an admin, or an agent of that team (an
/// agent without teams works on every team), as the agent API scopes them.
pub fn works_team(account: &Account, team: &str) -> bool {
    match account.role {
        AccountRole::Admin => true,
        AccountRole::Agent => account.teams.is_empty() || account.teams.iter().any(|t| t == team),
        AccountRole::Owner => false,
    }
}

/// Assigns `t` to `agent`. A claimed ticket passes to the assignee with its claim (the bot stays
/// silent); a resolved one cannot be assigned.
pub(crate) fn assign(t: &mut Ticket, agent: &str) -> Result<(), StoreError> {
    if t.status == TicketStatus::Resolved {
        return Err(StoreError::Conflict(format!(
            "ticket #{} is resolved",
            t.id
        )));
    }
    if t.status == TicketStatus::Claimed {
        t.claimed_by = Some(agent.to_string());
    }
    t.assigned_to = Some(agent.to_string());
    Ok(())
}

/// The note `text` by `by`, trimmed and at most [`MAX_NOTE_CHARS`]; an empty one is refused.
pub(crate) fn note(text: &str, by: &str, at_ms: u64) -> Result<Note, StoreError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(StoreError::Invalid("the note is empty".into()));
    }
    Ok(Note {
        at_ms,
        by: by.to_string(),
        text: text.chars().take(MAX_NOTE_CHARS).collect(),
    })
}

/// The queue's `?assigned=` filter: the caller's tickets, nobody's, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    Mine,
    Unassigned,
    All,
}

impl Assigned {
    /// `mine`, `unassigned` or `all` (also empty).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mine" => Some(Self::Mine),
            "unassigned" => Some(Self::Unassigned),
            "" | "all" => Some(Self::All),
            _ => None,
        }
    }

    /// Whether `t` is in the queue of agent `me` under this filter.
    pub fn keeps(self, t: &Ticket, me: &str) -> bool {
        match self {
            Self::Mine => t.assignee() == Some(me),
            Self::Unassigned => t.assignee().is_none(),
            Self::All => true,
        }
    }
}

impl OpenDb {
    fn signed_in(&self, now_ms: u64) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let mut names = std::collections::BTreeSet::new();
        for entry in self.sessions_tree()?.iter() {
            let (_, bytes) = entry?;
            if let Ok(session) = serde_json::from_slice::<super::Session>(&bytes) {
                if session.expires_ms > now_ms {
                    names.insert(session.account);
                }
            }
        }
        Ok(names)
    }

    fn assign_ticket(&self, id: u64, agent: &str, at_ms: u64) -> Result<Ticket, StoreError> {
        self.update_ticket(id, at_ms, "assigned", |t| assign(t, agent))
    }

    fn note_ticket(&self, id: u64, note: &Note) -> Result<Ticket, StoreError> {
        self.update_ticket(id, note.at_ms, "note", |t| {
            t.notes.push(note.clone());
            Ok(())
        })
    }
}

/// The meta key of a team's round-robin cursor (the agent last given one of its tickets).
fn cursor_key(team: &str) -> String {
    format!("round_robin:{team}")
}

impl Store {
    /// The accounts with a live sign-in session at `now_ms`.
    pub fn signed_in(&self, now_ms: u64) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.current()?.signed_in(now_ms)
    }

    /// The agent last given a ticket of `team` by round-robin.
    pub fn round_robin_cursor(&self, team: &str) -> Result<Option<String>, StoreError> {
        let db = self.current()?;
        Ok(db
            .meta
            .get(cursor_key(team))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Records the agent just given a ticket of `team` by round-robin.
    pub fn set_round_robin_cursor(&self, team: &str, agent: &str) -> Result<(), StoreError> {
        self.current()?
            .meta
            .insert(cursor_key(team), agent.as_bytes())?;
        Ok(())
    }

    /// Assigns ticket `id` to `agent` at `at_ms` (ms since the epoch). Whether `agent` works
    /// the ticket's team is the caller's check ([`works_team`]).
    pub fn assign_ticket_at(&self, id: u64, agent: &str, at_ms: u64) -> Result<Ticket, StoreError> {
        self.current()?.assign_ticket(id, agent, at_ms)
    }

    /// Adds an internal note by `by` to ticket `id` at `at_ms`: agents see it in the ticket,
    /// the customer never does.
    pub fn note_ticket_at(
        &self,
        id: u64,
        by: &str,
        text: &str,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        let note = note(text, by, at_ms)?;
        self.current()?.note_ticket(id, &note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: AccountRole, teams: &[&str]) -> Account {
        Account {
            name: "ana".into(),
            role,
            teams: teams.iter().map(|t| t.to_string()).collect(),
            created_ms: 0,
        }
    }

    #[test]
    fn who_works_a_team() {
        let cases = [
            (AccountRole::Agent, &[][..], true),
            (AccountRole::Agent, &["billing"][..], true),
            (AccountRole::Agent, &["security"][..], false),
            (AccountRole::Admin, &["security"][..], true),
            (AccountRole::Admin, &[][..], true),
            (AccountRole::Owner, &[][..], false),
            (AccountRole::Owner, &["billing"][..], false),
        ];
        for (role, teams, want) in cases {
            assert_eq!(
                works_team(&account(role, teams), "billing"),
                want,
                "{role:?} {teams:?}"
            );
        }
    }

    #[test]
    fn notes_are_trimmed_bounded_and_never_empty() {
        assert!(note("  \n ", "ana", 1).is_err());
        let n = note("  call back tomorrow ", "ana", 7).unwrap();
        assert_eq!(
            (n.text.as_str(), n.by.as_str(), n.at_ms),
            ("call back tomorrow", "ana", 7)
        );
        let long = "é".repeat(MAX_NOTE_CHARS + 10);
        assert_eq!(
            note(&long, "ana", 1).unwrap().text.chars().count(),
            MAX_NOTE_CHARS
        );
    }

    #[test]
    fn the_queue_filters_by_assignee() {
        let ticket = |assigned: Option<&str>, claimed: Option<&str>| Ticket {
            assigned_to: assigned.map(String::from),
            claimed_by: claimed.map(String::from),
            ..serde_json::from_value(serde_json::json!({
                "id": 1, "team": "billing", "status": "open", "created_ms": 0, "updated_ms": 0,
                "channel": "web", "conversation": "c", "user": "u", "persona": null,
                "intent": null, "evidence": [], "reason": "", "interaction": 1,
                "transcript": [], "claimed_by": null, "resolved_by": null, "relabels": []
            }))
            .unwrap()
        };
        let cases = [
            ("mine", Some("ana"), None, true),
            ("mine", None, Some("ana"), true),
            ("mine", Some("bo"), None, false),
            ("mine", None, None, false),
            ("unassigned", None, None, true),
            ("unassigned", Some("bo"), None, false),
            ("unassigned", None, Some("bo"), false),
            ("all", Some("bo"), None, true),
            ("", None, None, true),
        ];
        for (filter, assigned, claimed, want) in cases {
            let f = Assigned::parse(filter).unwrap();
            assert_eq!(
                f.keeps(&ticket(assigned, claimed), "ana"),
                want,
                "{filter} {assigned:?} {claimed:?}"
            );
        }
        assert_eq!(Assigned::parse("others"), None);
    }
}

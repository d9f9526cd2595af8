//! The records kept in the store, as serialised (JSON) values.

use serde::{Deserialize, Serialize};

/// An id with its confidence (and raw score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredId {
    pub id: String,
    pub confidence: f64,
    #[serde(default)]
    pub score: f32,
}

/// One matched term or pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub term: String,
    /// `persona:ID`, `intent:ID` or `exclude:ID`.
    pub target: String,
    pub weight: f32,
}

/// The route taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteRecord {
    /// answer | ticket | clarify | fallback
    pub kind: DecisionKind,
    pub team: Option<String>,
    /// Answer variant, `<intent>/<persona|default>`.
    pub answer: Option<String>,
    pub reason: String,
    /// The buttons the reply offered (`helped`, `human`); only answers that offered them count
    /// in the self-help resolution rate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

/// The customer's verdict on a self-help answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// true: "That helped"; false: "Talk to a human" / "did not help".
    pub helped: bool,
    pub at_ms: u64,
}

/// Ground truth set by an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub intent: Option<String>,
    pub persona: Option<String>,
    pub by: String,
    pub at_ms: u64,
}

/// One customer message and what the bot did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: u64,
    pub at_ms: u64,
    pub channel: String,
    pub conversation: String,
    /// Keyed hash of the user id.
    pub user: String,
    /// Redacted text.
    pub text: String,
    pub persona: Option<ScoredId>,
    pub intent: Option<ScoredId>,
    /// Every persona and intent that scored, best first.
    pub persona_scores: Vec<ScoredId>,
    pub intent_scores: Vec<ScoredId>,
    pub evidence: Vec<EvidenceRecord>,
    pub route: RouteRecord,
    /// The reply sent (None: silent, an agent owns the conversation), without the text of its
    /// catalog answer when `answer_at` is set: then only the sentences the bot composed around
    /// it are kept (None when there are none).
    pub reply: Option<String>,
    /// Where in `reply` the text of the answer `route.answer` was (a byte offset): stored by
    /// reference, it is resolved from the catalog (`engine::pipeline::reply_as_sent`). None for
    /// a reply without catalog text, and in records from before answers were stored so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_at: Option<usize>,
    pub ticket: Option<u64>,
    pub feedback: Option<Feedback>,
    pub label: Option<Label>,
    /// Whether the reply reached the customer (set by channels that can fail to deliver).
    #[serde(default)]
    pub delivery: Option<Delivery>,
}

/// The outcome of sending a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub ok: bool,
    /// Sends tried.
    pub attempts: u32,
    /// The last error, when a send failed.
    pub error: Option<String>,
    pub at_ms: u64,
}

pub use crate::core::conversation::{Actor, TranscriptLine};
use crate::core::route::DecisionKind;

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    Open,
    Claimed,
    Resolved,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "claimed" => Some(Self::Claimed),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

/// A handoff to a human team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: u64,
    pub team: String,
    pub status: TicketStatus,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub channel: String,
    pub conversation: String,
    pub user: String,
    pub persona: Option<ScoredId>,
    /// The intent the ticket is about.
    pub intent: Option<ScoredId>,
    pub evidence: Vec<EvidenceRecord>,
    /// Why it was routed here.
    pub reason: String,
    /// The interaction that opened it.
    pub interaction: u64,
    pub transcript: Vec<TranscriptLine>,
    pub claimed_by: Option<String>,
    pub resolved_by: Option<String>,
    pub relabels: Vec<Label>,
    /// How to reach the customer (an email they gave when the ticket opened). Shown to agents,
    /// never in persona evidence; `forget` and retention delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// `high` when the customer was frustrated; agents see those first.
    #[serde(default)]
    pub priority: Priority,
    /// The agent the ticket is assigned to (`POST /v1/tickets/{id}/assign`, round-robin, or
    /// whoever claimed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Internal notes: agents only, never sent to the customer on any channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// The customer's rating once the ticket was resolved ("How did we do?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<Csat>,
}

/// An agent's internal note on a ticket: seen by agents, never by the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub at_ms: u64,
    /// The agent who wrote it.
    pub by: String,
    /// As written (agents' text is not redacted).
    pub text: String,
}

impl Ticket {
    /// Who works the ticket: the agent it is assigned to, else whoever claimed it.
    pub fn assignee(&self) -> Option<&str> {
        self.assigned_to.as_deref().or(self.claimed_by.as_deref())
    }
}

/// A customer's rating of how their ticket was handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Csat {
    /// 1 (bad) to 5 (great).
    pub rating: u8,
    /// What the customer added, redacted; None when they wrote nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at_ms: u64,
}

/// How urgently a ticket wants a person (ordered: `Normal < High`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// Which interactions a query returns; unset parts match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InteractionFilter {
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    pub persona: Option<String>,
    pub intent: Option<String>,
    /// A route kind (answer | ticket | clarify | fallback), or `helped` / `not-helped`.
    pub outcome: Option<String>,
}

impl InteractionFilter {
    pub fn matches(&self, i: &Interaction) -> bool {
        let id_is = |scored: &Option<ScoredId>, want: &Option<String>| match want {
            None => true,
            Some(w) if w == "none" => scored.is_none(),
            Some(w) => scored.as_ref().is_some_and(|s| &s.id == w),
        };
        self.since_ms.is_none_or(|s| i.at_ms >= s)
            && self.until_ms.is_none_or(|u| i.at_ms < u)
            && id_is(&i.persona, &self.persona)
            && id_is(&i.intent, &self.intent)
            && match self.outcome.as_deref() {
                None => true,
                Some("helped") => i.feedback.as_ref().is_some_and(|f| f.helped),
                Some("not-helped") => i.feedback.as_ref().is_some_and(|f| !f.helped),
                Some(kind) => i.route.kind == *kind,
            }
    }
}

/// What an agent or owner account may do: agents work tickets, owners read the review, admins
/// both (on every team's tickets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    Agent,
    Owner,
    Admin,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Owner => "owner",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// An agent or owner account. Its token is never stored: only its hash, kept beside the record
/// by the store and never returned with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub role: AccountRole,
    /// The teams whose tickets an agent sees and works; empty: every team.
    pub teams: Vec<String>,
    pub created_ms: u64,
}

/// One line of the audit log: who did what, when, to which ticket or account. Never holds
/// customer text or ids (a `forget` does not say whom).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: u64,
    /// The account name (`agent` / `owner` for the bootstrap tokens), the `--agent` name or the
    /// system user of a command, or `-` for a failed sign-in.
    pub who: String,
    /// sign_in, sign_in_failed, sign_out, claim, reply, resolve, relabel, export, forget,
    /// account_add, account_remove, account_rotate, assign (target: the assignee), note.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
    /// What else the action was about: an account name, a sign-in page (`/agent`, `/review`)
    /// or `bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `http` or `cli`.
    pub via: String,
    /// The client address of an HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// An interaction with nothing optional set, for tests: a fallback in conversation `c1` of
/// `u_00ff`.
#[cfg(test)]
pub(crate) fn bare_interaction(id: u64, at_ms: u64) -> Interaction {
    Interaction {
        id,
        at_ms,
        channel: "http".into(),
        conversation: "c1".into(),
        user: "u_00ff".into(),
        text: "how much is it?".into(),
        persona: None,
        intent: None,
        persona_scores: vec![],
        intent_scores: vec![],
        evidence: vec![],
        route: RouteRecord {
            kind: DecisionKind::Fallback,
            team: None,
            answer: None,
            reason: "no intent".into(),
            actions: vec![],
        },
        reply: None,
        answer_at: None,
        ticket: None,
        feedback: None,
        label: None,
        delivery: None,
    }
}

/// An interaction that showed the answer `answer` (`intent/key...`) of its intent, offering
/// `actions`, for tests of what is counted from such records.
#[cfg(test)]
pub(crate) fn shown_answer(id: u64, answer: &str, actions: &[&str]) -> Interaction {
    let intent = answer.split('/').next().unwrap_or_default();
    Interaction {
        conversation: format!("{answer}-{id}"),
        user: "u".into(),
        text: "t".into(),
        intent: Some(ScoredId {
            id: intent.into(),
            confidence: 0.9,
            score: 2.0,
        }),
        route: RouteRecord {
            kind: DecisionKind::Answer,
            team: None,
            answer: Some(answer.into()),
            reason: String::new(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        },
        ..bare_interaction(id, 0)
    }
}

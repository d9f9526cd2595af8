//! The shapes the CLI and the HTTP API print, in one place: the decision (`classify --json`), the
//! turn (decision, reply and ticket), tickets (the agent list's JSON, `tickets show`'s text), and
//! a readable explanation of the evidence. Platforms' own formats (Discord's ticket post, Slack
//! blocks) stay with their channel.

use serde::Serialize;

use crate::catalog::Catalog;
use crate::core::classify::{Classification, Form, Target};
use crate::core::route::{Decision, Pick};
use crate::engine::pipeline::{target_name, Outcome};
use crate::store::{format_time, Actor, ScoredId, Ticket};

/// `{"id":..,"confidence":..}`
#[derive(Debug, Serialize)]
pub struct IdConfidence {
    pub id: String,
    pub confidence: f64,
}

/// `{"kind":..,"team":..,"answer":..}`
#[derive(Debug, Serialize)]
pub struct RouteJson {
    pub kind: &'static str,
    pub team: Option<String>,
    pub answer: Option<String>,
}

/// `{"term":..,"target":..,"weight":..}`
#[derive(Debug, Serialize)]
pub struct EvidenceJson {
    pub term: String,
    pub target: String,
    pub weight: f64,
    /// `inflected` or `typo` when the message did not have the term as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<&'static str>,
    /// The message words that matched, when they differ from the term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
}

/// The name of a non-exact form, for the JSON and `--explain`.
fn form_name(form: Form) -> Option<&'static str> {
    match form {
        Form::Exact => None,
        Form::Inflected => Some("inflected"),
        Form::Typo => Some("typo"),
    }
}

/// The `classify --json` line.
#[derive(Debug, Serialize)]
pub struct DecisionJson {
    pub persona: Option<IdConfidence>,
    pub intent: Option<IdConfidence>,
    pub route: RouteJson,
    pub evidence: Vec<EvidenceJson>,
}

/// `{"id":..,"team":..,"status":..,"priority":..}`
#[derive(Debug, Serialize)]
pub(crate) struct TicketJson {
    pub id: u64,
    pub team: String,
    pub status: &'static str,
    /// `normal`, or `high` when the customer sounded frustrated.
    pub priority: &'static str,
}

/// One option of a clarifying question: `{"id":..,"name":..}`.
#[derive(Debug, Serialize)]
pub(crate) struct ChoiceJson {
    pub id: String,
    pub name: String,
}

/// The `chat --json` line: the decision plus the reply, the buttons it offers, the options of a
/// clarifying question and the ticket.
#[derive(Debug, Serialize)]
pub(crate) struct TurnJson {
    #[serde(flatten)]
    pub decision: DecisionJson,
    pub reply: Option<String>,
    /// `["helped","human"]` under a self-help answer, else `[]`.
    pub actions: &'static [&'static str],
    /// A clarifying question's options, in the order they are numbered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceJson>,
    pub ticket: Option<TicketJson>,
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn id_confidence(pick: &Option<Pick>) -> Option<IdConfidence> {
    pick.as_ref().map(|p| IdConfidence {
        id: p.id.clone(),
        confidence: round(p.confidence),
    })
}

/// The decision in the contract shape. Exclusion hits are left out (they only veto).
pub fn decision_json(
    catalog: &Catalog,
    decision: &Decision,
    classification: &Classification,
) -> DecisionJson {
    DecisionJson {
        persona: id_confidence(&decision.persona),
        intent: id_confidence(&decision.intent),
        route: RouteJson {
            kind: decision.kind.as_str(),
            team: decision.team.clone(),
            answer: decision.answer.clone(),
        },
        evidence: classification
            .evidence
            .iter()
            .filter(|e| !matches!(e.target, Target::Veto(_)))
            .map(|e| EvidenceJson {
                term: e.term.clone(),
                target: target_name(catalog, e.target),
                weight: round(f64::from(e.weight)),
                form: form_name(e.form),
                matched: e.matched.clone(),
            })
            .collect(),
    }
}

pub(crate) fn ticket_json(ticket: &Ticket) -> TicketJson {
    TicketJson {
        id: ticket.id,
        team: ticket.team.clone(),
        status: ticket.status.as_str(),
        priority: ticket.priority.as_str(),
    }
}

/// A readable account of a decision and the evidence behind it.
pub fn explain(catalog: &Catalog, decision: &Decision, classification: &Classification) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let pick = |p: &Option<Pick>| match p {
        Some(p) => format!(
            "{} (confidence {:.2}, lead {:.2})",
            p.id, p.confidence, p.margin
        ),
        None => "none".to_string(),
    };
    let _ = writeln!(out, "persona: {}", pick(&decision.persona));
    let _ = writeln!(out, "intent:  {}", pick(&decision.intent));
    let _ = write!(out, "route:   {}", decision.kind.as_str());
    if let Some(team) = &decision.team {
        let _ = write!(out, " -> team {team}");
    }
    if let Some(answer) = &decision.answer {
        let _ = write!(out, " (answer {answer})");
    }
    let _ = writeln!(out, "\nreason:  {}", decision.reason);
    let _ = writeln!(out, "scores:");
    for s in &classification.intents {
        let _ = writeln!(
            out,
            "  intent:{:<24} score {:>6.2}  confidence {:.2}",
            catalog.intents[s.index as usize].id,
            s.score,
            crate::core::classify::confidence(s.score)
        );
    }
    for s in &classification.personas {
        let _ = writeln!(
            out,
            "  persona:{:<23} score {:>6.2}  confidence {:.2}",
            catalog.personas[s.index as usize].id,
            s.score,
            crate::core::classify::confidence(s.score)
        );
    }
    let _ = writeln!(out, "evidence:");
    if classification.evidence.is_empty() {
        let _ = writeln!(out, "  (no term or pattern matched)");
    }
    for e in &classification.evidence {
        let what = match e.target {
            Target::Veto(_) => "vetoes".to_string(),
            _ => format!("{:+.2}", e.weight),
        };
        let shown = match (&e.matched, form_name(e.form)) {
            (Some(matched), Some(form)) => format!("{:?} (as {matched:?}, {form})", e.term),
            _ => format!("{:?}", e.term),
        };
        let _ = writeln!(
            out,
            "  {:<32} {:>7}  {}",
            shown,
            what,
            target_name(catalog, e.target)
        );
    }
    out
}

/// The turn as the API and `chat --json` answer it: the decision plus `reply` and `ticket`.
pub(crate) fn turn_json(outcome: &Outcome) -> TurnJson {
    TurnJson {
        decision: decision_json(&outcome.catalog, &outcome.decision, &outcome.classification),
        reply: outcome.reply.clone(),
        actions: outcome.decision.actions(),
        choices: choices_json(outcome),
        ticket: outcome.ticket.as_ref().map(ticket_json),
    }
}

/// A clarifying question's options with their names (the turn JSON's `"choices"`).
pub(crate) fn choices_json(outcome: &Outcome) -> Vec<ChoiceJson> {
    outcome
        .decision
        .choices
        .iter()
        .map(|id| ChoiceJson {
            id: id.clone(),
            name: outcome
                .catalog
                .intent(id)
                .map_or_else(|| id.clone(), |i| i.name.clone()),
        })
        .collect()
}

/// A ticket in the agent queue's list (`GET /v1/tickets`).
#[derive(Debug, Serialize)]
pub(crate) struct TicketSummary<'a> {
    pub id: u64,
    pub team: &'a str,
    pub team_name: &'a str,
    pub status: &'static str,
    pub channel: &'a str,
    pub persona: &'a Option<ScoredId>,
    pub intent: &'a Option<ScoredId>,
    pub reason: &'a str,
    pub claimed_by: &'a Option<String>,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub first_message: Option<&'a str>,
    /// `normal`, or `high` (the customer sounded frustrated): the queue lists those first.
    pub priority: &'static str,
    /// The email the customer gave to be reached at, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: &'a Option<String>,
    /// Who works the ticket: the agent it is assigned to, else whoever claimed it (null: nobody).
    pub assigned_to: Option<&'a str>,
}

/// The agent list's entry for `t`, with its team's display name from `catalog`.
pub(crate) fn ticket_summary<'a>(catalog: &'a Catalog, t: &'a Ticket) -> TicketSummary<'a> {
    TicketSummary {
        id: t.id,
        team: &t.team,
        team_name: catalog.team_name(&t.team),
        status: t.status.as_str(),
        channel: &t.channel,
        persona: &t.persona,
        intent: &t.intent,
        reason: &t.reason,
        claimed_by: &t.claimed_by,
        created_ms: t.created_ms,
        updated_ms: t.updated_ms,
        first_message: first_customer_message(t),
        priority: t.priority.as_str(),
        contact: &t.contact,
        assigned_to: t.assignee(),
    }
}

/// The agent queue's order: `high` priority first, otherwise as listed.
pub(crate) fn queue_order(tickets: &mut [Ticket]) {
    tickets.sort_by_key(|t| std::cmp::Reverse(t.priority));
}

/// What the customer wrote first in a ticket's transcript.
pub fn first_customer_message(t: &Ticket) -> Option<&str> {
    t.transcript
        .iter()
        .find(|l| l.from == Actor::Customer)
        .map(|l| l.text.as_str())
}

/// How long ago `ms` was at `now_ms`, in one unit: `42s`, `5m`, `3h`, `2d`.
pub fn age(now_ms: u64, ms: u64) -> String {
    let secs = now_ms.saturating_sub(ms) / 1000;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A ticket as `personabot tickets show` prints it: header, evidence and transcript.
pub fn ticket_text(t: &Ticket) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ticket #{} [{}] team {}",
        t.id,
        t.status.as_str(),
        t.team
    );
    let _ = writeln!(
        s,
        "opened:   {} via {} (conversation {})",
        format_time(t.created_ms),
        t.channel,
        t.conversation
    );
    let scored = |x: &Option<crate::store::ScoredId>| {
        x.as_ref()
            .map_or("none".into(), |x| format!("{} ({:.2})", x.id, x.confidence))
    };
    let _ = writeln!(s, "persona:  {}", scored(&t.persona));
    let _ = writeln!(s, "intent:   {}", scored(&t.intent));
    let _ = writeln!(s, "reason:   {}", t.reason);
    let _ = writeln!(s, "priority: {}", t.priority.as_str());
    if let Some(contact) = &t.contact {
        let _ = writeln!(s, "contact:  {contact}");
    }
    if let Some(by) = &t.claimed_by {
        let _ = writeln!(s, "claimed:  {by}");
    }
    if let Some(by) = &t.resolved_by {
        let _ = writeln!(s, "resolved: {by}");
    }
    if let Some(to) = t.assignee() {
        let _ = writeln!(s, "assigned: {to}");
    }
    if let Some(c) = &t.csat {
        let comment = c
            .comment
            .as_deref()
            .map_or(String::new(), |c| format!(": {c}"));
        let _ = writeln!(s, "rating:   {}/5{comment}", c.rating);
    }
    for l in &t.relabels {
        let _ = writeln!(
            s,
            "relabel:  intent={} persona={} by {} at {}",
            l.intent.as_deref().unwrap_or("-"),
            l.persona.as_deref().unwrap_or("-"),
            l.by,
            format_time(l.at_ms)
        );
    }
    let _ = writeln!(s, "evidence:");
    for e in &t.evidence {
        let _ = writeln!(
            s,
            "  {:<30} {:+.2}  {}",
            format!("{:?}", e.term),
            e.weight,
            e.target
        );
    }
    if !t.notes.is_empty() {
        let _ = writeln!(s, "notes (internal, never sent to the customer):");
        for n in &t.notes {
            let _ = writeln!(s, "  [{}] {}: {}", format_time(n.at_ms), n.by, n.text);
        }
    }
    let _ = writeln!(s, "transcript:");
    for line in &t.transcript {
        let who = match &line.from {
            crate::store::Actor::Customer => "customer".to_string(),
            crate::store::Actor::Bot => "bot".to_string(),
            crate::store::Actor::Agent(a) => format!("agent {a}"),
        };
        for (n, text_line) in line.text.lines().enumerate() {
            if n == 0 {
                let _ = writeln!(s, "  [{}] {who}: {text_line}", format_time(line.at_ms));
            } else {
                let _ = writeln!(s, "      {text_line}");
            }
        }
    }
    s
}

/// A customer's history as `personabot tickets show` prints it after the ticket (nothing when
/// empty): one line per earlier ticket or conversation, newest first.
pub fn history_text(history: &[serde_json::Value]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if history.is_empty() {
        return s;
    }
    let _ = writeln!(s, "history (this customer before, newest first):");
    for e in history {
        let field = |k: &str| match &e[k] {
            serde_json::Value::String(v) => v.clone(),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        };
        let id = match e["kind"].as_str() {
            Some("ticket") => format!("ticket #{}", field("id")),
            _ => format!("conversation {}", field("id")),
        };
        let _ = writeln!(
            s,
            "  {} {id} [{}] via {} intent {}",
            field("date"),
            field("status"),
            field("channel"),
            field("intent")
        );
    }
    s
}

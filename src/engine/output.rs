//! The decision as the CLI and HTTP API print it: the `classify --json` shape, and a readable
//! explanation of the evidence.

use serde::Serialize;

use crate::catalog::Catalog;
use crate::core::classify::{Classification, Target};
use crate::core::route::{Decision, Pick};
use crate::engine::pipeline::target_name;
use crate::store::Ticket;

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
}

/// The `classify --json` line.
#[derive(Debug, Serialize)]
pub struct DecisionJson {
    pub persona: Option<IdConfidence>,
    pub intent: Option<IdConfidence>,
    pub route: RouteJson,
    pub evidence: Vec<EvidenceJson>,
}

/// `{"id":..,"team":..,"status":..}`
#[derive(Debug, Serialize)]
pub struct TicketJson {
    pub id: u64,
    pub team: String,
    pub status: &'static str,
}

/// The `chat --json` line: the decision plus the reply and the ticket.
#[derive(Debug, Serialize)]
pub struct TurnJson {
    #[serde(flatten)]
    pub decision: DecisionJson,
    pub reply: Option<String>,
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
            })
            .collect(),
    }
}

pub fn ticket_json(ticket: &Ticket) -> TicketJson {
    TicketJson {
        id: ticket.id,
        team: ticket.team.clone(),
        status: ticket.status.as_str(),
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
        let _ = writeln!(
            out,
            "  {:<32} {:>7}  {}",
            format!("{:?}", e.term),
            what,
            target_name(catalog, e.target)
        );
    }
    out
}

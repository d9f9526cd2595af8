//! Replay: the logged interactions re-run through another catalog, to see what a change would
//! flip before it ships.
//!
//! Each conversation is replayed in order with its own state (sticky persona, misses, pending
//! clarifications), so a message is judged as the bot would judge it under the new catalog.
//! Tickets are not re-opened: a message the logged run added to an already open ticket was
//! not the bot's decision, so it is skipped and counted as such.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::core::classify::Classifier;
use crate::core::conversation::ConversationState;
use crate::core::route::{self, Thresholds};
use crate::store::{Interaction, ScoredId};

/// What the bot decided for one message: persona, intent and route kind (`-` for none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub persona: String,
    pub intent: String,
    pub route: String,
}

/// One message whose decision changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flip {
    pub interaction: u64,
    pub text: String,
    pub before: Outcome,
    pub after: Outcome,
}

/// Whether relabelled messages now route as the agent said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LabelAgreement {
    /// Messages an agent relabelled on this axis.
    pub relabelled: usize,
    /// Of those, routed as the agent said in the logged run...
    pub agreed_before: usize,
    /// ...and under the replayed catalog.
    pub agreed_after: usize,
}

/// The replay's findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Messages replayed.
    pub replayed: usize,
    /// Messages skipped because the logged run added them to an open ticket.
    pub skipped_in_ticket: usize,
    /// Messages whose persona, intent or route changed (any of them).
    pub flipped: usize,
    pub persona_flips: usize,
    pub intent_flips: usize,
    pub route_flips: usize,
    /// Flips by axis and `before -> after`, e.g. `intent` / `pricing -> billing`: count.
    pub by_change: BTreeMap<String, BTreeMap<String, usize>>,
    /// Up to `examples` flips per change, oldest first.
    pub examples: BTreeMap<String, Vec<Flip>>,
    pub intent_labels: LabelAgreement,
    pub persona_labels: LabelAgreement,
}

fn id_or_dash(scored: &Option<ScoredId>) -> String {
    scored.as_ref().map_or_else(|| "-".into(), |s| s.id.clone())
}

fn logged(i: &Interaction) -> Outcome {
    Outcome {
        persona: id_or_dash(&i.persona),
        intent: id_or_dash(&i.intent),
        route: i.route.kind.as_str().into(),
    }
}

/// Replays `interactions` (any order) through `catalog`; keeps `examples` flips per change.
pub fn replay(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
    interactions: &[Interaction],
    examples: usize,
) -> ReplayReport {
    let mut conversations: BTreeMap<(&str, &str), Vec<&Interaction>> = BTreeMap::new();
    for i in interactions {
        conversations
            .entry((&i.channel, &i.conversation))
            .or_default()
            .push(i);
    }
    let mut report = ReplayReport::default();
    let mut flips: Vec<Flip> = Vec::new();
    for (_, mut turns) in conversations {
        turns.sort_by_key(|i| i.id);
        let mut state = ConversationState::default();
        let mut tickets_seen: HashSet<u64> = HashSet::new();
        for i in turns {
            if let Some(t) = i.ticket {
                if !tickets_seen.insert(t) {
                    report.skipped_in_ticket += 1;
                    continue;
                }
            }
            let classification = classifier.classify(&i.text);
            let decision = route::decide(catalog, thresholds, &i.text, &classification, &state);
            state = route::advance(&state, catalog, &classification, &decision, i.id, None);
            let after = Outcome {
                persona: decision
                    .persona
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.id.clone()),
                intent: decision
                    .intent
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.id.clone()),
                route: decision.kind.as_str().into(),
            };
            let before = logged(i);
            report.replayed += 1;
            if let Some(label) = &i.label {
                let tally =
                    |agreement: &mut LabelAgreement, want: &Option<String>, b: &str, a: &str| {
                        if let Some(want) = want {
                            agreement.relabelled += 1;
                            agreement.agreed_before += usize::from(b == want);
                            agreement.agreed_after += usize::from(a == want);
                        }
                    };
                tally(
                    &mut report.intent_labels,
                    &label.intent,
                    &before.intent,
                    &after.intent,
                );
                tally(
                    &mut report.persona_labels,
                    &label.persona,
                    &before.persona,
                    &after.persona,
                );
            }
            if before != after {
                flips.push(Flip {
                    interaction: i.id,
                    text: i.text.clone(),
                    before,
                    after,
                });
            }
        }
    }
    flips.sort_by_key(|f| f.interaction);
    let mut shown: HashMap<String, usize> = HashMap::new();
    for flip in flips {
        report.flipped += 1;
        for (axis, b, a) in [
            ("persona", &flip.before.persona, &flip.after.persona),
            ("intent", &flip.before.intent, &flip.after.intent),
            ("route", &flip.before.route, &flip.after.route),
        ] {
            if b == a {
                continue;
            }
            match axis {
                "persona" => report.persona_flips += 1,
                "intent" => report.intent_flips += 1,
                _ => report.route_flips += 1,
            }
            let change = format!("{b} -> {a}");
            *report
                .by_change
                .entry(axis.to_string())
                .or_default()
                .entry(change.clone())
                .or_insert(0) += 1;
            let key = format!("{axis}: {change}");
            let n = shown.entry(key.clone()).or_insert(0);
            if *n < examples {
                *n += 1;
                report.examples.entry(key).or_default().push(flip.clone());
            }
        }
    }
    report
}

/// The report as text for the terminal.
pub fn render(report: &ReplayReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let share = |n: usize| {
        if report.replayed == 0 {
            0.0
        } else {
            100.0 * n as f64 / report.replayed as f64
        }
    };
    let _ = writeln!(
        out,
        "replayed {} message(s) ({} inside an open ticket skipped)",
        report.replayed, report.skipped_in_ticket
    );
    let _ = writeln!(
        out,
        "flipped {} ({:.1}%): persona {}, intent {}, route {}",
        report.flipped,
        share(report.flipped),
        report.persona_flips,
        report.intent_flips,
        report.route_flips
    );
    for (name, a) in [
        ("intent", &report.intent_labels),
        ("persona", &report.persona_labels),
    ] {
        if a.relabelled > 0 {
            let _ = writeln!(
                out,
                "agent {name} relabels: {} message(s); routed as the agent said: {} before, {} after",
                a.relabelled, a.agreed_before, a.agreed_after
            );
        }
    }
    for (axis, changes) in &report.by_change {
        let _ = writeln!(out, "\n{axis} flips:");
        let mut sorted: Vec<(&String, &usize)> = changes.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (change, n) in sorted {
            let _ = writeln!(out, "  {n:>5}  {change}");
            for flip in report
                .examples
                .get(&format!("{axis}: {change}"))
                .into_iter()
                .flatten()
            {
                let _ = writeln!(out, "         #{} {:?}", flip.interaction, flip.text);
            }
        }
    }
    out
}

//! The terminal summary: the suggestions with their support and examples, the unattributed
//! misses, and the predicted effect.

use std::fmt::Write as _;

use super::{Action, Prediction, ProfileKind, Suggestions};

fn quoted(text: &str, max_chars: usize) -> String {
    let cut: String = text.chars().take(max_chars).collect();
    if cut.len() < text.len() {
        format!("{:?}...", cut)
    } else {
        format!("{cut:?}")
    }
}

/// A weight as the catalog writes it: `1.0`, `0.75`.
fn show_weight(weight: f64) -> String {
    if weight.fract() == 0.0 {
        format!("{weight:.1}")
    } else {
        format!("{weight}")
    }
}

/// The suggestions, their support and the predicted effect, for the terminal.
pub fn render_summary(found: &Suggestions, prediction: Option<&Prediction>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "read {} interaction(s): {} intent relabel(s), {} persona relabel(s), {} not helped, {} rephrased miss(es), {} unattributed miss(es)",
        found.interactions,
        found.intent_relabels,
        found.persona_relabels,
        found.not_helped,
        found.rephrased,
        found.unattributed.messages
    );
    if found.suggestions.is_empty() && found.retire.is_empty() {
        let _ = writeln!(
            out,
            "no suggestions (each needs at least {} supporting document(s))",
            found.min_support
        );
    }
    for s in &found.suggestions {
        let unit = match s.kind {
            ProfileKind::Intent => "message(s)",
            ProfileKind::Persona => "conversation(s)",
        };
        let mut sources = Vec::new();
        let (verb, counter) = match s.action {
            Action::Add => {
                sources.push(format!("relabelled here {}", s.support.relabelled));
                if s.support.rephrased > 0 {
                    sources.push(format!("rephrased misses {}", s.support.rephrased));
                }
                (
                    format!("add {:?} = {}", s.term, show_weight(s.weight)),
                    format!("found in {} {unit} of other profiles", s.support.counter),
                )
            }
            Action::Remove => {
                sources.push(format!("relabelled away {}", s.support.relabelled));
                if s.support.not_helped > 0 {
                    sources.push(format!("did not help {}", s.support.not_helped));
                }
                (
                    format!("remove {:?} (weight {})", s.term, show_weight(s.weight)),
                    format!("fired in {} correctly routed {unit}", s.support.counter),
                )
            }
        };
        let sources = sources.join(", ");
        let _ = writeln!(
            out,
            "{} {}: {verb}\n    support {} {unit} ({sources}); {counter}",
            s.kind, s.profile, s.support.total
        );
        for e in &s.examples {
            let _ = writeln!(out, "    #{} {}", e.interaction, quoted(&e.text, 160));
        }
    }
    for r in &found.retire {
        let rate = |helped: usize, shown: usize| 100.0 * helped as f64 / shown.max(1) as f64;
        let _ = writeln!(
            out,
            "intent {}: retire the answer variant {} (text {} of [answers] {}): it helped {} of {} \
             ({:.0}%), {} helped {} of {} ({:.0}%); z = {:.2}, p = {:.4}, better with 95% \
             confidence. The texts after it move up one number.",
            r.intent,
            r.variant,
            r.number,
            r.key,
            r.helped,
            r.shown,
            rate(r.helped, r.shown),
            r.beaten_by,
            r.beaten_by_helped,
            r.beaten_by_shown,
            rate(r.beaten_by_helped, r.beaten_by_shown),
            r.z,
            r.p_value
        );
    }
    let u = &found.unattributed;
    if u.messages > 0 {
        let terms: Vec<String> = u
            .top_terms
            .iter()
            .map(|t| format!("{} ({})", t.term, t.count))
            .collect();
        let _ = writeln!(
            out,
            "unattributed misses (no rephrasing to learn from): {}; top terms: {}",
            u.messages,
            terms.join(", ")
        );
    }
    if let Some(p) = prediction {
        for (axis, now, after) in [
            ("intent", &p.intent_labels_now, &p.intent_labels_after),
            ("persona", &p.persona_labels_now, &p.persona_labels_after),
        ] {
            if now.relabelled > 0 {
                let _ = writeln!(
                    out,
                    "predicted: {} {axis}-relabelled message(s) routed as the agent said: {} now, {} after",
                    now.relabelled, now.agreed_after, after.agreed_after
                );
            }
        }
        let _ = writeln!(
            out,
            "predicted: misses that get an intent: {} now, {} after; messages decided differently from the log: {} now, {} after (of {})",
            p.misses_matched_now, p.misses_matched_after, p.flipped_now, p.flipped_after, p.replayed
        );
        if !p.examples_failing_after.is_empty() {
            let _ = writeln!(
                out,
                "warning: {} catalog example(s) would fail `personabot check` after this change:",
                p.examples_failing_after.len()
            );
            for f in &p.examples_failing_after {
                let _ = writeln!(out, "    {f}");
            }
        }
    }
    out
}

//! The review page's answer and ticket tables: self-help answers per intent, answer variants,
//! A/B comparisons and tickets per team.

use std::fmt::Write as _;

use super::{esc, percent};
use crate::owner::review::{Interval, Review};

fn interval(i: &Interval) -> String {
    format!("{:.0}%–{:.0}%", 100.0 * i.low, 100.0 * i.high)
}

pub(super) fn intents_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"intents\"><h2>Self-help answers per intent</h2><p class=\"note\">Only \
         answers that offered “That helped” / “Talk to a human” count. <b>After answer</b>: a \
         ticket on the same intent followed the answer without a “not helped” (escalation \
         after an answer); “not helped” is counted apart.</p>",
    );
    if review.answers_by_intent.is_empty() {
        out.push_str("<p>No self-help answers were shown in this window.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>intent</th><th class=\"n\">answers</th>\
         <th class=\"n\">helped</th><th class=\"n\">not helped</th>\
         <th class=\"n\">after answer</th><th class=\"n\">resolution</th>\
         <th class=\"n\">% not helped</th><th class=\"n\">% after answer</th></tr></thead><tbody>",
    );
    for a in &review.answers_by_intent {
        let _ = write!(
            out,
            "<tr><td class=\"id\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&a.intent),
            a.answers,
            a.helped,
            a.not_helped,
            a.escalated_after_answer,
            percent(a.resolution_rate),
            percent(a.not_helped_rate),
            percent(a.escalation_after_answer_rate),
        );
    }
    out.push_str("</tbody></table></section>");
}

pub(super) fn variants_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"variants\"><h2>Answer variants</h2><p class=\"note\">Each answer is \
         <code>intent/persona</code>, or <code>intent/default</code> when the persona has no \
         answer of its own; <code>#2</code> names the second of several texts. Self-help \
         answers only; the interval is the 95% Wilson interval of the resolution.</p>",
    );
    if review.personas.iter().all(|p| p.variants.is_empty()) {
        out.push_str("<p>No self-help answers were shown in this window.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>persona</th><th>variant</th><th class=\"n\">shown</th>\
         <th class=\"n\">helped</th><th class=\"n\">not helped</th><th class=\"n\">unrated</th>\
         <th class=\"n\">resolution</th><th class=\"n\">95% interval</th>\
         <th class=\"n\">helped of rated</th></tr></thead><tbody>",
    );
    for p in &review.personas {
        for v in &p.variants {
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td><code>{}</code></td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.id),
                esc(&v.variant),
                v.shown,
                v.helped,
                v.not_helped,
                v.unrated,
                percent(Some(v.resolution_rate)),
                interval(&v.interval),
                percent(v.rated_help_rate),
            );
        }
    }
    out.push_str("</tbody></table></section>");
}

pub(super) fn experiments_section(out: &mut String, review: &Review) {
    if review.experiments.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"experiments\"><h2>A/B answers</h2><p class=\"note\">Answers with \
         several texts, all personas together. A variant is better with confidence when a \
         two-proportion z-test of its resolution against another's passes at 95% (with enough \
         answers on both sides); <code>personabot suggest</code> then proposes retiring the \
         other.</p>",
    );
    for e in &review.experiments {
        let _ = write!(
            out,
            "<h3><code>{}</code></h3><table><thead><tr><th>variant</th>\
             <th class=\"n\">shown</th><th class=\"n\">helped</th><th class=\"n\">not helped</th>\
             <th class=\"n\">resolution</th><th class=\"n\">95% interval</th></tr></thead><tbody>",
            esc(&e.answer)
        );
        for v in &e.variants {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&v.variant),
                v.shown,
                v.helped,
                v.not_helped,
                percent(Some(v.resolution_rate)),
                interval(&v.interval),
            );
        }
        out.push_str("</tbody></table>");
        if e.better.is_empty() {
            out.push_str(
                "<p class=\"verdict\">No variant helps more than another with 95% confidence \
                 yet.</p>",
            );
        }
        for b in &e.better {
            let _ = write!(
                out,
                "<p class=\"verdict\"><b><code>{}</code></b> helps more than <code>{}</code> \
                 with 95% confidence (z = {:.2}, p = {:.4}).</p>",
                esc(&b.better),
                esc(&b.worse),
                b.z,
                b.p_value
            );
        }
    }
    out.push_str("</section>");
}

pub(super) fn teams_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"teams\"><h2>Tickets per team</h2><p class=\"note\">High priority: the \
         customer was frustrated (the ticket's <code>\"priority\": \"high\"</code>).</p>",
    );
    if review.teams.is_empty() {
        out.push_str("<p>No tickets were opened in this window.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>team</th><th class=\"n\">tickets</th>\
         <th class=\"n\">high priority</th></tr></thead><tbody>",
    );
    for t in &review.teams {
        let _ = write!(
            out,
            "<tr><td class=\"id\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&t.team),
            t.tickets,
            t.high_priority
        );
    }
    out.push_str("</tbody></table></section>");
}

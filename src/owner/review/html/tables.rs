//! The review page's tables: personas, unclear messages, keywords and relabels.

use std::fmt::Write as _;

use super::charts::confusion_svg;
use super::{colour, esc, examples_html, percent};
use crate::owner::review::{Review, NONE_ID};

pub(super) fn personas_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"personas\"><h2>Personas</h2><p class=\"note\">Share of all messages in \
         the window; rates are over the persona's decided messages (not those added to an \
         open ticket).</p><table><thead><tr><th>persona</th><th>owner</th>\
         <th class=\"n\">messages</th><th class=\"n\">share</th><th class=\"n\">self-help</th>\
         <th class=\"n\">resolution</th><th class=\"n\">after answer</th>\
         <th class=\"n\">escalation</th><th class=\"n\">high</th>\
         <th class=\"n\">clarify</th><th class=\"n\">fallback</th><th>top intents</th>\
         </tr></thead><tbody>",
    );
    for p in &review.personas {
        let intents: String = p
            .top_intents
            .iter()
            .take(3)
            .map(|c| {
                format!(
                    "<span class=\"chip\">{} · {}</span>",
                    esc(if c.id == NONE_ID {
                        "(no intent)"
                    } else {
                        &c.id
                    }),
                    c.messages
                )
            })
            .collect();
        let _ = write!(
            out,
            "<tr><td><i class=\"swatch\" style=\"background:{}\"></i>{}<div class=\"ex\">{}</div></td>\
             <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td>{intents}</td></tr>",
            colour(review, &p.id),
            esc(&p.name),
            esc(&p.id),
            esc(&p.owner),
            p.messages,
            100.0 * p.share,
            p.self_help_answers,
            percent(p.resolution_rate),
            percent(p.escalation_after_answer_rate),
            percent(p.escalation_rate),
            p.high_priority,
            percent(p.clarify_rate),
            percent(p.fallback_rate),
        );
    }
    out.push_str("</tbody></table></section>");
}

pub(super) fn unclear_section(out: &mut String, review: &Review) {
    let u = &review.unclear;
    let _ = write!(
        out,
        "<section id=\"unclear\"><h2>Unmatched and low-confidence messages</h2>\
         <p class=\"note\">{} of {} decided messages: {} with no intent, {} clarifying \
         questions, {} with an intent below {:.2} confidence. The words and phrases they \
         share are candidates for keywords.</p>",
        u.unmatched + u.clarify + u.low_confidence,
        u.decided,
        u.unmatched,
        u.clarify,
        u.low_confidence,
        u.low_confidence_line
    );
    if u.terms.is_empty() {
        out.push_str("<p>No word or phrase appears in two or more of them.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>word or phrase</th><th class=\"n\">messages</th>\
             <th>already a keyword of</th><th>examples</th></tr></thead><tbody>",
        );
        for t in &u.terms {
            let owners = if t.in_profiles.is_empty() {
                "–".to_string()
            } else {
                t.in_profiles
                    .iter()
                    .map(|p| format!("<span class=\"chip\">{}</span>", esc(p)))
                    .collect()
            };
            let _ = write!(
                out,
                "<tr><td><b>{}</b></td><td class=\"n\">{}</td><td>{owners}</td><td>{}</td></tr>",
                esc(&t.term),
                t.messages,
                examples_html(&t.examples)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

pub(super) fn keywords_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"keywords\"><h2>Keywords</h2><h3>Firing for several personas</h3>\
         <p class=\"note\">A keyword that counts for two personas cannot tell them apart.</p>",
    );
    if review.shared_keywords.is_empty() {
        out.push_str("<p>No keyword fired for more than one persona.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>keyword</th><th class=\"n\">messages</th><th>personas</th>\
             </tr></thead><tbody>",
        );
        for k in &review.shared_keywords {
            let personas: String = k
                .personas
                .iter()
                .map(|(p, n)| {
                    format!(
                        "<span class=\"chip\"><i class=\"swatch\" style=\"background:{}\"></i>{} · {n}</span>",
                        colour(review, p),
                        esc(p)
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<tr><td><b>{}</b></td><td class=\"n\">{}</td><td>{personas}</td></tr>",
                esc(&k.term),
                k.messages
            );
        }
        out.push_str("</tbody></table>");
    }
    let s = &review.silent_keywords;
    let _ = write!(
        out,
        "<h3>Never fired</h3><p class=\"note\">{} of {} keywords had no hit in this window: \
         candidates to reword or remove, once the window holds enough traffic.</p>",
        s.silent, s.keywords
    );
    if !s.profiles.is_empty() {
        let _ = write!(
            out,
            "<details><summary>Show the {} silent keywords of {} profile(s)</summary>\
             <table><thead><tr><th>profile</th><th class=\"n\">silent</th><th>keywords</th>\
             </tr></thead><tbody>",
            s.silent,
            s.profiles.len()
        );
        for p in &s.profiles {
            let chips: String = p
                .silent
                .iter()
                .map(|k| format!("<span class=\"chip\">{}</span>", esc(k)))
                .collect();
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td class=\"n\">{} of {}</td><td>{chips}</td></tr>",
                esc(&p.profile),
                p.silent.len(),
                p.keywords
            );
        }
        out.push_str("</tbody></table></details>");
    }
    out.push_str("</section>");
}

pub(super) fn relabels_section(out: &mut String, review: &Review) {
    let r = &review.relabels;
    let _ = write!(
        out,
        "<section id=\"relabels\"><h2>Agent relabels</h2><p class=\"note\">{} labelled \
         message(s); {} agreed with the bot.</p>",
        r.labelled, r.confirmed
    );
    if r.intent.is_empty() && r.persona.is_empty() {
        out.push_str("<p>No corrections in this window.</p></section>");
        return;
    }
    for (id, what, list) in [
        ("relabel-intent-chart", "intent", &r.intent),
        ("relabel-persona-chart", "persona", &r.persona),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3>{what}</h3><p class=\"note\">Rows: the bot's {what}; columns: the agent's.</p>\
             <div class=\"side\"><div>"
        );
        confusion_svg(out, id, what, list);
        out.push_str("</div>");
        out.push_str(
            "<table><thead><tr><th>bot said</th><th>agent said</th><th class=\"n\">messages</th>\
             <th>examples</th></tr></thead><tbody>",
        );
        for l in list {
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td class=\"id\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&l.from),
                esc(&l.to),
                l.messages,
                examples_html(&l.examples)
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");
}

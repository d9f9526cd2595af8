//! The review as one self-contained HTML page: inline CSS and SVG charts, no script, nothing
//! fetched. Every text from the store or the catalog is escaped.

mod answers;
mod charts;
mod tables;

use std::fmt::Write as _;

use super::text::message_count;
use super::{PersonaReview, Review, NONE_ID};
use crate::store::format_time;
use answers::{experiments_section, intents_section, teams_section, variants_section};
use charts::{resolution_section, volume_section};
use tables::{keywords_section, personas_section, relabels_section, unclear_section};

/// Persona colours (Tableau 10); messages without a persona are grey.
const PALETTE: [&str; 9] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f",
];
const NO_PERSONA_COLOUR: &str = "#a8a29e";

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn colour(review: &Review, persona: &str) -> &'static str {
    if persona == NONE_ID {
        return NO_PERSONA_COLOUR;
    }
    let index = review
        .personas
        .iter()
        .filter(|p| p.id != NONE_ID)
        .position(|p| p.id == persona)
        .unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

pub(super) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_string(), |r| format!("{:.0}%", 100.0 * r))
}

/// A round axis maximum at or above `max`, and its tick step.
pub(super) fn nice_axis(max: usize) -> (usize, usize) {
    let max = max.max(1);
    let rough = max.div_ceil(4);
    let magnitude = 10usize.pow(rough.to_string().len() as u32 - 1);
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10 * magnitude);
    (max.div_ceil(step) * step, step)
}

const STYLE: &str = r#"
:root { --bg:#f4f2ef; --panel:#fff; --ink:#1f1b16; --muted:#5f574e; --line:#e4ded6; --accent:#b7410e; --good:#2f7d4f; --warn:#c2410c; }
@media (prefers-color-scheme: dark) { :root { --bg:#151311; --panel:#1f1b18; --ink:#f3eee8; --muted:#b9afa4; --line:#3a332d; --accent:#e07a45; --good:#6fcf97; --warn:#fb923c; } }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif; }
header, main { max-width: 1080px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { margin: 0 0 2px; font-size: 1.5rem; }
h2 { margin: 0 0 4px; font-size: 1.15rem; }
p.sub, p.note { color: var(--muted); margin: 0 0 12px; font-size: .9rem; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 18px 20px; margin: 16px 0; overflow-x: auto; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 16px 0 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 12px 14px; }
.card b { display:block; font-size: 1.45rem; }
.card span { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.swatch { display:inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.legend { display:flex; flex-wrap: wrap; gap: 6px 16px; font-size: .85rem; margin-top: 8px; }
.chip { display:inline-block; white-space: nowrap; padding: 1px 8px; margin: 2px 4px 2px 0; border: 1px solid var(--line); border-radius: 999px; font-size: .82rem; }
.ex { color: var(--muted); font-size: .82rem; }
svg { display:block; max-width: 100%; height: auto; }
svg.wide { width: 100%; max-height: 340px; }
#personas td:first-child { min-width: 9em; }
td.id { white-space: nowrap; }
.side { display:flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.side > table { flex: 1 1 420px; width: auto; }
details summary { cursor: pointer; color: var(--accent); margin: 4px 0 10px; }
h3 { font-size: 1rem; margin: 14px 0 4px; }
svg text { fill: var(--ink); font-size: 12px; }
svg .axis { stroke: var(--line); }
svg .muted { fill: var(--muted); }
form.filter { display:flex; gap: 10px; align-items: end; flex-wrap: wrap; margin-top: 12px; }
form.filter label { font-size: .85rem; color: var(--muted); display:flex; flex-direction: column; gap: 2px; }
form.filter input, form.filter select, form.filter button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); color: var(--ink); }
form.filter button { background: var(--accent); color: #fff; border: 0; cursor: pointer; }
footer { color: var(--muted); font-size: .8rem; max-width: 1080px; margin: 0 auto 30px; padding: 0 20px; }
"#;

/// How the page is delivered.
#[derive(Debug, Clone, Default)]
pub struct HtmlTarget {
    /// Served at `/review`: adds the filter form (window and persona).
    pub served: bool,
    /// The `since` age asked for (shown in the form).
    pub since: Option<String>,
    /// Persona ids for the form's choice.
    pub personas: Vec<String>,
}

/// The review as a self-contained HTML page.
pub fn render_html(review: &Review, target: &HtmlTarget) -> String {
    let mut out = String::new();
    let window = match review.since_ms {
        Some(since) => format!("{} to {}", format_time(since), format_time(review.until_ms)),
        None => format!("all kept evidence up to {}", format_time(review.until_ms)),
    };
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>Persona review · personabot</title><link rel=\"icon\" href=\"data:,\">\
         <style>{STYLE}</style></head><body><header><h1>Persona review</h1>\
         <p class=\"sub\" id=\"summary\">{}, {}</p>",
        esc(&message_count(review)),
        esc(&window),
    );
    if target.served {
        filter_form(&mut out, review, target);
    }
    cards(&mut out, review);
    out.push_str("</header><main>");
    if review.selected_messages == 0 {
        out.push_str(
            "<section><h2>No messages yet</h2><p class=\"note\">The review fills in as \
             customers write.</p></section>",
        );
    } else {
        volume_section(&mut out, review);
        personas_section(&mut out, review);
        resolution_section(&mut out, review);
        intents_section(&mut out, review);
        variants_section(&mut out, review);
        experiments_section(&mut out, review);
        teams_section(&mut out, review);
        unclear_section(&mut out, review);
        keywords_section(&mut out, review);
        relabels_section(&mut out, review);
    }
    let _ = writeln!(
        out,
        "</main><footer>Generated by personabot review at {}. Message texts are stored \
         redacted.</footer></body></html>",
        esc(&format_time(review.generated_ms))
    );
    out
}

fn filter_form(out: &mut String, review: &Review, target: &HtmlTarget) {
    let _ = write!(
        out,
        "<form class=\"filter\" method=\"get\" action=\"/review\">\
         <label>Window <input name=\"since\" placeholder=\"e.g. 30d\" size=\"8\" value=\"{}\"></label>\
         <label>Persona <select name=\"persona\"><option value=\"\">all</option>",
        esc(target.since.as_deref().unwrap_or(""))
    );
    for id in target.personas.iter().map(String::as_str).chain([NONE_ID]) {
        let selected = if review.persona_filter.as_deref() == Some(id) {
            " selected"
        } else {
            ""
        };
        let label = if id == NONE_ID { "(no persona)" } else { id };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            esc(id),
            esc(label)
        );
    }
    out.push_str(
        "</select></label><button type=\"submit\">Show</button>\
         <button type=\"submit\" formmethod=\"post\" formaction=\"/review/logout\">Sign out</button>\
         </form>",
    );
}

fn cards(out: &mut String, review: &Review) {
    let sum = |f: fn(&PersonaReview) -> usize| review.personas.iter().map(f).sum::<usize>();
    let (answers, helped, tickets, decided) = (
        sum(|p| p.self_help_answers),
        sum(|p| p.helped),
        sum(|p| p.tickets),
        sum(|p| p.decided),
    );
    let ratio = |n: usize, of: usize| (of > 0).then(|| n as f64 / of as f64);
    let u = &review.unclear;
    let cards = [
        (
            review
                .personas
                .iter()
                .map(|p| p.messages)
                .sum::<usize>()
                .to_string(),
            "messages".to_string(),
        ),
        (
            percent(ratio(helped, answers)),
            format!("self-help resolution ({helped} of {answers} self-help answers)"),
        ),
        (
            percent(ratio(sum(|p| p.escalated_after_answer), answers)),
            format!(
                "escalated after an answer ({} of {answers})",
                sum(|p| p.escalated_after_answer)
            ),
        ),
        (
            percent(ratio(tickets, decided)),
            format!(
                "escalated ({tickets} ticket(s), {} high priority)",
                sum(|p| p.high_priority)
            ),
        ),
        (
            percent(ratio(u.unmatched + u.clarify + u.low_confidence, u.decided)),
            "unmatched or low confidence".to_string(),
        ),
        (
            review.relabels.labelled.to_string(),
            format!(
                "agent labels ({} corrections)",
                review.relabels.labelled - review.relabels.confirmed
            ),
        ),
    ];
    out.push_str("<div class=\"cards\">");
    for (value, what) in cards {
        let _ = write!(
            out,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            esc(&what)
        );
    }
    out.push_str("</div>");
}

pub(super) fn legend(out: &mut String, review: &Review) {
    out.push_str("<div class=\"legend\">");
    for p in &review.personas {
        let _ = write!(
            out,
            "<span><i class=\"swatch\" style=\"background:{}\"></i>{}</span>",
            colour(review, &p.id),
            esc(&p.name)
        );
    }
    out.push_str("</div>");
}

pub(super) fn examples_html(examples: &[String]) -> String {
    examples
        .iter()
        .map(|e| format!("<div class=\"ex\">“{}”</div>", esc(e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn axis_maximum_is_round_and_covers_the_data() {
        let table = [
            (0, (1, 1)),
            (3, (3, 1)),
            (7, (8, 2)),
            (37, (40, 10)),
            (120, (150, 50)),
            (999, (1000, 500)),
        ];
        for (max, want) in table {
            let got = nice_axis(max);
            assert_eq!(got, want, "{max}");
            assert!(got.0 >= max);
        }
    }
}

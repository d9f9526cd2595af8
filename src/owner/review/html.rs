//! The review as one self-contained HTML page: inline CSS and SVG charts, no script, nothing
//! fetched. Every text from the store or the catalog is escaped.

use std::fmt::Write as _;

use super::{PersonaReview, Relabel, Review, NONE_ID};
use crate::store::format_time;

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

fn colour(review: &Review, persona: &str) -> &'static str {
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

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_string(), |r| format!("{:.0}%", 100.0 * r))
}

/// A round axis maximum at or above `max`, and its tick step.
fn nice_axis(max: usize) -> (usize, usize) {
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
         <p class=\"sub\">{} message(s), {}{}</p>",
        review.messages,
        esc(&window),
        review
            .persona_filter
            .as_ref()
            .map(|p| format!(", persona <b>{}</b>", esc(p)))
            .unwrap_or_default()
    );
    if target.served {
        filter_form(&mut out, review, target);
    }
    cards(&mut out, review);
    out.push_str("</header><main>");
    if review.messages == 0 {
        out.push_str(
            "<section><h2>No messages yet</h2><p class=\"note\">The review fills in as \
             customers write.</p></section>",
        );
    } else {
        volume_section(&mut out, review);
        personas_section(&mut out, review);
        resolution_section(&mut out, review);
        variants_section(&mut out, review);
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
        sum(|p| p.answers),
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
            format!("self-help resolution ({helped} of {answers} answers)"),
        ),
        (
            percent(ratio(tickets, decided)),
            format!("escalated ({tickets} ticket(s))"),
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

fn legend(out: &mut String, review: &Review) {
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

/// Stacked bars: messages per week, one colour per persona.
fn volume_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"volume\"><h2>Volume per persona over time</h2>\
         <p class=\"note\">Messages per week (weeks start on Monday, UTC).</p>",
    );
    let weeks = review.weeks.len().max(1);
    let totals: Vec<usize> = (0..weeks)
        .map(|w| {
            review
                .personas
                .iter()
                .map(|p| p.weekly.get(w).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let (axis_max, step) = nice_axis(totals.iter().copied().max().unwrap_or(0));
    let (width, height, left, right, top, bottom) = (760.0, 260.0, 48.0, 12.0, 12.0, 36.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let band = plot_w / weeks as f64;
    let bar = (band * 0.72).min(56.0);
    let y = |v: usize| top + plot_h - plot_h * v as f64 / axis_max as f64;
    let _ = write!(
        out,
        "<svg class=\"chart wide\" id=\"volume-chart\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\" role=\"img\" aria-label=\"Messages per week, stacked by persona\">"
    );
    let mut tick = 0;
    while tick <= axis_max {
        let ty = y(tick);
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{left}\" x2=\"{}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\"/>\
             <text class=\"muted\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>",
            width - right,
            left - 6.0,
            ty + 4.0
        );
        tick += step;
    }
    let label_every = weeks.div_ceil(10);
    for (w, week) in review.weeks.iter().enumerate() {
        let x = left + band * w as f64 + (band - bar) / 2.0;
        let mut base = 0;
        // Bottom-up in the legend's order reversed, so the busiest persona sits at the bottom.
        for p in &review.personas {
            let n = p.weekly.get(w).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let (y0, y1) = (y(base), y(base + n));
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\">\
                 <title>{}: {n} message(s), week of {}</title></rect>",
                (y0 - y1).max(0.5),
                colour(review, &p.id),
                esc(&p.name),
                esc(week)
            );
            base += n;
        }
        if w % label_every == 0 {
            let _ = write!(
                out,
                "<text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                left + band * (w as f64 + 0.5),
                height - bottom + 18.0,
                esc(week.get(5..).unwrap_or(week))
            );
        }
    }
    out.push_str("</svg>");
    legend(out, review);
    out.push_str("</section>");
}

fn personas_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"personas\"><h2>Personas</h2><p class=\"note\">Share of all messages in \
         the window; rates are over the persona's decided messages (not those added to an \
         open ticket).</p><table><thead><tr><th>persona</th><th>owner</th>\
         <th class=\"n\">messages</th><th class=\"n\">share</th><th class=\"n\">answers</th>\
         <th class=\"n\">resolution</th><th class=\"n\">escalation</th>\
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
             <td class=\"n\">{}</td><td>{intents}</td></tr>",
            colour(review, &p.id),
            esc(&p.name),
            esc(&p.id),
            esc(&p.owner),
            p.messages,
            100.0 * p.share,
            p.answers,
            percent(p.resolution_rate),
            percent(p.escalation_rate),
            percent(p.clarify_rate),
            percent(p.fallback_rate),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Horizontal bars: self-help resolution and escalation per persona.
fn resolution_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"resolution\"><h2>Resolution per persona</h2><p class=\"note\">\
         Resolution: answers marked “That helped” over answers shown. Escalation: tickets \
         opened over decided messages.</p>",
    );
    let rows = review.personas.len().max(1);
    let (width, label_w, row_h, top) = (760.0, 190.0, 44.0, 8.0);
    let plot_w = width - label_w - 150.0;
    let height = top + row_h * rows as f64 + 24.0;
    let _ = write!(
        out,
        "<svg class=\"chart wide\" id=\"resolution-chart\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"Resolution and \
         escalation rate per persona\">"
    );
    for pct in [0, 25, 50, 75, 100] {
        let x = label_w + plot_w * f64::from(pct) / 100.0;
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{:.1}\"/>\
             <text class=\"muted\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{pct}%</text>",
            height - 20.0,
            height - 6.0
        );
    }
    for (row, p) in review.personas.iter().enumerate() {
        let y0 = top + row_h * row as f64;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 10.0,
            y0 + row_h / 2.0 + 4.0,
            esc(&p.name)
        );
        for (i, (rate, fill, what)) in [
            (
                p.resolution_rate,
                "var(--good)",
                format!("{} of {} answers helped", p.helped, p.answers),
            ),
            (
                p.escalation_rate,
                "var(--warn)",
                format!("{} tickets from {} messages", p.tickets, p.decided),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y0 + 6.0 + 16.0 * i as f64;
            let w = plot_w * rate.unwrap_or(0.0);
            let _ = write!(
                out,
                "<rect x=\"{label_w}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"13\" rx=\"2\" \
                 style=\"fill:{fill}\"><title>{}</title></rect>\
                 <text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\">{} {}</text>",
                w.max(1.0),
                esc(&what),
                label_w + w + 6.0,
                by + 11.0,
                if i == 0 { "resolved" } else { "escalated" },
                match (i, rate) {
                    (0, None) => "– (no answers shown)".to_string(),
                    _ => percent(rate),
                },
            );
        }
    }
    out.push_str("</svg><div class=\"legend\"><span><i class=\"swatch\" style=\"background:var(--good)\"></i>self-help resolution</span><span><i class=\"swatch\" style=\"background:var(--warn)\"></i>escalation</span></div></section>");
}

fn variants_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"variants\"><h2>Answer variants</h2><p class=\"note\">Each answer is \
         <code>intent/persona</code>, or <code>intent/default</code> when the persona has no \
         answer of its own.</p>",
    );
    if review.personas.iter().all(|p| p.variants.is_empty()) {
        out.push_str("<p>No self-help answers were shown in this window.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>persona</th><th>variant</th><th class=\"n\">shown</th>\
         <th class=\"n\">helped</th><th class=\"n\">not helped</th><th class=\"n\">unrated</th>\
         <th class=\"n\">resolution</th><th class=\"n\">helped of rated</th></tr></thead><tbody>",
    );
    for p in &review.personas {
        for v in &p.variants {
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td><code>{}</code></td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.id),
                esc(&v.variant),
                v.shown,
                v.helped,
                v.not_helped,
                v.unrated,
                percent(Some(v.resolution_rate)),
                percent(v.rated_help_rate),
            );
        }
    }
    out.push_str("</tbody></table></section>");
}

fn examples_html(examples: &[String]) -> String {
    examples
        .iter()
        .map(|e| format!("<div class=\"ex\">“{}”</div>", esc(e)))
        .collect()
}

fn unclear_section(out: &mut String, review: &Review) {
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

fn keywords_section(out: &mut String, review: &Review) {
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

/// A heatmap of corrections: rows what the bot said, columns what the agent said.
fn confusion_svg(out: &mut String, id: &str, what: &str, relabels: &[Relabel]) {
    let mut rows: Vec<&str> = relabels.iter().map(|r| r.from.as_str()).collect();
    let mut cols: Vec<&str> = relabels.iter().map(|r| r.to.as_str()).collect();
    rows.sort_unstable();
    rows.dedup();
    cols.sort_unstable();
    cols.dedup();
    let max = relabels
        .iter()
        .map(|r| r.messages)
        .max()
        .unwrap_or(1)
        .max(1);
    let longest = |ids: &[&str]| ids.iter().map(|s| s.chars().count()).max().unwrap_or(1);
    let cell = 40.0;
    let left = 16.0 + 7.0 * longest(&rows) as f64;
    let top = 24.0 + 5.5 * longest(&cols) as f64;
    // Rotated column labels lean right: leave room for the last one.
    let width = left + cell * cols.len() as f64 + 16.0 + 4.5 * longest(&cols) as f64;
    let height = top + cell * rows.len() as f64 + 8.0;
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"{what} relabels: bot's choice by row, \
         agent's by column\">"
    );
    for (c, col) in cols.iter().enumerate() {
        let x = left + cell * (c as f64 + 0.5);
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" transform=\"rotate(-40 {x:.1} {:.1})\">{}</text>",
            top - 8.0,
            top - 8.0,
            esc(col)
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + cell * r as f64;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + cell / 2.0 + 4.0,
            esc(row)
        );
        for (c, col) in cols.iter().enumerate() {
            let x = left + cell * c as f64;
            let n = relabels
                .iter()
                .find(|l| l.from == *row && l.to == *col)
                .map_or(0, |l| l.messages);
            let opacity = if n == 0 {
                0.04
            } else {
                0.2 + 0.8 * n as f64 / max as f64
            };
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\" \
                 style=\"fill:var(--accent)\" fill-opacity=\"{opacity:.2}\">\
                 <title>bot: {} → agent: {}: {n}</title></rect>",
                x + 1.0,
                y + 1.0,
                cell - 2.0,
                cell - 2.0,
                esc(row),
                esc(col)
            );
            if n > 0 {
                let _ = write!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"600\">{n}</text>",
                    x + cell / 2.0,
                    y + cell / 2.0 + 4.0
                );
            }
        }
    }
    out.push_str("</svg>");
}

fn relabels_section(out: &mut String, review: &Review) {
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

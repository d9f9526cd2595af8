//! The review page's SVG charts: weekly volume, resolution per persona, and the relabel
//! heatmaps.

use std::fmt::Write as _;

use super::{colour, esc, legend, nice_axis, percent};
use crate::owner::review::{Relabel, Review};

/// Stacked bars: messages per week, one colour per persona.
pub(super) fn volume_section(out: &mut String, review: &Review) {
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

/// Horizontal bars: self-help resolution and escalation per persona.
pub(super) fn resolution_section(out: &mut String, review: &Review) {
    out.push_str(
        "<section id=\"resolution\"><h2>Resolution per persona</h2><p class=\"note\">\
         Resolution: self-help answers marked “That helped” over self-help answers shown \
         (greetings and thanks offer no buttons and do not count). Escalation: tickets \
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
                format!(
                    "{} of {} self-help answers helped",
                    p.helped, p.self_help_answers
                ),
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

/// A heatmap of corrections: rows what the bot said, columns what the agent said.
pub(super) fn confusion_svg(out: &mut String, id: &str, what: &str, relabels: &[Relabel]) {
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

//! The review as terminal tables.

use std::fmt::Write as _;

use super::{Review, NONE_ID};
use crate::store::format_time;

/// A percentage, or `-` when there is nothing to divide by.
pub(super) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", 100.0 * r))
}

/// Weekly counts as a sparkline, one block per week (scaled to the busiest week).
pub(super) fn sparkline(weekly: &[usize]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = weekly.iter().copied().max().unwrap_or(0);
    weekly
        .iter()
        .map(|&n| match n {
            0 => ' ',
            _ => BLOCKS[((n * 7).div_ceil(max.max(1))).min(7)],
        })
        .collect()
}

/// `12 message(s)`, or `12 message(s) of 51 in the window` under a persona filter.
pub(super) fn message_count(review: &Review) -> String {
    match &review.persona_filter {
        Some(p) => format!(
            "{} message(s) of persona {p} ({} in the window)",
            review.selected_messages, review.messages
        ),
        None => format!("{} message(s)", review.messages),
    }
}

/// A 95% interval as `41%–63%`.
pub(super) fn interval(i: &super::Interval) -> String {
    format!("{:.0}%–{:.0}%", 100.0 * i.low, 100.0 * i.high)
}

/// Cuts `text` to `max` characters on one line.
fn clip(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The review for a terminal.
pub fn render_text(review: &Review) -> String {
    let mut out = String::new();
    let window = match review.since_ms {
        Some(since) => format!("{} to {}", format_time(since), format_time(review.until_ms)),
        None => format!("all kept evidence up to {}", format_time(review.until_ms)),
    };
    let _ = writeln!(
        out,
        "personabot review: {}, {window}",
        message_count(review)
    );
    if review.selected_messages == 0 {
        let _ = writeln!(
            out,
            "\nNo messages in this window yet: the review fills in as customers write."
        );
        return out;
    }

    let first = review.weeks.first().map_or("", String::as_str);
    let _ = writeln!(
        out,
        "\nPERSONAS (trend: messages per week since {first}, one block per week)"
    );
    let name_width = review
        .personas
        .iter()
        .map(|p| p.id.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let trend_width = review.weeks.len().max(5);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>8}  {:>6}  {:<trend_width$}  {:>9}  {:>10}  {:>12}  {:>10}  {:>4}  {:>7}  {:>8}",
        "persona",
        "messages",
        "share",
        "trend",
        "self-help",
        "resolution",
        "after answer",
        "escalation",
        "high",
        "clarify",
        "fallback"
    );
    for p in &review.personas {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>8}  {:>6}  {:<trend_width$}  {:>9}  {:>10}  {:>12}  {:>10}  {:>4}  {:>7}  {:>8}",
            p.id,
            p.messages,
            percent(Some(p.share)),
            sparkline(&p.weekly),
            p.self_help_answers,
            percent(p.resolution_rate),
            percent(p.escalation_after_answer_rate),
            percent(p.escalation_rate),
            p.high_priority,
            percent(p.clarify_rate),
            percent(p.fallback_rate),
        );
    }
    let _ = writeln!(
        out,
        "self-help: answers that offered \"That helped\" / \"Talk to a human\" (not greetings or \
         thanks); resolution: marked \"That helped\" / self-help answers; after answer: \
         self-help answers followed by a ticket on their intent without a \"not helped\" / \
         self-help answers; escalation: tickets opened / messages decided (not added to an open \
         ticket); high: tickets marked priority high"
    );
    super::text_answers::intents_and_teams(&mut out, review);
    super::service::render_service(&mut out, &review.service);

    let _ = writeln!(out, "\nTOP INTENTS");
    for p in &review.personas {
        let intents: Vec<String> = p
            .top_intents
            .iter()
            .take(5)
            .map(|c| format!("{} {} ({})", c.id, c.messages, percent(Some(c.share))))
            .collect();
        let _ = writeln!(out, "{:<name_width$}  {}", p.id, intents.join(", "));
    }

    let variants: Vec<(&str, &super::VariantReview)> = review
        .personas
        .iter()
        .flat_map(|p| p.variants.iter().map(move |v| (p.id.as_str(), v)))
        .collect();
    if !variants.is_empty() {
        let variant_width = variants
            .iter()
            .map(|(_, v)| v.variant.chars().count())
            .max()
            .unwrap_or(7)
            .max(7);
        let _ = writeln!(out, "\nANSWER VARIANTS (self-help answers, per persona)");
        let _ = writeln!(
            out,
            "{:<name_width$}  {:<variant_width$}  {:>5}  {:>6}  {:>10}  {:>7}  {:>10}  {:>13}",
            "persona",
            "variant",
            "shown",
            "helped",
            "not helped",
            "unrated",
            "resolution",
            "95% interval"
        );
        for (persona, v) in variants {
            let _ = writeln!(
                out,
                "{:<name_width$}  {:<variant_width$}  {:>5}  {:>6}  {:>10}  {:>7}  {:>10}  {:>13}",
                persona,
                v.variant,
                v.shown,
                v.helped,
                v.not_helped,
                v.unrated,
                percent(Some(v.resolution_rate)),
                interval(&v.interval),
            );
        }
    }
    super::text_answers::experiments(&mut out, review);

    let u = &review.unclear;
    let _ = writeln!(
        out,
        "\nUNMATCHED AND LOW-CONFIDENCE MESSAGES: {} of {} decided (no intent {}, clarify {}, \
         intent below {:.2} {})",
        u.unmatched + u.clarify + u.low_confidence,
        u.decided,
        u.unmatched,
        u.clarify,
        u.low_confidence_line,
        u.low_confidence
    );
    if u.terms.is_empty() {
        let _ = writeln!(out, "no word or phrase in two or more of them");
    } else {
        let _ = writeln!(
            out,
            "{:<24}  {:>8}  already a keyword of",
            "word or phrase", "messages"
        );
        for t in &u.terms {
            let owners = if t.in_profiles.is_empty() {
                NONE_ID.to_string()
            } else {
                t.in_profiles.join(", ")
            };
            let _ = writeln!(
                out,
                "{:<24}  {:>8}  {owners}",
                clip(&t.term, 24),
                t.messages
            );
        }
    }
    for e in &u.examples {
        let _ = writeln!(out, "  e.g. {:?}", clip(e, 100));
    }

    let s = &review.silent_keywords;
    let _ = writeln!(
        out,
        "\nKEYWORDS THAT NEVER FIRED: {} of {} (in {} message(s))",
        s.silent,
        s.keywords,
        review.personas.iter().map(|p| p.messages).sum::<usize>()
    );
    for p in &s.profiles {
        let _ = writeln!(
            out,
            "{} ({} of {}): {}",
            p.profile,
            p.silent.len(),
            p.keywords,
            clip(&p.silent.join(", "), 160)
        );
    }

    let _ = writeln!(out, "\nKEYWORDS THAT FIRE FOR SEVERAL PERSONAS");
    if review.shared_keywords.is_empty() {
        let _ = writeln!(out, "none");
    }
    for k in &review.shared_keywords {
        let personas: Vec<String> = k.personas.iter().map(|(p, n)| format!("{p} {n}")).collect();
        let _ = writeln!(
            out,
            "{:<24}  {:>8} message(s): {}",
            clip(&k.term, 24),
            k.messages,
            personas.join(", ")
        );
    }

    let r = &review.relabels;
    let _ = writeln!(
        out,
        "\nAGENT RELABELS: {} labelled message(s), {} agreeing with the bot",
        r.labelled, r.confirmed
    );
    for (axis, list) in [("intent", &r.intent), ("persona", &r.persona)] {
        for l in list.iter().take(RELABELS_SHOWN) {
            let _ = writeln!(
                out,
                "{axis:<7}  {} -> {}  {} message(s)",
                l.from, l.to, l.messages
            );
            for e in &l.examples {
                let _ = writeln!(out, "           e.g. {:?}", clip(e, 100));
            }
        }
        if list.len() > RELABELS_SHOWN {
            let rest: usize = list[RELABELS_SHOWN..].iter().map(|l| l.messages).sum();
            let _ = writeln!(
                out,
                "{axis:<7}  ... {} more correction(s) ({rest} message(s)); see --json or --html",
                list.len() - RELABELS_SHOWN
            );
        }
    }
    out
}

/// Corrections listed per axis in the terminal (`--json` and `--html` have them all).
const RELABELS_SHOWN: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_busiest_week() {
        let table: [(&[usize], &str); 4] = [
            (&[], ""),
            (&[0, 0], "  "),
            (&[1, 2, 4, 8], "▂▃▅█"),
            (&[5, 0, 5], "█ █"),
        ];
        for (weekly, want) in table {
            assert_eq!(sparkline(weekly), want, "{weekly:?}");
        }
    }

    #[test]
    fn clip_keeps_one_line_of_at_most_max_chars() {
        let table = [
            ("short", 10, "short"),
            ("two\nlines  here", 20, "two lines here"),
            ("abcdefghij", 5, "abcd…"),
        ];
        for (text, max, want) in table {
            assert_eq!(clip(text, max), want);
        }
    }
}

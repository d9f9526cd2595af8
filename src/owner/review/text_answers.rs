//! The terminal tables about answers and tickets: self-help answers per intent, tickets per
//! team, and the A/B answer comparisons.

use std::fmt::Write as _;

use super::text::{interval, percent};
use super::Review;

/// SELF-HELP ANSWERS PER INTENT and TICKETS PER TEAM.
pub(super) fn intents_and_teams(out: &mut String, review: &Review) {
    let _ = writeln!(out, "\nSELF-HELP ANSWERS PER INTENT");
    if review.answers_by_intent.is_empty() {
        let _ = writeln!(out, "no self-help answer was shown");
    } else {
        let width = review
            .answers_by_intent
            .iter()
            .map(|a| a.intent.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>6}  {:>10}  {:>12}  {:>10}  {:>12}  {:>14}",
            "intent",
            "answers",
            "helped",
            "not helped",
            "after answer",
            "resolution",
            "% not helped",
            "% after answer"
        );
        for a in &review.answers_by_intent {
            let _ = writeln!(
                out,
                "{:<width$}  {:>7}  {:>6}  {:>10}  {:>12}  {:>10}  {:>12}  {:>14}",
                a.intent,
                a.answers,
                a.helped,
                a.not_helped,
                a.escalated_after_answer,
                percent(a.resolution_rate),
                percent(a.not_helped_rate),
                percent(a.escalation_after_answer_rate),
            );
        }
        let _ = writeln!(
            out,
            "after answer: a ticket on the same intent followed the answer, without a \"not \
             helped\" (escalation after an answer; \"not helped\" is counted apart)"
        );
    }

    let _ = writeln!(out, "\nTICKETS PER TEAM");
    if review.teams.is_empty() {
        let _ = writeln!(out, "no ticket was opened");
    }
    let width = review
        .teams
        .iter()
        .map(|t| t.team.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    if !review.teams.is_empty() {
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>13}",
            "team", "tickets", "high priority"
        );
    }
    for t in &review.teams {
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>13}",
            t.team, t.tickets, t.high_priority
        );
    }
}

/// A/B ANSWERS: each answer shown in several variants, and what the data says.
pub(super) fn experiments(out: &mut String, review: &Review) {
    if review.experiments.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nA/B ANSWERS (helped / shown, 95% Wilson interval; better: two-proportion z-test at 95%)"
    );
    for e in &review.experiments {
        let _ = writeln!(out, "{}", e.answer);
        let width = e
            .variants
            .iter()
            .map(|v| v.variant.chars().count())
            .max()
            .unwrap_or(7);
        for v in &e.variants {
            let _ = writeln!(
                out,
                "  {:<width$}  shown {:>5}  helped {:>5}  not helped {:>5}  {:>6}  {}",
                v.variant,
                v.shown,
                v.helped,
                v.not_helped,
                percent(Some(v.resolution_rate)),
                interval(&v.interval),
            );
        }
        if e.better.is_empty() {
            let _ = writeln!(
                out,
                "  no variant helps more than another with 95% confidence yet"
            );
        }
        for b in &e.better {
            let _ = writeln!(
                out,
                "  {} helps more than {} with 95% confidence (z = {:.2}, p = {:.4}); \
                 `personabot suggest` proposes retiring {}",
                b.better, b.worse, b.z, b.p_value, b.worse
            );
        }
    }
}

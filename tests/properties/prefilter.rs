//! The pattern prefilter finds exactly what the regexes match.

use personabot::core::classify::{compile_pattern, PatternRules};
use personabot::core::text::normalise;
use proptest::prelude::*;

use crate::config;

/// One alternative of a generated pattern: optional leading `\b`, then literal words, groups
/// and classes.
fn pattern_branch() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "how",
        "much",
        "soc",
        "refund",
        "ab",
        "cd",
        "café",
        "σας",
        "\\s+",
        "\\s?",
        " ",
        "-",
        "(is|are)",
        "(a |an )?",
        "\\d+",
        "\\w*",
        ".{0,5}",
        "\\$",
        "€",
        "\\b",
        "s?",
    ]);
    (
        prop::sample::select(vec!["", "\\b", "\\b", "^\\W*"]),
        prop::collection::vec(atom, 1..4),
    )
        .prop_map(|(start, atoms)| format!("{start}{}", atoms.concat()))
}

fn pattern_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "how", "much", "soc", "refund", "ab", "cd", "café", "σας", "ΣΑΣ", "HOW", " ", "x", "_",
        "1", "2", "$", "€", "-", "é", "\u{301}", "is", "are", "a ", ".", "\n",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(256))]

    /// The literal prefilter only skips regexes that cannot match: the rules it reports are
    /// exactly those whose regex matches the normalised text.
    #[test]
    fn the_pattern_prefilter_finds_exactly_what_the_regexes_match(
        patterns in prop::collection::vec(
            prop::collection::vec(pattern_branch(), 1..3).prop_map(|b| b.join("|")),
            1..4,
        ),
        text in pattern_text(),
    ) {
        let sources: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let Ok(rules) = PatternRules::build(&sources) else {
            return Ok(()); // an invalid generated regex: load rejects it first
        };
        let normalised = normalise(&text);
        let mut found = Vec::new();
        rules.find(&normalised, &mut Vec::new(), |r| found.push(r));
        let expected: Vec<u32> = sources
            .iter()
            .enumerate()
            .filter(|(_, p)| compile_pattern(p).is_ok_and(|re| re.is_match(&normalised)))
            .map(|(i, _)| i as u32)
            .collect();
        prop_assert_eq!(found, expected, "patterns {:?} on {:?}", patterns, normalised);
    }
}

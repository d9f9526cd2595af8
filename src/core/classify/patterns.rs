//! Regex rules with a literal prefilter: a rule's regex runs only when one of the literals every
//! match must start with occurs in the message (one aho-corasick pass finds them all).
//!
//! A `RegexSet` over all rules collapses at scale; prefiltering keeps the cost proportional to the
//! rules that could match.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{HirKind, Look};

/// Shortest literal worth prefiltering on; rules with shorter ones always run.
const MIN_LITERAL_LEN: usize = 2;

/// Compiles one catalog regex the way the classifier runs it (case-insensitive, Unicode).
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// The lowercase literals every match of `pattern` starts with, or `None` when there is no such
/// finite, useful set.
fn required_prefixes(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix).limit_total(64);
    let seq = extractor.extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(literals.len());
    for lit in literals {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        let lower = crate::core::text::normalise_lower(text);
        if lower.trim().len() < MIN_LITERAL_LEN {
            return None;
        }
        out.push(lower);
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// Compiled regex rules; rule ids are their index in insertion order.
#[derive(Debug, Clone, Default)]
pub struct PatternRules {
    regexes: Vec<Regex>,
    /// Rules whose regex starts with `\b`: their literal must start a word.
    word_start: Vec<bool>,
    /// Rules without a usable prefilter: always run.
    unfiltered: Vec<u32>,
    /// Leftmost-longest automaton over all literals, and for each literal the rules it enables:
    /// its own and those of every literal that is a prefix of it (a longer match at the same
    /// start hides them).
    prefilter: Option<AhoCorasick>,
    literal_rules: Vec<Vec<u32>>,
}

/// True when `c` is certainly a regex `\w` character (so no `\b` sits just after it).
fn is_regex_word_char(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || c == '_'
}

/// True when every match of `pattern` starts a word: the whole pattern (not one alternative of
/// it) opens with `\b`, and each of its required `literals` starts with a word character. Only
/// then can a literal found just after a word character be skipped (`\b€` matches "x€").
fn starts_at_word_start(pattern: &str, literals: &[String]) -> bool {
    let Ok(hir) = regex_syntax::ParserBuilder::new().build().parse(pattern) else {
        return false;
    };
    let opens_with_boundary = match hir.kind() {
        HirKind::Concat(parts) => parts.first().is_some_and(|first| {
            matches!(
                first.kind(),
                HirKind::Look(Look::WordUnicode | Look::WordAscii)
            )
        }),
        _ => false,
    };
    opens_with_boundary
        && literals
            .iter()
            .all(|l| l.chars().next().is_some_and(is_regex_word_char))
}

impl PatternRules {
    pub fn build(patterns: &[&str]) -> Result<Self, String> {
        let mut rules = PatternRules::default();
        let mut literals: Vec<String> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            rules.regexes.push(compile_pattern(p)?);
            let prefixes = required_prefixes(p);
            rules.word_start.push(
                prefixes
                    .as_deref()
                    .is_some_and(|literals| starts_at_word_start(p, literals)),
            );
            match prefixes {
                Some(lits) => {
                    for lit in lits {
                        match literals.iter().position(|l| *l == lit) {
                            Some(at) => rules.literal_rules[at].push(i as u32),
                            None => {
                                literals.push(lit);
                                rules.literal_rules.push(vec![i as u32]);
                            }
                        }
                    }
                }
                None => rules.unfiltered.push(i as u32),
            }
        }
        if !literals.is_empty() {
            let own = rules.literal_rules.clone();
            for (i, lit) in literals.iter().enumerate() {
                for (j, shorter) in literals.iter().enumerate() {
                    if i != j && lit.starts_with(shorter.as_str()) {
                        rules.literal_rules[i].extend_from_slice(&own[j]);
                    }
                }
                rules.literal_rules[i].sort_unstable();
                rules.literal_rules[i].dedup();
            }
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&literals)
                .map_err(|e| e.to_string())?;
            rules.prefilter = Some(ac);
        }
        Ok(rules)
    }

    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.regexes.len()
    }

    /// Calls `on_match(rule id)` once for each rule matching normalised `text`.
    /// `candidates` is scratch space.
    pub fn find(&self, text: &str, candidates: &mut Vec<bool>, mut on_match: impl FnMut(u32)) {
        if self.regexes.is_empty() {
            return;
        }
        candidates.clear();
        candidates.resize(self.regexes.len(), false);
        for &r in &self.unfiltered {
            candidates[r as usize] = true;
        }
        if let Some(ac) = &self.prefilter {
            // Every occurrence of every literal: a leftmost-longest search restarted one byte
            // after each match start (shorter literals at the same start ride along in
            // `literal_rules`). Each search skips ahead with the automaton's SIMD prefilter.
            let mut pos = 0;
            while pos < text.len() {
                let Some(m) = ac.find(aho_corasick::Input::new(text).span(pos..text.len())) else {
                    break;
                };
                let start = m.start();
                let starts_word = !text[..start]
                    .chars()
                    .next_back()
                    .is_some_and(is_regex_word_char);
                for &r in &self.literal_rules[m.pattern().as_usize()] {
                    if starts_word || !self.word_start[r as usize] {
                        candidates[r as usize] = true;
                    }
                }
                pos = start + 1;
            }
        }
        for (r, &run) in candidates.iter().enumerate() {
            if run && self.regexes[r].is_match(text) {
                on_match(r as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_table() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            (r"\bsoc\s?2\b", Some(&["soc"])),
            (
                r"\b(can.?t|cannot|unable to) log ?in\b",
                Some(&[
                    "can",
                    "cannot log in",
                    "cannot login",
                    "unable to log in",
                    "unable to login",
                ]),
            ),
            (r"\d+ seats", None),
            (r"x", None),
            (r"How Much", Some(&["how much"])),
        ];
        for (pattern, expected) in cases {
            let got = required_prefixes(pattern);
            let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, expected, "pattern {pattern}");
        }
    }

    #[test]
    fn rules_match_with_and_without_prefilter() {
        let rules = PatternRules::build(&[r"\bsoc\s?2\b", r"\d+ seats", r"\bhow much (is|does)\b"])
            .unwrap();
        let mut scratch = Vec::new();
        let cases: &[(&str, &[u32])] = &[
            ("Do you have a SOC 2 report?", &[0]),
            ("we need 40 seats, how much is that", &[1, 2]),
            ("nothing here", &[]),
            ("soc2", &[0]),
            ("associated", &[]), // "soc" inside a word cannot start a \b match
            ("HOW MUCH IS IT", &[2]),
        ];
        for (text, expected) in cases {
            let mut got = Vec::new();
            rules.find(text, &mut scratch, |r| got.push(r));
            assert_eq!(got, *expected, "text {text:?}");
        }
    }

    #[test]
    fn a_leading_word_boundary_skips_only_literals_that_start_a_word() {
        // Found by tests/properties/: `\b` before a non-word character, or on one alternative
        // only, does not mean the match starts a word.
        let rules =
            PatternRules::build(&[r"\b€\d+", r"\bfoo|barbaz", r"\b(refund|money back)"]).unwrap();
        let mut scratch = Vec::new();
        let cases: &[(&str, &[u32])] = &[
            ("price: x€40", &[0]),
            ("€40", &[]),
            ("xbarbaz", &[1]),
            ("xfoo", &[]),
            ("a refund", &[2]),
            ("nonrefundable", &[]),
        ];
        for (text, expected) in cases {
            let mut got = Vec::new();
            rules.find(text, &mut scratch, |r| got.push(r));
            assert_eq!(got, *expected, "text {text:?}");
        }
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(compile_pattern("(unclosed").is_err());
    }
}

//! Classification: persona and intent scores for one message, with the evidence behind them.
//!
//! [`Classifier::new`] compiles the catalog once (lexicon with stems and typo index, phrase
//! tries, prefiltered regexes); [`Classifier::classify`] is pure in its result and allocates
//! only that (a per-thread cache remembers how unknown words resolved; see [`lexicon`]).

pub mod lexicon;
mod matcher;
mod patterns;

use std::cell::RefCell;

use serde::Serialize;

pub use lexicon::{Form, Fuzziness, TYPO_MIN_CHARS};
use matcher::Tokenised;
pub use matcher::{TermMatcher, TermMatcherBuilder};
pub use patterns::{compile_pattern, PatternRules};

use crate::core::model::Catalog;
use crate::core::text;

/// What a term or pattern counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Index into `catalog.personas`.
    Persona(u32),
    /// Index into `catalog.intents`.
    Intent(u32),
    /// A hit that vetoes the intent (an `exclude` term).
    Veto(u32),
}

/// The trie of intent terms (and exclusions).
const INTENT_AXIS: usize = 0;
/// The trie of persona terms.
const PERSONA_AXIS: usize = 1;

#[derive(Debug, Clone, Copy)]
struct Posting {
    target: Target,
    weight: f32,
}

/// How loosely catalog terms match message words: the `[classify]` settings `inflections`,
/// `typos` and `typo_weight`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchOptions {
    /// A term also matches other forms of its words (same Snowball English stem).
    pub inflections: bool,
    /// A message word of 5 letters or more within one edit of a catalog word matches it.
    pub typos: bool,
    /// A term's weight is multiplied by this when a word of it was misspelt (0 to 1).
    pub typo_weight: f32,
}

impl Default for MatchOptions {
    /// Inflections and typos on; a misspelt hit counts half.
    fn default() -> Self {
        MatchOptions {
            inflections: true,
            typos: true,
            typo_weight: 0.5,
        }
    }
}

impl MatchOptions {
    /// Only the words as written: the matcher before inflections and typos.
    pub const EXACT: MatchOptions = MatchOptions {
        inflections: false,
        typos: false,
        typo_weight: 0.0,
    };

    fn factor(&self, form: Form) -> f32 {
        match form {
            Form::Exact | Form::Inflected => 1.0,
            Form::Typo => self.typo_weight,
        }
    }
}

/// One matched term or pattern and what it counted for.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The term as written in the catalog, or `/regex/` for a pattern.
    pub term: String,
    pub target: Target,
    /// The weight it added (the term's, times `typo_weight` for a misspelt hit).
    pub weight: f32,
    /// How the message had it: as written, inflected or misspelt.
    pub form: Form,
    /// The message words it matched, when they differ from the term as written.
    pub matched: Option<String>,
}

/// A candidate with its summed score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Index into the catalog's personas or intents.
    pub index: u32,
    pub score: f32,
}

/// Confidence from a summed score: 1 - e^(-score), so 1.0 -> 0.63 and 2.0 -> 0.86.
pub fn confidence(score: f32) -> f64 {
    if score <= 0.0 {
        0.0
    } else {
        1.0 - (-f64::from(score)).exp()
    }
}

/// The scores of one message, before any threshold or conversation state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classification {
    /// Intents with a positive score and no veto, best first (ties: catalog order, i.e. by id).
    pub intents: Vec<Score>,
    /// Personas with a positive score, best first.
    pub personas: Vec<Score>,
    /// Every hit, in message order (terms first, then patterns).
    pub evidence: Vec<Evidence>,
}

#[derive(Default)]
struct Scratch {
    msg: Tokenised,
    /// Postings of one hit that counts for several variants, merged per target.
    merged: Vec<(Posting, u32)>,
    /// Per-slot sums for `classify` (cleared on entry).
    scores: Vec<f32>,
    /// Per-intent sums for `top_intent`: all zero between calls (only touched ones are reset).
    top_scores: Vec<f32>,
    touched: Vec<u32>,
    vetoed: Vec<bool>,
    candidates: Vec<bool>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The compiled catalog matcher.
#[derive(Debug, Clone)]
pub struct Classifier {
    terms: TermMatcher,
    options: MatchOptions,
    /// Per term id: its postings range in `postings`, and its text.
    term_postings: Vec<(u32, u32)>,
    term_text: Vec<String>,
    postings: Vec<Posting>,
    patterns: PatternRules,
    pattern_postings: Vec<Posting>,
    pattern_text: Vec<String>,
    persona_count: usize,
    intent_count: usize,
}

impl Classifier {
    /// Compiles `catalog` with the default [`MatchOptions`].
    pub fn new(catalog: &Catalog) -> Result<Self, String> {
        Self::with_options(catalog, MatchOptions::default())
    }

    /// Compiles `catalog`. Regexes were validated at load; a failure here is a bug upstream.
    pub fn with_options(catalog: &Catalog, options: MatchOptions) -> Result<Self, String> {
        let mut builder = TermMatcherBuilder::new(
            2,
            Fuzziness {
                inflections: options.inflections,
                typos: options.typos,
            },
        );
        let mut per_term: Vec<Vec<Posting>> = Vec::new();
        let mut term_text: Vec<String> = Vec::new();
        let mut add = |words: &[String], term: &str, exact: bool, posting: Posting| {
            let axis = match posting.target {
                Target::Persona(_) => PERSONA_AXIS,
                Target::Intent(_) | Target::Veto(_) => INTENT_AXIS,
            };
            let id = builder.add(axis, words, exact) as usize;
            if id == per_term.len() {
                per_term.push(Vec::new());
                term_text.push(term.to_string());
            }
            per_term[id].push(posting);
        };
        // Regex rules in catalog order: the personas', then the intents'.
        let mut pattern_sources = Vec::new();
        let mut pattern_postings = Vec::new();
        let mut add_patterns = |patterns: &[crate::core::model::Pattern], target: Target| {
            for p in patterns {
                pattern_sources.push(p.regex.clone());
                pattern_postings.push(Posting {
                    target,
                    weight: p.weight,
                });
            }
        };
        for (i, persona) in catalog.personas.iter().enumerate() {
            for k in &persona.keywords {
                let target = Target::Persona(i as u32);
                add(
                    &k.words,
                    &k.term,
                    k.exact,
                    Posting {
                        target,
                        weight: k.weight,
                    },
                );
            }
            add_patterns(&persona.patterns, Target::Persona(i as u32));
        }
        for (i, intent) in catalog.intents.iter().enumerate() {
            for k in &intent.keywords {
                let target = Target::Intent(i as u32);
                add(
                    &k.words,
                    &k.term,
                    k.exact,
                    Posting {
                        target,
                        weight: k.weight,
                    },
                );
            }
            for term in &intent.exclude {
                let words = text::words(term);
                add(
                    &words,
                    term,
                    false,
                    Posting {
                        target: Target::Veto(i as u32),
                        weight: 0.0,
                    },
                );
            }
            add_patterns(&intent.patterns, Target::Intent(i as u32));
        }
        let mut term_postings = Vec::with_capacity(per_term.len());
        let mut postings = Vec::new();
        for list in per_term {
            let start = postings.len() as u32;
            postings.extend(list);
            term_postings.push((start, postings.len() as u32));
        }
        let sources: Vec<&str> = pattern_sources.iter().map(String::as_str).collect();
        let patterns = PatternRules::build(&sources)?;
        Ok(Classifier {
            terms: builder.build()?,
            options,
            term_postings,
            term_text,
            postings,
            patterns,
            pattern_postings,
            pattern_text: pattern_sources.iter().map(|p| format!("/{p}/")).collect(),
            persona_count: catalog.personas.len(),
            intent_count: catalog.intents.len(),
        })
    }

    /// Number of distinct terms and of regex rules compiled.
    pub fn size(&self) -> (usize, usize) {
        (self.terms.term_count(), self.patterns.len())
    }

    fn slot(&self, target: Target) -> Option<usize> {
        match target {
            Target::Intent(i) => Some(i as usize),
            Target::Persona(p) => Some(self.intent_count + p as usize),
            Target::Veto(_) => None,
        }
    }

    /// Runs the matcher over `text`, calling `on_hit(posting, text, found)` for every posting
    /// hit: intent terms, then persona terms (when `personas`), then patterns. `found` is the
    /// hit's form and word range for a term, `None` for a pattern; the posting's weight is
    /// already scaled for the form. A misspelt word never vetoes.
    fn scan(
        &self,
        text: &str,
        personas: bool,
        scratch: &mut Scratch,
        mut on_hit: impl FnMut(&Posting, &str, Option<(Form, &str)>),
    ) {
        let normalised = text::normalise(text);
        let Scratch {
            msg,
            merged,
            candidates,
            ..
        } = scratch;
        self.terms.tokenise(&normalised, msg);
        let axes: &[usize] = if personas {
            &[INTENT_AXIS, PERSONA_AXIS]
        } else {
            &[INTENT_AXIS]
        };
        for &axis in axes {
            self.terms.find_terms(axis, msg, |hit| {
                let factor = self.options.factor(hit.form);
                let span = &normalised[msg.span(hit.words.0..hit.words.1)];
                let mut emit = |p: &Posting, term: u32| {
                    if hit.form == Form::Typo && matches!(p.target, Target::Veto(_)) {
                        return;
                    }
                    let scaled = Posting {
                        target: p.target,
                        weight: p.weight * factor,
                    };
                    on_hit(
                        &scaled,
                        &self.term_text[term as usize],
                        Some((hit.form, span)),
                    );
                };
                if let [term] = hit.terms {
                    let (start, end) = self.term_postings[*term as usize];
                    for p in &self.postings[start as usize..end as usize] {
                        emit(p, *term);
                    }
                    return;
                }
                // Several variants of one stem ("install", "installs"): each target counts
                // once, at the largest weight among them.
                merged.clear();
                for &term in hit.terms {
                    let (start, end) = self.term_postings[term as usize];
                    for p in &self.postings[start as usize..end as usize] {
                        match merged.iter_mut().find(|(m, _)| m.target == p.target) {
                            Some(m) if m.0.weight < p.weight => *m = (*p, term),
                            Some(_) => {}
                            None => merged.push((*p, term)),
                        }
                    }
                }
                for (p, term) in merged.iter() {
                    emit(p, *term);
                }
            });
        }
        self.patterns.find(&normalised, candidates, |rule| {
            on_hit(
                &self.pattern_postings[rule as usize],
                &self.pattern_text[rule as usize],
                None,
            );
        });
    }

    /// Scores `text` and collects the evidence.
    pub fn classify(&self, text: &str) -> Classification {
        SCRATCH.with(|s| {
            let mut scratch = s.borrow_mut();
            let scratch = &mut *scratch;
            let slots = self.intent_count + self.persona_count;
            let mut scores = std::mem::take(&mut scratch.scores);
            let mut vetoed = std::mem::take(&mut scratch.vetoed);
            scores.clear();
            scores.resize(slots, 0.0);
            vetoed.clear();
            vetoed.resize(self.intent_count, false);
            let mut evidence = Vec::new();
            self.scan(text, true, scratch, |p, term, found| {
                match self.slot(p.target) {
                    Some(slot) => scores[slot] += p.weight,
                    None => {
                        if let Target::Veto(i) = p.target {
                            vetoed[i as usize] = true;
                        }
                    }
                }
                let (form, matched) = match found {
                    Some((Form::Exact, _)) | None => (Form::Exact, None),
                    Some((form, words)) => (form, Some(words.to_string())),
                };
                evidence.push(Evidence {
                    term: term.to_string(),
                    target: p.target,
                    weight: p.weight,
                    form,
                    matched,
                });
            });
            let ranked = |range: std::ops::Range<usize>, base: usize, skip: &[bool]| {
                let mut out: Vec<Score> = range
                    .filter(|&i| scores[i] > 0.0 && !skip.get(i - base).copied().unwrap_or(false))
                    .map(|i| Score {
                        index: (i - base) as u32,
                        score: scores[i],
                    })
                    .collect();
                out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
                out
            };
            let result = Classification {
                intents: ranked(0..self.intent_count, 0, &vetoed),
                personas: ranked(self.intent_count..slots, self.intent_count, &[]),
                evidence,
            };
            scratch.scores = scores;
            scratch.vetoed = vetoed;
            result
        })
    }

    /// The top-scoring intent before thresholds (ties: lowest index, i.e. id order), or `None`
    /// when no intent term or pattern hit. The lean path used by `classify --summary`: the same
    /// matcher, without collecting evidence.
    pub fn top_intent(&self, text: &str) -> Option<u32> {
        SCRATCH.with(|s| {
            let mut scratch = s.borrow_mut();
            let scratch = &mut *scratch;
            let mut scores = std::mem::take(&mut scratch.top_scores);
            let mut touched = std::mem::take(&mut scratch.touched);
            if scores.len() < self.intent_count {
                scores.resize(self.intent_count, 0.0);
            }
            let mut vetoes: u32 = 0;
            let mut any_veto = Vec::new();
            self.scan(text, false, scratch, |p, _, _| match p.target {
                Target::Intent(i) => {
                    if touched.iter().all(|&t| t != i) {
                        touched.push(i);
                    }
                    scores[i as usize] += p.weight;
                }
                Target::Veto(i) => {
                    vetoes += 1;
                    any_veto.push(i);
                }
                Target::Persona(_) => {}
            });
            let mut best: Option<(u32, f32)> = None;
            for &i in &touched {
                if vetoes > 0 && any_veto.contains(&i) {
                    continue;
                }
                let s = scores[i as usize];
                if s <= 0.0 {
                    continue; // only negative terms hit: not a candidate, as in `classify`
                }
                best = match best {
                    Some((bi, bs)) if bs > s || (bs == s && bi < i) => Some((bi, bs)),
                    _ => Some((i, s)),
                };
            }
            for &i in &touched {
                scores[i as usize] = 0.0;
            }
            touched.clear();
            scratch.top_scores = scores;
            scratch.touched = touched;
            best.map(|(i, _)| i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::settings::Settings;
    use crate::catalog::{load_from_sources, CatalogSources};
    use std::path::PathBuf;

    fn classifier() -> (Catalog, Classifier) {
        let file = |dir: &str, id: &str, text: &str| {
            (PathBuf::from(format!("{dir}/{id}.toml")), text.to_string())
        };
        let sources = CatalogSources {
            personas: vec![
                file(
                    "personas",
                    "founder",
                    "[keywords]\nfounder = 1.5\n\"seed round\" = 2.0\n",
                ),
                file(
                    "personas",
                    "seller",
                    "[keywords]\nshopify = 2.0\n\"my store\" = 1.0\n",
                ),
            ],
            intents: vec![
                file(
                    "intents",
                    "pricing",
                    "exclude = [\"price alert\"]\n[keywords]\nprice = 1.0\n\"how much\" = 1.0\n\
                     [[patterns]]\nregex = '\\bper\\s+seat\\b'\nweight = 0.5\n",
                ),
                file(
                    "intents",
                    "refund",
                    "[keywords]\nrefund = 1.5\n\"money back\" = 1.5\nplease = -0.2\n",
                ),
            ],
            intents_dir: PathBuf::from("intents"),
            replies: Vec::new(),
        };
        let catalog = load_from_sources(sources, &Settings::built_in().teams).unwrap();
        let classifier = Classifier::new(&catalog).unwrap();
        (catalog, classifier)
    }

    #[test]
    fn scoring_and_evidence_table() {
        let (catalog, c) = classifier();
        let id = |t: Target| match t {
            Target::Persona(i) => format!("persona:{}", catalog.personas[i as usize].id),
            Target::Intent(i) => format!("intent:{}", catalog.intents[i as usize].id),
            Target::Veto(i) => format!("exclude:{}", catalog.intents[i as usize].id),
        };
        // (text, intents best first with scores, personas best first, evidence terms)
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, f32)],
            &'a [(&'a str, f32)],
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            (
                "How much per seat?",
                &[("pricing", 1.5)],
                &[],
                &["how much", "/\\bper\\s+seat\\b/"],
            ),
            (
                "founder, seed round: price?",
                &[("pricing", 1.0)],
                &[("founder", 3.5)],
                &["price", "founder", "seed round"],
            ),
            (
                "REFUND my Shopify order please",
                &[("refund", 1.3)],
                &[("seller", 2.0)],
                &["refund", "please", "shopify"],
            ),
            ("set a price alert", &[], &[], &["price alert"]),
            ("please", &[], &[], &["please"]),
            ("nothing to see", &[], &[], &[]),
            (
                "ＭＯＮＥＹ　ＢＡＣＫ",
                &[("refund", 1.5)],
                &[],
                &["money back"],
            ),
        ];
        for (text, intents, personas, terms) in cases {
            let got = c.classify(text);
            let got_intents: Vec<(String, f32)> = got
                .intents
                .iter()
                .map(|s| (catalog.intents[s.index as usize].id.clone(), s.score))
                .collect();
            let want: Vec<(String, f32)> =
                intents.iter().map(|(i, s)| (i.to_string(), *s)).collect();
            assert_eq!(got_intents, want, "intents of {text:?}");
            let got_personas: Vec<(String, f32)> = got
                .personas
                .iter()
                .map(|s| (catalog.personas[s.index as usize].id.clone(), s.score))
                .collect();
            let want: Vec<(String, f32)> =
                personas.iter().map(|(i, s)| (i.to_string(), *s)).collect();
            assert_eq!(got_personas, want, "personas of {text:?}");
            let got_terms: Vec<&str> = got.evidence.iter().map(|e| e.term.as_str()).collect();
            assert_eq!(got_terms, *terms, "evidence of {text:?}");
        }
        let targets: Vec<String> = c
            .classify("price, founder")
            .evidence
            .iter()
            .map(|e| id(e.target))
            .collect();
        assert_eq!(targets, ["intent:pricing", "persona:founder"]);
        // The top intent of --summary agrees with classify, and ignores vetoed intents.
        assert_eq!(c.top_intent("how much is a refund"), Some(1));
        assert_eq!(
            c.top_intent("how much per seat refund"),
            Some(0),
            "a tie goes to the first id"
        );
        assert_eq!(c.top_intent("set a price alert"), None);
        assert_eq!(c.top_intent("please"), None);
    }

    #[test]
    fn confidence_table() {
        for (score, expected) in [
            (0.0, 0.0),
            (-1.0, 0.0),
            (1.0, 0.632),
            (2.0, 0.865),
            (0.5, 0.393),
        ] {
            assert!(
                (confidence(score) - expected).abs() < 0.001,
                "score {score}"
            );
        }
    }
}

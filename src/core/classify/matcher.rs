//! The compiled keyword matcher: the catalog's [`Lexicon`] plus one phrase trie per axis over
//! stem classes.
//!
//! Built once per catalog. Matching a message tokenises it, resolves each word to its stem
//! class (as written, inflected or misspelt; see [`super::lexicon`]), and walks the trie from
//! every word start, taking the longest term there and skipping the words it covers (no
//! overlaps). The terms of a trie node are its *variants*: the catalog terms whose words share
//! those stems ("crash" and "crashes"). A variant written exactly as the message has it wins;
//! otherwise every variant that accepts inflections counts, as an inflected (or misspelt) hit.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::lexicon::{
    packed_class, unpack, Form, Fuzziness, Lexicon, LexiconBuilder, Resolver, NONE,
};
use crate::core::text::Tokens;

/// ASCII bytes that belong inside a word (letters and digits), as in [`crate::core::text::is_word_char`].
static ASCII_WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// A multiply-rotate hasher for integer keys (the keys are already well mixed).
#[derive(Default)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type IntMap<V> = HashMap<u64, V, BuildHasherDefault<IntHasher>>;

const NO_NODE: u32 = u32::MAX;

/// One phrase trie over stem classes. Each axis (personas, intents) has its own, so the
/// longest match on one axis never hides a term of the other.
#[derive(Debug, Default, Clone)]
struct Trie {
    /// Per class: the node of terms starting with that class, or `NO_NODE`.
    class_node: Vec<u32>,
    /// Per node: its variants, a range of `variants` (start, end of those that accept
    /// inflections, end): the open ones first, then the exact-only ones, each in term order.
    node_variants: Vec<(u32, u32, u32)>,
    node_has_children: Vec<bool>,
    /// (node << 32 | class) -> child node.
    children: IntMap<u32>,
    /// Variants (term ids), grouped by node.
    variants: Vec<u32>,
}

/// A message tokenised against the lexicon: each word's resolution and byte range.
#[derive(Debug, Default, Clone)]
pub struct Tokenised {
    /// Per word: its packed resolution (see [`super::lexicon`]'s `pack`).
    words: Vec<u32>,
    spans: Vec<(u32, u32)>,
    /// Remembers how words outside the catalog resolved, across messages.
    resolver: Resolver,
}

impl Tokenised {
    /// Byte range in the normalised text of the words `range`.
    pub(crate) fn span(&self, range: Range<usize>) -> Range<usize> {
        match (
            self.spans.get(range.start),
            self.spans.get(range.end.saturating_sub(1)),
        ) {
            (Some(a), Some(b)) => a.0 as usize..b.1 as usize,
            _ => 0..0,
        }
    }
}

/// A term found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The catalog terms it counts for: the one written exactly so, or every variant that
    /// accepts inflections.
    pub terms: &'a [u32],
    /// The weakest form among its words.
    pub form: Form,
    /// Which message words it covers.
    pub words: (usize, usize),
}

/// Keyword matcher: one shared lexicon, one phrase trie per axis.
#[derive(Debug, Default, Clone)]
pub struct TermMatcher {
    lexicon: Lexicon,
    tries: Vec<Trie>,
    /// Per term: its words, as indices within their classes (a range of `term_word_ids`).
    term_words: Vec<(u32, u32)>,
    term_word_ids: Vec<u32>,
    /// Per term: it matches only as written.
    term_exact: Vec<bool>,
}

/// Builds a [`TermMatcher`]; terms are added as word lists on an axis and numbered in order.
pub struct TermMatcherBuilder {
    lexicon: LexiconBuilder,
    axes: Vec<BuilderTrie>,
    matcher: TermMatcher,
    /// (axis, word ids) -> term id, so the same words on an axis are one term.
    term_ids: HashMap<(usize, Vec<u32>), u32>,
}

#[derive(Default)]
struct BuilderTrie {
    class_node: HashMap<u32, u32>,
    children: IntMap<u32>,
    node_variants: Vec<Vec<u32>>,
    node_has_children: Vec<bool>,
}

impl BuilderTrie {
    fn new_node(&mut self) -> u32 {
        self.node_variants.push(Vec::new());
        self.node_has_children.push(false);
        (self.node_variants.len() - 1) as u32
    }
}

impl TermMatcherBuilder {
    /// A builder with `axes` independent tries.
    pub fn new(axes: usize, fuzz: Fuzziness) -> Self {
        TermMatcherBuilder {
            lexicon: LexiconBuilder::new(fuzz),
            axes: (0..axes).map(|_| BuilderTrie::default()).collect(),
            matcher: TermMatcher::default(),
            term_ids: HashMap::new(),
        }
    }

    /// Adds a term (its lowercase normalised words) on `axis` and returns its term id, or the
    /// id of the term with the same words added on that axis before. `exact`: the term matches
    /// only as written (no inflections, no typos); it sticks once set for those words.
    pub fn add(&mut self, axis: usize, words: &[String], exact: bool) -> u32 {
        assert!(!words.is_empty(), "a term has at least one word");
        let ids: Vec<u32> = words.iter().map(|w| self.lexicon.word(w)).collect();
        if let Some(&term) = self.term_ids.get(&(axis, ids.clone())) {
            self.matcher.term_exact[term as usize] |= exact;
            return term;
        }
        let classes: Vec<u32> = ids.iter().map(|&w| self.lexicon.class_of(w)).collect();
        let trie = &mut self.axes[axis];
        let mut node = match trie.class_node.get(&classes[0]) {
            Some(&n) => n,
            None => {
                let n = trie.new_node();
                trie.class_node.insert(classes[0], n);
                n
            }
        };
        for &class in &classes[1..] {
            trie.node_has_children[node as usize] = true;
            let key = (u64::from(node) << 32) | u64::from(class);
            node = match trie.children.get(&key) {
                Some(&child) => child,
                None => {
                    let child = trie.new_node();
                    trie.children.insert(key, child);
                    child
                }
            };
        }
        let m = &mut self.matcher;
        let term = m.term_words.len() as u32;
        let start = m.term_word_ids.len() as u32;
        m.term_word_ids
            .extend(ids.iter().map(|&w| self.lexicon.local_of(w)));
        m.term_words.push((start, m.term_word_ids.len() as u32));
        m.term_exact.push(exact);
        trie.node_variants[node as usize].push(term);
        self.term_ids.insert((axis, ids), term);
        term
    }

    /// The matcher, or an error when the catalog is too large to index.
    pub fn build(self) -> Result<TermMatcher, String> {
        let mut m = self.matcher;
        let classes = self.lexicon.class_count();
        m.lexicon = self.lexicon.build()?;
        let tries = self
            .axes
            .into_iter()
            .map(|b| {
                let mut trie = Trie {
                    class_node: vec![NO_NODE; classes],
                    children: b.children,
                    node_has_children: b.node_has_children,
                    ..Trie::default()
                };
                for (class, node) in b.class_node {
                    trie.class_node[class as usize] = node;
                }
                for mut list in b.node_variants {
                    list.sort_by_key(|&t| (m.term_exact[t as usize], t));
                    let open = list.iter().filter(|&&t| !m.term_exact[t as usize]).count();
                    let start = trie.variants.len() as u32;
                    trie.variants.extend(list);
                    trie.node_variants.push((
                        start,
                        start + open as u32,
                        trie.variants.len() as u32,
                    ));
                }
                trie
            })
            .collect();
        m.tries = tries;
        Ok(m)
    }
}

impl TermMatcher {
    /// Number of distinct terms (over all axes).
    pub(crate) fn term_count(&self) -> usize {
        self.term_words.len()
    }

    /// Tokenises normalised `text` against the lexicon.
    #[inline]
    pub(crate) fn tokenise(&self, text: &str, out: &mut Tokenised) {
        let Tokenised {
            words,
            spans,
            resolver,
        } = out;
        words.clear();
        spans.clear();
        self.lexicon.prepare(resolver);
        let mut push = |start: usize, end: usize| {
            words.push(self.lexicon.resolve_packed(resolver, &text[start..end]));
            spans.push((start as u32, end as u32));
        };
        if !text.is_ascii() {
            let base = text.as_ptr() as usize;
            for w in Tokens::new(text) {
                let start = w.as_ptr() as usize - base;
                push(start, start + w.len());
            }
            return;
        }
        // ASCII fast path: byte-class table, no UTF-8 decoding.
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        while i < n {
            while i < n && !ASCII_WORD[bytes[i] as usize] {
                i += 1;
            }
            if i == n {
                break;
            }
            let start = i;
            while i < n && ASCII_WORD[bytes[i] as usize] {
                i += 1;
            }
            // The slice is ASCII alphanumerics, so it is valid UTF-8 on char boundaries.
            push(start, i);
        }
    }

    /// Finds the terms of `axis` in a tokenised message: at each word, the longest term
    /// starting there; the words it covers are consumed. Calls `on_hit` for each, in order.
    #[inline]
    pub(crate) fn find_terms(&self, axis: usize, msg: &Tokenised, mut on_hit: impl FnMut(Hit<'_>)) {
        let trie = &self.tries[axis];
        let words = &msg.words;
        let n = words.len();
        let mut i = 0;
        while i < n {
            let class = packed_class(words[i]);
            if class == NONE {
                i += 1;
                continue;
            }
            let mut node = trie.class_node[class as usize];
            if node == NO_NODE {
                i += 1;
                continue;
            }
            let mut best = (node, 1);
            let mut j = i + 1;
            while trie.node_has_children[node as usize] && j < n && packed_class(words[j]) != NONE {
                let key = (u64::from(node) << 32) | u64::from(packed_class(words[j]));
                match trie.children.get(&key) {
                    Some(&child) => {
                        node = child;
                        j += 1;
                        let (s, _, e) = trie.node_variants[node as usize];
                        if s != e {
                            best = (node, j - i);
                        }
                    }
                    None => break,
                }
            }
            let (node, len) = best;
            let (s, open, e) = trie.node_variants[node as usize];
            let variants = &trie.variants[s as usize..e as usize];
            match self.pick(variants, (open - s) as usize, &words[i..i + len]) {
                Some((terms, form)) => {
                    on_hit(Hit {
                        terms,
                        form,
                        words: (i, i + len),
                    });
                    i += len;
                }
                None => i += 1,
            }
        }
    }

    /// Of a node's variants, those the message words count for, and the form of the hit.
    #[inline]
    fn pick<'v>(
        &self,
        variants: &'v [u32],
        open: usize,
        words: &[u32],
    ) -> Option<(&'v [u32], Form)> {
        let form = words
            .iter()
            .map(|&w| unpack(w).form)
            .max()
            .unwrap_or(Form::Exact);
        // The variant written as the message words are (a typo corrected to it counts).
        for (k, &term) in variants.iter().enumerate() {
            let (s, e) = self.term_words[term as usize];
            let ids = &self.term_word_ids[s as usize..e as usize];
            if ids.iter().zip(words).all(|(&id, &w)| id == unpack(w).word) {
                if form == Form::Typo && k >= open {
                    return None; // exact-only terms take no typos
                }
                return Some((&variants[k..=k], form));
            }
        }
        // Another form: every variant that accepts inflections.
        (open > 0).then(|| (&variants[..open], form.max(Form::Inflected)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::text::words;

    fn exact_matcher(terms: &[&str]) -> TermMatcher {
        build(
            terms,
            &[],
            Fuzziness {
                inflections: false,
                typos: false,
            },
        )
    }

    fn matcher(terms: &[&str]) -> TermMatcher {
        exact_matcher(terms)
    }

    /// Terms in order; those in `exact_only` match only as written.
    fn build(terms: &[&str], exact_only: &[&str], fuzz: Fuzziness) -> TermMatcher {
        let mut b = TermMatcherBuilder::new(1, fuzz);
        for (i, t) in terms.iter().enumerate() {
            let exact = exact_only.contains(t);
            assert_eq!(b.add(0, &words(t), exact), i as u32, "term {t} must be new");
        }
        b.build().unwrap()
    }

    fn found(m: &TermMatcher, text: &str) -> Vec<(Vec<u32>, Form, String)> {
        let normalised = crate::core::text::normalise(text);
        let mut msg = Tokenised::default();
        m.tokenise(&normalised, &mut msg);
        let mut out = Vec::new();
        m.find_terms(0, &msg, |h| {
            let span = msg.span(h.words.0..h.words.1);
            out.push((h.terms.to_vec(), h.form, normalised[span].to_string()))
        });
        out
    }

    fn hits(m: &TermMatcher, text: &str) -> Vec<u32> {
        found(m, text).into_iter().flat_map(|(t, _, _)| t).collect()
    }

    #[test]
    fn inflections_and_typos_table() {
        let m = build(
            &[
                "crash", "roll out", "crashes", "apple", "invoice", "sign in",
            ],
            &["apple"],
            Fuzziness::default(),
        );
        type Case<'a> = (&'a str, &'a [(&'a [u32], Form, &'a str)]);
        let cases: &[Case] = &[
            // The exact form is its own term; other forms count for every open variant.
            ("crash", &[(&[0], Form::Exact, "crash")]),
            ("crashes", &[(&[2], Form::Exact, "crashes")]),
            ("it crashed", &[(&[0, 2], Form::Inflected, "crashed")]),
            ("Crashing!", &[(&[0, 2], Form::Inflected, "Crashing")]),
            ("rolling out", &[(&[1], Form::Inflected, "rolling out")]),
            ("rolled, out", &[(&[1], Form::Inflected, "rolled, out")]),
            // Exact-only terms: no inflections, no typos.
            ("apple", &[(&[3], Form::Exact, "apple")]),
            ("apples", &[]),
            ("appel", &[]),
            // Typos: one edit, words of five letters or more.
            ("my invioce", &[(&[4], Form::Typo, "invioce")]),
            ("invoices", &[(&[4], Form::Inflected, "invoices")]),
            ("signing in", &[(&[5], Form::Inflected, "signing in")]),
            ("crsh", &[]),
        ];
        for (text, want) in cases {
            let got = found(&m, text);
            let want: Vec<(Vec<u32>, Form, String)> = want
                .iter()
                .map(|(t, f, w)| (t.to_vec(), *f, w.to_string()))
                .collect();
            assert_eq!(got, want, "text {text:?}");
        }
    }

    #[test]
    fn longest_match_without_overlap() {
        let m = matcher(&["card", "credit card", "credit", "credit card fee", "fee"]);
        let cases: &[(&str, &[u32])] = &[
            ("my card", &[0]),
            ("my Credit Card", &[1]),
            ("credit card fee please", &[3]),
            ("credit card fees", &[1]), // "fees" is another word
            ("credit, card", &[1]),     // punctuation between words still matches the phrase
            ("credit\n\n  card", &[1]),
            ("credit fee", &[2, 4]),
            ("card card", &[0, 0]),
            ("cards", &[]),
            ("", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(hits(&m, text), *expected, "text {text:?}");
        }
    }

    #[test]
    fn phrase_prefix_that_is_not_a_term_falls_back_to_nothing() {
        let m = matcher(&["how much is it"]);
        assert_eq!(hits(&m, "how much is"), Vec::<u32>::new());
        assert_eq!(hits(&m, "HOW much is it"), vec![0]);
    }

    #[test]
    fn unicode_terms_match_folded_text() {
        let m = matcher(&["straße", "café"]);
        assert_eq!(hits(&m, "STRASSE and CAFÉ"), vec![0, 1]);
    }

    #[test]
    fn words_added_after_phrases_keep_their_own_terms() {
        // Phrase nodes are allocated between words; word and node numbering must not mix.
        let m = matcher(&["log in", "hi", "sign up now", "hello"]);
        let cases: &[(&str, &[u32])] = &[
            ("hi", &[1]),
            ("hello", &[3]),
            ("log in", &[0]),
            ("sign up now", &[2]),
            ("log", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(hits(&m, text), *expected, "text {text:?}");
        }
    }

    #[test]
    fn axes_match_independently() {
        let mut b = TermMatcherBuilder::new(2, Fuzziness::default());
        let startup = b.add(0, &words("startup"), false);
        let discount = b.add(1, &words("startup discount"), false);
        let m = b.build().unwrap();
        let normalised = "any startup discount?";
        let mut msg = Tokenised::default();
        m.tokenise(normalised, &mut msg);
        let (mut a0, mut a1): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        m.find_terms(0, &msg, |h| a0.extend(h.terms));
        m.find_terms(1, &msg, |h| a1.extend(h.terms));
        assert_eq!(
            a0,
            vec![startup],
            "the phrase on axis 1 does not hide the word on axis 0"
        );
        assert_eq!(a1, vec![discount]);
    }

    #[test]
    fn many_words_all_found() {
        let terms: Vec<String> = (0..5000).map(|i| format!("w{i}x")).collect();
        let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
        let m = matcher(&refs);
        for (i, t) in terms.iter().enumerate().step_by(97) {
            assert_eq!(hits(&m, &t.to_uppercase()), vec![i as u32]);
        }
        assert_eq!(hits(&m, "w5000x"), Vec::<u32>::new());
    }
}

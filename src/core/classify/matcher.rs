//! The compiled keyword matcher: a word-token hash table plus a trie over word ids for phrases.
//!
//! Built once per catalog. Matching a message tokenises it, looks each word up in an
//! open-addressing table keyed by a case-insensitive hash, and walks the phrase trie from every
//! word start, taking the longest term there and skipping the words it covers (no overlaps).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::core::text::{word_hash, Tokens};

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

/// Marks "not a catalog word" in a tokenised message.
pub(crate) const NO_WORD: u32 = u32::MAX;
const NO_TERM: u32 = u32::MAX;

/// A multiply-rotate hasher for the trie's integer keys (the keys are already well mixed).
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

/// One phrase trie over word ids. Each axis (personas, intents) has its own, so the longest
/// match on one axis never hides a term of the other.
#[derive(Debug, Default, Clone)]
struct Trie {
    /// Per word id: the node of terms starting with that word, or `NO_NODE`.
    word_node: Vec<u32>,
    /// Per node: the term ending here, or `NO_TERM`.
    node_term: Vec<u32>,
    node_has_children: Vec<bool>,
    /// (node << 32 | word id) -> child node.
    children: IntMap<u32>,
}

const NO_NODE: u32 = u32::MAX;

impl Trie {
    fn new_node(&mut self) -> u32 {
        self.node_term.push(NO_TERM);
        self.node_has_children.push(false);
        (self.node_term.len() - 1) as u32
    }
}

/// Keyword matcher over lowercase normalised word sequences: one shared word table, one phrase
/// trie per axis.
#[derive(Debug, Default, Clone)]
pub struct TermMatcher {
    /// Open-addressing table: (high 32 bits of the word's hash) << 32 | (word id + 1); 0 is empty.
    slots: Vec<u64>,
    mask: usize,
    word_hashes: Vec<u64>,
    words: Vec<Box<str>>,
    tries: Vec<Trie>,
    /// Number of words in each term.
    term_len: Vec<u32>,
}

/// Builds a [`TermMatcher`]; terms are added as word lists on an axis and numbered in order.
#[derive(Default)]
pub struct TermMatcherBuilder {
    matcher: TermMatcher,
    word_ids: HashMap<String, u32>,
}

impl TermMatcherBuilder {
    /// A builder with `axes` independent tries.
    pub fn new(axes: usize) -> Self {
        let mut b = Self::default();
        b.matcher.tries = vec![Trie::default(); axes];
        b
    }

    fn word_id(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.word_ids.get(word) {
            return id;
        }
        let id = self.matcher.words.len() as u32;
        self.word_ids.insert(word.to_string(), id);
        self.matcher.words.push(word.into());
        self.matcher.word_hashes.push(word_hash(word));
        for trie in &mut self.matcher.tries {
            trie.word_node.push(NO_NODE);
        }
        id
    }

    /// Adds a term (its lowercase normalised words) on `axis` and returns its term id, or the id
    /// of the identical term added on that axis before.
    pub fn add(&mut self, axis: usize, words: &[String]) -> u32 {
        assert!(!words.is_empty(), "a term has at least one word");
        let ids: Vec<u32> = words.iter().map(|w| self.word_id(w)).collect();
        let m = &mut self.matcher;
        let trie = &mut m.tries[axis];
        let mut node = trie.word_node[ids[0] as usize];
        if node == NO_NODE {
            node = trie.new_node();
            trie.word_node[ids[0] as usize] = node;
        }
        for &word in &ids[1..] {
            trie.node_has_children[node as usize] = true;
            let key = (u64::from(node) << 32) | u64::from(word);
            node = match trie.children.get(&key) {
                Some(&child) => child,
                None => {
                    let child = trie.new_node();
                    trie.children.insert(key, child);
                    child
                }
            };
        }
        if trie.node_term[node as usize] == NO_TERM {
            trie.node_term[node as usize] = m.term_len.len() as u32;
            m.term_len.push(words.len() as u32);
        }
        trie.node_term[node as usize]
    }

    pub fn build(mut self) -> TermMatcher {
        let m = &mut self.matcher;
        let capacity = (m.words.len() * 2).next_power_of_two().max(16);
        m.slots = vec![0; capacity];
        m.mask = capacity - 1;
        for (id, &h) in m.word_hashes.iter().enumerate() {
            let mut i = (h as usize) & m.mask;
            while m.slots[i] != 0 {
                i = (i + 1) & m.mask;
            }
            m.slots[i] = (h & 0xffff_ffff_0000_0000) | (id as u64 + 1);
        }
        self.matcher
    }
}

impl TermMatcher {
    /// Number of distinct terms (over all axes).
    pub(crate) fn term_count(&self) -> usize {
        self.term_len.len()
    }

    /// The catalog word id of `word` (any ASCII case), or `NO_WORD`.
    #[inline]
    pub(crate) fn lookup(&self, word: &str) -> u32 {
        if self.words.is_empty() {
            return NO_WORD;
        }
        let h = word_hash(word);
        let tag = h & 0xffff_ffff_0000_0000;
        let mut i = (h as usize) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return NO_WORD;
            }
            if slot & 0xffff_ffff_0000_0000 == tag {
                let id = ((slot & 0xffff_ffff) - 1) as usize;
                if self.words[id].eq_ignore_ascii_case(word) {
                    return id as u32;
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Tokenises normalised `text` into word ids (`NO_WORD` for words not in the catalog).
    #[inline]
    pub(crate) fn word_ids(&self, text: &str, out: &mut Vec<u32>) {
        out.clear();
        if !text.is_ascii() {
            out.extend(Tokens::new(text).map(|w| self.lookup(w)));
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
            out.push(self.lookup(&text[start..i]));
        }
    }

    /// Finds the terms of `axis` in a word-id sequence: at each word, the longest term starting
    /// there; the words it covers are consumed. Calls `on_term(term_id)` for each hit, in order.
    #[inline]
    pub(crate) fn find_terms(&self, axis: usize, ids: &[u32], mut on_term: impl FnMut(u32)) {
        let trie = &self.tries[axis];
        let n = ids.len();
        let mut i = 0;
        while i < n {
            let word = ids[i];
            if word == NO_WORD {
                i += 1;
                continue;
            }
            let mut node = trie.word_node[word as usize];
            if node == NO_NODE {
                i += 1;
                continue;
            }
            let mut best_term = trie.node_term[node as usize];
            let mut best_len = 1;
            let mut j = i + 1;
            while trie.node_has_children[node as usize] && j < n && ids[j] != NO_WORD {
                let key = (u64::from(node) << 32) | u64::from(ids[j]);
                match trie.children.get(&key) {
                    Some(&child) => {
                        node = child;
                        j += 1;
                        let term = trie.node_term[node as usize];
                        if term != NO_TERM {
                            best_term = term;
                            best_len = j - i;
                        }
                    }
                    None => break,
                }
            }
            if best_term != NO_TERM {
                on_term(best_term);
                i += best_len;
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::text::words;

    fn matcher(terms: &[&str]) -> TermMatcher {
        let mut b = TermMatcherBuilder::new(1);
        for (i, t) in terms.iter().enumerate() {
            assert_eq!(b.add(0, &words(t)), i as u32, "term {t} must be new");
        }
        b.build()
    }

    fn hits(m: &TermMatcher, text: &str) -> Vec<u32> {
        let normalised = crate::core::text::normalise(text);
        let mut ids = Vec::new();
        m.word_ids(&normalised, &mut ids);
        let mut out = Vec::new();
        m.find_terms(0, &ids, |t| out.push(t));
        out
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
        let mut b = TermMatcherBuilder::new(2);
        let startup = b.add(0, &words("startup"));
        let discount = b.add(1, &words("startup discount"));
        let m = b.build();
        let normalised = "any startup discount?";
        let mut ids = Vec::new();
        m.word_ids(normalised, &mut ids);
        let (mut a0, mut a1) = (Vec::new(), Vec::new());
        m.find_terms(0, &ids, |t| a0.push(t));
        m.find_terms(1, &ids, |t| a1.push(t));
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

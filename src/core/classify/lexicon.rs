//! The catalog's words, and how a message word finds one: as written, inflected, or misspelt.
//!
//! Built once per catalog ([`LexiconBuilder::build`]). Each catalog word has an id and belongs
//! to a *class*: the words that share its Snowball English stem ("crash", "crashes",
//! "crashing" are one class). A message word resolves ([`Lexicon::resolve`]) in this order:
//!
//! 1. **as written**: an open-addressing table keyed by an ASCII-case-insensitive hash, the
//!    fast path every catalog word takes;
//! 2. **inflected**: its stem is a catalog class's stem ("crashed" -> `crash`);
//! 3. **misspelt** (words of [`TYPO_MIN_CHARS`] or more, never stopwords): within one edit
//!    (insert, delete, substitute, swap of neighbours) of a catalog word or of a class stem,
//!    found through a symmetric-delete index (every word and each of its one-letter
//!    deletions), so the cost per word is a handful of lookups whatever the catalog's size.
//!
//! Steps 2 and 3 run only for words the table does not hold; their answers are kept in a
//! per-thread cache (bounded; cleared when full or when another lexicon asks), so a word seen
//! before costs one lookup. Real customer text repeats its words, so the stemmer and the typo
//! index are paid about once per distinct word, not once per message.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};

use rust_stemmers::{Algorithm, Stemmer};

use super::matcher::IntHasher;
use crate::core::text::{is_stopword, word_hash};

/// Marks "no catalog word" / "no class".
pub(crate) const NONE: u32 = u32::MAX;

/// A message word of this many characters or more may be read as a misspelt catalog word.
pub const TYPO_MIN_CHARS: usize = 5;

/// How a message word was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Form {
    /// As written in the catalog (any case).
    Exact,
    /// Another form of a catalog word (same stem).
    Inflected,
    /// Within one edit of a catalog word or stem.
    Typo,
}

/// A message word resolved against the lexicon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The stem class, or [`NONE`] when the word is not the catalog's in any form.
    pub class: u32,
    /// The catalog word it is (exact or corrected), or [`NONE`] for an inflected form.
    pub word: u32,
    pub form: Form,
}

impl Resolved {
    pub(crate) const MISS: Resolved = Resolved {
        class: NONE,
        word: NONE,
        form: Form::Exact,
    };
}

/// Which of the extra resolutions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fuzziness {
    /// Match other forms of a catalog word through its stem.
    pub inflections: bool,
    /// Match a message word within one edit of a catalog word.
    pub typos: bool,
}

impl Default for Fuzziness {
    /// Both on.
    fn default() -> Self {
        Fuzziness {
            inflections: true,
            typos: true,
        }
    }
}

type IntMap<V> = HashMap<u64, V, BuildHasherDefault<IntHasher>>;

/// The catalog's words with their stem classes and the typo index.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// Open-addressing table: (high 32 bits of the word's hash) << 32 | (word id + 1); 0 is empty.
    slots: Vec<u64>,
    mask: usize,
    words: Vec<Box<str>>,
    word_class: Vec<u32>,
    /// Stem of each class.
    stems: Vec<Box<str>>,
    class_of_stem: HashMap<Box<str>, u32>,
    /// Hash of a word or of one of its one-letter deletions -> candidates (word id, or
    /// `CLASS_BIT | class id` for a stem).
    typo_index: IntMap<Vec<u32>>,
    fuzz: Fuzziness,
    /// Distinguishes lexicons in the per-thread cache.
    id: u64,
}

const CLASS_BIT: u32 = 1 << 31;

/// Builds a [`Lexicon`].
#[derive(Default)]
pub struct LexiconBuilder {
    lexicon: Lexicon,
    ids: HashMap<String, u32>,
    hashes: Vec<u64>,
}

/// The English Snowball stem of a lowercase word.
pub fn stem(word: &str) -> String {
    thread_local! {
        static STEMMER: Stemmer = Stemmer::create(Algorithm::English);
    }
    STEMMER.with(|s| s.stem(word).into_owned())
}

/// Inflectional endings, longest first: what a word may add to its stem and still be "the
/// same word" (plural, past, progressive, the y/i and e of the stem).
const INFLECTIONS: &[&str] = &["ings", "ing", "ies", "ied", "es", "ed", "s", "d", "y", "e"];

/// The class key of a lowercase word: its Snowball stem when the stemmer removed only an
/// inflection, else the stem and the derivational ending it removed (without inflection).
///
/// Snowball also strips derivations: "reporter" and "reporting" are both `report`, so a press
/// keyword would fire on a product question. Keeping the derivational ending apart gives
/// `report|er` for reporter and reporters, `report` for report, reports and reporting;
/// `instal` for install, installs, installing; `instal|lation` for installation(s).
pub fn class_key(word: &str) -> String {
    let stemmed = stem(word);
    let prefix = word
        .char_indices()
        .zip(stemmed.chars())
        .take_while(|((_, a), b)| a == b)
        .last()
        .map_or(0, |((i, c), _)| i + c.len_utf8());
    let mut tail = &word[prefix..];
    if let Some(end) = INFLECTIONS.iter().find_map(|i| tail.strip_suffix(i)) {
        tail = end;
    }
    // A doubled last letter before the ending: running (run + n + ing), installing.
    let last = word[..prefix].chars().last();
    if tail.chars().count() == 1 && tail.chars().next() == last {
        tail = "";
    }
    if tail.is_empty() {
        stemmed
    } else {
        format!("{stemmed}|{tail}")
    }
}

impl LexiconBuilder {
    pub fn new(fuzz: Fuzziness) -> Self {
        let mut b = Self::default();
        b.lexicon.fuzz = fuzz;
        b
    }

    /// The id of lowercase `word`, adding it (and its class) when new.
    pub fn word(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let lex = &mut self.lexicon;
        let id = lex.words.len() as u32;
        let stem = class_key(word);
        let class = match lex.class_of_stem.get(stem.as_str()) {
            Some(&c) => c,
            None => {
                let c = lex.stems.len() as u32;
                lex.stems.push(stem.clone().into());
                lex.class_of_stem.insert(stem.into(), c);
                c
            }
        };
        self.ids.insert(word.to_string(), id);
        lex.words.push(word.into());
        lex.word_class.push(class);
        self.hashes.push(word_hash(word));
        id
    }

    /// The class of a word id.
    pub fn class_of(&self, word: u32) -> u32 {
        self.lexicon.word_class[word as usize]
    }

    /// Number of classes so far.
    pub fn class_count(&self) -> usize {
        self.lexicon.stems.len()
    }

    pub fn build(mut self) -> Lexicon {
        let lex = &mut self.lexicon;
        let capacity = (lex.words.len() * 2).next_power_of_two().max(16);
        lex.slots = vec![0; capacity];
        lex.mask = capacity - 1;
        for (id, &h) in self.hashes.iter().enumerate() {
            let mut i = (h as usize) & lex.mask;
            while lex.slots[i] != 0 {
                i = (i + 1) & lex.mask;
            }
            lex.slots[i] = (h & 0xffff_ffff_0000_0000) | (id as u64 + 1);
        }
        if lex.fuzz.typos {
            let mut index: IntMap<Vec<u32>> = IntMap::default();
            let entries = lex
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, w))
                .chain(
                    lex.stems
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (i as u32 | CLASS_BIT, s)),
                );
            for (entry, text) in entries {
                // A catalog word one letter shorter than the shortest misspelling still counts.
                if text.chars().count() + 1 < TYPO_MIN_CHARS {
                    continue;
                }
                for variant in with_deletions(text) {
                    let list = index.entry(word_hash(&variant)).or_default();
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
            lex.typo_index = index;
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        lex.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.lexicon
    }
}

/// `text` and every string made by deleting one of its characters.
fn with_deletions(text: &str) -> impl Iterator<Item = String> + '_ {
    let cuts = text.char_indices().map(move |(i, c)| {
        let mut s = String::with_capacity(text.len());
        s.push_str(&text[..i]);
        s.push_str(&text[i + c.len_utf8()..]);
        s
    });
    std::iter::once(text.to_string()).chain(cuts)
}

/// True when `a` and `b` are at most one edit apart: one insertion, deletion, substitution,
/// or swap of two neighbouring characters (the optimal string alignment distance <= 1).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long.iter()).take_while(|(x, y)| x == y).count();
    if prefix == short.len() {
        return true; // equal, or one trailing insertion
    }
    if short.len() == long.len() {
        let rest = prefix + 1;
        short[rest..] == long[rest..]
            || (rest < short.len()
                && short[prefix] == long[rest]
                && short[rest] == long[prefix]
                && short[rest + 1..] == long[rest + 1..])
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

impl Lexicon {
    /// Number of catalog words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Number of stem classes.
    pub fn class_count(&self) -> usize {
        self.stems.len()
    }

    /// The catalog word with id `id`.
    pub fn word_text(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    /// The catalog word id of `word` as written (any ASCII case), or [`NONE`].
    #[inline]
    pub(crate) fn exact(&self, word: &str) -> u32 {
        if self.words.is_empty() {
            return NONE;
        }
        let h = word_hash(word);
        let tag = h & 0xffff_ffff_0000_0000;
        let mut i = (h as usize) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return NONE;
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

    /// Resolves a message word (already normalised; ASCII case is ignored).
    #[inline]
    pub(crate) fn resolve(&self, word: &str) -> Resolved {
        let id = self.exact(word);
        if id != NONE {
            return Resolved {
                class: self.word_class[id as usize],
                word: id,
                form: Form::Exact,
            };
        }
        if !self.fuzz.inflections && !self.fuzz.typos || self.words.is_empty() {
            return Resolved::MISS;
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            cache.get_or_insert(self, word, || self.resolve_uncached(word))
        })
    }

    /// Steps 2 and 3 of the module docs, without the cache.
    fn resolve_uncached(&self, word: &str) -> Resolved {
        let lower = word.to_lowercase();
        let stemmed = class_key(&lower);
        if self.fuzz.inflections {
            if let Some(&class) = self.class_of_stem.get(stemmed.as_str()) {
                return Resolved {
                    class,
                    word: NONE,
                    form: Form::Inflected,
                };
            }
        }
        if !self.fuzz.typos || lower.chars().count() < TYPO_MIN_CHARS || is_stopword(&lower) {
            return Resolved::MISS;
        }
        // The word against catalog words first, then its stem against class stems; the lowest
        // id wins a tie, so the answer does not depend on hash order.
        let mut best: Option<u32> = None;
        for variant in with_deletions(&lower) {
            for &entry in self.typo_index.get(&word_hash(&variant)).into_iter().flatten() {
                if entry & CLASS_BIT == 0
                    && within_one_edit(&lower, &self.words[entry as usize])
                    && best.is_none_or(|b| entry < b)
                {
                    best = Some(entry);
                }
            }
        }
        if let Some(word) = best {
            return Resolved {
                class: self.word_class[word as usize],
                word,
                form: Form::Typo,
            };
        }
        if !self.fuzz.inflections {
            return Resolved::MISS;
        }
        let mut best: Option<u32> = None;
        for variant in with_deletions(&stemmed) {
            for &entry in self.typo_index.get(&word_hash(&variant)).into_iter().flatten() {
                let class = entry & !CLASS_BIT;
                if entry & CLASS_BIT != 0
                    && within_one_edit(&stemmed, &self.stems[class as usize])
                    && best.is_none_or(|b| class < b)
                {
                    best = Some(class);
                }
            }
        }
        match best {
            Some(class) => Resolved {
                class,
                word: NONE,
                form: Form::Typo,
            },
            None => Resolved::MISS,
        }
    }
}

/// Most words the per-thread cache holds before it starts again.
const CACHE_CAPACITY: usize = 1 << 16;

/// Per-thread answers of [`Lexicon::resolve_uncached`] for words the table does not hold.
#[derive(Default)]
struct Cache {
    lexicon: u64,
    map: IntMap<(Box<str>, Resolved)>,
}

impl Cache {
    fn get_or_insert(
        &mut self,
        lexicon: &Lexicon,
        word: &str,
        compute: impl FnOnce() -> Resolved,
    ) -> Resolved {
        if self.lexicon != lexicon.id {
            self.map.clear();
            self.lexicon = lexicon.id;
        }
        let h = word_hash(word);
        if let Some((cached, resolved)) = self.map.get(&h) {
            if cached.eq_ignore_ascii_case(word) {
                return *resolved;
            }
            return compute(); // a hash collision: answer without caching
        }
        let resolved = compute();
        if self.map.len() >= CACHE_CAPACITY {
            self.map.clear();
        }
        self.map.insert(h, (word.into(), resolved));
        resolved
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(words: &[&str], fuzz: Fuzziness) -> Lexicon {
        let mut b = LexiconBuilder::new(fuzz);
        for w in words {
            b.word(w);
        }
        b.build()
    }

    #[test]
    fn one_edit_table() {
        for (a, b, near) in [
            ("refund", "refund", true),
            ("refund", "refnd", true),    // deletion
            ("refund", "reffund", true),  // insertion
            ("refund", "refumd", true),   // substitution
            ("refund", "rfeund", true),   // swap
            ("refund", "refundd", true),  // trailing insertion
            ("refund", "xrefund", true),  // leading insertion
            ("refund", "rfund", true),    // leading deletion
            ("refund", "efunr", false),   // two edits
            ("refund", "refuned", true),  // insertion inside
            ("refund", "rfeudn", false),  // two swaps
            ("refund", "refunding", false),
            ("abcd", "bcde", false),      // delete + insert elsewhere
            ("café", "cafe", true),
            ("straße", "strasse", false), // two edits
        ] {
            assert_eq!(within_one_edit(a, b), near, "{a} ~ {b}");
            assert_eq!(within_one_edit(b, a), near, "{b} ~ {a}");
        }
    }

    #[test]
    fn class_key_table() {
        // Words in one group share a key; the groups differ.
        let groups: &[&[&str]] = &[
            &["crash", "crashes", "crashed", "crashing"],
            &["report", "reports", "reported", "reporting"],
            &["reporter", "reporters"],
            &["install", "installs", "installed", "installing"],
            &["installation", "installations"],
            &["run", "runs", "running"],
            &["company", "companies"],
            &["price", "prices", "priced", "pricing"],
            &["developer", "developers"],
            &["develop", "develops", "developed", "developing"],
            &["organ", "organs"],
            &["organization", "organizations"],
            &["agree", "agreed", "agrees"],
            &["stop", "stopped", "stopping"],
        ];
        let keys: Vec<String> = groups.iter().map(|g| class_key(g[0])).collect();
        for (group, key) in groups.iter().zip(&keys) {
            for word in *group {
                assert_eq!(&class_key(word), key, "{word} belongs with {}", group[0]);
            }
        }
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len(), "groups must not share a key: {keys:?}");
    }

    #[test]
    fn resolution_table() {
        let words = ["crash", "roll", "out", "refund", "invoice", "cancel", "onboarding"];
        let lex = lexicon(&words, Fuzziness::default());
        let id = |w: &str| words.iter().position(|x| *x == w).unwrap() as u32;
        let class = |w: &str| lex.word_class[id(w) as usize];
        // (message word, catalog word whose class it takes, form, exact word id expected?)
        let cases: &[(&str, Option<&str>, Form, bool)] = &[
            ("crash", Some("crash"), Form::Exact, true),
            ("CRASH", Some("crash"), Form::Exact, true),
            ("crashes", Some("crash"), Form::Inflected, false),
            ("crashed", Some("crash"), Form::Inflected, false),
            ("Crashing", Some("crash"), Form::Inflected, false),
            ("rolling", Some("roll"), Form::Inflected, false),
            ("refunds", Some("refund"), Form::Inflected, false),
            ("refnud", Some("refund"), Form::Typo, true),
            ("invoic", Some("invoice"), Form::Inflected, false), // its stem
            ("invoce", Some("invoice"), Form::Typo, true),
            ("invioce", Some("invoice"), Form::Typo, true),
            ("invoices", Some("invoice"), Form::Inflected, false),
            ("invocies", Some("invoice"), Form::Typo, false), // stem "invoci" ~ "invoic"
            ("cancelled", Some("cancel"), Form::Inflected, false),
            ("onbaording", Some("onboarding"), Form::Typo, true),
            ("crsh", None, Form::Exact, false), // 4 letters: too short for a typo
            ("because", None, Form::Exact, false),
            ("printer", None, Form::Exact, false),
            ("", None, Form::Exact, false),
        ];
        for &(text, want, form, exact_word) in cases {
            let got = lex.resolve(text);
            match want {
                None => assert_eq!(got, Resolved::MISS, "{text:?}"),
                Some(w) => {
                    assert_eq!(got.class, class(w), "class of {text:?}");
                    assert_eq!(got.form, form, "form of {text:?}");
                    let want_word = if exact_word { id(w) } else { NONE };
                    assert_eq!(got.word, want_word, "word of {text:?}");
                }
            }
        }
    }

    #[test]
    fn fuzziness_can_be_turned_off() {
        let exact = lexicon(
            &["crash", "invoice"],
            Fuzziness {
                inflections: false,
                typos: false,
            },
        );
        assert_eq!(exact.resolve("crashes"), Resolved::MISS);
        assert_eq!(exact.resolve("invioce"), Resolved::MISS);
        assert_eq!(exact.resolve("crash").form, Form::Exact);
        let no_typos = lexicon(
            &["crash", "invoice"],
            Fuzziness {
                inflections: true,
                typos: false,
            },
        );
        assert_eq!(no_typos.resolve("crashes").form, Form::Inflected);
        assert_eq!(no_typos.resolve("invioce"), Resolved::MISS);
    }

    #[test]
    fn the_cache_answers_per_lexicon() {
        // Two lexicons on one thread: the second must not see the first's cached answers.
        let a = lexicon(&["crash"], Fuzziness::default());
        let b = lexicon(&["invoice"], Fuzziness::default());
        assert_eq!(a.resolve("crashes").form, Form::Inflected);
        assert_eq!(b.resolve("crashes"), Resolved::MISS);
        assert_eq!(a.resolve("crashes").form, Form::Inflected);
        assert_eq!(a.resolve("CRASHES").form, Form::Inflected);
    }

    #[test]
    fn stopwords_are_never_corrected() {
        // "there" is one edit from "theme", but it is a word of its own.
        let lex = lexicon(&["theme", "thanx"], Fuzziness::default());
        assert_eq!(lex.resolve("there"), Resolved::MISS);
        assert_eq!(lex.resolve("themes").form, Form::Inflected);
    }
}

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
//! Steps 2 and 3 run only for words the table does not hold; their answers are added to the
//! caller's [`Resolver`], a working copy of the table (bounded; it starts over when full or
//! when used with another lexicon), so any word seen before costs one hash and one probe, as
//! a catalog word does. Real customer text repeats its words, so the stemmer and the typo
//! index are paid about once per distinct word, not once per message.

#[cfg(test)]
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rust_stemmers::{Algorithm, Stemmer};

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
    /// Which word of its class it is, as written or corrected (an index among the class's
    /// words, in catalog order), or [`NONE`] for another form.
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

/// The catalog's words with their stem classes and the typo index.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// The catalog's words by hash: the table a [`Resolver`] starts from.
    table: Table,
    words: Vec<Box<str>>,
    word_class: Vec<u32>,
    /// Per word: its index among its class's words (see [`Resolved::word`]).
    word_local: Vec<u32>,
    /// Per word: its [`word_hash`].
    hashes: Vec<u64>,
    /// Stem of each class.
    stems: Vec<Box<str>>,
    class_of_stem: HashMap<Box<str>, u32>,
    /// (hash of a word or of one of its one-letter deletions, candidate: a word id, or
    /// `CLASS_BIT | class id` for a stem), sorted.
    typo_index: Vec<(u64, u32)>,
    /// Each hash of `typo_index` -> where its candidates start there.
    typo_starts: Table,
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
    class_words: Vec<u32>,
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
                self.class_words.push(0);
                c
            }
        };
        // Past the packing limit, further words of a class share the last index: they still
        // match as inflected forms.
        let local = self.class_words[class as usize].min(MAX_LOCAL);
        self.class_words[class as usize] += 1;
        self.ids.insert(word.to_string(), id);
        lex.words.push(word.into());
        lex.word_class.push(class);
        lex.word_local.push(local);
        lex.hashes.push(word_hash(word));
        id
    }

    /// The class of a word id.
    pub fn class_of(&self, word: u32) -> u32 {
        self.lexicon.word_class[word as usize]
    }

    /// The index of a word id among its class's words.
    pub fn local_of(&self, word: u32) -> u32 {
        self.lexicon.word_local[word as usize]
    }

    /// Number of classes so far.
    pub fn class_count(&self) -> usize {
        self.lexicon.stems.len()
    }

    /// The lexicon, or an error when it has more stem classes than a table entry can name.
    pub fn build(mut self) -> Result<Lexicon, String> {
        let lex = &mut self.lexicon;
        if lex.stems.len() >= NO_CLASS as usize {
            return Err(format!(
                "the catalog has {} distinct word stems; at most {} are supported",
                lex.stems.len(),
                NO_CLASS - 1
            ));
        }
        lex.table = lex.word_table(lex.words.len() * 2);
        if lex.fuzz.typos {
            let mut index = Vec::new();
            // Class stems are looked up only for words that may be inflected.
            let stems = if lex.fuzz.inflections {
                &lex.stems[..]
            } else {
                &[]
            };
            let entries = lex
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, w))
                .chain(
                    stems
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (i as u32 | CLASS_BIT, s)),
                );
            let mut buf = String::new();
            for (entry, text) in entries {
                // A catalog word one letter shorter than the shortest misspelling still counts.
                if text.chars().count() + 1 < TYPO_MIN_CHARS {
                    continue;
                }
                for_each_variant(text, &mut buf, |v| index.push((word_hash(v), entry)));
            }
            index.sort_unstable();
            index.dedup();
            let mut starts = Table::with_capacity(index.len() * 2);
            for (i, &(h, _)) in index.iter().enumerate() {
                if i == 0 || index[i - 1].0 != h {
                    starts.insert(h, i as u32);
                }
            }
            lex.typo_index = index;
            lex.typo_starts = starts;
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        lex.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Ok(self.lexicon)
    }
}

/// Calls `f` with `text` and with every string made by deleting one of its characters.
fn for_each_variant(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    f(text);
    for (i, c) in text.char_indices() {
        buf.clear();
        buf.push_str(&text[..i]);
        buf.push_str(&text[i + c.len_utf8()..]);
        f(buf);
    }
}

/// True when `a` and `b` are at most one edit apart: one insertion, deletion, substitution,
/// or swap of two neighbouring characters (the optimal string alignment distance <= 1).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
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
    /// A table of at least `capacity` slots holding the catalog's words.
    fn word_table(&self, capacity: usize) -> Table {
        let mut table = Table::with_capacity(capacity);
        for (id, &hash) in self.hashes.iter().enumerate() {
            table.insert(hash, self.exact_value(id));
        }
        table
    }

    /// The packed resolution of catalog word `id` as written.
    fn exact_value(&self, id: usize) -> u32 {
        pack(Resolved {
            class: self.word_class[id],
            word: self.word_local[id],
            form: Form::Exact,
        })
    }

    #[cfg(test)]
    /// Resolves a message word (already normalised; ASCII case is ignored) with this thread's
    /// resolver. The hot path passes its own [`Resolver`] to [`Lexicon::resolve_packed`].
    pub(crate) fn resolve(&self, word: &str) -> Resolved {
        thread_local! {
            static RESOLVER: RefCell<Resolver> = RefCell::new(Resolver::default());
        }
        RESOLVER.with(|r| self.resolve_with(&mut r.borrow_mut(), word))
    }

    /// [`Lexicon::prepare`] then [`Lexicon::resolve_packed`], unpacked.
    #[cfg(test)]
    pub(crate) fn resolve_with(&self, resolver: &mut Resolver, word: &str) -> Resolved {
        self.prepare(resolver);
        unpack(self.resolve_packed(resolver, word))
    }

    /// Makes `resolver` this lexicon's (call once per message, before
    /// [`Lexicon::resolve_packed`]).
    #[inline]
    pub(crate) fn prepare(&self, resolver: &mut Resolver) {
        if resolver.lexicon != self.id {
            resolver.reset(self);
        }
    }

    /// Resolves a message word (already normalised; ASCII case is ignored) through
    /// `resolver`, made ready by [`Lexicon::prepare`]: one hash and one probe for a catalog
    /// word or a word seen before; the stemmer and the typo index for a new one. Answers the
    /// packed resolution (read it with [`unpack`] or [`packed_class`]).
    ///
    /// Words are told apart by their hash, without comparing letters: the table's slot and a
    /// 32-bit tag, some 45 bits for a table of a few thousand words, so a word outside the
    /// catalog is taken for one inside with odds of about 1 in 10^10; and a word made to
    /// collide only gets the classification its writer could have typed.
    #[inline]
    pub(crate) fn resolve_packed(&self, resolver: &mut Resolver, word: &str) -> u32 {
        let h = word_hash(word);
        if let Ok(value) = resolver.table.find(h) {
            return value;
        }
        if !self.fuzz.inflections && !self.fuzz.typos {
            return MISS;
        }
        let value = pack(self.resolve_uncached(word));
        resolver.learn(self, h, value);
        value
    }

    /// The typo index's candidates for one variant (a word or one of its deletions).
    fn typo_candidates(&self, variant: &str) -> impl Iterator<Item = u32> + '_ {
        let h = word_hash(variant);
        let start = self
            .typo_starts
            .find(h)
            .map_or(self.typo_index.len(), |s| s as usize);
        self.typo_index[start..]
            .iter()
            .take_while(move |&&(k, _)| k == h)
            .map(|&(_, entry)| entry)
    }

    /// Steps 2 and 3 of the module docs, without the cache.
    fn resolve_uncached(&self, word: &str) -> Resolved {
        let lower = word.to_lowercase();
        let stemmed = self.fuzz.inflections.then(|| class_key(&lower));
        if let Some(&class) = stemmed.as_deref().and_then(|s| self.class_of_stem.get(s)) {
            return Resolved {
                class,
                word: NONE,
                form: Form::Inflected,
            };
        }
        if !self.fuzz.typos || lower.chars().count() < TYPO_MIN_CHARS || is_stopword(&lower) {
            return Resolved::MISS;
        }
        // The word against catalog words first, then its stem against class stems.
        let mut buf = String::new();
        if let Some(word) = self.nearest(&lower, false, &mut buf) {
            return Resolved {
                class: self.word_class[word as usize],
                word: self.word_local[word as usize],
                form: Form::Typo,
            };
        }
        match stemmed.and_then(|s| self.nearest(&s, true, &mut buf)) {
            Some(class) => Resolved {
                class,
                word: NONE,
                form: Form::Typo,
            },
            None => Resolved::MISS,
        }
    }

    /// The lowest-numbered catalog word (with `stems`: class stem) within one edit of `text`,
    /// so the answer does not depend on hash order.
    fn nearest(&self, text: &str, stems: bool, buf: &mut String) -> Option<u32> {
        let mut best: Option<u32> = None;
        for_each_variant(text, buf, |variant| {
            for entry in self.typo_candidates(variant) {
                if (entry & CLASS_BIT != 0) != stems {
                    continue;
                }
                let id = entry & !CLASS_BIT;
                let known = if stems {
                    &self.stems[id as usize]
                } else {
                    &self.words[id as usize]
                };
                if best.is_none_or(|b| id < b) && within_one_edit(text, known) {
                    best = Some(id);
                }
            }
        });
        best
    }
}

/// Most words a [`Resolver`] learns before it starts again.
const RESOLVER_CAPACITY: usize = 1 << 15;

/// A thread's working copy of a lexicon's word table, to which it adds the words it has
/// resolved the slow way (inflected, misspelt, or nothing), so that each word of a message
/// costs one hash and one probe. It grows with the words it learns (at most
/// [`RESOLVER_CAPACITY`], then it starts over), and starts over for another lexicon.
#[derive(Debug, Default, Clone)]
pub struct Resolver {
    lexicon: u64,
    table: Table,
    /// (hash, packed resolution) of the words learnt, to rebuild the table when it grows.
    learnt: Vec<(u64, u32)>,
}

impl Resolver {
    fn reset(&mut self, lexicon: &Lexicon) {
        self.lexicon = lexicon.id;
        self.table.clone_from(&lexicon.table);
        self.learnt.clear();
    }

    fn learn(&mut self, lexicon: &Lexicon, hash: u64, value: u32) {
        if self.learnt.len() >= RESOLVER_CAPACITY {
            self.reset(lexicon);
        }
        self.learnt.push((hash, value));
        let entries = lexicon.words.len() + self.learnt.len();
        if entries * 10 > self.table.capacity() * 6 {
            // Keep the load under 60%: rebuild at twice the size.
            self.table = lexicon.word_table(self.table.capacity() * 2);
            for &(h, v) in &self.learnt {
                self.table.insert(h, v);
            }
        } else {
            self.table.insert(hash, value);
        }
    }
}

/// An open-addressing table from a word's hash to its packed resolution, in one `u64` per
/// slot: the hash's high 32 bits (never 0) and the value; 0 is an empty slot.
#[derive(Debug, Default, Clone)]
struct Table {
    slots: Vec<u64>,
    mask: usize,
}

impl Table {
    fn with_capacity(at_least: usize) -> Table {
        let capacity = at_least.next_power_of_two().max(16);
        Table {
            slots: vec![0; capacity],
            mask: capacity - 1,
        }
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    fn tag(hash: u64) -> u64 {
        (hash | 1 << 32) & 0xffff_ffff_0000_0000
    }

    /// The value of `hash`, or the empty slot where it would go.
    #[inline]
    fn find(&self, hash: u64) -> Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let tag = Self::tag(hash);
        let mut i = (hash as usize) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot & 0xffff_ffff_0000_0000 == tag {
                return Ok(slot as u32);
            }
            if slot == 0 {
                return Err(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `hash` (if not there yet).
    fn insert(&mut self, hash: u64, value: u32) {
        if let Err(i) = self.find(hash) {
            self.slots[i] = Self::tag(hash) | u64::from(value);
        }
    }
}

/// Class bits of a packed resolution, and the class that means "none".
const CLASS_BITS: u32 = 22;
const NO_CLASS: u32 = (1 << CLASS_BITS) - 1;
/// Word-index bits, and the index that means "none" (an inflected form).
const LOCAL_BITS: u32 = 8;
const NO_LOCAL: u32 = (1 << LOCAL_BITS) - 1;
const MAX_LOCAL: u32 = NO_LOCAL - 1;

/// [`Resolved::MISS`], packed.
pub(crate) const MISS: u32 = pack(Resolved::MISS);

/// The class of a packed resolution, or [`NONE`].
#[inline]
pub(crate) fn packed_class(v: u32) -> u32 {
    let class = v >> (LOCAL_BITS + 2);
    if class == NO_CLASS {
        NONE
    } else {
        class
    }
}

/// A resolution in 32 bits: class (22), word index in its class (8), form (2).
const fn pack(r: Resolved) -> u32 {
    let class = if r.class == NONE { NO_CLASS } else { r.class };
    let local = if r.word == NONE { NO_LOCAL } else { r.word };
    let form = match r.form {
        Form::Exact => 0,
        Form::Inflected => 1,
        Form::Typo => 2,
    };
    (class << (LOCAL_BITS + 2)) | (local << 2) | form
}

#[inline]
pub(crate) fn unpack(v: u32) -> Resolved {
    let class = v >> (LOCAL_BITS + 2);
    let local = (v >> 2) & NO_LOCAL;
    Resolved {
        class: if class == NO_CLASS { NONE } else { class },
        word: if local == NO_LOCAL { NONE } else { local },
        form: match v & 3 {
            0 => Form::Exact,
            1 => Form::Inflected,
            _ => Form::Typo,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(words: &[&str], fuzz: Fuzziness) -> Lexicon {
        let mut b = LexiconBuilder::new(fuzz);
        for w in words {
            b.word(w);
        }
        b.build().unwrap()
    }

    #[test]
    fn one_edit_table() {
        for (a, b, near) in [
            ("refund", "refund", true),
            ("refund", "refnd", true),   // deletion
            ("refund", "reffund", true), // insertion
            ("refund", "refumd", true),  // substitution
            ("refund", "rfeund", true),  // swap
            ("refund", "refundd", true), // trailing insertion
            ("refund", "xrefund", true), // leading insertion
            ("refund", "rfund", true),   // leading deletion
            ("refund", "efunr", false),  // two edits
            ("refund", "refuned", true), // insertion inside
            ("refund", "rfeudn", false), // two swaps
            ("refund", "refunding", false),
            ("abcd", "bcde", false), // delete + insert elsewhere
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
        assert_eq!(
            distinct.len(),
            keys.len(),
            "groups must not share a key: {keys:?}"
        );
    }

    #[test]
    fn resolution_table() {
        let words = [
            "crash",
            "roll",
            "out",
            "refund",
            "invoice",
            "cancel",
            "onboarding",
        ];
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
                    // Every word here is alone in its class: index 0.
                    let want_word = if exact_word { 0 } else { NONE };
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
    fn a_full_resolver_starts_over_and_still_answers() {
        let lex = lexicon(&["crash"], Fuzziness::default());
        let mut r = Resolver::default();
        for i in 0..RESOLVER_CAPACITY + 10 {
            assert_eq!(lex.resolve_with(&mut r, &format!("w{i}x")), Resolved::MISS);
        }
        assert!(r.learnt.len() <= RESOLVER_CAPACITY);
        assert_eq!(lex.resolve_with(&mut r, "crashes").form, Form::Inflected);
        assert_eq!(lex.resolve_with(&mut r, "crash").form, Form::Exact);
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

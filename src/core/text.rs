//! Text normalisation and tokenisation: the one place where "what is a word" is decided.
//!
//! Classification, catalog compilation and learning all go through here, so a keyword and a
//! message are always cut into words the same way.
//!
//! - Normalisation is NFKC, then Unicode default case folding, then NFKC again (the
//!   `NFKC_Casefold` recipe). Pure-ASCII text takes a fast path: it is only lowercased, and the
//!   tokeniser does that on the fly without copying.
//! - A word is a maximal run of letters, digits and combining marks. Everything else
//!   (whitespace, punctuation, symbols, emoji, control characters) separates words.

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Normalises `text` for matching: NFKC + case folding. ASCII text is returned borrowed and
/// unchanged (ASCII case is handled by [`Tokens`] and by case-insensitive regexes).
pub fn normalise(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let composed: String = text.nfkc().collect();
    let folded = caseless::default_case_fold_str(&composed);
    Cow::Owned(folded.nfkc().collect())
}

/// Fully normalised, lowercased text (ASCII included): for display, storage keys and tests.
pub fn normalise_lower(text: &str) -> String {
    match normalise(text) {
        Cow::Borrowed(ascii) => ascii.to_ascii_lowercase(),
        Cow::Owned(owned) => owned,
    }
}

/// True when `c` belongs inside a word.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric() || is_combining_mark(c)
    }
}

/// Iterator over the words of already-normalised text, as byte ranges into it.
///
/// ASCII uppercase letters are *not* lowercased here; compare words with
/// [`eq_ignore_ascii_case`](str::eq_ignore_ascii_case) or hash them with [`word_hash`].
pub(crate) struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(text: &'a str) -> Self {
        Tokens { text, pos: 0 }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let mut i = self.pos;
        // Skip separators.
        while i < len {
            let b = bytes[i];
            if b < 0x80 {
                if b.is_ascii_alphanumeric() {
                    break;
                }
                i += 1;
            } else {
                let c = self.text[i..].chars().next().unwrap_or(' ');
                if is_word_char(c) {
                    break;
                }
                i += c.len_utf8();
            }
        }
        if i >= len {
            self.pos = len;
            return None;
        }
        let start = i;
        while i < len {
            let b = bytes[i];
            if b < 0x80 {
                if !b.is_ascii_alphanumeric() {
                    break;
                }
                i += 1;
            } else {
                let c = self.text[i..].chars().next().unwrap_or(' ');
                if !is_word_char(c) {
                    break;
                }
                i += c.len_utf8();
            }
        }
        self.pos = i;
        Some(&self.text[start..i])
    }
}

/// Function words, chat filler and the stems contractions leave ("didn't" is `didn` `t`): never
/// a keyword on their own.
pub(crate) const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are",
    "aren", "as", "at", "be", "been", "before", "being", "both", "but", "by", "can", "could",
    "couldn", "d", "did", "didn", "do", "does", "doesn", "doing", "don", "done", "down", "each",
    "even", "ever", "few", "for", "from", "get", "gets", "getting", "go", "got", "had", "hadn",
    "has", "hasn", "have", "haven", "having", "he", "hello", "help", "her", "here", "hers", "hey",
    "hi", "him", "his", "how", "i", "if", "im", "in", "into", "is", "isn", "it", "its", "just",
    "know", "let", "like", "ll", "m", "me", "might", "more", "most", "much", "must", "my", "need",
    "needs", "no", "nor", "not", "now", "of", "off", "ok", "okay", "on", "once", "one", "only",
    "or", "other", "our", "ours", "out", "over", "please", "pls", "re", "really", "s", "same",
    "see", "she", "should", "shouldn", "so", "some", "still", "such", "t", "tell", "than", "thank",
    "thanks", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "us", "ve", "very", "wanna", "want",
    "wants", "was", "wasn", "way", "we", "were", "weren", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "won", "would", "wouldn", "yes", "yet", "you",
    "your", "yours",
];

/// True for a function word or chat filler ([`STOPWORDS`]): never a keyword on its own.
pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

/// Splits a catalog term or message into lowercase normalised words.
pub fn words(text: &str) -> Vec<String> {
    let normalised = normalise(text);
    Tokens::new(&normalised)
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// A fast, ASCII-case-insensitive 64-bit hash of a word (FxHash-style over 8-byte chunks).
///
/// Equal words (ignoring ASCII case) hash equally; the matcher verifies bytes on a hit.
#[inline]
pub(crate) fn word_hash(word: &str) -> u64 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    const LOWER_MASK: u64 = 0x2020_2020_2020_2020;
    let bytes = word.as_bytes();
    let mut hash: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(chunk);
        let v = u64::from_le_bytes(buf) | ascii_lower_bits(u64::from_le_bytes(buf), LOWER_MASK);
        hash = (hash.rotate_left(5) ^ v).wrapping_mul(SEED);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let raw = load_tail(rest);
        let v = raw | ascii_lower_bits(raw, LOWER_MASK);
        hash = (hash.rotate_left(5) ^ v).wrapping_mul(SEED);
    }
    hash ^ (hash >> 29)
}

/// The 1 to 7 bytes of `rest` in a `u64` without a call to `memcpy`: two overlapping 4-byte
/// loads, or three single bytes. Each byte of the result is a byte of `rest` (so ASCII case
/// folds bytewise), and with the length already hashed, different tails give different values.
#[inline]
fn load_tail(rest: &[u8]) -> u64 {
    let n = rest.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let hi = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]);
        u64::from(lo) | u64::from(hi) << 32
    } else {
        u64::from(rest[0]) | u64::from(rest[n / 2]) << 8 | u64::from(rest[n - 1]) << 16
    }
}

/// Bits to OR into `v` so that ASCII uppercase bytes become lowercase; other bytes unchanged.
#[inline]
fn ascii_lower_bits(v: u64, mask: u64) -> u64 {
    // A byte b is uppercase when 'A' <= b <= 'Z'. SWAR: (b + (0x80 - 'A')) has its high bit set
    // when b >= 'A'; (b + (0x80 - 'Z' - 1)) has it set when b > 'Z'. Bytes >= 0x80 are excluded.
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = v & !HIGH;
    let ge_a = low7.wrapping_add(0x3f3f_3f3f_3f3f_3f3f); // 0x80 - 0x41
    let gt_z = low7.wrapping_add(0x2525_2525_2525_2525); // 0x80 - 0x5b
    let upper = ge_a & !gt_z & !v & HIGH;
    (upper >> 2) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
        for (word, stop) in [
            ("the", true),
            ("thanks", true),
            ("refund", false),
            ("b2b", false),
        ] {
            assert_eq!(is_stopword(word), stop, "{word}");
        }
    }

    #[test]
    fn normalisation_table() {
        let cases: &[(&str, &str)] = &[
            ("How MUCH is it?", "how much is it?"),
            ("ＰＲＩＣＩＮＧ", "pricing"), // full-width -> ASCII (NFKC)
            ("Straße", "strasse"),         // full case folding
            ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),        // Greek folds to non-final sigma
            ("e\u{301}", "\u{e9}"),        // combining accent composes
            ("ﬁle", "file"),               // ligature decomposes
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise_lower(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn normalisation_is_idempotent() {
        for input in ["Straße ＡＢＣ", "CAFÉ", "İstanbul", "ǅ", "x\u{301}\u{302}"] {
            let once = normalise_lower(input);
            assert_eq!(normalise_lower(&once), once, "input {input:?}");
        }
    }

    #[test]
    fn tokenisation_table() {
        let cases: &[(&str, &[&str])] = &[
            ("how much is it?", &["how", "much", "is", "it"]),
            (
                "co-founder, e-commerce",
                &["co", "founder", "e", "commerce"],
            ),
            ("  \t\n ", &[]),
            ("SOC2/ISO-27001", &["soc2", "iso", "27001"]),
            ("don't", &["don", "t"]),
            ("emoji 🚀 rocket", &["emoji", "rocket"]),
            ("naïve café", &["naïve", "café"]),
            ("a\u{0}b\u{7}c", &["a", "b", "c"]),
            ("日本語 テキスト", &["日本語", "テキスト"]),
        ];
        for (input, expected) in cases {
            assert_eq!(words(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn word_hash_ignores_ascii_case_only() {
        let pairs = [
            ("Pricing", "pricing"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"),
            ("Z@[`{", "z@[`{"),
        ];
        for (a, b) in pairs {
            if a.chars().all(|c| c.is_ascii_alphanumeric()) {
                assert_eq!(word_hash(a), word_hash(b), "{a} vs {b}");
            }
        }
        assert_eq!(word_hash("Pricing"), word_hash("pricing"));
        assert_ne!(word_hash("pricing"), word_hash("pricinf"));
        assert_ne!(word_hash("ab"), word_hash("abc"));
        // '@' (0x40) and '[' (0x5b) sit just outside 'A'..='Z' and must not be folded.
        assert_ne!(word_hash("@"), word_hash("`"));
        assert_ne!(word_hash("["), word_hash("{"));
    }
}

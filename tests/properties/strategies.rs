//! Text strategies shared by the properties: tricky characters and strings, keyword soup,
//! fullwidth forms, and customer-like messages.

use proptest::prelude::*;

use crate::shipped;

/// Characters that are known to be hard on text handling: controls, combining marks, case
/// folding and compatibility specials, bidi controls, zero-width characters, surrogates'
/// neighbours, emoji, Hangul jamo, and plain ASCII to glue them to words.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::char::range('a', 'z'),
        1 => prop::char::range('A', 'Z'),
        1 => prop::char::range('0', '9'),
        1 => Just(' '),
        1 => prop::char::range('\0', '\u{1f}'),
        1 => prop::char::range('\u{7f}', '\u{9f}'),
        3 => prop::char::range('\u{300}', '\u{36f}'),
        1 => prop::char::range('\u{1ab0}', '\u{1aff}'),
        1 => prop::char::range('\u{20d0}', '\u{20ff}'),
        1 => prop::char::range('\u{fe20}', '\u{fe2f}'),
        1 => prop::char::range('\u{ff01}', '\u{ff5e}'),
        1 => prop::char::range('\u{1100}', '\u{11ff}'),
        1 => prop::char::range('\u{1f300}', '\u{1f6ff}'),
        1 => prop::char::range('\u{1d400}', '\u{1d7ff}'),
        2 => prop::sample::select(vec![
            'ß', 'ẞ', 'İ', 'ı', 'ſ', 'ǅ', 'ﬁ', 'ﬆ', 'Ω', 'K', 'Å', 'ΐ', 'ς', 'Σ', '\u{345}',
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{fffd}',
            '\u{e000}', '\u{10ffff}', '\u{d7ff}', '\u{e0001}', '\u{85}', '\u{2028}', '\u{2029}',
            '①', '½', '㎏', '㍻', 'ﷺ', '\u{fdfa}', '\u{1f1fa}', '\u{1f3fb}', '\u{fe0f}',
        ]),
    ]
}

pub(crate) fn tricky_string(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max_chars).prop_map(|cs| cs.into_iter().collect())
}

/// Keywords of the shipped catalog glued together with tricky characters, so the phrase trie,
/// exclusions and patterns really fire.
pub(crate) fn keyword_soup() -> impl Strategy<Value = String> {
    let terms = shipped().terms.clone();
    let piece = prop_oneof![
        3 => prop::sample::select(terms),
        1 => prop::sample::select(vec![" ", ", ", "? ", "\n", "-", "'", "$", "€", "49", " per "])
            .prop_map(String::from),
        1 => tricky_string(4),
        1 => (prop::sample::select(shipped().terms.clone()), any::<bool>()).prop_map(
            |(t, upper)| if upper { t.to_uppercase() } else { fullwidth(&t) }
        ),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.join(" "))
}

/// ASCII turned into its full-width forms (NFKC maps them back).
fn fullwidth(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xff01).unwrap_or(c),
            ' ' => '\u{3000}',
            c => c,
        })
        .collect()
}

/// Any message: arbitrary Unicode, invalid UTF-8 made lossy, tricky characters, keyword soup.
pub(crate) fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        tricky_string(200),
        keyword_soup(),
    ]
}

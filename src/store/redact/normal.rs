//! The view of a message the detectors read: NFKC (full-width digits become ASCII digits), every
//! run of Unicode whitespace (no-break spaces, tabs, line breaks) one ASCII space, zero-width
//! characters dropped. Each byte of the view knows which characters of the original it stands
//! for, so what is found in the view is cut out of the original.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

/// Characters that separate nothing visible: zero-width space, non-joiner, joiner, word joiner
/// and the byte order mark.
pub(super) fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A message as the detectors read it.
pub(super) struct Normalised {
    pub(super) text: String,
    /// For each byte of `text`, the byte range of the original characters it stands for.
    origin: Vec<(usize, usize)>,
}

impl Normalised {
    /// The byte range of the original that `view` (a non-empty range of `text`) stands for,
    /// whole characters; `None` for an empty range.
    pub(super) fn original(&self, view: &Range<usize>) -> Option<Range<usize>> {
        if view.is_empty() {
            return None;
        }
        let first = self.origin.get(view.start)?;
        let last = self.origin.get(view.end - 1)?;
        Some(first.0..last.1)
    }
}

/// Whether `text` is its own view: ASCII, with no whitespace but single spaces (so
/// [`normalise`] would copy it unchanged).
pub(super) fn is_own_view(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii() && !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        && !text.contains("  ")
}

/// The detectors' view of `original`.
pub(super) fn normalise(original: &str) -> Normalised {
    let mut text = String::with_capacity(original.len());
    let mut origin: Vec<(usize, usize)> = Vec::with_capacity(original.len());
    let mut in_space = false;
    for (at, c) in original.char_indices() {
        let end = at + c.len_utf8();
        if is_zero_width(c) {
            continue;
        }
        if c.is_whitespace() {
            if in_space {
                if let Some(last) = origin.last_mut() {
                    last.1 = end;
                }
            } else {
                text.push(' ');
                origin.push((at, end));
                in_space = true;
            }
            continue;
        }
        in_space = false;
        if c.is_ascii() {
            text.push(c);
        } else {
            text.extend(std::iter::once(c).nfkc());
        }
        origin.resize(text.len(), (at, end));
    }
    Normalised { text, origin }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_and_where_it_came_from() {
        let cases: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("a\u{a0}b\tc\u{202f}d", "a b c d"),
            ("a \u{a0}\t b", "a b"),
            ("41\u{200b}11\u{feff}22\u{2060}3\u{200d}", "4111223"),
            ("\u{ff14}\u{ff11}\u{ff11}\u{ff11}", "4111"),
            ("\u{ff21}\u{ff2b}\u{ff29}\u{ff21}", "AKIA"),
            ("\u{fb01}ne", "fine"),
            ("", ""),
        ];
        for (original, view) in cases {
            let n = normalise(original);
            assert_eq!(n.text, *view, "{original:?}");
            assert_eq!(n.origin.len(), n.text.len());
            if !n.text.is_empty() {
                let whole = n.original(&(0..n.text.len())).unwrap();
                assert_eq!(
                    whole.start,
                    original.find(|c: char| !is_zero_width(c)).unwrap()
                );
            }
        }
        let n = normalise("x\u{ff14}\u{200b}\u{ff11}y");
        assert_eq!(n.text, "x41y");
        // "41" stands for both full-width digits and the zero-width space between them.
        assert_eq!(n.original(&(1..3)), Some(1..10));
        assert_eq!(n.original(&(1..1)), None);
    }

    #[test]
    fn a_plain_text_is_its_own_view() {
        for (text, own) in [
            ("plain text, order 1234: ok!", true),
            ("", true),
            ("two  spaces", false),
            ("a\ttab", false),
            ("a\nline", false),
            ("caf\u{e9}", false),
            ("zero\u{200b}width", false),
        ] {
            assert_eq!(is_own_view(text), own, "{text:?}");
            if own {
                assert_eq!(normalise(text).text, text);
            }
        }
    }
}

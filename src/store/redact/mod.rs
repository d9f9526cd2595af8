//! Redaction of personal data (emails, IBANs, card numbers, phone numbers) and secrets (keys,
//! tokens, passwords) before anything is written to the store. Card numbers must pass the Luhn
//! check and IBANs the mod-97 check, so order numbers and prices survive; any other long digit
//! run is redacted as a phone number.
//!
//! Detection reads a normalised view of the text ([`normal`]: NFKC, whitespace runs as one
//! space, zero-width characters dropped; underscores separate digit groups), so disguised data
//! (no-break spaces, tabs, zero-width spaces, full-width digits) is found; what is written keeps
//! the customer's own characters outside the redacted spans.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

mod normal;
mod secrets;

const EMAIL_PATTERN: &str = r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.\w{2,}";
static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(EMAIL_PATTERN).expect("email regex"));
const IBAN_PATTERN: &str =
    r"(?i)\b[a-z]{2}[0-9]{2}(?:[ _\-]?[a-z0-9]{4}){2,7}(?:[ _\-]?[a-z0-9]{1,3})?\b";
static IBAN: LazyLock<Regex> = LazyLock::new(|| Regex::new(IBAN_PATTERN).expect("iban regex"));
/// Runs of digits with up to three spaces, dashes, dots, slashes, underscores or brackets
/// between them ("4111 - 1111", "(415) 555-2671", "4111_1111"); optional leading +.
const DIGITS_PATTERN: &str = r"\+?\(?[0-9](?:[0-9]|[ \-.()/_]{1,3}[0-9]){5,}";
static DIGITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(DIGITS_PATTERN).expect("digits regex"));

/// Every detector's pattern in one set: one scan says whether any of them matches.
static ANY: LazyLock<RegexSet> = LazyLock::new(|| {
    let personal = [EMAIL_PATTERN, IBAN_PATTERN, DIGITS_PATTERN];
    RegexSet::new(secrets::PATTERNS.iter().chain(&personal)).expect("the detectors' set")
});

/// Dates, which look like digit runs but are not personal numbers.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
        .expect("date regex")
});

/// The placeholders written instead of personal data.
pub const EMAIL_MARK: &str = "[email]";
pub(crate) const IBAN_MARK: &str = "[iban]";
pub const CARD_MARK: &str = "[card]";
pub const PHONE_MARK: &str = "[phone]";
pub const SECRET_MARK: &str = "[secret]";

fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn iban_valid(candidate: &str) -> bool {
    let compact: Vec<u8> = candidate
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for &b in tail.iter().chain(head) {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Stands for found text in the detectors' working copy: matches nothing any detector looks for,
/// so no later detector finds data inside (or glued to) what an earlier one found.
const MASK: char = '\u{1}';

/// The detectors' working copy of the normalised text, with what they found so far.
struct Finder {
    work: String,
    found: Vec<(Range<usize>, &'static str)>,
}

impl Finder {
    /// Runs `re` over the working copy; `decide` says, for each match, what range (if any) is a
    /// secret ([`SECRET_MARK`]). Ranges found are masked before the next match is used.
    fn pass(
        &mut self,
        re: &Regex,
        mut decide: impl FnMut(&str, &Captures<'_>) -> Option<Range<usize>>,
    ) {
        self.pass_marked(re, |text, c| decide(text, c).map(|r| (r, SECRET_MARK)));
    }

    /// [`pass`](Self::pass) where `decide` also picks the placeholder.
    fn pass_marked(
        &mut self,
        re: &Regex,
        mut decide: impl FnMut(&str, &Captures<'_>) -> Option<(Range<usize>, &'static str)>,
    ) {
        if !re.is_match(&self.work) {
            return; // the usual case: no captures to build
        }
        let hits: Vec<(Range<usize>, &'static str)> = re
            .captures_iter(&self.work)
            .filter_map(|c| decide(&self.work, &c))
            .collect();
        for (range, mark) in hits {
            let Some(text) = self.work.get(range.clone()) else {
                continue;
            };
            if text.is_empty() || text.chars().all(|c| c == MASK) {
                continue;
            }
            let mask: String = std::iter::repeat_n(MASK, range.len()).collect();
            self.work.replace_range(range.clone(), &mask);
            self.found.push((range, mark));
        }
    }
}

/// The personal data (not secrets) in the finder's text.
fn find_personal(f: &mut Finder) {
    f.pass_marked(&EMAIL, |_, c| Some((c.get(0)?.range(), EMAIL_MARK)));
    f.pass_marked(&IBAN, |_, c| {
        let m = c.get(0)?;
        iban_valid(m.as_str()).then(|| (m.range(), IBAN_MARK))
    });
    f.pass_marked(&DIGITS, |_, c| {
        let m = c.get(0)?;
        number_mark(m.as_str()).map(|mark| (m.range(), mark))
    });
}

/// The placeholder for a digit run, or `None` when it is harmless (a date, a short number).
fn number_mark(run: &str) -> Option<&'static str> {
    if DATE.is_match(run) {
        return None;
    }
    let digits: Vec<u8> = run
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let separated = run.bytes().any(|b| !b.is_ascii_digit() && b != b'+');
    match digits.len() {
        13..=19 if luhn_valid(&digits) => Some(CARD_MARK),
        8.. => Some(PHONE_MARK),
        // "555-2671": a local phone number; a bare 7-digit run is more likely an order id.
        7 if separated => Some(PHONE_MARK),
        _ => None,
    }
}

/// Replaces personal data and secrets in `text` with placeholders.
pub fn redact(text: &str) -> Cow<'_, str> {
    if normal::is_own_view(text) && !may_hold(text) {
        // Most messages: nothing any detector looks for, and no normalised copy to make.
        return Cow::Borrowed(text);
    }
    scan(text)
}

/// Whether any detector matches `view` at all (a detector may still reject its match).
fn may_hold(view: &str) -> bool {
    ANY.is_match(view)
}

/// [`redact`] without its shortcut: every detector over the normalised view.
fn scan(text: &str) -> Cow<'_, str> {
    let view = normal::normalise(text);
    let mut finder = Finder {
        work: view.text.clone(),
        found: Vec::new(),
    };
    secrets::find(&mut finder);
    find_personal(&mut finder);
    if finder.found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut spans: Vec<(Range<usize>, &'static str)> = finder
        .found
        .iter()
        .filter_map(|(range, mark)| Some((view.original(range)?, *mark)))
        .collect();
    spans.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, mark) in spans {
        if range.start < at {
            // Overlaps the previous span (two finds in one original character): one mark.
            at = at.max(range.end);
            continue;
        }
        out.push_str(&text[at..range.start]);
        out.push_str(mark);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Whether `text` holds personal data or a secret (anything [`redact`] would replace).
pub fn holds_personal_data(text: &str) -> bool {
    matches!(redact(text), Cow::Owned(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_table() {
        let cases: &[(&str, &str)] = &[
            (
                "mail me at jane.doe+x@example.co.uk today",
                "mail me at [email] today",
            ),
            ("card 4111 1111 1111 1111 please", "card [card] please"),
            ("card 4111-1111-1111-1111", "card [card]"),
            (
                "call +44 20 7946 0958 or (415) 555-2671",
                "call [phone] or [phone]",
            ),
            (
                "iban DE89 3704 0044 0532 0130 00 thanks",
                "iban [iban] thanks",
            ),
            ("iban GB82WEST12345698765432", "iban [iban]"),
            (
                "order 12345 costs $49.99 for 3 seats",
                "order 12345 costs $49.99 for 3 seats",
            ),
            ("SOC 2 and ISO 27001", "SOC 2 and ISO 27001"),
            ("card 4111 - 1111 - 1111 - 1111 ok", "card [card] ok"),
            ("mail jürgen.müller@example.de", "mail [email]"),
            ("call 555-2671 now", "call [phone] now"),
            ("order 1234567 is late", "order 1234567 is late"),
            ("version 1.2.3 on 2024-05-01", "version 1.2.3 on 2024-05-01"),
            ("nothing personal here", "nothing personal here"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn luhn_and_iban_checks() {
        assert!(luhn_valid(&[
            4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
        ]));
        assert!(!luhn_valid(&[
            4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2
        ]));
        assert!(iban_valid("DE89 3704 0044 0532 0130 00"));
        assert!(!iban_valid("DE88 3704 0044 0532 0130 00"));
    }

    #[test]
    fn disguised_personal_data_is_redacted() {
        let cases: &[(&str, &str)] = &[
            // Cards split by no-break spaces, narrow no-break spaces, tabs, underscores and
            // zero-width characters, or typed in full-width digits.
            ("card 4111\u{a0}1111\u{a0}1111\u{a0}1111 ok", "card [card] ok"),
            ("card 4111\u{202f}1111\u{202f}1111\u{202f}1111", "card [card]"),
            ("card 4111\t1111\t1111\t1111", "card [card]"),
            ("card 4111_1111_1111_1111.", "card [card]."),
            ("card 4111\u{200b}1111\u{200b}1111\u{200b}1111", "card [card]"),
            ("card 4111\u{200c}1111\u{200d}1111\u{2060}1111\u{feff}", "card [card]\u{feff}"),
            ("card 4\u{200b}1\u{200b}1\u{200b}1111111111111", "card [card]"),
            (
                "card \u{ff14}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11} ok",
                "card [card] ok",
            ),
            ("card 4111 \u{a0}\t 1111 \u{200b} 1111  1111", "card [card]"),
            // IBANs with no-break spaces, tabs, underscores, full-width characters.
            ("iban DE89\u{a0}3704\u{a0}0044\u{a0}0532\u{a0}0130\u{a0}00 ok", "iban [iban] ok"),
            ("iban DE89\t3704\t0044\t0532\t0130\t00", "iban [iban]"),
            ("iban DE89_3704_0044_0532_0130_00", "iban [iban]"),
            (
                "iban \u{ff27}\u{ff22}\u{ff18}\u{ff12}WEST12345698765432",
                "iban [iban]",
            ),
            // Phones likewise.
            ("call +44\u{a0}20\u{a0}7946\u{a0}0958", "call [phone]"),
            ("call 555\u{200b}-\u{200b}2671 now", "call [phone] now"),
            ("call \u{ff0b}\u{ff14}\u{ff14}\u{ff12}\u{ff10}\u{ff17}\u{ff19}\u{ff14}\u{ff16}\u{ff10}\u{ff19}\u{ff15}\u{ff18}", "call [phone]"),
            ("call 020_7946_0958", "call [phone]"),
            // Emails with full-width @ or zero-width characters.
            ("mail jane\u{200b}.doe@example.com", "mail [email]"),
            ("mail jane\u{ff20}example.com", "mail [email]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn ordinary_text_numbers_and_dates_survive() {
        let cases = [
            "order 1234567 is late",
            "order #12345, invoice INV-0042",
            "it costs $49.99 or \u{20ac}1\u{a0}299,00 per year",
            "price 1,299.00 USD",
            "on 2024-05-01 and 01/05/2024 and 1.5.2024",
            "version 1.2.3, SOC 2, ISO 27001",
            "plan_id growth_2024 and user_name jane_doe",
            "tabs\tand\u{a0}no-break spaces and caf\u{e9} and \u{fb01}ne",
            "\u{ff28}\u{ff45}\u{ff4c}\u{ff4c}\u{ff4f} full-width words",
            "zero\u{200b}width\u{200d}joiners",
        ];
        for input in &cases {
            assert_eq!(redact(input), *input, "input {input:?}");
        }
        assert!(matches!(redact(cases[0]), Cow::Borrowed(_)));
    }

    #[test]
    fn ids_with_personal_data() {
        let cases = [
            ("jane@example.com", true),
            ("chat-+44 20 7946 0958", true),
            ("+14155552671", true),
            ("conv-4111111111111111", true),
            ("web-3f2a9c4e", false),
            ("victim-conv-0", false),
            ("order-1234", false),
            ("", false),
        ];
        for (id, personal) in cases {
            assert_eq!(holds_personal_data(id), personal, "{id:?}");
        }
    }

    #[test]
    fn an_invalid_long_number_is_still_redacted() {
        // 16 digits failing Luhn: not a card, but too long to be harmless.
        assert_eq!(redact("ref 4111 1111 1111 1112"), "ref [phone]");
    }

    /// Text made of pieces detectors look for (digit groups, emails, IBAN-like and key-like
    /// runs, "password is"), ordinary words and separators, sometimes disguised.
    fn pieces() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            r"[a-z]{1,8}",
            r"[0-9]{1,5}",
            r"\+?[0-9]{3,9}",
            r"[a-z]{1,5}@[a-z]{1,5}\.[a-z]{2,3}",
            r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,20}",
            r"(AKIA|sk_live_|ghp_)[A-Za-z0-9]{8,36}",
            r"(password|api_key) ?(is|=|:) ?[a-z0-9]{0,8}",
            r"[ \-./_()]{1,2}",
            r"[\t\u{a0}\u{200b}\u{ff14}\u{e9}]",
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// The shortcut for plain text never changes what is redacted.
        #[test]
        fn the_shortcut_agrees_with_the_full_scan(text in pieces()) {
            proptest::prop_assert_eq!(redact(&text), scan(&text));
        }
    }
}

//! Redaction of personal data (emails, IBANs, card numbers, phone numbers) before anything is
//! written to the store. Card numbers must pass the Luhn check and IBANs the mod-97 check, so
//! order numbers and prices survive; any other long digit run is redacted as a phone number.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.\w{2,}").expect("email regex"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z]{2}[0-9]{2}(?:[ \-]?[a-z0-9]{4}){2,7}(?:[ \-]?[a-z0-9]{1,3})?\b")
        .expect("iban regex")
});
/// Runs of digits with up to three spaces, dashes, dots, slashes or brackets between them
/// ("4111 - 1111", "(415) 555-2671"); optional leading +.
static DIGITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+?\(?[0-9](?:[0-9]|[ \-.()/]{1,3}[0-9]){5,}").expect("digits regex")
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

/// Replaces personal data in `text` with placeholders.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if out.contains('@') {
        if let Cow::Owned(s) = EMAIL.replace_all(&out, EMAIL_MARK) {
            out = Cow::Owned(s);
        }
    }
    if !out.bytes().any(|b| b.is_ascii_digit()) {
        return out;
    }
    let replaced = IBAN.replace_all(&out, |c: &Captures<'_>| {
        if iban_valid(&c[0]) {
            IBAN_MARK.to_string()
        } else {
            c[0].to_string()
        }
    });
    if let Cow::Owned(s) = replaced {
        out = Cow::Owned(s);
    }
    let replaced = DIGITS.replace_all(&out, |c: &Captures<'_>| {
        let digits: Vec<u8> = c[0]
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        if DATE.is_match(&c[0]) {
            return c[0].to_string();
        }
        let separated = c[0].bytes().any(|b| !b.is_ascii_digit() && b != b'+');
        match digits.len() {
            13..=19 if luhn_valid(&digits) => CARD_MARK.to_string(),
            8.. => PHONE_MARK.to_string(),
            // "555-2671": a local phone number; a bare 7-digit run is more likely an order id.
            7 if separated => PHONE_MARK.to_string(),
            _ => c[0].to_string(),
        }
    });
    if let Cow::Owned(s) = replaced {
        out = Cow::Owned(s);
    }
    out
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
    fn an_invalid_long_number_is_still_redacted() {
        // 16 digits failing Luhn: not a card, but too long to be harmless.
        assert_eq!(redact("ref 4111 1111 1111 1112"), "ref [phone]");
    }
}

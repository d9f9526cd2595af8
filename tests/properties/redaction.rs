//! Redaction removes generated cards, phones and emails, and never panics.

use personabot::store::redact::{redact, CARD_MARK, EMAIL_MARK, PHONE_MARK};
use proptest::prelude::*;

use crate::config;
use crate::strategies::message;

/// Luhn check digit for `body` (the number without its last digit).
fn luhn_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A valid-Luhn card number of 13 to 19 digits with a real issuer prefix, as a customer would
/// type it: plain, in groups of four (Amex: 4-6-5) separated by spaces, dashes or " - ".
fn card_number() -> impl Strategy<Value = String> {
    let issuer = prop::sample::select(vec![
        ("4", vec![13, 16, 19]), // Visa
        ("51", vec![16]),        // Mastercard
        ("55", vec![16]),        // Mastercard
        ("2221", vec![16]),      // Mastercard 2-series
        ("34", vec![15]),        // Amex
        ("37", vec![15]),        // Amex
        ("6011", vec![16, 19]),  // Discover
        ("35", vec![16, 19]),    // JCB
        ("36", vec![14]),        // Diners
    ]);
    (
        issuer,
        any::<prop::sample::Index>(),
        prop::collection::vec(0u8..10, 19),
        prop::sample::select(vec!["", " ", "-", " - ", "  "]),
    )
        .prop_map(|((prefix, lengths), which, random, sep)| {
            let len = *which.get(&lengths);
            let mut digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
            digits.extend(&random[..len - 1 - digits.len()]);
            digits.push(luhn_check_digit(&digits));
            let text: Vec<char> = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let groups: Vec<String> = if len == 15 {
                [&text[..4], &text[4..10], &text[10..]]
                    .iter()
                    .map(|g| g.iter().collect())
                    .collect()
            } else {
                text.chunks(4).map(|g| g.iter().collect()).collect()
            };
            groups.join(sep)
        })
}

/// A phone number in an international or local format, 7 to 12 digits.
fn phone_number() -> impl Strategy<Value = String> {
    let template = prop::sample::select(vec![
        "+44 XX XXXX XXXX",
        "+44 (0)XX XXXX XXX",
        "+1 (XXX) XXX-XXXX",
        "+1-XXX-XXX-XXXX",
        "+49 XXX XXXXXXX",
        "+49-XX-XXXXXXX",
        "+33 X XX XX XX XX",
        "+61 X XXXX XXXX",
        "+91 XXXXX XXXXX",
        "+353 XX XXX XXXX",
        "+XXXXXXXXXXX",
        "(XXX) XXX-XXXX",
        "XXX-XXX-XXXX",
        "XXX.XXX.XXXX",
        "XXX XXX XXXX",
        "XXX-XXXX",
        "0XX XXXX XXXX",
        "0XXXX XXXXXX",
        "0XXX/XXXXXXX",
    ]);
    (template, prop::collection::vec(0u8..10, 16)).prop_map(|(template, random)| {
        let mut random = random.into_iter();
        template
            .chars()
            .map(|c| match c {
                'X' => char::from(b'0' + random.next().unwrap_or(5)),
                c => c,
            })
            .collect()
    })
}

/// An email address: dotted local parts, `+tags`, subdomains, hyphens, non-ASCII letters.
fn email_address() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9äöüé]{1,8}(\\.[a-z0-9_]{1,6})?(\\+[a-z0-9\\-]{1,6})?@([a-z0-9]{1,6}(-[a-z0-9]{1,4})?\\.){0,3}[a-z0-9]{1,10}\\.[a-z]{2,6}"
}

/// Surrounding text: words without digits or `@`, starting and ending on a separator the
/// personal data around it cannot absorb.
fn filler() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![" ", ", ", ". ", "! ", "\n", ") "]),
        "[a-zA-Zéü' ,!?]{0,20}[a-zA-Z]",
        prop::sample::select(vec![" ", ": ", ", ", "\n", " - ", "\t"]),
    )
        .prop_map(|(after, words, before)| format!("{after}{words}{before}"))
}

/// Whether `text` names a secret ("password: x", "api_key=..."), which redaction replaces even
/// without digits: in any width or case (full-width letters are letters too).
fn names_a_secret(text: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    ["pass", "pwd", "secret", "token", "key", "-----begin"]
        .iter()
        .any(|name| folded.contains(name))
}

#[derive(Debug, Clone)]
enum Personal {
    Card(String),
    Phone(String),
    Email(String),
}

impl Personal {
    fn raw(&self) -> &str {
        match self {
            Personal::Card(s) | Personal::Phone(s) | Personal::Email(s) => s,
        }
    }

    fn mark(&self) -> &'static str {
        match self {
            Personal::Card(_) => CARD_MARK,
            Personal::Phone(_) => PHONE_MARK,
            Personal::Email(_) => EMAIL_MARK,
        }
    }
}

fn personal() -> impl Strategy<Value = Personal> {
    prop_oneof![
        card_number().prop_map(Personal::Card),
        phone_number().prop_map(Personal::Phone),
        email_address().prop_map(Personal::Email),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn redaction_removes_every_card_phone_and_email(
        items in prop::collection::vec((filler(), personal()), 1..5),
        tail in prop::sample::select(vec!["", ".", " thanks", "?\n", ") ok", ", bye!"]),
    ) {
        let mut message = String::new();
        let mut expected = String::new();
        for (before, item) in &items {
            message.push_str(before);
            message.push_str(item.raw());
            expected.push_str(before);
            expected.push_str(item.mark());
        }
        message.push_str(tail);
        expected.push_str(tail);
        let redacted = redact(&message);
        for (_, item) in &items {
            prop_assert!(!redacted.contains(item.raw()), "{:?} survived in {:?}", item, redacted);
        }
        prop_assert!(
            !redacted.bytes().any(|b| b.is_ascii_digit()),
            "a digit survived in {:?}", redacted
        );
        prop_assert_eq!(redacted.as_ref(), expected.as_str(), "redaction of {:?}", message);
    }

    #[test]
    fn redaction_never_panics_and_keeps_text_without_digits_or_at_signs(text in message()) {
        let redacted = redact(&text);
        if !text.contains('@') && !text.bytes().any(|b| b.is_ascii_digit()) && !names_a_secret(&text) {
            prop_assert_eq!(redacted.as_ref(), text.as_str());
        }
    }
}

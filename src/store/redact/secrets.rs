//! Secrets customers paste into a chat: cloud and API keys, tokens, private keys and passwords.
//! Each is replaced whole by [`SECRET_MARK`](super::SECRET_MARK); for a password or a key
//! assigned to a name (`password: hunter2`, `aws_secret_access_key=...`) the value is.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::Finder;

/// A PEM private key, through its END line (or to the end of the text when that was cut off).
const PEM_PATTERN: &str =
    r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*)";
static PEM: LazyLock<Regex> = LazyLock::new(|| Regex::new(PEM_PATTERN).expect("pem regex"));

/// Tokens recognisable by their shape alone (group 1): AWS access key ids, Stripe, Slack,
/// GitHub and Google API keys, JWTs.
const TOKENS_PATTERN: &str = concat!(
    r"(?:^|[^A-Za-z0-9])(",
    r"(?:AKIA|ASIA)[A-Z0-9]{16}",
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}",
    r"|(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}",
    r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}",
    r"|github_pat_[A-Za-z0-9_]{30,}",
    r"|AIza[0-9A-Za-z_-]{35}",
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    r")"
);
static TOKENS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(TOKENS_PATTERN).expect("tokens regex"));

/// A value assigned to a secret's name (group 3); group 2 is set for the "is" form
/// ("my password is hunter2").
const ASSIGNED_PATTERN: &str = concat!(
    r"(?i)(?:^|[^a-z0-9])(password|passwd|passphrase|pwd|aws_secret_access_key|",
    r"aws_secret_key|secret_access_key|secret_key|client_secret|api_key|apikey)",
    r#"\s*(?:[:=]|(\bis\b):?)\s*["'`]?([^\s"'`]+)"#
);
static ASSIGNED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(ASSIGNED_PATTERN).expect("assigned regex"));

/// A 40-character base64 run (group 1): an AWS secret access key when "aws" or "secret" is
/// near.
const AWS_SECRET_PATTERN: &str = r"(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)";
static AWS_SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(AWS_SECRET_PATTERN).expect("aws secret regex"));

/// How far (in bytes of the view) "aws" or "secret" may be from a 40-character key.
const NEAR: usize = 80;

/// Words after "password is" that describe the password rather than give it.
const NOT_A_PASSWORD: &[&str] = &[
    "a",
    "accepted",
    "already",
    "also",
    "an",
    "being",
    "blocked",
    "broken",
    "case",
    "changed",
    "compromised",
    "correct",
    "different",
    "empty",
    "expired",
    "fine",
    "gone",
    "how",
    "in",
    "incorrect",
    "invalid",
    "it",
    "leaked",
    "locked",
    "long",
    "lost",
    "missing",
    "my",
    "no",
    "not",
    "now",
    "ok",
    "okay",
    "on",
    "rejected",
    "required",
    "reset",
    "right",
    "same",
    "saved",
    "sent",
    "set",
    "short",
    "still",
    "strong",
    "that",
    "the",
    "this",
    "too",
    "valid",
    "weak",
    "what",
    "working",
    "wrong",
    "your",
];

fn group(c: &Captures<'_>, n: usize) -> Option<Range<usize>> {
    c.get(n).map(|m| m.range())
}

/// The secret detectors' patterns, for [`super::may_hold`].
pub(super) const PATTERNS: [&str; 4] = [
    PEM_PATTERN,
    TOKENS_PATTERN,
    ASSIGNED_PATTERN,
    AWS_SECRET_PATTERN,
];

/// Marks every secret in the finder's text.
pub(super) fn find(f: &mut Finder) {
    f.pass(&PEM, |_, c| group(c, 0));
    f.pass(&TOKENS, |_, c| group(c, 1));
    f.pass(&ASSIGNED, |_, c| {
        let value = c.get(3)?;
        if c.get(2).is_some() {
            let word = value
                .as_str()
                .trim_end_matches(|ch: char| ch.is_ascii_punctuation())
                .to_ascii_lowercase();
            if word.is_empty() || NOT_A_PASSWORD.contains(&word.as_str()) {
                return None;
            }
        }
        Some(value.range())
    });
    f.pass(&AWS_SECRET, |text, c| {
        let key = c.get(1)?;
        let s = key.as_str();
        let mixed = s.bytes().any(|b| b.is_ascii_uppercase())
            && s.bytes().any(|b| b.is_ascii_lowercase())
            && s.bytes()
                .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+');
        (mixed && near_aws_words(text, key.range())).then(|| key.range())
    });
}

/// Whether "aws" or "secret" (any case) is within [`NEAR`] bytes of `key` in `text`.
fn near_aws_words(text: &str, key: Range<usize>) -> bool {
    let mut start = key.start.saturating_sub(NEAR);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (key.end + NEAR).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let around = text[start..end].to_ascii_lowercase();
    around.contains("aws") || around.contains("secret")
}

#[cfg(test)]
mod tests {
    use super::super::redact;

    /// Test secrets are assembled from parts, so no scanner mistakes this file for a leak.
    fn join(parts: &[&str]) -> String {
        parts.concat()
    }

    #[test]
    fn every_kind_of_secret_is_redacted() {
        let aws_secret = join(&["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY"]);
        let jwt = join(&[
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0.",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ]);
        let pem = join(&[
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n",
            "kPbVLzLWg5ZyS6a\n-----END RSA PRIVATE KEY-----",
        ]);
        let cases: Vec<(String, String)> = vec![
            (
                join(&["my key is ", "AKIAIOSFODNN7EXAMPLE", " ok"]),
                "my key is [secret] ok".into(),
            ),
            (
                join(&["temp key ", "ASIAY34FZKBOKMUTVV7A", "."]),
                "temp key [secret].".into(),
            ),
            (
                format!("aws secret {aws_secret} thanks"),
                "aws secret [secret] thanks".into(),
            ),
            (
                format!("aws_secret_access_key={aws_secret}"),
                "aws_secret_access_key=[secret]".into(),
            ),
            (
                format!("AWS_SECRET_ACCESS_KEY = \"{aws_secret}\""),
                "AWS_SECRET_ACCESS_KEY = \"[secret]\"".into(),
            ),
            (
                join(&["stripe ", "sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"]),
                "stripe [secret]".into(),
            ),
            (
                join(&[
                    "test ",
                    "sk_test_",
                    "51H8xYzAbCdEfGhIj",
                    " and ",
                    "rk_live_",
                    "abcdEFGH1234",
                ]),
                "test [secret] and [secret]".into(),
            ),
            (
                join(&["pk ", "pk_live_", "TYooMQauvdEDq54NiTphI7jx"]),
                "pk [secret]".into(),
            ),
            (
                join(&["bot ", "xoxb-", "2648461-1234567890123-AbCdEfGhIjKlMnOp"]),
                "bot [secret]".into(),
            ),
            (
                join(&["user ", "xoxp-", "1234-5678-91011-abcdef0123456789"]),
                "user [secret]".into(),
            ),
            (
                join(&["app ", "xapp-", "1-A0123456789-1234567890-abcdef"]),
                "app [secret]".into(),
            ),
            (
                join(&["token ", "xoxa-", "2-abcdefghijklmnop"]),
                "token [secret]".into(),
            ),
            (
                join(&["gh ", "ghp_", "1234567890abcdefghijABCDEFGHIJ123456"]),
                "gh [secret]".into(),
            ),
            (
                join(&["oauth ", "gho_", "16C7e42F292c6912E7710c838347Ae178B4a"]),
                "oauth [secret]".into(),
            ),
            (
                join(&[
                    "u ",
                    "ghu_",
                    "abcdefghijABCDEFGHIJ0123456789abcd",
                    " s ",
                    "ghs_",
                    "abcdefghijABCDEFGHIJ0123456789abcd",
                ]),
                "u [secret] s [secret]".into(),
            ),
            (
                join(&["r ", "ghr_", "abcdefghijABCDEFGHIJ0123456789abcd"]),
                "r [secret]".into(),
            ),
            (
                join(&[
                    "pat ",
                    "github_pat_",
                    "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
                ]),
                "pat [secret]".into(),
            ),
            (
                join(&["maps key ", "AIza", "SyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"]),
                "maps key [secret]".into(),
            ),
            (format!("Bearer {jwt}"), "Bearer [secret]".into()),
            (
                format!("here:\n{pem}\nthanks"),
                "here:\n[secret]\nthanks".into(),
            ),
            (
                join(&[
                    "cut off ",
                    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
                ]),
                "cut off [secret]".into(),
            ),
            (
                join(&[
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n",
                    "-----END OPENSSH PRIVATE KEY-----",
                ]),
                "[secret]".into(),
            ),
            ("password: hunter2".into(), "password: [secret]".into()),
            (
                "Password:hunter2 thanks".into(),
                "Password:[secret] thanks".into(),
            ),
            ("passwd=s3cr3t!".into(), "passwd=[secret]".into()),
            (
                "login with pwd=abc and user bob".into(),
                "login with pwd=[secret] and user bob".into(),
            ),
            (
                "my password is Tr0ub4dor&3".into(),
                "my password is [secret]".into(),
            ),
            (
                "my password is: letmein".into(),
                "my password is: [secret]".into(),
            ),
            (
                "db_password = 'correcthorse'".into(),
                "db_password = '[secret]'".into(),
            ),
            ("api_key: abcdef123456".into(), "api_key: [secret]".into()),
        ];
        for (input, expected) in &cases {
            assert_eq!(redact(input), expected.as_str(), "input {input:?}");
        }
    }

    #[test]
    fn disguised_secrets_are_redacted() {
        let cases: Vec<(String, &str)> = vec![
            (
                join(&["key \u{ff21}\u{ff2b}\u{ff29}\u{ff21}", "IOSFODNN7EXAMPLE"]),
                "key [secret]",
            ),
            (
                join(&["key AKIA\u{200b}IOSF", "ODNN7EXAMPLE"]),
                "key [secret]",
            ),
            ("password:\u{a0}hunter2".into(), "password:\u{a0}[secret]"),
            ("password\t=\thunter2".into(), "password\t=\t[secret]"),
        ];
        for (input, expected) in &cases {
            assert_eq!(redact(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn talk_about_secrets_is_not_redacted() {
        let cases = [
            "I forgot my password",
            "my password is not working",
            "my password is wrong, can you reset it?",
            "the password is too short",
            "my password is expired.",
            "how do I rotate my aws keys?",
            "what is a secret key anyway",
            "the commit 3f2a9c4e1b7d8a6f5e4c3b2a1f0e9d8c7b6a5f4e is broken, secret",
            "the task_test_suite passed",
            "BEGIN PRIVATE KEY is the header I see",
            "an eyJ without dots",
            "Asia is big, AKIA too",
        ];
        for input in cases {
            assert_eq!(redact(input), input, "input {input:?}");
        }
    }
}

//! A contact email in a customer's reply, pure and strict: the one address a message holds,
//! checked on the raw text (before redaction) against a conservative form of RFC 5321
//! (`local@domain.tld`, ASCII, no quoted local parts, no IP literals).

/// The longest address accepted (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;
/// The longest local part.
const MAX_LOCAL: usize = 64;
/// The longest domain label.
const MAX_LABEL: usize = 63;

/// The email address in `text`, when it holds exactly one valid address (trailing punctuation
/// such as "dana@example.com." is allowed); lower-cased in its domain.
pub fn email_in(text: &str) -> Option<String> {
    let mut found = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')'))
        .map(|w| {
            w.trim_matches(['"', '\''])
                .trim_end_matches(['.', '!', '?', ':'])
        })
        .filter(|w| w.contains('@'));
    let candidate = found.next()?;
    if found.next().is_some() {
        return None; // two addresses: do not guess
    }
    let candidate = candidate.strip_prefix("mailto:").unwrap_or(candidate);
    valid(candidate).then(|| {
        let (local, domain) = candidate.split_once('@').unwrap_or((candidate, ""));
        format!("{local}@{}", domain.to_ascii_lowercase())
    })
}

/// Whether `address` is a plain `local@domain.tld` address.
pub fn valid(address: &str) -> bool {
    if address.len() > MAX_EMAIL {
        return false;
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= MAX_LOCAL
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-'".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

#[cfg(test)]
mod tests {
    use super::email_in;

    #[test]
    fn the_one_valid_address_is_taken() {
        let cases: &[(&str, Option<&str>)] = &[
            ("dana@hearth.example", Some("dana@hearth.example")),
            (
                "  dana.doe+chat@Mail.Example.COM  ",
                Some("dana.doe+chat@mail.example.com"),
            ),
            ("sure, it's dana@example.org.", Some("dana@example.org")),
            (
                "write to <jo_o'neil@sub.example.co.uk>",
                Some("jo_o'neil@sub.example.co.uk"),
            ),
            ("mailto:pat@example.com", Some("pat@example.com")),
            ("no thanks", None),
            ("dana at example dot com", None),
            ("@example.com", None),
            ("dana@", None),
            ("dana@example", None),
            ("dana@example.c", None),
            ("dana@example.123", None),
            ("dana@@example.com", None),
            (".dana@example.com", None),
            ("da..na@example.com", None),
            ("dana@-example.com", None),
            ("dana@exa_mple.com", None),
            ("dana@[127.0.0.1]", None),
            ("jürgen@example.de", None),
            ("a@example.com or b@example.com", None),
            ("the price is 5@10", None),
        ];
        for (text, want) in cases {
            assert_eq!(email_in(text).as_deref(), *want, "{text:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(email_in(&long), None);
    }
}

//! Ids that would carry personal data into the store: a conversation id or channel name holding
//! an email, a phone number (or any other data [`redact`](super::redact) finds) is stored as a
//! keyed hash, `id-<32 hex>`, instead. The ids Discord, Slack and Telegram issue (numbers,
//! `C0123/1700000000.000100`) are kept: their channels deliver replies with them, and so are
//! generated ids (UUIDs, the web chat's `web-<32 hex>`) whose digits merely look like a phone
//! number.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::redact::holds_personal_data;

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("uuid regex")
});
static LONG_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9]{16,}").expect("token regex"));

/// The prefix of a hashed id.
pub(crate) const HASHED_PREFIX: &str = "id-";

/// Whether `id` (a conversation id on `channel`, or a channel name when `channel` is empty)
/// must be hashed before it is stored.
pub(crate) fn needs_hashing(channel: &str, id: &str) -> bool {
    !is_hashed(id) && !is_platform_id(channel, id) && holds_personal_data(&without_random_parts(id))
}

/// `id` with its random-looking parts (UUIDs, runs of 16 or more letters and digits that mix
/// both) as `x`: generated, not personal, though their digit runs may look like a phone number.
fn without_random_parts(id: &str) -> Cow<'_, str> {
    if id.len() < 16 {
        return Cow::Borrowed(id); // both patterns need 16 characters or more
    }
    let id = UUID.replace_all(id, "x");
    let tokens = LONG_TOKEN.replace_all(&id, |c: &regex::Captures<'_>| {
        let t = &c[0];
        if t.bytes().any(|b| b.is_ascii_digit()) && t.bytes().any(|b| b.is_ascii_alphabetic()) {
            "x".to_string()
        } else {
            t.to_string()
        }
    });
    match tokens {
        Cow::Borrowed(_) => id,
        Cow::Owned(t) => Cow::Owned(t),
    }
}

/// `id-` and 32 lowercase hex digits: already hashed.
fn is_hashed(id: &str) -> bool {
    id.strip_prefix(HASHED_PREFIX).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A conversation id in the form the platform channel itself makes: Discord `channel[/user]`
/// snowflakes, Telegram `chat[/topic]` numbers, Slack `CHANNEL/thread_ts`.
fn is_platform_id(channel: &str, id: &str) -> bool {
    let (head, tail) = match id.split_once('/') {
        Some((h, t)) => (h, Some(t)),
        None => (id, None),
    };
    match channel {
        "discord" => digits(head) && tail.is_none_or(digits),
        "telegram" => digits(head.strip_prefix('-').unwrap_or(head)) && tail.is_none_or(digits),
        "slack" => {
            let channel_ok = !head.is_empty()
                && head
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            let ts_ok = tail
                .and_then(|t| t.split_once('.'))
                .is_some_and(|(secs, micros)| digits(secs) && digits(micros));
            channel_ok && ts_ok
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_ids_are_hashed() {
        let cases = [
            ("web", "jane@example.com", true),
            ("web", "chat-+44 20 7946 0958", true),
            ("bridge", "14155552671", true),
            ("bridge", "14155552671@s.whatsapp.net", true),
            ("", "alice@example.com", true),
            ("", "matrix", false),
            ("web", "web-3f2a9c4e", false),
            ("web", "web-3f2a912345678901c4e5d6a7b8c9d0e1", false),
            ("bridge", "123e4567-e89b-12d3-a456-426614174000", false),
            ("bridge", "customer+14155552671", true),
            ("bridge", "tel14155552671", true),
            ("bridge", "4111111111111111", true),
            ("http", "victim-conv-0", false),
            ("bench", "w1-5", false),
            ("bench", "u+14155552671", true),
            ("web", "id-0123456789abcdef0123456789abcdef", false),
            ("web", "id-0123456789ABCDEF0123456789ABCDEF", false),
            ("discord", "1234567890123456789", false),
            ("discord", "1234567890123456789/9876543210987654321", false),
            ("discord", "jane@example.com", true),
            ("telegram", "-1001234567890", false),
            ("telegram", "123456789/42", false),
            ("telegram", "+44 20 7946 0958", true),
            ("slack", "C0SUPPORT/1700000007.000100", false),
            ("slack", "c0support/1700000007.000100", true),
            ("slack", "+447946095812", true),
        ];
        for (channel, id, hashed) in cases {
            assert_eq!(needs_hashing(channel, id), hashed, "{channel:?} {id:?}");
        }
    }
}

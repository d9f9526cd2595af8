//! `/note TEXT` in a ticket's thread: an agent's internal note, kept on the ticket and never
//! sent to the customer (where a plain message in the thread is a reply to them).

/// What an agent's message in a ticket thread is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadMessage<'a> {
    /// Not for the customer and not kept: empty, `//` chatter, or a `/note` without text.
    Ignore,
    /// `/note TEXT`: an internal note (`TEXT`, trimmed).
    Note(&'a str),
    /// Anything else: a reply to the customer.
    Reply(&'a str),
}

/// Reads an agent's message in a ticket thread. `/note` is matched case-insensitively and must
/// stand alone (`/notes` is a reply).
pub fn thread_message(text: &str) -> ThreadMessage<'_> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("//") {
        return ThreadMessage::Ignore;
    }
    let head = text.get(..5).unwrap_or_default();
    if head.eq_ignore_ascii_case("/note") {
        let rest = &text[5..];
        if rest.is_empty() || rest.starts_with(char::is_whitespace) {
            let note = rest.trim();
            return if note.is_empty() {
                ThreadMessage::Ignore
            } else {
                ThreadMessage::Note(note)
            };
        }
    }
    ThreadMessage::Reply(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_thread_messages() {
        use ThreadMessage::*;
        let cases = [
            ("", Ignore),
            ("   ", Ignore),
            ("// just between us", Ignore),
            ("/note", Ignore),
            ("/note   ", Ignore),
            ("/note VIP customer", Note("VIP customer")),
            ("  /NOTE\ncheck the invoice  ", Note("check the invoice")),
            ("/Note: x", Reply("/Note: x")),
            ("/notes are great", Reply("/notes are great")),
            (
                "Hi, your refund is on its way",
                Reply("Hi, your refund is on its way"),
            ),
            ("/noté", Reply("/noté")),
            ("é", Reply("é")),
        ];
        for (text, want) in cases {
            assert_eq!(thread_message(text), want, "{text:?}");
        }
    }
}

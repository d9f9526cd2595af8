//! The table: the bad inputs (cases), the channels (columns), the outcomes each accepts, and
//! the limits and probe texts every cell shares.

use std::time::Duration;

/// What one case sends.
#[derive(Clone, Debug)]
pub(crate) enum Input {
    /// One message with this text.
    Text(String),
    /// One message whose JSON body carries these bytes, unescaped, as the text (not UTF-8). The
    /// terminal gets them as a line on stdin. The Discord gateway cannot carry them (its frames
    /// are UTF-8 text by protocol), so the Discord fake sends the lossy decoding, as a real
    /// client's bytes would arrive after Discord's own validation.
    Bytes(Vec<u8>),
    /// `count` messages from one user in one conversation, sent as fast as the channel takes them.
    Flood { count: usize, text: &'static str },
    /// `count` messages (`text #k`) to one conversation at once.
    Concurrent { count: usize, text: &'static str },
}

/// The channels (the matrix's columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chan {
    Terminal,
    Http,
    Slack,
    Telegram,
    Discord,
    /// In an accept list: every channel without its own line.
    Any,
}

pub(crate) const CHANNELS: [Chan; 5] = [
    Chan::Terminal,
    Chan::Http,
    Chan::Slack,
    Chan::Telegram,
    Chan::Discord,
];

impl Chan {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Chan::Terminal => "terminal",
            Chan::Http => "http",
            Chan::Slack => "slack",
            Chan::Telegram => "telegram",
            Chan::Discord => "discord",
            Chan::Any => "any",
        }
    }
}

/// An accepted outcome of a (case, channel), on top of the invariants every cell checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Pipeline answers, every one of them stored.
    Answer,
    /// The polite "your message looks empty" (not a turn: nothing stored).
    EmptyNotice,
    /// An HTTP status with a JSON `{"error": ...}` containing this text; nothing stored.
    Refused(u16, &'static str),
    /// A clear error line (terminal) containing this text; nothing stored.
    ErrorLine(&'static str),
    /// Not answered: the platform never delivers it (Slack has no empty messages); nothing stored.
    Ignored,
    /// Per-user rate limit: at most `limits.flood_messages` answered, one polite notice (or 429
    /// with a JSON error for each refused request), the rest dropped.
    FloodLimited,
}

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) input: Input,
    /// Accepted outcomes: the first line for the channel, else the `Chan::Any` line.
    accept: &'static [(Chan, Accept)],
}

impl Case {
    pub(crate) fn accepts(&self, chan: Chan) -> Accept {
        self.accept
            .iter()
            .find(|(c, _)| *c == chan)
            .or_else(|| self.accept.iter().find(|(c, _)| *c == Chan::Any))
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("case {:?} says nothing for {chan:?}", self.name))
    }
}

/// `limits.flood_messages` (the shipped default); the window is made an hour long in every
/// harness so the counts are exact however slow the machine is.
pub(crate) const FLOOD_LIMIT: usize = 8;
pub(crate) const FLOOD_WINDOW_SECS: &str = "3600";
/// Messages in the flood case: the full 10,000 on every channel.
const FLOOD: usize = 10_000;
/// Messages sent at once in the concurrency case (at most the flood limit, so all are served).
const CONCURRENT: usize = FLOOD_LIMIT;

/// Longest wait for a fake channel's replies. Generous: after the flood, a channel first works
/// through its backlog (10,000 gateway events or queued webhook jobs) before the probe's turn,
/// which on a busy machine in a debug build can take a while.
pub(crate) const WAIT: Duration = Duration::from_secs(120);

/// The normal message sent after every case: the channel must still answer it.
pub(crate) const PROBE: &str = "I forgot my password";
pub(crate) const PROBE_ANSWER: &str = "reset";
pub(crate) const EMPTY_NOTICE: &str = "looks empty";
pub(crate) const FLOOD_NOTICE: &str = "faster than I can keep up";

/// Markup that must never come back to a customer from their own text.
pub(crate) const ECHO_MARKERS: [&str; 7] =
    ["@everyone", "@here", "<@", "<!", "](", "\u{202E}", "\u{0}"];

/// `text` without the catalog's own markdown links (answers may link to the shipped catalog's
/// `hearth.example` pages and addresses): what is left must carry no live markup. A link to
/// anywhere else (`[https://hearth.example/billing](https://evil.example/phish)`) stays.
pub(crate) fn without_bot_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let url = &after[..end];
        let host = url
            .strip_prefix("https://")
            .map(|u| u.split('/').next().unwrap_or(""))
            .or_else(|| {
                url.strip_prefix("mailto:")
                    .and_then(|m| m.split_once('@'))
                    .map(|(_, h)| h)
            });
        let ours = host.is_some_and(|h| h == "hearth.example" || h.ends_with(".hearth.example"));
        out.push_str(&rest[..at]);
        if ours {
            out.push_str(&after[..end]);
        } else {
            out.push_str("](");
            out.push_str(url);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn one_mb_text() -> String {
    let mut text = String::from("I want a refund ");
    while text.len() < 1024 * 1024 {
        text.push_str("and more words ");
    }
    text
}

fn zalgo(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            std::iter::once(c).chain((0..40u32).map(|k| char::from_u32(0x300 + k).unwrap()))
        })
        .collect()
}

pub(crate) fn cases() -> Vec<Case> {
    use Accept::*;
    use Chan::*;
    vec![
        Case {
            name: "empty text",
            input: Input::Text(String::new()),
            accept: &[(Slack, Ignored), (Any, EmptyNotice)],
        },
        Case {
            name: "only whitespace",
            input: Input::Text(" \t \u{3000} \u{a0}  ".into()),
            accept: &[(Slack, Ignored), (Any, EmptyNotice)],
        },
        Case {
            name: "only emoji",
            input: Input::Text("🙂🔥👍🏽🇺🇦👨‍👩‍👧".into()),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "1 MB of text",
            input: Input::Text(one_mb_text()),
            accept: &[
                // Cut to limits.max_message_chars and answered.
                (Terminal, Answer),
                // Over http.max_body_bytes (64 KiB): every webhook body too.
                (Http, Refused(413, "too large")),
                (Slack, Refused(413, "too large")),
                (Telegram, Refused(413, "too large")),
                // The gateway delivers it; cut and answered.
                (Discord, Answer),
            ],
        },
        Case {
            name: "invalid UTF-8 bytes",
            input: Input::Bytes(b"\xff\xfe\xc3( how much is the growth plan \xed\xa0\x80".to_vec()),
            accept: &[
                (Terminal, ErrorLine("not valid UTF-8")),
                (Http, Refused(400, "invalid JSON")),
                (Slack, Refused(400, "invalid JSON")),
                (Telegram, Refused(400, "invalid Telegram update")),
                (Discord, Answer),
            ],
        },
        Case {
            name: "NUL and control characters",
            input: Input::Text(
                "\u{0}\u{1}\u{7}\u{1b}[31m how much is the growth plan \u{8}\u{7f}\u{9b}2J\u{0}"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "zalgo / combining marks",
            input: Input::Text(zalgo("how much is the growth plan")),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "right-to-left override",
            input: Input::Text(
                "\u{202E}nalp htworg eht si hcum woh\u{202C} how much is the growth plan \u{202E}gpj.exe"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            // Opens a ticket, so Discord echoes the text into the team channel's ticket message.
            name: "mention injection",
            input: Input::Text(
                "@everyone @here <@&5001> <@1234> <!channel> <!here> <!everyone> \
                 <!subteam^S0TEAM|@agents> <@U0OTHER> I want a refund"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            // Opens a ticket too, so Discord echoes the links into the ticket message.
            name: "markdown link spoofing",
            input: Input::Text(
                "I want a refund: [https://hearth.example/billing](https://evil.example/phish) \
                 <https://evil.example/phish|https://hearth.example/billing>"
                    .into(),
            ),
            accept: &[(Any, Answer)],
        },
        Case {
            name: "10,000-message flood",
            input: Input::Flood {
                count: FLOOD,
                text: "how much is it",
            },
            // The terminal is the operator's own console (one local user): no rate limit, every
            // line is answered and stored.
            accept: &[(Terminal, Answer), (Any, FloodLimited)],
        },
        Case {
            name: "concurrent, one conversation",
            input: Input::Concurrent {
                count: CONCURRENT,
                text: "I want a refund",
            },
            accept: &[(Any, Answer)],
        },
    ]
}

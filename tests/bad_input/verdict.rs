//! What a cell saw (`Seen`) and its verdict: the accepted outcomes, the invariants every cell
//! checks, and the store checks of the concurrency case.

use personabot::store::{Actor, InteractionFilter, Store, TicketStatus};

use crate::table::{
    without_bot_links, Accept, Case, Chan, ECHO_MARKERS, EMPTY_NOTICE, FLOOD_LIMIT, FLOOD_NOTICE,
};

/// What one (case, channel) observed.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Pipeline answers the customer got: the messages the bot acknowledged.
    answers: usize,
    empty_notices: usize,
    flood_notices: usize,
    /// Clear errors: (HTTP status or `None` for an error line, the error text).
    pub(crate) errors: Vec<(Option<u16>, String)>,
    /// Requests refused by the rate limit (HTTP 429).
    pub(crate) limited: usize,
    /// Interactions the store holds for the case's conversation(s).
    pub(crate) stored: usize,
    /// Broken invariants (unsafe payloads, inconsistent state, no answer to the probe...).
    pub(crate) problems: Vec<String>,
    /// Extra facts for the matrix (e.g. a ticket echo checked inert).
    pub(crate) notes: Vec<String>,
}

impl Seen {
    pub(crate) fn problem(&mut self, p: impl Into<String>) {
        self.problems.push(p.into());
    }

    /// Checks a reply text sent to the customer: none of their markup comes back.
    pub(crate) fn check_reply(&mut self, reply: &str) {
        let reply = without_bot_links(reply);
        let reply = reply.as_str();
        for m in ECHO_MARKERS {
            if reply.to_lowercase().contains(m) {
                self.problem(format!("reply echoes {m:?}: {:.120}", reply));
            }
        }
    }

    /// Counts one reply text by kind.
    pub(crate) fn count_reply(&mut self, reply: &str) {
        self.check_reply(reply);
        if reply.contains(EMPTY_NOTICE) {
            self.empty_notices += 1;
        } else if reply.contains(FLOOD_NOTICE) {
            self.flood_notices += 1;
        } else {
            self.answers += 1;
        }
    }
}

fn accepted(accept: Accept, seen: &Seen) -> Result<String, String> {
    let answered = seen.answers;
    let errors = || {
        seen.errors
            .iter()
            .map(|(s, e)| format!("{}{e:.60}", s.map(|s| format!("{s} ")).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match accept {
        Accept::Answer if answered > 0 && seen.errors.is_empty() => {
            Ok(format!("answered {answered}, stored {}", seen.stored))
        }
        Accept::EmptyNotice if seen.empty_notices == 1 && answered == 0 => {
            Ok("polite \"looks empty\", nothing stored".into())
        }
        Accept::Refused(status, needle)
            if answered == 0
                && !seen.errors.is_empty()
                && seen
                    .errors
                    .iter()
                    .all(|(s, e)| *s == Some(status) && e.contains(needle)) =>
        {
            Ok(format!("{status} JSON error \"{needle}\", nothing stored"))
        }
        Accept::ErrorLine(needle)
            if answered == 0
                && !seen.errors.is_empty()
                && seen
                    .errors
                    .iter()
                    .all(|(s, e)| s.is_none() && e.contains(needle)) =>
        {
            Ok(format!("error line \"{needle}\", session goes on"))
        }
        Accept::Ignored if answered == 0 && seen.empty_notices == 0 && seen.errors.is_empty() => {
            Ok("ignored (never sent by the platform), nothing stored".into())
        }
        Accept::FloodLimited
            if (1..=FLOOD_LIMIT).contains(&answered)
                && (seen.flood_notices == 1 || (seen.flood_notices == 0 && seen.limited > 0)) =>
        {
            Ok(if seen.limited > 0 {
                format!(
                    "{answered} answered, {} x 429 JSON error, {} stored",
                    seen.limited, seen.stored
                )
            } else {
                format!(
                    "{answered} answered + 1 notice, rest dropped, {} stored",
                    seen.stored
                )
            })
        }
        _ => Err(format!(
            "expected {accept:?}, saw {answered} answers, {} empty notices, {} flood notices, \
             {} x 429, errors [{}]",
            seen.empty_notices,
            seen.flood_notices,
            seen.limited,
            errors()
        )),
    }
}

/// The cell's verdict: an accepted outcome, nothing lost, no broken invariant.
pub(crate) fn verdict(case: &Case, chan: Chan, seen: &Seen) -> Result<String, String> {
    let mut problems = seen.problems.clone();
    if seen.stored != seen.answers {
        problems.push(format!(
            "{} acknowledged but {} stored ({} lost)",
            seen.answers,
            seen.stored,
            seen.answers as i64 - seen.stored as i64
        ));
    }
    match accepted(case.accepts(chan), seen) {
        Ok(outcome) if problems.is_empty() => {
            let mut out = outcome;
            for n in &seen.notes {
                out.push_str("; ");
                out.push_str(n);
            }
            Ok(out)
        }
        Ok(outcome) => Err(format!("{outcome}; {}", problems.join("; "))),
        Err(e) => Err([e]
            .into_iter()
            .chain(problems)
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Consistency of one conversation after concurrent messages (`text #k`, k = 0..count): every
/// acknowledged message stored once, at most one open ticket, and the ticket's transcript holds
/// each customer line once, in the order of the stored interactions.
pub(crate) fn check_concurrent(store: &Store, channel: &str, conversation: &str, seen: &mut Seen) {
    let mut stored: Vec<_> = store
        .interactions(&InteractionFilter::default())
        .expect("read interactions")
        .into_iter()
        .filter(|i| i.channel == channel && i.conversation == conversation)
        .collect();
    stored.sort_by_key(|i| i.id);
    let mut texts: Vec<&str> = stored.iter().map(|i| i.text.as_str()).collect();
    texts.sort();
    texts.dedup();
    if texts.len() != stored.len() {
        seen.problem("a message was stored twice");
    }
    let tickets: Vec<_> = store
        .tickets(None, None)
        .expect("read tickets")
        .into_iter()
        .filter(|t| t.channel == channel && t.conversation == conversation)
        .collect();
    let open = tickets
        .iter()
        .filter(|t| t.status != TicketStatus::Resolved)
        .count();
    if open > 1 {
        seen.problem(format!("{open} open tickets in one conversation"));
    }
    if let Some(t) = tickets.first() {
        let customer: Vec<&str> = t
            .transcript
            .iter()
            .filter(|l| l.from == Actor::Customer)
            .map(|l| l.text.as_str())
            .collect();
        let by_id: Vec<&str> = stored.iter().map(|i| i.text.as_str()).collect();
        if customer != by_id {
            seen.problem(format!(
                "ticket transcript {customer:?} differs from the stored turns {by_id:?}"
            ));
        }
        if t.transcript.windows(2).any(|w| w[0].at_ms > w[1].at_ms) {
            seen.problem("ticket transcript out of order");
        }
        if stored.iter().any(|i| i.ticket != Some(t.id)) {
            seen.problem("a turn is not linked to the conversation's ticket");
        }
    }
    let state = store
        .conversation(channel, conversation)
        .expect("conversation state");
    if state.turns as usize != stored.len() {
        seen.problem(format!(
            "conversation counts {} turns, {} stored",
            state.turns,
            stored.len()
        ));
    }
    if state.open_ticket.as_ref().map(|o| o.id) != tickets.first().map(|t| t.id) {
        seen.problem("the conversation's open ticket is not its ticket");
    }
    seen.notes.push(format!(
        "{} ticket(s), transcript = stored order",
        tickets.len()
    ));
}

pub(crate) fn stored_in(store: &Store, channel: &str, conversation: &str) -> usize {
    store
        .interactions(&InteractionFilter::default())
        .expect("read interactions")
        .iter()
        .filter(|i| i.channel == channel && i.conversation == conversation)
        .count()
}

/// Replaces the JSON string `"@@RAW@@"` in `json` by `raw`, unescaped, in quotes.
pub(crate) fn with_raw_text(json: &str, raw: &[u8]) -> Vec<u8> {
    let (before, after) = json
        .split_once("@@RAW@@")
        .expect("the placeholder is in the JSON");
    [before.as_bytes(), raw, after.as_bytes()].concat()
}

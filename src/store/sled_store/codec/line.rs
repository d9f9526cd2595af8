//! Transcript lines (a conversation's recent lines, a ticket's transcript) as written: the bot's
//! lines with their known texts by reference ([`super::texts`]), customers' and agents' as
//! written.

use serde::{Deserialize, Serialize};

use super::texts::{StoredText, StoredTextIn, Texts};
use super::StoreError;
use crate::core::conversation::{Actor, TranscriptLine};

/// Who wrote a line, as written (an enum postcard can encode: the JSON form is adjacently
/// tagged).
#[derive(Serialize)]
enum ActorOut<'a> {
    Customer,
    Bot,
    Agent(&'a str),
}

#[derive(Deserialize)]
enum ActorIn {
    Customer,
    Bot,
    Agent(String),
}

impl ActorIn {
    fn actor(self) -> Actor {
        match self {
            ActorIn::Customer => Actor::Customer,
            ActorIn::Bot => Actor::Bot,
            ActorIn::Agent(name) => Actor::Agent(name),
        }
    }
}

#[derive(Serialize)]
pub(super) struct LineOut<'a> {
    at_ms: u64,
    from: ActorOut<'a>,
    text: StoredText<'a>,
    user: &'a Option<String>,
}

/// `line` as written to the store.
pub(super) fn line_out<'a>(line: &'a TranscriptLine, texts: &Texts) -> LineOut<'a> {
    let (from, text) = match &line.from {
        Actor::Customer => (ActorOut::Customer, StoredText::Plain(&line.text)),
        Actor::Bot => (ActorOut::Bot, texts.encode(&line.text)),
        Actor::Agent(name) => (ActorOut::Agent(name), StoredText::Plain(&line.text)),
    };
    LineOut {
        at_ms: line.at_ms,
        from,
        text,
        user: &line.user,
    }
}

/// A line as read from the current form.
#[derive(Deserialize)]
pub(super) struct LineIn {
    at_ms: u64,
    from: ActorIn,
    text: StoredTextIn,
    user: Option<String>,
}

/// A line as read from the first binary form (its text inline).
#[derive(Deserialize)]
pub(super) struct LineInV1 {
    at_ms: u64,
    from: ActorIn,
    text: String,
    user: Option<String>,
}

/// A stored line, made whole.
pub(super) trait StoredLine {
    fn line(self) -> Result<TranscriptLine, StoreError>;
}

impl StoredLine for LineIn {
    fn line(self) -> Result<TranscriptLine, StoreError> {
        Ok(TranscriptLine {
            at_ms: self.at_ms,
            from: self.from.actor(),
            text: self.text.resolve()?,
            user: self.user,
        })
    }
}

impl StoredLine for LineInV1 {
    fn line(self) -> Result<TranscriptLine, StoreError> {
        Ok(TranscriptLine {
            at_ms: self.at_ms,
            from: self.from.actor(),
            text: self.text,
            user: self.user,
        })
    }
}

/// Stored lines, made whole.
pub(super) fn lines<L: StoredLine>(stored: Vec<L>) -> Result<Vec<TranscriptLine>, StoreError> {
    stored.into_iter().map(StoredLine::line).collect()
}

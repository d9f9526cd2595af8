//! The catalog's model: personas (who is asking), intents (what they want), their keywords,
//! patterns, routes and answers, and the teams tickets go to. Plain data; loading and
//! validating it from TOML files is [`crate::catalog`]'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Whether a persona describes a buyer, a product user, or a website visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PersonaKind {
    Buyer,
    #[default]
    User,
    Website,
}

impl PersonaKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "buyer" => Some(Self::Buyer),
            "user" => Some(Self::User),
            "website" => Some(Self::Website),
            _ => None,
        }
    }
}

/// One weighted term of a keyword profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyword {
    /// The term as written in the file.
    pub term: String,
    /// Its normalised words.
    pub words: Vec<String>,
    /// Added to the score on each hit (negative counts against).
    pub weight: f32,
    /// Matches only as written: no other forms, no typos (listed in the file's `exact`).
    pub exact: bool,
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Persona {
    pub id: String,
    pub name: String,
    pub kind: PersonaKind,
    /// Who reviews this persona's evidence.
    pub owner: String,
    pub who: String,
    pub age: String,
    pub location: String,
    pub goals: Vec<String>,
    pub challenges: Vec<String>,
    /// Minimum confidence; `None` means the settings default.
    pub threshold: Option<f64>,
    pub keywords: Vec<Keyword>,
    /// Soft cues with numbers ("40 agents", "300 seats", "the four of us").
    pub patterns: Vec<Pattern>,
    pub path: PathBuf,
}

/// A weighted regular expression rule of an intent or a persona.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub regex: String,
    pub weight: f32,
}

/// How an intent (or one persona's view of it) is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// A self-help answer; a ticket for the team if it did not help.
    Answer,
    /// A ticket for the team (any answer text is shown first).
    Ticket,
    /// A ticket for the team of the conversation's intent, else for the rule's team.
    Escalate,
    /// Outside what the bot handles (an out-of-scope intent): a fallback that shows the intent's
    /// answer (what the bot can help with) instead of asking to rephrase.
    Fallback,
}

impl RouteKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "answer" => Some(Self::Answer),
            "ticket" => Some(Self::Ticket),
            "escalate" => Some(Self::Escalate),
            "fallback" => Some(Self::Fallback),
            _ => None,
        }
    }
}

impl fmt::Display for RouteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Answer => "answer",
            Self::Ticket => "ticket",
            Self::Escalate => "escalate",
            Self::Fallback => "fallback",
        })
    }
}

/// The resolved route of an intent for one persona.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub kind: RouteKind,
    pub team: String,
}

/// A per-persona override; unset parts inherit the intent's rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteOverride {
    pub kind: Option<RouteKind>,
    pub team: Option<String>,
}

/// What an example expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// An id.
    Id(String),
    /// `"none"`: no intent / no persona.
    Nothing,
}

/// An `[[examples]]` entry, run by `personabot check`.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub context: Vec<String>,
    pub intent: Option<Expected>,
    pub persona: Option<Expected>,
    pub route: Option<String>,
    pub team: Option<String>,
    /// The answer shown, as `route.answer` names it (`pricing/default#2`, `pricing/default/trial`).
    pub answer: Option<String>,
    /// The conversation id the example runs as (it picks the A/B variant); default `example`.
    pub conversation: Option<String>,
    /// Where the example starts, for reporting failures.
    pub line: usize,
    pub col: usize,
}

/// What the customer wants.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The label this intent stands for in a labelled dataset (e.g. banking77's
    /// `reverted_card_payment?`, which is not a valid id); `eval` compares with it. Defaults to
    /// the id.
    pub label: Option<String>,
    pub threshold: Option<f64>,
    pub priority: i32,
    pub exclude: Vec<String>,
    pub keywords: Vec<Keyword>,
    pub patterns: Vec<Pattern>,
    pub route: RouteRule,
    pub route_overrides: BTreeMap<String, RouteOverride>,
    /// Answer texts by persona id, plus `"default"`: one text, or several (an A/B test: each
    /// conversation sees one, see [`crate::core::route::choose_answer`]).
    pub answers: BTreeMap<String, Vec<String>>,
    /// Focused parts of the answer, chosen by the message's words ("is there a free trial?").
    pub parts: Vec<AnswerPart>,
    /// Whether the intent's answers are self-help the customer can rate ("That helped" /
    /// "Talk to a human"). `feedback = false` marks conversational replies (greetings, thanks).
    pub feedback: bool,
    /// The customer saying this means the last self-help answer did not help (`not_helped =
    /// true`, e.g. "that didn't help"): it rates that answer "not helped", as the button does.
    pub not_helped: bool,
    pub examples: Vec<Example>,
    pub path: PathBuf,
}

/// A focused part of an intent's answer (`[[parts]]`): shown instead of the whole answer when
/// the message asks about it ("is there a free trial?" gets the trial part of pricing).
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerPart {
    /// Unique within the intent; the answer is named `<intent>/<persona|default>/<id>`.
    pub id: String,
    /// The terms that ask for this part, as written.
    pub keywords: Vec<String>,
    /// Only for this persona (`None`: for everyone).
    pub persona: Option<String>,
    pub text: String,
}

/// The key of the fallback answer text.
pub(crate) const DEFAULT_ANSWER: &str = "default";

impl Intent {
    /// The dataset label this intent predicts: its `label`, else its id.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }

    /// The route rule as seen by `persona`.
    pub(crate) fn route_for(&self, persona: Option<&str>) -> RouteRule {
        let over = persona.and_then(|p| self.route_overrides.get(p));
        RouteRule {
            kind: over.and_then(|o| o.kind).unwrap_or(self.route.kind),
            team: over
                .and_then(|o| o.team.clone())
                .unwrap_or_else(|| self.route.team.clone()),
        }
    }

    /// The answer key (`persona` or `default`) and its texts (one, or an A/B test's several)
    /// for `persona`, if any.
    pub(crate) fn answer_for(&self, persona: Option<&str>) -> Option<(&str, &[String])> {
        persona
            .and_then(|p| self.answers.get_key_value(p))
            .or_else(|| self.answers.get_key_value(DEFAULT_ANSWER))
            .filter(|(_, texts)| !texts.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// A human team that receives tickets (defined in settings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Display name, e.g. "Billing".
    #[serde(default)]
    pub name: String,
    /// What the team handles.
    #[serde(default)]
    pub description: String,
    /// Expected first response, told to the customer on handoff ("within 4 business hours").
    #[serde(default)]
    pub response_time: String,
    /// Business hours, e.g. "Mon-Fri 09:00-17:00" (empty: always open).
    #[serde(default)]
    pub hours: String,
    /// IANA time zone of `hours`, e.g. "Europe/Berlin" (default UTC).
    #[serde(default)]
    pub timezone: String,
    /// Discord channel that receives this team's tickets.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub discord_channel: Option<u64>,
    /// Discord role whose members may claim, resolve and relabel this team's tickets.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub discord_role: Option<u64>,
    /// Other names customers use for the team ("finance", "hr"): with its id and display name,
    /// a handoff that names it goes to it ("connect me to someone from finance").
    #[serde(default, deserialize_with = "de_names")]
    pub aliases: Vec<String>,
    /// How new tickets get an agent: `""` (default: agents claim or assign them) or
    /// `"round-robin"` (in turn among the team's signed-in agents).
    #[serde(default)]
    pub assign: String,
    /// The first agent reply is due this long after a ticket opens, counted in `hours`
    /// ("4h", "1d 2h"; empty: no target).
    #[serde(default)]
    pub first_response_target: String,
    /// The ticket is to be resolved this long after it opens, counted in `hours` (empty: no
    /// target).
    #[serde(default)]
    pub resolve_target: String,
}

/// `teams.<id>.assign`'s values.
pub const ASSIGN_MODES: &[&str] = &["", "manual", "round-robin"];

/// A validated catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Sorted by id.
    pub personas: Vec<Persona>,
    /// Sorted by id.
    pub intents: Vec<Intent>,
    pub teams: BTreeMap<String, Team>,
    /// The teams' names compiled for finding them in messages (built with `teams`).
    pub team_names: crate::core::team_names::TeamNames,
    /// Each team's saved replies (`replies/<team>.toml`).
    pub replies: crate::core::saved_reply::SavedReplies,
}

impl Catalog {
    pub fn persona(&self, id: &str) -> Option<&Persona> {
        self.personas.iter().find(|p| p.id == id)
    }

    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// The texts the bot quotes from this catalog: every answer and answer part, and each
    /// team's usual response time as said after a handoff (the store keeps them once and bot
    /// lines refer to them).
    pub fn bot_texts(&self) -> Vec<String> {
        let answers = self.intents.iter().flat_map(|i| {
            let parts = i.parts.iter().map(|p| p.text.clone());
            i.answers.values().flatten().cloned().chain(parts)
        });
        let teams = (self.teams.values())
            .filter(|t| !t.response_time.is_empty())
            .map(|t| crate::core::wording::team_usually_replies(&t.response_time));
        answers.chain(teams).collect()
    }

    /// The team's display name, or its id.
    pub fn team_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.teams
            .get(id)
            .map(|t| t.name.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(id)
    }
}

/// True for a valid persona or intent id: lowercase ASCII letters, digits and `-`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// True for a valid team id: lowercase ASCII letters, digits and `_`.
pub(crate) fn is_valid_team_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A Discord snowflake written as an integer or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdRepr {
    Int(u64),
    Text(String),
}

impl IdRepr {
    fn id<E: serde::de::Error>(self) -> Result<u64, E> {
        match self {
            IdRepr::Int(i) => Ok(i),
            IdRepr::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("`{s}` is not a numeric id"))),
        }
    }
}

/// Deserialises an optional id from an integer or a numeric string ("" means none).
pub(crate) fn de_opt_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<IdRepr>::deserialize(d)? {
        None => Ok(None),
        Some(IdRepr::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(repr) => repr.id().map(Some),
    }
}

/// Deserialises a list of names: an array of strings, or one comma-separated string (as an
/// environment variable gives it).
pub(crate) fn de_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        One(String),
    }
    Ok(match Names::deserialize(d)? {
        Names::List(list) => list,
        Names::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// Deserialises a list of ids: an array, or one comma-separated string.
pub(crate) fn de_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ids {
        List(Vec<IdRepr>),
        One(IdRepr),
    }
    match Ids::deserialize(d)? {
        Ids::List(list) => list.into_iter().map(IdRepr::id).collect(),
        Ids::One(IdRepr::Text(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| IdRepr::Text(p.to_string()).id())
            .collect(),
        Ids::One(one) => Ok(vec![one.id()?]),
    }
}

//! Named teams: which team a message asks for ("someone from sales", "the billing team", "your
//! security people", "sales please"), by a team's id, display name or aliases. Compiled once
//! with the catalog; finding a team in a message is pure and allocation-light.
//!
//! A name counts only in a frame that asks for the team: followed by a team noun ("the press
//! team"), after "to"/"with" or "someone from/in/at" at the end of a clause ("connect me to
//! sales", "someone in security"), before "please" ("billing please"), or as the whole message.
//! A name that describes something else ("sales tax", "how to press enter") or the customer's own
//! team ("our security team", "I'm on the sales team") does not count.

use std::collections::{BTreeMap, HashMap};

use crate::core::model::Team;
use crate::core::text;

/// Skipped when looking at the word before a name: "to *the* sales team", "from *your* billing".
const DETERMINERS: &[&str] = &["the", "your", "ur", "a", "an", "some", "any", "yall"];
/// The customer's own team, not ours: "our security team", "my sales people".
const POSSESSIVES: &[&str] = &[
    "my", "our", "their", "his", "her", "its", "mine", "ours", "own",
];
/// Where someone is: counts only after a person ("someone *from* sales", not "I'm *from* sales").
const LOCATIVES: &[&str] = &["from", "in", "at", "of", "on", "within", "inside", "over"];
/// Where the customer wants to go: "connect me *to* sales", "speak *with* billing".
const DIRECTIVES: &[&str] = &["to", "with", "through", "into", "towards", "toward", "via"];
/// Before "to", these make it an infinitive ("how to press", "want to support"), not a direction.
const INFINITIVE_LEADS: &[&str] = &[
    "want", "wanna", "like", "love", "need", "how", "have", "has", "had", "going", "able",
    "unable", "trying", "try", "tried", "wish", "hope", "plan", "used", "ought", "prefer",
];
/// Who the customer wants to reach: "someone from sales".
#[rustfmt::skip]
const PERSONS: &[&str] = &[
    "someone", "somebody", "anyone", "anybody", "person", "people", "human", "humans", "agent",
    "agents", "rep", "reps", "representative", "representatives", "guy", "guys", "folks", "member",
    "members", "staff", "colleague", "colleagues", "expert", "experts", "specialist", "specialists",
    "manager", "managers", "employee", "employees", "contact", "head", "lead", "individual",
];
/// After a name, these make it a team: "the billing *team*", "your security *people*".
#[rustfmt::skip]
const TEAM_NOUNS: &[&str] = &[
    "team", "teams", "department", "departments", "dept", "people", "folks", "guys", "guy",
    "person", "persons", "rep", "reps", "representative", "representatives", "staff", "desk",
    "group", "office", "division", "unit", "specialist", "specialists", "agent", "agents", "expert",
    "experts", "colleague", "colleagues", "member", "members", "side", "contact", "contacts",
    "manager", "managers", "lead", "head", "squad", "crew", "engineer", "engineers", "advisor",
    "advisors",
];
/// Words that may follow a name after "to"/"with" and still end the request ("connect me to
/// sales *please*", "to billing *about* my invoice"); any other word means the name is part of
/// something else ("to sales *tax*").
#[rustfmt::skip]
const CLAUSE_ENDS: &[&str] = &[
    "please", "pls", "plz", "about", "regarding", "re", "for", "who", "that", "because", "since",
    "asap", "now", "today", "immediately", "urgently", "directly", "instead", "thanks", "thank",
    "and", "or", "not", "but", "so", "if", "i", "im", "we", "as", "rather", "only", "right",
];
const PLEASE: &[&str] = &["please", "pls", "plz"];

/// One name of a team, as words.
#[derive(Debug, Clone, PartialEq)]
struct Phrase {
    words: Vec<String>,
    team: String,
    /// A one-word name that also means "a person" or "a team" ("people"): it counts only
    /// before a team noun ("the people team").
    person_like: bool,
}

/// Every team's names, compiled: phrases by their first word, longest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamNames {
    by_first_word: HashMap<String, Vec<Phrase>>,
}

/// A problem with a team's aliases: the team, the alias's index, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasProblem {
    pub team: String,
    pub index: usize,
    pub problem: String,
}

/// Every name of a team (id, display name, aliases) as words.
fn names<'a>(id: &'a str, team: &'a Team) -> impl Iterator<Item = Vec<String>> + 'a {
    let name = Some(team.name.as_str()).filter(|n| !n.trim().is_empty());
    std::iter::once(id)
        .chain(name)
        .chain(team.aliases.iter().map(String::as_str))
        .map(text::words)
        .filter(|words| !words.is_empty())
}

/// Each name, as words, with the teams it names (more than one: a clash).
fn owners(teams: &BTreeMap<String, Team>) -> HashMap<Vec<String>, Vec<&str>> {
    let mut owners: HashMap<Vec<String>, Vec<&str>> = HashMap::new();
    for (id, team) in teams {
        for words in names(id, team) {
            let list = owners.entry(words).or_default();
            if !list.contains(&id.as_str()) {
                list.push(id);
            }
        }
    }
    owners
}

/// What is wrong with the teams' aliases: an alias with no words, or one that names another
/// team too (by its id, name or an alias).
pub fn alias_problems(teams: &BTreeMap<String, Team>) -> Vec<AliasProblem> {
    let owners = owners(teams);
    let mut problems = Vec::new();
    for (id, team) in teams {
        for (index, alias) in team.aliases.iter().enumerate() {
            let words = text::words(alias);
            let others: Vec<&str> = owners
                .get(&words)
                .map(|o| o.iter().copied().filter(|o| *o != id).collect())
                .unwrap_or_default();
            let problem = if words.is_empty() {
                format!("alias {alias:?} has no words to match")
            } else if !others.is_empty() {
                format!(
                    "alias {alias:?} also names team `{}`: a name may belong to one team only",
                    others.join("`, `")
                )
            } else {
                continue;
            };
            problems.push(AliasProblem {
                team: id.clone(),
                index,
                problem,
            });
        }
    }
    problems
}

impl TeamNames {
    /// Compiles the teams' ids, display names and aliases. A name shared by two teams names
    /// neither (the settings checker reports shared aliases).
    pub fn compile(teams: &BTreeMap<String, Team>) -> TeamNames {
        let mut by_first_word: HashMap<String, Vec<Phrase>> = HashMap::new();
        for (words, ids) in owners(teams) {
            let [team] = ids[..] else { continue };
            let person_like = words.len() == 1
                && (PERSONS.contains(&words[0].as_str())
                    || TEAM_NOUNS.contains(&words[0].as_str()));
            by_first_word
                .entry(words[0].clone())
                .or_default()
                .push(Phrase {
                    words,
                    team: team.to_string(),
                    person_like,
                });
        }
        for list in by_first_word.values_mut() {
            // Longest first, so "customer success" wins over "customer".
            list.sort_by(|a, b| {
                (b.words.len().cmp(&a.words.len())).then_with(|| a.words.cmp(&b.words))
            });
        }
        TeamNames { by_first_word }
    }

    /// The team `text` asks for, if it names one in a frame that asks for it (the first such
    /// team in the message).
    pub fn requested(&self, text_in: &str) -> Option<&str> {
        if self.by_first_word.is_empty() {
            return None;
        }
        let toks = tokens(text_in);
        for (i, tok) in toks.iter().enumerate() {
            let Tok::Word(first) = tok else { continue };
            let Some(list) = self.by_first_word.get(first.as_str()) else {
                continue;
            };
            let found = list.iter().find(|p| {
                (p.words.iter().enumerate())
                    .all(|(k, w)| matches!(toks.get(i + k), Some(Tok::Word(t)) if t == w))
            });
            if let Some(p) = found.filter(|p| asks_for(&toks, i, i + p.words.len(), p.person_like))
            {
                return Some(&p.team);
            }
        }
        None
    }
}

/// A word of the message, or a break between clauses (punctuation).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Break,
}

/// The message as lowercase words and clause breaks. Apostrophes, hyphens, slashes and
/// underscores separate words without breaking the clause.
fn tokens(text_in: &str) -> Vec<Tok> {
    let normalised = text::normalise_lower(text_in);
    let mut toks = Vec::new();
    let mut word = String::new();
    for c in normalised.chars() {
        if text::is_word_char(c) {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            toks.push(Tok::Word(std::mem::take(&mut word)));
        }
        let soft = c.is_whitespace() || matches!(c, '\'' | '’' | '‘' | '-' | '_' | '/' | '&');
        if !soft && toks.last() != Some(&Tok::Break) {
            toks.push(Tok::Break);
        }
    }
    if !word.is_empty() {
        toks.push(Tok::Word(word));
    }
    toks
}

/// What comes before a position, determiners skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Before<'a> {
    /// The start of the message or of a clause.
    Edge,
    Word(&'a str, usize),
}

fn before(toks: &[Tok], at: usize) -> Before<'_> {
    let mut k = at;
    while k > 0 {
        k -= 1;
        match &toks[k] {
            Tok::Break => return Before::Edge,
            Tok::Word(w) if DETERMINERS.contains(&w.as_str()) => continue,
            Tok::Word(w) => return Before::Word(w, k),
        }
    }
    Before::Edge
}

fn word_in(before: Before<'_>, list: &[&str]) -> bool {
    matches!(before, Before::Word(w, _) if list.contains(&w))
}

/// Whether the name at `toks[start..end]` asks for its team.
fn asks_for(toks: &[Tok], start: usize, end: usize, person_like: bool) -> bool {
    let prev = before(toks, start);
    let prev2 = match prev {
        Before::Word(_, k) => before(toks, k),
        Before::Edge => Before::Edge,
    };
    let next = match toks.get(end) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    if word_in(prev, POSSESSIVES) {
        return false; // "our security team": the customer's own
    }
    if word_in(prev, LOCATIVES) && !word_in(prev2, PERSONS) {
        return false; // "I'm on the sales team", "I work in sales"
    }
    if next.is_some_and(|w| TEAM_NOUNS.contains(&w)) {
        return true; // "the billing team", "your security people"
    }
    if person_like {
        return false;
    }
    let ends_clause = next.is_none_or(|w| CLAUSE_ENDS.contains(&w));
    let directed = word_in(prev, DIRECTIVES)
        && !(matches!(prev, Before::Word("to", _)) && word_in(prev2, INFINITIVE_LEADS));
    if (directed || word_in(prev, LOCATIVES)) && ends_clause {
        return true; // "connect me to sales", "someone from billing about my invoice"
    }
    if next.is_some_and(|w| PLEASE.contains(&w)) && (prev == Before::Edge || word_in(prev, PERSONS))
    {
        return true; // "sales please", "a human, billing please"
    }
    // The whole message is the name: "Sales", "security!".
    prev == Before::Edge
        && toks[end..].iter().all(|t| {
            matches!(t, Tok::Break) || matches!(t, Tok::Word(w) if PLEASE.contains(&w.as_str()))
        })
}

#[cfg(test)]
mod tests;

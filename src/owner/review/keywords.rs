//! The catalog side of the review: unclear messages and their words, keywords that never
//! fired or fire for several personas, and agent relabels.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{distinct_texts, id_of, ReviewOptions};
use super::{
    Relabel, Relabels, SharedKeyword, SilentKeywords, SilentProfile, UnclearMessages, UnclearTerm,
};
use crate::catalog::Catalog;
use crate::core::route::DecisionKind;
use crate::store::Interaction;

/// Where each term of the catalog is a keyword: normalised term -> profiles.
fn keyword_owners(catalog: &Catalog) -> HashMap<String, Vec<String>> {
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    let profiles = catalog
        .personas
        .iter()
        .map(|p| (format!("persona:{}", p.id), &p.keywords))
        .chain(
            catalog
                .intents
                .iter()
                .map(|i| (format!("intent:{}", i.id), &i.keywords)),
        );
    for (profile, keywords) in profiles {
        for k in keywords.iter().filter(|k| k.weight > 0.0) {
            owners
                .entry(k.words.join(" "))
                .or_default()
                .push(profile.clone());
        }
    }
    owners
}

fn is_unclear(i: &Interaction, low_confidence: f64) -> bool {
    match &i.intent {
        None => true,
        Some(intent) => i.route.kind == DecisionKind::Clarify || intent.confidence < low_confidence,
    }
}

pub(super) fn unclear_messages(
    catalog: &Catalog,
    decided: &[&Interaction],
    options: &ReviewOptions,
) -> UnclearMessages {
    let mut report = UnclearMessages {
        decided: decided.len(),
        low_confidence_line: options.low_confidence,
        ..Default::default()
    };
    let mut unclear: Vec<&Interaction> = decided
        .iter()
        .copied()
        .filter(|i| is_unclear(i, options.low_confidence))
        .collect();
    unclear.sort_by_key(|i| std::cmp::Reverse(i.id));
    let mut counts: HashMap<String, (usize, Vec<String>)> = HashMap::new();
    for i in &unclear {
        match (&i.intent, i.route.kind) {
            (_, DecisionKind::Clarify) => report.clarify += 1,
            (None, _) => report.unmatched += 1,
            _ => report.low_confidence += 1,
        }
        for term in crate::owner::suggest::candidate_terms(&i.text) {
            let entry = counts.entry(term).or_default();
            entry.0 += 1;
            if entry.1.len() < options.examples && !entry.1.contains(&i.text) {
                entry.1.push(i.text.clone());
            }
        }
    }
    report.examples = distinct_texts(unclear.iter().copied(), options.examples);
    let owners = keyword_owners(catalog);
    let mut terms: Vec<UnclearTerm> = counts
        .into_iter()
        // A term seen once says little; a phrase only counts when it adds to its words.
        .filter(|(_, (n, _))| *n >= 2)
        .map(|(term, (messages, examples))| UnclearTerm {
            in_profiles: owners.get(&term).cloned().unwrap_or_default(),
            term,
            messages,
            examples,
        })
        .collect();
    terms.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.term.cmp(&b.term)));
    // Drop a word when a phrase holding it is as frequent: the phrase says more.
    let phrases: Vec<(String, usize)> = terms
        .iter()
        .filter(|t| t.term.contains(' '))
        .map(|t| (t.term.clone(), t.messages))
        .collect();
    terms.retain(|t| {
        t.term.contains(' ')
            || !phrases
                .iter()
                .any(|(p, n)| *n >= t.messages && p.split(' ').any(|w| w == t.term.as_str()))
    });
    terms.truncate(options.top * 2);
    report.terms = terms;
    report
}

pub(super) fn silent_keywords(
    catalog: &Catalog,
    messages: &[&Interaction],
    persona: Option<&str>,
) -> SilentKeywords {
    let mut fired: HashSet<(&str, &str)> = HashSet::new();
    for i in messages {
        for e in &i.evidence {
            fired.insert((e.target.as_str(), e.term.as_str()));
        }
    }
    let personas = catalog
        .personas
        .iter()
        .filter(|p| persona.is_none_or(|want| want == p.id))
        .map(|p| (format!("persona:{}", p.id), &p.keywords));
    // With a persona filter, intents are judged on other traffic too: leave them out.
    let intents = catalog
        .intents
        .iter()
        .filter(|_| persona.is_none())
        .map(|i| (format!("intent:{}", i.id), &i.keywords));
    let mut report = SilentKeywords::default();
    for (profile, keywords) in personas.chain(intents) {
        // Negative weights count against a profile: their silence is not news.
        let positive: Vec<&str> = keywords
            .iter()
            .filter(|k| k.weight > 0.0)
            .map(|k| k.term.as_str())
            .collect();
        let silent: Vec<String> = positive
            .iter()
            .filter(|term| !fired.contains(&(profile.as_str(), **term)))
            .map(|t| t.to_string())
            .collect();
        report.keywords += positive.len();
        report.silent += silent.len();
        if !silent.is_empty() {
            report.profiles.push(SilentProfile {
                profile,
                keywords: positive.len(),
                silent,
            });
        }
    }
    report
}

pub(super) fn shared_keywords(messages: &[&Interaction], top: usize) -> Vec<SharedKeyword> {
    let mut by_term: BTreeMap<&str, (BTreeMap<String, usize>, usize)> = BTreeMap::new();
    for i in messages {
        let mut personas_here: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for e in i.evidence.iter().filter(|e| e.weight > 0.0) {
            if let Some(p) = e.target.strip_prefix("persona:") {
                personas_here.entry(e.term.as_str()).or_default().insert(p);
            }
        }
        for (term, personas) in personas_here {
            let entry = by_term.entry(term).or_default();
            entry.1 += 1;
            for p in personas {
                *entry.0.entry(p.to_string()).or_insert(0) += 1;
            }
        }
    }
    let mut shared: Vec<SharedKeyword> = by_term
        .into_iter()
        .filter(|(_, (personas, _))| personas.len() > 1)
        .map(|(term, (personas, messages))| SharedKeyword {
            term: term.to_string(),
            personas,
            messages,
        })
        .collect();
    shared.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.term.cmp(&b.term)));
    shared.truncate(top);
    shared
}

pub(super) fn relabels(messages: &[&Interaction], options: &ReviewOptions) -> Relabels {
    let mut report = Relabels::default();
    let mut intent: BTreeMap<(String, String), Vec<&Interaction>> = BTreeMap::new();
    let mut persona: BTreeMap<(String, String), Vec<&Interaction>> = BTreeMap::new();
    for i in messages {
        let Some(label) = &i.label else { continue };
        report.labelled += 1;
        let mut agreed = true;
        for (want, said, pairs) in [
            (&label.intent, id_of(&i.intent), &mut intent),
            (&label.persona, id_of(&i.persona), &mut persona),
        ] {
            if let Some(want) = want.as_deref().filter(|w| *w != said) {
                agreed = false;
                pairs
                    .entry((said.to_string(), want.to_string()))
                    .or_default()
                    .push(i);
            }
        }
        report.confirmed += usize::from(agreed);
    }
    let list = |pairs: BTreeMap<(String, String), Vec<&Interaction>>| {
        let mut list: Vec<Relabel> = pairs
            .into_iter()
            .map(|((from, to), found)| Relabel {
                from,
                to,
                messages: found.len(),
                examples: distinct_texts(found.iter().rev().copied(), options.examples),
            })
            .collect();
        list.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then(a.from.cmp(&b.from))
                .then(a.to.cmp(&b.to))
        });
        list
    };
    report.intent = list(intent);
    report.persona = list(persona);
    report
}

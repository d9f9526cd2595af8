//! A customer's answer to a clarifying question, pure: a number or an ordinal ("2", "2nd",
//! "#2", "the second one", "number 2", "option 2"), the option's name or id (what a button
//! press sends), words of its name ("the billing one"), or the option's keywords (the reply is
//! classified and the best-scoring offered option taken when it is clearly ahead).

use crate::core::classify::Classification;
use crate::core::model::Catalog;
use crate::core::text;

/// Words that carry no choice ("the second one please", "I mean option 2").
const FILLER: &[&str] = &[
    "the", "a", "an", "one", "option", "options", "number", "no", "nr", "choice", "please", "pls",
    "i", "mean", "meant", "want", "think", "it", "it's", "its", "is", "that", "this", "s", "ok",
    "okay", "yes", "yeah", "about", "for", "me", "my", "thanks", "thank", "you", "of", "them",
];

/// The ordinal a word names (1-based); `"last"` is `options`.
fn ordinal(word: &str, options: usize) -> Option<usize> {
    const NAMED: [[&str; 4]; 5] = [
        ["1", "first", "1st", "firstly"],
        ["2", "second", "2nd", "two"],
        ["3", "third", "3rd", "three"],
        ["4", "fourth", "4th", "four"],
        ["5", "fifth", "5th", "five"],
    ];
    if word == "last" {
        return Some(options);
    }
    NAMED
        .iter()
        .position(|names| names.contains(&word))
        .map(|n| n + 1)
}

/// The option (index into `choices`) the customer's reply `text_in` picks, if it picks one.
/// `classification` is the reply's own; `margin` the lead the best offered option needs over
/// the next, relative to its score.
pub fn chosen(
    catalog: &Catalog,
    text_in: &str,
    choices: &[String],
    classification: &Classification,
    margin: f64,
) -> Option<usize> {
    let said = text::words(text_in);
    let phrase = said.join(" ");
    let intents: Vec<_> = choices.iter().map(|id| catalog.intent(id)).collect();
    // The name or the id, as a button press sends it.
    let by_name = intents.iter().position(|i| {
        i.is_some_and(|i| {
            phrase == text::words(&i.name).join(" ") || phrase == text::words(&i.id).join(" ")
        })
    });
    if by_name.is_some() {
        return by_name;
    }
    let content: Vec<&str> = said
        .iter()
        .map(String::as_str)
        .filter(|w| !FILLER.contains(w))
        .collect();
    // A number or an ordinal, alone among filler words; "one" alone is the first.
    match content.as_slice() {
        [] if said.iter().any(|w| w == "one") => return Some(0),
        [word] => {
            if let Some(n) =
                ordinal(word, choices.len()).filter(|n| (1..=choices.len()).contains(n))
            {
                return Some(n - 1);
            }
        }
        _ => {}
    }
    // Words of one option's name or id only ("the billing one", "security").
    if !content.is_empty() {
        let holds_all = |i: usize| {
            intents[i].is_some_and(|intent| {
                let mut own = text::words(&intent.name);
                own.extend(text::words(&intent.id.replace('-', " ")));
                content.iter().all(|w| own.iter().any(|o| o == w))
            })
        };
        let named: Vec<usize> = (0..choices.len()).filter(|&i| holds_all(i)).collect();
        if let [one] = named.as_slice() {
            return Some(*one);
        }
    }
    // The offered option the reply's keywords favour, when it is clearly ahead.
    let score = |id: &String| {
        classification
            .intents
            .iter()
            .find(|s| {
                catalog
                    .intents
                    .get(s.index as usize)
                    .is_some_and(|i| &i.id == id)
            })
            .map_or(0.0, |s| f64::from(s.score))
    };
    let mut scored: Vec<(usize, f64)> = choices
        .iter()
        .enumerate()
        .map(|(n, id)| (n, score(id)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    match scored.as_slice() {
        [(best, _)] => Some(*best),
        [(best, top), (_, next), ..] if (top - next) / top >= margin => Some(*best),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::chosen;
    use crate::catalog::settings::Settings;
    use crate::core::classify::Classifier;

    #[test]
    fn replies_to_a_clarifying_question() {
        let settings = Settings::built_in();
        let catalog = crate::catalog::load(Path::new(env!("CARGO_MANIFEST_DIR")), &settings.teams)
            .unwrap_or_else(|d| panic!("shipped catalog: {d}"));
        let classifier = Classifier::new(&catalog).expect("classifier");
        let margin = settings.classify.margin;
        let two = ["pricing", "billing"];
        let three = ["pricing", "refund", "security-compliance"];
        let cases: &[(&[&str], &str, Option<usize>)] = &[
            // Numbers and ordinals.
            (&two, "1", Some(0)),
            (&two, "2", Some(1)),
            (&two, "2nd", Some(1)),
            (&two, "#2", Some(1)),
            (&two, "second", Some(1)),
            (&two, "the second one", Some(1)),
            (&two, "The second one, please", Some(1)),
            (&two, "number 2", Some(1)),
            (&two, "option 2", Some(1)),
            (&two, "two", Some(1)),
            (&two, "the first", Some(0)),
            (&two, "one", Some(0)),
            (&two, "first one", Some(0)),
            (&three, "3rd", Some(2)),
            (&three, "the last one", Some(2)),
            (&two, "3", None),
            (&two, "third", None),
            // The name or id, as a button press sends it.
            (&two, "Pricing", Some(0)),
            (&two, "Billing", Some(1)),
            (&three, "Security and compliance", Some(2)),
            (&three, "security-compliance", Some(2)),
            // Words of one option's name.
            (&two, "the billing one", Some(1)),
            (&two, "billing", Some(1)),
            (&three, "the security one", Some(2)),
            (&three, "compliance", Some(2)),
            // The option's keywords.
            (&two, "how much does it cost", Some(0)),
            (&three, "I want my money back", Some(1)),
            (&three, "do you have a SOC 2 report?", Some(2)),
            // Nothing that picks one.
            (&two, "asdf qwerty", None),
            (&two, "I don't know", None),
            (&two, "both", None),
        ];
        for (choices, reply, want) in cases {
            let choices: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
            let classification = classifier.classify(reply);
            let got = chosen(&catalog, reply, &choices, &classification, margin);
            assert_eq!(got, *want, "{reply:?} among {choices:?}");
        }
    }
}

//! Tone, pure: whether a customer's message sounds frustrated (insults, "ridiculous",
//! "unacceptable", a run of "!!!", shouting in capitals, "charged twice", "nobody answers",
//! "still waiting"...). A frustrated message's reply opens with an apology and its ticket is
//! `high` priority.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::core::text;

/// Words that alone say the customer is angry (matched as whole words).
const ANGRY_WORDS: &[&str] = &[
    "ridiculous",
    "unacceptable",
    "outrageous",
    "disgraceful",
    "disgusting",
    "pathetic",
    "furious",
    "livid",
    "infuriating",
    "appalling",
    "shameful",
    "incompetent",
    "incompetence",
    "idiot",
    "idiots",
    "idiotic",
    "stupid",
    "morons",
    "moron",
    "clowns",
    "useless",
    "garbage",
    "crap",
    "crappy",
    "shit",
    "shitty",
    "bullshit",
    "fuck",
    "fucking",
    "fucked",
    "wtf",
    "scam",
    "scammers",
    "ripoff",
    "worst",
    "horrible",
    "terrible",
    "awful",
];

/// Phrases (whole words in a row) that say the customer is fed up.
const ANGRY_PHRASES: &[&str] = &[
    "charged twice",
    "charged me twice",
    "double charged",
    "billed twice",
    "billed me twice",
    "charged two times",
    "nobody answers",
    "nobody answered",
    "nobody replies",
    "nobody replied",
    "nobody responds",
    "nobody responded",
    "nobody is answering",
    "nobody is replying",
    "no one answers",
    "no one answered",
    "no one replies",
    "no one replied",
    "no one responds",
    "no one responded",
    "no one is answering",
    "no one is replying",
    "no reply yet",
    "still waiting",
    "still no answer",
    "still no reply",
    "still no response",
    "been waiting for",
    "waiting for days",
    "waiting for weeks",
    "fed up",
    "sick of",
    "sick and tired",
    "rip off",
    "what a joke",
    "is a joke",
    "a total joke",
    "this is insane",
    "are you kidding",
    "are you serious",
    "waste of time",
    "wasted my time",
    "waste of money",
    "cancel everything",
    "so angry",
    "so frustrated",
    "really frustrated",
    "very frustrated",
    "extremely frustrated",
    "frustrating",
    "i am frustrated",
    "i'm frustrated",
    "im frustrated",
];

/// Whether `text` sounds frustrated.
pub fn frustrated(text_in: &str) -> bool {
    exclaims(text_in) || shouts(text_in) || angry_words(text_in)
}

/// A run of three or more `!` / `?` holding at least two `!` ("!!!", "?!!", "!?!").
fn exclaims(text_in: &str) -> bool {
    let (mut run, mut bangs) = (0, 0);
    for c in text_in.chars() {
        if c == '!' || c == '?' {
            run += 1;
            bangs += usize::from(c == '!');
            if run >= 3 && bangs >= 2 {
                return true;
            }
        } else {
            (run, bangs) = (0, 0);
        }
    }
    false
}

/// Mostly capitals: at least three words of two letters or more written in upper case, and
/// they are at least 60% of such words (so "SSO and SAML" or "SOC 2" do not shout).
fn shouts(text_in: &str) -> bool {
    let words: Vec<&str> = text_in
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
        .collect();
    let upper = words
        .iter()
        .filter(|w| w.chars().all(|c| c.is_uppercase()))
        .count();
    upper >= 3 && upper * 10 >= words.len() * 6
}

/// Every angry word and phrase as it appears in [`said`]: its words, lowercased, one space
/// apart, with a space on each side (so only whole words match). Built once.
static ANGRY: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let patterns = ANGRY_WORDS
        .iter()
        .chain(ANGRY_PHRASES)
        .map(|p| format!(" {} ", text::words(p).join(" ")));
    AhoCorasick::new(patterns).expect("the angry words and phrases make an automaton")
});

/// `text_in`'s words, lowercased, one space apart, with a space on each side.
fn said(text_in: &str) -> String {
    let normalised = text::normalise(text_in);
    let mut said = String::with_capacity(normalised.len() + 2);
    said.push(' ');
    for word in text::Tokens::new(&normalised) {
        said.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        said.push(' ');
    }
    said
}

fn angry_words(text_in: &str) -> bool {
    ANGRY.is_match(&said(text_in))
}

#[cfg(test)]
mod tests {
    use super::frustrated;

    #[test]
    fn frustration_is_heard() {
        for text in [
            "This is ridiculous, I was charged twice for the same month",
            "You charged me twice and nobody answers my emails",
            "Completely unacceptable. Fix it.",
            "Where is my refund???!!",
            "I want my money back!!!",
            "WHY IS MY ACCOUNT LOCKED AGAIN",
            "I HAVE BEEN WAITING FOR A WEEK",
            "still waiting for someone to reply about my invoice",
            "your support is useless",
            "what a joke of a product",
            "I'm so frustrated with this",
            "I've been waiting for 3 days for an answer",
            "double charged on my card, again",
            "are you kidding me? the export is broken again",
            "this is the worst billing experience ever",
            "No one replied to my ticket",
        ] {
            assert!(frustrated(text), "{text:?} should sound frustrated");
        }
    }

    #[test]
    fn ordinary_messages_are_calm() {
        for text in [
            "hi",
            "How much does the Growth plan cost?",
            "Do you support SSO and SAML?",
            "We need SOC 2 and ISO 27001 reports",
            "I can't log in!",
            "Thanks!! That helped",
            "Is there a free trial?",
            "Can I get a refund for last month?",
            "Our API key stopped working after the update",
            "I'm a journalist at the FT, can we talk?",
            "What does Enterprise cost for 300 seats?",
            "the second one",
            "We use AWS and GCP with Okta",
            "I was charged for the yearly plan, can I switch to monthly?",
            "I am waiting for the invoice for April",
            "hello?",
        ] {
            assert!(!frustrated(text), "{text:?} should sound calm");
        }
    }

    #[test]
    fn the_customer_fixture_stays_mostly_calm() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/customers/messages.toml"
        );
        let source = std::fs::read_to_string(path).expect("the fixture");
        let doc: toml_edit::DocumentMut = source.parse().expect("valid TOML");
        let messages = doc["messages"].as_array().expect("messages");
        let texts: Vec<&str> = messages
            .iter()
            .filter_map(|m| m.as_inline_table()?.get("text")?.as_str())
            .collect();
        assert!(texts.len() >= 400, "{} messages", texts.len());
        let loud: Vec<&&str> = texts.iter().filter(|t| frustrated(t)).collect();
        // A few real customers are angry (a double charge, "useless"); nearly all are not.
        assert!(loud.len() * 100 <= texts.len() * 2, "{loud:#?}");
    }
}

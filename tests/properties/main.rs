//! Property tests (proptest) for the parts every customer message or catalog file goes through:
//! classification never panics and is deterministic, normalisation is idempotent, redaction
//! removes generated personal data, catalog loading never panics on arbitrary or near-valid
//! TOML, the decision JSON is valid JSON, and echoed text can never mention or link on Discord
//! or Slack.
//!
//! Case counts are small enough for CI (the whole file runs in well under 30 s in debug); set
//! `PROPTEST_CASES=N` to run every property N times instead (the megabyte message N/100 times).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, Catalog, CatalogSources, Diagnostics, Team};
use personabot::channels::{discord, slack};
use personabot::core::classify::{
    compile_pattern, confidence, Classification, Classifier, PatternRules, Target,
};
use personabot::core::route;
use personabot::core::text::{is_word_char, normalise, normalise_lower, words};
use personabot::engine::output::decision_json;
use personabot::store::redact::{redact, CARD_MARK, EMAIL_MARK, PHONE_MARK};
use personabot::store::{Actor, EvidenceRecord, Label, Ticket, TicketStatus, TranscriptLine};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The persisted failing cases, replayed before new ones by every property. Named explicitly:
/// proptest's default derives the file from the source file of each property, which in a test
/// folder would be a new file per module under tests/proptest-regressions/.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/properties.proptest-regressions"
);

fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        // Shrinking stays bounded so a failure is reported quickly in CI.
        max_shrink_iters: 2048,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

/// The shipped catalog and settings, compiled once per test binary.
struct Shipped {
    settings: Settings,
    catalog: Catalog,
    classifier: Classifier,
    /// Every keyword and exclusion of the shipped catalog, as written.
    terms: Vec<String>,
}

fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let settings = Settings::built_in();
        let catalog = catalog::load_from_sources(CatalogSources::built_in(), &settings.teams)
            .unwrap_or_else(|d| panic!("the built-in catalog loads: {d}"));
        let classifier = Classifier::new(&catalog).expect("the built-in catalog compiles");
        let mut terms: Vec<String> = catalog
            .personas
            .iter()
            .flat_map(|p| p.keywords.iter().map(|k| k.term.clone()))
            .chain(
                catalog
                    .intents
                    .iter()
                    .flat_map(|i| i.keywords.iter().map(|k| k.term.clone())),
            )
            .chain(catalog.intents.iter().flat_map(|i| i.exclude.clone()))
            .collect();
        terms.sort();
        terms.dedup();
        Shipped {
            settings,
            catalog,
            classifier,
            terms,
        }
    })
}

// ----------------------------------------------------------------------------------------------
// Text strategies
// ----------------------------------------------------------------------------------------------

/// Characters that are known to be hard on text handling: controls, combining marks, case
/// folding and compatibility specials, bidi controls, zero-width characters, surrogates'
/// neighbours, emoji, Hangul jamo, and plain ASCII to glue them to words.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::char::range('a', 'z'),
        1 => prop::char::range('A', 'Z'),
        1 => prop::char::range('0', '9'),
        1 => Just(' '),
        1 => prop::char::range('\0', '\u{1f}'),
        1 => prop::char::range('\u{7f}', '\u{9f}'),
        3 => prop::char::range('\u{300}', '\u{36f}'),
        1 => prop::char::range('\u{1ab0}', '\u{1aff}'),
        1 => prop::char::range('\u{20d0}', '\u{20ff}'),
        1 => prop::char::range('\u{fe20}', '\u{fe2f}'),
        1 => prop::char::range('\u{ff01}', '\u{ff5e}'),
        1 => prop::char::range('\u{1100}', '\u{11ff}'),
        1 => prop::char::range('\u{1f300}', '\u{1f6ff}'),
        1 => prop::char::range('\u{1d400}', '\u{1d7ff}'),
        2 => prop::sample::select(vec![
            'ß', 'ẞ', 'İ', 'ı', 'ſ', 'ǅ', 'ﬁ', 'ﬆ', 'Ω', 'K', 'Å', 'ΐ', 'ς', 'Σ', '\u{345}',
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{fffd}',
            '\u{e000}', '\u{10ffff}', '\u{d7ff}', '\u{e0001}', '\u{85}', '\u{2028}', '\u{2029}',
            '①', '½', '㎏', '㍻', 'ﷺ', '\u{fdfa}', '\u{1f1fa}', '\u{1f3fb}', '\u{fe0f}',
        ]),
    ]
}

fn tricky_string(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max_chars).prop_map(|cs| cs.into_iter().collect())
}

/// Keywords of the shipped catalog glued together with tricky characters, so the phrase trie,
/// exclusions and patterns really fire.
fn keyword_soup() -> impl Strategy<Value = String> {
    let terms = shipped().terms.clone();
    let piece = prop_oneof![
        3 => prop::sample::select(terms),
        1 => prop::sample::select(vec![" ", ", ", "? ", "\n", "-", "'", "$", "€", "49", " per "])
            .prop_map(String::from),
        1 => tricky_string(4),
        1 => (prop::sample::select(shipped().terms.clone()), any::<bool>()).prop_map(
            |(t, upper)| if upper { t.to_uppercase() } else { fullwidth(&t) }
        ),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.join(" "))
}

/// ASCII turned into its full-width forms (NFKC maps them back).
fn fullwidth(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xff01).unwrap_or(c),
            ' ' => '\u{3000}',
            c => c,
        })
        .collect()
}

/// Any message: arbitrary Unicode, invalid UTF-8 made lossy, tricky characters, keyword soup.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        tricky_string(200),
        keyword_soup(),
    ]
}

// ----------------------------------------------------------------------------------------------
// Classification
// ----------------------------------------------------------------------------------------------

/// The invariants every classification holds, whatever the text.
fn check_classification(
    shipped: &Shipped,
    text: &str,
    c: &Classification,
) -> Result<(), TestCaseError> {
    let (intents, personas) = (
        shipped.catalog.intents.len(),
        shipped.catalog.personas.len(),
    );
    for (scores, count, axis) in [
        (&c.intents, intents, "intent"),
        (&c.personas, personas, "persona"),
    ] {
        for s in scores.iter() {
            prop_assert!((s.index as usize) < count, "{axis} index out of range");
            prop_assert!(
                s.score > 0.0 && s.score.is_finite(),
                "{axis} score {}",
                s.score
            );
            let conf = confidence(s.score);
            prop_assert!((0.0..=1.0).contains(&conf), "confidence {conf}");
        }
        for pair in scores.windows(2) {
            prop_assert!(
                pair[0].score > pair[1].score
                    || (pair[0].score == pair[1].score && pair[0].index < pair[1].index),
                "{axis} scores not ranked best first: {:?}",
                scores
            );
        }
    }
    for e in &c.evidence {
        if let Target::Veto(i) = e.target {
            prop_assert!(
                c.intents.iter().all(|s| s.index != i),
                "vetoed intent {i} still ranked"
            );
        }
    }
    // `classify --summary` uses the lean path: it must pick the same top intent.
    prop_assert_eq!(
        shipped.classifier.top_intent(text),
        c.intents.first().map(|s| s.index),
        "top_intent disagrees with classify"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn classify_never_panics_and_keeps_its_invariants(text in message()) {
        let s = shipped();
        let c = s.classifier.classify(&text);
        check_classification(s, &text, &c)?;
    }

    #[test]
    fn classify_is_deterministic_across_calls(a in message(), b in message()) {
        let s = shipped();
        let first = s.classifier.classify(&a);
        // Another message in between: the thread-local scratch buffers must not leak state.
        let _ = s.classifier.classify(&b);
        let _ = s.classifier.top_intent(&b);
        prop_assert_eq!(s.classifier.classify(&a), first);
    }

    #[test]
    fn the_decision_json_is_valid_json_in_the_documented_shape(text in message()) {
        let s = shipped();
        let (decision, classification) =
            route::run_single(&s.catalog, &s.settings.classify, &s.classifier, &text);
        let line = serde_json::to_string(&decision_json(&s.catalog, &decision, &classification))
            .expect("the decision serialises");
        prop_assert!(!line.contains('\n'), "one line per decision");
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let kind = value["route"]["kind"].as_str().unwrap_or_default();
        prop_assert!(["answer", "ticket", "clarify", "fallback"].contains(&kind), "kind {kind}");
        for key in ["persona", "intent"] {
            let pick = &value[key];
            prop_assert!(
                pick.is_null() || (pick["id"].is_string() && pick["confidence"].is_f64()),
                "{key}: {pick}"
            );
        }
        let evidence = value["evidence"].as_array().expect("evidence is an array");
        let shown = classification
            .evidence
            .iter()
            .filter(|e| !matches!(e.target, Target::Veto(_)))
            .count();
        prop_assert_eq!(evidence.len(), shown);
        for e in evidence {
            prop_assert!(e["term"].is_string() && e["target"].is_string(), "{e}");
            prop_assert!(e["weight"].is_number(), "weight of {e} is not a number");
        }
    }
}

proptest! {
    // A megabyte per case: a few cases are enough to show nothing is quadratic or panics
    // (PROPTEST_CASES=N runs N/100 of them).
    #![proptest_config(ProptestConfig { cases: (cases(300) / 100).max(1), ..config(3) })]

    #[test]
    fn classify_handles_a_megabyte_message(piece in message(), soup in keyword_soup()) {
        let s = shipped();
        let unit = format!("{piece} {soup}\n");
        let text = unit.repeat((1 << 20) / unit.len().max(1) + 1);
        prop_assert!(text.len() >= 1 << 20);
        let c = s.classifier.classify(&text);
        check_classification(s, &text, &c)?;
    }
}

// ----------------------------------------------------------------------------------------------
// Normalisation
// ----------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    /// What is idempotent, precisely:
    /// - `normalise` (NFKC, case fold, NFKC; ASCII passed through) is a fixed point on its own
    ///   output;
    /// - `normalise_lower` (the same, ASCII lowercased too) likewise;
    /// - `words`: re-tokenising the words of a text, joined by spaces, gives the same words, and
    ///   every word is a single word that maps to itself.
    #[test]
    fn normalisation_is_idempotent(text in prop_oneof![tricky_string(64), any::<String>(), keyword_soup()]) {
        let once = normalise(&text).into_owned();
        prop_assert_eq!(normalise(&once).into_owned(), once.clone(), "normalise of {:?}", text);

        let lower = normalise_lower(&text);
        prop_assert_eq!(normalise_lower(&lower), lower.clone(), "normalise_lower of {:?}", text);
        prop_assert_eq!(normalise_lower(&once), lower, "normalise_lower is normalise + ASCII lowercase");

        let ws = words(&text);
        prop_assert_eq!(words(&ws.join(" ")), ws.clone(), "words of {:?}", text);
        for w in &ws {
            prop_assert!(!w.is_empty() && w.chars().all(is_word_char), "word {w:?}");
            prop_assert_eq!(&words(w), &vec![w.clone()], "word {:?} re-tokenised", w);
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Redaction
// ----------------------------------------------------------------------------------------------

/// Luhn check digit for `body` (the number without its last digit).
fn luhn_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A valid-Luhn card number of 13 to 19 digits with a real issuer prefix, as a customer would
/// type it: plain, in groups of four (Amex: 4-6-5) separated by spaces, dashes or " - ".
fn card_number() -> impl Strategy<Value = String> {
    let issuer = prop::sample::select(vec![
        ("4", vec![13, 16, 19]), // Visa
        ("51", vec![16]),        // Mastercard
        ("55", vec![16]),        // Mastercard
        ("2221", vec![16]),      // Mastercard 2-series
        ("34", vec![15]),        // Amex
        ("37", vec![15]),        // Amex
        ("6011", vec![16, 19]),  // Discover
        ("35", vec![16, 19]),    // JCB
        ("36", vec![14]),        // Diners
    ]);
    (
        issuer,
        any::<prop::sample::Index>(),
        prop::collection::vec(0u8..10, 19),
        prop::sample::select(vec!["", " ", "-", " - ", "  "]),
    )
        .prop_map(|((prefix, lengths), which, random, sep)| {
            let len = *which.get(&lengths);
            let mut digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
            digits.extend(&random[..len - 1 - digits.len()]);
            digits.push(luhn_check_digit(&digits));
            let text: Vec<char> = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let groups: Vec<String> = if len == 15 {
                [&text[..4], &text[4..10], &text[10..]]
                    .iter()
                    .map(|g| g.iter().collect())
                    .collect()
            } else {
                text.chunks(4).map(|g| g.iter().collect()).collect()
            };
            groups.join(sep)
        })
}

/// A phone number in an international or local format, 7 to 12 digits.
fn phone_number() -> impl Strategy<Value = String> {
    let template = prop::sample::select(vec![
        "+44 XX XXXX XXXX",
        "+44 (0)XX XXXX XXX",
        "+1 (XXX) XXX-XXXX",
        "+1-XXX-XXX-XXXX",
        "+49 XXX XXXXXXX",
        "+49-XX-XXXXXXX",
        "+33 X XX XX XX XX",
        "+61 X XXXX XXXX",
        "+91 XXXXX XXXXX",
        "+353 XX XXX XXXX",
        "+XXXXXXXXXXX",
        "(XXX) XXX-XXXX",
        "XXX-XXX-XXXX",
        "XXX.XXX.XXXX",
        "XXX XXX XXXX",
        "XXX-XXXX",
        "0XX XXXX XXXX",
        "0XXXX XXXXXX",
        "0XXX/XXXXXXX",
    ]);
    (template, prop::collection::vec(0u8..10, 16)).prop_map(|(template, random)| {
        let mut random = random.into_iter();
        template
            .chars()
            .map(|c| match c {
                'X' => char::from(b'0' + random.next().unwrap_or(5)),
                c => c,
            })
            .collect()
    })
}

/// An email address: dotted local parts, `+tags`, subdomains, hyphens, non-ASCII letters.
fn email_address() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9äöüé]{1,8}(\\.[a-z0-9_]{1,6})?(\\+[a-z0-9\\-]{1,6})?@([a-z0-9]{1,6}(-[a-z0-9]{1,4})?\\.){0,3}[a-z0-9]{1,10}\\.[a-z]{2,6}"
}

/// Surrounding text: words without digits or `@`, starting and ending on a separator the
/// personal data around it cannot absorb.
fn filler() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![" ", ", ", ". ", "! ", "\n", ") "]),
        "[a-zA-Zéü' ,!?]{0,20}[a-zA-Z]",
        prop::sample::select(vec![" ", ": ", ", ", "\n", " - ", "\t"]),
    )
        .prop_map(|(after, words, before)| format!("{after}{words}{before}"))
}

#[derive(Debug, Clone)]
enum Personal {
    Card(String),
    Phone(String),
    Email(String),
}

impl Personal {
    fn raw(&self) -> &str {
        match self {
            Personal::Card(s) | Personal::Phone(s) | Personal::Email(s) => s,
        }
    }

    fn mark(&self) -> &'static str {
        match self {
            Personal::Card(_) => CARD_MARK,
            Personal::Phone(_) => PHONE_MARK,
            Personal::Email(_) => EMAIL_MARK,
        }
    }
}

fn personal() -> impl Strategy<Value = Personal> {
    prop_oneof![
        card_number().prop_map(Personal::Card),
        phone_number().prop_map(Personal::Phone),
        email_address().prop_map(Personal::Email),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn redaction_removes_every_card_phone_and_email(
        items in prop::collection::vec((filler(), personal()), 1..5),
        tail in prop::sample::select(vec!["", ".", " thanks", "?\n", ") ok", ", bye!"]),
    ) {
        let mut message = String::new();
        let mut expected = String::new();
        for (before, item) in &items {
            message.push_str(before);
            message.push_str(item.raw());
            expected.push_str(before);
            expected.push_str(item.mark());
        }
        message.push_str(tail);
        expected.push_str(tail);
        let redacted = redact(&message);
        for (_, item) in &items {
            prop_assert!(!redacted.contains(item.raw()), "{:?} survived in {:?}", item, redacted);
        }
        prop_assert!(
            !redacted.bytes().any(|b| b.is_ascii_digit()),
            "a digit survived in {:?}", redacted
        );
        prop_assert_eq!(redacted.as_ref(), expected.as_str(), "redaction of {:?}", message);
    }

    #[test]
    fn redaction_never_panics_and_keeps_text_without_digits_or_at_signs(text in message()) {
        let redacted = redact(&text);
        if !text.contains('@') && !text.bytes().any(|b| b.is_ascii_digit()) {
            prop_assert_eq!(redacted.as_ref(), text.as_str());
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Catalog loading
// ----------------------------------------------------------------------------------------------

/// A TOML value, rendered as text by [`render_value`].
#[derive(Debug, Clone)]
enum Toml {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date,
    Array(Vec<Toml>),
    Table(BTreeMap<String, Toml>),
}

/// Keys the validator knows (at any depth), ids it cross-checks, and a few strangers.
const KEYS: &[&str] = &[
    "name",
    "kind",
    "owner",
    "who",
    "age",
    "location",
    "goals",
    "challenges",
    "threshold",
    "keywords",
    "description",
    "label",
    "priority",
    "exclude",
    "patterns",
    "route",
    "answers",
    "examples",
    "regex",
    "weight",
    "team",
    "personas",
    "text",
    "context",
    "intent",
    "persona",
    "default",
    "founder",
    "seller",
    "pricing",
    "refund",
    "support",
    "sales",
    "nobody",
    "",
    "colour",
];

/// Strings the validator gives meaning to: route kinds, ids, teams, regexes (valid and not),
/// terms without words, and arbitrary text.
fn toml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "answer", "ticket", "escalate", "clarify", "fallback", "buyer", "user", "website",
            "founder", "seller", "pricing", "refund", "none", "default", "support", "sales",
            "billing", "nobody", "", " ", "?!", "how much", "money back", "\\bper\\s+seat\\b",
            "(", "[a-", "(?i)price", "a{2,1}", "\\p{Greek}+", "(?P<x>a)|(?P<x>b)", "\\", "^$",
            "(?-u:\\xff)", "\\bhow much (is|are)\\b", "\u{feff}", "x\u{301}",
        ])
        .prop_map(String::from),
        1 => tricky_string(12),
        1 => any::<String>(),
    ]
}

fn toml_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS.to_vec()).prop_map(String::from),
        1 => toml_string(),
    ]
}

fn toml_scalar() -> impl Strategy<Value = Toml> {
    prop_oneof![
        3 => toml_string().prop_map(Toml::Str),
        2 => prop_oneof![
            -12i64..12,
            Just(i64::MAX),
            Just(i64::MIN),
            Just(101),
            Just(-101)
        ]
        .prop_map(Toml::Int),
        2 => prop_oneof![
            -11.0f64..11.0,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(1e300),
            Just(-0.0),
        ]
        .prop_map(Toml::Float),
        1 => any::<bool>().prop_map(Toml::Bool),
        1 => Just(Toml::Date),
    ]
}

fn toml_value() -> impl Strategy<Value = Toml> {
    toml_scalar().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Toml::Array),
            prop::collection::btree_map(toml_key(), inner, 0..5).prop_map(Toml::Table),
        ]
    })
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_value(v: &Toml) -> String {
    match v {
        Toml::Str(s) => quote(s),
        Toml::Int(i) => i.to_string(),
        Toml::Float(f) if f.is_nan() => "nan".into(),
        Toml::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
        Toml::Float(f) => format!("{f:?}"),
        Toml::Bool(b) => b.to_string(),
        Toml::Date => "1979-05-27T07:32:00Z".into(),
        Toml::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(render_value)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Toml::Table(entries) => format!(
            "{{ {} }}",
            entries
                .iter()
                .map(|(k, v)| format!("{} = {}", quote(k), render_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A document: top-level values first, then tables as `[key]` sections and arrays of tables
/// as `[[key]]` blocks, as people write catalog files.
fn render_document(entries: &BTreeMap<String, Toml>) -> String {
    let mut head = String::new();
    let mut sections = String::new();
    for (key, value) in entries {
        match value {
            Toml::Table(t) => {
                sections.push_str(&format!("\n[{}]\n", quote(key)));
                for (k, v) in t {
                    sections.push_str(&format!("{} = {}\n", quote(k), render_value(v)));
                }
            }
            Toml::Array(items)
                if !items.is_empty() && items.iter().all(|i| matches!(i, Toml::Table(_))) =>
            {
                for item in items {
                    let Toml::Table(t) = item else { continue };
                    sections.push_str(&format!("\n[[{}]]\n", quote(key)));
                    for (k, v) in t {
                        sections.push_str(&format!("{} = {}\n", quote(k), render_value(v)));
                    }
                }
            }
            v => head.push_str(&format!("{} = {}\n", quote(key), render_value(v))),
        }
    }
    head + &sections
}

/// A near-valid catalog file: mostly the keys the validator knows, with values of the right or
/// a wrong shape, so its deep paths (keywords, patterns, routes, answers, examples) run.
fn near_valid_document() -> impl Strategy<Value = String> {
    let keywords = prop::collection::btree_map(
        prop_oneof![prop::sample::select(shipped().terms.clone()), toml_string()],
        prop_oneof![
            4 => (-12.0f64..12.0).prop_map(Toml::Float),
            1 => toml_scalar(),
        ],
        0..6,
    )
    .prop_map(Toml::Table);
    let pattern = prop::collection::btree_map(
        prop::sample::select(vec!["regex", "weight", "colour"]).prop_map(String::from),
        toml_scalar(),
        0..3,
    )
    .prop_map(Toml::Table);
    let patterns = prop::collection::vec(pattern, 0..3).prop_map(Toml::Array);
    let person = prop::sample::select(vec!["founder", "seller", "nobody", "default"]);
    let override_rule = prop_oneof![
        toml_scalar(),
        prop::collection::btree_map(
            prop::sample::select(vec!["kind", "team", "urgent"]).prop_map(String::from),
            toml_scalar(),
            0..3
        )
        .prop_map(Toml::Table),
    ];
    let route = (
        prop::collection::btree_map(
            prop::sample::select(vec!["kind", "team", "queue"]).prop_map(String::from),
            toml_scalar(),
            0..3,
        ),
        prop::option::of(prop::collection::btree_map(
            person.clone().prop_map(String::from),
            override_rule,
            0..3,
        )),
    )
        .prop_map(|(mut rule, personas)| {
            if let Some(p) = personas {
                rule.insert("personas".into(), Toml::Table(p));
            }
            Toml::Table(rule)
        });
    let answers = prop::collection::btree_map(
        person.prop_map(String::from),
        prop_oneof![4 => toml_string().prop_map(Toml::Str), 1 => toml_scalar()],
        0..3,
    )
    .prop_map(Toml::Table);
    let example = prop::collection::btree_map(
        prop::sample::select(vec![
            "text", "context", "intent", "persona", "route", "team", "expect",
        ])
        .prop_map(String::from),
        prop_oneof![
            3 => toml_string().prop_map(Toml::Str),
            1 => prop::collection::vec(toml_string().prop_map(Toml::Str), 0..3).prop_map(Toml::Array),
            1 => toml_scalar(),
        ],
        0..5,
    )
    .prop_map(Toml::Table);
    let examples = prop::collection::vec(example, 0..3).prop_map(Toml::Array);
    let exclude = prop::collection::vec(
        prop_oneof![4 => toml_string().prop_map(Toml::Str), 1 => toml_scalar()],
        0..3,
    )
    .prop_map(Toml::Array);
    let known = prop_oneof![
        3 => (Just("keywords"), keywords),
        2 => (Just("patterns"), patterns),
        2 => (Just("route"), route),
        2 => (Just("answers"), answers),
        2 => (Just("examples"), examples),
        1 => (Just("exclude"), exclude),
        2 => (prop::sample::select(KEYS.to_vec()), toml_scalar()),
        1 => (prop::sample::select(KEYS.to_vec()), toml_value()),
    ];
    prop::collection::vec(known, 0..9).prop_map(|entries| {
        let map: BTreeMap<String, Toml> = entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        render_document(&map)
    })
}

/// The shipped catalog's files with lines deleted, duplicated, swapped with other files' lines
/// or cut short: nearly every edit a person makes by mistake.
fn mutated_shipped_file() -> impl Strategy<Value = String> {
    let built_in = CatalogSources::built_in();
    let texts: Vec<String> = built_in
        .personas
        .iter()
        .chain(&built_in.intents)
        .map(|(_, text)| text.clone())
        .collect();
    let donors = texts.clone();
    (
        prop::sample::select(texts),
        prop::collection::vec(
            (
                0u8..5,
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
            ),
            1..6,
        ),
    )
        .prop_map(move |(text, edits)| {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            for (op, at, donor) in edits {
                if lines.is_empty() {
                    break;
                }
                let i = at.index(lines.len());
                match op {
                    0 => {
                        lines.remove(i);
                    }
                    1 => lines.insert(i, lines[i].clone()),
                    2 => {
                        let other = donor.get(&donors);
                        let other_lines: Vec<&str> = other.lines().collect();
                        if !other_lines.is_empty() {
                            lines[i] = other_lines[donor.index(other_lines.len())].to_string();
                        }
                    }
                    3 => {
                        let cut = donor.index(lines[i].len() + 1);
                        let cut = (0..=cut)
                            .rev()
                            .find(|c| lines[i].is_char_boundary(*c))
                            .unwrap_or(0);
                        lines[i].truncate(cut);
                    }
                    _ => {
                        let j = donor.index(lines.len());
                        lines.swap(i, j);
                    }
                }
            }
            lines.join("\n")
        })
}

fn file_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => near_valid_document(),
        2 => mutated_shipped_file(),
        1 => any::<String>(),
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn file_stem() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["founder", "seller", "pricing", "refund"]).prop_map(String::from),
        1 => prop::sample::select(vec!["none", "default", "Bad Id", "", "-", "a--b", "ünï"])
            .prop_map(String::from),
        1 => "[a-z0-9-]{1,8}",
    ]
}

fn catalog_sources() -> impl Strategy<Value = CatalogSources> {
    // Paths are unique, as in a folder; the same stem in a subfolder is a duplicate id.
    let files = |dir: &'static str| {
        prop::collection::vec((file_stem(), any::<bool>(), file_text()), 0..4).prop_map(
            move |files| {
                let mut out: Vec<(PathBuf, String)> = Vec::new();
                for (stem, nested, text) in files {
                    let sub = if nested { "more/" } else { "" };
                    let path = PathBuf::from(format!("{dir}/{sub}{stem}.toml"));
                    if out.iter().all(|(p, _)| *p != path) {
                        out.push((path, text));
                    }
                }
                out
            },
        )
    };
    (files("personas"), files("intents")).prop_map(|(personas, intents)| CatalogSources {
        personas,
        intents,
        intents_dir: PathBuf::from("intents"),
    })
}

/// Every diagnostic names a file that was given (or the intents folder) and a line and column
/// inside that file.
fn check_diagnostics(sources: &CatalogSources, diags: &Diagnostics) -> Result<(), TestCaseError> {
    prop_assert!(!diags.is_empty(), "an error without a diagnostic");
    for d in diags.iter() {
        prop_assert!(!d.message.trim().is_empty(), "empty message at {d}");
        if d.path == Path::new("intents") {
            prop_assert_eq!((d.line, d.col), (1, 1));
            continue;
        }
        let text = sources
            .personas
            .iter()
            .chain(&sources.intents)
            .find(|(p, _)| *p == d.path)
            .map(|(_, t)| t);
        let Some(text) = text else {
            return Err(TestCaseError::fail(format!(
                "{d} names a file that was not given"
            )));
        };
        let lines: Vec<&str> = text.split('\n').collect();
        prop_assert!(
            d.line >= 1 && d.line <= lines.len(),
            "{d}: line outside the file"
        );
        let width = lines[d.line - 1].chars().count();
        prop_assert!(
            d.col >= 1 && d.col <= width + 1,
            "{d}: column outside line {:?}",
            lines[d.line - 1]
        );
    }
    Ok(())
}

fn teams() -> &'static BTreeMap<String, Team> {
    &shipped().settings.teams
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn catalog_loading_never_panics(sources in catalog_sources()) {
        match catalog::load_from_sources(sources.clone(), teams()) {
            Err(diags) => check_diagnostics(&sources, &diags)?,
            Ok(catalog) => {
                // A catalog that loads must compile and classify its own examples.
                let classifier = Classifier::new(&catalog)
                    .map_err(|e| TestCaseError::fail(format!("loaded but does not compile: {e}")))?;
                prop_assert!(!catalog.intents.is_empty(), "a loaded catalog has intents");
                for intent in &catalog.intents {
                    for example in &intent.examples {
                        let _ = classifier.classify(&example.text);
                    }
                }
            }
        }
    }

    #[test]
    fn a_single_near_valid_intent_file_is_validated_without_panicking(
        text in near_valid_document(),
        persona in near_valid_document(),
    ) {
        let sources = CatalogSources {
            personas: vec![(PathBuf::from("personas/founder.toml"), persona)],
            intents: vec![(PathBuf::from("intents/pricing.toml"), text)],
            intents_dir: PathBuf::from("intents"),
        };
        if let Err(diags) = catalog::load_from_sources(sources.clone(), teams()) {
            check_diagnostics(&sources, &diags)?;
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Echoed text on Discord and Slack
// ----------------------------------------------------------------------------------------------

/// Text aimed at chat markup: mentions, masked links and their near misses.
fn mention_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "@everyone", "@here", "@EVERYONE", "@HeRe", "<@123>", "<@!456>", "<@&789>", "<#42>",
            "<!everyone>", "<!here>", "<!channel>", "<@U123|ann>", "[click](https://evil.example)",
            "](", "<", ">", "@", "&", "&amp;", "&lt;", "&gt;", "`", "\u{200b}", "*", "_", "~",
            "<https://evil.example|bank>", "<mailto:a@b.c|x>", "@@everyone", "<<@1>", "]](",
        ])
        .prop_map(String::from),
        2 => tricky_string(6),
        1 => any::<String>(),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
}

/// True when Discord would read `text` as a mass mention, a user/role/channel mention or a
/// masked link.
fn discord_active_markup(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    [
        ("@everyone", "@everyone"),
        ("@here", "@here"),
        ("<@", "a user or role mention"),
        ("<#", "a channel mention"),
        ("](", "a masked link"),
    ]
    .into_iter()
    .find(|(needle, _)| lower.contains(needle))
    .map(|(_, what)| what)
}

fn ticket_with(text: &str, other: &str) -> Ticket {
    Ticket {
        id: 7,
        team: "support".into(),
        status: TicketStatus::Claimed,
        created_ms: 0,
        updated_ms: 0,
        channel: other.into(),
        conversation: format!("conv`{other}`"),
        user: "u".into(),
        persona: None,
        intent: None,
        evidence: vec![EvidenceRecord {
            term: other.into(),
            target: "intent:pricing".into(),
            weight: 1.0,
        }],
        reason: text.into(),
        interaction: 1,
        transcript: vec![
            TranscriptLine {
                at_ms: 0,
                from: Actor::Customer,
                text: text.into(),
            },
            TranscriptLine {
                at_ms: 1,
                from: Actor::Agent(other.into()),
                text: other.into(),
            },
        ],
        claimed_by: Some(other.into()),
        resolved_by: None,
        relabels: vec![Label {
            intent: None,
            persona: None,
            by: other.into(),
            at_ms: 2,
        }],
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn discord_neutralised_text_cannot_mention_or_link_and_reads_the_same(text in mention_soup()) {
        let out = discord::neutralise(&text);
        prop_assert_eq!(discord_active_markup(&out), None, "in {:?}", out);
        // Zero-width spaces are added and bidirectional overrides and isolates dropped; the
        // rest reads the same.
        let visible = |s: &str| {
            s.chars()
                .filter(|c| !matches!(c, '\u{200b}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
                .collect::<String>()
        };
        prop_assert_eq!(visible(&out), visible(&text), "only zero-width spaces are added");
        let bidi = out
            .chars()
            .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'));
        prop_assert!(!bidi, "a bidirectional control survived in {:?}", out);
        let cut = discord::fit(&out, 100);
        prop_assert!(cut.chars().count() <= 100);
        prop_assert_eq!(discord_active_markup(&cut), None, "after cutting: {:?}", cut);
    }

    #[test]
    fn a_discord_ticket_message_never_mentions_or_links(text in mention_soup(), other in mention_soup()) {
        let rendered = discord::render_ticket(&shipped().catalog, &ticket_with(&text, &other));
        prop_assert_eq!(discord_active_markup(&rendered), None, "in {:?}", rendered);
    }

    #[test]
    fn slack_escaped_text_has_no_markup_and_round_trips(text in mention_soup()) {
        let escaped = slack::escape(&text);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'), "{:?}", escaped);
        prop_assert_eq!(slack::plain_text(&escaped), text.clone());
        let cut = slack::fit(&escaped, 50);
        prop_assert!(cut.chars().count() <= 50);
        // Every `&` still starts a whole entity after cutting.
        for (at, _) in cut.match_indices('&') {
            let rest = &cut[at..];
            prop_assert!(
                ["&amp;", "&lt;", "&gt;"].iter().any(|e| rest.starts_with(e)),
                "half an entity in {:?}", cut
            );
        }
        let body = slack::post_message_body("C1", "1.2", &escaped, None);
        prop_assert!(!body["text"].as_str().unwrap_or_default().contains('<'));
        prop_assert_eq!(&body["link_names"], &serde_json::json!(false));
    }
}

// ----------------------------------------------------------------------------------------------
// Pattern prefilter
// ----------------------------------------------------------------------------------------------

/// One alternative of a generated pattern: optional leading `\b`, then literal words, groups
/// and classes.
fn pattern_branch() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "how",
        "much",
        "soc",
        "refund",
        "ab",
        "cd",
        "café",
        "σας",
        "\\s+",
        "\\s?",
        " ",
        "-",
        "(is|are)",
        "(a |an )?",
        "\\d+",
        "\\w*",
        ".{0,5}",
        "\\$",
        "€",
        "\\b",
        "s?",
    ]);
    (
        prop::sample::select(vec!["", "\\b", "\\b", "^\\W*"]),
        prop::collection::vec(atom, 1..4),
    )
        .prop_map(|(start, atoms)| format!("{start}{}", atoms.concat()))
}

fn pattern_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "how", "much", "soc", "refund", "ab", "cd", "café", "σας", "ΣΑΣ", "HOW", " ", "x", "_",
        "1", "2", "$", "€", "-", "é", "\u{301}", "is", "are", "a ", ".", "\n",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(256))]

    /// The literal prefilter only skips regexes that cannot match: the rules it reports are
    /// exactly those whose regex matches the normalised text.
    #[test]
    fn the_pattern_prefilter_finds_exactly_what_the_regexes_match(
        patterns in prop::collection::vec(
            prop::collection::vec(pattern_branch(), 1..3).prop_map(|b| b.join("|")),
            1..4,
        ),
        text in pattern_text(),
    ) {
        let sources: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let Ok(rules) = PatternRules::build(&sources) else {
            return Ok(()); // an invalid generated regex: load rejects it first
        };
        let normalised = normalise(&text);
        let mut found = Vec::new();
        rules.find(&normalised, &mut Vec::new(), |r| found.push(r));
        let expected: Vec<u32> = sources
            .iter()
            .enumerate()
            .filter(|(_, p)| compile_pattern(p).is_ok_and(|re| re.is_match(&normalised)))
            .map(|(i, _)| i as u32)
            .collect();
        prop_assert_eq!(found, expected, "patterns {:?} on {:?}", patterns, normalised);
    }
}

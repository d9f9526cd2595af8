//! Catalog loading never panics on arbitrary or near-valid TOML, and reports what it
//! refuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use personabot::catalog::{self, CatalogSources, Diagnostics, Team};
use personabot::core::classify::Classifier;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::strategies::tricky_string;
use crate::{config, shipped};

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
        replies: Vec::new(),
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
            replies: Vec::new(),
        };
        if let Err(diags) = catalog::load_from_sources(sources.clone(), teams()) {
            check_diagnostics(&sources, &diags)?;
        }
    }
}

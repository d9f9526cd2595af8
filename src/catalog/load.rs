//! Loading and validating a catalog folder, collecting every error as `path:line:col`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::Document;

use super::answers;
use super::diagnostics::{Diagnostic, Diagnostics, SourceText};
use super::fields::{item_span, item_type_name, Fields};
use super::{
    is_valid_id, Catalog, Example, Expected, Intent, Keyword, Pattern, Persona, PersonaKind,
    RouteKind, RouteOverride, RouteRule, Team, DEFAULT_ANSWER,
};
use crate::core::team_names::TeamNames;
use crate::core::text;

/// The raw files of a catalog: `(path, text)` per persona and per intent.
#[derive(Debug, Clone, Default)]
pub struct CatalogSources {
    pub personas: Vec<(PathBuf, String)>,
    pub intents: Vec<(PathBuf, String)>,
    /// Where the intents came from, for errors about the folder as a whole.
    pub intents_dir: PathBuf,
    /// `(path, text)` per team's saved replies (`replies/<team>.toml`; the folder is optional).
    pub replies: Vec<(PathBuf, String)>,
}

impl CatalogSources {
    /// Reads `dir/personas/*.toml` and `dir/intents/*.toml`.
    pub fn read_dir(dir: &Path) -> Result<Self, Diagnostics> {
        let mut diags = Diagnostics::default();
        let personas = read_toml_files(&dir.join("personas"), &mut diags);
        let intents = read_toml_files(&dir.join("intents"), &mut diags);
        let replies = match dir.join("replies") {
            folder if folder.is_dir() => read_toml_files(&folder, &mut diags),
            _ => Vec::new(),
        };
        if diags.is_empty() {
            Ok(CatalogSources {
                personas,
                intents,
                intents_dir: dir.join("intents"),
                replies,
            })
        } else {
            Err(diags)
        }
    }
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/default_catalog.rs"));
}

impl CatalogSources {
    /// The catalog shipped with personabot, compiled into the binary.
    pub fn built_in() -> Self {
        let own = |files: &[(&str, &str)]| {
            files
                .iter()
                .map(|(path, text)| {
                    (
                        PathBuf::from(format!("<built-in>/{path}")),
                        text.to_string(),
                    )
                })
                .collect()
        };
        CatalogSources {
            personas: own(embedded::PERSONAS),
            intents: own(embedded::INTENTS),
            intents_dir: PathBuf::from("<built-in>/intents"),
            replies: own(embedded::REPLIES),
        }
    }
}

fn read_toml_files(folder: &Path, diags: &mut Diagnostics) -> Vec<(PathBuf, String)> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) => {
            diags.push(file_error(folder, format!("cannot read folder: {e}")));
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => out.push((path, text)),
            Err(e) => diags.push(file_error(&path, format!("cannot read file: {e}"))),
        }
    }
    out
}

fn file_error(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        path: path.to_path_buf(),
        line: 1,
        col: 1,
        message,
    }
}

/// Loads and validates the catalog in `dir` against the configured `teams`.
pub fn load(dir: &Path, teams: &BTreeMap<String, Team>) -> Result<Catalog, Diagnostics> {
    load_from_sources(CatalogSources::read_dir(dir)?, teams)
}

/// Ids known before any file is parsed, so cross-references can be checked in one pass.
pub(super) struct Known<'a> {
    pub(super) personas: BTreeSet<String>,
    pub(super) intents: BTreeSet<String>,
    pub(super) teams: &'a BTreeMap<String, Team>,
}

/// Validates already-read sources. Every problem is reported, in file order.
pub fn load_from_sources(
    sources: CatalogSources,
    teams: &BTreeMap<String, Team>,
) -> Result<Catalog, Diagnostics> {
    let mut diags = Diagnostics::default();
    let intents_dir = sources.intents_dir.clone();
    let persona_ids = collect_ids(&sources.personas, "persona", &mut diags);
    let intent_ids = collect_ids(&sources.intents, "intent", &mut diags);
    let known = Known {
        personas: persona_ids.values().cloned().collect(),
        intents: intent_ids.values().cloned().collect(),
        teams,
    };

    let mut catalog = Catalog {
        teams: teams.clone(),
        team_names: TeamNames::compile(teams),
        replies: super::replies::read_replies(&sources.replies, teams, &mut diags),
        ..Catalog::default()
    };
    for (path, text) in sources.personas {
        let Some(id) = persona_ids.get(&path).cloned() else {
            continue;
        };
        let src = SourceText::new(&path, text);
        if let Some(doc) = parse(&src, &mut diags) {
            catalog
                .personas
                .push(read_persona(&src, &doc, id, &mut diags));
        }
    }
    for (path, text) in sources.intents {
        let Some(id) = intent_ids.get(&path).cloned() else {
            continue;
        };
        let src = SourceText::new(&path, text);
        if let Some(doc) = parse(&src, &mut diags) {
            catalog
                .intents
                .push(read_intent(&src, &doc, id, &known, &mut diags));
        }
    }
    if catalog.intents.is_empty() && diags.is_empty() {
        diags.push(Diagnostic {
            path: intents_dir,
            line: 1,
            col: 1,
            message: "the catalog has no intents".into(),
        });
    }
    // Files in the order they were read; within a file, by position.
    let mut file_order: Vec<PathBuf> = Vec::new();
    for d in diags.iter() {
        if !file_order.contains(&d.path) {
            file_order.push(d.path.clone());
        }
    }
    let rank = |p: &PathBuf| file_order.iter().position(|f| f == p).unwrap_or(usize::MAX);
    diags.0.sort_by_key(|d| (rank(&d.path), d.line, d.col));
    catalog.personas.sort_by(|a, b| a.id.cmp(&b.id));
    catalog.intents.sort_by(|a, b| a.id.cmp(&b.id));
    if diags.is_empty() {
        Ok(catalog)
    } else {
        Err(diags)
    }
}

/// Maps each file to its id (the file stem); invalid and duplicate ids are errors.
fn collect_ids(
    files: &[(PathBuf, String)],
    what: &str,
    diags: &mut Diagnostics,
) -> HashMap<PathBuf, String> {
    let mut ids = HashMap::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, _) in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !is_valid_id(&stem) || stem == "none" || stem == DEFAULT_ANSWER {
            diags.push(file_error(
                path,
                format!(
                    "invalid {what} id `{stem}`: the file stem must be lowercase letters, digits and `-` (and not `none` or `default`)"
                ),
            ));
            continue;
        }
        if let Some(first) = seen.get(&stem) {
            diags.push(file_error(
                path,
                format!("duplicate {what} id `{stem}` (also {})", first.display()),
            ));
            continue;
        }
        seen.insert(stem.clone(), path.clone());
        ids.insert(path.clone(), stem);
    }
    ids
}

fn parse(src: &SourceText, diags: &mut Diagnostics) -> Option<Document<String>> {
    match Document::parse(src.text.clone()) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let message = e.message().trim().replace('\n', " ");
            diags.push(src.at(e.span(), format!("invalid TOML: {message}")));
            None
        }
    }
}

fn root<'a>(src: &'a SourceText, doc: &'a Document<String>) -> Fields<'a> {
    Fields::new(src, doc.as_table(), None, String::new())
}

const PERSONA_KEYS: &[&str] = &[
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
    "exact",
    "patterns",
];

fn read_persona(
    src: &SourceText,
    doc: &Document<String>,
    id: String,
    diags: &mut Diagnostics,
) -> Persona {
    let mut f = root(src, doc);
    let kind = match f.string("kind", diags) {
        None => PersonaKind::default(),
        Some(k) => PersonaKind::parse(&k).unwrap_or_else(|| {
            diags.push(src.at(
                f.value_span("kind"),
                format!("`kind` must be one of buyer, user, website, found `{k}`"),
            ));
            PersonaKind::default()
        }),
    };
    let persona = Persona {
        name: f.string("name", diags).unwrap_or_else(|| id.clone()),
        kind,
        owner: f
            .string("owner", diags)
            .unwrap_or_else(|| "unassigned".into()),
        who: f.string("who", diags).unwrap_or_default(),
        age: f.string("age", diags).unwrap_or_default(),
        location: f.string("location", diags).unwrap_or_default(),
        goals: f.strings("goals", diags).into_iter().map(|s| s.0).collect(),
        challenges: f
            .strings("challenges", diags)
            .into_iter()
            .map(|s| s.0)
            .collect(),
        threshold: f.number("threshold", 0.0..=1.0, diags),
        keywords: read_keywords(&mut f, diags),
        patterns: read_patterns(&mut f, diags),
        path: src.path.clone(),
        id,
    };
    f.finish(PERSONA_KEYS, diags);
    persona
}

fn read_keywords(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Vec<Keyword> {
    let Some(mut table) = f.table("keywords", diags) else {
        return Vec::new();
    };
    let mut keywords = Vec::new();
    let mut first_seen: HashMap<Vec<String>, String> = HashMap::new();
    for (term, item) in table.entries() {
        let path = table.path(term);
        let weight = item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64));
        let weight = match weight {
            Some(w) if (-10.0..=10.0).contains(&w) => w as f32,
            Some(w) => {
                diags.push(src_at(
                    &table,
                    term,
                    format!("`{path}` weight must be between -10 and 10, found {w}"),
                ));
                continue;
            }
            None => {
                diags.push(src_at(
                    &table,
                    term,
                    format!(
                        "`{path}` must be a number (the weight), found {}",
                        item_type_name(item)
                    ),
                ));
                continue;
            }
        };
        let words = text::words(term);
        if words.is_empty() {
            diags.push(src_at(
                &table,
                term,
                format!("`{path}` has no words to match"),
            ));
            continue;
        }
        if let Some(first) = first_seen.get(&words) {
            diags.push(src_at(
                &table,
                term,
                format!("duplicate keyword `{path}`: it matches the same words as `{first}`"),
            ));
            continue;
        }
        first_seen.insert(words.clone(), term.to_string());
        keywords.push(Keyword {
            term: term.to_string(),
            words,
            weight,
            exact: false,
        });
    }
    drop(table);
    mark_exact(f, &mut keywords, diags);
    keywords
}

/// Reads `exact`: keywords that match only as written (no other forms, no typos). Each entry
/// must be one of the file's keywords.
fn mark_exact(f: &mut Fields<'_>, keywords: &mut [Keyword], diags: &mut Diagnostics) {
    for (i, (term, span)) in f.strings("exact", diags).into_iter().enumerate() {
        let words = text::words(&term);
        match keywords.iter_mut().find(|k| k.words == words) {
            Some(k) => k.exact = true,
            None => diags.push(f.src.at(
                span,
                format!("`exact[{i}]` = {term:?} is not a keyword of this file"),
            )),
        }
    }
}

fn src_at(f: &Fields<'_>, key: &str, message: String) -> Diagnostic {
    f.src.at(f.key_span(key), message)
}

const INTENT_KEYS: &[&str] = &[
    "name",
    "description",
    "label",
    "threshold",
    "priority",
    "exclude",
    "keywords",
    "exact",
    "patterns",
    "route",
    "answers",
    "feedback",
    "examples",
    "not_helped",
    "parts",
];

fn read_intent(
    src: &SourceText,
    doc: &Document<String>,
    id: String,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) -> Intent {
    let mut f = root(src, doc);
    let name = f.string("name", diags).unwrap_or_else(|| id.clone());
    let description = f.string("description", diags).unwrap_or_default();
    let label = f.string("label", diags).filter(|l| !l.is_empty());
    let threshold = f.number("threshold", 0.0..=1.0, diags);
    let priority = f.integer("priority", diags).unwrap_or(0);
    let priority = if (-100..=100).contains(&priority) {
        priority as i32
    } else {
        diags.push(src.at(
            f.value_span("priority"),
            format!("`priority` must be between -100 and 100, found {priority}"),
        ));
        0
    };
    let exclude = read_exclude(&mut f, diags);
    let keywords = read_keywords(&mut f, diags);
    let patterns = read_patterns(&mut f, diags);
    let answers = answers::read_answers(&mut f, known, diags);
    let parts = answers::read_parts(&mut f, known, diags);
    let feedback = f.boolean("feedback", diags).unwrap_or(true);
    let not_helped = f.boolean("not_helped", diags).unwrap_or(false);
    let (route, route_overrides) = read_route(&mut f, !answers.is_empty(), known, diags);
    answers::check_answers_cover_route(src, &f, &route, &route_overrides, &answers, known, diags);
    let examples = read_examples(&mut f, known, diags);
    f.finish(INTENT_KEYS, diags);
    Intent {
        id,
        name,
        description,
        label,
        threshold,
        priority,
        exclude,
        keywords,
        patterns,
        route,
        route_overrides,
        answers,
        parts,
        feedback,
        not_helped,
        examples,
        path: src.path.clone(),
    }
}

fn read_exclude(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (term, span)) in f.strings("exclude", diags).into_iter().enumerate() {
        if text::words(&term).is_empty() {
            diags.push(
                f.src
                    .at(span, format!("`exclude[{i}]` has no words to match")),
            );
        } else {
            out.push(term);
        }
    }
    out
}

const PATTERN_KEYS: &[&str] = &["regex", "weight"];

fn read_patterns(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Vec<Pattern> {
    let mut out = Vec::new();
    for mut p in f.tables("patterns", diags) {
        let regex = p.string("regex", diags);
        let weight = p.number("weight", -10.0..=10.0, diags).unwrap_or(1.0) as f32;
        match regex {
            None if !p.has("regex") => diags.push(
                p.src
                    .at(p.table_span(), format!("`{}` is missing `regex`", p.name())),
            ),
            None => {}
            Some(regex) => match crate::core::classify::compile_pattern(&regex) {
                Ok(_) => out.push(Pattern { regex, weight }),
                Err(e) => diags.push(p.src.at(
                    p.value_span("regex"),
                    format!(
                        "`{}` is not a valid regex: {}",
                        p.path("regex"),
                        one_line(&e)
                    ),
                )),
            },
        }
        p.finish(PATTERN_KEYS, diags);
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read_route(
    f: &mut Fields<'_>,
    has_answers: bool,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) -> (RouteRule, BTreeMap<String, RouteOverride>) {
    let default_kind = if has_answers {
        RouteKind::Answer
    } else {
        RouteKind::Ticket
    };
    let mut rule = RouteRule {
        kind: default_kind,
        team: "support".into(),
    };
    let mut overrides = BTreeMap::new();
    let Some(mut route) = f.table("route", diags) else {
        check_team(f, None, &rule.team, "route.team", known, diags);
        return (rule, overrides);
    };
    if let Some(kind) = read_route_kind(&mut route, diags) {
        rule.kind = kind;
    }
    match route.string("team", diags) {
        Some(team) => {
            if check_team(
                &route,
                Some("team"),
                &team,
                &route.path("team"),
                known,
                diags,
            ) {
                rule.team = team;
            }
        }
        None => {
            check_team(&route, None, &rule.team, &route.path("team"), known, diags);
        }
    }
    if let Some(mut personas) = route.table("personas", diags) {
        for (persona, item) in personas.entries() {
            let path = personas.path(persona);
            if !known.personas.contains(persona) {
                diags.push(src_at(
                    &personas,
                    persona,
                    format!("`{path}`: unknown persona `{persona}`"),
                ));
                continue;
            }
            let mut over = RouteOverride::default();
            if let Some(kind) = item.as_str() {
                match RouteKind::parse(kind) {
                    Some(k) => over.kind = Some(k),
                    None => diags.push(personas.src.at(
                        item_span(item),
                        format!("`{path}` must be one of answer, ticket, escalate, fallback, found `{kind}`"),
                    )),
                }
            } else if let Some(table) = item.as_table_like() {
                let mut t = Fields::new(personas.src, table, item_span(item), path.clone());
                over.kind = read_route_kind(&mut t, diags);
                if let Some(team) = t.string("team", diags) {
                    if check_team(&t, Some("team"), &team, &t.path("team"), known, diags) {
                        over.team = Some(team);
                    }
                }
                t.finish(&["kind", "team"], diags);
            } else {
                diags.push(personas.src.at(
                    item_span(item),
                    format!(
                        "`{path}` must be a route kind or a table {{ kind, team }}, found {}",
                        item_type_name(item)
                    ),
                ));
                continue;
            }
            overrides.insert(persona.to_string(), over);
        }
    }
    route.finish(&["kind", "team", "personas"], diags);
    (rule, overrides)
}

fn read_route_kind(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Option<RouteKind> {
    let kind = f.string("kind", diags)?;
    let parsed = RouteKind::parse(&kind);
    if parsed.is_none() {
        diags.push(f.src.at(
            f.value_span("kind"),
            format!(
                "`{}` must be one of answer, ticket, escalate, fallback, found `{kind}`",
                f.path("kind")
            ),
        ));
    }
    parsed
}

/// Reports an unknown team; `key` is where the team was written (None: it is the default).
fn check_team(
    f: &Fields<'_>,
    key: Option<&str>,
    team: &str,
    path: &str,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) -> bool {
    if known.teams.contains_key(team) {
        return true;
    }
    let span: Option<Range<usize>> = match key {
        Some(k) => f.value_span(k),
        None => f.table_span(),
    };
    let teams: Vec<&str> = known.teams.keys().map(String::as_str).collect();
    diags.push(f.src.at(
        span,
        format!(
            "`{path}`: unknown team `{team}` (teams in settings: {})",
            if teams.is_empty() {
                "none".to_string()
            } else {
                teams.join(", ")
            }
        ),
    ));
    false
}

const EXAMPLE_KEYS: &[&str] = &[
    "text",
    "context",
    "intent",
    "persona",
    "route",
    "team",
    "answer",
    "conversation",
];

fn read_examples(f: &mut Fields<'_>, known: &Known<'_>, diags: &mut Diagnostics) -> Vec<Example> {
    let mut out = Vec::new();
    for mut e in f.tables("examples", diags) {
        let (line, col) = e.table_span().map_or((1, 1), |s| e.src.line_col(s.start));
        let text = e.string("text", diags);
        if text.is_none() && !e.has("text") {
            diags.push(
                e.src
                    .at(e.table_span(), format!("`{}` is missing `text`", e.name())),
            );
        }
        let context = e
            .strings("context", diags)
            .into_iter()
            .map(|s| s.0)
            .collect();
        let intent = read_expected(&mut e, "intent", &known.intents, "intent", diags);
        let persona = read_expected(&mut e, "persona", &known.personas, "persona", diags);
        let route = e.string("route", diags);
        if let Some(r) = &route {
            if !["answer", "ticket", "clarify", "fallback"].contains(&r.as_str()) {
                diags.push(e.src.at(
                    e.value_span("route"),
                    format!(
                        "`{}` must be one of answer, ticket, clarify, fallback, found `{r}`",
                        e.path("route")
                    ),
                ));
            }
        }
        let team = e.string("team", diags);
        if let Some(t) = &team {
            check_team(&e, Some("team"), t, &e.path("team"), known, diags);
        }
        let answer = e.string("answer", diags);
        let conversation = e.string("conversation", diags);
        e.finish(EXAMPLE_KEYS, diags);
        if let Some(text) = text {
            out.push(Example {
                text,
                context,
                intent,
                persona,
                route,
                team,
                answer,
                conversation,
                line,
                col,
            });
        }
    }
    out
}

fn read_expected(
    e: &mut Fields<'_>,
    key: &str,
    ids: &BTreeSet<String>,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<Expected> {
    let value = e.string(key, diags)?;
    if value == "none" {
        return Some(Expected::Nothing);
    }
    if !ids.contains(&value) {
        diags.push(e.src.at(
            e.value_span(key),
            format!("`{}`: unknown {what} `{value}`", e.path(key)),
        ));
        return None;
    }
    Some(Expected::Id(value))
}

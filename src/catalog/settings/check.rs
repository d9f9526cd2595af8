//! The settings file checked like the catalog: every syntax error, unknown section or key, wrong
//! type, value out of range and secret written into the file, all at once, as `path:line:col`.
//!
//! Loading still merges defaults, the file and the environment with `config`; this pass runs on
//! the file's own text first, so each problem points at the line that causes it.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use toml_edit::{Document, Item};

use crate::catalog::fields::{item_span, item_type_name, Fields};
use crate::catalog::{is_valid_team_id, Diagnostics, SourceText};
use crate::core::hours::BusinessHours;
use crate::core::model::Team;
use crate::core::net::{check_origin, IpRange};
use crate::core::team_names::alias_problems;

use super::{ShardRange, DISCORD_TOKEN_ENV, USER_HASH_KEY_ENV};

/// The sections of the settings file, in the order they are documented.
pub const SECTIONS: &[&str] = &[
    "classify", "limits", "store", "privacy", "teams", "http", "discord", "slack", "telegram",
    "bridges", "brand", "cluster",
];

/// Keys that hold secrets, and the only environment variable each may come from.
pub const SECRETS: &[(&str, &str, &str)] = &[
    ("privacy", "user_hash_key", USER_HASH_KEY_ENV),
    ("discord", "token", DISCORD_TOKEN_ENV),
    ("http", "agent_token", "PERSONABOT__HTTP__AGENT_TOKEN"),
    ("http", "owner_token", "PERSONABOT__HTTP__OWNER_TOKEN"),
    (
        "slack",
        "signing_secret",
        "PERSONABOT__SLACK__SIGNING_SECRET",
    ),
    ("slack", "bot_token", "PERSONABOT__SLACK__BOT_TOKEN"),
    ("telegram", "token", "PERSONABOT__TELEGRAM__TOKEN"),
    (
        "telegram",
        "webhook_secret",
        "PERSONABOT__TELEGRAM__WEBHOOK_SECRET",
    ),
];

const TEAM_KEYS: &[&str] = &[
    "name",
    "description",
    "response_time",
    "hours",
    "timezone",
    "discord_channel",
    "discord_role",
    "aliases",
    "assign",
    "first_response_target",
    "resolve_target",
];

/// Every problem in one settings file (`src` holds its path and text).
pub fn check(src: &SourceText) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let doc = match Document::parse(src.text.clone()) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().trim().replace('\n', " ");
            diags.push(src.at(e.span(), format!("invalid TOML: {message}")));
            return diags;
        }
    };
    let mut root = Fields::new(src, doc.as_table(), None, String::new());
    for section in SECTIONS {
        let Some(mut t) = root.table(section, &mut diags) else {
            continue;
        };
        for (s, key, env) in SECRETS.iter().filter(|(s, ..)| s == section) {
            if t.item(key).is_some() {
                diags.push(src.at(
                    t.key_span(key),
                    format!(
                        "`{s}.{key}` is a secret: set it only through the environment variable {env}"
                    ),
                ));
            }
        }
        let allowed = match *section {
            "classify" => classify(&mut t, &mut diags),
            "limits" => limits(&mut t, &mut diags),
            "store" => {
                at_least(&mut t, "retention_days", 0, &mut diags);
                at_least(&mut t, "audit_retention_days", 0, &mut diags);
                &["retention_days", "audit_retention_days"][..]
            }
            "privacy" => &["user_hash_key"],
            "teams" => {
                teams(&mut t, &mut diags);
                &[]
            }
            "http" => http(&mut t, &mut diags),
            "brand" => brand(&mut t, &mut diags),
            "discord" => discord(&mut t, &mut diags),
            "bridges" => {
                bridges(&mut t, &mut diags);
                &[]
            }
            "slack" => {
                t.string("api_base", &mut diags);
                if t.has("agents") {
                    t.strings("agents", &mut diags);
                }
                &["api_base", "signing_secret", "bot_token", "agents"]
            }
            "cluster" => cluster(&mut t, &mut diags),
            _ => {
                t.string("api_url", &mut diags);
                &["api_url", "token", "webhook_secret"]
            }
        };
        t.finish(allowed, &mut diags);
    }
    root.finish(SECTIONS, &mut diags);
    diags.0.sort_by_key(|d| (d.line, d.col));
    diags
}

fn classify(t: &mut Fields<'_>, diags: &mut Diagnostics) -> &'static [&'static str] {
    for key in [
        "intent_threshold",
        "persona_threshold",
        "margin",
        "typo_weight",
    ] {
        t.number(key, 0.0..=1.0, diags);
    }
    at_least(t, "max_misses", 1, diags);
    t.boolean("inflections", diags);
    t.boolean("typos", diags);
    &[
        "intent_threshold",
        "persona_threshold",
        "margin",
        "max_misses",
        "inflections",
        "typos",
        "typo_weight",
    ]
}

fn limits(t: &mut Fields<'_>, diags: &mut Diagnostics) -> &'static [&'static str] {
    at_least(t, "max_message_chars", 16, diags);
    at_least(t, "flood_messages", 1, diags);
    at_least(t, "flood_window_secs", 1, diags);
    at_least(t, "address_requests", 1, diags);
    at_least(t, "address_window_secs", 1, diags);
    &[
        "max_message_chars",
        "flood_messages",
        "flood_window_secs",
        "address_requests",
        "address_window_secs",
    ]
}

fn http(t: &mut Fields<'_>, diags: &mut Diagnostics) -> &'static [&'static str] {
    t.string("listen", diags);
    at_least(t, "max_body_bytes", 1, diags);
    if let Some(v) = t.integer("header_timeout_secs", diags) {
        if !(1..=10).contains(&v) {
            diags.push(t.src.at(
                t.value_span("header_timeout_secs"),
                format!("`http.header_timeout_secs` must be between 1 and 10, found {v}"),
            ));
        }
    }
    at_least(t, "request_timeout_secs", 1, diags);
    at_least(t, "max_connections", 1, diags);
    at_least(t, "max_connections_per_address", 0, diags);
    at_least(t, "session_hours", 1, diags);
    t.string("public_url", diags);
    type Check = fn(&str) -> Result<(), String>;
    at_least(t, "web_conversation_days", 1, diags);
    let checks: [(&str, Check); 3] = [
        ("trusted_proxies", |s| s.parse::<IpRange>().map(|_| ())),
        ("frame_ancestors", check_origin),
        ("widget_origins", check_origin),
    ];
    for (key, check) in checks {
        for (value, span) in t.strings(key, diags) {
            if let Err(problem) = check(&value) {
                diags.push(t.src.at(span, format!("`http.{key}`: {problem}")));
            }
        }
    }
    &[
        "listen",
        "max_body_bytes",
        "session_hours",
        "public_url",
        "header_timeout_secs",
        "request_timeout_secs",
        "max_connections",
        "max_connections_per_address",
        "trusted_proxies",
        "frame_ancestors",
        "agent_token",
        "owner_token",
        "web_conversation_days",
        "widget_origins",
    ]
}

fn brand(t: &mut Fields<'_>, diags: &mut Diagnostics) -> &'static [&'static str] {
    use super::brand;
    type Check = fn(&str) -> Result<(), String>;
    let checks: [(&str, Check); 4] = [
        ("name", brand::check_name),
        ("accent", brand::check_colour),
        ("logo_url", brand::check_image_url),
        ("welcome", brand::check_welcome),
    ];
    for (key, check) in checks {
        if let Some(value) = t.string(key, diags) {
            if let Err(problem) = check(&value) {
                diags.push(
                    t.src
                        .at(t.value_span(key), format!("`brand.{key}`: {problem}")),
                );
            }
        }
    }
    &["name", "accent", "logo_url", "welcome"]
}

fn cluster(t: &mut Fields<'_>, diags: &mut Diagnostics) -> &'static [&'static str] {
    type Check = fn(&str) -> Result<(), String>;
    let checks: [(&str, Check); 2] = [
        ("nats_url", |s| match s.trim() {
            "" => Ok(()),
            url if super::cluster::has_credentials(url) => Err(
                "holds credentials: set it only through the environment variable \
                 PERSONABOT__CLUSTER__NATS_URL"
                    .into(),
            ),
            url => super::cluster::check_url(url),
        }),
        ("node", super::cluster::check_node),
    ];
    for (key, check) in checks {
        if let Some(value) = t.string(key, diags) {
            if let Err(problem) = check(&value) {
                diags.push(
                    t.src
                        .at(t.value_span(key), format!("`cluster.{key}`: {problem}")),
                );
            }
        }
    }
    &["nats_url", "node"]
}

fn discord(t: &mut Fields<'_>, diags: &mut Diagnostics) -> &'static [&'static str] {
    discord_id(t, "guild_id", diags);
    ids(t, "support_channels", diags);
    t.boolean("dms", diags);
    t.string("api_base", diags);
    if let Some(shards) = t.string("shards", diags) {
        if !shards.trim().is_empty() {
            if let Err(problem) = ShardRange::parse(&shards) {
                diags.push(t.src.at(
                    t.value_span("shards"),
                    format!("`discord.shards` {problem}"),
                ));
            }
        }
    }
    &[
        "guild_id",
        "support_channels",
        "dms",
        "api_base",
        "shards",
        "token",
    ]
}

/// The tables of a section of named tables (`[teams.<id>]`, `[bridges.<name>]`), with their
/// paths: each name checked by `name_problem`, and an entry that is not a table reported, all
/// at their positions.
fn named_tables<'a>(
    t: &mut Fields<'a>,
    diags: &mut Diagnostics,
    name_problem: impl Fn(&str) -> Option<String>,
) -> Vec<(&'a str, String, Fields<'a>)> {
    let mut tables = Vec::new();
    for (name, item) in t.entries() {
        let path = t.path(name);
        let span = || t.key_span(name);
        if let Some(problem) = name_problem(name) {
            diags.push(t.src.at(span(), problem));
        }
        let Some(table) = item.as_table_like() else {
            diags.push(t.src.at(
                item_span(item).or_else(span),
                format!("`{path}` must be a table, found {}", item_type_name(item)),
            ));
            continue;
        };
        let fields = Fields::new(t.src, table, item_span(item).or_else(span), path.clone());
        tables.push((name, path, fields));
    }
    tables
}

fn teams(t: &mut Fields<'_>, diags: &mut Diagnostics) {
    let id_problem = |id: &str| {
        (!is_valid_team_id(id))
            .then(|| format!("invalid team id `{id}`: use lowercase letters, digits and `_`"))
    };
    // Each team's names as read, so aliases can be checked against every team at once.
    let mut named: BTreeMap<String, Team> = super::Settings::built_in().teams;
    let mut alias_spans: HashMap<String, Vec<Option<Range<usize>>>> = HashMap::new();
    for (id, path, mut team) in named_tables(t, diags, id_problem) {
        let mut names = named.remove(id).unwrap_or_default();
        if let Some(name) = team.string("name", diags) {
            names.name = name;
        }
        if team.has("aliases") {
            let aliases = team.strings("aliases", diags);
            alias_spans.insert(
                id.to_string(),
                aliases.iter().map(|a| a.1.clone()).collect(),
            );
            names.aliases = aliases.into_iter().map(|a| a.0).collect();
        }
        named.insert(id.to_string(), names);
        for key in ["description", "response_time"] {
            team.string(key, diags);
        }
        let hours = team.string("hours", diags).unwrap_or_default();
        let timezone = team.string("timezone", diags).unwrap_or_default();
        if let Err(problem) = BusinessHours::parse(&hours, &timezone) {
            let at = match team.has("hours") {
                true => team.value_span("hours"),
                false => team.value_span("timezone"),
            };
            diags.push(t.src.at(at, format!("`{path}.hours` {problem}")));
        }
        for key in ["first_response_target", "resolve_target"] {
            let target = team.string(key, diags).unwrap_or_default();
            if let Err(problem) = crate::engine::targets::parse_target(&target) {
                let at = team.value_span(key);
                diags.push(t.src.at(at, format!("`{path}.{key}`: {problem}")));
            }
        }
        discord_id(&mut team, "discord_channel", diags);
        discord_id(&mut team, "discord_role", diags);
        if let Some(mode) = team.string("assign", diags) {
            if !crate::core::model::ASSIGN_MODES.contains(&mode.as_str()) {
                diags.push(t.src.at(
                    team.value_span("assign"),
                    format!("`{path}.assign` `{mode}`: use \"round-robin\" or \"manual\""),
                ));
            }
        }
        team.finish(TEAM_KEYS, diags);
    }
    for p in alias_problems(&named) {
        // Only the file's own aliases have a position (and only they can be fixed here).
        if let Some(span) = alias_spans.get(&p.team).and_then(|s| s.get(p.index)) {
            diags.push(t.src.at(
                span.clone(),
                format!("`teams.{}.aliases`: {}", p.team, p.problem),
            ));
        }
    }
}

/// `[bridges.<name>]`: a bridge is declared by its token, which only the environment holds.
fn bridges(t: &mut Fields<'_>, diags: &mut Diagnostics) {
    for (name, path, mut bridge) in named_tables(t, diags, |_| None) {
        if bridge.item("token").is_some() {
            diags.push(t.src.at(
                bridge.key_span("token"),
                format!(
                    "`{path}.token` is a secret: set it only through the environment variable \
                     PERSONABOT__BRIDGES__{}__TOKEN",
                    name.to_uppercase()
                ),
            ));
        }
        bridge.finish(&["token"], diags);
    }
}

/// An integer of at least `min`.
fn at_least(t: &mut Fields<'_>, key: &str, min: i64, diags: &mut Diagnostics) {
    if let Some(v) = t.integer(key, diags) {
        if v < min {
            diags.push(t.src.at(
                t.value_span(key),
                format!("`{}` must be at least {min}, found {v}", t.path(key)),
            ));
        }
    }
}

/// A Discord id: an integer or a numeric string (`""`: none).
fn discord_id(t: &mut Fields<'_>, key: &str, diags: &mut Diagnostics) {
    let Some(item) = t.item(key) else {
        return;
    };
    if let Err(problem) = id_value(item) {
        diags.push(
            t.src
                .at(t.value_span(key), format!("`{}` {problem}", t.path(key))),
        );
    }
}

fn id_value(item: &Item) -> Result<(), String> {
    if let Some(i) = item.as_integer() {
        return match i >= 0 {
            true => Ok(()),
            false => Err(format!("must be a numeric id, found {i}")),
        };
    }
    match item.as_str() {
        Some(s) if s.trim().is_empty() || s.trim().parse::<u64>().is_ok() => Ok(()),
        Some(s) => Err(format!("`{s}` is not a numeric id")),
        None => Err(format!(
            "must be a numeric id, found {}",
            item_type_name(item)
        )),
    }
}

/// A list of Discord ids: an array, or one comma-separated string.
fn ids(t: &mut Fields<'_>, key: &str, diags: &mut Diagnostics) {
    let Some(item) = t.item(key) else {
        return;
    };
    let problems: Vec<String> = match (item.as_array(), item.as_str()) {
        (Some(array), _) => array
            .iter()
            .filter_map(|v| id_value(&Item::Value(v.clone())).err())
            .collect(),
        (None, Some(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .filter_map(|p| id_value(&Item::Value(p.into())).err())
            .collect(),
        (None, None) => id_value(item).err().into_iter().collect(),
    };
    for problem in problems {
        diags.push(
            t.src
                .at(t.value_span(key), format!("`{}` {problem}", t.path(key))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn messages(text: &str) -> Vec<String> {
        let src = SourceText::new(Path::new("personabot.toml"), text.to_string());
        check(&src).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_shipped_settings_are_clean() {
        assert_eq!(
            messages(super::super::DEFAULT_SETTINGS),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_problem_at_its_position() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[clasify]\nmargin = 0.2\n",
                &["personabot.toml:1:2: unknown key `clasify` (expected one of: classify,"],
            ),
            (
                "[classify]\nmargn = 0.2\nmargin = 2.0\n",
                &[
                    "personabot.toml:2:1: unknown key `classify.margn`",
                    "personabot.toml:3:10: `classify.margin` must be between 0 and 1, found 2",
                ],
            ),
            (
                "[privacy]\nuser_hash_key = \"x\"\n",
                &["personabot.toml:2:1: `privacy.user_hash_key` is a secret: set it only through the environment variable PERSONABOT__PRIVACY__USER_HASH_KEY"],
            ),
            (
                "[teams.Sales]\nname = \"S\"\n",
                &["personabot.toml:1:8: invalid team id `Sales`"],
            ),
            (
                "[teams.sales]\nhours = \"Mon-Fri 9-5\"\ncolour = 1\n",
                &[
                    "personabot.toml:2:9: `teams.sales.hours`",
                    "personabot.toml:3:1: unknown key `teams.sales.colour`",
                ],
            ),
            (
                "[teams.sales]\ntimezone = \"Mars/Olympus\"\n",
                &["personabot.toml:2:12: `teams.sales.hours` unknown time zone `Mars/Olympus`"],
            ),
            (
                "[discord]\nsupport_channels = [\"abc\"]\ndms = \"yes\"\nshards = \"3/2\"\n",
                &[
                    "personabot.toml:2:20: `discord.support_channels` `abc` is not a numeric id",
                    "personabot.toml:3:7: `discord.dms` must be true or false, found a string",
                    "personabot.toml:4:10: `discord.shards` needs FIRST <= LAST < TOTAL",
                ],
            ),
            (
                "[limits]\nflood_messages = 0\nmax_message_chars = \"many\"\n",
                &[
                    "personabot.toml:2:18: `limits.flood_messages` must be at least 1, found 0",
                    "personabot.toml:3:21: `limits.max_message_chars` must be an integer, found a string",
                ],
            ),
            (
                "[http]\nheader_timeout_secs = 30\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy\"]\n\
                 frame_ancestors = [\"https://a.example; script-src *\"]\n",
                &[
                    "personabot.toml:2:23: `http.header_timeout_secs` must be between 1 and 10",
                    "personabot.toml:3:34: `http.trusted_proxies`: `proxy` is not an IP address",
                    "personabot.toml:4:20: `http.frame_ancestors`: `https://a.example; script-src *` is not an origin",
                ],
            ),
            (
                "[http]\nlisten = 8080\n[telegram]\napi_url = \"http://x\"\nwebhook = 1\n",
                &[
                    "personabot.toml:2:10: `http.listen` must be a string, found an integer",
                    "personabot.toml:5:1: unknown key `telegram.webhook`",
                ],
            ),
            (
                "[teams.billing]\naliases = [\"finance\", \"Sales\", \"...\"]\n\
                 [teams.legal]\naliases = \"lawyers\"\n",
                &[
                    "personabot.toml:2:23: `teams.billing.aliases`: alias \"Sales\" also names team `sales`",
                    "personabot.toml:2:32: `teams.billing.aliases`: alias \"...\" has no words to match",
                    "personabot.toml:4:11: `teams.legal.aliases` must be an array of strings, found a string",
                ],
            ),
            (
                "[bridges.intercom]\ntoken = \"x\"\n",
                &["personabot.toml:2:1: `bridges.intercom.token` is a secret: set it only through the environment variable PERSONABOT__BRIDGES__INTERCOM__TOKEN"],
            ),
            (
                "[classify\n",
                &["personabot.toml:1:10: invalid TOML:"],
            ),
            (
                "[http]\nweb_conversation_days = 0\nwidget_origins = [\"shop.example.com\"]\n\
                 [brand]\nname = \"\"\naccent = \"blue\"\nlogo_url = \"javascript:x\"\ncolour = 1\n",
                &[
                    "personabot.toml:2:25: `http.web_conversation_days` must be at least 1, found 0",
                    "personabot.toml:3:19: `http.widget_origins`: `shop.example.com` is not an origin",
                    "personabot.toml:5:8: `brand.name`: the product name must not be empty",
                    "personabot.toml:6:10: `brand.accent`: `blue` is not a hex colour",
                    "personabot.toml:7:12: `brand.logo_url`: `javascript:x` is not an http(s) address",
                    "personabot.toml:8:1: unknown key `brand.colour`",
                ],
            ),
        ];
        for (text, expected) in cases {
            let got = messages(text);
            assert_eq!(got.len(), expected.len(), "{text:?}: {got:#?}");
            for (g, e) in got.iter().zip(expected.iter()) {
                assert!(g.starts_with(e), "{text:?}:\n got {g}\nwant {e}");
            }
        }
    }
}

//! Typed settings: built-in defaults (the shipped `personabot.toml`), then a settings file, then
//! `PERSONABOT__SECTION__KEY` environment variables. Secrets are read only from the environment.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use toml_edit::Item;

use crate::catalog::{is_valid_team_id, Diagnostics, SourceText, Team};
use crate::core::route::Thresholds;

mod brand;
mod check;
mod cluster;

pub use brand::{brand_colours, image_origin as brand_image_origin, BrandSettings};

pub use check::{check as check_file, SECRETS, SECTIONS};
pub use cluster::{
    check_node as check_cluster_node, split_credentials as split_nats_credentials, ClusterSettings,
    NatsCredentials,
};

/// The defaults, compiled in.
pub(crate) const DEFAULT_SETTINGS: &str = include_str!("../../../personabot.toml");

/// The environment variable holding the Discord bot token (`DISCORD_TOKEN` also works).
pub(crate) const DISCORD_TOKEN_ENV: &str = "PERSONABOT__DISCORD__TOKEN";

/// The environment variable holding the key for hashing user ids.
pub const USER_HASH_KEY_ENV: &str = "PERSONABOT__PRIVACY__USER_HASH_KEY";

/// Problems with the settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Every problem in the settings file, each at its `path:line:col`.
    #[error("{0}")]
    File(Diagnostics),
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("invalid team id `{0}`: use lowercase letters, digits and `_`")]
    TeamId(String),
    #[error("`{key}` {problem}")]
    Invalid { key: String, problem: String },
}

/// Message limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longer messages are cut to this many characters.
    pub max_message_chars: usize,
    /// Messages one user may send per `flood_window_secs` before getting a polite notice.
    pub flood_messages: u32,
    pub flood_window_secs: u32,
    /// Requests one client address may make to the endpoints anyone can call (messages,
    /// feedback, updates, classify, sign-in) per `address_window_secs`; over it: 429.
    pub address_requests: u32,
    pub address_window_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_chars: 4000,
            flood_messages: 8,
            flood_window_secs: 10,
            address_requests: 300,
            address_window_secs: 60,
        }
    }
}

/// The Discord channel.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordSettings {
    /// The guild whose slash commands are registered (unset: global commands).
    #[serde(deserialize_with = "crate::core::model::de_opt_id")]
    pub guild_id: Option<u64>,
    /// Channels where customers ask for help.
    #[serde(deserialize_with = "crate::core::model::de_ids")]
    pub support_channels: Vec<u64>,
    /// Whether to answer direct messages.
    pub dms: bool,
    /// Base URL of the Discord REST API (an HTTP proxy for Discord's API, or a test fake).
    pub api_base: Option<String>,
    /// The bot token: environment only (PERSONABOT__DISCORD__TOKEN or DISCORD_TOKEN).
    pub token: Option<String>,
    /// The gateway shards this process runs, `"FIRST-LAST/TOTAL"` (e.g. `"0-3/8"`: shards 0 to
    /// 3 of 8); unset or empty: one process runs them all (see docs/scaling.md).
    pub shards: Option<String>,
}

impl Default for DiscordSettings {
    fn default() -> Self {
        DiscordSettings {
            guild_id: None,
            support_channels: Vec::new(),
            dms: true,
            api_base: None,
            token: None,
            shards: None,
        }
    }
}

/// A contiguous range of Discord gateway shards, out of a total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShardRange {
    pub first: u32,
    /// Inclusive.
    pub last: u32,
    pub total: u32,
}

impl ShardRange {
    /// Parses `"FIRST-LAST/TOTAL"` (or `"N/TOTAL"` for one shard).
    pub fn parse(text: &str) -> Result<ShardRange, String> {
        let bad = || format!("expected FIRST-LAST/TOTAL such as \"0-3/8\", found {text:?}");
        let (range, total) = text.trim().split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let range = ShardRange {
            first: number(first)?,
            last: number(last)?,
            total: number(total)?,
        };
        if range.first > range.last || range.last >= range.total {
            return Err(format!(
                "needs FIRST <= LAST < TOTAL (shards are numbered from 0), found {text:?}"
            ));
        }
        Ok(range)
    }
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("guild_id", &self.guild_id)
            .field("support_channels", &self.support_channels)
            .field("dms", &self.dms)
            .field("api_base", &self.api_base)
            .field("shards", &self.shards)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The HTTP server (API, web chat, agent queue, webhooks).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address to listen on (`serve --listen` overrides it).
    pub listen: String,
    /// Bearer token for the agent queue and `/v1/tickets` (environment only).
    pub agent_token: Option<String>,
    /// Bearer token for the persona-owner review (environment only; falls back to the agent token).
    pub owner_token: Option<String>,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// How long a sign-in session lasts, in hours.
    pub session_hours: u32,
    /// The address people reach the server at (e.g. `https://support.example.com`): the only
    /// origin cookie-signed requests may come from, and `https` marks the cookie `Secure`.
    /// Unset: the request's `Host`.
    pub public_url: Option<String>,
    /// Seconds a client has to send a request's headers (from connecting, or from the previous
    /// response on a kept-alive connection); then the connection is closed. 1 to 10.
    pub header_timeout_secs: u64,
    /// Seconds a request may take, reading its body included (longer: 408).
    pub request_timeout_secs: u64,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections one client address may hold open at once (0: no such limit); more are
    /// answered 503 and closed. Trusted proxies are not held to it.
    pub max_connections_per_address: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or CIDR ranges);
    /// from any other peer the header is ignored.
    #[serde(deserialize_with = "crate::core::net::de_ranges")]
    pub trusted_proxies: Vec<crate::core::net::IpRange>,
    /// Origins allowed to frame the chat page `/` (e.g. `https://www.example.com`); empty: none.
    #[serde(deserialize_with = "crate::core::net::de_origins")]
    pub frame_ancestors: Vec<String>,
    /// Days a web chat conversation is kept for its visitor (restored on reload, in a new tab or
    /// on a return); one idle for longer starts afresh. At least 1.
    pub web_conversation_days: u32,
    /// Origins whose pages may embed the chat with `GET /widget.js` (they may also frame `/`).
    #[serde(deserialize_with = "crate::core::net::de_origins")]
    pub widget_origins: Vec<String>,
}

/// Agent, owner and bridge tokens shorter than this are refused at start.
pub const MIN_TOKEN_CHARS: usize = 20;

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: "127.0.0.1:8080".into(),
            agent_token: None,
            owner_token: None,
            max_body_bytes: 64 * 1024,
            session_hours: 12,
            public_url: None,
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 512,
            max_connections_per_address: 64,
            trusted_proxies: Vec::new(),
            frame_ancestors: Vec::new(),
            web_conversation_days: 30,
            widget_origins: Vec::new(),
        }
    }
}

/// The Slack channel (Events API).
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// Verifies request signatures (environment only).
    pub signing_secret: Option<String>,
    /// Bot token for the Web API (environment only).
    pub bot_token: Option<String>,
    /// Base URL of the Slack Web API (default https://slack.com/api).
    pub api_base: Option<String>,
    /// Slack user ids of agents: their `/note TEXT` in a customer's thread is an internal note
    /// on its open ticket (never sent, never routed).
    #[serde(deserialize_with = "crate::core::model::de_names")]
    pub agents: Vec<String>,
}

/// The Telegram channel.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSettings {
    /// Bot token (environment only).
    pub token: Option<String>,
    /// Base URL of the Bot API (default https://api.telegram.org).
    pub api_url: Option<String>,
    /// Secret checked in the X-Telegram-Bot-Api-Secret-Token header of webhook calls
    /// (environment only). With it, updates come by webhook at /telegram/webhook; without it,
    /// by long polling.
    pub webhook_secret: Option<String>,
}

macro_rules! redacted_debug {
    ($ty:ident { $($field:ident),* } secrets { $($secret:ident),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &self.$secret.as_ref().map(|_| "<redacted>")))*
                    .finish()
            }
        }
    };
}

redacted_debug!(HttpSettings {
    listen, max_body_bytes, session_hours, public_url, header_timeout_secs, request_timeout_secs,
    max_connections, max_connections_per_address, trusted_proxies, frame_ancestors,
    web_conversation_days, widget_origins
} secrets { agent_token, owner_token });
redacted_debug!(SlackSettings { api_base, agents } secrets { signing_secret, bot_token });
redacted_debug!(TelegramSettings { api_url } secrets { token, webhook_secret });

/// A chat bridge: a trusted service that posts customers' messages for its own channel
/// (`"channel": "<name>"`) with its own conversation and user ids. Declared by its token,
/// which comes only from the environment: `PERSONABOT__BRIDGES__<NAME>__TOKEN`.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeSettings {
    /// The bridge's bearer token (environment only; at least [`MIN_TOKEN_CHARS`] characters).
    pub token: Option<String>,
}

redacted_debug!(BridgeSettings {} secrets { token });

/// Channel names a bridge may not take: the built-in channels, which never speak over the
/// HTTP API, and `other`, the metrics label of unknown channels.
pub const RESERVED_CHANNELS: &[&str] =
    &["web", "discord", "slack", "telegram", "terminal", "other"];

impl HttpSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        for (key, env, token) in [
            (
                "http.agent_token",
                "PERSONABOT__HTTP__AGENT_TOKEN",
                &self.agent_token,
            ),
            (
                "http.owner_token",
                "PERSONABOT__HTTP__OWNER_TOKEN",
                &self.owner_token,
            ),
        ] {
            let chars = token.as_deref().map_or(0, |t| t.trim().chars().count());
            if token.as_deref().is_some_and(|t| !t.is_empty()) && chars < MIN_TOKEN_CHARS {
                return Err(SettingsError::Invalid {
                    key: key.into(),
                    problem: format!(
                        "is too short: {env} needs at least {MIN_TOKEN_CHARS} characters \
                         (found {chars}); use a long random value, or an account \
                         (`personabot agents add`)"
                    ),
                });
            }
        }
        if self.session_hours == 0 {
            return Err(SettingsError::Invalid {
                key: "http.session_hours".into(),
                problem: "must be at least 1".into(),
            });
        }
        if let Some(url) = self.public_url.as_deref().filter(|u| !u.is_empty()) {
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .map(|rest| rest.split('/').next().unwrap_or_default());
            if host.is_none_or(str::is_empty) {
                return Err(SettingsError::Invalid {
                    key: "http.public_url".into(),
                    problem: format!(
                        "must be an http:// or https:// address such as \
                         \"https://support.example.com\", found {url:?}"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Evidence store settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Interactions older than this many days are purged; 0 keeps them.
    pub retention_days: u32,
    /// Audit log entries (who did what, from which address) older than this many days are
    /// purged; 0 keeps them.
    pub audit_retention_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            retention_days: 180,
            audit_retention_days: 400,
        }
    }
}

/// Privacy settings (secrets: environment only).
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySettings {
    /// Key for the keyed hash of user ids (`PERSONABOT__PRIVACY__USER_HASH_KEY`).
    pub user_hash_key: Option<String>,
}

impl std::fmt::Debug for PrivacySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacySettings")
            .field(
                "user_hash_key",
                &self.user_hash_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// All settings. An unknown section or key, in the file or the environment, is an error.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub classify: Thresholds,
    pub limits: Limits,
    pub store: StoreSettings,
    pub privacy: PrivacySettings,
    pub discord: DiscordSettings,
    pub http: HttpSettings,
    pub slack: SlackSettings,
    pub telegram: TelegramSettings,
    pub teams: BTreeMap<String, Team>,
    /// Declared chat bridges, by channel name.
    pub bridges: BTreeMap<String, BridgeSettings>,
    /// How the web pages present the product.
    pub brand: BrandSettings,
    /// Cluster mode on NATS JetStream (off unless `cluster.nats_url` is set).
    pub cluster: ClusterSettings,
}

impl Settings {
    /// The declared chat bridge whose token `token` is, if any (compared in constant time).
    pub fn bridge_with_token(&self, token: &str) -> Option<&str> {
        self.bridges.iter().find_map(|(name, b)| {
            b.token
                .as_deref()
                .filter(|t| crate::core::secret::same(t.trim(), token.trim()))
                .map(|_| name.as_str())
        })
    }

    /// The built-in defaults alone (no file, no environment).
    pub fn built_in() -> Settings {
        Self::load_with_env(None, Some(HashMap::new()))
            .expect("the embedded personabot.toml is valid")
    }

    /// Loads defaults, then `file` (if given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_with_env(file, None)
    }

    /// As [`load`](Self::load), with an explicit environment (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Settings, SettingsError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_SETTINGS, FileFormat::Toml));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config::ConfigError::Message(format!("cannot read {}: {e}", path.display()))
            })?;
            let problems = check::check(&SourceText::new(path, text.clone()));
            if !problems.is_empty() {
                return Err(SettingsError::File(problems));
            }
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        let environment = Environment::with_prefix("PERSONABOT")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("discord.support_channels")
            .source(env.clone());
        let mut settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        if settings.discord.token.as_deref().is_none_or(str::is_empty) {
            // The conventional name, when the PERSONABOT__ one is not set.
            settings.discord.token = match &env {
                Some(map) => map.get("DISCORD_TOKEN").cloned(),
                None => std::env::var("DISCORD_TOKEN").ok(),
            }
            .filter(|t| !t.is_empty());
        }
        settings.validate()?;
        Ok(settings)
    }

    /// The teams a catalog can be checked against when the settings are invalid: the built-in
    /// ones plus every `[teams.<id>]` the file at `file` names (so a broken settings file does
    /// not also make every intent's team look unknown).
    pub fn teams_despite_errors(file: Option<&Path>) -> BTreeMap<String, Team> {
        let mut teams = Self::built_in().teams;
        let named = file
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok());
        if let Some(doc) = named {
            if let Some(table) = doc.get("teams").and_then(Item::as_table_like) {
                for (id, _) in table.iter() {
                    teams.entry(id.to_string()).or_insert_with(|| Team {
                        name: id.to_string(),
                        ..Team::default()
                    });
                }
            }
        }
        teams
    }

    fn validate(&self) -> Result<(), SettingsError> {
        for id in self.teams.keys() {
            if !is_valid_team_id(id) {
                return Err(SettingsError::TeamId(id.clone()));
            }
        }
        let t = &self.classify;
        for (key, v) in [
            ("classify.intent_threshold", t.intent_threshold),
            ("classify.persona_threshold", t.persona_threshold),
            ("classify.margin", t.margin),
            ("classify.typo_weight", t.typo_weight),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(SettingsError::Invalid {
                    key: key.into(),
                    problem: format!("must be between 0 and 1, found {v}"),
                });
            }
        }
        if t.max_misses == 0 {
            return Err(SettingsError::Invalid {
                key: "classify.max_misses".into(),
                problem: "must be at least 1".into(),
            });
        }
        for (id, team) in &self.teams {
            if let Err(problem) =
                crate::core::hours::BusinessHours::parse(&team.hours, &team.timezone)
            {
                return Err(SettingsError::Invalid {
                    key: format!("teams.{id}.hours"),
                    problem,
                });
            }
            for (key, target) in [
                ("first_response_target", &team.first_response_target),
                ("resolve_target", &team.resolve_target),
            ] {
                if let Err(problem) = crate::engine::targets::parse_target(target) {
                    return Err(SettingsError::Invalid {
                        key: format!("teams.{id}.{key}"),
                        problem,
                    });
                }
            }
        }
        for (id, team) in &self.teams {
            if !crate::core::model::ASSIGN_MODES.contains(&team.assign.as_str()) {
                return Err(SettingsError::Invalid {
                    key: format!("teams.{id}.assign"),
                    problem: format!("`{}`: use \"round-robin\" or \"manual\"", team.assign),
                });
            }
        }
        if let Some(p) = crate::core::team_names::alias_problems(&self.teams).first() {
            return Err(SettingsError::Invalid {
                key: format!("teams.{}.aliases", p.team),
                problem: p.problem.clone(),
            });
        }
        if self.limits.flood_messages == 0 || self.limits.flood_window_secs == 0 {
            return Err(SettingsError::Invalid {
                key: "limits.flood_messages".into(),
                problem: "flood_messages and flood_window_secs must be at least 1".into(),
            });
        }
        if self.limits.address_requests == 0 || self.limits.address_window_secs == 0 {
            return Err(SettingsError::Invalid {
                key: "limits.address_requests".into(),
                problem: "address_requests and address_window_secs must be at least 1".into(),
            });
        }
        let http = &self.http;
        for (key, ok, problem) in [
            (
                "http.header_timeout_secs",
                (1..=10).contains(&http.header_timeout_secs),
                "must be between 1 and 10",
            ),
            (
                "http.request_timeout_secs",
                http.request_timeout_secs >= 1,
                "must be at least 1",
            ),
            (
                "http.max_connections",
                http.max_connections >= 1,
                "must be at least 1",
            ),
        ] {
            if !ok {
                return Err(SettingsError::Invalid {
                    key: key.into(),
                    problem: problem.into(),
                });
            }
        }
        if let Some(shards) = self
            .discord
            .shards
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            ShardRange::parse(shards).map_err(|problem| SettingsError::Invalid {
                key: "discord.shards".into(),
                problem,
            })?;
        }
        for (name, bridge) in &self.bridges {
            bridge_problem(name, bridge).map_or(Ok(()), |problem| {
                Err(SettingsError::Invalid {
                    key: format!("bridges.{name}"),
                    problem,
                })
            })?;
        }
        self.http.validate()?;
        if self.http.web_conversation_days == 0 {
            return Err(SettingsError::Invalid {
                key: "http.web_conversation_days".into(),
                problem: "must be at least 1".into(),
            });
        }
        if let Some((key, problem)) = self.brand.problem() {
            return Err(SettingsError::Invalid {
                key: key.into(),
                problem,
            });
        }
        if self.limits.max_message_chars < 16 {
            return Err(SettingsError::Invalid {
                key: "limits.max_message_chars".into(),
                problem: "must be at least 16".into(),
            });
        }
        if let Some((key, problem)) = self.cluster.problem() {
            return Err(SettingsError::Invalid {
                key: key.into(),
                problem,
            });
        }
        Ok(())
    }
}

/// What is wrong with a declared bridge, if anything: its name must be a valid id that is not
/// a built-in channel, and its token long enough.
fn bridge_problem(name: &str, bridge: &BridgeSettings) -> Option<String> {
    if !is_valid_team_id(name) {
        return Some("the bridge name must use lowercase letters, digits and `_`".into());
    }
    if RESERVED_CHANNELS.contains(&name) {
        return Some(format!(
            "`{name}` is a built-in channel and cannot be a bridge"
        ));
    }
    match bridge.token.as_deref().map(str::trim) {
        None | Some("") => Some(format!(
            "needs a token: set PERSONABOT__BRIDGES__{}__TOKEN",
            name.to_uppercase()
        )),
        Some(t) if t.chars().count() < MIN_TOKEN_CHARS => Some(format!(
            "its token is shorter than {MIN_TOKEN_CHARS} characters: use a long random one"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests;

//! Typed settings: built-in defaults (the shipped `personabot.toml`), then a settings file, then
//! `PERSONABOT__SECTION__KEY` environment variables. Secrets are read only from the environment.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::catalog::{is_valid_team_id, Team};
use crate::route::Thresholds;

/// The defaults, compiled in.
pub const DEFAULT_SETTINGS: &str = include_str!("../personabot.toml");

/// The environment variable holding the key for hashing user ids.
pub const USER_HASH_KEY_ENV: &str = "PERSONABOT__PRIVACY__USER_HASH_KEY";

/// Problems with the settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("invalid team id `{0}`: use lowercase letters, digits and `_`")]
    TeamId(String),
    #[error("`{key}` is a secret: set it only through the environment variable {env}")]
    SecretInFile { key: String, env: String },
    #[error("`{key}` {problem}")]
    Invalid { key: String, problem: String },
}

/// Message limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longer messages are cut to this many characters.
    pub max_message_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_chars: 4000,
        }
    }
}

/// Evidence store settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Interactions older than this many days are purged; 0 keeps them.
    pub retention_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            retention_days: 180,
        }
    }
}

/// Privacy settings (secrets: environment only).
#[derive(Clone, Default, Deserialize)]
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

/// All settings. Sections this version does not know (for other channels) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub classify: Thresholds,
    pub limits: Limits,
    pub store: StoreSettings,
    pub privacy: PrivacySettings,
    pub teams: BTreeMap<String, Team>,
}

impl Settings {
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
            let file_only: toml_edit::DocumentMut = text
                .parse()
                .map_err(|e| config::ConfigError::Message(format!("{}: {e}", path.display())))?;
            if file_only
                .get("privacy")
                .and_then(|p| p.get("user_hash_key"))
                .is_some()
            {
                return Err(SettingsError::SecretInFile {
                    key: "privacy.user_hash_key".into(),
                    env: USER_HASH_KEY_ENV.into(),
                });
            }
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        let environment = Environment::with_prefix("PERSONABOT")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("discord.support_channels")
            .source(env);
        let settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
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
        if self.limits.max_message_chars < 16 {
            return Err(SettingsError::Invalid {
                key: "limits.max_message_chars".into(),
                problem: "must be at least 16".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_have_the_seven_teams() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        let teams: Vec<&str> = s.teams.keys().map(String::as_str).collect();
        assert_eq!(
            teams,
            [
                "billing",
                "investors",
                "people",
                "press",
                "sales",
                "security",
                "support"
            ]
        );
        assert_eq!(s.classify.intent_threshold, 0.5);
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("PERSONABOT__CLASSIFY__MARGIN", "0.3"),
                ("PERSONABOT__TEAMS__SALES__RESPONSE_TIME", "within 2 hours"),
                ("PERSONABOT__PRIVACY__USER_HASH_KEY", "s3cret"),
            ]),
        )
        .unwrap();
        assert_eq!(s.classify.margin, 0.3);
        assert_eq!(s.teams["sales"].response_time, "within 2 hours");
        assert_eq!(s.privacy.user_hash_key.as_deref(), Some("s3cret"));
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "secrets never reach Debug output"
        );
    }

    #[test]
    fn file_errors_table() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str)] = &[
            (
                "[privacy]\nuser_hash_key = \"x\"\n",
                "only through the environment",
            ),
            ("[classify]\nmargin = 2.0\n", "classify.margin"),
            ("[classify]\nmargn = 0.2\n", "margn"),
            ("[teams.Sales]\nname = \"S\"\n", "invalid team id `Sales`"),
        ];
        for (i, (text, needle)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("s{i}.toml"));
            std::fs::write(&path, text).unwrap();
            let err = Settings::load_with_env(Some(&path), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "case {i}: {err}");
        }
    }
}

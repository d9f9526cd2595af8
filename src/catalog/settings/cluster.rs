//! The `[cluster]` settings: cluster mode on NATS JetStream, off unless `nats_url` is set, with
//! `node` naming this process.

use serde::Deserialize;

/// Cluster mode (see `src/cluster`).
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The NATS server (with JetStream) the nodes share, e.g. `nats://127.0.0.1:4222`; unset or
    /// empty: cluster mode is off.
    pub nats_url: Option<String>,
    /// This process's name in the cluster: 1 to 32 lowercase letters, digits and `-`; required
    /// when `nats_url` is set.
    pub node: Option<String>,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field(
                "nats_url",
                &self.nats_url.as_deref().map(without_credentials),
            )
            .field("node", &self.node)
            .finish()
    }
}

/// `url` with any `user:password@` or `token@` part as `<redacted>@`.
pub fn without_credentials(url: &str) -> String {
    url.split(',')
        .map(|part| match part.split_once('@') {
            Some((before, host)) => {
                let scheme = before.find("://").map_or("", |i| &before[..i + 3]);
                format!("{scheme}<redacted>@{host}")
            }
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Credentials taken out of a NATS URL.
#[derive(Clone, PartialEq, Eq)]
pub enum NatsCredentials {
    /// `nats://TOKEN@host`.
    Token(String),
    /// `nats://USER:PASSWORD@host`.
    UserPassword(String, String),
}

impl std::fmt::Debug for NatsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NatsCredentials::Token(_) => "Token(<redacted>)",
            NatsCredentials::UserPassword(..) => "UserPassword(<redacted>)",
        })
    }
}

/// `url` without credentials, and the credentials (those of its first address that has some;
/// one NATS connection uses one set).
pub fn split_credentials(url: &str) -> (String, Option<NatsCredentials>) {
    let mut found = None;
    let parts: Vec<String> = url
        .split(',')
        .map(|part| {
            let part = part.trim();
            let Some((before, host)) = part.rsplit_once('@') else {
                return part.to_string();
            };
            let (scheme, userinfo) = match before.find("://") {
                Some(i) => (&before[..i + 3], &before[i + 3..]),
                None => ("", before),
            };
            if found.is_none() && !userinfo.is_empty() {
                found = Some(match userinfo.split_once(':') {
                    Some((user, pass)) => NatsCredentials::UserPassword(user.into(), pass.into()),
                    None => NatsCredentials::Token(userinfo.into()),
                });
            }
            format!("{scheme}{host}")
        })
        .collect();
    (parts.join(","), found)
}

/// Whether `url` carries credentials (`user:password@` or `token@`): then it may come only
/// from the environment.
pub fn has_credentials(url: &str) -> bool {
    url.contains('@')
}

impl ClusterSettings {
    /// The NATS URL when cluster mode is on.
    pub fn url(&self) -> Option<&str> {
        self.nats_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    /// The node name, when set.
    pub fn node_name(&self) -> Option<&str> {
        self.node
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }

    /// What is wrong, as (key, problem), if anything.
    pub(super) fn problem(&self) -> Option<(&'static str, String)> {
        if let Some(node) = self.node_name() {
            if let Err(problem) = check_node(node) {
                return Some(("cluster.node", problem));
            }
        }
        if let Some(url) = self.url() {
            if let Err(problem) = check_url(url) {
                return Some(("cluster.nats_url", problem));
            }
            // No node name is fine here: the owner's tools (`evidence export`, `review`...)
            // only read the cluster. `serve` refuses to start without one
            // (`ClusterError::NoNode`).
        }
        None
    }
}

/// A node name: 1 to 32 of `a-z`, `0-9` and `-` (it becomes part of NATS subjects).
pub fn check_node(node: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to 32 lowercase letters, digits and `-`, found {node:?}"
        ))
    }
}

/// A NATS URL: `nats://`, `tls://` or `host:port` addresses, comma-separated.
pub fn check_url(url: &str) -> Result<(), String> {
    for part in url.split(',').map(str::trim) {
        let rest = part
            .strip_prefix("nats://")
            .or_else(|| part.strip_prefix("tls://"))
            .unwrap_or(part);
        if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains("://") {
            return Err(format!(
                "must be a NATS address such as \"nats://127.0.0.1:4222\", found {url:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        for (node, ok) in [
            ("a", true),
            ("node-1", true),
            ("eu-west-2b", true),
            (&"x".repeat(32), true),
            (&"x".repeat(33), false),
            ("", false),
            ("A", false),
            ("node_1", false),
            ("node.1", false),
            ("nöde", false),
            ("a b", false),
        ] {
            assert_eq!(check_node(node).is_ok(), ok, "{node:?}");
        }
    }

    #[test]
    fn credentials_come_out_of_the_url() {
        let up = |u: &str, p: &str| Some(NatsCredentials::UserPassword(u.into(), p.into()));
        for (url, clean, credentials) in [
            ("nats://n1:4222", "nats://n1:4222", None),
            ("nats://u:pw@n1:4222", "nats://n1:4222", up("u", "pw")),
            (
                "nats://s3cr3t@n1:4222",
                "nats://n1:4222",
                Some(NatsCredentials::Token("s3cr3t".into())),
            ),
            (
                "u:p@n1:4222, nats://u:p@n2",
                "n1:4222,nats://n2",
                up("u", "p"),
            ),
        ] {
            assert_eq!(
                split_credentials(url),
                (clean.to_string(), credentials),
                "{url}"
            );
        }
        assert!(!format!("{:?}", split_credentials("nats://u:pw@n1").1).contains("pw"));
    }

    #[test]
    fn credentials_are_never_shown() {
        for (url, shown) in [
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("nats://u:secret@n1:4222", "nats://<redacted>@n1:4222"),
            ("tok@n1:4222,nats://n2", "<redacted>@n1:4222,nats://n2"),
        ] {
            assert_eq!(without_credentials(url), shown);
            assert_eq!(has_credentials(url), url.contains("@"));
        }
        let settings = ClusterSettings {
            nats_url: Some("nats://u:secret@n1:4222".into()),
            node: Some("a".into()),
        };
        assert!(!format!("{settings:?}").contains("secret"));
    }

    #[test]
    fn problems() {
        let s = |url: Option<&str>, node: Option<&str>| ClusterSettings {
            nats_url: url.map(Into::into),
            node: node.map(Into::into),
        };
        for (settings, key) in [
            (s(None, None), None),
            (s(Some(""), None), None),
            (s(Some("nats://127.0.0.1:4222"), Some("a")), None),
            (s(Some("127.0.0.1:4222,nats://n2:4222"), Some("b-2")), None),
            // A command reading the cluster needs no node name (serve refuses to start).
            (s(Some("nats://127.0.0.1:4222"), None), None),
            (
                s(Some("nats://127.0.0.1:4222"), Some("B")),
                Some("cluster.node"),
            ),
            (s(None, Some("B")), Some("cluster.node")),
            (s(Some("http://x:1"), Some("a")), Some("cluster.nats_url")),
            (s(Some("nats://"), Some("a")), Some("cluster.nats_url")),
        ] {
            assert_eq!(settings.problem().map(|p| p.0), key, "{settings:?}");
        }
    }

    #[test]
    fn from_the_environment() {
        use crate::catalog::settings::Settings;
        let env = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let off = Settings::load_with_env(None, env(&[])).expect("defaults");
        assert_eq!(off.cluster, ClusterSettings::default());
        assert_eq!(off.cluster.url(), None);
        let on = Settings::load_with_env(
            None,
            env(&[
                ("PERSONABOT__CLUSTER__NATS_URL", "nats://127.0.0.1:4222"),
                ("PERSONABOT__CLUSTER__NODE", "node-2"),
            ]),
        )
        .expect("cluster settings");
        assert_eq!(on.cluster.url(), Some("nats://127.0.0.1:4222"));
        assert_eq!(on.cluster.node_name(), Some("node-2"));
        // The owner's tools read the cluster with the URL alone (serve needs the node name).
        let reader = Settings::load_with_env(
            None,
            env(&[("PERSONABOT__CLUSTER__NATS_URL", "nats://127.0.0.1:4222")]),
        )
        .expect("a URL without a node name");
        assert_eq!(reader.cluster.node_name(), None);
    }

    #[test]
    fn the_settings_file_is_checked() {
        use crate::catalog::SourceText;
        let text = "[cluster]\nnats_url = \"http://x\"\nnode = \"Node A\"\n";
        let problems = super::super::check_file(&SourceText::new(
            std::path::Path::new("personabot.toml"),
            text.into(),
        ));
        let found: Vec<(usize, bool)> = problems
            .0
            .iter()
            .map(|d| (d.line, d.message.contains("cluster.")))
            .collect();
        assert_eq!(found, [(2, true), (3, true)], "{problems}");
        let secret = "[cluster]\nnats_url = \"nats://u:secret@n1:4222\"\nnode = \"a\"\n";
        let problems = super::super::check_file(&SourceText::new(
            std::path::Path::new("p.toml"),
            secret.into(),
        ));
        assert_eq!(problems.0.len(), 1, "{problems}");
        assert!(
            problems.0[0]
                .message
                .contains("PERSONABOT__CLUSTER__NATS_URL"),
            "{problems}"
        );
        assert!(!problems.0[0].message.contains("secret"), "{problems}");
        let unknown = "[cluster]\nnodes = \"a\"\n";
        let problems = super::super::check_file(&SourceText::new(
            std::path::Path::new("personabot.toml"),
            unknown.into(),
        ));
        assert_eq!(problems.0.len(), 1, "an unknown key: {problems}");
    }
}

//! The `[cluster]` settings: cluster mode on NATS JetStream, off unless `nats_url` is set, with
//! `node` naming this process.

use serde::Deserialize;

/// Cluster mode (see `src/cluster`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The NATS server (with JetStream) the nodes share, e.g. `nats://127.0.0.1:4222`; unset or
    /// empty: cluster mode is off.
    pub nats_url: Option<String>,
    /// This process's name in the cluster: 1 to 32 lowercase letters, digits and `-`; required
    /// when `nats_url` is set.
    pub node: Option<String>,
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
            if self.node_name().is_none() {
                return Some((
                    "cluster.node",
                    "is required when cluster.nats_url is set: name this process (e.g. \
                     \"a\", or set PERSONABOT__CLUSTER__NODE)"
                        .into(),
                ));
            }
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
            (s(Some("nats://127.0.0.1:4222"), None), Some("cluster.node")),
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
        let missing = Settings::load_with_env(
            None,
            env(&[("PERSONABOT__CLUSTER__NATS_URL", "nats://127.0.0.1:4222")]),
        );
        assert!(
            missing.is_err_and(|e| e.to_string().contains("cluster.node")),
            "a node name is required"
        );
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
        let unknown = "[cluster]\nnodes = \"a\"\n";
        let problems = super::super::check_file(&SourceText::new(
            std::path::Path::new("personabot.toml"),
            unknown.into(),
        ));
        assert_eq!(problems.0.len(), 1, "an unknown key: {problems}");
    }
}

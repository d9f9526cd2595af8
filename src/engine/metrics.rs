//! Prometheus metrics, exposed at `/metrics` in the text format: messages by channel, route,
//! persona and intent; a message latency histogram; open tickets; catalog reload failures.
//! Labels come only from known values (a channel the server knows, else `other`; endpoints as
//! route templates), so no request can add a series.

use crate::catalog::settings::RESERVED_CHANNELS;
use crate::store::CommitStats;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Inner {
    /// (channel, route, persona, intent) -> count
    messages: BTreeMap<(String, String, String, String), u64>,
    /// Cumulative bucket counts (one per bound, plus +Inf), sum and count.
    latency_buckets: [u64; BUCKETS.len() + 1],
    latency_sum: f64,
    latency_count: u64,
    /// HTTP responses by status class for the API.
    refused: BTreeMap<(String, u16), u64>,
}

/// The channel label of any channel the server does not know.
pub const OTHER: &str = "other";

/// The process's metrics.
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Channel names counted under their own label; any other is [`OTHER`].
    channels: BTreeSet<String>,
}

impl Default for Metrics {
    /// Knows the built-in channels only ([`RESERVED_CHANNELS`]).
    fn default() -> Self {
        Metrics::new(std::iter::empty::<String>())
    }
}

impl Metrics {
    /// Metrics that label messages by the built-in channels and `extra` ones (declared chat
    /// bridges).
    pub fn new(extra: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let channels = RESERVED_CHANNELS
            .iter()
            .map(|c| c.to_string())
            .chain(extra.into_iter().map(Into::into))
            .collect();
        Metrics {
            inner: Mutex::default(),
            channels,
        }
    }

    /// The label for `channel`: its name when known, else [`OTHER`].
    pub fn channel_label<'a>(&'a self, channel: &str) -> &'a str {
        self.channels
            .get(channel)
            .map(String::as_str)
            .unwrap_or(OTHER)
    }

    /// Counts one handled message and its latency.
    pub fn message(
        &self,
        channel: &str,
        route: &str,
        persona: Option<&str>,
        intent: Option<&str>,
        took: Duration,
    ) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (
            self.channel_label(channel).to_string(),
            route.to_string(),
            persona.unwrap_or("none").to_string(),
            intent.unwrap_or("none").to_string(),
        );
        *m.messages.entry(key).or_default() += 1;
        let secs = took.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        m.latency_buckets[slot] += 1;
        m.latency_sum += secs;
        m.latency_count += 1;
    }

    /// Counts a refused request (e.g. 401, 413, 429) on an endpoint: a route template or another
    /// name fixed in the code, never text from the request.
    pub fn refused(&self, endpoint: &'static str, status: u16) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.refused.entry((endpoint.to_string(), status)).or_default() += 1;
    }

    /// The text exposition; `open_tickets` by team, the store's group commits and the reload
    /// failures come from the caller.
    pub fn render(
        &self,
        open_tickets: &BTreeMap<String, u64>,
        commits: CommitStats,
        reload: &crate::engine::runtime::ReloadStatus,
    ) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        out.push_str("# HELP personabot_messages_total Customer messages handled.\n");
        out.push_str("# TYPE personabot_messages_total counter\n");
        for ((channel, route, persona, intent), n) in &m.messages {
            let _ = writeln!(
                out,
                "personabot_messages_total{{channel=\"{}\",route=\"{}\",persona=\"{}\",intent=\"{}\"}} {n}",
                esc(channel),
                esc(route),
                esc(persona),
                esc(intent)
            );
        }
        out.push_str("# HELP personabot_message_seconds Time to handle a message (classify, route, store).\n");
        out.push_str("# TYPE personabot_message_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += m.latency_buckets[i];
            let _ = writeln!(
                out,
                "personabot_message_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += m.latency_buckets[BUCKETS.len()];
        let _ = writeln!(
            out,
            "personabot_message_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(out, "personabot_message_seconds_sum {}", m.latency_sum);
        let _ = writeln!(out, "personabot_message_seconds_count {}", m.latency_count);
        out.push_str("# HELP personabot_tickets_open Tickets not yet resolved, by team.\n");
        out.push_str("# TYPE personabot_tickets_open gauge\n");
        for (team, n) in open_tickets {
            let _ = writeln!(out, "personabot_tickets_open{{team=\"{}\"}} {n}", esc(team));
        }
        out.push_str("# HELP personabot_requests_refused_total API requests refused, by endpoint and status.\n");
        out.push_str("# TYPE personabot_requests_refused_total counter\n");
        for ((endpoint, status), n) in &m.refused {
            let _ = writeln!(
                out,
                "personabot_requests_refused_total{{endpoint=\"{}\",status=\"{status}\"}} {n}",
                esc(endpoint)
            );
        }
        out.push_str("# HELP personabot_store_commits_total Group commits (one flush each) of the evidence store.\n");
        out.push_str("# TYPE personabot_store_commits_total counter\n");
        let _ = writeln!(out, "personabot_store_commits_total {}", commits.commits);
        out.push_str(
            "# HELP personabot_store_turns_committed_total Turns written by those commits.\n",
        );
        out.push_str("# TYPE personabot_store_turns_committed_total counter\n");
        let _ = writeln!(
            out,
            "personabot_store_turns_committed_total {}",
            commits.turns
        );
        out.push_str(
            "# HELP personabot_catalog_reload_failures_total Catalog or settings changes rejected \
             as invalid (the previous ones kept serving).\n",
        );
        out.push_str("# TYPE personabot_catalog_reload_failures_total counter\n");
        let _ = writeln!(
            out,
            "personabot_catalog_reload_failures_total {}",
            reload.failures
        );
        out.push_str(
            "# HELP personabot_catalog_reload_ok 1 when the files on disk are what is serving, \
             0 while a broken change is being ignored.\n",
        );
        out.push_str("# TYPE personabot_catalog_reload_ok gauge\n");
        let _ = writeln!(out, "personabot_catalog_reload_ok {}", u8::from(reload.ok));
        out.push_str(
            "# HELP personabot_catalog_generation Catalogs loaded since start (1: the first).\n",
        );
        out.push_str("# TYPE personabot_catalog_generation gauge\n");
        let _ = writeln!(out, "personabot_catalog_generation {}", reload.generation);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_and_histogram() {
        let m = Metrics::default();
        m.message(
            "web",
            "answer",
            Some("startup-founder"),
            Some("pricing"),
            Duration::from_micros(300),
        );
        m.message(
            "web",
            "answer",
            Some("startup-founder"),
            Some("pricing"),
            Duration::from_millis(3),
        );
        m.message("discord", "fallback", None, None, Duration::from_secs(5));
        m.refused("/v1/messages", 429);
        m.message("sms-bridge", "answer", None, None, Duration::from_micros(1));
        m.message(
            "alice@example.com",
            "answer",
            None,
            None,
            Duration::from_micros(1),
        );
        let open = BTreeMap::from([("sales".to_string(), 2)]);
        let commits = CommitStats {
            commits: 4,
            turns: 10,
        };
        let text = m.render(&open, commits, &Default::default());
        for line in [
            "personabot_messages_total{channel=\"web\",route=\"answer\",persona=\"startup-founder\",intent=\"pricing\"} 2",
            "personabot_messages_total{channel=\"discord\",route=\"fallback\",persona=\"none\",intent=\"none\"} 1",
            "personabot_messages_total{channel=\"other\",route=\"answer\",persona=\"none\",intent=\"none\"} 2",
            "personabot_message_seconds_bucket{le=\"0.0005\"} 3",
            "personabot_message_seconds_bucket{le=\"0.005\"} 4",
            "personabot_message_seconds_bucket{le=\"2.5\"} 4",
            "personabot_message_seconds_bucket{le=\"+Inf\"} 5",
            "personabot_message_seconds_count 5",
            "personabot_tickets_open{team=\"sales\"} 2",
            "personabot_requests_refused_total{endpoint=\"/v1/messages\",status=\"429\"} 1",
            "personabot_store_commits_total 4",
            "personabot_store_turns_committed_total 10",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("alice@example.com") && !text.contains("sms-bridge"));
    }

    #[test]
    fn channel_labels_only_from_known_names() {
        let m = Metrics::new(["sms"]);
        for (channel, label) in [
            ("http", OTHER),
            ("web", "web"),
            ("slack", "slack"),
            ("telegram", "telegram"),
            ("discord", "discord"),
            ("terminal", "terminal"),
            ("sms", "sms"),
            ("SMS", OTHER),
            ("slack ", OTHER),
            ("+44 20 7946 0000", OTHER),
            ("", OTHER),
        ] {
            assert_eq!(m.channel_label(channel), label, "{channel:?}");
        }
        assert_eq!(Metrics::default().channel_label("sms"), OTHER);
    }
}

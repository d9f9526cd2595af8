//! Slack's Web API client: the configured [`Api`] (secrets and base URL from the settings) and
//! [`call`], which posts JSON to a method or a `response_url` with the retry policy.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::wire::{failure, post_message_body};
use crate::catalog::settings::SlackSettings;
use crate::channels::kit::{self, Failure};

/// The Web API when `slack.api_base` is not set.
pub const DEFAULT_API_BASE: &str = "https://slack.com/api";

/// Timeout of one Web API call.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The signing secret and bot token, when both are set (else the channel is off).
pub fn secrets(settings: &SlackSettings) -> Option<(&str, &str)> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    Some((set(&settings.signing_secret)?, set(&settings.bot_token)?))
}

/// The Web API base URL, without a trailing slash.
pub fn api_base(settings: &SlackSettings) -> String {
    settings
        .api_base
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(DEFAULT_API_BASE)
        .trim_end_matches('/')
        .to_string()
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// Where a call goes: a Web API method (with the bot token) or a `response_url`.
pub(super) enum Target<'a> {
    Method {
        base: &'a str,
        token: &'a str,
        method: &'a str,
    },
    ResponseUrl(&'a str),
}

/// Posts JSON, retrying as [`failure`] and [`kit::retry_wait`] say. Returns Slack's answer or
/// the last error (never a URL or the token), and the attempts made.
pub(super) async fn call(target: Target<'_>, body: &Value) -> (Result<Value, String>, u32) {
    let (url, what) = match &target {
        Target::Method { base, method, .. } => (format!("{base}/{method}"), (*method).to_string()),
        Target::ResponseUrl(url) => (url.to_string(), "response_url".to_string()),
    };
    kit::with_retries("Slack call", || {
        let mut request = client().post(&url).json(body);
        if let Target::Method { token, .. } = &target {
            request = request.bearer_auth(token);
        }
        let what = what.clone();
        async move {
            let response = match request.send().await {
                Ok(response) => response,
                // A timeout is final: the message may have arrived, so it is not sent twice.
                Err(e) => {
                    let failure = if e.is_connect() {
                        Failure::Unreachable
                    } else {
                        Failure::Final
                    };
                    return Err((failure, format!("{what}: {}", e.without_url())));
                }
            };
            let status = response.status();
            if !status.is_success() {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                return Err((
                    failure(Some(status.as_u16()), retry_after.as_deref()),
                    format!("{what}: HTTP {}", status.as_u16()),
                ));
            }
            let text = response.text().await.unwrap_or_default();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if v["ok"] == false => {
                    let error = v["error"].as_str().unwrap_or("unknown error");
                    Err((
                        Failure::Final,
                        format!("{what}: Slack answered ok=false: {error}"),
                    ))
                }
                Ok(v) => Ok(v),
                // A response_url answers plain `ok`.
                Err(_) => Ok(Value::Null),
            }
        }
    })
    .await
}

/// The Web API, as configured.
#[derive(Clone)]
pub(super) struct Api {
    base: String,
    token: String,
}

impl Api {
    pub(super) fn from_settings(settings: &SlackSettings) -> Option<Api> {
        let (_, token) = secrets(settings)?;
        Some(Api {
            base: api_base(settings),
            token: token.to_string(),
        })
    }

    pub(super) async fn call(&self, method: &str, body: &Value) -> (Result<Value, String>, u32) {
        let target = Target::Method {
            base: &self.base,
            token: &self.token,
            method,
        };
        call(target, body).await
    }

    /// Posts (escaped) mrkdwn in a thread, with `controls` (actions blocks) under it.
    pub(super) async fn post(
        &self,
        channel: &str,
        thread_ts: &str,
        mrkdwn: &str,
        controls: &[Value],
    ) -> (Result<Value, String>, u32) {
        let body = post_message_body(channel, thread_ts, mrkdwn, controls);
        self.call("chat.postMessage", &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_table() {
        let settings = |secret: Option<&str>, token: Option<&str>| SlackSettings {
            signing_secret: secret.map(String::from),
            bot_token: token.map(String::from),
            api_base: None,
            agents: Vec::new(),
        };
        let cases = [
            (None, None, false),
            (Some("s"), None, false),
            (None, Some("t"), false),
            (Some(""), Some("t"), false),
            (Some("s"), Some(" "), false),
            (Some("s"), Some("t"), true),
        ];
        for (secret, token, on) in cases {
            assert_eq!(
                secrets(&settings(secret, token)).is_some(),
                on,
                "{secret:?} {token:?}"
            );
        }
        assert_eq!(api_base(&settings(None, None)), DEFAULT_API_BASE);
        let mut s = settings(None, None);
        s.api_base = Some("http://127.0.0.1:9/api/".into());
        assert_eq!(api_base(&s), "http://127.0.0.1:9/api");
    }
}

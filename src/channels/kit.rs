//! What every channel shares, written once: the customer's buttons (which a reply offers, and
//! their labels), delivery in order per conversation, one retry policy for sends (honouring
//! the platform's `Retry-After`), and the loop that relays agents' replies to the customer's
//! conversation.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::engine::pipeline::{next_event, Outcome, PipelineEvent};
use crate::engine::AppState;
use crate::store::Ticket;

/// The customer's buttons under a self-help answer: a contract with deployments and their docs.
pub const HELPED_LABEL: &str = "That helped";
pub const HUMAN_LABEL: &str = "Talk to a human";

// ----------------------------------------------------------------------------------------------
// The buttons a reply offers
// ----------------------------------------------------------------------------------------------

/// A feedback button, as the turn JSON's `"actions"` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `"helped"`: "That helped".
    Helped,
    /// `"human"`: "Talk to a human".
    Human,
}

impl Action {
    /// The action named `name` in `"actions"`; `None` for a name no channel shows.
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "helped" => Some(Action::Helped),
            "human" => Some(Action::Human),
            _ => None,
        }
    }

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            Action::Helped => HELPED_LABEL,
            Action::Human => HUMAN_LABEL,
        }
    }
}

/// One option of a clarifying question: the intent's id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub name: String,
}

/// The buttons under a reply, exactly as the turn JSON has them (`"actions"` and `"choices"`):
/// feedback buttons only under a self-help answer, the options under a clarifying question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buttons {
    pub actions: Vec<Action>,
    pub choices: Vec<Choice>,
}

impl Buttons {
    /// The buttons the turn JSON lists (`"actions"` and `"choices"`), read from the decision
    /// without building the rest of the JSON.
    pub fn of(outcome: &Outcome) -> Buttons {
        Buttons {
            actions: outcome
                .decision
                .actions()
                .iter()
                .filter_map(|a| Action::parse(a))
                .collect(),
            choices: crate::engine::output::choices_json(outcome)
                .into_iter()
                .map(|c| Choice {
                    id: c.id,
                    name: c.name,
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.choices.is_empty()
    }
}

// ----------------------------------------------------------------------------------------------
// Ordered delivery
// ----------------------------------------------------------------------------------------------

/// Conversation queues kept before finished ones are swept.
const SWEEP_AT: usize = 1024;

/// Work on one conversation runs in arrival order; different conversations run in parallel.
#[derive(Default)]
pub(crate) struct Ordered {
    last: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Ordered {
    /// Runs `work` after everything queued before it for conversation `key`.
    pub(crate) fn in_order(&self, key: String, work: impl Future<Output = ()> + Send + 'static) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let previous = last.remove(&key);
        let task = tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            work.await;
        });
        last.insert(key, task);
        if last.len() > SWEEP_AT {
            last.retain(|_, t| !t.is_finished());
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Retries
// ----------------------------------------------------------------------------------------------

/// Attempts at one send before it is given up (and recorded as not delivered).
pub(crate) const SEND_ATTEMPTS: u32 = 4;
/// The longest wait a platform may ask for; a longer one fails the send.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The wait after a rate limit that did not say how long.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a send failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Rate limited (429, flood control), with the wait the platform asked for, if it said.
    RateLimited(Option<Duration>),
    /// The platform failed (5xx, a proxy's error page).
    Server,
    /// The connection was never made: nothing was sent.
    Unreachable,
    /// Anything else: a bad request, a refusal, or a timeout after which the message may have
    /// arrived. Not repeated.
    Final,
}

/// The wait before the attempt after `attempt` (1-based) failed with `failure`, or `None` to
/// give up: a rate limit waits what the platform asked (at most [`MAX_RETRY_AFTER`]); a server
/// error or an unreachable platform backs off 250 ms doubling; nothing is tried more than
/// [`SEND_ATTEMPTS`] times.
pub(crate) fn retry_wait(failure: Failure, attempt: u32) -> Option<Duration> {
    if attempt >= SEND_ATTEMPTS {
        return None;
    }
    let backoff = Duration::from_millis(250u64 << attempt.saturating_sub(1).min(6));
    match failure {
        Failure::RateLimited(Some(wait)) => (wait <= MAX_RETRY_AFTER).then_some(wait),
        Failure::RateLimited(None) => Some(DEFAULT_RETRY_AFTER),
        Failure::Server | Failure::Unreachable => Some(backoff),
        Failure::Final => None,
    }
}

/// Runs `attempt` until it succeeds or [`retry_wait`] gives up. Each failure comes with how to
/// retry it and its description (logged, and returned for the last one). Returns the result and
/// the attempts made.
pub(crate) async fn with_retries<T, Fut>(
    what: &str,
    mut attempt: impl FnMut() -> Fut,
) -> (Result<T, String>, u32)
where
    Fut: Future<Output = Result<T, (Failure, String)>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Ok(v) => return (Ok(v), n),
            Err((failure, error)) => {
                tracing::warn!(attempt = n, %error, "{what} failed");
                match retry_wait(failure, n) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return (Err(error), n),
                }
            }
        }
        n += 1;
    }
}

// ----------------------------------------------------------------------------------------------
// Agents' replies
// ----------------------------------------------------------------------------------------------

/// An agent's reply to deliver in the customer's conversation.
#[derive(Debug, Clone)]
pub(crate) struct AgentReply {
    pub ticket: Ticket,
    /// The team's display name, from the current rules.
    pub team: String,
    pub agent: String,
    pub text: String,
}

/// Relays the agents' replies to tickets of `channel` until `events` closes: each is delivered
/// by `deliver`, in order within its conversation (after the bot's own replies queued on
/// `ordered`), and counted as running work so shutdown waits for it.
pub(crate) async fn relay_agent_replies<F, Fut>(
    state: AppState,
    channel: &'static str,
    ordered: Arc<Ordered>,
    mut events: tokio::sync::broadcast::Receiver<PipelineEvent>,
    deliver: F,
) where
    F: Fn(AgentReply) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    while let Some(event) = next_event(&mut events, channel).await {
        let PipelineEvent::AgentReply {
            ticket,
            agent,
            text,
        } = event
        else {
            continue;
        };
        if ticket.channel != channel {
            continue;
        }
        let team = state.pipeline.catalog().team_name(&ticket.team).to_string();
        let key = ticket.conversation.clone();
        let reply = deliver(AgentReply {
            ticket,
            team,
            agent,
            text,
        });
        let running = state.handlers.enter();
        ordered.in_order(key, async move {
            let _running = running;
            reply.await;
        });
    }
}

/// `text` with every run of 15 or more digits (Discord snowflakes: channel, user and message
/// ids, as in a request URL) replaced by `<id>`, for errors that are logged and stored.
pub(crate) fn without_long_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 15 {
            out.push_str("<id>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_table() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let cases = [
            (Failure::RateLimited(Some(s(3))), 1, Some(s(3))),
            (Failure::RateLimited(Some(s(60))), 2, Some(s(60))),
            (Failure::RateLimited(Some(s(61))), 1, None),
            (Failure::RateLimited(None), 1, Some(s(1))),
            (Failure::Server, 1, Some(ms(250))),
            (Failure::Server, 2, Some(ms(500))),
            (Failure::Server, 3, Some(ms(1000))),
            (Failure::Unreachable, 1, Some(ms(250))),
            (Failure::Final, 1, None),
            (Failure::Server, SEND_ATTEMPTS, None),
            (Failure::RateLimited(Some(s(1))), SEND_ATTEMPTS, None),
        ];
        for (failure, attempt, want) in cases {
            assert_eq!(retry_wait(failure, attempt), want, "{failure:?} {attempt}");
        }
    }

    #[tokio::test]
    async fn with_retries_stops_at_success_or_a_final_failure() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let (result, attempts) = with_retries("send", || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                match n {
                    0 => Err((
                        Failure::RateLimited(Some(Duration::from_millis(5))),
                        "429".into(),
                    )),
                    1 => Err((Failure::Server, "502".into())),
                    _ => Ok(n),
                }
            }
        })
        .await;
        assert_eq!((result, attempts), (Ok(2), 3));

        let (result, attempts) = with_retries::<(), _>("send", || async {
            Err((Failure::Final, "400 bad request".into()))
        })
        .await;
        assert_eq!((result, attempts), (Err("400 bad request".to_string()), 1));

        let (result, attempts) =
            with_retries::<(), _>("send", || async { Err((Failure::Server, "500".into())) }).await;
        assert_eq!((result, attempts), (Err("500".to_string()), SEND_ATTEMPTS));
    }

    #[tokio::test]
    async fn work_on_one_conversation_runs_in_order() {
        let ordered = Ordered::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..20u64 {
            let seen = seen.clone();
            // Earlier work sleeps longer: only the queue keeps the order.
            ordered.in_order("c".into(), async move {
                tokio::time::sleep(Duration::from_millis(20 - i)).await;
                seen.lock().unwrap().push(i);
            });
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        ordered.in_order("c".into(), async move {
            let _ = tx.send(());
        });
        rx.await.unwrap();
        assert_eq!(*seen.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn long_ids_are_taken_out_of_errors() {
        let cases = [
            (
                "error sending request for url (https://discord.com/api/v10/channels/1234567890123456789/messages)",
                "error sending request for url (https://discord.com/api/v10/channels/<id>/messages)",
            ),
            ("Unknown Channel (10003), retry in 2 s", "Unknown Channel (10003), retry in 2 s"),
            ("", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(without_long_ids(text), expected);
        }
    }
}

//! Per-user flood limit: at most N messages per window; the first message over the limit gets a
//! polite notice, the rest of the window is dropped quietly. Time is passed in, so tests can
//! drive it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloodVerdict {
    Allow,
    /// Over the limit for the first time this window: send a notice, do not process.
    Notify,
    /// Over the limit again: drop quietly.
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
    notified: bool,
}

/// Counts messages per user in fixed windows.
#[derive(Debug)]
pub(crate) struct FloodGate {
    limit: u32,
    window: Duration,
    users: HashMap<String, Window>,
    /// When stale windows were last swept (at most once per window, so a crowd of users costs
    /// one sweep per window, not one per message).
    last_sweep: Option<Instant>,
}

/// Users tracked before stale windows are swept.
const SWEEP_AT: usize = 10_000;

impl FloodGate {
    pub fn new(limit: u32, window: Duration) -> Self {
        FloodGate {
            limit: limit.max(1),
            window,
            users: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Counts a message from `user` at `now`.
    pub fn check(&mut self, user: &str, now: Instant) -> FloodVerdict {
        let sweep_due = self
            .last_sweep
            .is_none_or(|at| now.saturating_duration_since(at) >= self.window);
        if self.users.len() >= SWEEP_AT && sweep_due {
            let window = self.window;
            self.users
                .retain(|_, w| now.saturating_duration_since(w.started) < window);
            self.last_sweep = Some(now);
        }
        let w = self.users.entry(user.to_string()).or_insert(Window {
            started: now,
            count: 0,
            notified: false,
        });
        if now.saturating_duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                count: 0,
                notified: false,
            };
        }
        w.count += 1;
        if w.count <= self.limit {
            FloodVerdict::Allow
        } else if !w.notified {
            w.notified = true;
            FloodVerdict::Notify
        } else {
            FloodVerdict::Drop
        }
    }

    /// The notice sent once per window to a user over the limit.
    pub fn notice(&self) -> String {
        crate::core::wording::slow_down(self.window.as_secs().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_table() {
        let t0 = Instant::now();
        let mut gate = FloodGate::new(3, Duration::from_secs(10));
        let s = Duration::from_secs;
        let cases = [
            ("ann", s(0), FloodVerdict::Allow),
            ("ann", s(1), FloodVerdict::Allow),
            ("ann", s(2), FloodVerdict::Allow),
            ("ann", s(3), FloodVerdict::Notify),
            ("ann", s(4), FloodVerdict::Drop),
            ("bob", s(4), FloodVerdict::Allow), // other users are not affected
            ("ann", s(9), FloodVerdict::Drop),
            ("ann", s(10), FloodVerdict::Allow), // a new window
            ("ann", s(11), FloodVerdict::Allow),
        ];
        for (n, (user, at, want)) in cases.iter().enumerate() {
            assert_eq!(gate.check(user, t0 + *at), *want, "step {n}");
        }
    }

    #[test]
    fn many_users_are_swept_once_per_window() {
        let t0 = Instant::now();
        let mut gate = FloodGate::new(2, Duration::from_secs(10));
        for i in 0..(SWEEP_AT + 500) {
            assert_eq!(gate.check(&format!("u{i}"), t0), FloodVerdict::Allow);
        }
        assert_eq!(gate.users.len(), SWEEP_AT + 500, "nothing is stale yet");
        // A window later, the next message sweeps every stale user once.
        assert_eq!(
            gate.check("late", t0 + Duration::from_secs(11)),
            FloodVerdict::Allow
        );
        assert_eq!(gate.users.len(), 1);
    }

    #[test]
    fn ten_thousand_messages_from_one_user_are_bounded() {
        let t0 = Instant::now();
        let mut gate = FloodGate::new(8, Duration::from_secs(10));
        let verdicts: Vec<_> = (0..10_000)
            .map(|i| gate.check("flooder", t0 + Duration::from_millis(i)))
            .collect();
        let allowed = verdicts
            .iter()
            .filter(|v| **v == FloodVerdict::Allow)
            .count();
        let notices = verdicts
            .iter()
            .filter(|v| **v == FloodVerdict::Notify)
            .count();
        assert_eq!((allowed, notices), (8, 1), "10 s of messages: one window");
    }
}

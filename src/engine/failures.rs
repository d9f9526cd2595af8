//! Failed sign-ins per client address: past `limit` failures in a window, the address is refused
//! (429) until the window ends. Memory is bounded: at most `capacity` addresses are tracked, the
//! stalest forgotten first. Time is passed in, so tests can drive it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed sign-ins per address in fixed windows.
#[derive(Debug)]
pub(crate) struct FailureGate {
    limit: u32,
    window: Duration,
    capacity: usize,
    addresses: HashMap<IpAddr, Window>,
}

impl FailureGate {
    pub fn new(limit: u32, window: Duration, capacity: usize) -> FailureGate {
        FailureGate {
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
            addresses: HashMap::new(),
        }
    }

    /// `Err(retry_after)` while `addr` has used up its failures for the window.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.addresses.get(&addr) {
            Some(w) if w.failures >= self.limit => {
                let left = self
                    .window
                    .saturating_sub(now.saturating_duration_since(w.started));
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(left)
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed sign-in from `addr`.
    pub fn fail(&mut self, addr: IpAddr, now: Instant) {
        let window = self.window;
        if !self.addresses.contains_key(&addr) && self.addresses.len() >= self.capacity {
            self.addresses
                .retain(|_, w| now.saturating_duration_since(w.started) < window);
            if self.addresses.len() >= self.capacity {
                let stalest = self
                    .addresses
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(a, _)| *a);
                if let Some(a) = stalest {
                    self.addresses.remove(&a);
                }
            }
        }
        let w = self.addresses.entry(addr).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.saturating_duration_since(w.started) >= window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures += 1;
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn past_the_limit_an_address_waits_for_the_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut gate = FailureGate::new(5, s(60), 100);
        // (seconds after t0, fail?, expected check before the step)
        let steps: &[(u64, bool, Result<(), Duration>)] = &[
            (0, true, Ok(())),
            (1, true, Ok(())),
            (2, true, Ok(())),
            (3, true, Ok(())),
            (4, true, Ok(())),
            (5, false, Err(s(55))),
            (59, false, Err(s(1))),
            (60, false, Ok(())),
            (60, true, Ok(())),
            (61, false, Ok(())),
        ];
        for (at, fail, want) in steps {
            let now = t0 + s(*at);
            assert_eq!(gate.check(ip(1), now), *want, "at {at}s");
            assert_eq!(gate.check(ip(2), now), Ok(()), "another address");
            if *fail {
                gate.fail(ip(1), now);
            }
        }
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut gate = FailureGate::new(2, Duration::from_secs(60), 3);
        for n in 0..50 {
            gate.fail(ip(n), t0 + Duration::from_millis(u64::from(n)));
            assert!(gate.tracked() <= 3);
        }
        // The most recent offenders are still known.
        gate.fail(ip(49), t0 + Duration::from_millis(60));
        assert!(gate.check(ip(49), t0 + Duration::from_secs(1)).is_err());
    }
}

//! Per-client-address limits. [`AddressGate`]: at most N requests per window from one address
//! to the endpoints anyone can call, or N failed sign-ins ([`AddressGate::record`] and
//! [`AddressGate::refused`]); an IPv6 client counts by its /64, which one host usually holds
//! whole; memory is bounded: stale windows are swept, and past a cap of tracked
//! addresses the newcomers share one window; time is passed in, so tests can drive it.
//! [`OpenConnections`]: at most N connections open at once from one address, so one client
//! cannot hold every connection the server allows.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressVerdict {
    Allow,
    /// Over the limit: refuse, and say when the window ends (whole seconds, at least 1).
    Refuse {
        retry_after_secs: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl Window {
    fn count(&mut self, now: Instant, window: Duration, limit: u32) -> AddressVerdict {
        if now.saturating_duration_since(self.started) >= window {
            *self = Window {
                started: now,
                count: 0,
            };
        }
        self.count = self.count.saturating_add(1);
        if self.count <= limit {
            return AddressVerdict::Allow;
        }
        let left = window.saturating_sub(now.saturating_duration_since(self.started));
        AddressVerdict::Refuse {
            retry_after_secs: retry_after_secs(left),
        }
    }
}

/// A wait as `Retry-After` says it: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Counts requests per client address in fixed windows.
#[derive(Debug)]
pub struct AddressGate {
    limit: u32,
    window: Duration,
    addresses: HashMap<IpAddr, Window>,
    /// The window newcomers share while `addresses` is full.
    overflow: Window,
    /// When stale windows were last swept (at most once per window).
    last_sweep: Option<Instant>,
    cap: usize,
}

/// Addresses tracked before stale windows are swept.
const SWEEP_AT: usize = 10_000;

/// Addresses tracked at most (a few MB); past it, newcomers share one window.
const MAX_TRACKED: usize = 100_000;

/// The address a client is counted under: IPv4 as is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

impl AddressGate {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_cap(limit, window, MAX_TRACKED)
    }

    /// A gate tracking at most `cap` addresses.
    pub fn with_cap(limit: u32, window: Duration, cap: usize) -> Self {
        let now = Instant::now();
        AddressGate {
            limit: limit.max(1),
            window,
            addresses: HashMap::new(),
            overflow: Window {
                started: now,
                count: 0,
            },
            last_sweep: None,
            cap,
        }
    }

    /// Counts a request from `ip` at `now`.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> AddressVerdict {
        let (window, limit) = (self.window, self.limit);
        self.window_of(ip, now).count(now, window, limit)
    }

    /// Counts one event from `ip` (a failed sign-in) without a verdict: with [`refused`]
    /// (Self::refused), a gate that counts only failures.
    pub fn record(&mut self, ip: IpAddr, now: Instant) {
        self.check(ip, now);
    }

    /// The wait left while `ip` has used up its window, without counting anything.
    pub fn refused(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let key = key(ip);
        let w = match self.addresses.get(&key) {
            Some(w) => w,
            None if self.addresses.len() >= self.cap => &self.overflow,
            None => return None,
        };
        let left = self
            .window
            .saturating_sub(now.saturating_duration_since(w.started));
        (w.count >= self.limit && !left.is_zero()).then_some(left)
    }

    /// The window `ip` counts in (sweeping stale ones first when many are tracked; the shared
    /// overflow window when the address is new and the gate is full).
    fn window_of(&mut self, ip: IpAddr, now: Instant) -> &mut Window {
        let sweep_due = self
            .last_sweep
            .is_none_or(|at| now.saturating_duration_since(at) >= self.window);
        if self.addresses.len() >= SWEEP_AT.min(self.cap) && sweep_due {
            let window = self.window;
            self.addresses
                .retain(|_, w| now.saturating_duration_since(w.started) < window);
            self.last_sweep = Some(now);
        }
        let key = key(ip);
        if !self.addresses.contains_key(&key) && self.addresses.len() >= self.cap {
            return &mut self.overflow;
        }
        self.addresses.entry(key).or_insert(Window {
            started: now,
            count: 0,
        })
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.addresses.len()
    }
}

/// Connections open per client address, at most `limit` each (0: no per-address limit).
#[derive(Debug)]
pub struct OpenConnections {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection; dropping it (the connection closed) counts it out.
#[derive(Debug)]
pub struct OpenConnection {
    counts: Arc<OpenConnections>,
    key: IpAddr,
}

impl OpenConnections {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(OpenConnections {
            limit,
            open: Mutex::default(),
        })
    }

    /// Counts a new connection from `ip` in, or `None` when that address already holds
    /// `limit`. An address is forgotten when its last connection closes.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<OpenConnection> {
        let key = key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if self.limit > 0 && *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(OpenConnection {
            counts: self.clone(),
            key,
        })
    }

    /// Connections open from `ip` now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_table() {
        let t0 = Instant::now();
        let mut gate = AddressGate::new(2, Duration::from_secs(60));
        let ms = Duration::from_millis;
        let refuse = |secs| AddressVerdict::Refuse {
            retry_after_secs: secs,
        };
        let cases = [
            ("10.0.0.1", ms(0), AddressVerdict::Allow),
            ("10.0.0.1", ms(1_000), AddressVerdict::Allow),
            ("10.0.0.1", ms(1_500), refuse(59)), // 58.5 s left: rounded up
            ("10.0.0.2", ms(1_500), AddressVerdict::Allow), // other addresses are not affected
            ("::ffff:10.0.0.1", ms(2_000), refuse(58)), // the same IPv4 client
            ("10.0.0.1", ms(59_999), refuse(1)),
            ("10.0.0.1", ms(60_000), AddressVerdict::Allow), // a new window
            ("2001:db8::1", ms(0), AddressVerdict::Allow),
            ("2001:db8::2", ms(0), AddressVerdict::Allow), // the same /64
            ("2001:db8::ffff:3", ms(0), refuse(60)),
            ("2001:db8:0:1::1", ms(0), AddressVerdict::Allow), // another /64
        ];
        for (n, (addr, at, want)) in cases.iter().enumerate() {
            assert_eq!(gate.check(ip(addr), t0 + *at), *want, "step {n}: {addr}");
        }
    }

    #[test]
    fn stale_addresses_are_swept_once_per_window() {
        let t0 = Instant::now();
        let mut gate = AddressGate::new(5, Duration::from_secs(10));
        for i in 0..(SWEEP_AT as u32 + 500) {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(gate.check(addr, t0), AddressVerdict::Allow);
        }
        assert_eq!(gate.tracked(), SWEEP_AT + 500, "nothing is stale yet");
        gate.check(ip("192.0.2.1"), t0 + Duration::from_secs(11));
        assert_eq!(gate.tracked(), 1);
    }

    #[test]
    fn past_the_cap_newcomers_share_one_window() {
        let t0 = Instant::now();
        let mut gate = AddressGate::with_cap(2, Duration::from_secs(10), 3);
        for last in 1..=3 {
            assert_eq!(
                gate.check(ip(&format!("192.0.2.{last}")), t0),
                AddressVerdict::Allow
            );
        }
        // Three newcomers while full: two fit in the shared window, the third is refused.
        let verdicts: Vec<_> = (4..=6)
            .map(|last| gate.check(ip(&format!("192.0.2.{last}")), t0))
            .collect();
        assert_eq!(
            verdicts[..2],
            [AddressVerdict::Allow, AddressVerdict::Allow]
        );
        assert!(matches!(verdicts[2], AddressVerdict::Refuse { .. }));
        assert_eq!(gate.tracked(), 3, "the table never grows past its cap");
        // Tracked addresses keep their own budget.
        assert_eq!(gate.check(ip("192.0.2.1"), t0), AddressVerdict::Allow);
    }

    #[test]
    fn one_address_holds_at_most_its_share_of_connections() {
        let counts = OpenConnections::new(2);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a1 = counts.enter(ip("192.0.2.1")).expect("first");
        let a2 = counts.enter(ip("192.0.2.1")).expect("second");
        assert!(
            counts.enter(ip("192.0.2.1")).is_none(),
            "a third is refused"
        );
        assert!(
            counts.enter(ip("192.0.2.2")).is_some(),
            "another address is not"
        );
        let v6 = counts.enter(ip("2001:db8::1")).expect("v6");
        let _v6b = counts
            .enter(ip("2001:db8::2"))
            .expect("the same /64, second");
        assert!(
            counts.enter(ip("2001:db8::3")).is_none(),
            "the same /64 is one address"
        );
        drop(a1);
        assert_eq!(counts.open(ip("192.0.2.1")), 1);
        let _a3 = counts
            .enter(ip("192.0.2.1"))
            .expect("room again once one closed");
        drop((a2, v6));
        let unlimited = OpenConnections::new(0);
        let held: Vec<_> = (0..1000)
            .filter_map(|_| unlimited.enter(ip("192.0.2.9")))
            .collect();
        assert_eq!(held.len(), 1000, "0 means no per-address limit");
        drop(held);
        assert_eq!(
            unlimited.open(ip("192.0.2.9")),
            0,
            "forgotten when all closed"
        );
    }

    #[test]
    fn counting_only_failures_an_address_waits_for_the_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut gate = AddressGate::with_cap(5, s(60), 100);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        // (seconds after t0, a failure?, the wait before the step)
        let steps: &[(u64, bool, Option<Duration>)] = &[
            (0, true, None),
            (1, true, None),
            (2, true, None),
            (3, true, None),
            (4, true, None),
            (5, false, Some(s(55))),
            (59, false, Some(s(1))),
            (60, false, None),
            (60, true, None),
            (61, false, None),
        ];
        for (at, fail, want) in steps {
            let now = t0 + s(*at);
            assert_eq!(gate.refused(a, now), *want, "at {at}s");
            assert_eq!(gate.refused(b, now), None, "another address");
            if *fail {
                gate.record(a, now);
            }
        }
        // Another address of the same IPv6 /64 is the same client.
        for _ in 0..5 {
            gate.record(ip("2001:db8::1"), t0);
        }
        assert!(gate.refused(ip("2001:db8::ffff"), t0).is_some());
    }

    #[test]
    fn failures_past_the_cap_share_one_window() {
        let t0 = Instant::now();
        let mut gate = AddressGate::with_cap(2, Duration::from_secs(60), 3);
        for n in 0..50u8 {
            gate.record(
                IpAddr::from([10, 0, 0, n]),
                t0 + Duration::from_millis(u64::from(n)),
            );
            assert!(gate.tracked() <= 3);
        }
        // Newcomers past the cap are refused together, not let through.
        let late = IpAddr::from([10, 0, 0, 49]);
        assert!(gate.refused(late, t0 + Duration::from_secs(1)).is_some());
    }
}

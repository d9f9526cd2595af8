//! Team business hours ("Mon-Fri 09:00-17:00" in an IANA time zone): whether a team is open
//! now, and when it next opens, so a handoff can tell the customer when to expect a person.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

/// One opening window on a set of week days; `end` is exclusive, 24:00 allowed.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    days: Vec<Weekday>,
    start_minute: u32,
    end_minute: u32,
}

/// Parsed business hours in a time zone.
#[derive(Debug, Clone)]
pub(crate) struct BusinessHours {
    windows: Vec<Window>,
    tz: TimeZone,
    tz_name: String,
    spec: String,
}

fn day(s: &str) -> Result<Weekday, String> {
    let key = s.trim().to_ascii_lowercase();
    DAYS.iter()
        .find(|(name, _)| key.starts_with(name) && key.len() <= 9)
        .map(|(_, d)| *d)
        .ok_or_else(|| format!("unknown day `{}` (use Mon, Tue, ... Sun)", s.trim()))
}

fn minute_of_day(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("time `{}` must be HH:MM", s.trim()))?;
    let h: u32 = h
        .parse()
        .map_err(|_| format!("bad hour in `{}`", s.trim()))?;
    let m: u32 = m
        .parse()
        .map_err(|_| format!("bad minute in `{}`", s.trim()))?;
    if m > 59 || h > 24 || (h == 24 && m > 0) {
        return Err(format!("time `{}` is out of range", s.trim()));
    }
    Ok(h * 60 + m)
}

fn days(s: &str) -> Result<Vec<Weekday>, String> {
    let mut out = Vec::new();
    for part in s.split('+') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    out.push(d);
                    if d == b {
                        break;
                    }
                    d = d.next();
                }
            }
            None => out.push(day(part)?),
        }
    }
    Ok(out)
}

impl BusinessHours {
    /// Parses `"Mon-Fri 09:00-17:00"` (several windows separated by `,`; day lists with `+`,
    /// e.g. `"Mon+Wed 10:00-12:00"`). An empty spec means always open (`Ok(None)`).
    pub fn parse(spec: &str, timezone: &str) -> Result<Option<BusinessHours>, String> {
        let tz_name = if timezone.trim().is_empty() {
            "UTC"
        } else {
            timezone.trim()
        };
        let tz = TimeZone::get(tz_name).map_err(|_| format!("unknown time zone `{tz_name}`"))?;
        if spec.trim().is_empty() {
            return Ok(None);
        }
        let mut windows = Vec::new();
        for part in spec.split(',') {
            let part = part.trim();
            let (day_part, time_part) = part
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("`{part}` must look like \"Mon-Fri 09:00-17:00\""))?;
            let (start, end) = time_part
                .trim()
                .split_once('-')
                .ok_or_else(|| format!("`{part}` needs a time range like 09:00-17:00"))?;
            let (start_minute, end_minute) = (minute_of_day(start)?, minute_of_day(end)?);
            if end_minute <= start_minute {
                return Err(format!("`{part}`: the window must end after it starts"));
            }
            windows.push(Window {
                days: days(day_part)?,
                start_minute,
                end_minute,
            });
        }
        Ok(Some(BusinessHours {
            windows,
            tz,
            tz_name: tz_name.to_string(),
            spec: spec.trim().to_string(),
        }))
    }

    /// The spec and zone as written, for messages: "Mon-Fri 09:00-17:00 Europe/Berlin".
    pub fn describe(&self) -> String {
        format!("{} {}", self.spec, self.tz_name)
    }

    /// True when `now` falls in a window.
    pub(crate) fn is_open(&self, now: Timestamp) -> bool {
        let local = now.to_zoned(self.tz.clone());
        let minute = u32::from(local.hour() as u8) * 60 + u32::from(local.minute() as u8);
        self.windows.iter().any(|w| {
            w.days.contains(&local.weekday()) && (w.start_minute..w.end_minute).contains(&minute)
        })
    }

    /// When the team next opens after `now` (None if open now).
    pub(crate) fn next_open(&self, now: Timestamp) -> Option<Zoned> {
        if self.is_open(now) {
            return None;
        }
        let today: Date = now.to_zoned(self.tz.clone()).date();
        let mut best: Option<Zoned> = None;
        for offset in 0..8 {
            let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else {
                continue;
            };
            for w in &self.windows {
                if !w.days.contains(&date.weekday()) {
                    continue;
                }
                let (h, m) = ((w.start_minute / 60) as i8, (w.start_minute % 60) as i8);
                let Ok(time) = Time::new(h, m, 0, 0) else {
                    continue;
                };
                let Ok(start) = date.to_datetime(time).to_zoned(self.tz.clone()) else {
                    continue;
                };
                if start.timestamp() > now && best.as_ref().is_none_or(|b| start < *b) {
                    best = Some(start);
                }
            }
            if best.is_some() {
                break;
            }
        }
        best
    }

    /// The open intervals of `date` (merged, in order), as instants.
    fn open_on(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        let mut minutes: Vec<(u32, u32)> = self
            .windows
            .iter()
            .filter(|w| w.days.contains(&date.weekday()))
            .map(|w| (w.start_minute, w.end_minute))
            .collect();
        minutes.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (start, end) in minutes {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let instant = |minute: u32| -> Option<Timestamp> {
            let (day, minute) = (minute / (24 * 60), minute % (24 * 60));
            let date = date
                .checked_add(jiff::Span::new().days(i64::from(day)))
                .ok()?;
            let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
            let zoned = date.to_datetime(time).to_zoned(self.tz.clone()).ok()?;
            Some(zoned.timestamp())
        };
        merged
            .into_iter()
            .filter_map(|(start, end)| Some((instant(start)?, instant(end)?)))
            .collect()
    }

    /// The instant `open_ms` milliseconds of business hours after `start` (the clock stops
    /// while the team is closed); None when that is more than a year of open time away.
    pub(crate) fn after_open_time(&self, start: Timestamp, open_ms: u64) -> Option<Timestamp> {
        let mut left = i64::try_from(open_ms).ok()?;
        let first: Date = start.to_zoned(self.tz.clone()).date();
        for offset in 0..400 {
            let date = first.checked_add(jiff::Span::new().days(offset)).ok()?;
            for (open, close) in self.open_on(date) {
                let from = open.max(start);
                if from >= close {
                    continue;
                }
                let here = close.as_millisecond() - from.as_millisecond();
                if left <= here {
                    return Timestamp::from_millisecond(from.as_millisecond() + left).ok();
                }
                left -= here;
            }
        }
        None
    }

    /// "Mon 09:00 Europe/Berlin" for the next opening, or None when open.
    pub(crate) fn next_open_text(&self, now: Timestamp) -> Option<String> {
        self.next_open(now)
            .map(|z| format!("{} {}", z.strftime("%a %H:%M"), self.tz_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parse_errors_table() {
        let cases = [
            ("Mon-Fri 9-17", "", "HH:MM"),
            ("Mon-Fri", "", "must look like"),
            ("Mon-Xyz 09:00-17:00", "", "unknown day"),
            ("Mon 17:00-09:00", "", "end after"),
            ("Mon 09:00-25:00", "", "out of range"),
            ("Mon 09:00-17:00", "Mars/Olympus", "unknown time zone"),
        ];
        for (spec, tz, needle) in cases {
            let err = BusinessHours::parse(spec, tz).unwrap_err();
            assert!(err.contains(needle), "{spec:?}: {err}");
        }
        assert!(BusinessHours::parse("", "").unwrap().is_none());
    }

    #[test]
    fn open_and_next_open_table() {
        let h = BusinessHours::parse("Mon-Fri 09:00-17:00, Sat 10:00-12:00", "Europe/Berlin")
            .unwrap()
            .unwrap();
        // 2026-11-27 is a Friday; Berlin is UTC+1 in November.
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("2026-11-27T08:30:00Z", true, None), // Fri 09:30 local
            (
                "2026-11-27T16:30:00Z",
                false,
                Some("Sat 10:00 Europe/Berlin"),
            ), // Fri 17:30 local
            ("2026-11-28T09:30:00Z", true, None), // Sat 10:30 local
            (
                "2026-11-28T12:00:00Z",
                false,
                Some("Mon 09:00 Europe/Berlin"),
            ), // Sat 13:00 local
            (
                "2026-11-30T07:59:00Z",
                false,
                Some("Mon 09:00 Europe/Berlin"),
            ), // Mon 08:59 local
            (
                "2026-11-30T16:00:00Z",
                false,
                Some("Tue 09:00 Europe/Berlin"),
            ), // Mon 17:00 local: closed
        ];
        for (now, open, next) in cases {
            assert_eq!(h.is_open(at(now)), *open, "{now}");
            assert_eq!(h.next_open_text(at(now)).as_deref(), *next, "{now}");
        }
    }

    #[test]
    fn day_lists_and_ranges_wrapping_the_week() {
        let h = BusinessHours::parse("Sat-Mon 10:00-11:00, Wed+Thu 00:00-24:00", "UTC")
            .unwrap()
            .unwrap();
        assert!(h.is_open(at("2026-11-29T10:30:00Z"))); // Sunday
        assert!(h.is_open(at("2026-12-02T23:59:00Z"))); // Wednesday
        assert!(!h.is_open(at("2026-12-01T10:30:00Z"))); // Tuesday
    }

    #[test]
    fn open_time_stops_while_closed() {
        let hours = BusinessHours::parse("Mon-Fri 09:00-17:00", "UTC")
            .unwrap()
            .unwrap();
        let hour = 3_600_000;
        // 2026-12-04 is a Friday.
        let table = [
            ("2026-12-04T10:00:00Z", 2 * hour, "2026-12-04T12:00:00Z"),
            ("2026-12-04T16:00:00Z", 2 * hour, "2026-12-07T10:00:00Z"),
            ("2026-12-05T12:00:00Z", hour, "2026-12-07T10:00:00Z"),
            ("2026-12-04T20:00:00Z", 0, "2026-12-07T09:00:00Z"),
            ("2026-12-04T10:00:00Z", 8 * hour, "2026-12-07T10:00:00Z"),
            ("2026-12-04T09:00:00Z", 8 * hour, "2026-12-04T17:00:00Z"),
        ];
        for (start, open_ms, want) in table {
            assert_eq!(
                hours.after_open_time(at(start), open_ms),
                Some(at(want)),
                "{start} + {open_ms}"
            );
        }
        let berlin =
            BusinessHours::parse("Mon-Fri 09:00-12:00, Mon-Fri 11:00-13:00", "Europe/Berlin")
                .unwrap()
                .unwrap();
        // Overlapping windows count once: 09:00-13:00 Berlin is 08:00-12:00 UTC in December.
        assert_eq!(
            berlin.after_open_time(at("2026-12-04T07:00:00Z"), 4 * hour),
            Some(at("2026-12-04T12:00:00Z"))
        );
        assert_eq!(
            hours.after_open_time(at("2026-12-04T10:00:00Z"), u64::MAX),
            None
        );
    }
}

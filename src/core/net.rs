//! Network values the settings name: IP ranges (`10.0.0.0/8`, `::1`) for `http.trusted_proxies`,
//! and web origins (`https://example.com`) for `http.frame_ancestors`. Pure parsing and matching.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address or a CIDR range of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, ip.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => same_prefix(
                u32::from(base).into(),
                u32::from(ip).into(),
                32,
                self.prefix,
            ),
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                same_prefix(u128::from(base), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of `bits` bits of `a` and `b` agree.
fn same_prefix(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    match bits - prefix.min(bits) {
        0 => a == b,
        shift if shift >= 128 => true,
        shift => a >> shift == b >> shift,
    }
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<IpRange, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base = address.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(bad)?,
        };
        Ok(IpRange { base, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// Checks that `text` is a web origin a Content-Security-Policy may name: `http(s)://host` with
/// an optional port, the host possibly starting with `*.`; nothing that could end the directive.
pub fn check_origin(text: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{text}` is not an origin like https://example.com: {why}"
        ))
    };
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return bad("it must start with https:// or http://");
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return bad("a host name of letters, digits, `-` and `.`, without a path");
    }
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("the port must be a number");
    }
    Ok(())
}

/// Items of a settings list: an array, or one comma-separated string (as an environment
/// variable gives it); blank items are skipped.
fn de_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Items {
        List(Vec<String>),
        One(String),
    }
    let items = match <Items as serde::Deserialize>::deserialize(d)? {
        Items::List(list) => list,
        Items::One(text) => text.split(',').map(str::to_string).collect(),
    };
    Ok(items
        .into_iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect())
}

/// Deserialises a list of [`IpRange`]s (see [`de_items`]).
pub(crate) fn de_ranges<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpRange>, D::Error> {
    de_items(d)?
        .iter()
        .map(|i| i.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// Deserialises a list of origins (see [`de_items`] and [`check_origin`]).
pub(crate) fn de_origins<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = de_items(d)?;
    for item in &items {
        check_origin(item).map_err(serde::de::Error::custom)?;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_contain() {
        let table: &[(&str, &str, bool)] = &[
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.0/24", "192.168.1.255", true),
            ("192.168.1.0/24", "192.168.2.0", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("0.0.0.0/0", "::1", false),
            ("::1", "::1", true),
            ("fd00::/8", "fd12:3456::1", true),
            ("fd00::/8", "fe80::1", false),
            ("::/0", "2001:db8::1", true),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),
            ("::ffff:10.0.0.1", "10.0.0.1", true),
            (" 172.16.0.0/12 ", "172.31.255.255", true),
            ("172.16.0.0/12", "172.32.0.0", false),
        ];
        for (range, ip, want) in table {
            let r: IpRange = range.parse().unwrap_or_else(|e| panic!("{range}: {e}"));
            assert_eq!(r.contains(ip.parse().unwrap()), *want, "{range} ∋ {ip}");
        }
    }

    #[test]
    fn bad_ranges_say_why() {
        for bad in [
            "",
            "localhost",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0/8",
            "1.2.3.4/x",
        ] {
            let e = bad.parse::<IpRange>().unwrap_err();
            assert!(e.contains("not an IP address"), "{bad}: {e}");
        }
    }

    #[test]
    fn origins() {
        for ok in [
            "https://example.com",
            "http://localhost:8080",
            "https://*.example.co.uk",
            "https://shop-1.example.com:443",
        ] {
            assert_eq!(check_origin(ok), Ok(()), "{ok}");
        }
        for bad in [
            "example.com",
            "https://",
            "https://example.com/path",
            "https://example.com; script-src *",
            "https://exa mple.com",
            "'self'",
            "*",
            "https://example.com:http",
            "javascript:alert(1)",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}

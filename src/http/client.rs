//! Who is on the other end of a request: the client address that per-address limits key on.
//! It is the connecting peer's address; `X-Forwarded-For` is believed only from proxies the
//! operator lists in `http.trusted_proxies`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::core::net::IpRange;
use crate::engine::AppState;

/// The client's address. Never fails: a server started without connection info (a test's bare
/// `axum::serve`) reports the unspecified address, so every such client shares one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = &state.settings.http.trusted_proxies;
        Ok(ClientAddr(client_ip(peer, &parts.headers, trusted)))
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy; then, reading
/// `X-Forwarded-For` from the right (each proxy appends the address it received from), the
/// first address that is not itself a trusted proxy; when every one is, the left-most. An entry
/// that is not an address stops the walk at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpRange> = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        // (peer, X-Forwarded-For headers, client)
        let table: &[(&str, &[&str], &str)] = &[
            // Untrusted peers: the header is ignored, whatever it says.
            ("203.0.113.9", &[], "203.0.113.9"),
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            ("203.0.113.9", &["10.0.0.1"], "203.0.113.9"),
            ("::ffff:203.0.113.9", &["1.1.1.1"], "203.0.113.9"),
            // A trusted proxy without the header: the proxy itself.
            ("127.0.0.1", &[], "127.0.0.1"),
            // A trusted proxy: the right-most address that is not a trusted proxy.
            ("127.0.0.1", &["198.51.100.1"], "198.51.100.1"),
            ("127.0.0.1", &["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
            (
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.1, 10.1.2.3"],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &["6.6.6.6", "198.51.100.1, 10.1.2.3"],
                "198.51.100.1",
            ),
            ("::ffff:127.0.0.1", &["198.51.100.1"], "198.51.100.1"),
            ("fd00::1", &["2001:db8::7"], "2001:db8::7"),
            ("127.0.0.1", &["198.51.100.1:4711"], "198.51.100.1"),
            ("127.0.0.1", &["[2001:db8::7]:443"], "2001:db8::7"),
            // Every hop trusted: the left-most.
            ("127.0.0.1", &["10.0.0.5, 10.0.0.6"], "10.0.0.5"),
            // Garbage stops the walk at the last trusted hop.
            ("127.0.0.1", &["198.51.100.1, unknown"], "127.0.0.1"),
            (
                "127.0.0.1",
                &["198.51.100.1, unknown, 10.0.0.9"],
                "10.0.0.9",
            ),
            ("127.0.0.1", &[""], "127.0.0.1"),
        ];
        for (peer, forwarded, want) in table {
            let mut headers = HeaderMap::new();
            for value in *forwarded {
                headers.append("x-forwarded-for", value.parse().unwrap());
            }
            let got = client_ip(peer.parse().unwrap(), &headers, &trusted);
            assert_eq!(got, want.parse::<IpAddr>().unwrap(), "{peer} {forwarded:?}");
        }
        // No trusted proxies (the default): always the peer.
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(peer, &headers, &[]), peer);
    }
}

//! Who is on the other end of a request: the client address that per-address limits key on.
//! It is the connecting peer's address; `X-Forwarded-For` is believed only from proxies the
//! operator lists in `http.trusted_proxies`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::engine::AppState;

/// The client's address. Never fails: a server started without connection info (a test's bare
/// `axum::serve`) reports the unspecified address, so every such client shares one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientAddr(peer))
    }
}

//! The server facing the internet, for real on loopback (`app::serve` over `app::app`, as
//! `personabot serve` runs it): slow and silent clients cut off while `/healthz` answers, the
//! connection cap, the request timeout, the per-address rate limit and `X-Forwarded-For` from
//! trusted proxies only, metrics labels from known values, and the security headers.

#[path = "../support/mod.rs"]
mod support;

mod headers;
mod limits;
mod server;
mod slow_clients;

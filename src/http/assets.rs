//! The pages' scripts, served from the binary at `/assets/*.js` (the Content-Security-Policy
//! allows no inline script): `text/javascript`, revalidated by `ETag` on every use, so a new
//! release is never mixed with an old cached script.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::engine::AppState;
use crate::http::ApiError;

/// One script: its name under `/assets/`, its text and its entity tag.
struct Asset {
    name: &'static str,
    body: &'static str,
    etag: String,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        ("chat.js", include_str!("pages/chat.js")),
        ("agent.js", include_str!("pages/agent.js")),
        ("agent-ticket.js", include_str!("pages/agent-ticket.js")),
        ("agent-picker.js", include_str!("pages/agent-picker.js")),
        ("agent-live.js", include_str!("pages/agent-live.js")),
        ("login.js", include_str!("pages/login.js")),
        ("markdown.js", include_str!("pages/markdown.js")),
    ]
    .into_iter()
    .map(|(name, body)| Asset {
        name,
        body,
        etag: etag(body),
    })
    .collect()
});

/// A strong entity tag for `body`: part of its SHA-256, quoted.
fn etag(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    format!("\"{}\"", crate::core::hex::encode(&digest[..12]))
}

/// Whether an `If-None-Match` value names `etag` (or is `*`).
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::new(StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let Ok(etag) = HeaderValue::from_str(&asset.etag) else {
        return ApiError::internal("an asset's entity tag is not a header value").into_response();
    };
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches(v, &asset.etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    (cache, [content_type], asset.body).into_response()
}

/// `GET /assets/{name}`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/assets/{name}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_script_is_served_and_no_page_inlines_one() {
        let pages = [
            include_str!("pages/chat.html"),
            include_str!("pages/agent.html"),
            include_str!("pages/login.html"),
        ];
        for page in pages {
            assert!(!page.contains("<script>"), "an inline script is left");
            for src in page.split("<script src=\"/assets/").skip(1) {
                let name = src.split('"').next().unwrap_or_default();
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{name} is not served"
                );
            }
        }
    }

    #[test]
    fn entity_tags() {
        let tag = etag("x");
        assert_eq!(tag.len(), 26);
        assert_ne!(tag, etag("y"));
        for (header, want) in [
            (tag.clone(), true),
            (format!("W/{tag}"), true),
            (format!("\"other\", {tag}"), true),
            ("*".to_string(), true),
            ("\"other\"".to_string(), false),
            (String::new(), false),
        ] {
            assert_eq!(matches(&header, &tag), want, "{header}");
        }
    }
}

//! Security headers on every response: a Content-Security-Policy that allows only the server's
//! own scripts (no inline script), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! same-origin` (no referrer ever leaves for another site; `no-referrer` would also make the
//! browser send `Origin: null` on the sign-in forms, which the same-origin check then refuses),
//! and framing refused everywhere (`frame-ancestors 'none'`, `X-Frame-Options:
//! DENY`) except the chat page `/`, which the origins in `http.frame_ancestors` and
//! `http.widget_origins` (the widget's sites) may frame. The brand's logo origin may serve images.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy with `frame_ancestors` as its `frame-ancestors` sources and
/// `images` as more `img-src` sources (the brand's logo).
fn csp(frame_ancestors: &str, images: &str) -> String {
    let images = match images {
        "" => String::new(),
        more => format!(" {more}"),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:{images}; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

/// The headers for one kind of page, ready to copy.
type Headers = Vec<(HeaderName, HeaderValue)>;

/// The headers for the chat page and for everything else, computed once.
#[derive(Debug)]
pub(crate) struct SecurityHeaders {
    chat: Headers,
    other: Headers,
}

impl SecurityHeaders {
    /// The headers for a server whose chat page `frame_ancestors` may frame (origins checked
    /// by the settings; one that would not make a header value is left out), whose pages may
    /// show images from `images` (origins) too.
    pub fn new(frame_ancestors: &[String], images: &[String]) -> SecurityHeaders {
        let images = images.join(" ");
        let common = [
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
        ];
        let build = |ancestors: &str, deny: bool| -> Headers {
            let policy = csp(ancestors, &images);
            common
                .iter()
                .map(|(name, value)| (name.clone(), HeaderValue::from_static(value)))
                .chain(
                    HeaderValue::from_str(&policy)
                        .ok()
                        .map(|v| (header::CONTENT_SECURITY_POLICY, v)),
                )
                .chain(deny.then(|| (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))))
                .collect()
        };
        let origins = frame_ancestors.join(" ");
        SecurityHeaders {
            chat: match origins.is_empty() {
                true => build("'none'", true),
                // X-Frame-Options cannot name origins: browsers that know CSP use the list.
                false => build(&origins, false),
            },
            other: build("'none'", true),
        }
    }

    /// The headers for a response to a request for `path`.
    fn for_path(&self, path: &str) -> &Headers {
        match path {
            "/" => &self.chat,
            _ => &self.other,
        }
    }
}

/// The middleware: add with `Router::layer` (so not-found answers get the headers too).
pub(crate) async fn security_headers(
    State(headers): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let chosen = headers.for_path(request.uri().path());
    let mut response = next.run(request).await;
    for (name, value) in chosen {
        response
            .headers_mut()
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(headers: &'a Headers, name: &HeaderName) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn framing_by_page_and_setting() {
        let none = SecurityHeaders::new(&[], &[]);
        let listed = SecurityHeaders::new(
            &[
                "https://www.example.com".to_string(),
                "https://*.example.org".to_string(),
            ],
            &[],
        );
        // (headers, path, frame-ancestors, X-Frame-Options)
        let table = [
            (&none, "/", "frame-ancestors 'none'", Some("DENY")),
            (&none, "/agent", "frame-ancestors 'none'", Some("DENY")),
            (
                &listed,
                "/",
                "frame-ancestors https://www.example.com https://*.example.org",
                None,
            ),
            (&listed, "/agent", "frame-ancestors 'none'", Some("DENY")),
            (&listed, "/review", "frame-ancestors 'none'", Some("DENY")),
            (
                &listed,
                "/v1/messages",
                "frame-ancestors 'none'",
                Some("DENY"),
            ),
            (
                &listed,
                "/index.html",
                "frame-ancestors 'none'",
                Some("DENY"),
            ),
        ];
        for (headers, path, ancestors, xfo) in table {
            let h = headers.for_path(path);
            let policy = get(h, &header::CONTENT_SECURITY_POLICY).unwrap_or_default();
            assert!(policy.ends_with(ancestors), "{path}: {policy}");
            assert_eq!(get(h, &header::X_FRAME_OPTIONS), xfo, "{path}");
            assert_eq!(get(h, &header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
            assert_eq!(get(h, &header::REFERRER_POLICY), Some("same-origin"));
        }
    }

    #[test]
    fn scripts_only_from_the_server() {
        let policy = csp("'none'", "");
        let script = policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_default();
        assert_eq!(script, "script-src 'self'");
        assert!(policy.contains("object-src 'none'") && policy.contains("base-uri 'none'"));
        assert!(policy.contains("img-src 'self' data:;"));
    }

    #[test]
    fn the_brand_logo_may_load() {
        let h = SecurityHeaders::new(&[], &["https://cdn.example.com".to_string()]);
        for path in ["/", "/agent"] {
            let policy =
                get(h.for_path(path), &header::CONTENT_SECURITY_POLICY).unwrap_or_default();
            assert!(
                policy.contains("img-src 'self' data: https://cdn.example.com;"),
                "{policy}"
            );
        }
    }
}

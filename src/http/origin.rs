//! Whether a browser request comes from the server's own pages: its `Origin` (and
//! `Sec-Fetch-Site`) against `http.public_url`, else the request's `Host`.

use axum::http::{header, HeaderMap, HeaderValue, Method};

/// `scheme://host[:port]` of a URL, lowercased, without a default port; `None` unless http(s).
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = match scheme {
        "https" => authority.strip_suffix(":443").unwrap_or(authority),
        "http" => authority.strip_suffix(":80").unwrap_or(authority),
        _ => return None,
    };
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// Whether a browser request comes from the server's own pages: its `Origin`, when sent, is the
/// server's (`http.public_url`, else the request's `Host`), and `Sec-Fetch-Site` does not say
/// cross-site (nor same-site for a request that changes something).
pub(crate) fn same_origin(headers: &HeaderMap, method: &Method, public_url: Option<&str>) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    match text("sec-fetch-site")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("cross-site") => return false,
        Some("same-site") if !matches!(*method, Method::GET | Method::HEAD) => return false,
        _ => {}
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return true;
    };
    let Some(origin) = origin_of(origin) else {
        return false; // "null" and the like
    };
    match public_url.filter(|u| !u.trim().is_empty()) {
        Some(url) => origin_of(url).is_some_and(|own| own == origin),
        None => {
            let authority = origin.split_once("://").map_or("", |(_, a)| a);
            text(header::HOST.as_str()).is_some_and(|host| {
                let host = host.trim().to_ascii_lowercase();
                let bare = host
                    .strip_suffix(":443")
                    .or_else(|| host.strip_suffix(":80"))
                    .unwrap_or(&host);
                authority == host || authority == bare
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::test_headers::{headers, Pairs};

    #[test]
    fn origins() {
        let table = [
            ("https://Example.com/x?y", Some("https://example.com")),
            ("https://example.com:443", Some("https://example.com")),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            ("http://a.b:80/", Some("http://a.b")),
            ("null", None),
            ("ftp://a.b", None),
            ("https://", None),
        ];
        for (url, want) in table {
            assert_eq!(origin_of(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn same_origin_table() {
        let post = Method::POST;
        let get = Method::GET;
        let host = ("host", "127.0.0.1:8080");
        let public = Some("https://support.example.com");
        let table: &[(Pairs<'_>, &Method, Option<&str>, bool)] = &[
            (&[host], &post, None, true),
            (
                &[host, ("origin", "http://127.0.0.1:8080")],
                &post,
                None,
                true,
            ),
            (
                &[host, ("origin", "http://evil.example")],
                &post,
                None,
                false,
            ),
            (&[host, ("origin", "null")], &post, None, false),
            (
                &[host, ("origin", "http://127.0.0.1:8081")],
                &get,
                None,
                false,
            ),
            (&[host, ("sec-fetch-site", "cross-site")], &get, None, false),
            (&[host, ("sec-fetch-site", "same-site")], &post, None, false),
            (&[host, ("sec-fetch-site", "same-site")], &get, None, true),
            (
                &[host, ("sec-fetch-site", "same-origin")],
                &post,
                None,
                true,
            ),
            (
                &[host, ("origin", "https://support.example.com")],
                &post,
                public,
                true,
            ),
            (
                &[host, ("origin", "http://127.0.0.1:8080")],
                &post,
                public,
                false,
            ),
            (&[("origin", "http://x")], &post, None, false),
        ];
        for (pairs, method, public_url, want) in table {
            assert_eq!(
                same_origin(&headers(pairs), method, *public_url),
                *want,
                "{pairs:?} {method} {public_url:?}"
            );
        }
    }
}

//! `GET /widget.js`: the script another site adds (`<script src=".../widget.js" async>`) to
//! show the chat as a bubble. It carries the origins of `http.widget_origins` and the brand; on
//! a page of any other origin it adds nothing, and the chat page refuses to be framed there
//! anyway (its `frame-ancestors` lists only those origins).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::catalog::settings::{brand_colours, BrandSettings};
use crate::engine::AppState;
use crate::http::origin::origin_of;

const SCRIPT: &str = include_str!("../../http/pages/widget.js");

/// The widget's script for `origins` (as `http.widget_origins` lists them) and `brand`.
pub fn script(origins: &[String], brand: &BrandSettings) -> String {
    let origins: Vec<String> = origins
        .iter()
        .map(|o| origin_of(o).unwrap_or_else(|| o.to_ascii_lowercase()))
        .collect();
    let (accent, ink) = brand_colours(&brand.accent)
        .map_or((None, None), |(colour, ink)| (Some(colour), Some(ink)));
    let config = json!({
        "origins": origins,
        "name": brand.name,
        "accent": accent,
        "ink": ink,
    });
    SCRIPT.replacen("/*CONFIG*/null", &config.to_string(), 1)
}

/// `GET /widget.js`: not cached for long (a changed list of origins applies at once), loadable
/// from other sites.
pub(crate) async fn widget(State(state): State<AppState>) -> Response {
    let body = script(&state.settings.http.widget_origins, &state.settings.brand);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_carries_the_allowed_origins_and_the_brand() {
        let brand = BrandSettings {
            name: "Acme \"</script>".into(),
            accent: "#0F766E".into(),
            ..BrandSettings::default()
        };
        let js = script(
            &[
                "https://WWW.Example.com:443".to_string(),
                "https://*.example.org".to_string(),
            ],
            &brand,
        );
        assert!(!js.contains("/*CONFIG*/null"));
        assert!(js.contains(r#""origins":["https://www.example.com","https://*.example.org"]"#));
        assert!(js.contains(r##""accent":"#0f766e""##) && js.contains(r##""ink":"#ffffff""##));
        assert!(js.contains(r#""name":"Acme \"</script>""#));
        let none = script(&[], &BrandSettings::default());
        assert!(none.contains(r#""origins":[]"#) && none.contains(r#""accent":null"#));
    }
}

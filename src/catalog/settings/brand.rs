//! The `[brand]` settings: the product name, accent colour, logo and welcome line the web pages
//! show, each checked (a hex colour, an http(s) URL, plain one-line text) so it can go into a
//! page without escaping surprises.

use serde::Deserialize;

/// Longest product name and welcome line accepted, in characters.
pub const MAX_NAME_CHARS: usize = 60;
pub const MAX_WELCOME_CHARS: usize = 400;

/// How the web chat, the widget, the agent queue, the sign-in pages and the persona review
/// present the product.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandSettings {
    /// The product name, e.g. "Hearth" (pages say "<name> support").
    pub name: String,
    /// The accent colour as a hex colour (`#0f766e`, `#f80`); empty: the built-in palette.
    pub accent: String,
    /// An `https://` (or `http://`) image shown as the chat's logo; empty: the built-in icon.
    pub logo_url: String,
    /// The chat's first line; empty: a generic greeting naming the product.
    pub welcome: String,
}

impl Default for BrandSettings {
    fn default() -> Self {
        BrandSettings {
            name: "Hearth".into(),
            accent: String::new(),
            logo_url: String::new(),
            welcome: String::new(),
        }
    }
}

impl BrandSettings {
    /// The first problem, as (`brand.<key>`, problem).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        [
            ("brand.name", check_name(&self.name)),
            ("brand.accent", check_colour(&self.accent)),
            ("brand.logo_url", check_image_url(&self.logo_url)),
            ("brand.welcome", check_welcome(&self.welcome)),
        ]
        .into_iter()
        .find_map(|(key, result)| result.err().map(|p| (key, p)))
    }

    /// The welcome line the chat opens with.
    pub fn welcome_line(&self) -> String {
        match self.welcome.trim() {
            "" => format!(
                "Hi! I'm the {} support assistant. Ask me anything, and I'll point you to the \
                 right answer or the right person.",
                self.name
            ),
            line => line.to_string(),
        }
    }
}

fn one_line(text: &str, max: usize, what: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be one line, without control characters"
        ));
    }
    if text.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    Ok(())
}

/// A product name: one line, not empty, at most [`MAX_NAME_CHARS`].
pub fn check_name(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the product name must not be empty".into());
    }
    one_line(text, MAX_NAME_CHARS, "the product name")
}

/// A welcome line: one line (empty: the generic one), at most [`MAX_WELCOME_CHARS`].
pub fn check_welcome(text: &str) -> Result<(), String> {
    one_line(text, MAX_WELCOME_CHARS, "the welcome line")
}

/// A CSS hex colour (`#rgb`, `#rrggbb`), or empty for the built-in palette.
pub fn check_colour(text: &str) -> Result<(), String> {
    match text {
        "" => Ok(()),
        _ if rgb(text).is_some() => Ok(()),
        _ => Err(format!("`{text}` is not a hex colour like #0f766e or #f80")),
    }
}

/// The red, green and blue of a hex colour (`#rgb` or `#rrggbb`).
pub fn rgb(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize, n: usize| u8::from_str_radix(hex.get(i..i + n)?, 16).ok();
    match hex.len() {
        3 => Some([digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17]),
        6 => Some([digit(0, 2)?, digit(2, 2)?, digit(4, 2)?]),
        _ => None,
    }
}

/// A checked accent colour and the ink that reads on it (`#ffffff` or `#1f1b16`); `None` for
/// an empty or invalid colour.
pub fn brand_colours(accent: &str) -> Option<(String, &'static str)> {
    let colour = rgb(accent)?;
    let ink = match wants_dark_ink(colour) {
        true => "#1f1b16",
        false => "#ffffff",
    };
    Some((accent.to_ascii_lowercase(), ink))
}

/// Whether dark text reads better than white on `colour` (by WCAG contrast).
pub fn wants_dark_ink(colour: [u8; 3]) -> bool {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(colour[0]) + 0.7152 * channel(colour[1]) + 0.0722 * channel(colour[2]);
    // Contrast with white (1.05 / (l + 0.05)) against contrast with near-black #1f1b16.
    let dark = 0.011_f64;
    1.05 / (l + 0.05) < (l + 0.05) / (dark + 0.05)
}

/// An image address: `https://` or `http://`, a host, no spaces, quotes or angle brackets
/// (empty: the built-in icon).
pub fn check_image_url(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    let bad = || {
        Err(format!(
            "`{text}` is not an http(s) address like https://example.com/logo.png"
        ))
    };
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return bad();
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let unsafe_char = |c: char| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c);
    if host.is_empty() || host.contains('@') || text.chars().any(unsafe_char) {
        return bad();
    }
    if crate::core::net::check_origin(&image_origin(text).unwrap_or_default()).is_err() {
        return bad();
    }
    Ok(())
}

/// `scheme://host[:port]` of a checked image address (for the pages' `img-src`).
pub fn image_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        let table = [
            ("", true),
            ("#0f766e", true),
            ("#F80", true),
            ("#0f766", false),
            ("0f766e", false),
            ("red", false),
            ("#0f766e; color: red", false),
            ("#zzzzzz", false),
            ("#+1+2+3", false),
        ];
        for (text, ok) in table {
            assert_eq!(check_colour(text).is_ok(), ok, "{text}");
        }
        assert_eq!(rgb("#f80"), Some([255, 136, 0]));
        assert_eq!(rgb("#0f766e"), Some([15, 118, 110]));
    }

    #[test]
    fn ink_on_the_accent() {
        // (accent, dark ink wanted)
        let table = [
            ([255, 255, 255], true),
            ([255, 221, 0], true),
            ([183, 65, 14], false),
            ([15, 118, 110], false),
            ([0, 0, 0], false),
        ];
        for (colour, dark) in table {
            assert_eq!(wants_dark_ink(colour), dark, "{colour:?}");
        }
    }

    #[test]
    fn image_addresses() {
        let table = [
            ("", true),
            ("https://cdn.example.com/logo.png", true),
            ("http://127.0.0.1:9000/l.svg?v=2", true),
            ("javascript:alert(1)", false),
            ("data:image/png;base64,AAAA", false),
            ("https://", false),
            ("https://a.example/x\" onerror=\"x", false),
            ("https://a.example/<b>", false),
            ("https://user@a.example/l.png", false),
            ("https://a.example:99999/l.png", false),
            ("//a.example/l.png", false),
        ];
        for (text, ok) in table {
            assert_eq!(check_image_url(text).is_ok(), ok, "{text}");
        }
        assert_eq!(
            image_origin("https://cdn.example.com/logo.png").as_deref(),
            Some("https://cdn.example.com")
        );
    }

    #[test]
    fn names_and_welcome() {
        assert!(check_name("Acme").is_ok());
        assert!(check_name(" ").is_err());
        assert!(check_name("A\nB").is_err());
        assert!(check_name(&"x".repeat(61)).is_err());
        assert!(check_welcome("").is_ok());
        assert!(check_welcome(&"x".repeat(401)).is_err());
        let brand = BrandSettings {
            name: "Acme".into(),
            ..BrandSettings::default()
        };
        assert!(brand.welcome_line().contains("Acme support assistant"));
        let bad = BrandSettings {
            accent: "blue".into(),
            ..BrandSettings::default()
        };
        assert_eq!(bad.problem().map(|p| p.0), Some("brand.accent"));
        assert_eq!(BrandSettings::default().problem(), None);
    }
}

//! The `[brand]` settings put into the pages: each page's template names `{{name}}` (the
//! product name), `{{welcome}}` (the chat's first line), `{{logo}}` (the logo image or the
//! built-in icon) and `{{brand_style}}` (the accent colour, before `</head>`); every value is
//! HTML-escaped, and the colour and logo address were checked when the settings loaded.

use crate::catalog::settings::brand_colours;
use crate::catalog::settings::BrandSettings;
use crate::owner::review::escape_html;

/// The built-in logo: a house.
const ICON: &str = "<svg viewBox=\"0 0 24 24\" fill=\"none\" stroke=\"currentColor\" \
    stroke-width=\"2\" stroke-linecap=\"round\" stroke-linejoin=\"round\"><path d=\"M3 10.5 12 \
    3l9 7.5V20a1 1 0 0 1-1 1h-5v-6h-6v6H4a1 1 0 0 1-1-1z\"/></svg>";

/// The page's style for the brand's accent colour (empty: the page's own palette).
fn accent_style(accent: &str) -> String {
    let Some((colour, ink)) = brand_colours(accent) else {
        return String::new();
    };
    format!(
        "<style>:root{{--accent:{colour};--accent-ink:{ink};\
         --accent-soft:color-mix(in srgb,{colour} 14%,#ffffff)}}\
         @media (prefers-color-scheme: dark){{:root{{--accent:{colour};--accent-ink:{ink};\
         --accent-soft:color-mix(in srgb,{colour} 24%,#1f1b18)}}}}</style>"
    )
}

/// `template` with the brand filled in.
pub(crate) fn render(template: &str, brand: &BrandSettings) -> String {
    let logo = match brand.logo_url.as_str() {
        "" => ICON.to_string(),
        url => format!("<img src=\"{}\" alt=\"\">", escape_html(url)),
    };
    template
        .replace("{{name}}", &escape_html(&brand.name))
        .replace("{{welcome}}", &escape_html(&brand.welcome_line()))
        .replace("{{logo}}", &logo)
        .replace("{{brand_style}}", &accent_style(&brand.accent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_branded_and_escaped() {
        let brand = BrandSettings {
            name: "Acme <Cloud> & Co".into(),
            accent: "#0f766e".into(),
            logo_url: "https://cdn.example.com/logo.png?a=1&b=2".into(),
            welcome: "Hello \"friend\"".into(),
        };
        let page = render(
            "<title>{{name}} support</title>{{brand_style}}<meta content=\"{{welcome}}\">{{logo}}",
            &brand,
        );
        assert!(page.starts_with("<title>Acme &lt;Cloud&gt; &amp; Co support</title>"));
        assert!(page.contains("--accent:#0f766e;--accent-ink:#ffffff"));
        assert!(page.contains("content=\"Hello &quot;friend&quot;\""));
        assert!(page.contains("<img src=\"https://cdn.example.com/logo.png?a=1&amp;b=2\""));
        assert!(!page.contains("{{"));
    }

    #[test]
    fn the_default_brand_keeps_the_built_in_look() {
        let page = render("{{brand_style}}{{logo}}", &BrandSettings::default());
        assert!(page.starts_with("<svg"));
        let light = BrandSettings {
            accent: "#ffdd00".into(),
            ..BrandSettings::default()
        };
        assert!(render("{{brand_style}}", &light).contains("--accent-ink:#1f1b16"));
    }

    #[test]
    fn every_page_names_the_brand() {
        for page in [
            include_str!("pages/chat.html"),
            include_str!("pages/agent.html"),
            include_str!("pages/login.html"),
        ] {
            assert!(page.contains("<title>") && page.contains("{{name}}"));
            assert!(
                page.contains("{{brand_style}}</head>")
                    || page.contains("{{brand_style}}\n</head>")
            );
            assert!(!page.contains("Hearth"), "a page still names Hearth");
        }
    }
}

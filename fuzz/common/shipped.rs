//! The built-in settings and catalog, compiled once per fuzz process (shared by the targets
//! that classify).

use std::sync::OnceLock;

use personabot::catalog::{self, Catalog, CatalogSources};
use personabot::core::classify::Classifier;
use personabot::catalog::settings::Settings;

pub struct Shipped {
    pub settings: Settings,
    pub catalog: Catalog,
    pub classifier: Classifier,
}

pub fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let settings = Settings::built_in();
        let catalog = catalog::load_from_sources(CatalogSources::built_in(), &settings.teams)
            .expect("the built-in catalog loads");
        let classifier = Classifier::new(&catalog).expect("the built-in catalog compiles");
        Shipped {
            settings,
            catalog,
            classifier,
        }
    })
}

//! The learned profiles as catalog files: each intent's TOML text, the catalog they make, and
//! writing them to a folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{LearnError, LearnedIntent, LearnedProfiles};
use crate::catalog::{self, Catalog, CatalogSources, Team};

/// The TOML text of one learned intent; `note` (comment lines, each ending in a newline) goes
/// after the header.
pub fn intent_toml(intent: &LearnedIntent, threshold: f64, source: &str, note: &str) -> String {
    use toml_edit::{value, DocumentMut, Item, Table};
    let mut doc = DocumentMut::new();
    doc["name"] = value(intent.label.replace('_', " "));
    doc["label"] = value(intent.label.as_str());
    doc["description"] = value(format!(
        "Learned by `personabot learn` from {} rows of {source}",
        intent.rows
    ));
    doc["threshold"] = value((threshold * 1000.0).round() / 1000.0);
    let mut keywords = Table::new();
    for (term, weight) in &intent.keywords {
        // Rounded in f64, so the file shows 1.027 rather than f32's 1.0269999504089355.
        keywords.insert(term, value((f64::from(*weight) * 1000.0).round() / 1000.0));
    }
    doc["keywords"] = Item::Table(keywords);
    let mut route = Table::new();
    route.insert("kind", value("ticket"));
    route.insert("team", value(crate::core::route::FALLBACK_TEAM));
    doc["route"] = Item::Table(route);
    format!(
        "# Learned profile: keywords sorted by weight. Edit freely; `personabot check` validates.\n\
         # The route sends these messages to the support team until you give it an answer.\n{note}{doc}"
    )
}

/// Comment lines saying how `threshold` was chosen (with a none label: the out-of-scope point,
/// the same in every file) and what it did on the held-out rows.
pub(super) fn threshold_note(profiles: &LearnedProfiles) -> String {
    let c = &profiles.calibration;
    let Some(none) = &profiles.none_label else {
        if c.max_in_scope_loss == 0.0 {
            return String::new();
        }
        return format!(
            "# threshold: the highest turning away at most {:.3} of {} held-out rows (accuracy {:.3}, \
             {:.3} with no threshold), the same in every learned file.\n",
            c.max_in_scope_loss, c.in_scope_rows, c.in_scope_accuracy, c.in_scope_unrejected
        );
    };
    format!(
        "# threshold: the out-of-scope point, the same in every learned file: the highest turning\n\
         # away at most {:.3} of the {} held-out in-scope rows (in-scope accuracy {:.3}, {:.3} with\n\
         # no threshold); {:.3} of the {} held-out rows labelled {none:?} fall back.\n\
         # `personabot eval --none-label` prints the other points.\n",
        c.max_in_scope_loss,
        c.in_scope_rows,
        c.in_scope_accuracy,
        c.in_scope_unrejected,
        c.none_recall,
        c.none_rows,
    )
}

/// Builds the catalog the profiles make, through the real loader.
pub(super) fn compile(
    intents: &[LearnedIntent],
    threshold: f64,
    teams: &BTreeMap<String, Team>,
) -> Result<Catalog, LearnError> {
    let sources = CatalogSources {
        personas: Vec::new(),
        intents: intents
            .iter()
            .map(|i| {
                (
                    PathBuf::from(format!("<learned>/intents/{}.toml", i.id)),
                    intent_toml(i, threshold, "the training data", ""),
                )
            })
            .collect(),
        intents_dir: PathBuf::from("<learned>/intents"),
        replies: Vec::new(),
    };
    catalog::load_from_sources(sources, teams).map_err(|d| LearnError::Catalog(d.to_string()))
}

/// Writes `DIR/intents/<id>.toml` for every learned intent and an empty `DIR/personas/`.
/// Refuses a folder whose `intents/` already holds TOML files unless `replace` is set (then
/// those files are removed first).
pub fn write_profiles(
    dir: &Path,
    profiles: &LearnedProfiles,
    source: &str,
    replace: bool,
) -> Result<Vec<PathBuf>, LearnError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LearnError::Io { path, source }
    };
    let intents_dir = dir.join("intents");
    let personas_dir = dir.join("personas");
    std::fs::create_dir_all(&intents_dir).map_err(io(&intents_dir))?;
    std::fs::create_dir_all(&personas_dir).map_err(io(&personas_dir))?;
    let existing: Vec<PathBuf> = std::fs::read_dir(&intents_dir)
        .map_err(io(&intents_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    if !existing.is_empty() {
        if !replace {
            return Err(LearnError::Data(format!(
                "{} already holds {} intent files; choose an empty folder, or pass --replace to replace them",
                intents_dir.display(),
                existing.len()
            )));
        }
        for path in &existing {
            std::fs::remove_file(path).map_err(io(path))?;
        }
    }
    let note = threshold_note(profiles);
    let mut written = Vec::new();
    for intent in &profiles.intents {
        let path = intents_dir.join(format!("{}.toml", intent.id));
        std::fs::write(
            &path,
            intent_toml(intent, profiles.threshold, source, &note),
        )
        .map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

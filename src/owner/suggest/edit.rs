//! The TOML edits: suggestions applied to the catalog's file texts with `toml_edit` (everything
//! outside the changed keys kept as written), the unified diff of those edits, and writing them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{DocumentMut, Item, Table, TableLike};

use super::{Action, ProfileKind, Retirement, SuggestError, Suggestion};
use crate::catalog::CatalogSources;

/// One catalog file and its edited text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdit {
    /// Relative to the catalog folder, with `/`: `intents/pricing.toml`.
    pub path: String,
    /// Where it was read from.
    pub source: PathBuf,
    pub before: String,
    pub after: String,
    /// Keys added (as written) and removed.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Answer variants whose text was removed (`pricing/default#2`).
    pub retired: Vec<String>,
}

fn file_for<'a>(
    sources: &'a CatalogSources,
    kind: ProfileKind,
    id: &str,
) -> Option<&'a (PathBuf, String)> {
    let files = match kind {
        ProfileKind::Persona => &sources.personas,
        ProfileKind::Intent => &sources.intents,
    };
    files
        .iter()
        .find(|(path, _)| path.file_stem().is_some_and(|s| s == id))
}

/// Formats a proposed weight as TOML writes it (`1.5`, `2.0`).
fn weight_value(weight: f64) -> Item {
    toml_edit::value((weight * 10.0).round() / 10.0)
}

/// Removes `key` from `table`; a comment written on the lines above it moves to the key that
/// follows, so no comment is lost with the key.
fn remove_keeping_comments(table: &mut dyn TableLike, key: &str) -> bool {
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
    let Some(at) = keys.iter().position(|k| k == key) else {
        return false;
    };
    let leading = table
        .key(key)
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('#'))
        .map(str::to_string);
    table.remove(key);
    if let (Some(comment), Some(next)) = (leading, keys.get(at + 1)) {
        if let Some(mut next_key) = table.key_mut(next) {
            let own = next_key
                .leaf_decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            next_key
                .leaf_decor_mut()
                .set_prefix(format!("{comment}{own}"));
        }
    }
    true
}

/// Removes the retired variants' texts from their `[answers]` arrays (the highest number of a
/// key first, so the others keep their place); returns the variants removed. A variant whose
/// key is not an array holding it is left alone.
fn retire_variants(doc: &mut DocumentMut, retire: &[&Retirement]) -> Vec<String> {
    let mut ordered: Vec<&Retirement> = retire.to_vec();
    ordered.sort_by(|a, b| a.key.cmp(&b.key).then(b.number.cmp(&a.number)));
    let mut retired = Vec::new();
    for r in ordered {
        let texts = doc
            .get_mut("answers")
            .and_then(Item::as_table_like_mut)
            .and_then(|answers| answers.get_mut(&r.key))
            .and_then(Item::as_array_mut);
        if let Some(texts) = texts {
            // Never the last text: an answer keeps at least one.
            if r.number >= 1 && r.number <= texts.len() && texts.len() > 1 {
                texts.remove(r.number - 1);
                retired.push(r.variant.clone());
            }
        }
    }
    retired.reverse();
    retired
}

/// Applies the suggestions to the catalog's file texts: removals delete the key, additions
/// append `term = weight` to the profile's `[keywords]` table (quoted only when TOML needs
/// it), retirements remove an answer variant's text from its `[answers]` array. Everything
/// else in the file is kept as written. Files with no change are left out.
pub fn edit_files(
    sources: &CatalogSources,
    suggestions: &[Suggestion],
    retire: &[Retirement],
) -> Result<Vec<FileEdit>, SuggestError> {
    type Changes<'a> = (Vec<&'a Suggestion>, Vec<&'a Retirement>);
    let mut by_profile: BTreeMap<(ProfileKind, &str), Changes<'_>> = BTreeMap::new();
    for s in suggestions {
        by_profile
            .entry((s.kind, &s.profile))
            .or_default()
            .0
            .push(s);
    }
    for r in retire {
        by_profile
            .entry((ProfileKind::Intent, &r.intent))
            .or_default()
            .1
            .push(r);
    }
    let mut edits = Vec::new();
    for ((kind, id), (changes, retiring)) in by_profile {
        let (path, before) = file_for(sources, kind, id).ok_or_else(|| SuggestError::NoFile {
            kind,
            id: id.to_string(),
        })?;
        let toml_error = |message: String| SuggestError::Toml {
            path: path.clone(),
            message,
        };
        let mut doc: DocumentMut = before.parse().map_err(|e| toml_error(format!("{e}")))?;
        let retired = retire_variants(&mut doc, &retiring);
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        if !changes.is_empty() {
            let keywords = doc
                .entry("keywords")
                .or_insert_with(|| Item::Table(Table::new()))
                .as_table_like_mut()
                .ok_or_else(|| toml_error("`keywords` is not a table".into()))?;
            for s in changes.iter().filter(|s| s.action == Action::Remove) {
                if remove_keeping_comments(keywords, &s.term) {
                    removed.push(s.term.clone());
                }
            }
            for s in changes.iter().filter(|s| s.action == Action::Add) {
                if keywords.get(&s.term).is_none() {
                    keywords.insert(&s.term, weight_value(s.weight));
                    added.push(s.term.clone());
                }
            }
        }
        let after = doc.to_string();
        if after != *before {
            let name = path.file_name().map_or_else(
                || format!("{id}.toml"),
                |n| n.to_string_lossy().into_owned(),
            );
            edits.push(FileEdit {
                path: format!("{}/{name}", kind.folder()),
                source: path.clone(),
                before: before.clone(),
                after,
                added,
                removed,
                retired,
            });
        }
    }
    Ok(edits)
}

/// The edits as one unified diff (`a/intents/x.toml` / `b/intents/x.toml`), which
/// `patch -p1` or `git apply` applies in the catalog folder. Empty when nothing changes.
pub fn render_diff(edits: &[FileEdit]) -> String {
    let mut out = String::new();
    for e in edits {
        let diff = similar::TextDiff::from_lines(&e.before, &e.after);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&format!("a/{}", e.path), &format!("b/{}", e.path))
        );
    }
    out
}

/// Writes each edit over its file (through a temporary file and a rename), after checking the
/// file still holds the text the edit was made from.
pub fn write_edits(edits: &[FileEdit]) -> Result<(), SuggestError> {
    let write_error = |path: &Path, source| SuggestError::Write {
        path: path.to_path_buf(),
        source,
    };
    for e in edits {
        let current =
            std::fs::read_to_string(&e.source).map_err(|err| write_error(&e.source, err))?;
        if current != e.before {
            return Err(SuggestError::ChangedOnDisk(e.source.clone()));
        }
    }
    for e in edits {
        let mut temp = e.source.clone().into_os_string();
        temp.push(".suggest-tmp");
        let temp = PathBuf::from(temp);
        std::fs::write(&temp, &e.after).map_err(|err| write_error(&temp, err))?;
        // The edited file keeps its mode (the binary's umask would make the new one 0600).
        if let Ok(meta) = std::fs::metadata(&e.source) {
            std::fs::set_permissions(&temp, meta.permissions())
                .map_err(|err| write_error(&temp, err))?;
        }
        std::fs::rename(&temp, &e.source).map_err(|err| write_error(&e.source, err))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::suggest::Support;

    #[test]
    fn edits_keep_comments_and_quote_only_when_needed() {
        let before = "name = \"Pricing\" # the name\n\n[keywords]\n# money words\nprice = 1.2 # main\n# soft\nplan = 0.5\ncost = 1.0\n\n# answers below\n[answers]\ndefault = \"x\"\n";
        let sources = CatalogSources {
            personas: Vec::new(),
            intents: vec![(PathBuf::from("cat/intents/pricing.toml"), before.into())],
            intents_dir: PathBuf::from("cat/intents"),
            replies: Vec::new(),
        };
        let change = |action, term: &str, weight| Suggestion {
            kind: ProfileKind::Intent,
            profile: "pricing".into(),
            action,
            term: term.into(),
            weight,
            support: Support::default(),
            examples: Vec::new(),
        };
        let edits = edit_files(
            &sources,
            &[
                change(Action::Remove, "plan", 0.5),
                change(Action::Add, "paypal", 1.5),
                change(Action::Add, "wire fee", 2.0),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].path, "intents/pricing.toml");
        assert_eq!(
            edits[0].after,
            "name = \"Pricing\" # the name\n\n[keywords]\n# money words\nprice = 1.2 # main\n# soft\ncost = 1.0\npaypal = 1.5\n\"wire fee\" = 2.0\n\n# answers below\n[answers]\ndefault = \"x\"\n"
        );
        let diff = render_diff(&edits);
        assert!(
            diff.starts_with("--- a/intents/pricing.toml\n+++ b/intents/pricing.toml\n"),
            "{diff}"
        );
        assert!(
            diff.contains("\n-plan = 0.5\n") && diff.contains("\n+\"wire fee\" = 2.0\n"),
            "{diff}"
        );
        // Nothing to change: no edit, no diff.
        assert!(edit_files(&sources, &[], &[]).unwrap().is_empty());
    }

    #[test]
    fn retiring_a_variant_removes_its_text_and_keeps_the_rest() {
        let before = "name = \"Pricing\"\n\n[keywords]\nprice = 1.2\n\n[answers]\n# A/B for founders\nstartup-founder = [\n  \"\"\"\nFirst founder text.\n\"\"\",\n  # the second\n  \"\"\"\nSecond founder text.\n\"\"\",\n  \"Third.\",\n]\ndefault = [\"Only one.\"]\ninvestor = \"Plain.\"\n";
        let sources = CatalogSources {
            personas: Vec::new(),
            intents: vec![(PathBuf::from("cat/intents/pricing.toml"), before.into())],
            intents_dir: PathBuf::from("cat/intents"),
            replies: Vec::new(),
        };
        let retire = |key: &str, number: usize| Retirement {
            variant: format!("pricing/{key}#{number}"),
            intent: "pricing".into(),
            key: key.into(),
            number,
            shown: 100,
            helped: 40,
            beaten_by: format!("pricing/{key}#1"),
            beaten_by_shown: 100,
            beaten_by_helped: 60,
            z: 2.83,
            p_value: 0.005,
        };
        let edits = edit_files(
            &sources,
            &[],
            &[
                retire("startup-founder", 2),
                retire("startup-founder", 3),
                // Not an array, or its last text, or out of range: left alone.
                retire("investor", 2),
                retire("default", 1),
                retire("startup-founder", 7),
            ],
        )
        .unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(
            edits[0].retired,
            ["pricing/startup-founder#2", "pricing/startup-founder#3"]
        );
        let after = &edits[0].after;
        assert_eq!(
            after,
            "name = \"Pricing\"\n\n[keywords]\nprice = 1.2\n\n[answers]\n# A/B for founders\nstartup-founder = [\n  \"\"\"\nFirst founder text.\n\"\"\",\n]\ndefault = [\"Only one.\"]\ninvestor = \"Plain.\"\n"
        );
        let doc: DocumentMut = after.parse().expect("still TOML");
        assert_eq!(
            doc["answers"]["startup-founder"].as_array().unwrap().len(),
            1
        );
        // Nothing to retire: no edit.
        assert!(edit_files(&sources, &[], &[retire("default", 1)])
            .unwrap()
            .is_empty());
    }
}

//! The bot's own texts stored once: a bot line (in a conversation's recent lines, a ticket's
//! transcript, an interaction's reply) keeps each catalog answer and fixed sentence it quotes as
//! an 8-byte reference to the `texts` tree instead of a copy.
//!
//! A reference is the first 8 bytes of the text's SHA-256, so it names the text itself, not a
//! catalog entry: an answer edited or removed later still reads back as the customer saw it.
//! Only texts the store holds are referenced (they are written to `texts` before any record uses
//! them), and only bot lines are: what customers and agents write is stored as written, so the
//! privacy checks that search sled's files still see it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

/// Texts shorter than this stay inline: a reference costs 9 bytes.
const MIN_TEXT: usize = 24;

/// A text's reference: the first 8 bytes of its SHA-256.
pub(in crate::store::sled_store) type TextRef = [u8; 8];

/// The reference of `text`.
pub(in crate::store::sled_store) fn text_ref(text: &str) -> TextRef {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Every text read from any open store, by reference. References name their text, so the
/// stores of one process share it; a record is only decoded after its store was opened, and
/// opening loads the store's `texts`.
static KNOWN: LazyLock<RwLock<HashMap<TextRef, Arc<str>>>> = LazyLock::new(Default::default);

fn known(r: &TextRef) -> Option<Arc<str>> {
    KNOWN
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(r)
        .cloned()
}

/// The texts one store may reference, and a matcher that finds them in a bot line.
#[derive(Default)]
pub(in crate::store::sled_store) struct Texts {
    matcher: RwLock<Arc<Matcher>>,
    /// Serialises [`Texts::add`], so two reloads at once lose neither's texts.
    adding: std::sync::Mutex<()>,
}

#[derive(Default)]
struct Matcher {
    /// Longest match first, so an answer wins over a sentence inside it.
    find: Option<AhoCorasick>,
    refs: Vec<TextRef>,
    texts: Vec<Arc<str>>,
}

impl Texts {
    /// The texts of the store's `texts` tree.
    pub(in crate::store::sled_store) fn load(tree: &sled::Tree) -> Result<Texts, StoreError> {
        let mut all = Vec::new();
        for entry in tree.iter() {
            let (key, value) = entry?;
            let text = std::str::from_utf8(&value)
                .map_err(|_| StoreError::Corrupt("a stored bot text is not UTF-8".into()))?;
            let r: TextRef = key.as_ref().try_into().map_err(|_| {
                StoreError::Corrupt("a stored bot text has a malformed reference".into())
            })?;
            all.push((r, Arc::<str>::from(text)));
        }
        let texts = Texts::default();
        texts.install(all);
        Ok(texts)
    }

    /// Adds `texts` to the store: written to `tree` (and flushed) before any record may
    /// reference them. Short texts, and one whose reference is taken by another text, are left
    /// inline.
    pub(in crate::store::sled_store) fn add<'a>(
        &self,
        tree: &sled::Tree,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let _adding = self.adding.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.matcher();
        let mut new = Vec::new();
        for text in texts {
            if text.len() < MIN_TEXT {
                continue;
            }
            let r = text_ref(text);
            if current.refs.contains(&r) || new.iter().any(|(n, _)| *n == r) {
                continue;
            }
            if known(&r).is_some_and(|k| &*k != text) {
                continue; // a 64-bit collision: keep this one inline
            }
            new.push((r, Arc::<str>::from(text)));
        }
        if new.is_empty() {
            return Ok(());
        }
        for (r, text) in &new {
            tree.insert(r, text.as_bytes())?;
        }
        tree.flush()?;
        let mut all: Vec<_> = current
            .refs
            .iter()
            .copied()
            .zip(current.texts.iter().cloned())
            .collect();
        all.extend(new);
        self.install(all);
        Ok(())
    }

    fn install(&self, all: Vec<(TextRef, Arc<str>)>) {
        {
            let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
            for (r, text) in &all {
                known.entry(*r).or_insert_with(|| text.clone());
            }
        }
        let (refs, texts): (Vec<_>, Vec<_>) = all.into_iter().unzip();
        let find = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(texts.iter().map(|t| t.as_bytes()))
            .ok();
        *self.matcher.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Matcher { find, refs, texts });
    }

    fn matcher(&self) -> Arc<Matcher> {
        self.matcher
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `text` as stored: its known texts as references, the rest inline.
    pub(in crate::store::sled_store) fn encode<'a>(&self, text: &'a str) -> StoredText<'a> {
        let matcher = self.matcher();
        let Some(find) = &matcher.find else {
            return StoredText::Plain(text);
        };
        let mut pieces = Vec::new();
        let mut at = 0;
        for m in find.find_iter(text) {
            if m.start() > at {
                pieces.push(Piece::Text(&text[at..m.start()]));
            }
            pieces.push(Piece::Ref(matcher.refs[m.pattern().as_usize()]));
            at = m.end();
        }
        if pieces.is_empty() {
            return StoredText::Plain(text);
        }
        if at < text.len() {
            pieces.push(Piece::Text(&text[at..]));
        }
        StoredText::Pieces(pieces)
    }
}

/// A bot text as written: inline, or in pieces.
#[derive(Debug, Serialize)]
pub(in crate::store::sled_store) enum StoredText<'a> {
    Plain(&'a str),
    Pieces(Vec<Piece<'a>>),
}

#[derive(Debug, Serialize)]
pub(in crate::store::sled_store) enum Piece<'a> {
    Text(&'a str),
    Ref(TextRef),
}

/// [`StoredText`] as read.
#[derive(Debug, Deserialize)]
pub(in crate::store::sled_store) enum StoredTextIn {
    Plain(String),
    Pieces(Vec<PieceIn>),
}

#[derive(Debug, Deserialize)]
pub(in crate::store::sled_store) enum PieceIn {
    Text(String),
    Ref(TextRef),
}

impl StoredTextIn {
    /// The whole text; a reference to a text no open store holds is an error.
    pub(in crate::store::sled_store) fn resolve(self) -> Result<String, StoreError> {
        match self {
            StoredTextIn::Plain(text) => Ok(text),
            StoredTextIn::Pieces(pieces) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        PieceIn::Text(t) => out.push_str(&t),
                        PieceIn::Ref(r) => out.push_str(&known(&r).ok_or_else(|| {
                            StoreError::Corrupt("a bot line quotes a text the store lacks".into())
                        })?),
                    }
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(texts: &Texts, line: &str) -> (String, usize) {
        let stored = texts.encode(line);
        let bytes = postcard::to_allocvec(&stored).unwrap();
        let back: StoredTextIn = postcard::from_bytes(&bytes).unwrap();
        (back.resolve().unwrap(), bytes.len())
    }

    #[test]
    fn known_texts_are_stored_by_reference_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("texts").unwrap();
        let texts = Texts::load(&tree).unwrap();
        let answer = "You can manage most billing yourself in Settings > Billing.";
        let tail = "; a person will pick it up from here.";
        texts.add(&tree, [answer, tail, "too short"]).unwrap();
        let cases = [
            // (line, stored smaller than the line)
            (
                format!("{answer}\n\nI've passed this to our Billing team{tail}"),
                true,
            ),
            (answer.to_string(), true),
            ("Nothing known here, just words.".to_string(), false),
            (String::new(), false),
            (format!("{tail}{tail}"), true),
        ];
        for (line, smaller) in cases {
            let (back, len) = round_trip(&texts, &line);
            assert_eq!(back, line);
            assert_eq!(len < line.len(), smaller, "{line:?}: {len}");
        }
        // Reopened: the texts come back from the tree, for a fresh matcher and for reading.
        drop(texts);
        let again = Texts::load(&tree).unwrap();
        let (back, len) = round_trip(&again, answer);
        assert_eq!((back.as_str(), len < 12), (answer, true));
    }

    #[test]
    fn an_unknown_reference_is_an_error_not_a_panic() {
        let stored = StoredTextIn::Pieces(vec![PieceIn::Ref([0xAB; 8])]);
        assert!(stored.resolve().is_err());
    }
}

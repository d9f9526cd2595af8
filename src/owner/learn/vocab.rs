//! The features: the vocabulary of words, chosen two-word phrases and word stems, with their
//! IDF, and a message's TF-IDF features.

use std::collections::{BTreeMap, HashMap};

use super::MIN_ROWS;

/// Terms (unigrams and bigrams) and their ids, and the stems of the words.
///
/// A stem is a word's first `stem_chars` characters: a feature of its own that every word
/// starting so shares ("refund", "refunded", "refunds"), so rarer forms borrow what the common
/// ones teach. Stems are not written: each word's keyword weight carries its stem's weight, so the
/// matcher (which sees words) scores exactly what the model scored for every word seen in
/// training. Feature ids: the terms' ids, then the stems'.
pub(super) struct Vocabulary {
    pub(super) ids: HashMap<String, u32>,
    pub(super) terms: Vec<String>,
    /// Per term: its words' term ids when it is a bigram.
    pub(super) parts: Vec<Option<(u32, u32)>>,
    /// Per term: its stem's feature id when it is a word and stems are learned.
    pub(super) stem_of: Vec<Option<u32>>,
    /// Per feature (terms, then stems).
    pub(super) idf: Vec<f32>,
}

fn ngrams(words: &[String]) -> impl Iterator<Item = String> + '_ {
    let bigrams = words.windows(2).map(|w| format!("{} {}", w[0], w[1]));
    words.iter().cloned().chain(bigrams)
}

/// The stem of `word`: its first `chars` characters (all of it when shorter).
fn stem(word: &str, chars: usize) -> &str {
    word.char_indices()
        .nth(chars)
        .map_or(word, |(end, _)| &word[..end])
}

/// Two-word phrases worth learning, chosen so the matcher's longest match (which hides the
/// words a phrase covers) still counts every term the model counts: no chosen phrase may start
/// with a word another chosen phrase ends with, so phrases never chain and each hidden word is
/// only a phrase's own (whose weight the phrase carries). Phrases are taken greedily by how much
/// purer their labels are than their words', weighted by how often they occur.
fn choose_phrases(docs: &[Vec<String>], gold: &[usize]) -> std::collections::HashSet<String> {
    let mut labels_of: HashMap<String, HashMap<usize, u32>> = HashMap::new();
    for (words, &k) in docs.iter().zip(gold) {
        let mut seen: Vec<String> = ngrams(words).collect();
        seen.sort();
        seen.dedup();
        for term in seen {
            *labels_of.entry(term).or_default().entry(k).or_insert(0) += 1;
        }
    }
    let stats = |term: &str| -> Option<(u32, f32)> {
        let counts = labels_of.get(term)?;
        let df: u32 = counts.values().sum();
        let top = counts.values().copied().max().unwrap_or(0);
        Some((df, top as f32 / df.max(1) as f32))
    };
    let mut candidates: Vec<(f32, String)> = labels_of
        .keys()
        .filter_map(|term| {
            let (a, b) = term.split_once(' ')?;
            let (df, purity) = stats(term)?;
            let words = stats(a)?.1.max(stats(b)?.1);
            (df >= MIN_ROWS && a != b && purity > words)
                .then(|| (df as f32 * (purity - words), term.clone()))
        })
        .collect();
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let (mut firsts, mut seconds) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    let mut chosen = std::collections::HashSet::new();
    for (_, term) in candidates {
        let (a, b) = term.split_once(' ').expect("a phrase");
        if seconds.contains(a) || firsts.contains(b) {
            continue;
        }
        firsts.insert(a.to_string());
        seconds.insert(b.to_string());
        chosen.insert(term);
    }
    chosen
}

impl Vocabulary {
    pub(super) fn build(
        docs: &[Vec<String>],
        gold: &[usize],
        phrases: bool,
        stem_chars: usize,
    ) -> Vocabulary {
        let chosen = if phrases {
            choose_phrases(docs, gold)
        } else {
            Default::default()
        };
        let mut rows: HashMap<String, u32> = HashMap::new();
        for words in docs {
            let mut seen: Vec<String> = ngrams(words).collect();
            seen.sort();
            seen.dedup();
            for term in seen {
                *rows.entry(term).or_insert(0) += 1;
            }
        }
        let mut kept: Vec<(String, u32)> = rows
            .into_iter()
            .filter(|(term, _)| !term.contains(' ') || chosen.contains(term))
            .collect();
        // Words before phrases, so a phrase's words have ids when it is added.
        kept.sort_by(|a, b| {
            a.0.contains(' ')
                .cmp(&b.0.contains(' '))
                .then(a.0.cmp(&b.0))
        });
        let n = docs.len() as f32;
        // scikit-learn's smooth IDF.
        let idf = |df: u32| ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0;
        let mut vocab = Vocabulary {
            ids: HashMap::new(),
            terms: Vec::new(),
            parts: Vec::new(),
            stem_of: Vec::new(),
            idf: Vec::new(),
        };
        for (term, df) in kept {
            let parts = term
                .split_once(' ')
                .and_then(|(a, b)| Some((*vocab.ids.get(a)?, *vocab.ids.get(b)?)));
            if term.contains(' ') && parts.is_none() {
                continue;
            }
            vocab.ids.insert(term.clone(), vocab.terms.len() as u32);
            vocab.terms.push(term);
            vocab.parts.push(parts);
            vocab.idf.push(idf(df));
        }
        if stem_chars > 0 {
            let mut stem_rows: HashMap<&str, u32> = HashMap::new();
            for words in docs {
                let mut seen: Vec<&str> = words.iter().map(|w| stem(w, stem_chars)).collect();
                seen.sort_unstable();
                seen.dedup();
                for s in seen {
                    *stem_rows.entry(s).or_insert(0) += 1;
                }
            }
            let mut stems: Vec<(&str, u32)> = stem_rows.into_iter().collect();
            stems.sort_unstable();
            let first = vocab.terms.len() as u32;
            let stem_ids: HashMap<&str, u32> = stems
                .iter()
                .enumerate()
                .map(|(i, (s, _))| (*s, first + i as u32))
                .collect();
            vocab.idf.extend(stems.iter().map(|(_, df)| idf(*df)));
            vocab.stem_of = vocab
                .terms
                .iter()
                .zip(&vocab.parts)
                .map(|(term, parts)| match parts {
                    None => stem_ids.get(stem(term, stem_chars)).copied(),
                    Some(_) => None,
                })
                .collect();
        } else {
            vocab.stem_of = vec![None; vocab.terms.len()];
        }
        vocab
    }

    /// Number of features (terms and stems).
    pub(super) fn features_len(&self) -> usize {
        self.idf.len()
    }

    /// A message as L2-normalised TF-IDF features (overlapping unigrams and bigrams).
    pub(super) fn features(&self, words: &[String]) -> Vec<(u32, f32)> {
        let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
        for term in ngrams(words) {
            if let Some(&id) = self.ids.get(&term) {
                *counts.entry(id).or_insert(0.0) += 1.0;
                if let Some(stem) = self.stem_of[id as usize] {
                    *counts.entry(stem).or_insert(0.0) += 1.0;
                }
            }
        }
        let mut out: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(id, tf)| (id, tf * self.idf[id as usize]))
            .collect();
        let norm = out.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut out {
                *v /= norm;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_leading_characters() {
        assert_eq!(stem("refunded", 5), "refun");
        assert_eq!(stem("card", 5), "card");
        assert_eq!(stem("überweisung", 3), "übe");
    }
}

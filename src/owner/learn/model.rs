//! The model: logistic regression trained by AdaGrad on the TF-IDF features, and its weights
//! turned into keyword weights the matcher reproduces, scaled to the catalog's range.

use std::collections::HashMap;

use super::vocab::Vocabulary;
use super::{Shuffler, EPOCHS, LEARNING_RATE, PRUNE_SHARE, TARGET_SCORE};

/// The L2 strength to apply at each occurrence of each feature, so that every feature is
/// penalised `l2` per training row and epoch, as in the full-batch objective (mean loss +
/// `l2` / 2 * |weights|^2, i.e. scikit-learn's C = 1 / (rows * l2)).
///
/// Stochastic updates touch only the features of the row at hand; applying the plain `l2` there
/// would penalise a feature in proportion to how often it occurs, shrinking common words (and
/// stems, which are common by design) hard while leaving one-off words nearly free to overfit.
fn l2_per_occurrence(examples: &[(Vec<(u32, f32)>, usize)], features: usize, l2: f32) -> Vec<f32> {
    let mut rows_with = vec![0u32; features];
    for (row, _) in examples {
        for &(f, _) in row {
            rows_with[f as usize] += 1;
        }
    }
    let rows = examples.len() as f32;
    rows_with
        .into_iter()
        .map(|n| l2 * rows / n.max(1) as f32)
        .collect()
}

/// Multinomial logistic regression without intercepts: `weights[term * classes + class]`.
pub(super) fn train(
    examples: &[(Vec<(u32, f32)>, usize)],
    terms: usize,
    classes: usize,
    l2: f32,
    seed: u64,
) -> Vec<f32> {
    let mut weights = vec![0f32; terms * classes];
    let mut squared = vec![1e-8f32; terms * classes];
    let penalty = l2_per_occurrence(examples, terms, l2);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Shuffler(seed);
    let mut logits = vec![0f32; classes];
    for _ in 0..EPOCHS {
        rng.shuffle(&mut order);
        for &i in &order {
            let (features, gold) = &examples[i];
            logits.iter_mut().for_each(|l| *l = 0.0);
            for &(t, v) in features {
                let row = &weights[t as usize * classes..(t as usize + 1) * classes];
                for (l, w) in logits.iter_mut().zip(row) {
                    *l += w * v;
                }
            }
            let max = logits.iter().copied().fold(f32::MIN, f32::max);
            let mut sum = 0.0;
            for l in logits.iter_mut() {
                *l = (*l - max).exp();
                sum += *l;
            }
            for (k, l) in logits.iter_mut().enumerate() {
                *l = *l / sum - if k == *gold { 1.0 } else { 0.0 };
            }
            for &(t, v) in features {
                let row = t as usize * classes..(t as usize + 1) * classes;
                let rows = weights[row.clone()].iter_mut().zip(&mut squared[row]);
                let l2 = penalty[t as usize];
                for ((w, sq), error) in rows.zip(&logits) {
                    let g = error * v + l2 * *w;
                    *sq += g * g;
                    *w -= LEARNING_RATE * g / sq.sqrt();
                }
            }
        }
    }
    weights
}

/// Turns the model into keyword weights for the matcher (see the module docs): per class, the
/// kept (term, weight) pairs.
pub(super) fn keyword_weights(
    vocab: &Vocabulary,
    weights: &[f32],
    classes: usize,
    max_terms: usize,
) -> Vec<Vec<(String, f32)>> {
    let terms = vocab.terms.len();
    let feature = |f: usize, k: usize| weights[f * classes + k] * vocab.idf[f];
    // A term's own weight and its stem's.
    let term = |t: usize, k: usize| {
        feature(t, k) + vocab.stem_of[t].map_or(0.0, |s| feature(s as usize, k))
    };
    let mut folded = vec![0f32; terms * classes];
    for t in 0..terms {
        for k in 0..classes {
            let words = match vocab.parts[t] {
                Some((a, b)) => term(a as usize, k) + term(b as usize, k),
                None => 0.0,
            };
            folded[t * classes + k] = term(t, k) + words;
        }
    }
    let mut column = vec![0f32; classes];
    for t in 0..terms {
        let row = &mut folded[t * classes..(t + 1) * classes];
        column.copy_from_slice(row);
        column.sort_by(f32::total_cmp);
        let median = column[classes / 2];
        row.iter_mut().for_each(|w| *w -= median);
    }
    let largest = folded.iter().fold(0f32, |m, w| m.max(w.abs()));
    let floor = largest * PRUNE_SHARE;
    (0..classes)
        .map(|k| {
            let mut kept: Vec<(String, f32)> = (0..terms)
                .map(|t| (t, folded[t * classes + k]))
                .filter(|(_, w)| w.abs() >= floor)
                .map(|(t, w)| (vocab.terms[t].clone(), w))
                .collect();
            kept.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            kept.truncate(max_terms);
            kept.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            kept
        })
        .collect()
}

/// Scales every weight by one factor (the ranking is unchanged) so the median winning score on
/// `rows` is [`TARGET_SCORE`], keeping weights within the catalog's -10..=10, and rounds them.
pub(super) fn scale_weights(profiles: &mut [Vec<(String, f32)>], winning_scores: &mut [f32]) {
    if winning_scores.is_empty() {
        return;
    }
    winning_scores.sort_by(f32::total_cmp);
    let median = winning_scores[winning_scores.len() / 2];
    let largest = profiles
        .iter()
        .flatten()
        .fold(0f32, |m, (_, w)| m.max(w.abs()));
    let mut factor = if median > 0.0 {
        TARGET_SCORE / median
    } else {
        1.0
    };
    if largest * factor > 10.0 {
        factor = 10.0 / largest;
    }
    for profile in profiles.iter_mut() {
        for (_, w) in profile.iter_mut() {
            *w = (*w * factor * 1000.0).round() / 1000.0;
        }
        profile.retain(|(_, w)| *w != 0.0);
    }
}

/// Scores messages with unscaled profiles the way the matcher will (longest phrase first, no
/// overlaps), to find the typical winning score.
pub(super) struct UnscaledScorer {
    weights: HashMap<String, Vec<(usize, f32)>>,
    classes: usize,
    /// Whether any term is a phrase (else no word pair needs looking up).
    phrases: bool,
}

pub(super) fn unscaled_scores(profiles: &[Vec<(String, f32)>]) -> UnscaledScorer {
    let mut weights: HashMap<String, Vec<(usize, f32)>> = HashMap::new();
    for (k, profile) in profiles.iter().enumerate() {
        for (term, w) in profile {
            weights.entry(term.clone()).or_default().push((k, *w));
        }
    }
    UnscaledScorer {
        phrases: weights.keys().any(|term| term.contains(' ')),
        weights,
        classes: profiles.len(),
    }
}

impl UnscaledScorer {
    pub(super) fn best(&self, words: &[String]) -> Option<f32> {
        let mut scores = vec![0f32; self.classes];
        let mut i = 0;
        while i < words.len() {
            let pair = words
                .get(i + 1)
                .filter(|_| self.phrases)
                .map(|next| format!("{} {next}", words[i]))
                .filter(|p| self.weights.contains_key(p));
            let (term, step) = match pair {
                Some(p) => (p, 2),
                None => (words[i].clone(), 1),
            };
            if let Some(list) = self.weights.get(&term) {
                for &(k, w) in list {
                    scores[k] += w;
                }
            }
            i += step;
        }
        scores.into_iter().filter(|s| *s > 0.0).reduce(f32::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::text;

    #[test]
    fn words_carry_their_stems_weights() {
        // "refund" and "refunds" share the stem "refun"; a weight on the stem alone must reach
        // both words' keyword weights (the matcher never sees the stem).
        let docs: Vec<Vec<String>> = ["refund please", "refunds", "card", "card please"]
            .iter()
            .map(|d| text::words(d))
            .collect();
        let vocab = Vocabulary::build(&docs, &[1, 1, 0, 0], false, 5);
        let stem_id = vocab.stem_of[vocab.ids["refund"] as usize].expect("a stem");
        assert_eq!(vocab.stem_of[vocab.ids["refunds"] as usize], Some(stem_id));
        assert_ne!(vocab.stem_of[vocab.ids["card"] as usize], Some(stem_id));
        let features = vocab.features(&text::words("refunds"));
        assert_eq!(features.len(), 2, "the word and its stem: {features:?}");
        let classes = 2;
        let mut weights = vec![0f32; vocab.features_len() * classes];
        weights[stem_id as usize * classes + 1] = 1.0;
        let profiles = keyword_weights(&vocab, &weights, classes, 100);
        let weight = |k: usize, t: &str| {
            profiles[k]
                .iter()
                .find(|(term, _)| term == t)
                .map_or(0.0, |p| p.1)
        };
        let expected = vocab.idf[stem_id as usize];
        for word in ["refund", "refunds"] {
            let difference = weight(1, word) - weight(0, word);
            assert!((difference - expected).abs() < 1e-5, "{word}: {difference}");
        }
        assert_eq!(weight(1, "card"), weight(0, "card"));
    }

    #[test]
    fn l2_is_spread_evenly_over_features() {
        // Feature 0 occurs in all four rows, feature 1 in one: per row and epoch both get l2.
        let examples = vec![
            (vec![(0, 1.0), (1, 1.0)], 0),
            (vec![(0, 1.0)], 0),
            (vec![(0, 1.0)], 1),
            (vec![(0, 1.0)], 1),
        ];
        assert_eq!(l2_per_occurrence(&examples, 2, 0.5), vec![0.5, 2.0]);
    }

    #[test]
    fn phrases_carry_their_words_weights() {
        // Two classes; "top up" is a phrase of the vocabulary. Class 1's phrase weight must
        // include its words' weights, since the matcher hides the words behind the phrase.
        let docs: Vec<Vec<String>> = ["top up failed", "top up failed", "top", "up"]
            .iter()
            .map(|d| text::words(d))
            .collect();
        let vocab = Vocabulary::build(&docs, &[1, 1, 0, 0], true, 0);
        assert!(vocab.ids.contains_key("top up"), "{:?}", vocab.terms);
        let classes = 2;
        let mut weights = vec![0f32; vocab.terms.len() * classes];
        let id = |t: &str| vocab.ids[t] as usize;
        weights[id("top") * classes + 1] = 1.0;
        weights[id("up") * classes + 1] = 0.5;
        weights[id("top up") * classes + 1] = 0.25;
        let profiles = keyword_weights(&vocab, &weights, classes, 100);
        let weight = |t: &str| profiles[1].iter().find(|(term, _)| term == t).map(|p| p.1);
        let idf = |t: &str| vocab.idf[id(t)];
        let expected = 1.0 * idf("top") + 0.5 * idf("up") + 0.25 * idf("top up");
        // With two classes the median is the larger one: class 1's weights shift down by ...
        // class 1 is the larger, so the median (upper middle) is class 1 itself: compare the
        // difference between the classes instead, which no shift changes.
        let w1 = weight("top up").unwrap_or(0.0);
        let w0 = profiles[0]
            .iter()
            .find(|(term, _)| term == "top up")
            .map_or(0.0, |p| p.1);
        assert!(
            (w1 - w0 - expected).abs() < 1e-4,
            "{w1} - {w0} vs {expected}"
        );
    }
}

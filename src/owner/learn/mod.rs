//! Learned intent profiles: weighted keyword lists, trained from labelled messages, written in
//! the same TOML format and scored by the same matcher as hand-written intents.
//!
//! The model is multinomial logistic regression without intercepts on TF-IDF words and word
//! stems (their first five characters; see [`Vocabulary`]), and, as an option, two-word phrases
//! (as scikit-learn's TF-IDF + logistic regression baseline uses), trained by AdaGrad with the
//! L2 penalty spread evenly over the features (see [`l2_per_occurrence`](model::l2_per_occurrence)). It is then turned
//! into keyword weights the matcher reproduces (exactly for words seen in training; for phrases,
//! where they do not overlap):
//! - the IDF is folded into each weight, and the document-length normalisation dropped (it
//!   scales all of a message's scores alike, so the ranking is unchanged);
//! - a word's weight also carries its stem's (the matcher sees words, never stems);
//! - the matcher takes the longest term at each word and skips the words it covers, so a
//!   phrase's weight also carries the weights of its words;
//! - each term's weights are shifted by their median over labels (a shift every label gets
//!   alike changes no ranking), so most become about zero and are dropped, and the rest are
//!   scaled to the catalog's range.
//!
//! Settings are chosen on a held-out slice of the training rows, never on a test file. With a
//! none label the intent threshold is calibrated there too (see [`choose_threshold`]): the
//! highest confidence that turns away at most a budgeted share of the in-scope messages, so
//! what is out of scope (the none label's rows, and messages from sources never seen) falls
//! back.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::catalog::{is_valid_id, Catalog, Team};
use crate::core::classify::Classifier;
use crate::core::text;
use crate::owner::dataset::LabelledRow;

mod calibrate;
mod model;
mod profiles;
mod vocab;

pub use calibrate::{choose_threshold, Calibration, DEFAULT_MAX_IN_SCOPE_LOSS};
pub use profiles::{intent_toml, write_profiles};

use model::{keyword_weights, scale_weights, train, unscaled_scores};
use profiles::compile;
use vocab::Vocabulary;

/// How `learn` runs.
#[derive(Debug, Clone)]
pub struct LearnOptions {
    /// The label meaning "no intent": its rows teach what falls back, and get no profile.
    pub none_label: Option<String>,
    /// Share of each label's rows held out to choose settings and calibrate the threshold.
    pub holdout: f64,
    /// Most terms kept per intent (the strongest, for or against).
    pub max_terms: usize,
    /// Also learn two-word phrases (chosen so they never chain; see `choose_phrases`). Off by
    /// default: on banking77's held-out rows, words alone scored 0.884 and words with phrases
    /// 0.885, a difference within noise, and files of words alone read more simply.
    pub phrases: bool,
    /// Length in characters of the word stems learned beside the words (0: none); see
    /// [`Vocabulary`]. Chosen by 5-fold cross-validation on banking77's training file (80% fit,
    /// 20% scored, every row scored once; two L2 strengths, 16 epochs): no stems 0.8876,
    /// stems of 4 characters 0.8941, 5 0.8940, 6 0.8927 (at L2 1e-5, 12 epochs). The matcher
    /// does not stem, and need not: every trained word form carries its stem's weight.
    pub stem_chars: usize,
    /// Seed of the shuffles (the result is deterministic for a seed).
    pub seed: u64,
    /// Share of the held-out in-scope messages the intent threshold may turn away (0 to 1; see
    /// [`choose_threshold`]). `None`: [`DEFAULT_MAX_IN_SCOPE_LOSS`] with a none label, and no
    /// threshold (0) without one.
    pub max_in_scope_loss: Option<f64>,
}

impl Default for LearnOptions {
    fn default() -> Self {
        LearnOptions {
            none_label: None,
            holdout: 0.1,
            max_terms: 2000,
            phrases: false,
            stem_chars: 5,
            seed: 7,
            max_in_scope_loss: None,
        }
    }
}

/// One learned intent, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedIntent {
    pub id: String,
    /// The dataset's label, as written there.
    pub label: String,
    /// Training rows of this label.
    pub rows: usize,
    /// (term, weight), highest weight first.
    pub keywords: Vec<(String, f32)>,
}

/// What `learn` produced and measured.
#[derive(Debug, Clone)]
pub struct LearnedProfiles {
    pub intents: Vec<LearnedIntent>,
    /// The intent confidence threshold calibrated on the held-out rows.
    pub threshold: f64,
    /// How it was chosen and what it does on the held-out rows.
    pub calibration: Calibration,
    /// The none label the rows were learned with.
    pub none_label: Option<String>,
    /// The L2 regularisation chosen on the held-out rows.
    pub l2: f32,
    /// Accuracy on the held-out rows at the threshold (none rows count as correct when they
    /// fall back).
    pub holdout_accuracy: f64,
    pub holdout_rows: usize,
    pub training_rows: usize,
}

/// Why learning failed.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("{0}")]
    Data(String),
    #[error("the learned profiles do not load (a bug): {0}")]
    Catalog(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The L2 strengths tried on the held-out rows (scikit-learn's C = 37 and 11 on banking77's
/// 9,000 training rows), fitted side by side on two threads. In 5-fold cross-validation on
/// banking77's training file (12 epochs), 1e-5 alone scored 0.8940, 3e-6 alone 0.8923, this grid
/// 0.8925 and [3e-6, 1e-5, 3e-5] 0.8918: the held-out slice is small, and the choice is partly
/// noise. The grid stays for data such as the none-label split, where 3e-6 wins and lets more
/// none rows fall back than 1e-5 (none recall 0.87 against 0.83, in scope 0.879 against 0.875).
const L2_GRID: [f32; 2] = [3e-6, 1e-5];
/// Passes over the rows: 12 scored 0.8925 and 16 0.8955 in the cross-validation above; more
/// cost time for no clear gain (24 at L2 1e-5: 0.8951, against 0.8940 at 12).
const EPOCHS: usize = 16;
const LEARNING_RATE: f32 = 0.5;
/// A term must occur in this many training rows.
const MIN_ROWS: u32 = 2;
/// Folded weights smaller than this share of the largest are dropped.
const PRUNE_SHARE: f32 = 0.001;
/// The median winning score the weights are scaled to (confidence 1 - e^-3 = 0.95).
const TARGET_SCORE: f32 = 3.0;

/// A readable, valid intent id for a dataset label: lowercase, `-` between words, unique.
pub(crate) fn id_for_label(label: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut id = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-').to_string();
    let base = if id.is_empty() {
        "intent".to_string()
    } else {
        id
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while !is_valid_id(&candidate) || taken.contains(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// A small deterministic generator for shuffles (SplitMix64).
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Splits row indices into (train, held out), holding out `share` of each label's rows.
fn split(rows: &[LabelledRow], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_label.entry(&r.label).or_default().push(i);
    }
    let mut rng = Shuffler(seed ^ 0x5EED);
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (_, mut idx) in by_label {
        rng.shuffle(&mut idx);
        let n_held = ((idx.len() as f64 * share).round() as usize).min(idx.len().saturating_sub(1));
        held.extend_from_slice(&idx[..n_held]);
        train.extend_from_slice(&idx[n_held..]);
    }
    train.sort_unstable();
    held.sort_unstable();
    (train, held)
}

/// For each row: the top intent's label and confidence (None when no intent scored).
fn top_predictions<'a>(
    catalog: &'a Catalog,
    classifier: &Classifier,
    texts: impl Iterator<Item = &'a str>,
) -> Vec<Option<(&'a str, f64)>> {
    texts
        .map(|text| {
            crate::owner::eval::top_intent(classifier, text)
                .map(|(i, confidence)| (catalog.intents[i].label(), confidence))
        })
        .collect()
}

/// Learns one profile per label (except the none label) from `rows`.
pub fn learn(
    rows: &[LabelledRow],
    options: &LearnOptions,
    teams: &BTreeMap<String, Team>,
) -> Result<LearnedProfiles, LearnError> {
    let mut labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let none = options.none_label.as_deref();
    let intent_labels: Vec<&str> = labels
        .iter()
        .copied()
        .filter(|l| Some(*l) != none)
        .collect();
    if intent_labels.is_empty() {
        return Err(LearnError::Data(
            "no labels to learn (only the none label?)".into(),
        ));
    }
    if let Some(n) = none {
        if !labels.contains(&n) {
            return Err(LearnError::Data(format!(
                "the none label `{n}` occurs in no row"
            )));
        }
    }
    let class_of: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let words: Vec<Vec<String>> = rows.iter().map(|r| text::words(&r.text)).collect();
    let (train_idx, held_idx) = split(rows, options.holdout, options.seed);
    let mut taken = std::collections::HashSet::new();
    let ids: Vec<String> = labels.iter().map(|l| id_for_label(l, &mut taken)).collect();
    let gold: Vec<&str> = held_idx.iter().map(|&i| rows[i].label.as_str()).collect();
    let data = Training {
        rows,
        words: &words,
        labels: &labels,
        ids: &ids,
        class_of: &class_of,
        none,
        options,
    };

    // Settings are chosen on the held-out rows; the profiles written are then fitted on every
    // row with them, and keep the threshold calibrated on the held-out rows.
    let budget = options
        .max_in_scope_loss
        .or(none.map(|_| DEFAULT_MAX_IN_SCOPE_LOSS));
    let mut best: Option<(f32, Calibration)> = None;
    let try_l2 = |l2: f32| -> Result<Calibration, LearnError> {
        let intents = data.fit(&train_idx, l2);
        let catalog = compile(&intents, 0.0, teams)?;
        let classifier = Classifier::new(&catalog).map_err(LearnError::Catalog)?;
        let predictions = top_predictions(
            &catalog,
            &classifier,
            held_idx.iter().map(|&i| rows[i].text.as_str()),
        );
        Ok(choose_threshold(&predictions, &gold, none, budget))
    };
    // The fits are independent: one thread each.
    let results: Vec<Result<Calibration, LearnError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = L2_GRID
            .iter()
            .map(|&l2| scope.spawn(move || try_l2(l2)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fit does not panic"))
            .collect()
    });
    for (l2, result) in L2_GRID.iter().zip(results) {
        let calibration = result?;
        if best
            .as_ref()
            .is_none_or(|(_, b)| calibration.accuracy > b.accuracy)
        {
            best = Some((*l2, calibration));
        }
    }
    let (l2, calibration) = best.expect("the grid is not empty");
    let all: Vec<usize> = (0..rows.len()).collect();
    let intents = data.fit(&all, l2);
    compile(&intents, calibration.threshold, teams)?;
    Ok(LearnedProfiles {
        intents,
        threshold: calibration.threshold,
        holdout_accuracy: calibration.accuracy,
        calibration,
        none_label: none.map(str::to_string),
        l2,
        holdout_rows: held_idx.len(),
        training_rows: rows.len(),
    })
}

/// The labelled rows and what every fit shares.
struct Training<'a> {
    rows: &'a [LabelledRow],
    words: &'a [Vec<String>],
    labels: &'a [&'a str],
    ids: &'a [String],
    class_of: &'a HashMap<&'a str, usize>,
    none: Option<&'a str>,
    options: &'a LearnOptions,
}

impl Training<'_> {
    /// Fits profiles on the rows `idx` with L2 strength `l2`.
    fn fit(&self, idx: &[usize], l2: f32) -> Vec<LearnedIntent> {
        let docs: Vec<Vec<String>> = idx.iter().map(|&i| self.words[i].clone()).collect();
        let gold: Vec<usize> = idx
            .iter()
            .map(|&i| self.class_of[self.rows[i].label.as_str()])
            .collect();
        let vocab = Vocabulary::build(&docs, &gold, self.options.phrases, self.options.stem_chars);
        let examples: Vec<(Vec<(u32, f32)>, usize)> = idx
            .iter()
            .map(|&i| {
                (
                    vocab.features(&self.words[i]),
                    self.class_of[self.rows[i].label.as_str()],
                )
            })
            .collect();
        let classes = self.labels.len();
        let weights = train(
            &examples,
            vocab.features_len(),
            classes,
            l2,
            self.options.seed,
        );
        let mut profiles = keyword_weights(&vocab, &weights, classes, self.options.max_terms);
        // Winning scores on the training rows, to scale the weights.
        let scorer = unscaled_scores(&profiles);
        let mut winning: Vec<f32> = docs.iter().filter_map(|d| scorer.best(d)).collect();
        scale_weights(&mut profiles, &mut winning);
        let rows_of = |label: &str| idx.iter().filter(|&&i| self.rows[i].label == label).count();
        self.labels
            .iter()
            .zip(self.ids)
            .zip(profiles)
            .filter(|((label, _), _)| Some(**label) != self.none)
            .map(|((label, id), keywords)| LearnedIntent {
                id: id.clone(),
                label: label.to_string(),
                rows: rows_of(label),
                keywords,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_for_dataset_labels() {
        let mut taken = std::collections::HashSet::new();
        let cases = [
            ("Refund_not_showing_up", "refund-not-showing-up"),
            ("reverted_card_payment?", "reverted-card-payment"),
            ("card arrival", "card-arrival"),
            ("card_arrival", "card-arrival-2"),
            ("???", "intent"),
            ("!!", "intent-2"),
        ];
        for (label, want) in cases {
            assert_eq!(id_for_label(label, &mut taken), want, "{label}");
        }
    }
}

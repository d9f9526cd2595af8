//! Workloads shared by the classifier benchmarks: synthetic catalogs and real support text.

use std::path::PathBuf;

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, Catalog, CatalogSources};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn word(rng: &mut Rng, prefix: &str) -> String {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ne", "su", "ra", "to", "vi", "ze", "po", "gu", "fa", "shi", "dre",
        "plo", "bri", "cha", "tho", "que", "xan",
    ];
    let n = 2 + rng.below(3);
    let mut w = prefix.to_string();
    for _ in 0..n {
        w.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
    }
    w
}

/// A catalog of `intents` x `keywords` (about 20% two-word phrases), and messages of 8-40 words
/// with 2-5 keyword hits each.
pub fn synthetic(intents: usize, keywords: usize, messages: usize) -> (Catalog, Vec<String>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut sources = CatalogSources::default();
    let mut all: Vec<Vec<String>> = Vec::new();
    for i in 0..intents {
        let mut toml = String::from("[keywords]\n");
        let mut terms = Vec::new();
        for k in 0..keywords {
            let term = if k % 5 == 4 {
                format!(
                    "{} {}",
                    word(&mut rng, &format!("k{i}x{k}")),
                    word(&mut rng, "p")
                )
            } else {
                word(&mut rng, &format!("k{i}x{k}"))
            };
            toml.push_str(&format!("\"{term}\" = 1.0\n"));
            terms.push(term);
        }
        sources
            .intents
            .push((PathBuf::from(format!("intents/i{i:04}.toml")), toml));
        all.push(terms);
    }
    let teams = Settings::built_in().teams;
    let catalog = catalog::load_from_sources(sources, &teams).expect("synthetic catalog is valid");
    let mut out = Vec::with_capacity(messages);
    for _ in 0..messages {
        let len = 8 + rng.below(33);
        let hits = 2 + rng.below(4);
        let intent = rng.below(intents);
        let mut words: Vec<String> = (0..len - hits).map(|_| word(&mut rng, "f")).collect();
        for h in 0..hits {
            let from = if h == 0 || rng.below(4) > 0 {
                intent
            } else {
                rng.below(intents)
            };
            let term = all[from][rng.below(keywords)].clone();
            let at = rng.below(words.len() + 1);
            words.insert(at, term);
        }
        out.push(words.join(" "));
    }
    (catalog, out)
}

/// Real support messages from the shared datasets when present (bitext + banking77).
pub fn real_messages() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let mut out = Vec::new();
    for file in ["banking77/test.csv", "bitext/test.csv"] {
        if let Ok(text) = std::fs::read_to_string(root.join(file)) {
            for line in text.lines().skip(1) {
                if let Some((message, _label)) = line.rsplit_once(',') {
                    out.push(message.trim_matches('"').to_string());
                }
            }
        }
    }
    if out.is_empty() {
        out = [
            "how much is the growth plan for a team of 5?",
            "I was charged twice this month, please refund",
            "we need your SOC 2 report before procurement signs",
            "my shopify orders are not syncing to the inbox",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
    }
    out
}

//! Criterion benchmarks of the classifier: synthetic catalogs (100 and 1000 intents x 50
//! keywords), the shipped catalog on real support messages, and catalog compile time.
//!
//! The side-by-side comparison with Python flashtext is `benches/compare.sh`; this measures our
//! own paths in isolation. Run: `cargo bench --bench classify`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, Catalog, CatalogSources};
use personabot::core::classify::Classifier;

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
fn synthetic(intents: usize, keywords: usize, messages: usize) -> (Catalog, Vec<String>) {
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
fn real_messages() -> Vec<String> {
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

fn bench_synthetic(c: &mut Criterion) {
    let mut group = c.benchmark_group("synthetic");
    group.sample_size(20);
    for (intents, keywords) in [(100, 50), (1000, 50)] {
        let (catalog, messages) = synthetic(intents, keywords, 2000);
        let classifier = Classifier::new(&catalog).expect("compiles");
        let label = format!("{intents}x{keywords}");
        group.throughput(Throughput::Elements(messages.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("top_intent", &label),
            &messages,
            |b, msgs| {
                b.iter(|| {
                    let mut hits = 0usize;
                    for m in msgs {
                        hits += usize::from(classifier.top_intent(black_box(m)).is_some());
                    }
                    hits
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("classify_with_evidence", &label),
            &messages,
            |b, msgs| {
                b.iter(|| {
                    let mut n = 0usize;
                    for m in msgs {
                        n += classifier.classify(black_box(m)).evidence.len();
                    }
                    n
                })
            },
        );
    }
    group.finish();
}

fn bench_default_catalog(c: &mut Criterion) {
    let teams = Settings::built_in().teams;
    let sources = CatalogSources::built_in();
    let catalog = catalog::load_from_sources(sources, &teams).expect("built-in catalog is valid");
    let classifier = Classifier::new(&catalog).expect("compiles");
    let messages = real_messages();
    let mut group = c.benchmark_group("default_catalog");
    group.sample_size(20);
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("top_intent_real_messages", |b| {
        b.iter(|| {
            messages
                .iter()
                .filter(|m| classifier.top_intent(black_box(m)).is_some())
                .count()
        })
    });
    group.bench_function("classify_real_messages", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| classifier.classify(black_box(m)).evidence.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for (intents, keywords) in [(100, 50), (1000, 50)] {
        let (catalog, _) = synthetic(intents, keywords, 0);
        group.bench_function(format!("{intents}x{keywords}"), |b| {
            b.iter(|| Classifier::new(black_box(&catalog)).expect("compiles"))
        });
    }
    let teams: BTreeMap<_, _> = Settings::built_in().teams;
    group.bench_function("load_and_compile_built_in", |b| {
        b.iter(|| {
            let catalog =
                catalog::load_from_sources(CatalogSources::built_in(), &teams).expect("valid");
            Classifier::new(&catalog).expect("compiles")
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_synthetic,
    bench_default_catalog,
    bench_compile
);
criterion_main!(benches);

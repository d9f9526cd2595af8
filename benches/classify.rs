//! Criterion benchmarks of the classifier: synthetic catalogs (100 and 1000 intents x 50
//! keywords), the shipped catalog on real support messages, and catalog compile time.
//!
//! The side-by-side comparison with Python flashtext is `benches/compare.sh`; this measures our
//! own paths in isolation. Run: `cargo bench --bench classify`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, CatalogSources};
use personabot::core::classify::Classifier;

#[path = "common/workload.rs"]
mod workload;

use workload::{real_messages, synthetic};

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

//! Criterion benchmark of one customer turn through the pipeline (classify, route, redact,
//! store in sled and flush), single-threaded, without HTTP. Run: `cargo bench --bench pipeline`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, CatalogSources};
use personabot::core::classify::Classifier;
use personabot::engine::pipeline::{Inbound, Pipeline};
use personabot::store::Store;

fn bench_turns(c: &mut Criterion) {
    let settings = Settings::built_in();
    let catalog =
        catalog::load_from_sources(CatalogSources::built_in(), &settings.teams).expect("catalog");
    let classifier = Classifier::new(&catalog).expect("classifier");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Some("bench-key")).expect("store");
    let pipeline = Pipeline::new(Arc::new(catalog), Arc::new(classifier), &settings, store);
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    group.bench_function("turn_new_conversation", |b| {
        b.iter(|| {
            n += 1;
            let inbound = Inbound {
                channel: "bench".into(),
                conversation: format!("c{n}"),
                user: format!("u{n}"),
                text: "how much is the growth plan for a team of 5?".into(),
            };
            black_box(pipeline.handle(&inbound).expect("turn"))
        })
    });
    group.bench_function("classify_only", |b| {
        b.iter(|| black_box(pipeline.classify_only("how much is the growth plan for a team of 5?")))
    });
    group.finish();
}

criterion_group!(benches, bench_turns);
criterion_main!(benches);

//! What inflections and typos cost: the classifier compiled three ways (exact words only;
//! with other forms through the stemmer; with one-edit typos too), run in one process on the
//! same messages, printed as msgs/s and as a ratio to exact-only.
//!
//! "first pass" is the throughput while every distinct word is new (each goes through the
//! stemmer, and for typos the symmetric-delete index); "warm" is the steady state, where every
//! word seen before costs one probe of the resolver's table; "us/msg over exact" is what the
//! option adds to a message, warm. Real support text repeats its words (the common case); the
//! synthetic catalog's messages are made of random words, more distinct words than a resolver
//! keeps, so every word pays the slow path every time (the worst case, e.g. a flood of
//! gibberish). Compile times are for a 5,000-term catalog.
//!
//! Run: `cargo bench --bench fuzziness` (needs ../shared/datasets for the real text; falls back
//! to a few built-in messages).

#[path = "common/workload.rs"]
mod workload;

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, Catalog, CatalogSources};
use personabot::core::classify::{Classifier, MatchOptions};

const CONFIGS: [(&str, MatchOptions); 3] = [
    ("exact words", MatchOptions::EXACT),
    (
        "+ inflections",
        MatchOptions {
            inflections: true,
            typos: false,
            typo_weight: 0.5,
        },
    ),
    (
        "+ typos",
        MatchOptions {
            inflections: true,
            typos: true,
            typo_weight: 0.5,
        },
    ),
];

/// Seconds for one pass of `top_intent` over `messages`.
fn pass(classifier: &Classifier, messages: &[String]) -> f64 {
    let started = Instant::now();
    let hits = messages
        .iter()
        .filter(|m| classifier.top_intent(black_box(m)).is_some())
        .count();
    black_box(hits);
    started.elapsed().as_secs_f64()
}

fn distinct_words(messages: &[String]) -> usize {
    let mut seen = HashSet::new();
    for m in messages {
        for w in personabot::core::text::words(m) {
            seen.insert(w);
        }
    }
    seen.len()
}

fn run(title: &str, catalog: &Catalog, messages: &[String]) {
    let words = distinct_words(messages);
    println!(
        "\n{title}: {} messages, {words} distinct words",
        messages.len()
    );
    println!(
        "{:<15} {:>14} {:>14} {:>10} {:>22}",
        "matching", "first pass/s", "warm msgs/s", "vs exact", "us/msg over exact"
    );
    let mut exact_warm = None;
    for (name, options) in CONFIGS {
        let classifier = Classifier::with_options(catalog, options).expect("compiles");
        let first = pass(&classifier, messages);
        let warm = (0..5)
            .map(|_| pass(&classifier, messages))
            .fold(f64::INFINITY, f64::min);
        let rate = messages.len() as f64 / warm;
        let base = *exact_warm.get_or_insert(rate);
        println!(
            "{:<15} {:>14.0} {:>14.0} {:>9.2}x {:>19.2} us",
            name,
            messages.len() as f64 / first,
            rate,
            rate / base,
            (1e6 / rate - 1e6 / base).max(0.0)
        );
    }
}

fn compile_times() {
    let (catalog, _) = workload::synthetic(100, 50, 0);
    println!("\ncompile, 100 intents x 50 keywords (5,000 terms), best of 5:");
    for (name, options) in CONFIGS {
        let best = (0..5)
            .map(|_| {
                let started = Instant::now();
                black_box(Classifier::with_options(&catalog, options).expect("compiles"));
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!("{name:<15} {:>8.1} ms", best * 1000.0);
    }
}

fn main() {
    let teams = Settings::built_in().teams;
    let shipped = catalog::load_from_sources(CatalogSources::built_in(), &teams)
        .expect("the shipped catalog is valid");
    let real = workload::real_messages();
    // Repeated so the warm state dominates, as it does in a running bot.
    let repeated: Vec<String> = real.iter().cycle().take(real.len() * 5).cloned().collect();
    run("shipped catalog, real support text", &shipped, &repeated);
    let (catalog, messages) = workload::synthetic(100, 50, 20_000);
    run("synthetic 100 x 50", &catalog, &messages);
    compile_times();
}

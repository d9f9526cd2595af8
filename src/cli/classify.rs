//! `personabot classify`: decisions for messages given as arguments or on stdin, without logging.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use personabot::catalog::settings::Settings;
use personabot::catalog::Catalog;
use personabot::core::route;
use personabot::engine::output::{decision_json, explain};

use super::compile;

#[derive(Args, Debug)]
pub(crate) struct ClassifyArgs {
    /// Messages, one per argument; `-` reads one message per line from stdin.
    #[arg(value_name = "TEXT", required = true)]
    text: Vec<String>,
    /// One JSON object per input.
    #[arg(long, conflicts_with_all = ["explain", "summary"])]
    json: bool,
    /// Show the evidence behind each decision.
    #[arg(long, conflicts_with = "summary")]
    explain: bool,
    /// Read lines from stdin and print one JSON summary: counts of top intents and speed.
    #[arg(long)]
    summary: bool,
}

pub(crate) fn read_inputs(args: &[String]) -> Result<Vec<String>> {
    if args.len() == 1 && args[0] == "-" {
        let stdin = std::io::stdin();
        let mut lines = Vec::new();
        for line in stdin.lock().lines() {
            lines.push(line.context("cannot read stdin")?);
        }
        Ok(lines)
    } else {
        Ok(args.to_vec())
    }
}

pub(crate) fn classify(
    catalog: &Catalog,
    settings: &Settings,
    args: &ClassifyArgs,
) -> Result<ExitCode> {
    let classifier = compile(catalog, settings)?;
    let inputs = read_inputs(&args.text)?;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    if args.summary {
        let mut counts = vec![0u64; catalog.intents.len()];
        let mut none = 0u64;
        let started = Instant::now();
        for line in &inputs {
            match classifier.top_intent(line) {
                Some(i) => counts[i as usize] += 1,
                None => none += 1,
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let counts: serde_json::Map<String, serde_json::Value> = catalog
            .intents
            .iter()
            .zip(&counts)
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| (i.id.clone(), n.into()))
            .collect();
        let summary = serde_json::json!({
            "messages": inputs.len(),
            "counts": counts,
            "none": none,
            "elapsed_ms": (elapsed * 1000.0 * 1000.0).round() / 1000.0,
            "msgs_per_sec": if elapsed > 0.0 { (inputs.len() as f64 / elapsed).round() } else { 0.0 },
        });
        writeln!(out, "{summary}")?;
        return Ok(ExitCode::SUCCESS);
    }
    for text in &inputs {
        let decision = route::run_single(catalog, &settings.classify, &classifier, text);
        if args.json {
            serde_json::to_writer(&mut out, &decision_json(catalog, &decision.0, &decision.1))?;
            writeln!(out)?;
        } else if args.explain {
            writeln!(
                out,
                "> {text}\n{}",
                explain(catalog, &decision.0, &decision.1)
            )?;
        } else {
            let d = &decision.0;
            let show = |p: &Option<route::Pick>| {
                p.as_ref().map_or("none".to_string(), |p| {
                    format!("{} ({:.2})", p.id, p.confidence)
                })
            };
            writeln!(
                out,
                "persona={} intent={} route={}{}{}",
                show(&d.persona),
                show(&d.intent),
                d.kind.as_str(),
                d.team
                    .as_ref()
                    .map(|t| format!(" team={t}"))
                    .unwrap_or_default(),
                d.answer
                    .as_ref()
                    .map(|a| format!(" answer={a}"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

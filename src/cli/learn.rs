//! `personabot learn`: weighted keyword profiles trained from a labelled CSV.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use personabot::catalog::settings::Settings;

#[derive(Args, Debug)]
pub(crate) struct LearnArgs {
    /// A CSV with the columns text and label.
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// The catalog folder to write (DIR/intents/<label>.toml and an empty DIR/personas/).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The label meaning "no intent": its rows teach what should fall back.
    #[arg(long, value_name = "L")]
    none_label: Option<String>,
    /// Replace the intent files already in DIR/intents/.
    #[arg(long)]
    replace: bool,
}

/// `personabot learn`: train, write the profiles, and say what was measured on held-out rows.
pub(crate) fn learn(settings: &Settings, args: &LearnArgs) -> Result<ExitCode> {
    let started = Instant::now();
    // The messages already name the path and cause: print them once, not as a chain.
    let once = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let rows = personabot::owner::dataset::read_csv(&args.data).map_err(|e| once(&e))?;
    let options = personabot::owner::learn::LearnOptions {
        none_label: args.none_label.clone(),
        ..Default::default()
    };
    let profiles =
        personabot::owner::learn::learn(&rows, &options, &settings.teams).map_err(|e| once(&e))?;
    let source = args.data.file_name().map_or_else(
        || args.data.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let written =
        personabot::owner::learn::write_profiles(&args.out, &profiles, &source, args.replace)
            .map_err(|e| once(&e))?;
    let terms: usize = profiles.intents.iter().map(|i| i.keywords.len()).sum();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "learned {} intents ({} terms) from {} rows in {:.2} s: {}",
        written.len(),
        terms,
        rows.len(),
        started.elapsed().as_secs_f64(),
        args.out.join("intents").display()
    )?;
    writeln!(
        out,
        "held-out check ({} rows of the training file, not used to fit): accuracy {:.3}, threshold {:.3}, l2 {}",
        profiles.holdout_rows, profiles.holdout_accuracy, profiles.threshold, profiles.l2
    )?;
    writeln!(
        out,
        "measure: personabot --catalog {} eval --data TEST.csv{}",
        args.out.display(),
        args.none_label
            .as_ref()
            .map(|l| format!(" --none-label {l}"))
            .unwrap_or_default()
    )?;
    Ok(ExitCode::SUCCESS)
}

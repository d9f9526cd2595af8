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
    /// The label meaning "no intent": its rows teach what should fall back, and the intents get
    /// a threshold (the out-of-scope point, written in every file) below which messages fall
    /// back; see --max-in-scope-loss.
    #[arg(long, value_name = "L")]
    none_label: Option<String>,
    /// Share of in-scope messages the threshold may turn away, measured on the held-out rows:
    /// the highest threshold within it is written. Default 0.01 with --none-label; without
    /// --none-label no threshold is set unless this is given. `eval --none-label` prints the
    /// trade-off.
    #[arg(long, value_name = "SHARE", value_parser = parse_share)]
    max_in_scope_loss: Option<f64>,
    /// Replace the intent files already in DIR/intents/.
    #[arg(long)]
    replace: bool,
}

/// A share from 0 to 1.
fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share from 0 to 1 (e.g. 0.01)")),
    }
}

/// `personabot learn`: train, write the profiles, and say what was measured on held-out rows.
pub(crate) fn learn(settings: &Settings, args: &LearnArgs) -> Result<ExitCode> {
    let started = Instant::now();
    // The messages already name the path and cause: print them once, not as a chain.
    let once = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let rows = personabot::owner::dataset::read_csv(&args.data).map_err(|e| once(&e))?;
    let options = personabot::owner::learn::LearnOptions {
        none_label: args.none_label.clone(),
        max_in_scope_loss: args.max_in_scope_loss,
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
    let c = &profiles.calibration;
    if let Some(none) = &args.none_label {
        writeln!(
            out,
            "out-of-scope threshold {:.3} (in every file): turns away at most {:.3} of the held-out \
             in-scope rows (in-scope accuracy {:.3}, {:.3} with no threshold); {:.3} of the {} held-out \
             rows labelled {none:?} fall back",
            c.threshold,
            c.max_in_scope_loss,
            c.in_scope_accuracy,
            c.in_scope_unrejected,
            c.none_recall,
            c.none_rows
        )?;
    } else if args.max_in_scope_loss.is_some() {
        writeln!(
            out,
            "threshold {:.3} (in every file): turns away at most {:.3} of the held-out rows \
             (accuracy {:.3}, {:.3} with no threshold)",
            c.threshold, c.max_in_scope_loss, c.in_scope_accuracy, c.in_scope_unrejected
        )?;
    }
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

//! `personabot eval`: the catalog measured on a labelled CSV.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use personabot::catalog::settings::Settings;
use personabot::catalog::Catalog;

use super::compile;

#[derive(Args, Debug)]
pub(crate) struct EvalArgs {
    /// The labelled CSV: a header naming `text` and `label`, one message per row.
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// The label meaning "no intent": rows with it are right when no intent is predicted.
    #[arg(long, value_name = "L")]
    none_label: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn eval(catalog: &Catalog, settings: &Settings, args: &EvalArgs) -> Result<ExitCode> {
    use personabot::owner::eval;
    // The message already names the path, line and cause: print it once, not as a chain.
    let rows =
        personabot::owner::dataset::read_csv(&args.data).map_err(|e| anyhow::anyhow!("{e}"))?;
    let classifier = compile(catalog, settings)?;
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(rows.len() as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "eval {bar:40} {human_pos}/{human_len} messages, {eta} left",
            )?,
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = eval::run(
        catalog,
        &classifier,
        &settings.classify,
        &rows,
        args.none_label.as_deref(),
        || bar.inc(1),
    )?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &eval::report_json(&report))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", eval::render(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

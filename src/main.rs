//! The personabot command line: parse arguments, load settings and catalog, call the library.

mod chat;
mod serve;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use personabot::catalog::{self, Catalog, CatalogSources};

/// mimalloc: a turn allocates many small short-lived values (JSON, sled nodes) across threads,
/// where it measured faster than the system allocator (see the README's load figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use personabot::check::run_examples;
use personabot::classify::Classifier;
use personabot::output::{decision_json, explain};
use personabot::pipeline::Pipeline;
use personabot::route;
use personabot::settings::{Settings, USER_HASH_KEY_ENV};
use personabot::store::{format_time, now_ms, InteractionFilter, Store, Ticket, TicketStatus};

/// Chat-support router: persona x intent classification, self-help answers, tickets for teams.
#[derive(Parser, Debug)]
#[command(name = "personabot", version, about)]
struct Cli {
    /// Folder holding personas/ and intents/ [default: ".", or the built-in catalog when "."
    /// has neither folder]
    #[arg(long, global = true, value_name = "DIR")]
    catalog: Option<PathBuf>,
    /// Folder of the sled evidence store.
    #[arg(long, global = true, value_name = "DIR", default_value = "./data")]
    data: PathBuf,
    /// Settings file [default: personabot.toml if present, else built-in defaults].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate settings and catalog, and run every intent's examples.
    Check,
    /// Classify messages without logging them.
    Classify(ClassifyArgs),
    /// Measure the catalog on a labelled CSV (`text,label`): accuracy, macro-F1, per label.
    Eval(EvalArgs),
    /// Chat in the terminal (the full pipeline: routing, tickets, evidence).
    Chat(chat::ChatArgs),
    /// Run the bot: the HTTP server (API, web chat, agent queue, webhooks) and Discord when its
    /// token is set, until Ctrl-C or SIGTERM.
    Serve {
        /// Address to listen on [default: http.listen, 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// List and work tickets.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Export or delete the logged evidence.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Learn weighted keyword profiles from a labelled CSV (text,label) into DIR/intents/.
    Learn(LearnArgs),
    /// Re-run the logged interactions through the catalog (`--catalog DIR`) and show what flips.
    Replay(ReplayArgs),
    /// What the evidence says per persona and about the catalog: volume, resolution, unmatched
    /// words, silent and shared keywords, agent relabels.
    Review(ReviewArgs),
    /// Suggest keyword additions and removals from relabels, "did not help" answers and
    /// rephrased misses, as a unified diff against the catalog's TOML files (`--apply` writes it).
    Suggest(SuggestArgs),
}

#[derive(Args, Debug)]
struct SuggestArgs {
    /// Only this persona's profile (with --intent: both).
    #[arg(long, value_name = "ID")]
    persona: Option<String>,
    /// Only this intent's profile (with --persona: both).
    #[arg(long, value_name = "ID")]
    intent: Option<String>,
    /// Write the changes into the catalog files instead of printing the diff.
    #[arg(long)]
    apply: bool,
    /// Only interactions newer than this (e.g. 30d, 12h).
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// Supporting messages (conversations, for personas) a suggestion needs.
    #[arg(long, default_value_t = 2, value_name = "N")]
    min_support: usize,
    /// Example messages shown per suggestion.
    #[arg(long, default_value_t = 3, value_name = "N")]
    examples: usize,
    /// One JSON object (suggestions, diff, predicted effect) instead of the diff and summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ReviewArgs {
    /// Only messages newer than this (e.g. 30d, 12h) [default: all the evidence kept].
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// Only this persona (`-`: messages without a persona).
    #[arg(long, value_name = "ID")]
    persona: Option<String>,
    /// One JSON object instead of the tables.
    #[arg(long, conflicts_with = "html")]
    json: bool,
    /// Write a self-contained HTML report with charts to FILE (the tables still print).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Another store to merge into the review (repeatable): the stores of shard processes
    /// that each own a share of the conversations.
    #[arg(long, value_name = "DIR")]
    shard: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// Only interactions newer than this (e.g. 30d, 12h).
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// Example messages shown per change.
    #[arg(long, default_value_t = 3, value_name = "N")]
    examples: usize,
    /// One JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct LearnArgs {
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

#[derive(Args, Debug)]
struct ClassifyArgs {
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

#[derive(Args, Debug)]
struct EvalArgs {
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

#[derive(Subcommand, Debug)]
enum TicketsCommand {
    /// List tickets, newest first.
    List {
        #[arg(long)]
        team: Option<String>,
        /// open | claimed | resolved
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its transcript and evidence.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Claim a ticket: the bot goes silent in its conversation.
    Claim {
        id: u64,
        #[arg(long)]
        agent: String,
    },
    /// Resolve a ticket: the conversation returns to the bot.
    Resolve {
        id: u64,
        #[arg(long)]
        agent: String,
    },
    /// Correct the intent and/or persona; stored as ground truth.
    Relabel {
        id: u64,
        #[arg(long)]
        intent: Option<String>,
        #[arg(long)]
        persona: Option<String>,
        #[arg(long)]
        agent: String,
    },
}

#[derive(Subcommand, Debug)]
enum EvidenceCommand {
    /// Write interactions as JSON Lines.
    Export {
        /// Only the last DURATION (e.g. 30d, 12h).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        #[arg(long)]
        persona: Option<String>,
        #[arg(long)]
        intent: Option<String>,
        /// answer | ticket | clarify | fallback | helped | not-helped
        #[arg(long)]
        outcome: Option<String>,
        /// File to write [default: stdout].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Delete every interaction, ticket and conversation of a user.
    Forget {
        /// The user's id on its channel (as the channel reported it).
        #[arg(long)]
        user: String,
    },
    /// Delete interactions, resolved tickets and idle conversations older than the retention
    /// window (store.retention_days).
    Purge,
    /// Rewrite the store with only its live records, so deleted ones leave the files too.
    Compact,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The settings file in use: `--config FILE`, else `personabot.toml` when present.
fn settings_file(cli: &Cli) -> Option<PathBuf> {
    match &cli.config {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from("personabot.toml")).filter(|p| p.is_file()),
    }
}

fn load_settings(cli: &Cli) -> Result<Settings> {
    let file = settings_file(cli);
    Settings::load(file.as_deref()).with_context(|| match &file {
        Some(f) => format!("invalid settings in {}", f.display()),
        None => "invalid settings".to_string(),
    })
}

/// Reads the catalog sources: `--catalog DIR`, else `.` when it has a catalog, else built-in.
fn catalog_sources(cli: &Cli) -> Result<CatalogSources, catalog::Diagnostics> {
    match catalog_dir(cli) {
        Some(dir) => CatalogSources::read_dir(&dir),
        None => {
            tracing::info!("no personas/ or intents/ here: using the built-in catalog");
            Ok(CatalogSources::built_in())
        }
    }
}

/// The catalog folder in use: `--catalog DIR`, else `.` when it has a catalog; `None` for the
/// built-in catalog (also the folder `suggest --apply` edits and `serve` watches).
fn catalog_dir(cli: &Cli) -> Option<PathBuf> {
    match &cli.catalog {
        Some(dir) => Some(dir.clone()),
        None if Path::new("personas").is_dir() || Path::new("intents").is_dir() => {
            Some(PathBuf::from("."))
        }
        None => None,
    }
}

fn load_catalog(cli: &Cli, settings: &Settings) -> Result<Catalog> {
    let loaded = catalog_sources(cli).and_then(|s| catalog::load_from_sources(s, &settings.teams));
    match loaded {
        Ok(c) => Ok(c),
        Err(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            bail!(
                "the catalog has {} error(s); run `personabot check`",
                diags.len()
            )
        }
    }
}

fn compile(catalog: &Catalog) -> Result<Classifier> {
    let started = Instant::now();
    let classifier = Classifier::new(catalog).map_err(anyhow::Error::msg)?;
    let (terms, patterns) = classifier.size();
    tracing::info!(
        terms,
        patterns,
        compile_ms = started.elapsed().as_secs_f64() * 1000.0,
        "catalog compiled"
    );
    Ok(classifier)
}

fn open_store(cli: &Cli) -> Result<Store> {
    let key = std::env::var(USER_HASH_KEY_ENV).ok();
    Store::open(&cli.data, key.as_deref())
        .with_context(|| format!("cannot open the evidence store in {}", cli.data.display()))
}

/// `personabot learn`: train, write the profiles, and say what was measured on held-out rows.
fn learn(settings: &Settings, args: &LearnArgs) -> Result<ExitCode> {
    let started = Instant::now();
    // The messages already name the path and cause: print them once, not as a chain.
    let once = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let rows = personabot::dataset::read_csv(&args.data).map_err(|e| once(&e))?;
    let options = personabot::learn::LearnOptions {
        none_label: args.none_label.clone(),
        ..Default::default()
    };
    let profiles =
        personabot::learn::learn(&rows, &options, &settings.teams).map_err(|e| once(&e))?;
    let source = args.data.file_name().map_or_else(
        || args.data.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let written = personabot::learn::write_profiles(&args.out, &profiles, &source, args.replace)
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

/// The cutoff (ms since the epoch) of a `--since` age such as `30d` or `12h`.
fn since_ms(since: Option<&str>) -> Result<Option<u64>> {
    Ok(since
        .map(|s| personabot::review::since_cutoff(s, now_ms()))
        .transpose()?)
}

/// `personabot review`: the evidence per persona and across the catalog.
fn review(stores: &[Store], catalog: &Catalog, args: &ReviewArgs) -> Result<ExitCode> {
    use personabot::review;
    let now = now_ms();
    let options = review::ReviewOptions {
        since_ms: since_ms(args.since.as_deref())?,
        persona: args.persona.clone(),
        now_ms: now,
        ..Default::default()
    };
    let stores: Vec<&Store> = stores.iter().collect();
    let report = review::from_stores(&stores, catalog, &options)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    write!(out, "{}", review::render_text(&report))?;
    if let Some(path) = &args.html {
        let page = review::render_html(&report, &review::HtmlTarget::default());
        std::fs::write(path, page)
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
        writeln!(out, "\nHTML report written to {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `personabot replay`: the logged interactions through the selected catalog.
fn replay(
    store: &Store,
    catalog: &Catalog,
    settings: &Settings,
    args: &ReplayArgs,
) -> Result<ExitCode> {
    let filter = personabot::store::InteractionFilter {
        since_ms: since_ms(args.since.as_deref())?,
        ..Default::default()
    };
    let interactions = store.interactions(&filter)?;
    let classifier = compile(catalog)?;
    let report = personabot::replay::replay(
        catalog,
        &classifier,
        &settings.classify,
        &interactions,
        args.examples,
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", personabot::replay::render(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `personabot suggest`: keyword changes mined from the evidence. The summary (support,
/// examples, predicted effect) goes to stderr so that stdout is a diff `patch -p1` takes as is;
/// with `--apply` the files are written and stdout says what changed in each.
fn suggest(
    cli: &Cli,
    store: &Store,
    catalog: &Catalog,
    settings: &Settings,
    args: &SuggestArgs,
) -> Result<ExitCode> {
    use personabot::suggest;
    let dir = catalog_dir(cli);
    if args.apply && dir.is_none() {
        bail!(
            "--apply needs catalog files to edit, and this is the built-in catalog (no personas/ or intents/ here): run it in your catalog folder or pass --catalog DIR"
        );
    }
    let options = suggest::SuggestOptions {
        persona: args.persona.clone(),
        intent: args.intent.clone(),
        min_support: args.min_support.max(1),
        examples: args.examples,
        ..Default::default()
    };
    let filter = InteractionFilter {
        since_ms: since_ms(args.since.as_deref())?,
        ..Default::default()
    };
    let interactions = store.interactions(&filter)?;
    let found = suggest::suggest(catalog, &settings.classify, &interactions, &options)?;
    let sources = catalog_sources(cli).map_err(|d| anyhow::anyhow!("{d}"))?;
    let edits = suggest::edit_files(&sources, &found.suggestions)?;
    let prediction = suggest::predict(
        &sources,
        &edits,
        &settings.teams,
        &settings.classify,
        &interactions,
    )?;
    let diff = suggest::render_diff(&edits);
    if args.apply {
        suggest::write_edits(&edits)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let written: Option<Vec<&str>> = args
            .apply
            .then(|| edits.iter().map(|e| e.path.as_str()).collect());
        let mut report = serde_json::to_value(&found)?;
        report["diff"] = diff.into();
        report["predicted"] = serde_json::to_value(&prediction)?;
        report["applied"] = serde_json::to_value(written)?;
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    eprint!("{}", suggest::render_summary(&found, Some(&prediction)));
    if !args.apply {
        write!(out, "{diff}")?;
        return Ok(ExitCode::SUCCESS);
    }
    if edits.is_empty() {
        writeln!(out, "nothing to change")?;
    }
    let dir = dir.unwrap_or_default();
    for e in &edits {
        let mut changes: Vec<String> = e.added.iter().map(|t| format!("added {t:?}")).collect();
        changes.extend(e.removed.iter().map(|t| format!("removed {t:?}")));
        writeln!(
            out,
            "wrote {}: {}",
            dir.join(&e.path).display(),
            changes.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Check = cli.command {
        return check(&cli);
    }
    let settings = load_settings(&cli)?;
    if let Command::Learn(args) = &cli.command {
        return learn(&settings, args);
    }
    let catalog = load_catalog(&cli, &settings)?;
    match &cli.command {
        Command::Check | Command::Learn(_) => unreachable!("handled above"),
        Command::Classify(args) => classify(&catalog, &settings, args),
        Command::Eval(args) => eval(&catalog, &settings, args),
        Command::Chat(args) => {
            let classifier = compile(&catalog)?;
            let store = open_store(&cli)?;
            let pipeline = Pipeline::new(Arc::new(catalog), Arc::new(classifier), &settings, store);
            chat::run(&pipeline, args)
        }
        Command::Serve { listen } => {
            let classifier = compile(&catalog)?;
            let store = open_store(&cli)?;
            let pipeline = Arc::new(Pipeline::new(
                Arc::new(catalog),
                Arc::new(classifier),
                &settings,
                store,
            ));
            let mut settings = settings;
            if let Some(addr) = listen {
                settings.http.listen = addr.clone();
            }
            let source = personabot::reload::ReloadSource {
                catalog_dir: catalog_dir(&cli),
                settings_file: settings_file(&cli),
                listen: listen.clone(),
            };
            serve::run(pipeline, settings, source)
        }
        Command::Tickets(cmd) => tickets(&open_store(&cli)?, &catalog, cmd),
        Command::Evidence(cmd) => evidence(&open_store(&cli)?, &settings, cmd),
        Command::Replay(args) => replay(&open_store(&cli)?, &catalog, &settings, args),
        Command::Review(args) => {
            let mut stores = vec![open_store(&cli)?];
            for dir in &args.shard {
                let key = std::env::var(USER_HASH_KEY_ENV).ok();
                stores.push(Store::open(dir, key.as_deref()).with_context(|| {
                    format!("cannot open the evidence store in {}", dir.display())
                })?);
            }
            review(&stores, &catalog, args)
        }
        Command::Suggest(args) => suggest(&cli, &open_store(&cli)?, &catalog, &settings, args),
    }
}

fn check(cli: &Cli) -> Result<ExitCode> {
    let settings = match load_settings(cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let catalog =
        match catalog_sources(cli).and_then(|s| catalog::load_from_sources(s, &settings.teams)) {
            Ok(c) => c,
            Err(diags) => {
                for d in diags.iter() {
                    println!("{d}");
                }
                eprintln!("{} error(s)", diags.len());
                return Ok(ExitCode::FAILURE);
            }
        };
    let started = Instant::now();
    let classifier = compile(&catalog)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (run, failures) = run_examples(&catalog, &classifier, &settings.classify);
    for f in &failures {
        println!("{}", f.message);
    }
    if !failures.is_empty() {
        eprintln!("{} of {run} examples failed", failures.len());
        return Ok(ExitCode::FAILURE);
    }
    let (terms, patterns) = classifier.size();
    println!(
        "ok: {} personas, {} intents, {} teams; {run} examples pass; {terms} terms and {patterns} patterns compiled in {compile_ms:.1} ms",
        catalog.personas.len(),
        catalog.intents.len(),
        catalog.teams.len(),
    );
    Ok(ExitCode::SUCCESS)
}

fn read_inputs(args: &[String]) -> Result<Vec<String>> {
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

fn classify(catalog: &Catalog, settings: &Settings, args: &ClassifyArgs) -> Result<ExitCode> {
    let classifier = compile(catalog)?;
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

fn eval(catalog: &Catalog, settings: &Settings, args: &EvalArgs) -> Result<ExitCode> {
    use personabot::eval;
    // The message already names the path, line and cause: print it once, not as a chain.
    let rows = personabot::dataset::read_csv(&args.data).map_err(|e| anyhow::anyhow!("{e}"))?;
    let classifier = compile(catalog)?;
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

fn age(ms: u64) -> String {
    let secs = now_ms().saturating_sub(ms) / 1000;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn print_ticket(t: &Ticket) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ticket #{} [{}] team {}",
        t.id,
        t.status.as_str(),
        t.team
    );
    let _ = writeln!(
        s,
        "opened:   {} via {} (conversation {})",
        format_time(t.created_ms),
        t.channel,
        t.conversation
    );
    let scored = |x: &Option<personabot::store::ScoredId>| {
        x.as_ref()
            .map_or("none".into(), |x| format!("{} ({:.2})", x.id, x.confidence))
    };
    let _ = writeln!(s, "persona:  {}", scored(&t.persona));
    let _ = writeln!(s, "intent:   {}", scored(&t.intent));
    let _ = writeln!(s, "reason:   {}", t.reason);
    if let Some(by) = &t.claimed_by {
        let _ = writeln!(s, "claimed:  {by}");
    }
    if let Some(by) = &t.resolved_by {
        let _ = writeln!(s, "resolved: {by}");
    }
    for l in &t.relabels {
        let _ = writeln!(
            s,
            "relabel:  intent={} persona={} by {} at {}",
            l.intent.as_deref().unwrap_or("-"),
            l.persona.as_deref().unwrap_or("-"),
            l.by,
            format_time(l.at_ms)
        );
    }
    let _ = writeln!(s, "evidence:");
    for e in &t.evidence {
        let _ = writeln!(
            s,
            "  {:<30} {:+.2}  {}",
            format!("{:?}", e.term),
            e.weight,
            e.target
        );
    }
    let _ = writeln!(s, "transcript:");
    for line in &t.transcript {
        let who = match &line.from {
            personabot::store::Actor::Customer => "customer".to_string(),
            personabot::store::Actor::Bot => "bot".to_string(),
            personabot::store::Actor::Agent(a) => format!("agent {a}"),
        };
        for (n, text_line) in line.text.lines().enumerate() {
            if n == 0 {
                let _ = writeln!(s, "  [{}] {who}: {text_line}", format_time(line.at_ms));
            } else {
                let _ = writeln!(s, "      {text_line}");
            }
        }
    }
    s
}

fn tickets(store: &Store, catalog: &Catalog, cmd: &TicketsCommand) -> Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    match cmd {
        TicketsCommand::List { team, status, json } => {
            let status = match status {
                Some(s) => Some(TicketStatus::parse(s).with_context(|| {
                    format!("unknown status `{s}`: use open, claimed or resolved")
                })?),
                None => None,
            };
            let list = store.tickets(team.as_deref(), status)?;
            if *json {
                for t in &list {
                    serde_json::to_writer(&mut *out, t)?;
                    writeln!(out)?;
                }
            } else {
                writeln!(
                    out,
                    "{:>5}  {:<9} {:<10} {:<20} {:<20} {:>4}  first message",
                    "id", "status", "team", "persona", "intent", "age"
                )?;
                for t in &list {
                    let first = t
                        .transcript
                        .iter()
                        .find(|l| l.from == personabot::store::Actor::Customer)
                        .map(|l| l.text.chars().take(50).collect::<String>())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{:>5}  {:<9} {:<10} {:<20} {:<20} {:>4}  {}",
                        t.id,
                        t.status.as_str(),
                        t.team,
                        t.persona.as_ref().map_or("-", |p| p.id.as_str()),
                        t.intent.as_ref().map_or("-", |p| p.id.as_str()),
                        age(t.created_ms),
                        first.replace('\n', " ")
                    )?;
                }
                if list.is_empty() {
                    writeln!(out, "(no tickets)")?;
                }
            }
        }
        TicketsCommand::Show { id, json } => {
            let t = store
                .ticket(*id)?
                .with_context(|| format!("ticket #{id} not found"))?;
            if *json {
                serde_json::to_writer_pretty(&mut *out, &t)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", print_ticket(&t))?;
            }
        }
        TicketsCommand::Claim { id, agent } => {
            let t = store.claim_ticket(*id, agent)?;
            writeln!(out, "ticket #{} claimed by {agent}", t.id)?;
        }
        TicketsCommand::Resolve { id, agent } => {
            let t = store.resolve_ticket(*id, agent)?;
            writeln!(out, "ticket #{} resolved by {agent}", t.id)?;
        }
        TicketsCommand::Relabel {
            id,
            intent,
            persona,
            agent,
        } => {
            if let Some(i) = intent {
                if catalog.intent(i).is_none() {
                    bail!("unknown intent `{i}`");
                }
            }
            if let Some(p) = persona {
                if catalog.persona(p).is_none() {
                    bail!("unknown persona `{p}`");
                }
            }
            let t = store.relabel_ticket(*id, intent.as_deref(), persona.as_deref(), agent)?;
            writeln!(
                out,
                "ticket #{} relabelled (intent={} persona={}) by {agent}",
                t.id,
                intent.as_deref().unwrap_or("-"),
                persona.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn evidence(store: &Store, settings: &Settings, cmd: &EvidenceCommand) -> Result<ExitCode> {
    match cmd {
        EvidenceCommand::Export {
            since,
            persona,
            intent,
            outcome,
            out,
        } => {
            let since_ms = since_ms(since.as_deref())?;
            if let Some(o) = outcome {
                const OUTCOMES: [&str; 6] = [
                    "answer",
                    "ticket",
                    "clarify",
                    "fallback",
                    "helped",
                    "not-helped",
                ];
                if !OUTCOMES.contains(&o.as_str()) {
                    bail!(
                        "unknown --outcome `{o}`: use one of {}",
                        OUTCOMES.join(", ")
                    );
                }
            }
            let filter = InteractionFilter {
                since_ms,
                until_ms: None,
                persona: persona.clone(),
                intent: intent.clone(),
                outcome: outcome.clone(),
            };
            let n = match out {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(file);
                    let n = store.export(&filter, &mut w)?;
                    w.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    let n = store.export(&filter, &mut w)?;
                    w.flush()?;
                    n
                }
            };
            eprintln!("exported {n} interaction(s)");
        }
        EvidenceCommand::Forget { user } => {
            let r = store.forget_user(user)?;
            let c = store.compact()?;
            println!(
                "forgot user: {} interaction(s), {} ticket(s), {} conversation(s) deleted",
                r.interactions, r.tickets, r.conversations
            );
            eprintln!(
                "store compacted: {} records kept, the deleted ones are gone from its files",
                c.records
            );
        }
        EvidenceCommand::Compact => {
            let c = store.compact()?;
            println!(
                "compacted: {} records kept; {} -> {} bytes",
                c.records, c.bytes_before, c.bytes_after
            );
        }
        EvidenceCommand::Purge => {
            let days = settings.store.retention_days;
            if days == 0 {
                println!("retention is off (store.retention_days = 0): nothing purged");
            } else {
                let p = personabot::retention::purge(store, now_ms(), days)?;
                println!(
                    "purged {} interaction(s), {} resolved ticket(s) and {} idle conversation(s) older than {days} days",
                    p.interactions, p.tickets, p.conversations
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

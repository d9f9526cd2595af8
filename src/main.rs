//! The personabot command line: parse arguments and run one command (see `cli/`, one file per
//! command).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Parser, Subcommand};

use personabot::engine::pipeline::Pipeline;

use cli::{
    agents, audit, chat, check, classify, cluster_access, eval, evidence, learn, replay, review,
    serve, store_access, suggest, tickets,
};

/// mimalloc: a turn allocates many small short-lived values (JSON, sled nodes) across threads,
/// where it measured faster than the system allocator (see the README's load figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Classify(classify::ClassifyArgs),
    /// Measure the catalog on a labelled CSV (`text,label`): accuracy, macro-F1, per label.
    Eval(eval::EvalArgs),
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
    Tickets(tickets::TicketsCommand),
    /// Add, list, remove and rotate agent and owner accounts (their tokens sign in to /agent and
    /// /review).
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
    /// The audit log of agent and owner actions.
    Audit(audit::AuditArgs),
    /// Export or delete the logged evidence.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Learn weighted keyword profiles from a labelled CSV (text,label) into DIR/intents/.
    Learn(learn::LearnArgs),
    /// Re-run the logged interactions through the catalog (`--catalog DIR`) and show what flips.
    Replay(replay::ReplayArgs),
    /// What the evidence says per persona and about the catalog: volume, resolution, unmatched
    /// words, silent and shared keywords, agent relabels.
    Review(review::ReviewArgs),
    /// Suggest keyword additions and removals from relabels, "did not help" answers and
    /// rephrased misses, as a unified diff against the catalog's TOML files (`--apply` writes it).
    Suggest(suggest::SuggestArgs),
}

/// Files this process creates are its user's alone (0600, folders 0700): the evidence store's,
/// whichever sled writes later, exports, the control socket.
fn restrict_new_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// No transparent huge pages for this process. mimalloc asks for them on its arenas, and under
/// load the memory it gives back and takes again was refaulted 2 MiB at a time, each zeroed
/// whole: measured with `benches/wrk.sh`, `/v1/messages` had a p99 of 120 ms with them and 14 ms
/// without, at the same throughput.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory; on failure (an old
    // kernel) nothing changes.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    restrict_new_files();
    no_huge_pages();
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

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Check = cli.command {
        return check::check(&cli);
    }
    let settings = cli::load_settings(&cli)?;
    if let Command::Learn(args) = &cli.command {
        return learn::learn(&settings, args);
    }
    let catalog = cli::load_catalog(&cli, &settings)?;
    // The store commands reach a running serve's store through its control socket.
    let store = || store_access::open(&cli.data);
    // With cluster.nats_url the owner's tools read every node's records from the streams.
    let cluster = || -> Result<Option<Box<dyn store_access::StoreAccess>>> {
        match settings.cluster.url() {
            Some(_) => Ok(Some(Box::new(cluster_access::open(
                &settings.cluster,
                personabot::ops::retention::Windows::of(&settings.store),
            )?))),
            None => Ok(None),
        }
    };
    let evidence_source = || match cluster()? {
        Some(c) => Ok(c),
        None => store(),
    };
    match &cli.command {
        Command::Check | Command::Learn(_) => unreachable!("handled above"),
        Command::Classify(args) => classify::classify(&catalog, &settings, args),
        Command::Eval(args) => eval::eval(&catalog, &settings, args),
        Command::Chat(args) => {
            let classifier = cli::compile(&catalog, &settings)?;
            let store = cli::open_store(&cli)?;
            let pipeline = Pipeline::new(Arc::new(catalog), Arc::new(classifier), &settings, store);
            chat::run(&pipeline, args)
        }
        Command::Serve { listen } => {
            let classifier = cli::compile(&catalog, &settings)?;
            let store = cli::open_store(&cli)?;
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
            let source = personabot::ops::reload::ReloadSource {
                catalog_dir: cli::catalog_dir(&cli),
                settings_file: cli::settings_file(&cli),
                listen: listen.clone(),
            };
            serve::run(pipeline, settings, source, cli.data.clone())
        }
        Command::Tickets(cmd) => tickets::tickets(&*store()?, &catalog, cmd),
        Command::Agents(cmd) => agents::agents(&*store()?, &catalog, cmd),
        Command::Audit(args) if args.cluster => match cluster()? {
            Some(c) => audit::audit(&*c, args),
            None => anyhow::bail!(
                "audit --cluster reads the cluster's audit log: set cluster.nats_url \
                 (PERSONABOT__CLUSTER__NATS_URL)"
            ),
        },
        Command::Audit(args) => audit::audit(&*store()?, args),
        Command::Evidence(cmd) if cmd.reads_the_cluster() => {
            evidence::evidence(&*evidence_source()?, &settings, cmd)
        }
        Command::Evidence(cmd) => evidence::evidence(&*store()?, &settings, cmd),
        Command::Replay(args) => replay::replay(&*evidence_source()?, &catalog, &settings, args),
        Command::Review(args) if settings.cluster.url().is_some() && !args.shard.is_empty() => {
            anyhow::bail!(
                "--shard merges other stores; with cluster.nats_url the cluster's streams \
                 already hold every node's evidence: drop --shard"
            )
        }
        Command::Review(args) => {
            let mut stores = vec![evidence_source()?];
            for dir in &args.shard {
                stores.push(store_access::open(dir)?);
            }
            review::review(&stores, &catalog, args)
        }
        Command::Suggest(args) => {
            suggest::suggest(&cli, &*evidence_source()?, &catalog, &settings, args)
        }
    }
}

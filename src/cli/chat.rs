//! `personabot chat`: arguments for the terminal channel.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use personabot::channels::terminal::{self, TerminalOptions};
use personabot::engine::pipeline::Pipeline;

#[derive(Args, Debug)]
pub(crate) struct ChatArgs {
    /// Print each turn as one JSON line (the classify shape plus `reply` and `ticket`).
    #[arg(long)]
    json: bool,
    /// Conversation id [default: a new random one].
    #[arg(long)]
    conversation: Option<String>,
    /// Your user id [default: $USER].
    #[arg(long)]
    user: Option<String>,
}

pub(crate) fn run(pipeline: &Pipeline, args: &ChatArgs) -> Result<ExitCode> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal() && !args.json;
    let conversation = args.conversation.clone().unwrap_or_else(|| {
        let mut bytes = [0u8; 6];
        let _ = getrandom::fill(&mut bytes);
        format!("term-{}", personabot::core::hex::encode(&bytes))
    });
    let user = args
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "terminal-user".into());
    let options = TerminalOptions {
        conversation,
        user,
        json: args.json,
        interactive,
    };
    let stdout = std::io::stdout();
    terminal::run(pipeline, &options, &mut stdin.lock(), &mut stdout.lock())?;
    Ok(ExitCode::SUCCESS)
}

//! `personabot tickets`: list, show, claim, resolve, relabel, reply to, assign and note tickets.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use personabot::catalog::Catalog;
use personabot::engine::output;
use personabot::store::{now_ms, TicketStatus};

use super::store_access::{cli_user, StoreAccess};

#[derive(Subcommand, Debug)]
pub(crate) enum TicketsCommand {
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
    /// Reply to the customer on the ticket's channel (takes a running `serve`).
    Reply {
        id: u64,
        text: String,
        /// Who replies (default: the system user).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Assign the ticket to NAME, an agent account of its team.
    Assign {
        id: u64,
        name: String,
        /// Who assigns, for the audit log (default: the system user).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Add an internal note: agents see it, the customer never does.
    Note {
        id: u64,
        text: String,
        /// Who writes it (default: the system user).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Search tickets: words in the transcript and notes, with team, status, persona, intent,
    /// agent and dates.
    Search(super::tickets_search::SearchArgs),
}

pub(crate) fn tickets(
    store: &dyn StoreAccess,
    catalog: &Catalog,
    cmd: &TicketsCommand,
) -> Result<ExitCode> {
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
            print_tickets(out, &list, *json, "(no tickets)")?;
        }
        TicketsCommand::Show { id, json } => {
            let t = store
                .ticket(*id)?
                .with_context(|| format!("ticket #{id} not found"))?;
            let history = store.history(*id)?;
            if *json {
                let mut value = serde_json::to_value(&t)?;
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("history".into(), history.into());
                }
                serde_json::to_writer_pretty(&mut *out, &value)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", output::ticket_text(&t))?;
                write!(out, "{}", output::history_text(&history))?;
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
        TicketsCommand::Reply { id, text, agent } => {
            let agent = agent.clone().unwrap_or_else(cli_user);
            let t = store.reply_ticket(*id, &agent, text)?;
            writeln!(out, "reply sent on ticket #{} by {agent}", t.id)?;
        }
        TicketsCommand::Assign { id, name, agent } => {
            let by = agent.clone().unwrap_or_else(cli_user);
            let t = store.assign_ticket(*id, name, &by)?;
            writeln!(out, "ticket #{} assigned to {name} by {by}", t.id)?;
        }
        TicketsCommand::Note { id, text, agent } => {
            let agent = agent.clone().unwrap_or_else(cli_user);
            let t = store.note_ticket(*id, &agent, text)?;
            writeln!(out, "note added to ticket #{} by {agent}", t.id)?;
        }
        TicketsCommand::Search(args) => super::tickets_search::search(store, args)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Tickets as `tickets list` and `tickets search` print them: one JSON ticket per line, or a
/// table with `empty` under its header when there are none.
pub(super) fn print_tickets(
    out: &mut dyn Write,
    list: &[personabot::store::Ticket],
    json: bool,
    empty: &str,
) -> Result<()> {
    if json {
        for t in list {
            serde_json::to_writer(&mut *out, t)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:>5}  {:<9} {:<10} {:<20} {:<20} {:>4}  first message",
        "id", "status", "team", "persona", "intent", "age"
    )?;
    for t in list {
        let first = output::first_customer_message(t)
            .map(|text| text.chars().take(50).collect::<String>())
            .unwrap_or_default();
        writeln!(
            out,
            "{:>5}  {:<9} {:<10} {:<20} {:<20} {:>4}  {}",
            t.id,
            t.status.as_str(),
            t.team,
            t.persona.as_ref().map_or("-", |p| p.id.as_str()),
            t.intent.as_ref().map_or("-", |p| p.id.as_str()),
            output::age(now_ms(), t.created_ms),
            first.replace('\n', " ")
        )?;
    }
    if list.is_empty() {
        writeln!(out, "{empty}")?;
    }
    Ok(())
}

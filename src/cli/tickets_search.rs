//! `personabot tickets search`: the agent queue's search (`GET /v1/tickets?q=...`) from the
//! command line, on the store directly or beside a running `serve`.

use anyhow::{Context, Result};
use clap::Args;

use personabot::store::search::TicketQuery;

use super::store_access::StoreAccess;

/// What `tickets search` looks for; every part is optional and they combine.
#[derive(Args, Debug)]
pub(crate) struct SearchArgs {
    /// Words that must all occur in the transcript or the notes (any case).
    pub text: Vec<String>,
    #[arg(long)]
    pub team: Option<String>,
    /// open | claimed | resolved | all
    #[arg(long)]
    pub status: Option<String>,
    /// A persona id, or `none`.
    #[arg(long)]
    pub persona: Option<String>,
    /// An intent id, or `none`.
    #[arg(long)]
    pub intent: Option<String>,
    /// An account that claimed, resolved or wrote in the ticket.
    #[arg(long)]
    pub agent: Option<String>,
    /// Opened at or after: 2026-12-05, 2026-12-05T10:00:00Z or milliseconds.
    #[arg(long)]
    pub since: Option<String>,
    /// Opened before (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// One JSON ticket per line.
    #[arg(long)]
    pub json: bool,
}

impl SearchArgs {
    fn query(&self) -> Result<TicketQuery> {
        let text = self.text.join(" ");
        let pairs = [
            ("q", Some(&text)),
            ("team", self.team.as_ref()),
            ("status", self.status.as_ref()),
            ("persona", self.persona.as_ref()),
            ("intent", self.intent.as_ref()),
            ("agent", self.agent.as_ref()),
            ("since", self.since.as_ref()),
            ("until", self.until.as_ref()),
        ];
        TicketQuery::parse(
            pairs
                .iter()
                .filter_map(|(k, v)| v.map(|v| (*k, v.as_str()))),
        )
        .map_err(anyhow::Error::msg)
        .context("tickets search")
    }
}

/// Prints the matching tickets, newest first.
pub(crate) fn search(store: &dyn StoreAccess, args: &SearchArgs) -> Result<()> {
    let query = args.query()?;
    let mut list = store.tickets(query.team.as_deref(), query.status)?;
    list.retain(|t| query.matches(t));
    let out = &mut std::io::stdout().lock();
    super::tickets::print_tickets(out, &list, args.json, "(no tickets match)")
}

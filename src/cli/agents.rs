//! `personabot agents`: add, list, remove and rotate the agent and owner accounts that sign in to
//! `/agent` and `/review` (beside a running `serve` too, through its control socket).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

use personabot::catalog::Catalog;
use personabot::store::{format_time, now_ms, valid_account_name, Account, AccountRole};

use super::store_access::{cli_user, StoreAccess};

#[derive(Subcommand, Debug)]
pub(crate) enum AgentsCommand {
    /// Create an account; its new token is printed as the last line (shown once, only its hash
    /// is kept).
    Add {
        /// 1 to 64 of a-z, 0-9, `_`, `.`, `-`.
        name: String,
        /// agent (works tickets), owner (reads the review) or admin (both, every team).
        #[arg(long, default_value = "agent")]
        role: String,
        /// A team whose tickets the agent works (repeat for several; none: every team).
        #[arg(long = "team", value_name = "ID")]
        teams: Vec<String>,
    },
    /// List the accounts (never their tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an account: its token and sessions stop working at once.
    Remove { name: String },
    /// Give an account a new token (printed as the last line); the old one and its sessions stop
    /// working at once.
    Rotate { name: String },
}

/// Checks an account to be created against the names, roles and the catalog's teams.
fn new_account(name: &str, role: &str, teams: &[String], catalog: &Catalog) -> Result<Account> {
    valid_account_name(name).map_err(anyhow::Error::msg)?;
    let Some(role) = AccountRole::parse(role) else {
        bail!("unknown role `{role}`: use agent, owner or admin");
    };
    let mut list: Vec<String> = Vec::new();
    for team in teams {
        if !catalog.teams.contains_key(team) {
            let known: Vec<&str> = catalog.teams.keys().map(String::as_str).collect();
            bail!("unknown team `{team}`: use one of {}", known.join(", "));
        }
        if !list.contains(team) {
            list.push(team.clone());
        }
    }
    Ok(Account {
        name: name.to_string(),
        role,
        teams: list,
        created_ms: now_ms(),
    })
}

fn teams_text(account: &Account) -> String {
    match account.teams.is_empty() {
        true => "all teams".into(),
        false => account.teams.join(","),
    }
}

pub(crate) fn agents(
    store: &dyn StoreAccess,
    catalog: &Catalog,
    cmd: &AgentsCommand,
) -> Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    match cmd {
        AgentsCommand::Add { name, role, teams } => {
            let account = new_account(name, role, teams, catalog)?;
            let token = store.add_account(&account, &cli_user())?;
            writeln!(
                out,
                "account {} created ({}, {}); its token, shown only now:",
                account.name,
                account.role.as_str(),
                teams_text(&account)
            )?;
            writeln!(out, "{token}")?;
        }
        AgentsCommand::List { json } => {
            let list = store.accounts()?;
            if *json {
                for a in &list {
                    serde_json::to_writer(&mut *out, a)?;
                    writeln!(out)?;
                }
            } else {
                writeln!(out, "{:<24} {:<6} {:<20} teams", "name", "role", "created")?;
                for a in &list {
                    writeln!(
                        out,
                        "{:<24} {:<6} {:<20} {}",
                        a.name,
                        a.role.as_str(),
                        format_time(a.created_ms),
                        teams_text(a)
                    )?;
                }
                if list.is_empty() {
                    writeln!(out, "(no accounts)")?;
                }
            }
        }
        AgentsCommand::Remove { name } => {
            store.remove_account(name, &cli_user())?;
            writeln!(
                out,
                "account {name} removed; its token and sessions no longer work"
            )?;
        }
        AgentsCommand::Rotate { name } => {
            let token = store.rotate_account(name, &cli_user())?;
            writeln!(
                out,
                "account {name} has a new token (the old one and its sessions no longer work), \
                 shown only now:"
            )?;
            writeln!(out, "{token}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_accounts_are_checked() {
        let settings = personabot::catalog::settings::Settings::built_in();
        let catalog = Catalog {
            teams: settings.teams,
            ..Catalog::default()
        };
        let teams = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = new_account("ann", "agent", &teams(&["billing", "billing"]), &catalog).unwrap();
        assert_eq!(
            (ok.role, ok.teams),
            (AccountRole::Agent, teams(&["billing"]))
        );
        for (name, role, t, needle) in [
            ("Ann", "agent", &[][..], "invalid account name"),
            ("agent", "agent", &[][..], "reserved"),
            ("ann", "root", &[][..], "unknown role"),
            ("ann", "agent", &["nope"][..], "unknown team `nope`"),
        ] {
            let e = new_account(name, role, &teams(t), &catalog)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}

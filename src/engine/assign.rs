//! Round-robin assignment (`teams.<id>.assign = "round-robin"`): each new ticket of such a team
//! goes to the next of the team's signed-in agents, in turn by name. A subscriber to the
//! pipeline's ticket events, so no turn waits for it; the assignment is announced as a ticket
//! update like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::pipeline::{Pipeline, PipelineEvent};
use crate::core::model::Team;

/// The value of `teams.<id>.assign` that turns round-robin on.
pub const ROUND_ROBIN: &str = "round-robin";

/// The agent after `last` among `candidates` (by name, wrapping around); `None` without any.
pub fn next_agent<'a>(candidates: &'a BTreeSet<String>, last: Option<&str>) -> Option<&'a str> {
    last.and_then(|l| {
        candidates
            .range::<str, _>((std::ops::Bound::Excluded(l), std::ops::Bound::Unbounded))
            .next()
    })
    .or_else(|| candidates.iter().next())
    .map(String::as_str)
}

/// The teams of `teams` (`teams.<id>` settings) that assign by round-robin.
pub fn round_robin_teams(teams: &BTreeMap<String, Team>) -> BTreeSet<String> {
    teams
        .iter()
        .filter(|(_, t)| t.assign == ROUND_ROBIN)
        .map(|(id, _)| id.clone())
        .collect()
}

/// Assigns each new ticket of the teams `teams`, until the pipeline is gone.
pub async fn round_robin(pipeline: Arc<Pipeline>, teams: BTreeSet<String>) {
    let mut events = pipeline.subscribe();
    while let Some(event) = super::pipeline::next_event(&mut events, "round-robin").await {
        let PipelineEvent::TicketOpened(ticket) = event else {
            continue;
        };
        if !teams.contains(&ticket.team) {
            continue;
        }
        let p = Arc::clone(&pipeline);
        let done = tokio::task::spawn_blocking(move || p.assign_round_robin(&ticket)).await;
        match done {
            Ok(Err(e)) => tracing::error!(error = %e, "round-robin assignment failed"),
            Err(e) => tracing::error!(error = %e, "round-robin assignment failed"),
            Ok(Ok(_)) => {}
        }
    }
}

/// Starts [`round_robin`] for the round-robin teams of `teams` on the current Tokio runtime
/// (no such team, or no runtime: nothing is started).
pub fn spawn_round_robin(pipeline: Arc<Pipeline>, teams: &BTreeMap<String, Team>) {
    let teams = round_robin_teams(teams);
    if teams.is_empty() {
        return;
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(round_robin(pipeline, teams));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_take_turns_by_name() {
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let cases: &[(&[&str], Option<&str>, Option<&str>)] = &[
            (&[], None, None),
            (&[], Some("ann"), None),
            (&["ann", "bo", "cy"], None, Some("ann")),
            (&["ann", "bo", "cy"], Some("ann"), Some("bo")),
            (&["ann", "bo", "cy"], Some("cy"), Some("ann")),
            // The last one signed out: the next by name.
            (&["ann", "cy"], Some("bo"), Some("cy")),
            (&["ann"], Some("zed"), Some("ann")),
        ];
        for (names, last, want) in cases {
            assert_eq!(
                next_agent(&set(names), *last),
                *want,
                "{names:?} after {last:?}"
            );
        }
    }
}

//! Discord's ticket side: posting each new ticket to its team's channel with a thread, keeping
//! the ticket message current, relaying customer messages and notes written elsewhere into the
//! thread and agents' replies to Discord customers (the loop over the pipeline's events).

use std::sync::Arc;

use serenity::all::{ChannelId, CreateMessage, CreateThread, EditMessage, MessageId};
use serenity::http::Http;

use super::wire::{
    delivery_channel, fit, id, link_key_thread, link_key_ticket, neutralise, no_pings,
    render_ticket, ticket_components, MAX_CONTENT,
};
use super::{blocking, send, Shared, CHANNEL};
use crate::engine::pipeline::PipelineEvent;
use crate::store::Ticket;

/// Posts tickets to team channels (with a thread), keeps their messages current, relays
/// customer messages into ticket threads and agent replies to Discord customers.
pub(super) async fn ticket_events(
    http: Arc<Http>,
    s: Arc<Shared>,
    mut events: tokio::sync::broadcast::Receiver<PipelineEvent>,
) {
    while let Some(event) = crate::engine::pipeline::next_event(&mut events, CHANNEL).await {
        match event {
            PipelineEvent::TicketOpened(t) => post_ticket(&http, &s, &t).await,
            PipelineEvent::TicketUpdated(t) => {
                update_ticket(&http, &s, &t).await;
                if t.channel == CHANNEL && crate::engine::csat::asks_after_update(&t) {
                    super::rating::ask(&http, &t).await;
                }
            }
            // A note stays with the agents: one written elsewhere (the desk, Slack, the CLI)
            // is shown in the ticket's thread, in the team's channel; one written there with
            // `/note` is in it already.
            PipelineEvent::TicketNote {
                ticket: t,
                agent,
                text,
                from,
            } => {
                if from != CHANNEL {
                    let note = format!(
                        "**Note by {}** (for agents, not sent to the customer): {}",
                        neutralise(&agent),
                        neutralise(&text)
                    );
                    post_in_thread(&http, &s, t.id, &note).await;
                }
                update_ticket(&http, &s, &t).await;
            }
            PipelineEvent::TicketAssigned(t)
            | PipelineEvent::TicketRated(t)
            | PipelineEvent::TicketRaised(t) => update_ticket(&http, &s, &t).await,
            PipelineEvent::CustomerMessage { ticket, text } => {
                let line = format!("**customer:** {}", neutralise(&text));
                post_in_thread(&http, &s, ticket, &line).await;
            }
            PipelineEvent::AgentReply {
                ticket,
                agent,
                text,
            } => {
                if ticket.channel != CHANNEL {
                    continue;
                }
                if let Some(channel) = delivery_channel(&ticket.conversation).and_then(id) {
                    let team = s
                        .state
                        .pipeline
                        .catalog()
                        .team_name(&ticket.team)
                        .to_string();
                    let m = CreateMessage::new()
                        .content(fit(
                            &format!("**{team} ({}):** {}", neutralise(&agent), neutralise(&text)),
                            MAX_CONTENT,
                        ))
                        .allowed_mentions(no_pings());
                    let (result, _) = send(&http, channel, m).await;
                    if let Err(e) = result {
                        tracing::error!(error = %e, ticket = ticket.id, "agent reply not delivered");
                    }
                }
            }
        }
    }
}

/// Posts `content` (already neutralised) in the ticket's thread, the team's side; nothing when
/// the ticket has no thread on Discord.
async fn post_in_thread(http: &Http, s: &Arc<Shared>, ticket: u64, content: &str) {
    let Some(thread) = ticket_link(s, ticket).await.and_then(|(_, _, t)| id(t?)) else {
        return;
    };
    let m = CreateMessage::new()
        .content(fit(content, MAX_CONTENT))
        .allowed_mentions(no_pings());
    let (result, _) = send(http, thread, m).await;
    if let Err(e) = result {
        tracing::warn!(error = %e, ticket, "posting in the ticket thread failed");
    }
}

/// (team channel, ticket message, thread) of a posted ticket.
async fn ticket_link(s: &Arc<Shared>, ticket: u64) -> Option<(u64, u64, Option<u64>)> {
    let pipeline = s.state.pipeline.clone();
    let value = blocking(move || pipeline.store().link(&link_key_ticket(ticket)))
        .await?
        .ok()??;
    let mut parts = value.split('/');
    let channel = parts.next()?.parse().ok()?;
    let message = parts.next()?.parse().ok()?;
    let thread = parts.next().and_then(|t| t.parse().ok());
    Some((channel, message, thread))
}

async fn post_ticket(http: &Http, s: &Arc<Shared>, t: &Ticket) {
    let catalog = s.state.pipeline.catalog();
    let Some(channel) = catalog
        .teams
        .get(&t.team)
        .and_then(|team| team.discord_channel)
        .and_then(id::<ChannelId>)
    else {
        return; // this team does not work from Discord
    };
    let message = CreateMessage::new()
        .content(render_ticket(&catalog, t))
        .components(ticket_components(&catalog, t))
        .allowed_mentions(no_pings());
    let (posted, _) = send(http, channel, message).await;
    let posted = match posted {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, ticket = t.id, team = %t.team, "posting the ticket failed");
            return;
        }
    };
    let name = fit(
        &format!(
            "Ticket #{} · {}",
            t.id,
            t.intent.as_ref().map_or("question", |i| i.id.as_str())
        ),
        100,
    );
    let thread = match channel
        .create_thread_from_message(http, posted.id, CreateThread::new(name))
        .await
    {
        Ok(thread) => Some(thread.id.get()),
        Err(e) => {
            tracing::error!(error = %e, ticket = t.id, "creating the ticket thread failed");
            None
        }
    };
    let link = match thread {
        Some(th) => format!("{channel}/{}/{th}", posted.id.get()),
        None => format!("{channel}/{}", posted.id.get()),
    };
    let pipeline = s.state.pipeline.clone();
    let ticket = t.id;
    blocking(move || {
        // Both links at once: an agent may write in the thread as soon as it is seen.
        let (ticket_key, ticket_value) = (link_key_ticket(ticket), ticket.to_string());
        let thread_key = thread.map(link_key_thread);
        let mut pairs = vec![(ticket_key.as_str(), link.as_str())];
        if let Some(key) = &thread_key {
            pairs.push((key.as_str(), ticket_value.as_str()));
        }
        if let Err(e) = pipeline.store().set_links(&pairs) {
            tracing::error!(error = %e, ticket, "saving the ticket link failed");
        }
    })
    .await;
}

async fn update_ticket(http: &Http, s: &Arc<Shared>, t: &Ticket) {
    let Some((channel, message, _)) = ticket_link(s, t.id).await else {
        return;
    };
    let (Some(channel), Some(message)) = (id::<ChannelId>(channel), id::<MessageId>(message))
    else {
        return;
    };
    let catalog = s.state.pipeline.catalog();
    let edit = EditMessage::new()
        .content(render_ticket(&catalog, t))
        .components(ticket_components(&catalog, t))
        .allowed_mentions(no_pings());
    if let Err(e) = channel.edit_message(http, message, edit).await {
        tracing::error!(error = %e, ticket = t.id, "updating the ticket message failed");
    }
}

//! Discord's interactions: the slash commands (`/help`, `/ticket`; agents' `/claim`,
//! `/resolve`, `/relabel`) and presses on the bot's buttons and menus (feedback, a clarifying
//! question's options, "How did we do?" ratings: see `rating.rs`), with the agent actions they
//! run.

use std::sync::Arc;

use serenity::all::{
    ChannelId, CommandDataOptionValue, CommandInteraction, ComponentInteraction,
    ComponentInteractionDataKind, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, RoleId,
};
use serenity::http::Http;

use super::wire::{conversation_key, fit, no_pings, text_response, Control, MAX_CONTENT};
use super::{blocking, deliver, send, Shared, CHANNEL};
use crate::channels::markdown;
use crate::core::wording;
use crate::engine::pipeline::{Inbound, Mode, PipelineError};
use crate::engine::Admission;

fn option_str(c: &CommandInteraction, name: &str) -> Option<String> {
    c.data
        .options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.clone()),
            CommandDataOptionValue::Integer(i) => Some(i.to_string()),
            _ => None,
        })
}

async fn respond(ctx: &Context, c: &CommandInteraction, text: &str, ephemeral: bool) {
    if let Err(e) = c
        .create_response(&ctx.http, text_response(text, ephemeral))
        .await
    {
        tracing::error!(error = %e, "Discord interaction response failed");
    }
}

async fn respond_component(ctx: &Context, c: &ComponentInteraction, text: &str, ephemeral: bool) {
    if let Err(e) = c
        .create_response(&ctx.http, text_response(text, ephemeral))
        .await
    {
        tracing::error!(error = %e, "Discord interaction response failed");
    }
}

/// The conversation of an interaction's user in its channel, the same as their messages there:
/// a DM or a support thread is one conversation; elsewhere in a guild, each user has their own.
async fn interaction_conversation(
    s: &Shared,
    http: &Http,
    channel: ChannelId,
    user: u64,
    in_guild: bool,
) -> String {
    let one_conversation = !in_guild
        || (!s.settings.support_channels.contains(&channel.get())
            && s.is_support_thread(http, channel).await);
    conversation_key(channel.get(), user, !one_conversation)
}

pub(super) async fn on_command(s: Arc<Shared>, ctx: &Context, c: &CommandInteraction) {
    let user = c.user.id.get();
    let roles: Vec<RoleId> = c
        .member
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let name = c.data.name.as_str();
    match name {
        "help" | "ticket" => {
            let text = option_str(
                c,
                if name == "help" {
                    "question"
                } else {
                    "summary"
                },
            )
            .unwrap_or_default();
            let inbound = Inbound {
                channel: CHANNEL.into(),
                conversation: interaction_conversation(
                    &s,
                    &ctx.http,
                    c.channel_id,
                    user,
                    c.guild_id.is_some(),
                )
                .await,
                user: user.to_string(),
                text,
            };
            let mode = if name == "help" {
                Mode::Route
            } else {
                Mode::Ticket
            };
            let reply = match s.state.handle(inbound, mode).await {
                Ok(o) => o
                    .reply
                    .map_or_else(|| wording::AGENT_HAS_IT.into(), |r| markdown::discord(&r)),
                Err(e) => e.user_message(),
            };
            respond(ctx, c, &reply, true).await;
        }
        "claim" | "resolve" | "relabel" => {
            let Some(ticket) = option_str(c, "ticket").and_then(|t| t.parse::<u64>().ok()) else {
                respond(ctx, c, wording::WHICH_TICKET, true).await;
                return;
            };
            let agent = c.user.name.clone();
            let intent = option_str(c, "intent");
            let persona = option_str(c, "persona");
            let action = match name {
                "claim" => AgentAction::Claim,
                "resolve" => AgentAction::Resolve,
                _ => AgentAction::Relabel { intent, persona },
            };
            let text = agent_action(&s, ticket, &roles, &agent, action).await;
            respond(ctx, c, &text, true).await;
        }
        _ => respond(ctx, c, wording::UNKNOWN_COMMAND, true).await,
    }
}

enum AgentAction {
    Claim,
    Resolve,
    Relabel {
        intent: Option<String>,
        persona: Option<String>,
    },
}

/// Runs an agent action if the user has the ticket team's role; returns the text to show them.
async fn agent_action(
    s: &Arc<Shared>,
    ticket: u64,
    roles: &[RoleId],
    agent: &str,
    action: AgentAction,
) -> String {
    let pipeline = s.state.pipeline.clone();
    let found = blocking(move || pipeline.store().ticket(ticket)).await;
    let t = match found {
        Some(Ok(Some(t))) => t,
        Some(Ok(None)) => return wording::no_such_ticket(ticket),
        _ => return wording::SOMETHING_WRONG.into(),
    };
    if !s.is_agent(&t.team, roles) {
        let team = s.state.pipeline.catalog().team_name(&t.team).to_string();
        return wording::team_members_only(&team, ticket);
    }
    let pipeline = s.state.pipeline.clone();
    let agent = agent.to_string();
    let result = blocking(move || match action {
        AgentAction::Claim => pipeline
            .claim(ticket, &agent)
            .map(|_| wording::claimed(ticket)),
        AgentAction::Resolve => pipeline
            .resolve(ticket, &agent)
            .map(|_| wording::resolved(ticket)),
        AgentAction::Relabel { intent, persona } => pipeline
            .relabel(ticket, intent.as_deref(), persona.as_deref(), &agent)
            .map(|_| wording::relabelled(ticket, intent.as_deref(), persona.as_deref())),
    })
    .await;
    match result {
        Some(Ok(text)) => text,
        Some(Err(e)) => e.user_message(),
        None => wording::SOMETHING_WRONG.into(),
    }
}

pub(super) async fn on_component(s: Arc<Shared>, ctx: &Context, c: &ComponentInteraction) {
    let Some(control) = Control::parse(&c.data.custom_id) else {
        return;
    };
    let presser = c.user.id.get();
    let roles: Vec<RoleId> = c
        .member
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    match control {
        Control::Helped { user } | Control::Human { user } => {
            if user != presser {
                respond_component(ctx, c, wording::NOT_YOUR_BUTTONS, true).await;
                return;
            }
            let helped = matches!(control, Control::Helped { .. });
            let conversation =
                interaction_conversation(&s, &ctx.http, c.channel_id, user, c.guild_id.is_some())
                    .await;
            let pipeline = s.state.pipeline.clone();
            let result = blocking(move || {
                pipeline.feedback(CHANNEL, &conversation, &user.to_string(), helped)
            })
            .await;
            match result {
                Some(Ok(outcome)) => {
                    // Replace the buttons with the outcome, in place.
                    let mut content = c.message.content.clone();
                    if let Some(reply) = &outcome.reply {
                        let reply = markdown::discord(reply);
                        content = fit(&format!("{content}\n\n{reply}"), MAX_CONTENT);
                    }
                    let update = CreateInteractionResponseMessage::new()
                        .content(content)
                        .components(Vec::new())
                        .allowed_mentions(no_pings());
                    if let Err(e) = c
                        .create_response(
                            &ctx.http,
                            CreateInteractionResponse::UpdateMessage(update),
                        )
                        .await
                    {
                        tracing::error!(error = %e, "Discord button response failed");
                    }
                }
                Some(Err(e)) => respond_component(ctx, c, &e.user_message(), true).await,
                None => respond_component(ctx, c, wording::SOMETHING_WRONG, true).await,
            }
        }
        Control::Choose { user, intent } => {
            if user != presser {
                respond_component(ctx, c, wording::NOT_YOUR_BUTTONS, true).await;
                return;
            }
            choose(s, ctx, c, user, &intent).await;
        }
        Control::Claim { ticket } | Control::Resolve { ticket } => {
            let action = if matches!(control, Control::Claim { .. }) {
                AgentAction::Claim
            } else {
                AgentAction::Resolve
            };
            let text = agent_action(&s, ticket, &roles, &c.user.name, action).await;
            respond_component(ctx, c, &text, true).await;
        }
        Control::RelabelIntent { ticket } | Control::RelabelPersona { ticket } => {
            let value = match &c.data.kind {
                ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
                _ => None,
            };
            let Some(value) = value else {
                respond_component(ctx, c, wording::PICK_A_VALUE, true).await;
                return;
            };
            let action = if matches!(control, Control::RelabelIntent { .. }) {
                AgentAction::Relabel {
                    intent: Some(value),
                    persona: None,
                }
            } else {
                AgentAction::Relabel {
                    intent: None,
                    persona: Some(value),
                }
            };
            let text = agent_action(&s, ticket, &roles, &c.user.name, action).await;
            respond_component(ctx, c, &text, true).await;
        }
        Control::Rate { ticket, rating } => {
            super::rating::on_press(&s, ctx, c, ticket, rating).await;
        }
        Control::RateComment { ticket } => {
            super::rating::on_comment_press(&s, ctx, c, ticket).await;
        }
        // A form's id, never a button's.
        Control::RateModal { .. } => {}
    }
}

/// A press on an option of a clarifying question: the option's name goes into the pipeline as
/// the customer's next message in the conversation (the options' buttons go), and the reply is
/// delivered like any other.
async fn choose(s: Arc<Shared>, ctx: &Context, c: &ComponentInteraction, user: u64, intent: &str) {
    let Some(name) = s
        .state
        .pipeline
        .catalog()
        .intent(intent)
        .map(|i| i.name.clone())
    else {
        respond_component(ctx, c, wording::EXPIRED_BUTTON, true).await;
        return;
    };
    match s.state.admit(CHANNEL, &user.to_string()) {
        Admission::Allow => {}
        Admission::Notify(notice) => return respond_component(ctx, c, &notice, true).await,
        Admission::Drop => {
            let _ = c
                .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                .await;
            return;
        }
    }
    let content = fit(
        &format!("{}\n\n→ {}", c.message.content, markdown::discord(&name)),
        MAX_CONTENT,
    );
    let update = CreateInteractionResponseMessage::new()
        .content(content)
        .components(Vec::new())
        .allowed_mentions(no_pings());
    if let Err(e) = c
        .create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(update))
        .await
    {
        tracing::error!(error = %e, "Discord option response failed");
    }
    let inbound = Inbound {
        channel: CHANNEL.into(),
        conversation: interaction_conversation(
            &s,
            &ctx.http,
            c.channel_id,
            user,
            c.guild_id.is_some(),
        )
        .await,
        user: user.to_string(),
        text: name,
    };
    match s.state.handle(inbound, Mode::Route).await {
        Ok(outcome) => {
            deliver(
                s.clone(),
                &ctx.http,
                c.channel_id,
                Some(&c.message),
                user,
                &outcome,
            )
            .await
        }
        Err(e) => {
            if let PipelineError::Store(inner) = &e {
                tracing::error!(error = %inner, "Discord option failed");
            }
            let reply = CreateMessage::new()
                .content(e.user_message())
                .allowed_mentions(no_pings());
            let _ = send(&ctx.http, c.channel_id, reply).await;
        }
    }
}

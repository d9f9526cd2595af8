//! Discord's wire format, all pure: conversation keys, the custom ids of the bot's buttons and
//! menus ([`Control`]), mention neutralising, text cutting, the ticket message and its controls,
//! the customer's buttons, the slash commands, and what to retry. Tested below.

use serenity::all::{
    ActionRowComponent, ButtonStyle, CommandOptionType, CreateActionRow, CreateAllowedMentions,
    CreateButton, CreateCommand, CreateCommandOption, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateModal, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, InputTextStyle,
};
use serenity::http::HttpError;

use crate::catalog::Catalog;
use crate::channels::kit::{Action, Buttons, Failure, HELPED_LABEL, HUMAN_LABEL};
use crate::core::model::is_valid_id;
use crate::store::{Ticket, TicketStatus};

/// Discord's message length limit, in characters.
pub(super) const MAX_CONTENT: usize = 2000;

/// The conversation a message belongs to: a DM channel or a thread is one conversation; in a
/// shared support channel, each customer has their own.
pub fn conversation_key(channel: u64, author: u64, shared_channel: bool) -> String {
    if shared_channel {
        format!("{channel}/{author}")
    } else {
        channel.to_string()
    }
}

/// The channel a conversation's replies go to (never 0: no Discord id is).
pub fn delivery_channel(conversation: &str) -> Option<u64> {
    conversation
        .split('/')
        .next()?
        .parse()
        .ok()
        .filter(|id| *id != 0)
}

/// A Discord id (channel, message, guild) from a number; `None` for 0, which no Discord object
/// has and on which serenity's `ChannelId::new` and friends panic.
pub fn id<T: From<std::num::NonZeroU64>>(id: u64) -> Option<T> {
    std::num::NonZeroU64::new(id).map(T::from)
}

/// A button or select menu the bot made, decoded from its custom id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// "That helped", for the customer `user`.
    Helped {
        user: u64,
    },
    /// "Talk to a human", for the customer `user`.
    Human {
        user: u64,
    },
    /// An option of a clarifying question (an intent id), for the customer `user`.
    Choose {
        user: u64,
        intent: String,
    },
    Claim {
        ticket: u64,
    },
    Resolve {
        ticket: u64,
    },
    RelabelIntent {
        ticket: u64,
    },
    RelabelPersona {
        ticket: u64,
    },
    /// A "How did we do?" button: `rating` (1 to 5) for `ticket`, pressable by its customer.
    Rate {
        ticket: u64,
        rating: u8,
    },
    /// "Add a comment" to the rating of `ticket`: opens [`Control::RateModal`].
    RateComment {
        ticket: u64,
    },
    /// The comment form (a modal) for the rating of `ticket`.
    RateModal {
        ticket: u64,
    },
}

impl Control {
    pub fn custom_id(&self) -> String {
        match self {
            Control::Helped { user } => format!("pb:helped:{user}"),
            Control::Human { user } => format!("pb:human:{user}"),
            Control::Choose { user, intent } => format!("pb:choose:{user}:{intent}"),
            Control::Claim { ticket } => format!("pb:claim:{ticket}"),
            Control::Resolve { ticket } => format!("pb:resolve:{ticket}"),
            Control::RelabelIntent { ticket } => format!("pb:relabel-intent:{ticket}"),
            Control::RelabelPersona { ticket } => format!("pb:relabel-persona:{ticket}"),
            Control::Rate { ticket, rating } => format!("pb:rate:{ticket}:{rating}"),
            Control::RateComment { ticket } => format!("pb:rate-comment:{ticket}"),
            Control::RateModal { ticket } => format!("pb:rate-modal:{ticket}"),
        }
    }

    pub fn parse(custom_id: &str) -> Option<Control> {
        let mut parts = custom_id.split(':');
        if parts.next()? != "pb" {
            return None;
        }
        let action = parts.next()?;
        let n: u64 = parts.next()?.parse().ok()?;
        let extra = parts.next();
        if parts.next().is_some() {
            return None;
        }
        if let (Some(rating), "rate") = (extra, action) {
            let rating = rating.parse::<u8>().ok().filter(|r| (1..=5).contains(r))?;
            return Some(Control::Rate { ticket: n, rating });
        }
        if let Some(intent) = extra {
            return (action == "choose" && is_valid_id(intent)).then(|| Control::Choose {
                user: n,
                intent: intent.to_string(),
            });
        }
        Some(match action {
            "helped" => Control::Helped { user: n },
            "human" => Control::Human { user: n },
            "claim" => Control::Claim { ticket: n },
            "resolve" => Control::Resolve { ticket: n },
            "relabel-intent" => Control::RelabelIntent { ticket: n },
            "relabel-persona" => Control::RelabelPersona { ticket: n },
            "rate-comment" => Control::RateComment { ticket: n },
            "rate-modal" => Control::RateModal { ticket: n },
            _ => return None,
        })
    }
}

/// Makes echoed text inert: `@everyone`, `@here`, user/role/channel mentions and masked links
/// no longer work (a zero-width space breaks them; the text still reads the same), and
/// bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), which could make an
/// agent read the text in a spoofed order, are dropped.
pub fn neutralise(text: &str) -> String {
    const ZWSP: char = '\u{200B}';
    // Bidirectional controls go first: dropped inside the loop, they would join the halves of
    // a mention that were checked apart ("<\u{202E}@everyone").
    let text: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        let lower = rest.get(..9).map(str::to_ascii_lowercase);
        if c == '@'
            && (lower.as_deref() == Some("@everyone")
                || rest.get(..5).map(str::to_ascii_lowercase).as_deref() == Some("@here"))
        {
            out.push('@');
            out.push(ZWSP);
        } else if rest.starts_with("<@") || rest.starts_with("<#") {
            out.push('<');
            out.push(ZWSP);
        } else if rest.starts_with("](") {
            out.push(']');
            out.push(ZWSP);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Cuts text to Discord's limit, on a character boundary, marking the cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The ticket message posted in the team's channel: who, what, why, evidence and transcript.
pub fn render_ticket(catalog: &Catalog, t: &Ticket) -> String {
    let scored = |s: &Option<crate::store::ScoredId>| {
        s.as_ref().map_or("unknown".to_string(), |s| {
            format!("{} ({:.2})", s.id, s.confidence)
        })
    };
    let status = match (&t.status, &t.claimed_by, &t.resolved_by) {
        (TicketStatus::Resolved, _, Some(by)) => format!("resolved by {}", neutralise(by)),
        (TicketStatus::Claimed, Some(by), _) => format!("claimed by {}", neutralise(by)),
        (status, ..) => status.as_str().to_string(),
    };
    let mut head = format!(
        "**Ticket #{}** for {} · {status}\nPersona: {} · Intent: {}\nWhy: {}\nFrom: {} conversation `{}`",
        t.id,
        catalog.team_name(&t.team),
        scored(&t.persona),
        scored(&t.intent),
        neutralise(&t.reason),
        // Both come from the customer's side (the HTTP API takes any channel and conversation
        // id), so they are echoed text like the rest.
        neutralise(&t.channel),
        neutralise(&t.conversation)
    );
    let evidence: Vec<String> = t
        .evidence
        .iter()
        .filter(|e| !e.target.starts_with("exclude:"))
        .take(12)
        .map(|e| {
            format!(
                "\"{}\" → {} ({:+.1})",
                neutralise(&e.term),
                e.target,
                e.weight
            )
        })
        .collect();
    if !evidence.is_empty() {
        head.push_str(&format!("\nEvidence: {}", evidence.join(", ")));
    }
    for l in &t.relabels {
        head.push_str(&format!(
            "\nRelabelled by {}: intent {} · persona {}",
            neutralise(&l.by),
            l.intent.as_deref().unwrap_or("-"),
            l.persona.as_deref().unwrap_or("-")
        ));
    }
    // The most recent transcript lines that fit.
    let mut lines: Vec<String> = Vec::new();
    let mut budget = MAX_CONTENT.saturating_sub(head.chars().count() + 20);
    for line in t.transcript.iter().rev() {
        let who = match &line.from {
            crate::store::Actor::Customer => "customer".to_string(),
            crate::store::Actor::Bot => "bot".to_string(),
            crate::store::Actor::Agent(a) => format!("agent {}", neutralise(a)),
        };
        let text = fit(&neutralise(&line.text).replace('\n', " "), 300);
        let rendered = format!("> **{who}:** {text}");
        let cost = rendered.chars().count() + 1;
        if cost > budget {
            break;
        }
        budget -= cost;
        lines.push(rendered);
    }
    lines.reverse();
    let mut out = head;
    if !lines.is_empty() {
        out.push_str("\nTranscript:\n");
        out.push_str(&lines.join("\n"));
    }
    fit(&out, MAX_CONTENT)
}

/// The agent controls under a ticket message (none once resolved).
/// The five "How did we do?" buttons for a resolved ticket, labelled 1 to 5.
pub(super) fn rating_components(ticket: u64) -> Vec<CreateActionRow> {
    let buttons = (1..=5u8)
        .zip(crate::engine::csat::LABELS)
        .map(|(rating, label)| {
            CreateButton::new(Control::Rate { ticket, rating }.custom_id())
                .label(label)
                .style(ButtonStyle::Secondary)
        })
        .collect();
    vec![CreateActionRow::Buttons(buttons)]
}

/// The label of the button that opens the rating's comment form.
pub const ADD_A_COMMENT: &str = "Add a comment";

/// The custom id of the comment form's text input.
pub const COMMENT_INPUT: &str = "comment";

/// Under a rating: "Add a comment".
pub(super) fn comment_components(ticket: u64) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![CreateButton::new(
        Control::RateComment { ticket }.custom_id(),
    )
    .label(ADD_A_COMMENT)
    .style(ButtonStyle::Secondary)])]
}

/// The comment form for the rating of `ticket`: one optional paragraph.
pub(super) fn comment_modal(ticket: u64) -> CreateModal {
    let input = CreateInputText::new(InputTextStyle::Paragraph, "Your comment", COMMENT_INPUT)
        .required(false)
        .max_length(crate::engine::csat::MAX_COMMENT_CHARS as u16);
    CreateModal::new(Control::RateModal { ticket }.custom_id(), "How did we do?")
        .components(vec![CreateActionRow::InputText(input)])
}

/// The text typed into the comment form, if any.
pub fn modal_comment(rows: &[serenity::all::ActionRow]) -> Option<String> {
    rows.iter()
        .flat_map(|row| row.components.iter())
        .find_map(|c| match c {
            ActionRowComponent::InputText(t) if t.custom_id == COMMENT_INPUT => t.value.clone(),
            _ => None,
        })
}

pub(super) fn ticket_components(catalog: &Catalog, t: &Ticket) -> Vec<CreateActionRow> {
    if t.status == TicketStatus::Resolved {
        return Vec::new();
    }
    let buttons = vec![
        CreateButton::new(Control::Claim { ticket: t.id }.custom_id())
            .label("Claim")
            .style(ButtonStyle::Primary)
            .disabled(t.status == TicketStatus::Claimed),
        CreateButton::new(Control::Resolve { ticket: t.id }.custom_id())
            .label("Resolve")
            .style(ButtonStyle::Success),
    ];
    let intents = catalog
        .intents
        .iter()
        .take(25)
        .map(|i| CreateSelectMenuOption::new(fit(&i.name, 100), i.id.clone()))
        .collect();
    let personas = catalog
        .personas
        .iter()
        .take(25)
        .map(|p| CreateSelectMenuOption::new(fit(&p.name, 100), p.id.clone()))
        .collect();
    vec![
        CreateActionRow::Buttons(buttons),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                Control::RelabelIntent { ticket: t.id }.custom_id(),
                CreateSelectMenuKind::String { options: intents },
            )
            .placeholder("Relabel intent"),
        ),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                Control::RelabelPersona { ticket: t.id }.custom_id(),
                CreateSelectMenuKind::String { options: personas },
            )
            .placeholder("Relabel persona"),
        ),
    ]
}

/// Mentions nobody: replies and ticket messages never ping anyone.
pub(super) fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

/// Discord's limits: buttons in a row, rows in a message, characters in a custom id and a label.
const ROW: usize = 5;
const ROWS: usize = 5;
const MAX_CUSTOM_ID: usize = 100;
const MAX_LABEL: usize = 80;

/// The customer's buttons under a reply, for the customer `user`: the feedback buttons the
/// turn offers (`actions`), in one row, and a clarifying question's options, five to a row (an
/// option whose intent id makes the custom id too long is left to typing).
pub(super) fn answer_buttons(user: u64, buttons: &Buttons) -> Vec<CreateActionRow> {
    let mut rows = Vec::new();
    let feedback: Vec<CreateButton> = buttons
        .actions
        .iter()
        .map(|action| match action {
            Action::Helped => CreateButton::new(Control::Helped { user }.custom_id())
                .label(HELPED_LABEL)
                .style(ButtonStyle::Success),
            Action::Human => CreateButton::new(Control::Human { user }.custom_id())
                .label(HUMAN_LABEL)
                .style(ButtonStyle::Secondary),
        })
        .collect();
    if !feedback.is_empty() {
        rows.push(CreateActionRow::Buttons(feedback));
    }
    let options: Vec<CreateButton> = buttons
        .choices
        .iter()
        .filter_map(|c| {
            let id = Control::Choose {
                user,
                intent: c.id.clone(),
            }
            .custom_id();
            (id.len() <= MAX_CUSTOM_ID).then(|| {
                CreateButton::new(id)
                    .label(fit(&c.name, MAX_LABEL))
                    .style(ButtonStyle::Primary)
            })
        })
        .collect();
    for chunk in options.chunks(ROW) {
        if rows.len() < ROWS {
            rows.push(CreateActionRow::Buttons(chunk.to_vec()));
        }
    }
    rows
}

/// How a failed Discord call is retried ([`kit::retry_wait`]). serenity keeps no `Retry-After`
/// of a 429 it passes on (its own rate limiter, on unless a proxy base URL is set, honours
/// them before a request is sent; behind a proxy, the proxy does), so a 429 waits the policy's
/// default.
///
/// [`kit::retry_wait`]: crate::channels::kit::retry_wait
pub fn failure(e: &serenity::Error) -> Failure {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => match r.status_code.as_u16() {
            429 => Failure::RateLimited(None),
            s if s >= 500 => Failure::Server,
            _ => Failure::Final,
        },
        serenity::Error::Http(HttpError::Request(e)) if e.is_connect() => Failure::Unreachable,
        _ => Failure::Final,
    }
}

pub(super) fn link_key_ticket(ticket: u64) -> String {
    format!("discord:ticket:{ticket}")
}

pub(super) fn link_key_thread(thread: u64) -> String {
    format!("discord:thread:{thread}")
}

/// A text reply to an interaction that pings nobody.
pub(super) fn text_response(text: &str, ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(fit(text, MAX_CONTENT))
            .ephemeral(ephemeral)
            .allowed_mentions(no_pings()),
    )
}

/// The slash commands: `/help`, `/ticket` for customers; `/claim`, `/resolve`, `/relabel` for
/// agents.
pub(super) fn slash_commands(catalog: &Catalog) -> Vec<CreateCommand> {
    let ticket_option = || {
        CreateCommandOption::new(CommandOptionType::Integer, "ticket", "Ticket number")
            .required(true)
    };
    let mut intent =
        CreateCommandOption::new(CommandOptionType::String, "intent", "The right intent");
    for i in catalog.intents.iter().take(25) {
        intent = intent.add_string_choice(fit(&i.name, 100), i.id.clone());
    }
    let mut persona =
        CreateCommandOption::new(CommandOptionType::String, "persona", "The right persona");
    for p in catalog.personas.iter().take(25) {
        persona = persona.add_string_choice(fit(&p.name, 100), p.id.clone());
    }
    vec![
        CreateCommand::new("help")
            .description("Ask a question; the answer is shown only to you")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "question", "Your question")
                    .required(true),
            ),
        CreateCommand::new("ticket")
            .description("Go straight to a person on our team")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "summary",
                    "What you need help with",
                )
                .required(true),
            ),
        CreateCommand::new("claim")
            .description("Agents: claim a ticket")
            .add_option(ticket_option()),
        CreateCommand::new("resolve")
            .description("Agents: resolve a ticket")
            .add_option(ticket_option()),
        CreateCommand::new("relabel")
            .description("Agents: correct a ticket's intent and/or persona")
            .add_option(ticket_option())
            .add_option(intent)
            .add_option(persona),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_round_trip() {
        let controls = [
            Control::Helped { user: 7 },
            Control::Human { user: 7 },
            Control::Choose {
                user: 7,
                intent: "security-compliance".into(),
            },
            Control::Claim { ticket: 12 },
            Control::Resolve { ticket: 12 },
            Control::RelabelIntent { ticket: 12 },
            Control::RelabelPersona { ticket: 12 },
            Control::Rate {
                ticket: 12,
                rating: 1,
            },
            Control::Rate {
                ticket: 12,
                rating: 5,
            },
            Control::RateComment { ticket: 12 },
            Control::RateModal { ticket: 12 },
        ];
        for c in controls {
            assert_eq!(Control::parse(&c.custom_id()), Some(c.clone()), "{c:?}");
            assert!(
                c.custom_id().len() <= 100,
                "Discord limits custom ids to 100 characters"
            );
        }
        for bad in [
            "",
            "pb",
            "pb:claim",
            "pb:claim:x",
            "pb:nope:1",
            "xx:claim:1",
            "pb:claim:1:2",
            "pb:helped:1:pricing",
            "pb:choose:1",
            "pb:choose:x:pricing",
            "pb:choose:1:",
            "pb:choose:1:Pricing",
            "pb:choose:1:pricing:2",
            "pb:choose:1:../x",
            "pb:rate:12",
            "pb:rate:12:0",
            "pb:rate:12:6",
            "pb:rate:12:x",
            "pb:rate:12:3:1",
        ] {
            assert_eq!(Control::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn answer_buttons_follow_the_actions_and_choices() {
        let rows = |buttons: &Buttons| -> Vec<Vec<(String, String)>> {
            answer_buttons(7, buttons)
                .iter()
                .map(|row| {
                    let row = serde_json::to_value(row).expect("a row serialises");
                    row["components"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                            (s(&b["label"]), s(&b["custom_id"]))
                        })
                        .collect()
                })
                .collect()
        };
        let pair = |l: &str, id: &str| (l.to_string(), id.to_string());
        let choice = |n: usize| crate::channels::kit::Choice {
            id: format!("intent-{n}"),
            name: format!("Intent {n}"),
        };
        let with = |actions: Vec<Action>, choices: Vec<crate::channels::kit::Choice>| Buttons {
            actions,
            choices,
        };
        assert!(rows(&Buttons::default()).is_empty());
        assert_eq!(
            rows(&with(vec![Action::Helped, Action::Human], vec![])),
            [vec![
                pair(HELPED_LABEL, "pb:helped:7"),
                pair(HUMAN_LABEL, "pb:human:7")
            ]]
        );
        assert_eq!(
            rows(&with(vec![Action::Human], vec![])),
            [vec![pair(HUMAN_LABEL, "pb:human:7")]]
        );
        let mut long = choice(0);
        long.id = "x".repeat(100);
        let options = rows(&with(vec![], [long, choice(1), choice(2)].to_vec()));
        assert_eq!(
            options,
            [vec![
                pair("Intent 1", "pb:choose:7:intent-1"),
                pair("Intent 2", "pb:choose:7:intent-2")
            ]]
        );
        // Five to a row, at most five rows.
        let many = rows(&with(vec![], (0..30).map(choice).collect()));
        assert_eq!(many.iter().map(Vec::len).collect::<Vec<_>>(), [5; 5]);
    }

    #[test]
    fn neutralise_table() {
        let cases = [
            ("hi @everyone", "hi @\u{200B}everyone"),
            ("@HERE now", "@\u{200B}HERE now"),
            (
                "ping <@123> and <@!456> and <@&789>",
                "ping <\u{200B}@123> and <\u{200B}@!456> and <\u{200B}@&789>",
            ),
            ("see <#42>", "see <\u{200B}#42>"),
            (
                "[click](https://evil.example)",
                "[click]\u{200B}(https://evil.example)",
            ),
            ("email a@b.com", "email a@b.com"),
            ("naïve @ café", "naïve @ café"),
            ("invoice_\u{202E}fdp.exe", "invoice_fdp.exe"),
            ("\u{2067}isolated\u{2069} text", "isolated text"),
            // Found by tests/properties/: a dropped control must not join a mention's halves.
            ("<\u{202E}@everyone", "<\u{200B}@\u{200B}everyone"),
            ("]\u{2066}(x)", "]\u{200B}(x)"),
            ("@\u{202D}here", "@\u{200B}here"),
        ];
        for (input, expected) in cases {
            assert_eq!(neutralise(input), expected, "{input:?}");
        }
    }

    #[test]
    fn a_ticket_cannot_mention_or_link_through_its_channel_or_conversation() {
        // Found by tests/properties/: a ticket opened over the HTTP API carries the caller's
        // `channel` and `conversation`, and both were shown raw on the team's ticket message.
        let ticket = Ticket {
            id: 1,
            team: "support".into(),
            status: TicketStatus::Open,
            created_ms: 0,
            updated_ms: 0,
            channel: "@everyone".into(),
            conversation: "c` <@&1> [x](https://evil.example) `".into(),
            user: "u".into(),
            persona: None,
            intent: None,
            evidence: Vec::new(),
            reason: "asked for a human".into(),
            interaction: 1,
            transcript: Vec::new(),
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
            contact: None,
            priority: Default::default(),
            assigned_to: None,
            notes: Vec::new(),
            csat: None,
        };
        let text = render_ticket(&Catalog::default(), &ticket);
        assert!(
            text.contains("From: @\u{200B}everyone conversation `c` <\u{200B}@&1> [x]\u{200B}("),
            "{text}"
        );
        for active in ["@everyone", "<@", "]("] {
            assert!(!text.contains(active), "{active:?} in {text}");
        }
    }

    #[test]
    fn conversation_keys() {
        assert_eq!(conversation_key(10, 20, true), "10/20");
        assert_eq!(conversation_key(10, 20, false), "10");
        assert_eq!(delivery_channel("10/20"), Some(10));
        assert_eq!(delivery_channel("10"), Some(10));
        assert_eq!(delivery_channel("term-1"), None);
    }

    #[test]
    fn fit_cuts_on_characters() {
        assert_eq!(fit("héllo", 10), "héllo");
        assert_eq!(fit("héllo wörld", 5), "héll…");
        assert_eq!(
            fit(&"x".repeat(3000), MAX_CONTENT).chars().count(),
            MAX_CONTENT
        );
    }
}

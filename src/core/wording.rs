//! The bot's own sentences, in one place: what it says to customers and to agents on every
//! channel (answers and team names come from the catalog and settings). Rebranding or
//! translating the bot's voice starts here; tests that quote a sentence read it from here.

// ----------------------------------------------------------------------------------------------
// To customers
// ----------------------------------------------------------------------------------------------

/// A message with no text in it.
pub const EMPTY_MESSAGE: &str = "Your message looks empty. What can I help you with?";

/// A message that only says who the customer is ("I'm a founder").
pub const PERSONA_NOTED: &str =
    "Thanks, that helps me point you to the right answer. What can I help you with today?";

/// A message the catalog does not recognise (the first miss in a row).
pub const NOT_UNDERSTOOD: &str = "Sorry, I didn't quite get that. Could you say it another way? \
     For example: \"how much does it cost?\", \"I can't log in\" or \"I want a refund\".";

/// An answer route without an answer text (a catalog that `check` would refuse).
pub const NO_ANSWER_YET: &str = "I'm not sure how to help with that yet.";

/// The lead of a clarifying question; the choices follow, one per line, numbered.
pub const CLARIFY_LEAD: &str = "I want to get this right. Which of these do you mean?";

/// The end of a clarifying question.
pub const CLARIFY_HOW: &str = "Reply with the number or the name.";

/// "That helped".
pub const GLAD_IT_HELPED: &str = "Great, glad that helped! Ask me anything else any time.";

/// A "That helped" or "Talk to a human" with no answer waiting for it.
pub const NO_ANSWER_WAITING: &str = "There is no answer waiting for feedback in this conversation.";

/// An internal failure: the details go to the log, never to the customer.
pub const INTERNAL: &str = "Sorry, something went wrong on our side and your message was not \
     processed. Please try again in a moment.";

/// A failure answering a button or command, said briefly.
pub const SOMETHING_WRONG: &str = "Sorry, something went wrong. Please try again in a moment.";

/// Someone pressed the buttons under another person's answer.
pub const NOT_YOUR_BUTTONS: &str = "These buttons are for the person who asked.";

/// A button too old to act on.
pub const EXPIRED_BUTTON: &str = "This button has expired. Just type your question.";

/// A terminal line that is not UTF-8 (it is not processed).
pub const NOT_UTF8: &str =
    "That line is not valid UTF-8 text, so it was not read. Please type it again.";

/// Telegram's `/start`.
pub const WELCOME: &str = "Hi! What can I help you with today? Ask in your own words; I'll \
     answer here or pass you to the right person on our team.";

/// A slash command whose conversation an agent has.
pub const AGENT_HAS_IT: &str = "An agent has this conversation and will reply here.";

/// A message added to the open ticket of the conversation.
pub fn added_to_ticket(ticket: u64, team: &str) -> String {
    format!("Thanks, I've added this to ticket #{ticket} for our {team} team. They'll reply here.")
}

/// A ticket opened for `team`; `ticket` is ` (ticket #N)` or empty, `when` the team's
/// availability (see [`team_usually_replies`] and [`team_offline`]).
pub fn handed_off(team: &str, ticket: Option<u64>, when: &str) -> String {
    let id = ticket
        .map(|t| format!(" (ticket #{t})"))
        .unwrap_or_default();
    format!("I've passed this to our {team} team{id}; a person will pick it up from here.{when}")
}

/// The team's usual response time, after a handoff.
pub fn team_usually_replies(response_time: &str) -> String {
    format!(" They usually reply {response_time}.")
}

/// The team is outside its business hours, after a handoff.
pub fn team_offline(hours: &str, back: &str) -> String {
    format!(
        " The team is offline right now (hours: {hours}); they'll pick this up when they're \
         back, from {back}."
    )
}

/// The flood notice, once per window.
pub fn slow_down(window_secs: u64) -> String {
    format!(
        "You're sending messages faster than I can keep up with. I'll read new messages again \
         in about {window_secs} seconds."
    )
}

/// The first words to a frustrated customer.
pub const APOLOGY: &str = "I'm sorry for the trouble, and I understand this is frustrating.";

/// A new need while another ticket is open: a separate ticket for `team` (`ticket` is the new
/// one's id), while ticket `beside` with `beside_team` stays open; `when` as for
/// [`handed_off`].
pub fn separate_ticket(
    team: &str,
    ticket: Option<u64>,
    beside: u64,
    beside_team: &str,
    when: &str,
) -> String {
    let id = ticket.map(|t| format!(" #{t}")).unwrap_or_default();
    format!(
        "That's a separate question, so I've opened a new ticket{id} for our {team} team; a \
         person will pick it up from here. Ticket #{beside} with our {beside_team} team stays \
         open.{when}"
    )
}

/// The optional question after a web handoff that has no way to reach the customer.
pub const ASK_CONTACT: &str = "If you'd like an answer by email too, reply with your email \
     address. (Optional: you can also just keep this chat open.)";

/// A contact email stored on the ticket.
pub fn contact_noted(email: &str, ticket: u64) -> String {
    format!("Thanks, we'll write to {email} about ticket #{ticket}.")
}

/// An agent's reply relayed to the customer.
pub fn agent_says(team: &str, agent: &str, text: &str) -> String {
    format!("{team} ({agent}): {text}")
}

/// The bot's fixed sentences and the fixed parts of its composed ones, as the store keeps them
/// once: a bot line quoting one refers to it (see `store`'s codec). A sentence missing here is
/// only stored in full.
pub const STORED_BY_REFERENCE: &[&str] = &[
    EMPTY_MESSAGE,
    PERSONA_NOTED,
    NOT_UNDERSTOOD,
    NO_ANSWER_YET,
    CLARIFY_LEAD,
    CLARIFY_HOW,
    GLAD_IT_HELPED,
    NO_ANSWER_WAITING,
    INTERNAL,
    SOMETHING_WRONG,
    WELCOME,
    AGENT_HAS_IT,
    APOLOGY,
    ASK_CONTACT,
    "; a person will pick it up from here.",
    " team. They'll reply here.",
    "Thanks, I've added this to ticket #",
    "That's a separate question, so I've opened a new ticket",
    " The team is offline right now (hours: ",
    "); they'll pick this up when they're back, from ",
    "You're sending messages faster than I can keep up with. I'll read new messages again in about ",
];

// ----------------------------------------------------------------------------------------------
// To agents (Discord's ticket controls)
// ----------------------------------------------------------------------------------------------

pub const WHICH_TICKET: &str = "Which ticket? Give its number.";
pub const UNKNOWN_COMMAND: &str = "I don't know that command.";
pub const PICK_A_VALUE: &str = "Pick a value from the menu.";

pub fn no_such_ticket(ticket: u64) -> String {
    format!("There is no ticket #{ticket}.")
}

pub fn team_members_only(team: &str, ticket: u64) -> String {
    format!("Only members of the {team} team's role can work on ticket #{ticket}.")
}

pub fn claimed(ticket: u64) -> String {
    format!(
        "You claimed ticket #{ticket}; the bot stays quiet in that conversation until it is \
         resolved."
    )
}

pub fn resolved(ticket: u64) -> String {
    format!("Ticket #{ticket} is resolved; the bot answers that conversation again.")
}

pub fn relabelled(ticket: u64, intent: Option<&str>, persona: Option<&str>) -> String {
    format!(
        "Ticket #{ticket} relabelled (intent {}, persona {}); stored as ground truth.",
        intent.unwrap_or("unchanged"),
        persona.unwrap_or("unchanged")
    )
}

/// A self-help answer asked for again in the same conversation: a pointer to it instead of the
/// whole text, and the offer of a person.
pub fn already_shared(topic: &str) -> String {
    format!(
        "I shared that above (see my answer about {topic}). If it didn't answer your question, \
         I can pass you to a person on our team."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapped_sentences_read_as_one_line() {
        for s in [NOT_UNDERSTOOD, INTERNAL, WELCOME, ASK_CONTACT] {
            assert!(!s.contains("  ") && !s.contains('\n'), "{s:?}");
        }
        assert!(slow_down(10).contains("again in about 10 seconds"));
        assert!(claimed(3).ends_with("until it is resolved."));
        assert_eq!(
            separate_ticket("Sales", Some(2), 1, "Security", ""),
            "That's a separate question, so I've opened a new ticket #2 for our Sales team; a \
             person will pick it up from here. Ticket #1 with our Security team stays open."
        );
        assert_eq!(
            handed_off(
                "Sales",
                Some(1),
                &team_usually_replies("within 4 business hours")
            ),
            "I've passed this to our Sales team (ticket #1); a person will pick it up from \
             here. They usually reply within 4 business hours."
        );
    }
}

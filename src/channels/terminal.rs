//! The terminal channel: a person chats with the bot on a TTY, or a script pipes one message per
//! line (optionally printing each decision as JSON). Answers show as plain text (links as
//! `text (url)`); `--json` keeps the reply's markdown as the API returns it. The `/helped` and
//! `/human` hints follow the turn's actions.

use std::io::{BufRead, Write};

use super::kit::{Action, Buttons};
use super::markdown;
use crate::engine::output::turn_json;
use crate::engine::pipeline::{Inbound, Outcome, Pipeline};

/// The channel name recorded with each interaction.
pub const CHANNEL: &str = "terminal";

/// How the terminal session runs.
#[derive(Debug, Clone)]
pub struct TerminalOptions {
    pub conversation: String,
    pub user: String,
    /// Print each turn as a JSON line instead of chat text.
    pub json: bool,
    /// Show prompts and the help banner (a person at a TTY).
    pub interactive: bool,
}

const HELP: &str = "Type a message and press Enter. Commands:
  /helped   the last answer helped (\"That helped\")
  /human    talk to a human (\"Talk to a human\")
  /new      start a new conversation
  /quit     leave (or Ctrl-D)";

/// The answer to an input line that is not valid UTF-8 (the line is not processed).
pub use crate::core::wording::NOT_UTF8;

/// One line saying how the message was routed, for the person trying the bot.
fn routing_note(outcome: &Outcome) -> String {
    let d = &outcome.decision;
    let pick = |p: &Option<crate::core::route::Pick>| {
        p.as_ref().map_or("none".to_string(), |p| {
            format!("{} {:.2}", p.id, p.confidence)
        })
    };
    let mut note = format!(
        "     [persona {} | intent {} | {}",
        pick(&d.persona),
        pick(&d.intent),
        d.kind.as_str()
    );
    if let Some(team) = &d.team {
        note.push_str(&format!(" -> {team}"));
    }
    if let Some(answer) = &d.answer {
        note.push_str(&format!(" | answer {answer}"));
    }
    note.push(']');
    if let Some(hint) = feedback_hint(&Buttons::of(outcome).actions) {
        note.push_str(&format!("\n     ({hint})"));
    }
    note
}

/// The commands standing in for the buttons the turn offers (its `actions`), if any.
fn feedback_hint(actions: &[Action]) -> Option<String> {
    let hints: Vec<&str> = actions
        .iter()
        .map(|a| match a {
            Action::Helped => "/helped if that solved it",
            Action::Human => "/human to talk to a person",
        })
        .collect();
    (!hints.is_empty()).then(|| hints.join(", "))
}

fn print_reply(out: &mut dyn Write, outcome: &Outcome, interactive: bool) -> std::io::Result<()> {
    match &outcome.reply {
        Some(reply) => {
            let reply = markdown::plain(reply);
            let mut lines = reply.lines();
            let prefix = if interactive { "bot> " } else { "" };
            if let Some(first) = lines.next() {
                writeln!(out, "{prefix}{first}")?;
            }
            for line in lines {
                writeln!(out, "{}{line}", if interactive { "     " } else { "" })?;
            }
        }
        None if interactive => {
            writeln!(out, "(an agent has this conversation; the bot stays quiet)")?
        }
        None => {}
    }
    if interactive {
        writeln!(out, "{}\n", routing_note(outcome))?;
    }
    Ok(())
}

/// Runs the session until end of input or `/quit`.
pub fn run(
    pipeline: &Pipeline,
    options: &TerminalOptions,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut conversation = options.conversation.clone();
    let mut session = 1;
    if options.interactive {
        writeln!(
            out,
            "personabot terminal chat (conversation {conversation})\n{HELP}\n"
        )?;
    }
    let mut raw = Vec::new();
    loop {
        if options.interactive {
            write!(out, "you> ")?;
            out.flush()?;
        }
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        // A line that is not UTF-8 (e.g. pasted from a Latin-1 terminal) is refused on its own:
        // the session goes on with the next line.
        let Ok(line) = std::str::from_utf8(&raw) else {
            if options.json {
                writeln!(out, "{}", serde_json::json!({ "error": NOT_UTF8 }))?;
            } else {
                writeln!(out, "{NOT_UTF8}")?;
            }
            out.flush()?;
            continue;
        };
        let text = line.trim_end_matches(['\n', '\r']);
        let command = text.trim();
        let result = match command {
            "/quit" | "/exit" => break,
            "/help" if options.interactive => {
                writeln!(out, "{HELP}\n")?;
                continue;
            }
            "/new" => {
                session += 1;
                conversation = format!("{}-{session}", options.conversation);
                if options.interactive {
                    writeln!(out, "(new conversation {conversation})\n")?;
                }
                continue;
            }
            "/helped" => pipeline.feedback(CHANNEL, &conversation, &options.user, true),
            "/human" => pipeline.feedback(CHANNEL, &conversation, &options.user, false),
            _ => pipeline.handle(&Inbound {
                channel: CHANNEL.into(),
                conversation: conversation.clone(),
                user: options.user.clone(),
                text: text.to_string(),
            }),
        };
        match result {
            Ok(outcome) => {
                if options.json {
                    let json = turn_json(&outcome);
                    serde_json::to_writer(&mut *out, &json)?;
                    writeln!(out)?;
                } else {
                    print_reply(out, &outcome, options.interactive)?;
                }
            }
            Err(e) => {
                if let crate::engine::pipeline::PipelineError::Store(inner) = &e {
                    tracing::error!(error = %inner, "terminal message failed");
                }
                if options.json {
                    writeln!(out, "{}", serde_json::json!({ "error": e.user_message() }))?;
                } else {
                    writeln!(out, "{}", e.user_message())?;
                }
            }
        }
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_actions() {
        let cases = [
            (vec![], None),
            (
                vec![Action::Helped, Action::Human],
                Some("/helped if that solved it, /human to talk to a person"),
            ),
            (vec![Action::Human], Some("/human to talk to a person")),
        ];
        for (actions, want) in cases {
            assert_eq!(feedback_hint(&actions).as_deref(), want, "{actions:?}");
        }
    }
}

//! The customer's conversation (issue #14) on a real sled store: the contact a web customer
//! gives stays on the ticket (never in interactions or evidence) and leaves with `forget` and
//! retention; several tickets stay open in one conversation through claim and resolve; the
//! agent queue lists frustrated customers' tickets first, with priority and contact.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use personabot::app::app;
use personabot::catalog::settings::Settings;
use personabot::core::wording;
use personabot::engine::output;
use personabot::engine::pipeline::{Inbound, Outcome, Pipeline};
use personabot::engine::AppState;
use personabot::store::Priority;
use serde_json::Value;

const VISITOR: &str = "visitor-7";
const EMAIL: &str = "dana.qflowmarkq@hearth.example";
const MARK: &str = "qflowmarkq";
const DAY_MS: u64 = 86_400_000;

fn web(conversation: &str, text: &str) -> Inbound {
    Inbound {
        channel: "web".into(),
        conversation: conversation.into(),
        user: VISITOR.into(),
        text: text.into(),
    }
}

fn say(p: &Pipeline, inbound: Inbound) -> Outcome {
    p.handle(&inbound).expect("handled")
}

/// How many times `needle` occurs in the raw bytes of the files under `dir`.
fn raw_count(dir: &Path, needle: &str) -> usize {
    let mut files = Vec::new();
    super::support::files_under(dir, &mut files);
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap();
            bytes
                .windows(needle.len())
                .filter(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
                .count()
        })
        .sum()
}

/// A web handoff, its contact question and the email given; returns the ticket id.
fn hand_off_with_contact(p: &Pipeline, conversation: &str) -> u64 {
    let opened = say(p, web(conversation, "I'd like a refund please"));
    let reply = opened.reply.expect("a reply");
    assert!(reply.ends_with(wording::ASK_CONTACT), "{reply}");
    let id = opened.ticket.expect("a ticket").id;
    let given = say(p, web(conversation, &format!("sure, write to {EMAIL}")));
    assert_eq!(given.reply, Some(wording::contact_noted(EMAIL, id)));
    assert!(given.classification.evidence.is_empty());
    id
}

#[test]
fn a_contact_lives_on_the_ticket_only_and_forget_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::pipeline(dir.path());
    let id = hand_off_with_contact(&p, "w1");
    let stored = p.store().ticket(id).unwrap().expect("the ticket");
    assert_eq!(stored.contact.as_deref(), Some(EMAIL));
    let text = output::ticket_text(&stored);
    assert!(text.contains(&format!("contact:  {EMAIL}")), "{text}");
    assert!(!text.contains("rating:"), "{text}");
    let mut rated = stored.clone();
    rated.csat = Some(personabot::store::Csat {
        rating: 4,
        comment: Some("quick, thanks".into()),
        at_ms: 1,
    });
    let text = output::ticket_text(&rated);
    assert!(text.contains("rating:   4/5: quick, thanks"), "{text}");

    let interactions = p.store().interactions(&Default::default()).unwrap();
    assert_eq!(interactions.len(), 2);
    let given = &interactions[1];
    assert_eq!(given.text, "sure, write to [email]");
    assert!(given.evidence.is_empty() && given.intent_scores.is_empty());
    assert!(given.persona_scores.is_empty() && given.intent.is_none());
    assert!(given.persona.is_none());
    let all = serde_json::to_string(&interactions).unwrap();
    assert!(!all.contains(MARK), "an interaction holds the email: {all}");
    // In sled's files, once compacted, the email is only the ticket's contact.
    p.store().compact().unwrap();
    assert_eq!(raw_count(dir.path(), MARK), 1, "only the ticket's contact");

    let report = p.store().forget_user(VISITOR).unwrap();
    assert_eq!((report.interactions, report.tickets), (2, 1));
    p.store().compact().unwrap();
    assert_eq!(raw_count(dir.path(), MARK), 0, "forgotten with the ticket");
    assert!(p.store().ticket(id).unwrap().is_none());
}

#[test]
fn retention_removes_the_contact_with_the_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::pipeline(dir.path());
    let id = hand_off_with_contact(&p, "w2");
    p.resolve(id, "ana").unwrap();
    let later = personabot::store::now_ms() + 31 * DAY_MS;
    let purged = personabot::ops::retention::purge(
        p.store(),
        later,
        personabot::ops::retention::Windows {
            evidence_days: 30,
            audit_days: 0,
        },
    )
    .unwrap();
    assert_eq!(purged.tickets, 1);
    p.store().compact().unwrap();
    assert_eq!(raw_count(dir.path(), MARK), 0);
}

#[test]
fn several_tickets_stay_open_through_claim_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::pipeline(dir.path());
    let c = |text: &str| say(&p, super::inbound("c", text));
    let security =
        c("I'm the CISO of a 5000-employee bank; we need your SOC 2 report and a security review");
    assert_eq!(
        security.ticket.as_ref().map(|t| t.team.as_str()),
        Some("security")
    );
    let sales = c("What does Enterprise cost for 300 seats?");
    let ticket = sales.ticket.as_ref().expect("a separate ticket");
    assert_eq!((ticket.id, ticket.team.as_str()), (2, "sales"));
    let reply = sales.reply.unwrap();
    assert!(
        reply.contains("#2") && reply.contains("Ticket #1"),
        "{reply}"
    );

    p.claim(1, "ana").unwrap();
    let to_security = c("any update on the SOC 2 report and the pen test?");
    assert_eq!(to_security.ticket.map(|t| t.id), Some(1));
    assert_eq!(
        to_security.reply, None,
        "ana has ticket #1: the bot is quiet"
    );
    let to_sales = c("any news?");
    assert_eq!(to_sales.ticket.map(|t| t.id), Some(2));
    assert!(to_sales.reply.is_some());

    p.resolve(2, "ben").unwrap();
    let left = c("any news?");
    assert_eq!((left.ticket.map(|t| t.id), left.reply), (Some(1), None));
    p.resolve(1, "ana").unwrap();
    let state = p.store().conversation("test", "c").unwrap();
    assert_eq!(state.open_tickets().count(), 0);
    let back = c("I can't log in to my account");
    assert_eq!(
        back.decision.kind.as_str(),
        "answer",
        "{}",
        back.decision.reason
    );
    let stored = p.store().tickets(None, None).unwrap();
    assert_eq!(stored.len(), 2, "no ticket lost or added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_queue_lists_high_priority_first() {
    const TOKEN: &str = "flow-agent-token-long-enough";
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Arc::new(super::pipeline(dir.path()));
    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || {
        let t = |conversation: &str, text: &str| {
            let o = say(&p, super::inbound(conversation, text));
            o.ticket.expect("a ticket")
        };
        assert_eq!(
            t("a", "I'd like a refund please").priority,
            Priority::Normal
        );
        let angry = t(
            "b",
            "You charged me twice!!! This is ridiculous, I want a refund",
        );
        assert_eq!(angry.priority, Priority::High);
        assert_eq!(
            t("c", "I'm a journalist writing a story about Hearth").id,
            3
        );
        hand_off_with_contact(&p, "w");
    })
    .await
    .unwrap();

    let settings = Settings::load_with_env(
        None,
        Some(HashMap::from([(
            "PERSONABOT__HTTP__AGENT_TOKEN".to_string(),
            TOKEN.to_string(),
        )])),
    )
    .unwrap();
    let state = AppState::new(pipeline, Arc::new(settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| {
        let r = client.get(format!("{base}{path}")).bearer_auth(TOKEN);
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let list = get("/v1/tickets").await;
    let rows = list["tickets"].as_array().expect("tickets");
    let order: Vec<(u64, &str)> = rows
        .iter()
        .map(|t| (t["id"].as_u64().unwrap(), t["priority"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [(2, "high"), (4, "normal"), (3, "normal"), (1, "normal")]
    );
    assert_eq!(rows[1]["contact"], EMAIL);
    assert!(rows[0].get("contact").is_none());
    let one = get("/v1/tickets/4").await;
    assert_eq!(
        (one["contact"].as_str(), one["priority"].as_str()),
        (Some(EMAIL), Some("normal"))
    );
    let high = get("/v1/tickets/2").await;
    assert_eq!(high["priority"], "high");
}

/// One step of a conversation: a message, or a press of "That helped" / "Talk to a human".
enum Step {
    Say(&'static str),
    Press(bool),
}

#[test]
fn the_buttons_follow_the_turn_kind_through_the_pipeline() {
    use Step::{Press, Say};
    let dir = tempfile::tempdir().unwrap();
    let p = super::pipeline(dir.path());
    const HELP: &[&str] = &["helped", "human"];
    const NONE: &[&str] = &[];
    // Each row is one conversation: the steps, and the buttons the last one offers.
    let rows: &[(&[Step], &str, &[&str])] = &[
        (&[Say("how much is it?")], "answer", HELP),
        (&[Say("hello there")], "answer", NONE),
        (&[Say("how much is it?"), Say("thank you!")], "answer", NONE),
        (&[Say("how much is it?"), Press(true)], "answer", NONE),
        (&[Say("how much is it?"), Press(false)], "ticket", NONE),
        (&[Say("I'd like a refund please")], "ticket", NONE),
        (
            &[Say("how much does it cost and can I get a refund?")],
            "clarify",
            NONE,
        ),
        (
            &[
                Say("how much does it cost and can I get a refund?"),
                Say("the first one"),
            ],
            "answer",
            HELP,
        ),
        (&[Say("asdf qwerty")], "fallback", NONE),
    ];
    for (n, (steps, kind, actions)) in rows.iter().enumerate() {
        let conversation = format!("buttons-{n}");
        let mut last = None;
        for step in *steps {
            last = Some(match step {
                Say(text) => say(&p, super::inbound(&conversation, text)),
                Press(helped) => p
                    .feedback(super::CHANNEL, &conversation, "pat", *helped)
                    .expect("pressed"),
            });
        }
        let outcome = last.expect("a step");
        assert_eq!(outcome.decision.kind.as_str(), *kind, "row {n}");
        assert_eq!(outcome.decision.actions(), *actions, "row {n}");
        if let Some(id) = outcome
            .interaction
            .filter(|_| matches!(steps.last(), Some(Say(_))))
        {
            let stored = p.store().interaction(id).unwrap().expect("stored");
            assert_eq!(stored.route.actions, *actions, "row {n}: recorded");
        }
    }
}

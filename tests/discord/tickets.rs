//! The buttons and tickets: "That helped", "Talk to a human", claim, silence and relabel.

use personabot::channels::discord::HUMAN_LABEL;
use personabot::store::{InteractionFilter, TicketStatus};

use crate::bot::{
    assert_pings_nobody, buttons, customer, open_sales_ticket, ticket_thread, Bot, SALES_CHANNEL,
    SALES_ROLE, SUPPORT, SUPPORT_ROLE, T,
};
use crate::fake_discord::{User, GUILD_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn that_helped_resolves_and_talk_to_a_human_opens_a_ticket_with_a_thread() {
    let bot = Bot::start().await;
    let alice = customer(7002, "alice");
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &alice,
            "how much does the growth plan cost?",
            Some(GUILD_ID),
        )
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    let ids: Vec<String> = buttons(&reply.body).into_iter().map(|(_, c)| c).collect();

    // Someone else cannot press alice's buttons.
    let mallory = customer(7999, "mallory");
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 1, &ids[0], &mallory, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(
        cb.body["data"]["flags"], 64,
        "an ephemeral refusal: {}",
        cb.body
    );

    // "That helped" marks the answer and replaces the buttons.
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 1, &ids[0], &alice, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(
        cb.body["type"], 7,
        "updates the answer in place: {}",
        cb.body
    );
    assert_eq!(cb.body["data"]["components"], serde_json::json!([]));
    let answered = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter {
            outcome: Some("helped".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(answered.len(), 1, "the answer is marked helped");

    // A new question, then "Talk to a human": a ticket for sales with a thread.
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &alice,
            // Not the pricing answer again (that would be a pointer to it): its trial part.
            "is there a free trial?",
            Some(GUILD_ID),
        )
        .await;
    let reply = bot.reply_to(since, SUPPORT, id).await;
    let human = buttons(&reply.body)
        .into_iter()
        .find(|(l, _)| l == HUMAN_LABEL)
        .unwrap()
        .1;
    let since = bot.mark();
    let click = bot
        .fake
        .click(SUPPORT, 2, &human, &alice, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    let text = cb.body["data"]["content"].as_str().unwrap_or_default();
    assert!(
        text.contains("Sales team (ticket #1)"),
        "the customer is told the team: {text}"
    );
    let ticket_msg = bot.posted_in(since, SALES_CHANNEL).await;
    let content = ticket_msg.content();
    assert!(
        content.contains("**Ticket #1**") && content.contains("Intent: pricing"),
        "{content}"
    );
    assert!(
        content.contains("Evidence:") && content.contains("Transcript:"),
        "{content}"
    );
    assert_pings_nobody(&ticket_msg.body);
    let controls: Vec<String> = buttons(&ticket_msg.body)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert!(controls.contains(&"Claim".to_string()) && controls.contains(&"Resolve".to_string()));
    bot.fake
        .wait_request(since, T, |r| {
            r.method == "POST"
                && r.api_path()
                    .starts_with(&format!("/channels/{SALES_CHANNEL}/messages/"))
                && r.api_path().ends_with("/threads")
        })
        .await;
    let ticket = bot
        .pipeline
        .store()
        .ticket(1)
        .unwrap()
        .expect("ticket stored");
    assert_eq!(
        (ticket.team.as_str(), ticket.status),
        ("sales", TicketStatus::Open)
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_needs_the_team_role_and_silences_the_bot_and_relabel_is_stored() {
    let bot = Bot::start().await;
    let carol = customer(7003, "carol");
    let ticket_msg = open_sales_ticket(&bot, &carol).await;
    let claim = buttons(&ticket_msg.body)
        .into_iter()
        .find(|(l, _)| l == "Claim")
        .unwrap()
        .1;

    // Without the sales role: refused, ephemerally.
    let outsider = User::new(8001, "outsider").with_roles(&[SUPPORT_ROLE]);
    let since = bot.mark();
    let click = bot
        .fake
        .click(SALES_CHANNEL, 1, &claim, &outsider, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.body["data"]["flags"], 64);
    assert!(cb.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Only members of the Sales team"));
    assert_eq!(
        bot.pipeline.store().ticket(1).unwrap().unwrap().status,
        TicketStatus::Open
    );

    // With it: claimed, the ticket message is updated, and the bot stays quiet with carol.
    let agent = User::new(8002, "ann").with_roles(&[SALES_ROLE]);
    let since = bot.mark();
    let click = bot
        .fake
        .click(SALES_CHANNEL, 1, &claim, &agent, Some(GUILD_ID), None)
        .await;
    let cb = bot.callback(since, click).await;
    assert!(cb.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("You claimed ticket #1"));
    let edit = bot
        .fake
        .wait_request(since, T, |r| {
            r.method == "PATCH"
                && r.api_path()
                    .starts_with(&format!("/channels/{SALES_CHANNEL}/messages/"))
        })
        .await;
    assert!(
        edit.content().contains("claimed by ann"),
        "{}",
        edit.content()
    );
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(
        (t.status, t.claimed_by.as_deref()),
        (TicketStatus::Claimed, Some("ann"))
    );

    let since = bot.mark();
    bot.fake
        .message(SUPPORT, &carol, "any news on the quote?", Some(GUILD_ID))
        .await;
    bot.assert_silent(since, SUPPORT).await;
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert!(
        t.transcript
            .iter()
            .any(|l| l.text.contains("any news on the quote")),
        "the customer's message joins the ticket"
    );

    // Relabel from the select menu: stored on the ticket and as ground truth.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SALES_CHANNEL,
            1,
            "pb:relabel-intent:1",
            &agent,
            Some(GUILD_ID),
            Some(vec!["billing".into()]),
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert!(
        cb.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("relabelled"),
        "{}",
        cb.body
    );
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert_eq!(
        t.relabels.last().and_then(|l| l.intent.as_deref()),
        Some("billing")
    );
    let origin = bot
        .pipeline
        .store()
        .interaction(t.interaction)
        .unwrap()
        .unwrap();
    assert_eq!(
        origin.label.and_then(|l| l.intent).as_deref(),
        Some("billing")
    );

    // An agent's message in the ticket thread reaches the customer; a // note does not.
    let thread = ticket_thread(&bot, 1).await;
    let since = bot.mark();
    bot.fake
        .message(
            thread,
            &agent,
            "// internal: check discount",
            Some(GUILD_ID),
        )
        .await;
    bot.fake
        .message(
            thread,
            &agent,
            "Hi Carol, your quote is on its way.",
            Some(GUILD_ID),
        )
        .await;
    let relayed = bot.posted_in(since, SUPPORT).await;
    assert!(
        relayed
            .content()
            .contains("Sales (ann):** Hi Carol, your quote is on its way."),
        "{}",
        relayed.content()
    );
    assert!(!bot.fake.requests()[since..]
        .iter()
        .any(|r| r.content().contains("internal")));

    // Resolve: the bot answers carol again.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SALES_CHANNEL,
            1,
            "pb:resolve:1",
            &agent,
            Some(GUILD_ID),
            None,
        )
        .await;
    bot.callback(since, click).await;
    assert_eq!(
        bot.pipeline.store().ticket(1).unwrap().unwrap().status,
        TicketStatus::Resolved
    );
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &carol,
            "I can't log in to my account",
            Some(GUILD_ID),
        )
        .await;
    bot.reply_to(since, SUPPORT, id).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_in_the_ticket_thread_is_kept_on_the_ticket_and_never_reaches_the_customer() {
    let bot = Bot::start().await;
    let carol = customer(7004, "carol");
    open_sales_ticket(&bot, &carol).await;
    let thread = ticket_thread(&bot, 1).await;
    let agent = User::new(8003, "ann").with_roles(&[SALES_ROLE]);
    let outsider = User::new(8004, "outsider").with_roles(&[SUPPORT_ROLE]);

    let since = bot.mark();
    bot.fake
        .message(thread, &outsider, "/note not on the team", Some(GUILD_ID))
        .await;
    bot.fake
        .message(
            thread,
            &agent,
            "/note Carol is a reseller, offer the partner discount",
            Some(GUILD_ID),
        )
        .await;
    bot.fake
        .message(thread, &agent, "Hi Carol, a quote follows.", Some(GUILD_ID))
        .await;
    let relayed = bot.posted_in(since, SUPPORT).await;
    assert!(
        relayed.content().contains("Hi Carol, a quote follows."),
        "{}",
        relayed.content()
    );
    // The note is on the ticket, by the agent; the outsider's is not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let notes = loop {
        let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
        if !t.notes.is_empty() || std::time::Instant::now() > deadline {
            break t.notes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let notes: Vec<(String, String)> = notes.into_iter().map(|n| (n.by, n.text)).collect();
    assert_eq!(
        notes,
        [(
            "ann".to_string(),
            "Carol is a reseller, offer the partner discount".to_string()
        )]
    );
    let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
    assert!(!t.transcript.iter().any(|l| l.text.contains("reseller")));
    // Nothing the bot sent after the note carries it: not to carol, not anywhere.
    assert!(!bot.fake.requests()[since..]
        .iter()
        .any(|r| r.content().contains("reseller") || r.content().contains("not on the team")));
    bot.stop().await;
}

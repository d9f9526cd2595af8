//! The buttons: "That helped" and "Talk to a human", and agent replies reaching the thread.

use personabot::store::{InteractionFilter, TicketStatus};

use crate::bot::{form_encode, message, now, press_payload, Bot, CH, INTERACTIONS, QUIET, SECRET};
use crate::fake_slack;
use crate::fake_slack::TOKEN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn that_helped_marks_the_answer_and_removes_the_buttons_only_for_the_asker() {
    let bot = Bot::start().await;
    let ts = "1700000007.000100";
    let since = bot.mark();
    bot.event(
        "Ev0007",
        message("U0ALICE", "how much does the growth plan cost?", ts),
    )
    .await;
    let reply = bot.reply_in(since, ts).await;
    let answer = reply.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone else cannot press alice's buttons.
    let since = bot.mark();
    let url = bot.fake.response_url("r1");
    bot.press(&press_payload(&reply, "That helped", "U0MALLORY", &url))
        .await;
    let refusal = bot.response(since, "r1").await;
    assert_eq!(
        refusal.body["response_type"], "ephemeral",
        "{}",
        refusal.raw
    );
    assert_eq!(refusal.body["replace_original"], false);
    assert_eq!(
        refusal.text(),
        "These buttons are for the person who asked."
    );
    let helped = InteractionFilter {
        outcome: Some("helped".into()),
        ..Default::default()
    };
    assert!(bot
        .pipeline
        .store()
        .interactions(&helped)
        .unwrap()
        .is_empty());

    // Alice's press marks the answer and replaces the buttons with the outcome.
    let since = bot.mark();
    let url = bot.fake.response_url("r2");
    bot.press(&press_payload(&reply, "That helped", "U0ALICE", &url))
        .await;
    let update = bot.response(since, "r2").await;
    assert_eq!(update.body["replace_original"], true, "{}", update.raw);
    assert!(update.buttons().is_empty(), "no buttons: {}", update.raw);
    let text = update.body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(text.starts_with(&answer), "the answer stays: {text}");
    assert!(text.contains("glad that helped"), "the outcome: {text}");
    assert_eq!(
        bot.pipeline.store().interactions(&helped).unwrap().len(),
        1,
        "the answer is marked helped"
    );
    tokio::time::sleep(QUIET).await;
    assert!(
        bot.fake
            .matching(since, |c| c.method == "chat.postMessage")
            .is_empty(),
        "nothing else is posted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_to_a_human_opens_a_ticket_and_agent_replies_reach_the_thread() {
    let bot = Bot::start().await;
    let ts = "1700000008.000100";
    let since = bot.mark();
    bot.event(
        "Ev0008",
        message("U0ALICE", "what does the scale plan cost per seat?", ts),
    )
    .await;
    let reply = bot.reply_in(since, ts).await;
    let since = bot.mark();
    let url = bot.fake.response_url("h1");
    bot.press(&press_payload(&reply, "Talk to a human", "U0ALICE", &url))
        .await;
    let update = bot.response(since, "h1").await;
    assert_eq!(update.body["replace_original"], true);
    assert!(update.buttons().is_empty(), "no buttons: {}", update.raw);
    assert!(
        update.text().contains("You asked to talk to a human"),
        "{}",
        update.raw
    );
    let handoff = bot.reply_in(since, ts).await;
    assert!(
        handoff.text().contains("Sales team (ticket #1)"),
        "the customer is told the team: {}",
        handoff.text()
    );
    assert!(handoff.buttons().is_empty());
    let ticket = bot.pipeline.store().ticket(1).unwrap().expect("ticket #1");
    assert_eq!(
        (ticket.team.as_str(), ticket.status),
        ("sales", TicketStatus::Open)
    );
    assert_eq!(ticket.channel, "slack");
    assert_eq!(ticket.conversation, format!("{CH}/{ts}"));
    let not_helped = InteractionFilter {
        outcome: Some("not-helped".into()),
        ..Default::default()
    };
    assert_eq!(
        bot.pipeline
            .store()
            .interactions(&not_helped)
            .unwrap()
            .len(),
        1
    );

    // An agent's reply is posted into the customer's thread; an internal note is not.
    let since = bot.mark();
    // (`note` locks the conversation as sync code does.)
    let noted = tokio::task::block_in_place(|| {
        bot.pipeline.note(
            1,
            "ann",
            "internal: reseller, offer the partner discount",
            "http",
        )
    })
    .unwrap();
    assert_eq!(noted.notes.len(), 1);
    bot.pipeline.agent_reply(1, "ann", "hello").unwrap();
    let delivered = bot.reply_in(since, ts).await;
    assert_eq!(delivered.text(), "*Sales (ann):* hello");
    assert!(
        !bot.fake.calls()[since..]
            .iter()
            .any(|c| c.raw.contains("reseller")),
        "a note never reaches Slack"
    );
    assert_eq!(
        delivered.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_signed_press_sent_three_times_is_handled_once() {
    let bot = Bot::start().await;
    let ts = "1700000031.000100";
    let since = bot.mark();
    bot.event(
        "Ev0031",
        message("U0ALICE", "how much does the growth plan cost?", ts),
    )
    .await;
    let reply = bot.reply_in(since, ts).await;

    // One signed request, byte for byte, sent three times (a replay within the signature's
    // five minutes).
    let since = bot.mark();
    let url = bot.fake.response_url("replayed");
    let payload = press_payload(&reply, "That helped", "U0ALICE", &url);
    let body = format!("payload={}", form_encode(&payload.to_string()));
    let stamp = now().to_string();
    let headers = [
        (
            "x-slack-signature",
            fake_slack::sign(SECRET, &stamp, body.as_bytes()),
        ),
        ("x-slack-request-timestamp", stamp),
    ];
    for _ in 0..3 {
        let (status, text, _) = bot
            .post(
                INTERACTIONS,
                body.as_bytes(),
                "application/x-www-form-urlencoded",
                &headers,
            )
            .await;
        assert_eq!(status, 200, "{text}");
    }
    // Presses in one conversation are handled in order: once this later one is answered, the
    // three before it were handled (or dropped).
    let sentinel = bot.fake.response_url("sentinel");
    bot.press(&press_payload(
        &reply,
        "That helped",
        "U0MALLORY",
        &sentinel,
    ))
    .await;
    bot.response(since, "sentinel").await;

    let replayed = bot
        .fake
        .matching(since, |c| c.method == "response/replayed");
    assert_eq!(
        replayed.len(),
        1,
        "one effect: {:?}",
        replayed.iter().map(|c| &c.raw).collect::<Vec<_>>()
    );
    assert_eq!(replayed[0].body["replace_original"], true);
    let helped = InteractionFilter {
        outcome: Some("helped".into()),
        ..Default::default()
    };
    assert_eq!(bot.pipeline.store().interactions(&helped).unwrap().len(), 1);
    assert!(bot
        .fake
        .matching(since, |c| c.method == "chat.postEphemeral")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_note_in_the_thread_is_kept_on_the_ticket_and_never_sent_or_routed() {
    let bot = Bot::start_with(&[
        ("PERSONABOT__SLACK__SIGNING_SECRET", SECRET),
        ("PERSONABOT__SLACK__BOT_TOKEN", TOKEN),
        ("PERSONABOT__SLACK__AGENTS", "U0ANN"),
    ])
    .await;
    let ts = "1700000041.000100";
    bot.carol_hands_off("Ev0041", ts).await;

    // The agent's note: on the ticket, not in the transcript, nothing posted.
    let since = bot.mark();
    let note = crate::bot::in_thread(
        message(
            "U0ANN",
            "/note reseller, offer the partner discount",
            "1700000041.000200",
        ),
        ts,
    );
    bot.event("Ev0042", note).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ticket = loop {
        let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
        if !t.notes.is_empty() || std::time::Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let notes: Vec<(&str, &str)> = ticket
        .notes
        .iter()
        .map(|n| (n.by.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(notes, [("U0ANN", "reseller, offer the partner discount")]);
    assert!(!ticket
        .transcript
        .iter()
        .any(|l| l.text.contains("reseller")));
    bot.assert_silent(since).await;

    // A customer's "/note" is the customer's message, not a note.
    let customer = crate::bot::in_thread(
        message(
            "U0CAROL",
            "/note my order number is 42",
            "1700000041.000300",
        ),
        ts,
    );
    bot.event("Ev0043", customer).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let t = bot.pipeline.store().ticket(1).unwrap().unwrap();
        if t.transcript.iter().any(|l| l.text.contains("order number")) {
            assert_eq!(t.notes.len(), 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the customer's message joins the ticket"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!bot.fake.calls()[since..]
        .iter()
        .any(|c| c.raw.contains("reseller")));
}

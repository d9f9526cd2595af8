//! What the customer sees under each reply on Discord: buttons exactly when the turn's
//! `actions` offer them, a clarifying question's options as buttons (a press answers that
//! option), and answers' markdown as Discord markdown that pings nobody.

use personabot::channels::discord::{HELPED_LABEL, HUMAN_LABEL};
use personabot::store::InteractionFilter;

use crate::bot::{assert_pings_nobody, buttons, customer, Bot, SUPPORT};
use crate::fake_discord::GUILD_ID;
use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_follow_the_actions_and_a_markdown_answer_arrives_as_discord_markdown() {
    let bot = Bot::start().await;
    support::answer_in_markdown(&bot.pipeline, "pricing");
    let ann = customer(7101, "ann");

    // A greeting is conversation, not self-help: no buttons.
    let since = bot.mark();
    let id = bot.fake.message(SUPPORT, &ann, "hi", Some(GUILD_ID)).await;
    let greeting = bot.reply_to(since, SUPPORT, id).await;
    assert!(
        greeting.content().starts_with("Hi there"),
        "{}",
        greeting.content()
    );
    assert!(buttons(&greeting.body).is_empty(), "{}", greeting.body);

    // The answer: both buttons, its markdown as Discord's, mentions neutralised.
    let since = bot.mark();
    let id = bot
        .fake
        .message(SUPPORT, &ann, "How much does Hearth cost?", Some(GUILD_ID))
        .await;
    let answer = bot.reply_to(since, SUPPORT, id).await;
    let labels: Vec<String> = buttons(&answer.body).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, [HELPED_LABEL, HUMAN_LABEL]);
    assert_eq!(
        answer.content(),
        "Our plans are on [the pricing page](https://hearth.example/pricing).\n\
         - **Growth**: $39 per seat & \\<more>\n\
         - Write to [sales](mailto:sales@hearth.example)\n\
         No trick @\u{200B}everyone \\<\u{200B}@123>"
    );
    assert_pings_nobody(&answer.body);
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(
        stored[0].route.actions,
        Vec::<String>::new(),
        "the greeting"
    );
    assert_eq!(stored[1].route.actions, ["helped", "human"], "the answer");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clarifying_question_offers_its_options_and_a_press_answers_that_option() {
    let bot = Bot::start().await;
    let ann = customer(7102, "ann");
    let mallory = customer(7999, "mallory");
    let since = bot.mark();
    let id = bot
        .fake
        .message(
            SUPPORT,
            &ann,
            "how much does it cost and can I get a refund?",
            Some(GUILD_ID),
        )
        .await;
    let question = bot.reply_to(since, SUPPORT, id).await;
    assert!(
        question.content().contains("Pricing"),
        "{}",
        question.content()
    );
    assert_eq!(
        buttons(&question.body),
        [
            ("Pricing".to_string(), "pb:choose:7102:pricing".to_string()),
            ("Refund".to_string(), "pb:choose:7102:refund".to_string()),
        ],
        "the options, and no feedback buttons"
    );

    // Someone else's press is refused; an option the catalog does not have has expired; a
    // forged custom id is not the bot's.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SUPPORT,
            1,
            "pb:choose:7102:refund",
            &mallory,
            Some(GUILD_ID),
            None,
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(cb.body["data"]["flags"], 64, "ephemeral: {}", cb.body);
    assert_eq!(cb.content(), "These buttons are for the person who asked.");
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SUPPORT,
            1,
            "pb:choose:7102:no-such-intent",
            &ann,
            Some(GUILD_ID),
            None,
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(
        cb.content(),
        "This button has expired. Just type your question."
    );
    let since = bot.mark();
    bot.fake
        .click(
            SUPPORT,
            1,
            "pb:choose:7102:Refund!",
            &ann,
            Some(GUILD_ID),
            None,
        )
        .await;
    bot.assert_silent(since, SUPPORT).await;
    let stored = || {
        bot.pipeline
            .store()
            .interactions(&InteractionFilter::default())
            .unwrap()
    };
    assert_eq!(stored().len(), 1, "nothing reached the pipeline");

    // Ann's press: the options go, and the pricing answer comes with its feedback buttons.
    let since = bot.mark();
    let click = bot
        .fake
        .click(
            SUPPORT,
            1,
            "pb:choose:7102:pricing",
            &ann,
            Some(GUILD_ID),
            None,
        )
        .await;
    let cb = bot.callback(since, click).await;
    assert_eq!(
        cb.body["type"], 7,
        "updates the question in place: {}",
        cb.body
    );
    assert_eq!(cb.body["data"]["components"], serde_json::json!([]));
    assert!(cb.content().ends_with("→ Pricing"), "{}", cb.content());
    let answer = bot.posted_in(since, SUPPORT).await;
    assert!(
        answer.content().contains("four plans"),
        "{}",
        answer.content()
    );
    let labels: Vec<String> = buttons(&answer.body).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, [HELPED_LABEL, HUMAN_LABEL]);
    assert_pings_nobody(&answer.body);
    let stored = stored();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].text, "Pricing", "the option, as ann's message");
    assert_eq!(stored[1].conversation, format!("{SUPPORT}/7102"));
    assert_eq!(
        stored[1].intent.as_ref().map(|i| i.id.as_str()),
        Some("pricing")
    );
    assert_eq!(stored[1].route.kind, "answer");
    let delivery = bot.delivery(1).await;
    assert!(delivery.ok, "{delivery:?}");
    bot.stop().await;
}
